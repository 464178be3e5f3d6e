"""Running romanasn on a Dask cluster (``--engine dask``): an optional extra, ``romanasn[dask]``.

``generate``: the pool is cut into partitions of whole programs (no
association spans programs), and each partition is planned on a worker. The
client gathers every association's product name and rule, numbers them over
the whole run exactly as the local engine does (``a3001`` up in
product-name order, or the ids a manifest keeps), and sends each partition
its ids; the workers then build, validate and encode their associations and
the client writes the files. The output is byte for byte the local
engine's.

``make-pool``: :func:`read_rows` reads the headers of exposure files on the
workers, a block of files per task (with the task ``makepool`` gives it: this
module imports neither ``makepool`` nor ``output``, which import it), and gives
back the rows in the order of the files; the pool is byte for byte the local
engine's.

For ``generate`` the workers need romanasn and the same packs (same
versions) installed; a worker whose packs differ stops the run with an
error naming them. For ``make-pool`` they need romanasn and to see the
exposure files at the same absolute paths. Dask is imported only here, and
only when a cluster is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from romanasn.encoder import Encoder, extension
from romanasn.engine import FileBlock, Plan, Result, _id_numbers, _runnable, file_blocks, select_rules
from romanasn.errors import PluginError, RomanasnError, RuleError, UsageError
from romanasn.plugins.manager import KERNEL, PluginManager, get_plugin_manager
from romanasn.plugins.types import RunConfig

log = logging.getLogger("romanasn.cluster")

__all__ = ["DaskRun", "connect", "manager_spec", "partitions", "read_rows"]


# -- the cluster ----------------------------------------------------------------------------------


def _distributed():
    """``dask.distributed``, or a one-line error naming the ``romanasn[dask]`` extra."""
    try:
        import dask.distributed as distributed
    except ImportError as exc:
        raise UsageError(f"--engine dask needs Dask, which cannot be imported ({exc}):"
                         " pip install 'romanasn[dask]'") from exc
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None = None, client: Any = None) -> Iterator[Any]:
    """A ``dask.distributed`` client: ``client`` itself, one of the scheduler at ``scheduler``,
    or one of a new local cluster (a process per core), closed afterwards.

    A scheduler that cannot be reached within Dask's connect timeout
    (``distributed.comm.timeouts.connect``, 30 s unless configured) is a
    :class:`~romanasn.errors.RomanasnError` naming its address.
    """
    if client is not None:
        yield client
        return
    distributed = _distributed()
    if scheduler:
        try:
            made = distributed.Client(scheduler)
        except (OSError, ValueError) as exc:  # timed out, refused, or not an address
            raise RomanasnError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        with made:
            yield made
        return
    workers = max(1, min(os.cpu_count() or 1, 8))
    with warnings.catch_warnings():  # its scheduler's HTTP server moving off a busy port 8787: not news
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as made:
        yield made


def partitions(programs: np.ndarray, count: int) -> list[np.ndarray]:
    """Row indices of up to ``count`` partitions of whole programs, about equal in rows.

    Each partition's rows keep their order in the pool.
    """
    values, inverse, sizes = np.unique(np.asarray(programs), return_inverse=True, return_counts=True)
    count = max(1, min(count, len(values)))
    loads = np.zeros(count, dtype=np.int64)
    owner = np.empty(len(values), dtype=np.int64)
    for program in np.argsort(-sizes, kind="stable"):  # largest first, to the lightest partition
        part = int(np.argmin(loads))
        owner[program] = part
        loads[part] += sizes[program]
    row_part = owner[inverse]
    return [np.flatnonzero(row_part == part) for part in range(count) if loads[part]]


# -- the packs on the workers ------------------------------------------------------------------------


def manager_spec(pm: PluginManager) -> tuple[list[str], list[tuple[Any, str]], dict[str, str]]:
    """How to rebuild ``pm`` on a worker: packs by entry point, packs registered by hand
    (sent to the worker), and every active pack's version."""
    entry_points, objects, versions = [], [], {}
    for info in pm.plugin_infos():
        if info.name == KERNEL or info.status != "active":
            continue
        versions[info.name] = info.version
        if info.entry_point:
            entry_points.append(info.name)
        else:
            objects.append((pm.get_plugin(info.name), info.name))
    return entry_points, objects, versions


_MANAGERS: dict[Any, PluginManager] = {}


def _manager(spec) -> PluginManager:
    entry_points, objects, versions = spec
    key = (tuple(entry_points), tuple(id(o) for o, _ in objects), tuple(sorted(versions.items())))
    pm = _MANAGERS.get(key)
    if pm is None:
        pm = get_plugin_manager(autoload=bool(entry_points), allow=entry_points, plugins=objects)
        pm.check()
        found = {i.name: i.version for i in pm.plugin_infos() if i.name != KERNEL and i.status == "active"}
        if found != versions:
            raise PluginError(f"a Dask worker has other packs ({_packs(found)}) than the client ({_packs(versions)})")
        _MANAGERS[key] = pm
    return pm


