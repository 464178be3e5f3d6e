"""The engine: run rules over a pool and return associations.

Each rule costs one pass over the rows it selects: rows are grouped by
hashing their keys, never offered one by one to open associations, so a run
grows linearly with the pool.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np
from attrs import evolve, frozen

from romanasn._version import __version__
from romanasn.errors import PluginError, RomanasnError, RuleError
from romanasn.naming import check_name
from romanasn.plugins.manager import PluginManager, RuleEntry, get_plugin_manager
from romanasn.plugins.types import Companion, Group, PoolView, Rule, RunConfig
from romanasn.records import Association, Provenance, degraded_status

log = logging.getLogger("romanasn.engine")

FIRST_ASN_ID = 3001


@frozen
class Veto:
    """A row a rule selected but a constraint left out, and why."""

    rule: str
    filename: str
    reason: str
    plugin: str


@frozen
class SkippedRule:
    """A rule that did not run, and why."""

    rule: str
    plugin: str
    reason: str


@frozen
class Result:
    """What a run made.

    ``associations`` are in ``asn_id`` order, ``file_stems`` their file names
    without extension (same order); ``counts`` the associations per rule;
    ``orphans`` the file names of rows no rule took.
    """

    associations: tuple[Association, ...]
    file_stems: tuple[str, ...]
    rules: tuple[RuleEntry, ...]
    skipped: tuple[SkippedRule, ...]
    vetoes: tuple[Veto, ...]
    orphans: tuple[str, ...]
    counts: dict[str, int]
    pool_rows: int


def select_rules(
    entries: Sequence[RuleEntry], rules: Iterable[str] | None = None, skip_rules: Iterable[str] = ()
) -> list[RuleEntry]:
    """The rules named in ``rules`` (all when None) less those in ``skip_rules``."""
    known = {e.name: e for e in entries}
    wanted = list(rules) if rules is not None else list(known)
    skipped = list(skip_rules)
    unknown = [n for n in wanted + skipped if n not in known]
    if unknown:
        raise RuleError(
            f"unknown rule(s) {', '.join(unknown)}; installed rules: {', '.join(known) or 'none'}"
        )
    return [known[n] for n in sorted(set(wanted) - set(skipped))]


def generate(
    pool: Any,
    *,
    config: RunConfig | None = None,
    rules: Iterable[str] | None = None,
    skip_rules: Iterable[str] = (),
    plugin_manager: PluginManager | None = None,
) -> Result:
    """Run the selected rules over ``pool`` (an astropy Table from ``read_pool``).

    :param config: data release id, version id, pool name, pack options.
    :param rules: names of the rules to run (all installed rules when None).
    :param skip_rules: names of rules not to run.
    :param plugin_manager: the manager to use; by default every installed pack.
    :return: a :class:`Result` with the associations in ``asn_id`` order.
    """
    pm = plugin_manager or get_plugin_manager()
    pm.check()
    config = config or RunConfig()
    view = PoolView(pool)
    runnable, skipped = _runnable(select_rules(pm.rules(), rules, skip_rules), config)
    taken = np.zeros(len(pool), dtype=bool)
    made: list[Association] = []
    vetoes: list[Veto] = []
    for entry in runnable:
        log.debug("rule %s of plugin %s", entry.name, entry.plugin.label)
        associations, rows, rule_vetoes = _run_rule(pm, entry, view, config)
        made.extend(associations)
        vetoes.extend(rule_vetoes)
        taken[rows] = True
    made = pm.finalize(sorted(made, key=_order), config)
    associations, stems = _number(pm, sorted(made, key=_order), config)
    filenames = view.column("filename")
    return Result(
        associations=associations,
        file_stems=stems,
        rules=tuple(runnable),
        skipped=tuple(skipped),
        vetoes=tuple(vetoes),
        orphans=tuple(filenames[i] for i in np.flatnonzero(~taken)),
        counts=_counts(runnable, associations),
        pool_rows=len(pool),
    )


def _order(association: Association) -> tuple[str, str]:
    return association.product_name, association.asn_rule


def _runnable(entries: list[RuleEntry], config: RunConfig) -> tuple[list[RuleEntry], list[SkippedRule]]:
    """Split off the rules whose needed options the run lacks, warning once per plugin."""
    runnable, skipped = [], []
    missing_by_plugin: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for entry in entries:
        missing = tuple(n for n in entry.rule.needs if config.options.get(n) in (None, ""))
        if missing:
            missing_by_plugin[(entry.plugin.label, missing)].append(entry.name)
            reason = "needs " + ", ".join("--" + m.replace("_", "-") for m in missing)
            skipped.append(SkippedRule(entry.name, entry.plugin.label, reason))
        else:
            runnable.append(entry)
    for (plugin, missing), names in missing_by_plugin.items():
        options = ", ".join("--" + m.replace("_", "-") for m in missing)
        log.warning("plugin %s: rules %s skipped: they need %s", plugin, ", ".join(names), options)
    return runnable, skipped


def _run_rule(
    pm: PluginManager, entry: RuleEntry, view: PoolView, config: RunConfig
) -> tuple[list[Association], np.ndarray, list[Veto]]:
    """Select, constrain, group, name and build one rule's associations."""
    rule, plugin = entry.rule, entry.plugin
    try:
        _check_columns(entry, view.table)
        matching = [(found.item, found.plugin) for found in pm.match_constraints(rule, config)]
        own = [(constraint, plugin) for constraint in rule.constraints]
        rows, vetoes = _constrain(entry, view, _select(rule.select, view), own + matching)
        groups = _group(rule, view, rows, config, [constraint for constraint, _ in matching])
        names = pm.product_names(rule, groups, config)
        built = pm.build_associations(rule, groups, names, config)
    except RomanasnError:
        raise
    except Exception as exc:
        exc.add_note(f"in rule {rule.name!r} of plugin {plugin.label}")
        raise PluginError(
            f"rule {rule.name!r} of plugin {plugin.label} failed: {type(exc).__name__}: {exc}"
        ) from exc
    provenance = Provenance(rule.name, plugin.name, plugin.version, __version__)
    associations = [_stamp(a, provenance, plugin.label) for a in built]
    used = np.fromiter((i for g in groups for i in g.rows), dtype=np.int64)
    return associations, used, vetoes


