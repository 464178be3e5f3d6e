"""The engine: run rules over a pool and return associations.

Each rule costs one pass over the rows it selects: rows are grouped by
factorising their key columns, never offered one by one to open associations,
so a run grows linearly with the pool.

A run has two steps. :class:`Plan` selects, constrains, groups and names
every rule's associations and gives each its ``asn_id`` (``a3001`` up, in
product-name order), holding columns of row indices and names
(:mod:`romanasn.lane`). Associations are then made from the plan, a block at
a time, so a writer can write each as soon as it is finished and nothing
holds every association of a large pool at once. :func:`generate` does both
steps and returns every association in a :class:`Result`.

Two lanes, chosen per rule: the rules that packs' ``romanasn_build_associations``,
``romanasn_file_stem`` or ``romanasn_finalize`` serve (``romanasn_hook_scope``;
every rule, for a pack that does not say) take the *object lane*, which calls
the hooks and builds their association records before numbering them; every
other rule takes the *columnar lane* (:meth:`Plan.encoded`: each association
file made as a column of bytes, no record per association). Both give the same
files; ``ROMANASN_LANE=object`` sends every rule through the object lane.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import itertools
import logging
import os
from collections import defaultdict
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from attrs import evolve, field, frozen

from romanasn import asnfile, lane, products
from romanasn._version import __version__
from romanasn.encoder import encode_json
from romanasn.errors import PluginError, RomanasnError, RuleError, UsageError
from romanasn.naming import check_name, program_id
from romanasn.plugins.manager import KERNEL, PluginManager, RuleEntry, get_plugin_manager
from romanasn.plugins.types import Constraint, Group, PoolView, Rule, RunConfig
from romanasn.records import NO_TARGET, Association, Member, Product, Provenance, degraded_status
from romanasn.words import did_you_mean

log = logging.getLogger("romanasn.engine")

FIRST_ASN_ID = 3001
#: Associations built at a time by :meth:`Plan.stream` (and at most made at a time by :meth:`Plan.encoded`).
BLOCK = 2048
#: Members of the associations :meth:`Plan.encoded` makes at a time, about (a block of Level 3
#: mosaics of a thousand members each would be hundreds of megabytes, slow to allocate).
MEMBERS = 16384


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


@frozen
class FileBlock:
    """The files of some associations of one rule, in the order made, as columns: their id
    numbers, product names, file stems, bytes (``texts``, Arrow strings or binaries) and
    program ids."""

    rule: str
    numbers: np.ndarray
    products: pa.Array
    stems: pa.Array
    texts: pa.Array
    programs: pa.Array

    def __len__(self) -> int:
        return len(self.numbers)

    def data(self) -> list[memoryview]:
        """Each file's bytes (a view of ``texts``)."""
        return list(lane.views(self.texts))


def file_blocks(items: Iterable[tuple[int, str, str, str, bytes, str]], size: int = BLOCK) -> Iterator[FileBlock]:
    """Files given one at a time, ``(id number, rule, product name, file stem, bytes, program)``,
    as blocks of up to ``size`` consecutive files of one rule."""
    for rule, run in itertools.groupby(items, key=lambda item: item[1]):
        while chunk := list(itertools.islice(run, size)):
            numbers, _, products, stems, data, programs = zip(*chunk)
            yield FileBlock(rule, np.asarray(numbers, dtype=np.int64), pa.array(products, pa.string()),
                            pa.array(stems, pa.string()), pa.array(data, pa.large_binary()),
                            pa.array(programs, pa.string()))


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

#: ``ROMANASN_LANE=object`` sends every rule through the object lane (as when a pack's
#: per-association hooks serve every rule): to compare the lanes, or to rule the columnar lane out.
LANE_ENV = "ROMANASN_LANE"


class Hooks:
    """Which of a run's rules take the object lane (``objects``: those the per-association hooks
    of packs serve), and whether packs name products or observe written files."""

    def __init__(self, pm: PluginManager, entries: Sequence[RuleEntry]) -> None:
        self.names = any(impl.plugin_name != KERNEL for impl in pm.hook.romanasn_product_names.get_hookimpls())
        self.written = pm.wants_written()
        lane = os.environ.get(LANE_ENV, "")
        if lane not in ("", "columns", "object"):
            raise UsageError(f"{LANE_ENV}={lane!r}: use columns (the default) or object")
        self.objects = frozenset(entry.name for entry in entries if lane == "object" or pm.serving(entry.name))


