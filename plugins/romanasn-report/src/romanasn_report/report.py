"""A run you can look at: ``romanasn report DIR``, a static web page of a folder of associations.

The page (``report.html`` by default, in DIR) opens from disk in a browser,
with no server and no network: its script and style are inlined from
``assets/``, and its data sit beside it in ``<page>_data/`` as small
JavaScript files (``<script>`` tags load them, so ``file://`` works), each
loaded only when the page needs it:

- ``rows-N.js``: the association table in chunks (product, rule, type,
  program, members, file, and where its JSON is), ordered by rule then file;
- ``json-N.js``: the association files themselves, for the detail view, in
  the order they were read (or, with ``generate --report``, written: a
  :class:`Collector` gathers the page's data as the run hands each file to
  the folder, so that no file is read back);
- ``members.js``: every member file name, sorted, a line each of one text
  (the member filter searches it whole), and ``names-N.js``: the associations
  holding each name, in chunks of names;
- ``sky.js``: with ``--pool``, the footprint of each Level 3 association (the
  hull of its members' ``s_region``) and the outlines packs add through the
  ``romanasn_report_sky`` hook (the skycells, with ``--skymap``), as
  :mod:`romanasn_report.sky` draws them;
- ``verdicts-N.js``: with ``--pool``, ``romanasn explain``'s verdicts on
  every pool row, in pool order, and ``explain-N.js``: the names that find
  them (pool file names, and members' names of the same exposures), sorted;
- ``diff.js``: with ``--against OLD_DIR``, what ``romanasn diff OLD_DIR DIR``
  finds: added, removed and changed associations.

The summary (inputs, packs, counts, vetoes, orphans, failed rules) comes from
the run report ``romanasn-run.json`` and is inlined in the page. The page
and its data folder replace the old ones only when both are complete.

A million files make the data by columns, not by file: Arrow's JSON reader
reads the fields the table needs from each chunk of files at once (on a thread
of its own while ``generate --report`` runs), the table and the member index
are Arrow arrays, member names are joined to pool rows and the ``s_region``
strings parsed by Arrow's compute functions, and each footprint's hull is taken on the
few points no polygon of its extreme points holds.
"""

from __future__ import annotations

import contextlib
import html
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from romanasn import asnfile, diff, output
from romanasn._version import __version__
from romanasn.asnfile import RUN_REPORT
from romanasn.engine import paused_gc
from romanasn.errors import AsnError, UsageError
from romanasn.explain import iter_explanations
from romanasn.naming import strip_level
from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig

from romanasn_report.command import DEFAULT_PAGE
from romanasn_report.sky import sky_view

log = logging.getLogger("romanasn.report")

ASSETS = Path(__file__).with_name("assets")

#: Associations per chunk of the table, of the association files, and member names per chunk.
ROWS_CHUNK, JSON_CHUNK, NAMES_CHUNK = 20_000, 2_000, 50_000
#: Processes reading the association files (at most one per core).
READERS = 2
#: Explained pool rows per data file of verdicts.
EXPLAIN_CHUNK = 200
#: Orphans listed in the page (all are counted; romanasn-run.json lists every one).
ORPHANS_SHOWN = 5_000


# -- reading the run -------------------------------------------------------------------


def read_run_report(folder: Path) -> dict[str, Any]:
    """The run report of ``folder`` (``{}`` when there is none)."""
    path = folder / RUN_REPORT
    if not path.exists():
        return {}
    try:
        report = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AsnError(f"{path}: not a run report: {exc}") from None
    if not isinstance(report, dict):
        raise AsnError(f"{path}: not a run report: a JSON object was expected")
    return report


