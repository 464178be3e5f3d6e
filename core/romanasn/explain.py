"""Why one exposure is, or is not, in each association: ``romanasn explain POOL FILE_NAME``.

For one pool row and each rule, the verdict: skipped (the run lacks an
option the rule needs), not selected (and by which of the rule's ``select``
constraints, with the row's value), vetoed (by which constraint and plugin),
joined (the keys the row got and the associations it is in, as a member
or as a companion of another row), or works on products (the row was
grouped, but the rule's associations list products of other associations,
such as mosaics, rather than exposures).

Nothing is re-implemented: the pool is read as ``generate`` reads it, the
engine runs every rule over the whole pool exactly as ``generate`` does, and
the verdicts are read from its result (associations, vetoes, skipped rules)
and from the rules' own constraints and key functions. When a rule fails,
each rule is run alone so the others can still be explained.

:func:`write_orphans` writes the rows no rule took (``generate --orphans FILE``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import attrs
import numpy as np
from attrs import field, frozen

from romanasn import engine, pool
from romanasn.errors import PoolError, RomanasnError, UsageError
from romanasn.inputs import replacing
from romanasn.naming import member_filename, strip_level
from romanasn.plugins.manager import KERNEL, PluginManager, RuleEntry
from romanasn.plugins.types import RunConfig

# -- verdicts -----------------------------------------------------------------------

SKIPPED = "skipped"  # the rule did not run
FAILED = "failed"  # the rule raised
NOT_SELECTED = "not selected"  # a select constraint left the row out
COMPANION = "companion"  # not selected, but joined as a companion of other rows
VETOED = "vetoed"  # selected, then left out by a constraint
NO_KEY = "no key"  # selected, but the rule's key function gave it no key
DROPPED = "dropped"  # selected and grouped, but no association holds it (finalize)
JOINED = "joined"  # in one or more of the rule's associations
PRODUCTS = "works on products"  # grouped; the rule's associations list other associations' products


@frozen
class Joined:
    """An association that holds the row: its product, id, file stem and the row's role."""

    product_name: str
    asn_id: str | None
    file_stem: str | None
    expname: str
    exptype: str
    companion: bool