class RulePlan:
    """One rule's groups (:class:`romanasn.lane.Groups`), their product names (an Arrow
    column), and the rows it vetoed.

    ``vetoes`` holds ``(constraint index, row, Veto)``; ``ids`` the id number of each group's
    association once the plan is numbered; ``programs`` the program id of each group's
    association (codes into ``program_ids``). A rule of the object lane holds its association
    records in ``built`` (None in the columnar lane), and ``names``, ``ids`` and ``stems`` are theirs.
    """

    __slots__ = ("entry", "index", "groups", "names", "vetoes", "provenance", "ids", "count", "view",
                 "programs", "program_ids", "built", "stems")

    def __init__(self, entry: RuleEntry, index: int, view: PoolView, groups: lane.Groups, names: pa.Array,
                 vetoes: list[tuple[int, int, Veto]]) -> None:
        self.entry, self.index, self.view, self.groups, self.names, self.vetoes = entry, index, view, groups, names, vetoes
        self.count = len(groups)
        plugin = entry.plugin
        self.provenance = Provenance(entry.rule.name, plugin.name, plugin.version, __version__)
        self.ids = np.zeros(self.count, dtype=np.int64)
        self.programs, self.program_ids = _programs(view, groups)
        self.built: list[Association] | None = None
        self.stems: list[str] = []

    def take(self, built: list[Association]) -> None:
        """Hold ``built``, the rule's association records (the object lane), instead of its groups'."""
        self.built, self.count = built, len(built)
        self.names = pa.array([association.product_name for association in built], pa.string())
        self.ids = np.zeros(self.count, dtype=np.int64)

    def number(self, pm: PluginManager, config: RunConfig) -> None:
        """Give the records their ids (from ``ids``), then their file stems (from the hooks)."""
        self.built = [evolve(a, asn_id=_asn_id(n)) for a, n in zip(self.built, self.ids.tolist())]
        self.stems = [pm.file_stem(association, config) for association in self.built]

    @property
    def rule(self) -> Rule:
        """The rule planned."""
        return self.entry.rule

    def group_objects(self, indices: Iterable[int] | None = None) -> list[Group]:
        """:class:`Group` records of the groups ``indices`` (all by default), for hooks and namers."""
        return _group_objects(self.rule, self.view, self.groups, indices)