def association_files(folder: Path, report: Mapping[str, Any]) -> list[str]:
    """The association files of ``folder``, by rule then name.

    They are the files its run report's manifest lists (the folder is not listed: a run's million
    files are known); without a usable manifest (a folder another tool wrote), those ``romanasn
    diff`` finds in the folder, by name.
    """
    rule_of = _manifest(folder, report)
    if rule_of is None:
        log.warning("%s: no usable manifest in %s (not written by romanasn generate?): listing the folder",
                    folder, RUN_REPORT)
        return sorted(diff.association_files(folder))
    names, rules = list(rule_of), list(rule_of.values())
    order = pc.sort_indices(pa.table({"rule": pa.array(rules, pa.string()), "name": pa.array(names, pa.string())}),
                            sort_keys=[("rule", "ascending"), ("name", "ascending")])
    return [names[i] for i in order.to_numpy()]


def _manifest(folder: Path, report: Mapping[str, Any]) -> dict[str, str] | None:
    """The rule of each file the manifest lists, by file name; None when there is no manifest."""
    manifest = report.get("manifest")
    if isinstance(manifest, dict) and manifest.get("version") == output.SHARDED_VERSION:
        try:  # one file of entries per program
            return {name: entry.rule for name, entry in output.Manifest.load(folder).files.items()}
        except AsnError:
            return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return None
    return {name: str(row[1]) if isinstance(row, list) and len(row) > 1 else "" for name, row in files.items()}


_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
#: How association files are opened: without updating their access time, until a file that is not
#: one's own refuses that (``O_NOATIME``); from then on, in this process, as usual.
_flags = _READ | getattr(os, "O_NOATIME", 0)


def load_association(folder: str, name: str, folder_fd: int) -> bytes:
    """An association file's JSON text (a YAML or ASDF one's converted).

    ``folder_fd`` is the folder opened (``os.open``): a file is opened from it, read and closed
    with three system calls (one read unless it is large), the cost that counts for a million files;
    where the system allows, without updating its access time (a write of each file's inode).
    """
    if not name.lower().endswith(".json"):
        return orjson.dumps(dict(asnfile.load_asn_dict(os.path.join(folder, name))), default=str)
    global _flags
    try:
        fd = os.open(name, _flags, dir_fd=folder_fd)
    except PermissionError:
        if _flags == _READ:
            raise
        _flags = _READ
        fd = os.open(name, _READ, dir_fd=folder_fd)
    try:
        pieces = [os.read(fd, 1 << 16)]
        while len(pieces[-1]) == 1 << 16:  # a large file: read to the end
            pieces.append(os.read(fd, 1 << 16))
    finally:
        os.close(fd)
    return b"".join(pieces)


#: The fields of an association file the table shows (those of no interest are not converted).
_ASN = pa.struct([("asn_rule", pa.string()), ("asn_type", pa.string()), ("program", pa.string()),
                  ("products", pa.list_(pa.struct([
                      ("name", pa.string()), ("members", pa.list_(pa.struct([("expname", pa.string())])))])))])
_JSON_OPTIONS = pa_json.ParseOptions(explicit_schema=pa.schema(list(_ASN)), unexpected_field_behavior="ignore")
#: The table's columns: one row per association file.
_SCHEMA = pa.schema([("file", pa.string()), ("product", pa.string()), ("rule", pa.string()), ("type", pa.string()),
                     ("program", pa.string()), ("members", pa.list_(pa.large_string()))])


def _columns(folder: str, names: Sequence[str], texts: Sequence[bytes | memoryview]) -> pa.Table:
    """The table's columns of association files (``names``, their JSON ``texts``, in order): file, product
    (the products' names joined by `` + ``), rule, type, program, and the members' names.

    Arrow's JSON reader reads the fields the table needs, every file in one call (releasing the GIL);
    files it cannot take (not JSON, a value of another type, a part missing) are parsed one by one, and
    :func:`_plain` names a file that is no association file.
    """
    # one file a line: valid JSON holds raw newlines only between tokens (as spaces), and no \x1e
    lines = b"\x1e".join(texts).replace(b"\n", b" ").replace(b"\x1e", b"\n")
    try:
        read = pa_json.read_json(pa.BufferReader(lines), read_options=pa_json.ReadOptions(
            use_threads=False, block_size=min(len(lines) + 1, 2**31 - 1)), parse_options=_JSON_OPTIONS)
        if read.num_rows != len(names):
            raise _Missing
        columns = _flat(*(read[field.name].combine_chunks() for field in _ASN))
    except (pa.ArrowInvalid, pa.ArrowTypeError, _Missing):
        plain = pa.array([_plain(folder, name, text) for name, text in zip(names, texts)], type=_ASN)
        columns = _flat(*plain.flatten())
    return pa.Table.from_arrays([pa.array(names, pa.string()), *columns], schema=_SCHEMA)