def _packs(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in sorted(versions.items())) or "none"


# -- the tasks -------------------------------------------------------------------------------------

_PLANS: dict[str, Plan] = {}


def _plan(key: str, spec, table, row_ids, config, rules, skip_rules) -> Plan:
    plan = _PLANS.pop(key, None)
    if plan is None:
        pm = _manager(spec)
        plan = Plan(table, pm, config, select_rules(pm.rules(), rules, skip_rules), row_ids=row_ids)
    return plan


def _survey(key: str, spec, table, row_ids, config, rules, skip_rules) -> dict:
    """Task 1: plan a partition; its associations' keys, vetoes, orphans and counts."""
    plan = _plan(key, spec, table, row_ids, config, rules, skip_rules)
    _PLANS[key] = plan  # for task 2, when it runs on the same worker
    return {
        "keys": [(name, rule) for name, rule, _, _ in plan.keys()],
        "vetoes": plan.veto_list(),
        "orphans": plan.orphan_rows(),
        "counts": plan.counts(),
        # the file stems of a plan with object-lane rules, in its own (unsorted) key order
        "stems": plan.key_stems() if plan.hooks.objects else None,
    }


def _encode(key: str, spec, table, row_ids, config, rules, skip_rules, ordered, numbers, format, prefix) -> list:
    """Task 2: number a partition's associations, build, check and encode them."""
    plan = _plan(key, spec, table, row_ids, config, rules, skip_rules)
    plan.number(ordered=ordered, numbers=numbers)
    encoder = Encoder(format, prefix)
    ext = extension(format)
    made = []
    for number, association, stem in plan.stream(release=True):
        data = encoder.encode(association, stem + ext)
        made.append((number, association.asn_rule, association.product_name, stem, data, association.program))
    return made


# -- a run ---------------------------------------------------------------------------------------------


class _Sized(Sequence):
    """Stands for the associations of a run on a cluster: their number (they live in the files)."""

    from_files = True

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        raise IndexError("the associations of a Dask run are in its files")