class Plan:
    """A run's decisions: every rule's groups and product names, vetoes, orphans and ids.

    Holds columns (rows, offsets, names), not associations: in the columnar lane
    :meth:`encoded` makes the association files a block at a time, :meth:`stream` and
    :meth:`result` build association records (the object lane's rules hold theirs, built
    through the hooks when planned). ``row_ids`` gives each pool row's number in a
    larger pool (the rows of one program of a partitioned run); by default its own position.

    With ``keep_going`` a rule that fails (planning, building, or when the writer reports its
    association invalid, :meth:`fail`) is left out and listed in :attr:`failed`; a rule failing
    while it is built leaves gaps in the ids, so the others keep the ids they would have had.
    """

    def __init__(self, pool: Any, pm: PluginManager, config: RunConfig, entries: list[RuleEntry],
                 row_ids: np.ndarray | None = None, keep_going: bool = False) -> None:
        self.pm, self.config = pm, config
        self.view = PoolView(pool)
        self.pool_rows = len(pool)
        self.row_ids = np.arange(len(pool)) if row_ids is None else np.asarray(row_ids)
        self.rules, self.skipped = _runnable(entries, config)
        self.hooks = Hooks(pm, self.rules)
        self.keep_going = keep_going
        self.failed: dict[str, FailedRule] = {}
        self._entries = {entry.name: entry for entry in self.rules}
        self.plans: list[RulePlan] = []
        for entry in list(self.rules):
            try:
                rule_plan = _plan_rule(pm, self.hooks, entry, len(self.plans), self.view, config)
            except RomanasnError as exc:
                self.fail(entry.name, exc)
                continue
            self.plans.append(rule_plan)
            pa.default_memory_pool().release_unused()  # what planning the rule freed goes back
        lane.planned(self.view)
        self.rules = [p.entry for p in self.plans]
        self.takers = np.zeros(len(pool), dtype=np.uint16)  # the rules that took each row
        for rule_plan in self.plans:
            self.takers[_rows_used(rule_plan)] += 1
        if self.hooks.objects:
            self._build_with_hooks()
        self.total = sum(p.count for p in self.plans)
        self.released = False
        # (rule index, group index) of each association, by asn_id, and its id number
        self.order = np.zeros((0, 2), dtype=np.int64)
        self.id_numbers = np.zeros(0, dtype=np.int64)

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
        dead = np.asarray([p.entry.name in self.failed for p in self.plans] or [False])
        kept = ~dead[self.order[:, 0]]
        self.order, self.id_numbers = self.order[kept], self.id_numbers[kept]
        self.total = len(self.order)

    def _untake_failed(self) -> None:
        """The rows of failed rules are no longer taken by them."""
        for rule_plan in self.plans:
            if rule_plan.entry.name in self.failed and rule_plan.count:
                self.takers[_rows_used(rule_plan)] -= 1
                rule_plan.groups = lane.Groups.empty(rule_plan.rule.group_by, len(rule_plan.rule.companions))
                rule_plan.count = 0

    # -- numbering -----------------------------------------------------------------------------

    def keys(self) -> list[tuple[str, str, int, int]]:
        """``(product name, rule, rule index, group index)`` of every association, unsorted."""
        return [(name, p.entry.name, p.index, i) for p in self.plans for i, name in enumerate(p.names.to_pylist())]

    def number(self, existing: Mapping[tuple[str, str], str] | None = None,
               ordered: Sequence[int] | None = None, numbers: Sequence[int] | None = None) -> None:
        """Give every association its id: ``a3001`` up in (product name, rule) order.

        ``existing`` maps ``(asn_rule, product_name)`` to the id an earlier run
        gave: those keep it, the others take the next free numbers, in order.
        ``ordered`` and ``numbers`` (positions into :meth:`keys` and their id
        numbers, from a partitioned run) replace the numbering. The object lane's records then
        get their ids and file stems; two associations with the same file stem are an error.
        """
        counts = [p.count for p in self.plans]
        places = np.stack((np.repeat(np.arange(len(self.plans)), counts),
                           np.concatenate([np.arange(c) for c in counts] or [np.zeros(0, np.int64)])), axis=1)
        names = pa.chunked_array([p.names for p in self.plans], pa.string()).combine_chunks()
        if ordered is None:
            rank = np.argsort(np.argsort([p.entry.name for p in self.plans]))
            table = pa.table({"name": names, "rule": np.repeat(rank, counts).astype(np.int64)})
            ordered = pc.sort_indices(table, [("name", "ascending"), ("rule", "ascending")]).to_numpy()
            if existing:
                sorted_names = names.take(pa.array(ordered)).to_pylist()
                rules = [self.plans[r].entry.name for r in places[ordered, 0].tolist()]
                numbers = _id_numbers(list(zip(sorted_names, rules)), existing)
            else:
                numbers = np.arange(FIRST_ASN_ID, FIRST_ASN_ID + len(ordered))
        ordered = np.asarray(ordered, dtype=np.int64)
        self.order, self.id_numbers = places[ordered], np.asarray(numbers, dtype=np.int64)
        for index, rule_plan in enumerate(self.plans):
            mine = self.order[:, 0] == index
            rule_plan.ids[self.order[mine, 1]] = self.id_numbers[mine]
            if rule_plan.built is not None:
                rule_plan.number(self.pm, self.config)
        self._check_stems(names.take(pa.array(ordered)))

    def _check_stems(self, names: pa.Array) -> None:
        """No two associations may be written to the same file (named, when they are, in id order;
        ``names``: the product names in id order, each file's stem when no rule took the object
        lane: then names in increasing order are surely distinct)."""
        if all(p.built is None for p in self.plans) and (
                len(names) < 2 or pc.all(pc.less(names[:-1], names[1:]), skip_nulls=False).as_py() is True):
            return
        stems = self._stem_column()
        if len(pc.unique(stems)) == len(stems):
            return
        first: dict[str, int] = {}
        for position, stem in enumerate(stems.to_pylist()):
            if stem in first:
                who = [self.plans[self.order[p, 0]].provenance for p in (first[stem], position)]
                raise RuleError(f"two associations would be written to {stem!r}: "
                                + " and ".join(f"rule {p.rule!r} of plugin {p.plugin} {p.plugin_version}" for p in who))
            first[stem] = position

    def _stem_column(self) -> pa.Array:
        """Every file stem, in id order: the product name and ``_asn``, or the hooks' stem (the
        object lane)."""
        stems = [pa.array(p.stems, pa.string()) if p.built is not None else
                 pc.binary_join_element_wise(p.names, "_asn", "") for p in self.plans]
        starts = np.cumsum([0] + [len(column) for column in stems])
        every = pa.chunked_array(stems, pa.string()).combine_chunks()
        return every.take(pa.array(starts[self.order[:, 0]] + self.order[:, 1]))

    def key_stems(self) -> list[str]:
        """Every file stem in :meth:`keys` order, before numbering (a partitioned run's survey)."""
        return [stem for p in self.plans for stem in (
            [self.pm.file_stem(a, self.config) for a in p.built] if p.built is not None
            else pc.binary_join_element_wise(p.names, "_asn", "").to_pylist())]

    # -- building ------------------------------------------------------------------------------

    def encoded(self, member_prefix: str | None = None, block: int = BLOCK) -> Iterator[FileBlock]:
        """The association files of the columnar lane, a :class:`FileBlock` of up to ``block``
        associations (and about :data:`MEMBERS` members) at a time, rule by rule (validated by the writer). A rule failing here
        stops its files (see :meth:`fail`). The object lane's rules are left to :meth:`stream`."""
        for rule_plan in (p for p in self.plans if p.built is None):
            name, names, programs = rule_plan.entry.name, rule_plan.names, rule_plan.program_ids
            try:
                with _blame(rule_plan.entry):
                    files = lane.Files(self.view, rule_plan.rule, rule_plan.groups, rule_plan.names,
                                       (rule_plan.programs, programs), self._heads(rule_plan), member_prefix)
            except RomanasnError as exc:
                self.fail(name, exc)
                continue
            program_column = pa.array(programs, pa.string())
            for start, stop in files.blocks(block, MEMBERS):
                try:
                    with _blame(rule_plan.entry):
                        texts = files.block(start, stop, rule_plan.ids)
                except RomanasnError as exc:
                    self.fail(name, exc)
                    break
                products = names[start:stop]
                yield FileBlock(name, rule_plan.ids[start:stop], products,
                                pc.binary_join_element_wise(products, "_asn", ""), texts,
                                program_column.take(pa.array(rule_plan.programs[start:stop])))
            pa.default_memory_pool().release_unused()

    def _heads(self, rule_plan: RulePlan):
        """The function giving the top-level text of a group's file before and after ``asn_id``."""
        rule, config = rule_plan.rule, self.config
        constraints = products.describe(rule)
        provenance = rule_plan.provenance
        objects: list[Group] = []  # for extras: every group's record, made once

        def head(group: int, program: str, degraded: str) -> tuple[str, str]:
            extras = {}
            if rule.extras:
                if not objects:
                    objects.extend(rule_plan.group_objects())
                extras = dict(rule.extras(objects[group], config))
            top = {key: extras.pop(key) for key in ("target", "skycell_wcs_info", "program") if key in extras}
            association = Association(
                products=(Product("-", (Member("-"),)),), asn_type=rule.asn_type, asn_rule=rule.name,
                asn_pool=config.pool_name, program=top.get("program", program), target=top.get("target", NO_TARGET),
                version_id=config.version_id, code_version=__version__, constraints=constraints,
                data_release_id=config.data_release_id, skycell_wcs_info=top.get("skycell_wcs_info", "none"),
                degraded_status=degraded, extra=extras, provenance=provenance, asn_id="a1")
            data = asnfile.to_dict(association)
            del data["products"]
            texts = ["\n    " + encode_json(key) + ": " + encode_json(value, 4, 1) + "," for key, value in data.items()]
            at = list(data).index("asn_id")
            return "".join(texts[:at]), "".join(texts[at + 1:])

        return head

    def stream(self, block: int = BLOCK, release: bool = False,
               columnar: bool = True) -> Iterator[tuple[int, Association, str]]:
        """``(id number, association, file stem)`` of every association, as records.

        Rule by rule, not in id order; each association is finished (numbered
        and stamped) when it is yielded. With ``release``, each rule's groups
        are let go once built (the plan then builds no more associations).
        Without ``columnar``, the object lane's rules alone.
        """
        for rule_plan in self.plans:
            name = rule_plan.entry.name
            if rule_plan.built is not None:
                made = zip(rule_plan.ids.tolist(), rule_plan.built, rule_plan.stems)
                yield from itertools.takewhile(lambda _: name not in self.failed, made)
            elif columnar:
                for start in range(0, rule_plan.count, block):
                    indices = range(start, min(start + block, rule_plan.count))
                    try:
                        built = self._build(rule_plan, indices)
                    except RomanasnError as exc:
                        self.fail(name, exc)
                        break
                    for group_index, association in zip(indices, built):
                        yield int(rule_plan.ids[group_index]), association, association.product_name + "_asn"
            else:
                continue
            if release and name not in self.failed:  # a failed rule's groups stay, for drop_failed
                self.released = True
                rule_plan.groups = lane.Groups.empty(rule_plan.rule.group_by, len(rule_plan.rule.companions))
                rule_plan.built = [] if rule_plan.built is not None else None

    def association(self, position: int) -> Association:
        """The association with the ``position``-th id."""
        if self.released:
            raise RomanasnError("this plan let its groups go while streaming: it builds no more associations")
        rule_index, group_index = self.order[position].tolist()
        rule_plan = self.plans[rule_index]
        if rule_plan.built is not None:
            return rule_plan.built[group_index]
        return self._build(rule_plan, [group_index])[0]

    def _build(self, rule_plan: RulePlan, indices: Sequence[int]) -> list[Association]:
        """The records of some groups' associations, as the kernel's default hooks build them."""
        entry, names = rule_plan.entry, rule_plan.names
        with _blame(entry):
            built = products.build_associations(rule_plan.rule, rule_plan.group_objects(indices),
                                                [names[g].as_py() for g in indices], self.config)
        return [evolve(_stamp(a, rule_plan.provenance, entry.plugin.label), asn_id=_asn_id(int(rule_plan.ids[g])))
                for g, a in zip(indices, built)]

    def programs(self) -> set[str]:
        """The program ids of the plan's associations."""
        return {program for p in self.plans for program in (
            [association.program for association in p.built] if p.built is not None
            else [p.program_ids[code] for code in np.unique(p.programs).tolist()])}

    def file_stems(self) -> Sequence[str]:
        """Every file stem, in id order (an Arrow column, :class:`lane.Texts`)."""
        return lane.Texts(self._stem_column())

    def result(self) -> Result:
        """Every association, built, in a :class:`Result`."""
        made = {number: association for number, association, _ in self.stream()}
        self.drop_failed()
        associations = tuple(made[n] for n in self.id_numbers.tolist())
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
        filenames = lane.arrow_column(self.view, "filename")
        return filenames.take(pa.array(np.flatnonzero(self.takers == 0))).to_pylist()

    def counts(self) -> dict[str, int]:
        """Associations made per rule (rules that failed left out)."""
        counts = {entry.name: 0 for entry in self.rules if entry.name not in self.failed}
        for rule_plan in self.plans:
            if rule_plan.entry.name not in self.failed:
                counts[rule_plan.entry.name] += rule_plan.count
        return counts

    def _build_with_hooks(self) -> None:
        """Build the object lane's associations through the build and finalize hooks; each rule's
        plan takes its own (a rule that failed, none)."""
        made: list[Association] = []
        objects = [p for p in self.plans if p.entry.name in self.hooks.objects]
        for rule_plan in objects:
            entry = rule_plan.entry
            try:
                with _blame(entry):
                    built = self.pm.build_associations(entry.rule, rule_plan.group_objects(),
                                                       rule_plan.names.to_pylist(), self.config)
            except RomanasnError as exc:
                self.fail(entry.name, exc)
                continue
            made.extend(_stamp(a, rule_plan.provenance, entry.plugin.label) for a in built)
        self._untake_failed()
        by_rule = defaultdict(list)
        for association in self.pm.finalize(sorted(made, key=_order), self.config, [p.entry.name for p in objects]):
            by_rule[association.asn_rule].append(association)
        for rule_plan in objects:
            rule_plan.take(by_rule[rule_plan.entry.name])