class _Missing(Exception):
    """A part of an association file the table needs is null."""


def _flat(rule: pa.Array, kind: pa.Array, program: pa.Array, product_lists: pa.ListArray) -> list[pa.Array]:
    """Product, rule, type, program and members' names of each association (the fields of :data:`_ASN`)."""
    products = product_lists.flatten()
    product_names, member_lists = products.flatten()
    members = member_lists.flatten()
    (expnames,) = members.flatten()
    if any(a.null_count for a in (product_lists, products, member_lists, members, expnames)):
        raise _Missing
    joined = pc.binary_join(pa.ListArray.from_arrays(product_lists.offsets, pc.fill_null(product_names, "")), " + ")
    starts = member_lists.offsets.to_numpy()[product_lists.offsets.to_numpy()]
    return [joined, *(pc.fill_null(a, "") for a in (rule, kind, program)),
            pa.ListArray.from_arrays(pa.array(starts, pa.int32()), expnames.cast(pa.large_string()))]


def _plain(folder: str, name: str, text: bytes) -> dict[str, Any]:
    """What the table shows of an association file's JSON ``text``, as text; an :class:`AsnError` names a
    file that is no JSON, or has no products with members."""
    try:
        data = orjson.loads(text)
        products = [{"name": _text(p.get("name")), "members": [{"expname": str(m["expname"])} for m in p["members"]]}
                    for p in data["products"]]
        return {"asn_rule": _text(data.get("asn_rule")), "asn_type": _text(data.get("asn_type")),
                "program": _text(data.get("program")), "products": products}
    except orjson.JSONDecodeError as exc:
        raise AsnError(f"{os.path.join(folder, name)}: not an association file: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise AsnError(f"{os.path.join(folder, name)}: not an association file: no products with members "
                       f"({exc!r})") from None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _read_part(folder: str, names: Sequence[str], data_file: str, k: int) -> pa.Table:
    """Read a part of the files: write their JSON as ``data_file``, return their table columns."""
    folder_fd = os.open(folder, _READ)
    try:
        texts = [load_association(folder, name, folder_fd) for name in names]
    finally:
        os.close(folder_fd)
    return _write_part(folder, names, texts, data_file, k)


def _write_part(folder: str, names: Sequence[str], texts: Sequence[bytes], data_file: str | Path, k: int) -> pa.Table:
    """Write the JSON ``texts`` of files as the data file ``json-k``; their table columns."""
    columns = _columns(folder, names, texts)  # first: a file that is no association file is not written out
    with open(data_file, "wb") as out:
        out.writelines((b"RomanasnReport.json(%d,[" % k, b",".join(texts), b"]);\n"))
    return columns


