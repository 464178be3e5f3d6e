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
        rows = _select(rule.select, view.table)
        rows, vetoes = _constrain(pm, entry, view, rows, config)
        groups = _group(rule, view, rows, config)
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
    used = np.unique(np.fromiter((i for g in groups for i in g.rows), dtype=np.int64))
    return associations, used, vetoes


def _select(constraints: Sequence[Any], table: Any) -> np.ndarray:
    """Indices of the rows passing every constraint."""
    mask = np.ones(len(table), dtype=bool)
    for constraint in constraints:
        mask &= _test(constraint, table)
    return np.flatnonzero(mask)


def _test(constraint: Any, table: Any) -> np.ndarray:
    result = np.asarray(constraint.test(table), dtype=bool)
    if result.shape != (len(table),):
        raise RuleError(f"constraint {constraint.name!r} must give one boolean per pool row")
    return result


def _constrain(
    pm: PluginManager, entry: RuleEntry, view: PoolView, rows: np.ndarray, config: RunConfig
) -> tuple[np.ndarray, list[Veto]]:
    """Apply the rule's own constraints and those other plugins add; record vetoes."""
    added = [(c, entry.plugin) for c in entry.rule.constraints]
    added += [(found.item, found.plugin) for found in pm.match_constraints(entry.rule, config)]
    filenames = view.column("filename")
    vetoes = []
    for constraint, plugin in added:
        if not len(rows):
            break
        passed = _test(constraint, view.table)[rows]
        reason = constraint.reason or constraint.name
        vetoes += [Veto(entry.name, filenames[i], reason, plugin.label) for i in rows[~passed]]
        rows = rows[passed]
    return rows, vetoes


def _group(rule: Rule, view: PoolView, rows: np.ndarray, config: RunConfig) -> list[Group]:
    """Hash the selected rows by their keys; one group per distinct key.

    A group's rows are sorted by file name, so nothing depends on row order.
    """
    by_key: dict[tuple, list[int]] = defaultdict(list)
    for i, key in _keys(rule, view, rows, config):
        by_key[key].append(i)
    lookups = [_companion_index(c, view) for c in rule.companions]
    filenames = view.column("filename")
    groups = []
    for key, members in by_key.items():
        members.sort(key=filenames.__getitem__)
        companions = tuple(_joined(c, lookup, view, members) for c, lookup in zip(rule.companions, lookups))
        groups.append(Group(rule, dict(zip(rule.group_by, key)), tuple(members), view, companions))
    return groups


def _keys(rule: Rule, view: PoolView, rows: np.ndarray, config: RunConfig) -> Iterable[tuple[int, tuple]]:
    if rule.keys is not None:
        return rule.keys(view.table, rows, config)
    indices = rows.tolist()
    columns = [view.column(name) for name in rule.group_by]
    return ((i, tuple(column[i] for column in columns)) for i in indices)


def _companion_index(companion: Companion, view: PoolView) -> dict[tuple, list[int]]:
    """Companion rows by their values in the ``on`` columns."""
    index: dict[tuple, list[int]] = defaultdict(list)
    columns = [view.column(name) for name in companion.on]
    for i in _select(companion.select, view.table).tolist():
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
