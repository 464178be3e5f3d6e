"""The engine: run rules over a pool and return associations.

Each rule costs one pass over the rows it selects: rows are grouped by
hashing their keys, never offered one by one to open associations, so a run
grows linearly with the pool.

A run has two steps. :class:`Plan` selects, constrains, groups and names
every rule's associations and gives each its ``asn_id`` (``a3001`` up, in
product-name order), holding only row indices and names. Associations are
then built from the plan, a block at a time, so a writer can write each as
soon as it is finished (:meth:`Plan.stream`) and nothing holds every
association of a large pool at once. :func:`generate` does both steps and
returns every association in a :class:`Result`.

When no pack implements ``romanasn_build_associations``,
``romanasn_file_stem`` or ``romanasn_finalize``, the engine builds the
associations itself, exactly as the kernel's default hooks would (the *fast
lane*); otherwise it calls the hooks as before, building every association
before numbering them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import itertools
import logging
from collections import defaultdict
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
from attrs import evolve, field, frozen

from romanasn import products
from romanasn._version import __version__
from romanasn.errors import PluginError, RomanasnError, RuleError
from romanasn.naming import check_name, member_filename, program_id
from romanasn.plugins.manager import KERNEL, PluginManager, RuleEntry, get_plugin_manager
from romanasn.plugins.types import Companion, Constraint, Group, MemberSpec, PoolView, Rule, RunConfig
from romanasn.records import NO_DEGRADED, NO_TARGET, SOME_DEGRADED, Association, Member, Product, Provenance, degraded_status
from romanasn.words import did_you_mean

log = logging.getLogger("romanasn.engine")

FIRST_ASN_ID = 3001
#: Associations built at a time by :meth:`Plan.stream`.
BLOCK = 2048


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
class FailedRule:
    """A rule that failed in a run told to keep going (``keep_going``): its error, and the
    plugin that gave the rule (the error names the plugin at fault)."""

    rule: str
    plugin: str
    version: str
    error: str


def _sorted_vetoes(vetoes: Iterable[Veto]) -> tuple[Veto, ...]:
    return tuple(sorted(vetoes, key=lambda v: (v.rule, v.filename, v.plugin, v.reason)))


def _sorted_names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(names))


@frozen
class Result:
    """What a run made.

    ``associations`` are in ``asn_id`` order, ``file_stems`` their file names
    without extension (same order); ``counts`` the associations per rule;
    ``vetoes`` (by rule, file name, plugin, reason) and ``orphans`` (the file
    names of rows no rule took, sorted) do not depend on the pool's row order;
    ``failed`` lists the rules that failed when the run was told to keep going.
    """

    associations: Sequence[Association]
    file_stems: Sequence[str]
    rules: tuple[RuleEntry, ...]
    skipped: tuple[SkippedRule, ...]
    vetoes: tuple[Veto, ...] = field(converter=_sorted_vetoes)
    orphans: tuple[str, ...] = field(converter=_sorted_names)
    counts: dict[str, int] = field(factory=dict)
    pool_rows: int = 0
    failed: tuple[FailedRule, ...] = ()


def select_rules(
    entries: Sequence[RuleEntry], rules: Iterable[str] | None = None, skip_rules: Iterable[str] = ()
) -> list[RuleEntry]:
    """The rules named in ``rules`` (all when None) less those in ``skip_rules``.

    A name may be a shell-style pattern (``skycell_*``, ``wfi_image_[vp]*``). A
    name that is no rule, a pattern that matches none, or a selection that
    leaves no rule is a :class:`RuleError` (with the names it may have meant).
    """
    known = {e.name: e for e in entries}
    wanted = _matching(list(rules), known) if rules is not None else set(known)
    skipped = _matching(list(skip_rules), known)
    if not wanted - skipped:
        asked = ", ".join(rules) if rules is not None else "every installed rule"
        why = f" less --skip-rules {', '.join(skip_rules)}" if skipped else ""
        raise RuleError(f"no rule to run: {asked or 'an empty list'}{why} selects none"
                        f" (installed: {', '.join(known) or 'none'})")
    return [known[n] for n in sorted(wanted - skipped)]


def _matching(names: list[str], known: Mapping[str, RuleEntry]) -> set[str]:
    """The rule names ``names`` select (each a name or a shell-style pattern)."""
    chosen: set[str] = set()
    for name in names:
        found = fnmatch.filter(known, name) if is_pattern(name) else [name] if name in known else []
        if not found:
            installed = "; installed rules: " + (", ".join(known) or "none")
            if is_pattern(name):
                raise RuleError(f"rule pattern {name!r} matches no installed rule{installed}")
            raise RuleError(f"unknown rule {name!r}{did_you_mean(name, known) or installed}")
        chosen.update(found)
    return chosen


def is_pattern(name: str) -> bool:
    """Whether a rule name is a shell-style pattern (holds ``*``, ``?`` or ``[``)."""
    return any(char in name for char in "*?[")


def check_runnable(entries: Sequence[RuleEntry], config: RunConfig, named: Iterable[str] = ()) -> None:
    """Fail when a rule asked for by name, or every selected rule, lacks an option it needs."""
    runnable, skipped = _runnable(list(entries), config, quiet=True)
    why = {s.rule: s.reason for s in skipped}
    named = [n for n in named if n in why]
    if named:
        raise RuleError("cannot run " + ", ".join(f"{n} (it {why[n]})" for n in named))
    if not runnable:
        raise RuleError("no selected rule can run: " + ", ".join(f"{s.rule} {s.reason}" for s in skipped))


def generate(
    pool: Any,
    *,
    config: RunConfig | None = None,
    rules: Iterable[str] | None = None,
    skip_rules: Iterable[str] = (),
    plugin_manager: PluginManager | None = None,
    keep_going: bool = False,
) -> Result:
    """Run the selected rules over ``pool`` (an astropy Table from ``read_pool``).

    :param config: data release id, version id, pool name, pack options.
    :param rules: names of the rules to run (all installed rules when None).
    :param skip_rules: names of rules not to run.
    :param plugin_manager: the manager to use; by default every installed pack.
    :param keep_going: when a rule fails, record it in ``Result.failed`` and
        let the other rules finish (by default the first failure is raised).
    :return: a :class:`Result` with the associations in ``asn_id`` order.
    """
    with paused_gc():
        run = plan(pool, config=config, rules=rules, skip_rules=skip_rules, plugin_manager=plugin_manager,
                   keep_going=keep_going)
        return run.result()


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector for the block.

    A run allocates millions of small records that live until it ends and form
    no reference cycles; every full collection would scan them all again (a
    fifth of the time of a large run). Cycles made meanwhile are collected
    when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan(
    pool: Any,
    *,
    config: RunConfig | None = None,
    rules: Iterable[str] | None = None,
    skip_rules: Iterable[str] = (),
    plugin_manager: PluginManager | None = None,
    existing_ids: Mapping[tuple[str, str], str] | None = None,
    keep_going: bool = False,
) -> "Plan":
    """Plan a run (see :class:`Plan`); ``existing_ids`` keeps the ids of known associations."""
    pm = plugin_manager or get_plugin_manager()
    pm.check()
    config = config or RunConfig()
    run = Plan(pool, pm, config, select_rules(pm.rules(), rules, skip_rules), keep_going=keep_going)
    run.number(existing_ids)
    return run


# -- the plan --------------------------------------------------------------------------------------


class Hooks:
    """Which per-association hooks packs (not the kernel) implement."""

    def __init__(self, pm: PluginManager) -> None:
        def by_packs(name: str) -> bool:
            return any(impl.plugin_name != KERNEL for impl in getattr(pm.hook, name).get_hookimpls())

        self.build = by_packs("romanasn_build_associations")
        self.file_stem = by_packs("romanasn_file_stem")
        self.finalize = by_packs("romanasn_finalize")
        self.written = pm.wants_written()

    @property
    def fast(self) -> bool:
        """Whether the engine may build associations and name files itself."""
        return not (self.build or self.file_stem or self.finalize)


class RulePlan:
    """One rule's groups, their product names, and the rows it vetoed.

    ``vetoes`` holds ``(constraint index, row, Veto)``; ``ids`` the id number
    of each group's association once the plan is numbered.
    """

    __slots__ = ("entry", "index", "groups", "names", "vetoes", "provenance", "ids", "count")

    def __init__(self, entry: RuleEntry, index: int, groups: list[Group], names: list[str],
                 vetoes: list[tuple[int, int, Veto]]) -> None:
        self.entry, self.index, self.groups, self.names, self.vetoes = entry, index, groups, names, vetoes
        self.count = len(groups)
        plugin = entry.plugin
        self.provenance = Provenance(entry.rule.name, plugin.name, plugin.version, __version__)
        self.ids: list[int] = []

    @property
    def rule(self) -> Rule:
        """The rule planned."""
        return self.entry.rule


class Plan:
    """A run's decisions: every rule's groups and product names, vetoes, orphans and ids.

    Holds row indices and names, not associations: :meth:`stream` builds
    the associations a block at a time, :meth:`result` all of them.
    ``row_ids`` gives each pool row's number in a larger pool (the rows of
    one program of a partitioned run); by default its own position.

    With ``keep_going`` a rule that fails (planning, building, or when the
    writer reports its association invalid, :meth:`fail`) is left out and
    listed in :attr:`failed`; a rule failing while it is built leaves gaps in
    the ids, so the others keep the ids they would have had.
    """

    def __init__(self, pool: Any, pm: PluginManager, config: RunConfig, entries: list[RuleEntry],
                 row_ids: np.ndarray | None = None, keep_going: bool = False) -> None:
        self.pm, self.config = pm, config
        self.view = PoolView(pool)
        self._members: dict[MemberSpec, _Members] = {}
        self._builders: dict[int, _Builder] = {}
        _share_values(self.view, entries)
        self.pool_rows = len(pool)
        self.row_ids = np.arange(len(pool)) if row_ids is None else np.asarray(row_ids)
        self.hooks = Hooks(pm)
        self.rules, self.skipped = _runnable(entries, config)
        self.keep_going = keep_going
        self.failed: dict[str, FailedRule] = {}
        self._entries = {entry.name: entry for entry in self.rules}
        self.plans: list[RulePlan] = []
        for entry in list(self.rules):
            try:
                rule_plan = _plan_rule(pm, entry, len(self.plans), self.view, config)
            except RomanasnError as exc:
                self.fail(entry.name, exc)
                continue
            self.plans.append(rule_plan)
        self.rules = [p.entry for p in self.plans]
        self.takers = np.zeros(len(pool), dtype=np.uint16)  # the rules that took each row
        for rule_plan in self.plans:
            self.takers[_rows_used(rule_plan)] += 1
        self._built: list[Association] | None = None
        if not self.hooks.fast:
            self._built = self._build_with_hooks()
            self._untake_failed()
        self.total = len(self._built) if self._built is not None else sum(p.count for p in self.plans)
        self.released = False
        self.order: list[tuple[int, int]] = []  # (rule index, group index) of each association, by asn_id
        self.id_numbers: list[int] = []  # and its id number
        self.stems: list[str] | None = None

    def plugin_of(self, rule: str) -> Any:
        """The plugin (:class:`PluginInfo`) of the rule named ``rule``."""
        return self._entries[rule].plugin

    def fail(self, rule: str, exc: RomanasnError) -> None:
        """Record that the rule named ``rule`` failed; raise ``exc`` unless the run keeps going."""
        if not self.keep_going:
            raise exc
        if rule not in self.failed:
            log.debug("rule %s failed; the other rules go on", rule)
            plugin = self._entries[rule].plugin
            self.failed[rule] = FailedRule(rule, plugin.name, plugin.version, str(exc))

    def drop_failed(self) -> None:
        """Leave the associations of rules that failed while being built out of the plan's order."""
        if not self.failed:
            return
        self._untake_failed()
        kept = [(place, n) for place, n in zip(self.order, self.id_numbers)
                if self._rule_name(place) not in self.failed]
        self.order = [place for place, _ in kept]
        self.id_numbers = [n for _, n in kept]
        if self._built is not None:
            pairs = [(a, s) for a, s in zip(self._built, self.stems) if a.asn_rule not in self.failed]
            self._built = [a for a, _ in pairs]
            self.stems = [s for _, s in pairs]
            self.order = [(0, i) for i in range(len(self._built))]
        self.total = len(self.order)

    def _untake_failed(self) -> None:
        """The rows of failed rules are no longer taken by them."""
        for rule_plan in self.plans:
            if rule_plan.entry.name in self.failed and rule_plan.groups:
                self.takers[_rows_used(rule_plan)] -= 1
                rule_plan.groups = []

    def _rule_name(self, place: tuple[int, int]) -> str:
        if self._built is not None:
            return self._built[place[1]].asn_rule
        return self.plans[place[0]].entry.name

    # -- numbering -----------------------------------------------------------------------------

    def keys(self) -> list[tuple[str, str, int, int]]:
        """``(product name, rule, rule index, group index)`` of every association, unsorted."""
        if self._built is not None:
            return [(a.product_name, a.asn_rule, 0, i) for i, a in enumerate(self._built)]
        return [(name, p.entry.name, p.index, i) for p in self.plans for i, name in enumerate(p.names)]

    def number(self, existing: Mapping[tuple[str, str], str] | None = None,
               ordered: Sequence[int] | None = None, numbers: Sequence[int] | None = None) -> None:
        """Give every association its id: ``a3001`` up in (product name, rule) order.

        ``existing`` maps ``(asn_rule, product_name)`` to the id an earlier run
        gave: those keep it, the others take the next free numbers, in order.
        ``ordered`` and ``numbers`` (positions into :meth:`keys` and their id
        numbers, from a partitioned run) replace the numbering.
        """
        keys = self.keys()
        if ordered is None:
            text = [f"{name}\0{rule}" for name, rule, _, _ in keys]
            ordered = sorted(range(len(keys)), key=text.__getitem__)
            numbers = _id_numbers([keys[k] for k in ordered], existing)
        self.order = [(keys[k][2], keys[k][3]) for k in ordered]
        self.id_numbers = list(numbers)
        if self._built is not None:
            self._built = [self._built[k] for k in ordered]
            self._built = [evolve(a, asn_id=_asn_id(n)) for a, n in zip(self._built, self.id_numbers)]
            self.order = [(0, i) for i in range(len(self._built))]
            self.stems = _stems_with_hooks(self.pm, self._built, self.config)
        else:
            for rule_plan in self.plans:
                rule_plan.ids = [0] * len(rule_plan.groups)
            for (rule_index, group_index), n in zip(self.order, self.id_numbers):
                self.plans[rule_index].ids[group_index] = n
            self.stems = None
            self._check_stems()

    def _check_stems(self) -> None:
        """In the fast lane a file stem is the product name and ``_asn``: no two may be equal."""
        previous = None
        for rule_index, group_index in self.order:
            name = self.plans[rule_index].names[group_index]
            if previous is not None and name == previous[0]:
                first, second = self.plans[previous[1]], self.plans[rule_index]
                raise RuleError(f"two associations would be written to {name + '_asn'!r}: "
                                f"{_who_plan(first)} and {_who_plan(second)}")
            previous = (name, rule_index)

    def stem(self, rule_index: int, group_index: int) -> str:
        """The file stem of one association (fast lane)."""
        return self.plans[rule_index].names[group_index] + "_asn"

    # -- building ------------------------------------------------------------------------------

    def stream(self, block: int = BLOCK, release: bool = False) -> Iterator[tuple[int, Association, str]]:
        """``(id number, association, file stem)`` of every association, built a block at a time.

        Rule by rule, not in id order; each association is finished (numbered
        and stamped) when it is yielded. With ``release``, each rule's groups,
        and the members no later rule uses, are let go once built (the plan
        then builds no more associations).
        """
        if self._built is not None:
            for item in zip(self.id_numbers, self._built, self.stems):
                if item[1].asn_rule not in self.failed:
                    yield item
            return
        last_use = {spec: rule_plan.index for rule_plan in self.plans for spec in _specs(rule_plan.rule)}
        for rule_plan in self.plans:
            yield from self._stream_rule(rule_plan, block)
            if release and rule_plan.entry.name not in self.failed:  # a failed rule's groups stay, for drop_failed
                self._release(rule_plan, last_use)

    def _stream_rule(self, rule_plan: RulePlan, block: int) -> Iterator[tuple[int, Association, str]]:
        """One rule's items, a block at a time, until the rule fails (here, or as the writer found)."""
        name = rule_plan.entry.name
        for start in range(0, rule_plan.count, block):
            groups = range(start, min(start + block, rule_plan.count))
            try:
                built = self._build_fast(rule_plan, groups)
            except RomanasnError as exc:
                self.fail(name, exc)
                return
            for group_index, association in zip(groups, built):
                if name in self.failed:
                    return
                yield rule_plan.ids[group_index], association, rule_plan.names[group_index] + "_asn"

    def _release(self, rule_plan: RulePlan, last_use: Mapping[MemberSpec, int]) -> None:
        """Let go of a built rule's groups, builder, and the members no later rule uses."""
        self.released = True
        rule_plan.groups = []
        self._builders.pop(rule_plan.index, None)
        for spec in _specs(rule_plan.rule):
            if last_use[spec] == rule_plan.index:
                self._members.pop(spec, None)

    def association(self, position: int) -> Association:
        """The association with the ``position``-th id."""
        if self.released:
            raise RomanasnError("this plan let its groups go while streaming: it builds no more associations")
        if self._built is not None:
            return self._built[position]
        rule_index, group_index = self.order[position]
        return self._build_fast(self.plans[rule_index], [group_index])[0]

    def file_stems(self) -> list[str]:
        """Every file stem, in id order."""
        if self.stems is not None:
            return list(self.stems)
        return [self.stem(r, g) for r, g in self.order]

    def result(self) -> Result:
        """Every association, built, in a :class:`Result`."""
        if self._built is not None:
            associations = tuple(self._built)
        else:
            made = {}
            for number, association, _ in self.stream():
                made[number] = association
            self.drop_failed()
            associations = tuple(made[n] for n in self.id_numbers)
        return self.summary(associations, tuple(self.file_stems()))

    def summary(self, associations: Sequence[Association], stems: Sequence[str]) -> Result:
        """A :class:`Result` with these associations and the plan's vetoes, orphans and counts."""
        return Result(
            associations=associations,
            file_stems=stems,
            rules=tuple(self.rules),
            skipped=tuple(self.skipped),
            vetoes=tuple(veto for _, _, _, veto in self.veto_list()),
            orphans=tuple(self.orphans()),
            counts=self.counts(),
            pool_rows=self.pool_rows,
            failed=tuple(self.failed.values()),
        )

    def veto_list(self) -> list[tuple[int, int, int, Veto]]:
        """``(rule index, constraint index, row id, veto)`` of every veto, in run order."""
        return [(p.index, c, int(self.row_ids[row]), veto) for p in self.plans for c, row, veto in p.vetoes]

    def orphan_rows(self) -> np.ndarray:
        """The row ids of the rows no rule took."""
        return self.row_ids[np.flatnonzero(self.takers == 0)]

    def orphans(self) -> list[str]:
        """The file names of the rows no rule took."""
        filenames = self.view.column("filename")
        return [filenames[i] for i in np.flatnonzero(self.takers == 0).tolist()]

    def counts(self) -> dict[str, int]:
        """Associations made per rule (rules that failed left out)."""
        counts = {entry.name: 0 for entry in self.rules if entry.name not in self.failed}
        if self._built is not None:
            for association in self._built:
                counts[association.asn_rule] = counts.get(association.asn_rule, 0) + 1
        else:
            for rule_plan in self.plans:
                if rule_plan.entry.name not in self.failed:
                    counts[rule_plan.entry.name] += rule_plan.count
        return counts

    def _build_with_hooks(self) -> list[Association]:
        """Every association through the build and finalize hooks (the general lane)."""
        made: list[Association] = []
        for rule_plan in self.plans:
            entry = rule_plan.entry
            try:
                with _blame(entry):
                    built = self.pm.build_associations(entry.rule, rule_plan.groups, rule_plan.names, self.config)
            except RomanasnError as exc:
                self.fail(entry.name, exc)
                rule_plan.count = 0
                continue
            made.extend(_stamp(a, rule_plan.provenance, entry.plugin.label) for a in built)
        return self.pm.finalize(sorted(made, key=_order), self.config)

    def _build_fast(self, rule_plan: RulePlan, group_indices: Iterable[int]) -> list[Association]:
        entry = rule_plan.entry
        with _blame(entry):
            builder = self._builders.get(rule_plan.index)
            if builder is None:
                builder = self._builders[rule_plan.index] = _Builder(self, rule_plan)
            return builder.build(group_indices)

    def member_table(self, spec: MemberSpec) -> "_Members":
        """Each pool row's member under ``spec``, made when first asked for (shared by the rules)."""
        table = self._members.get(spec)
        if table is None:
            table = self._members[spec] = _Members(self.view, spec)
        return table