@frozen
class Verdict:
    """What one rule did with the row."""

    rule: str
    plugin: str
    status: str
    detail: str = ""
    not_selected_by: tuple[tuple[str, Any], ...] = ()  # (constraint name, the row's value or None)
    vetoed_by: tuple[tuple[str, str], ...] = ()  # (reason, plugin label)
    keys: tuple[Mapping[str, Any], ...] = ()
    joined: tuple[Joined, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The verdict as plain JSON data, as ``romanasn explain --json`` prints it for each rule."""
        return {
            "rule": self.rule,
            "plugin": self.plugin,
            "status": self.status,
            "detail": self.detail,
            "not_selected_by": [{"constraint": c, "value": v} for c, v in self.not_selected_by],
            "vetoed_by": [{"reason": r, "plugin": p} for r, p in self.vetoed_by],
            "keys": [dict(k) for k in self.keys],
            "associations": [attrs.asdict(j) for j in self.joined],
        }


@frozen
class Explanation:
    """Every verdict on one pool row."""

    filename: str
    row: int
    orphan: bool
    verdicts: tuple[Verdict, ...]
    partial: bool = False  # a rule failed: the others were run alone, ids are not a full run's
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The explanation as plain JSON data: what ``romanasn explain --json`` prints."""
        return {
            "filename": self.filename,
            "orphan": self.orphan,
            "partial": self.partial,
            "notes": list(self.notes),
            "rules": [v.to_json() for v in self.verdicts],
        }


# -- finding the row --------------------------------------------------------------------


def find_row(table: Any, name: str, source: str = "the pool") -> int:
    """The index of the row whose ``filename`` is ``name``.

    A path is reduced to its file name; a name at another level (``x_cal.asdf``
    for a pool holding ``x_uncal.asdf``) is found by its stem when only one row
    has that stem. Otherwise a :class:`PoolError` names the pool and the
    closest file names.
    """
    filenames = [str(f) for f in np.asarray(table["filename"]).tolist()]
    for wanted in dict.fromkeys([name, Path(name).name]):
        if wanted in filenames:
            return filenames.index(wanted)
    stem = strip_level(Path(name).name)
    same_stem = [i for i, f in enumerate(filenames) if strip_level(f) == stem]
    if len(same_stem) == 1:
        return same_stem[0]
    if same_stem:
        listed = ", ".join(filenames[i] for i in same_stem)
        raise PoolError(f"{source}: {name!r} matches several rows ({listed}); give the whole file name")
    close = difflib.get_close_matches(Path(name).name, filenames, n=3, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else ""
    raise PoolError(f"{source}: no row has the file name {name!r}{hint}")


# -- explaining ---------------------------------------------------------------------


def explain(
    table: Any,
    filename: str,
    *,
    plugin_manager: PluginManager,
    config: RunConfig | None = None,
    rules: Iterable[str] | None = None,
    source: str = "the pool",
) -> Explanation:
    """Each rule's verdict on the row of ``table`` whose file name is ``filename``.

    :param rules: the rules to report (all when None); every rule still runs,
        so ids and vetoes are those of a full ``generate``.
    """
    row = find_row(table, filename, source)
    (found,) = iter_explanations(table, [row], plugin_manager=plugin_manager, config=config, rules=rules)
    if Path(filename).name != found.filename:
        note = (f"no row has the file name {Path(filename).name!r}; explaining {found.filename!r}, "
                f"the same exposure at another level")
        found = attrs.evolve(found, notes=(note, *found.notes))
    return found


def iter_explanations(
    table: Any,
    rows: Iterable[int],
    *,
    plugin_manager: PluginManager,
    config: RunConfig | None = None,
    rules: Iterable[str] | None = None,
) -> Iterator[Explanation]:
    """Each rule's verdict on each of ``rows`` (indices into ``table``), one row at a time, from one
    run of every rule (before the first row)."""
    pm = plugin_manager
    pm.check()
    config = config or RunConfig()
    entries = engine.select_rules(pm.rules(), rules)
    results, failures, partial = _run(table, pm, config)
    notes = ("a rule failed, so each rule was run alone: asn_ids and file names are left out",) if partial else ()
    reshapers = _reshapers(pm, entries)
    seen = _Seen(table, results)
    for row in rows:
        found = str(table["filename"][row])
        verdicts = tuple(
            Verdict(e.name, e.plugin.label, FAILED, failures[e.name]) if e.name in failures
            else _verdict(e, table, row, seen, config, reshapers[e.name], partial)
            for e in entries)
        orphan = all(found in seen.orphans(r) for r in results.values()) and not failures
        yield Explanation(found, row, orphan, verdicts, partial, notes)


class _Seen:
    """One run's results, indexed for verdicts on many rows: vetoes, members and orphans of each
    result, and the rules' constraint masks and product members when first asked for."""

    def __init__(self, table: Any, results: Mapping[str, engine.Result]) -> None:
        self.table = table
        self.results = results
        self._masks: dict[tuple[str, int], np.ndarray] = {}
        self._products: dict[str, str | None] = {}
        self._vetoes: dict[tuple[int, str, str], list[tuple[str, str]]] = {}
        self._members: dict[tuple[int, str, str], list[tuple[int, int, Any]]] = {}
        self._orphans: dict[int, set[str]] = {}
        for result in {id(r): r for r in results.values()}.values():
            for v in result.vetoes:
                self._vetoes.setdefault((id(result), v.rule, v.filename), []).append((v.reason, v.plugin))
            for a, association in enumerate(result.associations):
                made_by = association.provenance.rule if association.provenance else association.asn_rule
                for m, member in enumerate(association.members):
                    self._members.setdefault((id(result), made_by, member.expname), []).append((a, m, member))
            self._orphans[id(result)] = set(result.orphans)

    def selected_by(self, rule: Any, index: int) -> np.ndarray:
        """The mask of rule ``select`` constraint number ``index`` over the table."""
        key = (rule.name, index)
        if key not in self._masks:
            self._masks[key] = np.asarray(rule.select[index].test(self.table), dtype=bool)
        return self._masks[key]

    def vetoes(self, result: engine.Result, rule: str, filename: str) -> tuple[tuple[str, str], ...]:
        """(reason, plugin) of each veto of ``filename`` in ``rule``."""
        return tuple(self._vetoes.get((id(result), rule, filename), ()))

    def members(self, result: engine.Result, rule: str, expname: str) -> list[tuple[int, int, Any]]:
        """(association position, member position, member) of each member ``expname`` of the rule's associations."""
        return self._members.get((id(result), rule, expname), [])

    def product_member(self, rule: str) -> str | None:
        """A member of the rule's associations when they list products, not pool files (else None)."""
        if rule not in self._products:
            self._products[rule] = _product_member(rule, self.table, self.results[rule])
        return self._products[rule]

    def orphans(self, result: engine.Result) -> set[str]:
        """The file names no rule of ``result`` took."""
        return self._orphans[id(result)]


def _run(table: Any, pm: PluginManager, config: RunConfig):
    """One result per rule name: the full run's, or each rule's own run when a rule fails."""
    names = [e.name for e in pm.rules()]
    try:
        result = engine.generate(table, config=config, plugin_manager=pm)
        return {name: result for name in names}, {}, False
    except RomanasnError:
        pass
    results, failures = {}, {}
    for name in names:
        try:
            results[name] = engine.generate(table, config=config, rules=[name], plugin_manager=pm)
        except RomanasnError as exc:
            failures[name] = str(exc)
    return results, failures, True


def _reshapers(pm: PluginManager, entries) -> dict[str, list[str]]:
    """Each rule's packs whose build or finalize hooks serve it (``romanasn_hook_scope``), by label."""
    packs = [info for info in pm.plugin_infos() if info.status == "active" and info.name != KERNEL
             and {"romanasn_build_associations", "romanasn_finalize"} & set(pm.hooks_of(info.name))]
    return {e.name: [info.label for info in packs if pm.serves(info.name, e.name)] for e in entries}


def _verdict(
    entry: RuleEntry, table: Any, row: int, seen: _Seen, config: RunConfig,
    reshapers: Sequence[str], partial: bool,
) -> Verdict:
    rule, label = entry.rule, entry.plugin.label
    result = seen.results[rule.name]
    filename = str(table["filename"][row])
    skipped = [s for s in result.skipped if s.rule == rule.name]
    if skipped:
        return Verdict(rule.name, label, SKIPPED, skipped[0].reason)
    joined = _joined(entry, filename, result, seen, partial)
    # each failing constraint, with the row's value in the column its name starts with (``exposure_type in [...]``)
    failing = tuple((c.name, _value(table, c.name.split(" ", 1)[0], row)) for i, c in enumerate(rule.select)
                    if not seen.selected_by(rule, i)[row])
    if failing:
        status = COMPANION if joined else NOT_SELECTED
        return Verdict(rule.name, label, status, "", failing, joined=joined)
    vetoes = seen.vetoes(result, rule.name, filename)
    if vetoes:
        return Verdict(rule.name, label, VETOED, "", vetoed_by=vetoes, joined=joined)
    keys = _keys(entry, table, row, config)
    if not keys:
        return Verdict(rule.name, label, NO_KEY, "the rule's key function gave the row no key", keys=keys)
    if not any(not j.companion for j in joined):
        product = seen.product_member(rule.name)
        if product:
            detail = (f"grouped, but the rule's associations list products of other associations (such as "
                      f"{product}), not exposures: this exposure reaches them through those products")
            return Verdict(rule.name, label, PRODUCTS, detail, keys=keys)
        by = f"; plugins that build or finalize associations: {', '.join(reshapers)}" if reshapers else ""
        detail = "selected and grouped, but none of the rule's associations holds it" + by
        return Verdict(rule.name, label, DROPPED, detail, keys=keys, joined=joined)
    return Verdict(rule.name, label, JOINED, "", keys=keys, joined=joined)


def _product_member(rule: str, table: Any, result: engine.Result) -> str | None:
    """A member of the rule's associations when none of their members is a file of the pool."""
    members = [m.expname for a in result.associations if a.asn_rule == rule for m in a.members]
    if not members:
        return None
    stems = {strip_level(Path(str(name)).name) for name in table["filename"]}
    if any(strip_level(Path(name).name) in stems for name in members):
        return None
    return members[0]


def _joined(entry: RuleEntry, filename: str, result: engine.Result, seen: _Seen,
            partial: bool) -> tuple[Joined, ...]:
    """The rule's associations holding the row as a member or as a companion."""
    rule = entry.rule
    own = member_filename(filename, rule.member.suffix)
    companions = {member_filename(filename, c.member.suffix): c.member.exptype for c in rule.companions}
    places = {(a, m): member for name in (own, *companions) for a, m, member in seen.members(result, rule.name, name)}
    found = []
    for (a, m), member in sorted(places.items(), key=lambda place: place[0]):
        association = result.associations[a]
        if member.expname == own:
            companion = False
        elif companions.get(member.expname) == member.exptype:
            companion = True
        else:
            continue
        stem = result.file_stems[a]
        found.append(Joined(association.product_name, None if partial else association.asn_id,
                            None if partial else stem, member.expname, member.exptype, companion))
    return tuple(dict.fromkeys(found))


def _keys(entry: RuleEntry, table: Any, row: int, config: RunConfig) -> tuple[Mapping[str, Any], ...]:
    """The grouping keys of the row: its values in ``group_by``, or what the key function yields."""
    rule = entry.rule
    if rule.keys is None:
        return ({name: _value(table, name, row) for name in rule.group_by},)
    keys = []
    for _, key in rule.keys(table, np.array([row], dtype=np.int64), config):
        keys.append({name: _plain(value) for name, value in zip(rule.group_by, tuple(key))})
    return tuple(keys)


def _value(table: Any, column: str, row: int) -> Any:
    if column not in table.colnames:
        return None
    cell = table[column][row]
    if np.ma.is_masked(cell):
        return None
    return _plain(cell)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- text ---------------------------------------------------------------------------


def render(found: Explanation) -> str:
    """The explanation as text, a block per rule."""
    lines = [found.filename + ("  (an orphan: no rule took it)" if found.orphan else "")]
    lines += [f"  note: {note}" for note in found.notes]
    for v in found.verdicts:
        lines.append(f"{v.rule}  [{v.plugin}]: {v.status}" + (f": {v.detail}" if v.detail else ""))
        for name, value in v.not_selected_by:
            has = f" (the row has {name.split(' ', 1)[0]}={_shown(value)})" if value is not None else ""
            lines.append(f"    not selected by: {name}{has}")
        for reason, plugin in v.vetoed_by:
            lines.append(f"    vetoed by plugin {plugin}: {reason}")
        for key in v.keys:
            lines.append("    key: " + ", ".join(f"{k}={_shown(x)}" for k, x in key.items()))
        for j in v.joined:
            where = ", ".join(x for x in (j.asn_id, f"{j.file_stem}" if j.file_stem else None) if x)
            role = "companion" if j.companion else "member"
            lines.append(f"    in {j.product_name}" + (f" ({where})" if where else "")
                         + f" as {role} {j.expname} ({j.exptype})")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# -- the command ----------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser, pm: PluginManager) -> None:
    """Add ``explain``'s arguments, and the ``generate`` options packs add, to ``parser``."""
    parser.add_argument("pool", metavar="POOL", help="the pool file (ECSV, CSV or romancal's |-separated)")
    parser.add_argument("filename", metavar="FILE_NAME", help="the exposure's file name, as in the pool")
    parser.add_argument("--rule", action="append", metavar="NAME",
                        help="only these rules' verdicts (repeatable; comma-separated names or shell-style patterns)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--data-release-id", default="p", help="data release id in product names (default: p)")
    parser.add_argument("--version-id", default=None, help="the version_id generate is given")
    add_pack_options(parser, pm, "options added by plugins (as for generate)")


def add_pack_options(parser: argparse.ArgumentParser, pm: PluginManager, title: str, sources: bool = False) -> None:
    """Add the ``generate`` options packs add to ``parser``, in a group called ``title``; with
    ``sources`` (for generate) each option's help also names its environment variables and its
    pack, and without, options of generate alone (``generate_only``) are left out."""
    group = parser.add_argument_group(title)
    found = [f for f in pm.generate_options() if sources or not f.item.generate_only]
    for each in found:
        option, help = each.item, each.item.help
        if sources:
            env = f" (env: {', '.join(option.env)})" if option.env else ""
            help = f"{option.help}{env} [{each.plugin.name}]"
        kwargs: dict[str, Any] = {"help": help, "dest": option.dest}
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(metavar=option.metavar, default=None)
        group.add_argument(option.name, **kwargs)
    parser.set_defaults(_pack_options=[f.item for f in found])


def pack_option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The value of each pack option in ``args`` (``generate``'s, ``explain``'s or ``report``'s): as
    given, else from its environment variable, else its default."""
    values = {}
    for option in args._pack_options:
        value = getattr(args, option.dest)
        if value in (None, False):
            value = next((os.environ[e] for e in option.env if os.environ.get(e)), option.default)
        values[option.dest] = value
    return values


def run(args: argparse.Namespace, pm: PluginManager) -> int:
    """``romanasn explain``: print each rule's verdict on one exposure."""
    pm.check()
    extra = [found.item for found in pm.pool_columns()]
    table = pool.read_pools([args.pool], columns=extra)
    config = RunConfig(data_release_id=args.data_release_id, version_id=args.version_id,
                       pool_name=Path(args.pool).stem, options=pack_option_values(args))
    names = None
    if args.rule:
        names = [n.strip() for value in args.rule for n in value.split(",") if n.strip()]
    found = explain(table, args.filename, plugin_manager=pm, config=config, rules=names, source=args.pool)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, default=str))
    else:
        print(render(found))
    return 0


# -- orphans --------------------------------------------------------------------------


def check_orphans_path(path: str | os.PathLike, out: str | os.PathLike | None, inputs: Sequence[str]) -> None:
    """Refuse, before a run writes anything, an ``--orphans`` file that cannot be written or would
    overwrite an input or a file the run writes into ``out``."""
    if str(path) == "-":
        return
    path = Path(path)
    if not path.name or path.is_dir():
        raise UsageError(f"--orphans {path}: a folder, not a file")
    in_out = out is not None and path.resolve().parent == Path(out).resolve()
    if not path.parent.is_dir() and not in_out:  # the run makes its output folder
        raise UsageError(f"--orphans {path}: no folder {path.parent}")
    for given in inputs:
        if path.exists() and os.path.exists(given) and os.path.samefile(path, given):
            raise UsageError(f"--orphans {path}: would overwrite the input {given}")
    if in_out:
        if path.name.startswith(".romanasn-") or path.suffix in (".json", ".yaml", ".asdf"):
            raise UsageError(f"--orphans {path}: named like the files the run writes in {out} (its run report, "
                             "associations, journal); write the orphans elsewhere")


def write_orphans(orphans: Sequence[str], path: str | os.PathLike) -> None:
    """Write the file names of ``orphans``, one a line, to ``path`` (``-``: standard output).

    The file is written beside ``path`` under a temporary name and renamed,
    so it is whole or absent.
    """
    text = "".join(f"{name}\n" for name in orphans)
    if str(path) == "-":
        sys.stdout.write(text)
        return
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
