"""Level 3 rules by grouping: one rule per visit, pass, day or program grouping.

Rule packs combine their exposures by the same groupings
(:data:`romanasn.naming.GROUPING_COLUMNS`), each further split by some columns
of their own (an optical element, say). :func:`grouping_rules` builds those
rules, so that a pack only says what it selects and how it splits::

    RULES = grouping_rules(
        "my_pack", ("visit", "pass", "full"),
        asn_type="image3", select=[isin("exposure_type", "MY_TYPE")], by=("optical_element",),
        summary="every MY_TYPE exposure of one {scope} per optical element",
    )

gives the rules ``my_pack_visit``, ``my_pack_pass`` and ``my_pack_full``.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from romanasn.naming import GROUPING_COLUMNS
from romanasn.plugins.types import Constraint, MemberSpec, Rule

__all__ = ["GROUPING_SCOPES", "GROUPING_TEMPLATES", "LEVEL2_SCIENCE", "grouping_rules", "level3_template"]

#: What one group of each grouping spans, in words (the ``{scope}`` of a summary).
GROUPING_SCOPES: dict[str, str] = {
    "visit": "visit",
    "pass": "pass",
    "daily": "segment (day)",
    "full": "program",
}

#: The default members of a Level 3 rule: the Level 2 (``_cal``) files of its rows, as science.
LEVEL2_SCIENCE = MemberSpec("science", "cal")


#: The grouping part of a Level 3 product name template, by grouping (see :func:`romanasn.naming.grouping_code`).
GROUPING_TEMPLATES: dict[str, str] = {
    "visit": "{visit_id:visit}",
    "pass": "p{execution_plan:02d}{pass:03d}",
    "daily": "d{execution_plan:02d}{pass:03d}{segment:03d}",
    "full": "full",
}


def level3_template(grouping: str, by: Sequence[str]) -> str:
    """The product name template of a Level 3 rule of ``grouping`` split by the columns ``by``:
    ``r<PPPPP>_<drid>_<code>[_<by value>...]``, each value of ``by`` a name token."""
    return "_".join(["r{program:program}", "{drid}", GROUPING_TEMPLATES[grouping], *(f"{{{c}:token}}" for c in by)])


def grouping_rules(
    prefix: str,
    groupings: Iterable[str],
    *,
    asn_type: str,
    select: Iterable[Constraint],
    by: Sequence[str],
    summary: str,
    member: MemberSpec = LEVEL2_SCIENCE,
    **fields: Any,
) -> tuple[Rule, ...]:
    """The Level 3 rules of ``groupings``, one a grouping, in that order.

    The rule of grouping ``g`` (a key of :data:`romanasn.naming.GROUPING_COLUMNS`):

    - is named ``<prefix>_<g>``, has ``asn_type`` and level 3;
    - takes the rows ``select`` chooses and groups them by
      ``GROUPING_COLUMNS[g] + by``;
    - makes members of them as ``member`` says (by default science members,
      their Level 2 ``_cal`` files);
    - names its product ``r<PPPPP>_<drid>_<code>[_<by value>...]`` by a
      template (:func:`level3_template`), the code being
      :func:`romanasn.naming.grouping_code`'s and the values of ``by`` going
      through :func:`romanasn.naming.name_token`;
    - is summed up by ``summary``, in which ``{scope}`` becomes the
      grouping's words in :data:`GROUPING_SCOPES` (or its name).

    ``fields`` are further :class:`romanasn.Rule` fields, the same for every
    rule (``constraints``, ``companions``, ``extras``, ``needs``). An unknown
    grouping, or one given twice, is a ValueError.
    """
    groupings = tuple(groupings)
    unknown = [g for g in groupings if g not in GROUPING_COLUMNS]
    if unknown:
        raise ValueError(f"unknown grouping {unknown[0]!r}; known: {', '.join(GROUPING_COLUMNS)}")
    if len(set(groupings)) != len(groupings):
        raise ValueError(f"a grouping is given twice: {', '.join(groupings)}")
    by = tuple(by)
    select = tuple(select)
    return tuple(
        Rule(
            name=f"{prefix}_{grouping}",
            asn_type=asn_type,
            level=3,
            select=select,
            group_by=GROUPING_COLUMNS[grouping] + by,
            member=member,
            product_name=level3_template(grouping, by),
            summary=summary.replace("{scope}", GROUPING_SCOPES.get(grouping, grouping)),
            **fields,
        )
        for grouping in groupings
    )