def _rows_used(rule_plan: RulePlan) -> np.ndarray:
    """The rows in any of a rule's groups, each once."""
    rows = [i for group in rule_plan.groups for i in group.rows]
    return np.unique(np.asarray(rows, dtype=np.int64))


def _asn_id(number: int) -> str:
    return f"a{number}"


def _id_numbers(keys: Sequence[tuple[str, str, int, int]], existing: Mapping[tuple[str, str], str] | None) -> list[int]:
    """Id numbers for associations in this (sorted) order: kept ones keep theirs, new ones count on."""
    if not existing:
        return list(range(FIRST_ASN_ID, FIRST_ASN_ID + len(keys)))
    kept = {key: int(value[1:]) for key, value in existing.items()}
    following = max([FIRST_ASN_ID - 1, *kept.values()]) + 1
    numbers = []
    for name, rule, _, _ in keys:
        number = kept.get((rule, name))
        if number is None:
            number, following = following, following + 1
        numbers.append(number)
    return numbers


def _order(association: Association) -> tuple[str, str]:
    return association.product_name, association.asn_rule


class _blame:
    """Turn an exception escaping a pack's code into a PluginError naming the rule and plugin."""

    def __init__(self, entry: RuleEntry) -> None:
        self.entry = entry

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> bool:
        if exc is None or isinstance(exc, RomanasnError) or not isinstance(exc, Exception):
            return False
        rule, plugin = self.entry.rule, self.entry.plugin
        exc.add_note(f"in rule {rule.name!r} of plugin {plugin.label}")
        raise PluginError(
            f"rule {rule.name!r} of plugin {plugin.label} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _runnable(entries: list[RuleEntry], config: RunConfig,
              quiet: bool = False) -> tuple[list[RuleEntry], list[SkippedRule]]:
    """Split off the rules whose needed options the run lacks (one debug line per plugin: the
    run's summary and report list them)."""
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
    for (plugin, missing), names in ({} if quiet else missing_by_plugin).items():
        options = ", ".join("--" + m.replace("_", "-") for m in missing)
        log.debug("plugin %s: rules %s skipped: they need %s", plugin, ", ".join(names), options)
    return runnable, skipped