class DaskRun:
    """Plans and encodes a run on a Dask cluster; the source :func:`romanasn.output.generate_to` writes.

    :param partitions: how many partitions (default: twice the workers).
    :param client: a ``dask.distributed.Client`` to use instead of ``scheduler``.
    """

    def __init__(self, pool: Any, *, plugin_manager: PluginManager, config: RunConfig,
                 rules: Iterable[str] | None = None, skip_rules: Iterable[str] = (),
                 scheduler: str | None = None, format: str = "json", member_prefix: str | None = None,
                 existing_ids: Mapping[tuple[str, str], str] | None = None, partitions: int | None = None,
                 client: Any = None) -> None:
        pm = plugin_manager
        pm.check()
        if any(impl.plugin_name != KERNEL for impl in pm.hook.romanasn_finalize.get_hookimpls()):
            raise UsageError("--engine dask cannot run packs that implement romanasn_finalize (it needs every "
                             "association at once): use --engine local")
        rules = list(rules) if rules is not None else None
        skip_rules = list(skip_rules)
        entries = select_rules(pm.rules(), rules, skip_rules)
        self.rules, self.skipped = _runnable(entries, config)
        self.pool = pool
        self.pool_rows = len(pool)
        self.format, self.prefix = format, member_prefix
        self._stack = contextlib.ExitStack()
        self.client = self._stack.enter_context(connect(scheduler, client))
        try:
            self._survey(pm, config, rules, skip_rules, existing_ids, partitions)
        except BaseException:
            self._stack.close()
            raise

    def _survey(self, pm, config, rules, skip_rules, existing_ids, count) -> None:
        client = self.client
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        parts = partitions(self.pool["program"], count or 2 * workers) if len(self.pool) else [np.arange(0)]
        spec = manager_spec(pm)
        tables = client.scatter([self.pool[rows] for rows in parts])
        token = os.urandom(8).hex()
        self.args = [(f"{token}-{k}", spec, table, rows, config, rules, skip_rules)
                     for k, (table, rows) in enumerate(zip(tables, parts))]
        surveys = client.gather([client.submit(_survey, *args, key=f"romanasn-survey-{args[0]}", pure=False)
                                 for args in self.args])
        keys = [(name, rule, part, position) for part, survey in enumerate(surveys)
                for position, (name, rule) in enumerate(survey["keys"])]
        text = [f"{name}\0{rule}" for name, rule, _, _ in keys]
        order = sorted(range(len(keys)), key=text.__getitem__)
        numbers = _id_numbers([keys[k] for k in order], existing_ids)
        self.ordered = [[] for _ in parts]
        self.numbers = [[] for _ in parts]
        for k, number in zip(order, numbers):
            _, _, part, position = keys[k]
            self.ordered[part].append(position)
            self.numbers[part].append(number)
        if any(s["stems"] is not None for s in surveys):
            stems = [surveys[keys[k][2]]["stems"][keys[k][3]] for k in order]
        else:
            stems = [keys[k][0] + "_asn" for k in order]
        self._check_stems(stems, [keys[k] for k in order])
        self.file_stem_list = stems
        self.total = len(keys)
        self.vetoes = [veto for *_, veto in sorted((v for s in surveys for v in s["vetoes"]),
                                                     key=lambda v: v[:3])]
        orphan_rows = np.sort(np.concatenate([np.asarray(s["orphans"], dtype=np.int64) for s in surveys]))
        filenames = self.pool["filename"]
        self.orphans = tuple(str(filenames[i]) for i in orphan_rows.tolist())
        counts = {entry.name: 0 for entry in self.rules}
        for survey in surveys:
            for name, count in survey["counts"].items():
                counts[name] = counts.get(name, 0) + count
        self.counts = counts

    @staticmethod
    def _check_stems(stems: list[str], keys: list[tuple]) -> None:
        seen: dict[str, str] = {}
        for stem, (_, rule, _, _) in zip(stems, keys):
            if stem in seen:
                raise RuleError(f"two associations would be written to {stem!r}: rule {seen[stem]!r} and rule {rule!r}")
            seen[stem] = rule

    def stems(self) -> list[str]:
        """Every file stem, in id order."""
        return list(self.file_stem_list)

    def blocks(self) -> Iterator[FileBlock]:
        """The association files, in blocks of one rule's (:func:`romanasn.engine.file_blocks`)."""
        return file_blocks(self.items())

    def items(self) -> Iterator[tuple[int, str, str, str, bytes, str]]:
        """``(id number, rule, product name, file stem, bytes)`` of each association, as partitions finish."""
        distributed = _distributed()
        client = self.client
        try:
            futures = [client.submit(_encode, *args, ordered, numbers, self.format, self.prefix,
                                     key=f"romanasn-encode-{args[0]}", pure=False)
                       for args, ordered, numbers in zip(self.args, self.ordered, self.numbers)]
            for future in distributed.as_completed(futures):
                made = future.result()
                future.release()
                yield from made
        finally:
            self._stack.close()

    def result(self) -> Result:
        """The run's :class:`Result` (its associations are in the files written)."""
        return Result(associations=_Sized(self.total), file_stems=self.file_stem_list, rules=tuple(self.rules),
                      skipped=tuple(self.skipped), vetoes=tuple(self.vetoes), orphans=self.orphans,
                      counts=self.counts, pool_rows=self.pool_rows)


# -- make-pool -----------------------------------------------------------------------------------------


def read_rows(paths: Sequence[str | os.PathLike], columns: Sequence[Any], task: Callable[..., list], *,
              scheduler: str | None = None, client: Any = None,
              block: int | None = None) -> Iterator[tuple[Any, dict | None, str | None]]:
    """``(path, row, reason)`` for every exposure file, in order, its header read on a Dask worker.

    ``task(paths, columns)`` runs on a worker and gives ``(values, None)``
    or ``(None, reason)`` per file (``makepool._read_block``); ``row`` is
    ``dict(zip(column names, values))`` (None for a bad file, ``reason``
    saying why). The workers are sent absolute
    paths: they must see the files there. ``block`` files make a task
    (default: about four tasks per worker thread, at most 256 files each).
    """
    paths = list(paths)
    columns = list(columns)
    names = [column.name for column in columns]
    with connect(scheduler, client) as made:
        if block is None:
            threads = sum(made.nthreads().values()) or 1
            block = max(1, min(256, -(-len(paths) // (4 * threads))))
        blocks = [paths[k:k + block] for k in range(0, len(paths), block)]
        futures = [made.submit(task, [os.path.abspath(p) for p in chunk], columns, pure=False)
                   for chunk in blocks]
        try:
            for chunk, future in zip(blocks, futures):
                try:
                    done = future.result()
                except Exception as exc:  # the task failed, not a file: a worker without romanasn, lost...
                    where = f" at {scheduler}" if scheduler else ""
                    raise RomanasnError(f"reading headers on the Dask cluster{where} failed: "
                                        f"{type(exc).__name__}: {exc}") from exc
                future.release()
                for path, (values, reason) in zip(chunk, done):
                    yield path, None if values is None else dict(zip(names, values)), reason
        finally:
            for future in futures:
                future.release()