class Collector:
    """A report's table gathered as ``generate --report`` writes the run's files, so that the report
    reads no association file back: a chunk of files at a time, their bytes are written into the
    report's data and read into its table on a thread of its own (which leaves the GIL to the run
    while it writes and reads). Call it with each file's name and bytes; :meth:`close` when done.

    Without ``gather`` (a run of YAML or ASDF files, or on Dask) it takes nothing: the page reads
    the folder once the run is written."""

    #: Chunks handed to the thread and not done yet, at most (the run waits for the oldest beyond).
    PENDING = 4

    def __init__(self, folder: str | os.PathLike, gather: bool = True) -> None:
        self.folder = Path(folder)
        self.gather = gather
        self.existed = self.folder.exists()
        self.fresh = not self.existed or _empty(self.folder)  # then the run's files are all it holds
        self.parts: list[Future] = []
        self.files: list[str] = []
        self.texts: list[bytes] = []
        self.staging: Path | None = None
        self.held: list[str] | None = None  # the folder's files, when the report reads them (:func:`complete`)
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="romanasn-report")

    def start(self) -> Path:
        """The staging folder of the page and its data (made on the first call)."""
        if self.staging is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{Path(DEFAULT_PAGE).stem}-", dir=self.folder))
            (self.staging / f"{Path(DEFAULT_PAGE).stem}_data").mkdir()
        return self.staging

    def __call__(self, name: str, data: bytes) -> None:
        if not self.gather:
            return
        if self.staging is None:
            self.start()
        self.files.append(name)
        self.texts.append(data)
        if len(self.texts) == JSON_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Hand the files gathered since the last chunk to the thread."""
        if self.texts:
            k = len(self.parts)
            if k >= self.PENDING:
                self.parts[k - self.PENDING].result()
            data_file = self.staging / f"{Path(DEFAULT_PAGE).stem}_data" / f"json-{k:04d}.js"
            self.parts.append(self.reader.submit(_write_part, str(self.folder), self.files[-len(self.texts):],
                                                 self.texts, data_file, k))
            self.texts = []

    @property
    def table(self) -> _Table:
        """The associations gathered (every one: the files gathered since the last chunk are handed over)."""
        self.flush()
        return _Table([part.result() for part in self.parts])

    def close(self) -> None:
        """Stop the thread; remove what was gathered and not used."""
        self.reader.shutdown(cancel_futures=True)
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def discard(self) -> None:
        """:meth:`close`, after a failed run: and remove the folder when the run made it and it is empty."""
        self.close()
        if not self.existed:
            with contextlib.suppress(OSError):
                self.folder.rmdir()


def _empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def run_page(collected: Collector, outcome: Any, pool: Any, config: RunConfig, inputs: Sequence[str],
             pm: PluginManager) -> Path:
    """``generate --report``'s page of the run just written (``outcome``, :class:`romanasn.output.Outcome`)
    into ``collected.folder``, from the files ``collected`` gathered; explain's verdicts are left to
    ``romanasn report --pool``."""
    folder = collected.folder
    collected = complete(collected, outcome.files)  # then the run's report is this run's alone, too
    run_report = output.run_report(outcome.result, pm, config, inputs) if collected else None
    return write_report(folder, plugin_manager=pm, pool=pool, options=config.options, collected=collected,
                        explain=False, run_report=run_report)


def complete(collected: Collector, files: Sequence[str] = ()) -> Collector | None:
    """``collected``: when it does not hold every association file of its folder once each, closed and
    with the folder's files ``held``, which the report then reads (a run that kept older files or left a
    failed rule's out: the manifest may not list them all); None, closed, when it gathered nothing.

    ``files`` are the files the run made: when the folder held nothing before the run, they are all it
    holds (a folder of a million files is not listed again); else the folder is listed.
    """
    if not collected.gather:
        collected.close()
        return None
    gathered = collected.files
    held = files if collected.fresh else diff.association_files(collected.folder)
    if len(set(gathered)) != len(gathered) or set(gathered) != set(held):
        collected.close()
        collected.held = list(held)
    return collected


# -- the association table -------------------------------------------------------------------


class _Table:
    """The associations of the folder as Arrow columns (:data:`_SCHEMA`), in the order they were read."""

    def __init__(self, parts: Sequence[pa.Table]) -> None:
        """The table of ``parts`` read one after the other."""
        self.columns = (pa.concat_tables(parts) if parts else _SCHEMA.empty_table()).combine_chunks()

    def __len__(self) -> int:
        return self.columns.num_rows

    def column(self, name: str) -> pa.Array:
        """A column (``file``, ``product``, ``rule``, ``type``, ``program``, ``members``) as one array."""
        column = self.columns[name]
        return column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)

    def keys(self) -> list[str]:
        """The key ``romanasn diff`` gives each association: its product name, with the rule when shared."""
        products, rules = self.column("product").to_pylist(), self.column("rule").to_pylist()
        counts = Counter(products)
        return [name if counts[name] == 1 else f"{name} [{rule}]" for name, rule in zip(products, rules)]

    def order(self) -> np.ndarray:
        """The rows by rule, then file name: the order of the page's table."""
        return pc.sort_indices(self.columns.select(["rule", "file"]),
                               sort_keys=[("rule", "ascending"), ("file", "ascending")]).to_numpy()

    def member_index(self, rank: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Every member name, sorted; where each one's associations start in the rows; the rows
        (the associations holding each name, ascending, one after the other), each row ``rank[row]``."""
        members = self.column("members")
        names = pc.dictionary_encode(pc.list_flatten(members))
        order = pc.sort_indices(names.dictionary).to_numpy()
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        rows = len(self) or 1
        pairs = np.sort(position[names.indices.to_numpy()] * rows + rank[pc.list_parent_indices(members).to_numpy()])
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # a name twice in one association once
        starts = np.searchsorted(pairs // rows, np.arange(len(order) + 1))
        return names.dictionary.take(order), starts.astype(np.int64), pairs % rows


def _chunks(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def _interned(values: pa.Array) -> tuple[list[str], np.ndarray]:
    """The distinct values, sorted, and each value's position among them."""
    distinct = sorted(pc.unique(values).to_pylist())
    return distinct, pc.index_in(values, value_set=pa.array(distinct, pa.string())).to_numpy(zero_copy_only=False)


# -- explain and diff ------------------------------------------------------------------------------


def explanations(member_names: Iterable[str], pool: Any, pm: PluginManager, config: RunConfig,
                 writer: _Writer) -> dict[str, Any]:
    """Write ``romanasn explain``'s verdicts on every pool row, :data:`EXPLAIN_CHUNK` rows a file, in pool
    order, and the index of the names that find them (pool file names, and the member names of the
    same exposures), sorted, :data:`NAMES_CHUNK` names a file.

    :return: what the page needs to find a name's verdicts: rows, chunk size, each index file's first name.
    """
    filenames = [str(f) for f in np.asarray(pool["filename"]).tolist()]
    row_of = {f: i for i, f in enumerate(filenames)}
    stems = {strip_level(f): i for i, f in reversed(list(enumerate(filenames)))}
    for name in member_names:
        if name not in row_of and (i := stems.get(strip_level(name))) is not None:
            row_of[name] = i
    engine_log = logging.getLogger("romanasn")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)  # the rules run again: their warnings were the run's, and verdicts say them
    try:
        found = iter_explanations(pool, range(len(filenames)), plugin_manager=pm, config=config)
        for k, part in enumerate(_chunks(len(filenames), EXPLAIN_CHUNK)):
            writer.put("verdicts", k, _script("verdicts", k, [next(found).to_json() for _ in part]))
    finally:
        engine_log.setLevel(level)
    names = sorted(row_of)
    firsts = []
    for k, part in enumerate(_chunks(len(names), NAMES_CHUNK)):
        chunk = names[part.start:part.stop]
        writer.put("explain", k, _script("explain", k, [chunk, [row_of[n] for n in chunk]]))
        firsts.append(chunk[0])
    return {"rows": len(filenames), "pool_rows": len(filenames), "chunk": EXPLAIN_CHUNK, "names": firsts}