def _select(constraints: Sequence[Any], view: PoolView) -> np.ndarray:
    """Indices of the rows passing every constraint."""
    mask = np.ones(len(view), dtype=bool)
    for constraint in constraints:
        mask &= _test(constraint, view)
    return np.flatnonzero(mask)


def _test(constraint: Any, view: PoolView) -> np.ndarray:
    """A constraint's verdict on every row, computed once per run for the same constraint."""
    result = view.derived(("constraint", constraint), lambda table: np.asarray(constraint.test(table), dtype=bool))
    if result.shape != (len(view),):
        raise RuleError(f"constraint {constraint.name!r} must give one boolean per pool row")
    return result


def _check_columns(entry: RuleEntry, table: Any) -> None:
    """Refuse a rule that groups or joins on a column the pool lacks."""
    rule = entry.rule
    wanted = [] if rule.keys else list(rule.group_by)
    wanted += [name for companion in rule.companions for name in companion.on]
    missing = sorted(set(wanted) - set(table.colnames))
    if missing:
        raise RuleError(f"rule {rule.name!r} of plugin {entry.plugin.label} needs the pool "
                        f"column(s) {', '.join(missing)}, which the pool lacks")


def _constrain(
    entry: RuleEntry, view: PoolView, rows: np.ndarray, added: list[tuple[Any, Any]]
) -> tuple[np.ndarray, list[Veto]]:
    """Apply the rule's own constraints and those other plugins add; record vetoes."""
    filenames = view.column("filename")
    vetoes = []
    for constraint, plugin in added:
        if not len(rows):
            break
        passed = _test(constraint, view)[rows]
        reason = constraint.reason or constraint.name
        vetoes += [Veto(entry.name, filenames[i], reason, plugin.label) for i in rows[~passed]]
        rows = rows[passed]
    return rows, vetoes