def _programs(view: PoolView, groups: lane.Groups) -> tuple[np.ndarray, list[str]]:
    """The program id of each group's association (a code per group, and each code's id): the
    key's program, else its rows' (who share one: :func:`_check_one_program`)."""
    if "program" in groups.keys:
        keys = groups.keys["program"]
        codes, values = lane.factorize(keys if isinstance(keys, pa.Array) else pa.array(keys))
        return codes, [program_id(v) for v in lane.as_list(values)]
    if not len(groups):
        return np.zeros(0, dtype=np.int64), []
    if "program" not in view.table.colnames:
        raise KeyError("program")
    codes, values = lane.column_codes(view, "program")
    return codes[groups.rows[groups.offsets[:-1]]], [program_id(v) for v in lane.as_list(values)]


def _rows_used(rule_plan: RulePlan) -> np.ndarray:
    """Whether each pool row is in any of a rule's groups."""
    used = np.zeros(len(rule_plan.view), dtype=bool)
    used[rule_plan.groups.rows] = True
    return used


_NAME_CHECKS = 8  # groups of each rule named by a function whose name is checked (_check_names_follow_keys)


def _asn_id(number: int) -> str:
    return f"a{number}"


def _id_numbers(keys: Sequence[tuple], existing: Mapping[tuple[str, str], str] | None) -> list[int]:
    """Id numbers for associations in this (sorted) order: kept ones keep theirs, new ones count on."""
    if not existing:
        return list(range(FIRST_ASN_ID, FIRST_ASN_ID + len(keys)))
    kept = {key: int(value[1:]) for key, value in existing.items()}
    following = max([FIRST_ASN_ID - 1, *kept.values()]) + 1
    numbers = []
    for name, rule, *_ in keys:
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