def differences(table: _Table, folder: Path, against: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Each row's change against ``against`` (0 none, 1 added, 2 changed), and what ``romanasn diff`` found
    (``changed``: by row)."""
    found = diff.diff_dirs(against, folder)
    row_of = {key: row for row, key in enumerate(table.keys())}
    status = np.zeros(len(table), dtype=np.int8)
    for summary in found.added:
        status[row_of[summary.product]] = 1
    changed = {}
    for change in found.changed:
        status[row_of[change.product]] = 2
        changed[row_of[change.product]] = change
    data = found.to_json()
    details = dict(zip(changed, data["changed"]))
    return status, {"against": str(against), "removed": data["removed"], "changed": details,
                    "counts": {"added": len(found.added), "removed": len(found.removed),
                               "changed": len(found.changed), "same": found.same}}


# -- the summary -----------------------------------------------------------------------------------


def summary(folder: Path, report: Mapping[str, Any], table: _Table) -> dict[str, Any]:
    """What the page shows first: the run, its packs, counts, what was left out and why."""
    rules = {r.get("name"): r for r in report.get("rules", []) if isinstance(r, dict)}
    counts = {name: _value_counts(table.column(name)) for name in ("rule", "type", "program")}
    vetoes: dict[tuple[str, str, str], list[str]] = {}
    for v in report.get("vetoes", []):
        vetoes.setdefault((v.get("rule"), v.get("reason"), v.get("plugin")), []).append(v.get("filename"))
    orphans = list(report.get("orphans", []))
    return {
        "folder": str(folder),
        "romanasn_version": __version__,
        "has_run_report": bool(report),
        "inputs": report.get("inputs", []),
        "pool_rows": report.get("pool_rows"),
        "options": report.get("options", {}),
        "data_release_id": report.get("data_release_id"),
        "plugins": report.get("plugins", []),
        "rules": [{"name": name, "count": count, **{k: rules.get(name, {}).get(k) for k in
                                                   ("plugin", "version", "asn_type", "level")}}
                  for name, count in sorted(counts["rule"].items())],
        "types": dict(sorted(counts["type"].items())),
        "programs": dict(sorted(counts["program"].items())),
        "associations": len(table),
        "vetoes": [{"rule": r, "reason": why, "plugin": p, "count": len(f), "files": f[:20]}
                   for (r, why, p), f in sorted(vetoes.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "vetoed": sum(len(f) for f in vetoes.values()),
        "orphans": orphans[:ORPHANS_SHOWN],
        "orphan_count": len(orphans),
        "skipped_rules": report.get("skipped_rules", []),
        "failed_rules": report.get("failed_rules", []),
    }


def _value_counts(values: pa.Array) -> dict[str, int]:
    """How many times each value occurs."""
    found = pc.value_counts(values)
    return dict(zip(found.field("values").to_pylist(), found.field("counts").to_pylist()))


# -- writing ----------------------------------------------------------------------------------------


def _script(call: str, *args: Any) -> bytes:
    """``RomanasnReport.<call>(args...);`` as the bytes of a data file."""
    return b"RomanasnReport." + call.encode() + b"(" + b",".join(
        a if isinstance(a, bytes) else orjson.dumps(a, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
        for a in args) + b");\n"


class _Writer:
    """The data files, written into a staging folder as the run is read."""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(exist_ok=True)
        self.files: dict[str, int] = {}

    def put(self, kind: str, index: int | None, payload: bytes) -> None:
        name = f"{kind}.js" if index is None else f"{kind}-{index:04d}.js"
        (self.data / name).write_bytes(payload)
        self.files[kind] = self.files.get(kind, 0) + 1


def write_report(
    folder: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    plugin_manager: PluginManager,
    pool: Any = None,
    options: Mapping[str, Any] | None = None,
    against: str | os.PathLike | None = None,
    collected: Collector | None = None,
    explain: bool = True,
    run_report: Mapping[str, Any] | None = None,
) -> Path:
    """Write the report page of ``folder`` (default ``folder/report.html``) and its data folder.

    :param pool: the pool table the run was made from (``read_pools``), for
        the sky view and (with ``explain``) the ``explain`` verdicts on every pool row.
    :param options: values of the options packs add (``--skymap``), over those
        the run report recorded.
    :param against: an older run's folder, compared as ``romanasn diff`` does.
    :param collected: every association file of ``folder``, gathered as they were written (then the
        page is ``folder/report.html`` and no file is read back); it is closed.
    :param run_report: what ``folder``'s run report says of the run, when the caller has it (as
        :func:`romanasn.output.run_report` gives it: a large run's report file is mostly its manifest).
    :return: the page's path.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AsnError(f"{folder}: not a folder of association files")
    page = Path(output) if output else folder / DEFAULT_PAGE
    if page.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {page}: the report is a web page: give a name ending in .html")
    if against is not None and Path(against).resolve() == folder.resolve():
        raise UsageError(f"--against {against}: that is the folder being reported")
    report = read_run_report(folder) if run_report is None else run_report
    config = RunConfig(data_release_id=str(report.get("data_release_id") or "p"),
                       version_id=report.get("version_id"),
                       options={**(report.get("options") or {}), **{k: v for k, v in (options or {}).items()
                                                                    if v not in (None, False)}})
    page.parent.mkdir(parents=True, exist_ok=True)
    staging = collected.start() if collected is not None else Path(
        tempfile.mkdtemp(prefix=f".{page.stem}-", dir=page.parent))
    try:
        writer = _Writer(staging / f"{page.stem}_data")
        with paused_gc():  # a run's millions of records are not scanned again and again
            if collected is not None and collected.held is None:
                table = collected.table
                writer.files["json"] = len(collected.parts)
            else:
                table = _read_table(folder, report, writer, collected and collected.held)
            meta = _write_data(folder, report, table, writer, plugin_manager, pool, config, against, explain)
        (staging / page.name).write_bytes(render_page(meta, f"{page.stem}_data"))
        _replace(staging, page)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if collected is not None:
            collected.close()
    return page


def _read_table(folder: Path, report: Mapping[str, Any], writer: _Writer,
                listed: Sequence[str] | None = None) -> _Table:
    """The table of ``folder``'s association files (``listed``, else :func:`association_files`), read on two
    processes; their JSON written in chunks. When a file the manifest lists is gone, the folder is listed."""
    names = sorted(listed) if listed is not None else association_files(folder, report)
    if not names and not report:
        raise AsnError(f"{folder}: no association files and no {RUN_REPORT}: nothing to report")
    parts = list(_chunks(len(names), JSON_CHUNK))
    jobs = [(str(folder), names[r.start:r.stop], str(writer.data / f"json-{k:04d}.js"), k) for k, r in enumerate(parts)]
    writer.files["json"] = len(parts)
    try:
        return _Table(list(_each_part(jobs)))
    except FileNotFoundError as exc:
        if listed is not None or _manifest(folder, report) is None:
            raise
        log.warning("%s: %s is in the manifest of %s but not in the folder: listing the folder", folder,
                    exc.filename, RUN_REPORT)
    for path in writer.data.glob("json-*.js"):
        path.unlink()
    return _read_table(folder, report, writer, diff.association_files(folder))


def _write_data(folder: Path, report: Mapping[str, Any], table: _Table, writer: _Writer, pm: PluginManager,
                pool: Any, config: RunConfig, against: str | os.PathLike | None, explain: bool) -> dict[str, Any]:
    """Write every data file but the association files' JSON; return the page's summary.

    ``table`` is in the order of the JSON chunks; the page's table is by rule, then file name.
    """
    levels = {r.get("name"): r.get("level") for r in report.get("rules", []) if isinstance(r, dict)}
    order = table.order()
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    member_names, starts, rows = table.member_index(rank)
    meta = summary(folder, report, table)
    status = np.zeros(len(table), dtype=np.int8)
    if against is not None:
        status, changes = differences(table, folder, Path(against))
        changes["changed"] = {str(rank[row]): entry for row, entry in changes["changed"].items()}
        writer.put("diff", None, _script("diff", changes))
        meta["diff"] = changes["counts"] | {"against": str(against)}
    if pool is not None:
        sky = sky_view(table, pool, levels, pm, config)
        for footprint in sky["footprints"]:
            footprint[0] = int(rank[footprint[0]])
        writer.put("sky", None, _script("sky", sky))
        if explain:
            meta["explained"] = explanations(member_names.to_pylist(), pool, pm, config, writer)
    meta["chunks"] = _write_rows(table, order, status, writer)
    meta["names"] = _write_names(member_names, starts, rows, writer)
    meta["json_chunk"] = JSON_CHUNK
    meta["files"] = writer.files
    return meta


def _each_part(jobs: list[tuple]) -> Iterator[tuple]:
    """``_read_part`` of each job, in order: on two processes when there are several parts and cores."""
    workers = min(READERS, os.cpu_count() or 1, len(jobs))
    if workers < 2:
        yield from (_read_part(*job) for job in jobs)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ProcessPoolExecutor(workers, mp_context=context) as readers:
        yield from readers.map(_read_part, *zip(*jobs))


def _write_rows(table: _Table, order: np.ndarray, status: np.ndarray, writer: _Writer) -> dict[str, Any]:
    """The table in ``order``, in chunks (``json``: where each row's file is among the JSON chunks);
    per chunk, how many rows of each rule, type and program it holds.

    With those counts a filter loads only the chunks it shows.
    """
    ids = {name: _interned(table.column(name)) for name in ("rule", "type", "program")}
    members = pc.list_value_length(table.column("members")).to_numpy(zero_copy_only=False).astype(np.int64)
    chunks = []
    for k, rows in enumerate(_chunks(len(table), ROWS_CHUNK)):
        at = order[rows.start:rows.stop]
        columns = {"product": table.column("product").take(at).to_pylist(),
                   **{name: codes[at] for name, (_, codes) in ids.items()}, "members": members[at],
                   "file": table.column("file").take(at).to_pylist(), "diff": status[at], "json": at}
        writer.put("rows", k, _script("rows", k, columns))
        chunks.append({"start": rows.start, "count": len(rows), **{
            f"{name}s": _counts(columns[name]) for name in ("rule", "type", "program")}})
    return {**{f"{name}s": values for name, (values, _) in ids.items()}, "rows": chunks, "size": ROWS_CHUNK}


def _counts(ids: np.ndarray) -> list[list[int]]:
    """``[id, how many]`` of each id in ``ids``."""
    values, counts = np.unique(ids, return_counts=True)
    return [[i, n] for i, n in zip(values.tolist(), counts.tolist())]


def _write_names(names: pa.Array, starts: np.ndarray, rows: np.ndarray, writer: _Writer) -> dict[str, int]:
    """Every member name, sorted, a line each of one text in a comment of a function (``members.js``: the page
    searches it whole; a browser reads a comment of 90 MB five times faster than a string; in a name, a newline
    is a space and ``*/`` is ``* /``); in chunks of :data:`NAMES_CHUNK` names, where each name's associations
    start (from 0) among the chunk's, and those associations (:meth:`_Table.member_index`)."""
    lines = pc.replace_substring(pc.replace_substring(names, "\n", " "), "*/", "* /")
    text = pc.binary_join(pa.ListArray.from_arrays([0, len(names)], lines), pa.scalar("\n", names.type))[0]
    writer.put("members", None, b"RomanasnReport.members(function () {/*\n%s\n*/});\n" % text.as_buffer())
    for k, part in enumerate(_chunks(len(names), NAMES_CHUNK)):
        begin, end = int(starts[part.start]), int(starts[part.stop])
        offsets = np.ascontiguousarray(starts[part.start:part.stop + 1] - begin)
        writer.put("names", k, _script("names", k, [offsets, np.ascontiguousarray(rows[begin:end])]))
    return {"count": len(names), "size": NAMES_CHUNK}


def render_page(meta: Mapping[str, Any], data_folder: str) -> bytes:
    """The page: the template with the style, the script and the summary inlined."""
    template = (ASSETS / "report.html").read_text("utf-8")
    summary_json = orjson.dumps({**meta, "data": data_folder}, default=str).decode().replace("</", "<\\/")
    title = f"romanasn report: {Path(str(meta['folder'])).name or meta['folder']}"
    filled = (template.replace("{{title}}", html.escape(title))
              .replace("{{style}}", (ASSETS / "report.css").read_text("utf-8"))
              .replace("{{script}}", (ASSETS / "report.js").read_text("utf-8"))
              .replace("{{summary}}", summary_json))
    return filled.encode("utf-8")


def _replace(staging: Path, page: Path) -> None:
    """Move the new page and data folder in place of the old ones (the old data folder goes last)."""
    data = page.with_name(f"{page.stem}_data")
    if data.exists():
        os.replace(data, staging / ".old")
    os.replace(staging / data.name, data)
    os.replace(staging / page.name, page)