def _plan_rule(pm: PluginManager, entry: RuleEntry, index: int, view: PoolView, config: RunConfig) -> RulePlan:
    """Select, constrain, group and name one rule's associations."""
    rule, plugin = entry.rule, entry.plugin
    with _blame(entry):
        _check_columns(entry, view.table)
        matching = [(found.item, found.plugin) for found in pm.match_constraints(rule, config)]
        own = [(constraint, plugin) for constraint in rule.constraints]
        selected = _select([(constraint, plugin) for constraint in rule.select], view)
        rows, vetoes = _constrain(entry, view, selected, own + matching)
        groups = _group(entry, view, rows, config, matching)
        names = pm.product_names(rule, groups, config)
    _check_one_program(entry, view, groups)
    for name in names:
        check_name(name, "product name", rule.name, plugin.label)
    return RulePlan(entry, index, groups, names, vetoes)


def _check_one_program(entry: RuleEntry, view: PoolView, groups: Sequence[Group]) -> None:
    """The rule-pack contract: no association crosses a program (its rows and companions all of
    one program), so that a program's associations can be made from its rows alone."""
    if "program" not in view.table.colnames or not groups:
        return
    programs = np.asarray(view.table["program"])
    if len(programs) < 2 or (programs == programs[0]).all():
        return
    rows = [list(group.rows) + [row for more in group.companions for row in more] for group in groups]
    sizes = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = programs[np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(sizes.sum()))]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[sizes > 0]
    mixed = np.flatnonzero(np.maximum.reduceat(flat, starts) != np.minimum.reduceat(flat, starts))
    if len(mixed):
        group = [g for g, size in zip(groups, sizes) if size][mixed[0]]
        found = sorted({int(programs[row]) for row in rows[groups.index(group)]})
        raise RuleError(f"rule {entry.name!r} of plugin {entry.plugin.label} makes an association across programs"
                        f" {', '.join(map(str, found))} (key {group.key}): associations never cross a program")