def _plan_rule(pm: PluginManager, hooks: Hooks, entry: RuleEntry, index: int, view: PoolView,
               config: RunConfig) -> RulePlan:
    """Select, constrain, group and name one rule's associations."""
    rule, plugin = entry.rule, entry.plugin
    with _blame(entry):
        _check_columns(entry, view.table)
        matching = [(found.item, found.plugin) for found in pm.match_constraints(rule, config)]
        own = [(constraint, plugin) for constraint in rule.constraints]
        selected = _select([(constraint, plugin) for constraint in rule.select], view)
        rows, vetoes = _constrain(entry, view, selected, own + matching)
        groups = _group(entry, view, rows, config, matching)
        if isinstance(rule.product_name, str) and not hooks.names:
            template = lane.Template(rule.product_name, rule.group_by)
            names = template.names(groups.keys, len(groups), config.data_release_id)
        else:
            names = pa.array(pm.product_names(rule, _group_objects(rule, view, groups), config), pa.string())
            _check_names_follow_keys(pm, entry, view, groups, names, config)
        rule_plan = RulePlan(entry, index, view, groups, names, vetoes)
    _check_one_program(entry, view, groups)
    for bad in lane.unsafe_names(names)[:1]:
        check_name(names[bad].as_py(), "product name", rule.name, plugin.label)
    return rule_plan


