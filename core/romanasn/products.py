"""Product generation: building an association from a group of pool rows.

This is the kernel's default for the ``romanasn_build_associations`` hook.
"""

from __future__ import annotations

from typing import Any, Sequence

from romanasn._version import __version__
from romanasn.naming import member_filename, program_id
from romanasn import lane
from romanasn.plugins.types import Group, MemberSpec, PoolView, RunConfig
from romanasn.records import NO_TARGET, Association, Member, Product

def degraded_reasons(table: Any) -> list[str | None]:
    """Per pool row, why the exposure is degraded, or None when it is not.

    A row is degraded when ``exposerr`` is not empty/``NULL``/``NONE``/``OK``,
    ``data_problem`` is true or a non-empty text, or ``engineering_quality``
    is not ``OK``.
    """
    return lane.degraded_reasons(PoolView(table)).to_pylist()


def build_associations(
    rule: Any, groups: Sequence[Group], names: Sequence[str], config: RunConfig
) -> list[Association]:
    """One association per group: its product, members, and top-level keys."""
    constraints = describe(rule)
    return [build_association(group, name, config, constraints) for group, name in zip(groups, names)]


def build_association(group: Group, name: str, config: RunConfig, constraints: str | None = None) -> Association:
    """The association of one group, named ``name``."""
    rule = group.rule
    members = _members(group, group.rows, rule.member)
    for companion, rows in zip(rule.companions, group.companions):
        members += _members(group, rows, companion.member, exclude=members)
    extras = dict(rule.extras(group, config)) if rule.extras else {}
    top = {key: extras.pop(key) for key in ("target", "skycell_wcs_info", "program") if key in extras}
    return Association(
        products=(Product(name, members),),
        asn_type=rule.asn_type,
        asn_rule=rule.name,
        asn_pool=config.pool_name,
        program=top.get("program", _program(group)),
        target=top.get("target", NO_TARGET),
        version_id=config.version_id,
        code_version=__version__,
        constraints=constraints or describe(rule),
        data_release_id=config.data_release_id,
        skycell_wcs_info=top.get("skycell_wcs_info", "none"),
        extra=extras,
    )


def _members(
    group: Group, rows: Sequence[int], spec: MemberSpec, exclude: Sequence[Member] = ()
) -> tuple[Member, ...]:
    """Members for ``rows``, sorted by file name, none repeated."""
    made = group.view.derived(("members", spec), _member_maker(spec))
    taken = {m.expname for m in exclude}
    members = {}
    for i in rows:
        member = made[i]
        if member.expname not in taken:
            members[member.expname] = member
    return tuple(members[name] for name in sorted(members))


def _member_maker(spec: MemberSpec):
    """A function making, for a whole pool, each row's member under ``spec`` (made once, shared)."""

    def make(table: Any) -> list[Member]:
        filenames = table["filename"].tolist()
        degraded = degraded_reasons(table)
        candidates = table["asn_candidate"].tolist() if "asn_candidate" in table.colnames else [None] * len(table)
        return [
            Member(member_filename(name, spec.suffix), spec.exptype, reason,
                   {"asn_candidate": candidate} if candidate else None)
            for name, reason, candidate in zip(filenames, degraded, candidates)
        ]

    return make


def _program(group: Group) -> str:
    if "program" in group.key:
        return program_id(group.key["program"])
    programs = set(group.values("program"))
    return program_id(programs.pop()) if len(programs) == 1 else "noprogram"


def describe(rule: Any) -> str:
    """A readable summary of a rule's constraints, for the ``constraints`` key."""
    parts = [c.name for c in rule.select + rule.constraints]
    parts.append("grouped by " + ", ".join(rule.group_by))
    return "; ".join(parts)