def _select(constraints: Sequence[tuple[Constraint, Any]], view: PoolView) -> np.ndarray:
    """Indices of the rows passing every constraint (each paired with the plugin that gave it)."""
    mask = np.ones(len(view), dtype=bool)
    for constraint, plugin in constraints:
        mask &= _test(constraint, plugin, view)
    return np.flatnonzero(mask)


def _test(constraint: Constraint, plugin: Any, view: PoolView) -> np.ndarray:
    """A constraint's verdict on every row, computed once per run for the same constraint; an
    error names ``plugin``, the plugin that gave the constraint."""

    def verdicts(table: Any) -> np.ndarray:
        try:
            return np.asarray(constraint.test(table), dtype=bool)
        except Exception as exc:
            if isinstance(exc, RomanasnError):
                raise
            raise PluginError(f"constraint {constraint.name!r} of plugin {plugin.label} failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    result = view.derived(("constraint", constraint), verdicts)
    if result.shape != (len(view),):
        raise PluginError(f"constraint {constraint.name!r} of plugin {plugin.label} must give one boolean "
                          f"per pool row ({len(view)}), not an array of shape {result.shape}")
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
) -> tuple[np.ndarray, list[tuple[int, int, Veto]]]:
    """Apply the rule's own constraints and those other plugins add; record vetoes."""
    filenames = view.column("filename")
    vetoes = []
    for number, (constraint, plugin) in enumerate(added):
        if not len(rows):
            break
        passed = _test(constraint, plugin, view)[rows]
        reason = constraint.reason or constraint.name
        vetoes += [(number, i, Veto(entry.name, filenames[i], reason, plugin.label)) for i in rows[~passed].tolist()]
        rows = rows[passed]
    return rows, vetoes