def _group_objects(rule: Rule, view: PoolView, groups: lane.Groups, indices: Iterable[int] | None = None) -> list[Group]:
    """:class:`Group` records of the groups ``indices`` (all by default)."""
    bounds = groups.offsets.tolist()
    companions = [(rows.tolist(), offsets.tolist()) for rows, offsets in groups.companions]
    rows = groups.rows.tolist()
    keys = {name: lane.as_list(values) for name, values in groups.keys.items()}
    made = []
    for g in range(len(groups)) if indices is None else indices:
        key = {name: values[g] for name, values in keys.items()}
        joined = tuple(tuple(r[o[g]:o[g + 1]]) for r, o in companions)
        made.append(Group(rule, key, tuple(rows[bounds[g]:bounds[g + 1]]), view, joined))
    return made


def _check_names_follow_keys(pm: PluginManager, entry: RuleEntry, view: PoolView, groups: lane.Groups,
                             names: pa.Array, config: RunConfig) -> None:
    """The rule-pack contract an update relies on: a product name follows from the group's key,
    so a group's last row alone gets the group's name (checked on a few groups of each rule
    named by a function or a hook; a template names from the key alone)."""
    sample = np.flatnonzero(np.diff(groups.offsets) > 1)[:_NAME_CHECKS].tolist()
    if not sample:
        return
    whole = _group_objects(entry.rule, view, groups, sample)
    alone = pm.product_names(entry.rule, [evolve(group, rows=group.rows[-1:]) for group in whole], config)
    for group, name, single in zip(whole, names.take(pa.array(sample)).to_pylist(), alone):
        if name != single:
            raise RuleError(f"rule {entry.name!r} of plugin {entry.plugin.label} names the group {group.key}"
                            f" {name!r}, but {single!r} from its last row alone: a product name must follow from"
                            " the group's key")