def _group(
    rule: Rule, view: PoolView, rows: np.ndarray, config: RunConfig, matching: Sequence[Any] = ()
) -> list[Group]:
    """Hash the selected rows by their keys; one group per distinct key.

    A group's rows are sorted by file name, so nothing depends on row order.
    Companion rows must pass the ``matching`` constraints other plugins add.
    """
    if rule.keys is not None:
        rows, codes, keys = _custom_keys(rule, view, rows, config)
    else:
        codes, keys = _column_keys(rule.group_by, view, rows)
    if not len(rows):
        return []
    order = np.lexsort((view.derived("filename_rank", _filename_rank)[rows], codes))
    rows, codes = rows[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lookups = [_companion_index(c, view, matching) for c in rule.companions]
    groups = []
    for start, members in zip(starts.tolist(), np.split(rows, starts[1:])):
        members = tuple(members.tolist())
        companions = tuple(_joined(c, lookup, view, members) for c, lookup in zip(rule.companions, lookups))
        groups.append(Group(rule, dict(zip(rule.group_by, keys[codes[start]])), members, view, companions))
    return groups


def _filename_rank(table: Any) -> np.ndarray:
    """Each row's position in file-name order."""
    rank = np.empty(len(table), dtype=np.int64)
    rank[np.argsort(np.asarray(table["filename"]), kind="stable")] = np.arange(len(table))
    return rank


def _column_keys(names: Sequence[str], view: PoolView, rows: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """A code per selected row (equal codes, equal keys) and each code's key."""
    picked = rows.tolist()
    subsets = [[column[i] for i in picked] for column in map(view.column, names)]
    index: dict[tuple, int] = {}
    codes = [index.setdefault(key, len(index)) for key in zip(*subsets)]
    return np.asarray(codes, dtype=np.int64), list(index)


def _custom_keys(rule: Rule, view: PoolView, rows: np.ndarray, config: RunConfig):
    """Rows, codes and keys from a rule's key function (a row may yield several keys)."""
    index: dict[tuple, int] = {}
    taken, codes = [], []
    for i, key in rule.keys(view.table, rows, config):
        taken.append(i)
        codes.append(index.setdefault(tuple(key), len(index)))
    return np.asarray(taken, dtype=np.int64), np.asarray(codes, dtype=np.int64), list(index)


def _companion_index(companion: Companion, view: PoolView, matching: Sequence[Any]) -> dict[tuple, list[int]]:
    """Companion rows by their values in the ``on`` columns."""
    index: dict[tuple, list[int]] = defaultdict(list)
    columns = [view.column(name) for name in companion.on]
    for i in _select(tuple(companion.select) + tuple(matching), view).tolist():
        index[tuple(column[i] for column in columns)].append(i)
    return index


def _joined(companion: Companion, index: dict, view: PoolView, rows: list[int]) -> tuple[int, ...]:
    columns = [view.column(name) for name in companion.on]
    keys = {tuple(column[i] for column in columns) for i in rows}
    return tuple(sorted({j for key in keys for j in index.get(key, ())}))


def _stamp(association: Association, provenance: Provenance, plugin: str) -> Association:
    """Set provenance and degraded status; check the product name is safe."""
    for product in association.products:
        check_name(product.name, "product name", provenance.rule, plugin)
    return evolve(
        association,
        provenance=provenance,
        degraded_status=degraded_status(association.members),
    )


def _number(
    pm: PluginManager, associations: list[Association], config: RunConfig
) -> tuple[tuple[Association, ...], tuple[str, ...]]:
    """Give ids ``a3001`` up in order and file stems; colliding file names are an error."""
    numbered, stems, owners = [], [], {}
    for n, association in enumerate(associations):
        association = evolve(association, asn_id=f"a{FIRST_ASN_ID + n}")
        stem = pm.file_stem(association, config)
        if stem in owners:
            raise RuleError(f"two associations would be written to {stem!r}: {_who(owners[stem])} and {_who(association)}")
        owners[stem] = association
        numbered.append(association)
        stems.append(stem)
    return tuple(numbered), tuple(stems)


def _who(association: Association) -> str:
    p = association.provenance
    if p is None:
        return f"rule {association.asn_rule!r}"
    return f"rule {p.rule!r} of plugin {p.plugin} {p.plugin_version}"


def _counts(entries: Sequence[RuleEntry], associations: Sequence[Association]) -> dict[str, int]:
    counts = {entry.name: 0 for entry in entries}
    for association in associations:
        counts[association.asn_rule] = counts.get(association.asn_rule, 0) + 1
    return counts