def _group(
    entry: RuleEntry, view: PoolView, rows: np.ndarray, config: RunConfig, matching: Sequence[tuple[Constraint, Any]] = ()
) -> list[Group]:
    """Hash the selected rows by their keys; one group per distinct key.

    A group's rows are sorted by file name, so nothing depends on row order.
    Companion rows must pass the ``matching`` constraints other plugins add
    (each paired with its plugin).
    """
    rule = entry.rule
    if rule.keys is not None:
        rows, codes, keys = _custom_keys(rule, view, rows, config)
    else:
        codes, keys = _column_keys(rule.group_by, view, rows)
    if not len(rows):
        return []
    order = np.lexsort((view.derived("filename_rank", _filename_rank)[rows], codes))
    rows, codes = rows[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    bounds = starts.tolist() + [len(rows)]
    firsts = codes[starts].tolist()
    rows = rows.tolist()
    names = rule.group_by
    if not rule.companions:
        return [Group(rule, dict(zip(names, keys[code])), tuple(rows[start:stop]), view)
                for code, start, stop in zip(firsts, bounds, bounds[1:])]
    own = [[(constraint, entry.plugin) for constraint in c.select] for c in rule.companions]
    lookups = [_companion_index(c, view, select + list(matching)) for c, select in zip(rule.companions, own)]
    groups = []
    for code, start, stop in zip(firsts, bounds, bounds[1:]):
        members = tuple(rows[start:stop])
        companions = tuple(_joined(c, lookup, view, members) for c, lookup in zip(rule.companions, lookups))
        groups.append(Group(rule, dict(zip(names, keys[code])), members, view, companions))
    return groups


def _filename_rank(table: Any) -> np.ndarray:
    """Each row's position in file-name order."""
    rank = np.empty(len(table), dtype=np.int64)
    rank[np.argsort(np.asarray(table["filename"]), kind="stable")] = np.arange(len(table))
    return rank


def _column_keys(names: Sequence[str], view: PoolView, rows: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """A code per selected row (equal codes, equal keys) and each code's key."""
    picked = rows.tolist()
    index: dict[tuple, int] = {}
    if len(names) == 1:
        column = view.column(names[0])
        codes = [index.setdefault((column[i],), len(index)) for i in picked]
    else:
        subsets = [[column[i] for i in picked] for column in map(view.column, names)]
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


def _companion_index(companion: Companion, view: PoolView, select: Sequence[tuple[Constraint, Any]]) -> dict[tuple, list[int]]:
    """Companion rows (those passing ``select``) by their values in the ``on`` columns."""
    index: dict[tuple, list[int]] = defaultdict(list)
    columns = [view.column(name) for name in companion.on]
    for i in _select(select, view).tolist():
        index[tuple(column[i] for column in columns)].append(i)
    return index


def _joined(companion: Companion, index: dict, view: PoolView, rows: Sequence[int]) -> tuple[int, ...]:
    columns = [view.column(name) for name in companion.on]
    keys = {tuple(column[i] for column in columns) for i in rows}
    if len(keys) == 1:
        return tuple(sorted(set(index.get(keys.pop(), ()))))
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


def _stems_with_hooks(pm: PluginManager, associations: list[Association], config: RunConfig) -> list[str]:
    """The file stem of each association (numbered); colliding file names are an error."""
    stems, owners = [], {}
    for association in associations:
        stem = pm.file_stem(association, config)
        if stem in owners:
            raise RuleError(f"two associations would be written to {stem!r}: {_who(owners[stem])} and {_who(association)}")
        owners[stem] = association
        stems.append(stem)
    return stems


def _who(association: Association) -> str:
    p = association.provenance
    if p is None:
        return f"rule {association.asn_rule!r}"
    return f"rule {p.rule!r} of plugin {p.plugin} {p.plugin_version}"


def _who_plan(rule_plan: RulePlan) -> str:
    p = rule_plan.provenance
    return f"rule {p.rule!r} of plugin {p.plugin} {p.plugin_version}"


# -- the fast lane: building associations as the kernel's default hooks do ---------------------


def degraded_reasons(table: Any) -> list[str | None]:
    """The same as :func:`romanasn.products.degraded_reasons`, one test per distinct value."""
    reasons: list[str | None] = [None] * len(table)
    checks = (("exposerr", products._OK), ("data_problem", products._FALSE),
              ("engineering_quality", products._OK))
    for column, fine in checks:
        if column not in table.colnames:
            continue
        verdicts: dict[tuple[type, Any], str | None] = {}
        for i, value in enumerate(table[column].tolist()):
            key = (type(value), value)
            if key not in verdicts:
                text = "" if value is None else str(value).strip()
                verdicts[key] = None if text.upper() in fine else f"{column}: {text}"
            reason = verdicts[key]
            if reason is not None:
                reasons[i] = reason if reasons[i] is None else f"{reasons[i]}; {reason}"
    return reasons


class _Members:
    """Each pool row's member under one MemberSpec, made when first asked for (shared by rules)."""

    def __init__(self, view: PoolView, spec: MemberSpec) -> None:
        self.spec = spec
        self.filenames = view.column("filename")
        self.reasons = view.derived("romanasn.engine:degraded", degraded_reasons)
        has = "asn_candidate" in view.table.colnames
        self.candidates = view.column("asn_candidate") if has else None
        self.made: dict[int, Member] = {}

    def __getitem__(self, i: int) -> Member:
        member = self.made.get(i)
        if member is None:
            candidate = self.candidates[i] if self.candidates is not None else None
            member = Member(member_filename(self.filenames[i], self.spec.suffix), self.spec.exptype,
                            self.reasons[i], {"asn_candidate": candidate} if candidate else None)
            self.made[i] = member
        return member

    def pick(self, rows: Sequence[int], taken: set[str] | None = None) -> tuple[Member, ...]:
        """Members for ``rows``, sorted by file name, none repeated, none of ``taken``."""
        if len(rows) == 1 and not taken:
            return (self[rows[0]],)
        members = {}
        for i in rows:
            member = self[i]
            if not taken or member.expname not in taken:
                members[member.expname] = member
        return tuple(members[name] for name in sorted(members))


class _Builder:
    """Builds one rule's associations exactly as ``products.build_associations`` and the engine's
    stamping and numbering would, without the intermediate records."""

    def __init__(self, run: Plan, rule_plan: RulePlan) -> None:
        rule, config = rule_plan.rule, run.config
        self.rule_plan, self.config = rule_plan, config
        self.members = run.member_table(rule.member)
        self.companions = [run.member_table(c.member) for c in rule.companions]
        self.constraints = products.describe(rule)
        self.label = rule_plan.entry.plugin.label
        self.programs = run.view.column("program") if "program" in run.view.table.colnames else None
        self.common = dict(asn_type=rule.asn_type, asn_rule=rule.name, asn_pool=config.pool_name,
                           version_id=config.version_id, code_version=__version__,
                           constraints=self.constraints, data_release_id=config.data_release_id,
                           provenance=rule_plan.provenance)

    def build(self, group_indices: Iterable[int]) -> list[Association]:
        rule, config, plan = self.rule_plan.rule, self.config, self.rule_plan
        made = []
        for g in group_indices:
            group, name = plan.groups[g], plan.names[g]
            members = self.members.pick(group.rows)
            for table, rows in zip(self.companions, group.companions):
                members += table.pick(rows, {m.expname for m in members})
            extras = dict(rule.extras(group, config)) if rule.extras else {}
            top = {key: extras.pop(key) for key in ("target", "skycell_wcs_info", "program") if key in extras}
            degraded = NO_DEGRADED
            for member in members:
                if member.exposerr is not None:
                    degraded = SOME_DEGRADED
                    break
            made.append(Association(
                products=(Product(name, members),),
                asn_id=_asn_id(plan.ids[g]),
                program=top["program"] if "program" in top else self._program(group),
                target=top.get("target", NO_TARGET),
                skycell_wcs_info=top.get("skycell_wcs_info", "none"),
                degraded_status=degraded,
                extra=extras,
                **self.common,
            ))
        return made

    def _program(self, group: Group) -> str:
        if "program" in group.key:
            return _program_id(group.key["program"])
        if self.programs is None:
            raise KeyError("program")
        rows = group.rows
        if len(rows) == 1:
            return _program_id(self.programs[rows[0]])
        programs = {self.programs[i] for i in rows}
        return _program_id(programs.pop()) if len(programs) == 1 else "noprogram"


def _specs(rule: Rule) -> list[MemberSpec]:
    return [rule.member] + [companion.member for companion in rule.companions]


def _share_values(view: PoolView, entries: Sequence[RuleEntry]) -> None:
    """Make the value lists of the columns rules group and join on hold one object per distinct
    value (``tolist`` makes one per cell): a large pool's lists take a fraction of the memory."""
    lists = getattr(view, "_lists", None)
    if not isinstance(lists, dict):
        return
    names = {"program", "exposure_type"}
    for entry in entries:
        names.update(entry.rule.group_by)
        for companion in entry.rule.companions:
            names.update(companion.on)
    for name in sorted(names - {"filename"}):
        if name in view.table.colnames and name not in lists:
            shared: dict = {}
            lists[name] = [shared.setdefault(value, value) for value in view.table[name].tolist()]


_PROGRAM_IDS: dict[Any, str] = {}


def _program_id(program: Any) -> str:
    key = (type(program), program)
    found = _PROGRAM_IDS.get(key)
    if found is None:
        found = program_id(program)
        if len(_PROGRAM_IDS) < 100_000:
            _PROGRAM_IDS[key] = found
    return found