def _check_one_program(entry: RuleEntry, view: PoolView, groups: lane.Groups) -> None:
    """The rule-pack contract: no association crosses a program (its rows and companions all of
    one program), so that a program's associations can be made from its rows alone."""
    if "program" not in view.table.colnames or not len(groups):
        return
    program, values = lane.column_codes(view, "program")
    if len(values) < 2:
        return
    parts = [(groups.rows, groups.offsets), *groups.companions]
    codes, starts = program[groups.rows], groups.offsets[:-1]
    mixed = np.minimum.reduceat(codes, starts) != np.maximum.reduceat(codes, starts)
    for rows, offsets in parts[1:]:  # a companion of another program than its group's rows
        owner = np.repeat(np.arange(len(groups)), np.diff(offsets))
        mixed[owner[program[rows] != codes[starts][owner]]] = True
    if mixed.any():
        g = int(np.flatnonzero(mixed)[0])
        rows = np.concatenate([rows[offsets[g]:offsets[g + 1]] for rows, offsets in parts])
        values = lane.as_list(values)
        found = sorted({values[c] for c in program[rows].tolist()})
        key = {name: lane.as_list(column)[g] for name, column in groups.keys.items()}
        raise RuleError(f"rule {entry.name!r} of plugin {entry.plugin.label} makes an association across programs"
                        f" {', '.join(map(str, found))} (key {key}): associations never cross a program")


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
    vetoes = []
    for number, (constraint, plugin) in enumerate(added):
        if not len(rows):
            break
        passed = _test(constraint, plugin, view)[rows]
        reason = constraint.reason or constraint.name
        vetoed = rows[~passed]
        if len(vetoed):
            filenames = lane.arrow_column(view, "filename").take(pa.array(vetoed)).to_pylist()
            vetoes += [(number, i, Veto(entry.name, name, reason, plugin.label))
                       for i, name in zip(vetoed.tolist(), filenames)]
        rows = rows[passed]
    return rows, vetoes


def _group(
    entry: RuleEntry, view: PoolView, rows: np.ndarray, config: RunConfig, matching: Sequence[tuple[Constraint, Any]] = ()
) -> lane.Groups:
    """The selected rows grouped by their keys, as columns: one group per distinct key.

    A group's rows are sorted by file name, so nothing depends on row order.
    Companion rows must pass the ``matching`` constraints other plugins add
    (each paired with its plugin).
    """
    rule = entry.rule
    if rule.keys is not None:
        rows, codes, keys = _custom_keys(rule, view, rows, config)
    else:
        codes, keys = lane.key_codes(view, rule.group_by, rows)
    groups = lane.group_rows(rows, codes, dict(zip(rule.group_by, keys)), lane.filename_rank(view))
    for companion in rule.companions:
        select = [(constraint, entry.plugin) for constraint in companion.select] + list(matching)
        groups.companions.append(lane.join(view, groups, companion.on, _select(select, view)))
    return groups


def _custom_keys(rule: Rule, view: PoolView, rows: np.ndarray, config: RunConfig):
    """Rows, codes and each column's value per code, from a rule's key function (a row may
    yield several keys)."""
    index: dict[tuple, int] = {}
    taken, codes = [], []
    for i, key in rule.keys(view.table, rows, config):
        taken.append(i)
        codes.append(index.setdefault(tuple(key), len(index)))
    keys = list(index)
    per_column = [[key[k] for key in keys] for k in range(len(rule.group_by))]
    return np.asarray(taken, dtype=np.int64), np.asarray(codes, dtype=np.int64), per_column


def _stamp(association: Association, provenance: Provenance, plugin: str) -> Association:
    """Set provenance and degraded status; check the product name is safe."""
    for product in association.products:
        check_name(product.name, "product name", provenance.rule, plugin)
    return evolve(
        association,
        provenance=provenance,
        degraded_status=degraded_status(association.members),
    )
