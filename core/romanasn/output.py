"""Writing a run's associations into an output folder, all or nothing.

Files are written flat into the folder (which may exist), never outside it,
never over an existing file unless asked. Every file is validated against
the association schema and written as soon as its association is finished,
so nothing holds every association of a large pool at once.

All or nothing, through :class:`romanasn.folder.Folder`: a run that fails
or is interrupted leaves the folder as it was, one that got past its commit
is finished, and observers of written files (``association_written``) run
inside the change, so one that raises takes the run back.

``romanasn-run.json`` reports the run and holds the *manifest*: for each
association file its ``asn_id``, rule, product name, size and digest.
``--update`` reads it to rewrite only the files whose content changed, keep
the ``asn_id`` of every association it knew, and list (or with ``prune``
remove) the associations the grown pool no longer makes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import uuid
from json.encoder import encode_basestring_ascii as _string
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from attrs import define, evolve, field

from romanasn import asnfile, encoder, lane, members
from romanasn._version import __version__
from romanasn.asnfile import RUN_REPORT
from romanasn.encoder import Encoder, encode_json, extension
from romanasn.engine import FileBlock, Plan, Result, file_blocks, paused_gc
from romanasn.engine import plan as make_plan
from romanasn.errors import AsnError, RomanasnError, UsageError
from romanasn.folder import Folder
from romanasn.inputs import open_regular
from romanasn.naming import program_id
from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig
from romanasn.progress import Progress
from romanasn.records import Association

log = logging.getLogger("romanasn.output")

MANIFEST_VERSION = 1
#: A manifest of a run from a database pool: one file per program, ``SHARD_PREFIX`` + program id.
SHARDED_VERSION = 2
SHARD_PREFIX = ".romanasn-manifest-"



def delta_name(program: str, number: int) -> str:
    """The file of a program's ``number``-th change to its manifest shard since the shard was
    written (entries added or changed, ``null`` for those removed; :mod:`romanasn.incremental`)."""
    return f"{SHARD_PREFIX}{program}+{number}"


def digest(data: bytes) -> str:
    """The digest the manifest records of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest(data: bytes | memoryview) -> bytes:
    """:func:`digest`, as 16 bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


# -- the manifest ---------------------------------------------------------------------------------


@define
class Entry:
    """What one association file holds: id, rule, product, size, digest and program; ``stale``
    when the last run did not make it."""

    asn_id: str
    rule: str
    product: str
    size: int
    digest: str
    stale: bool = False
    program: str | None = None

    def row(self) -> list:
        """The entry as the list the run report stores (the program after the digest)."""
        row = [self.asn_id, self.rule, self.product, self.size, self.digest]
        if self.program is not None:
            row.append(self.program)
        return row + ["stale"] if self.stale else row

    @classmethod
    def from_row(cls, row: list) -> "Entry":
        """The entry a run report's list stores."""
        rest = row[5:]
        program = next((item for item in rest if item != "stale"), None)
        return cls(*row[:5], stale="stale" in rest, program=program)


@define
class Manifest:
    """The association files of an output folder, as the last run left them."""

    format: str
    files: dict[str, Entry] = field(factory=dict)
    pool_seq: int | None = None  # the change number of the database pool the folder reflects
    shards: dict[str, int] | None = None  # sharded: the entries in each program's shard
    highest: list | None = None  # sharded: (rule, product, asn_id) of the highest asn_id
    stale: list[str] = field(factory=list)  # sharded: the programs with stale entries
    loaded: set[str] | None = None  # sharded: the programs whose shards were loaded (None: all)
    deltas: dict[str, list[int]] = field(factory=dict)  # sharded: each program's changes since its shard

    @classmethod
    def load(cls, out: Path, programs: Iterable[str] | None = None, stale: bool = False) -> "Manifest | None":
        """The manifest in ``out``'s run report, or None when there is none.

        A sharded manifest (one file per program, from a database pool) loads
        only the shards of ``programs`` (program ids) when given, and with
        ``stale`` those holding stale entries too.
        """
        path = out / RUN_REPORT
        if not path.exists():
            return None
        try:
            report = orjson.loads(path.read_bytes())
            manifest = report["manifest"]
            version = manifest.get("version")
            if version == SHARDED_VERSION:
                held = set(manifest["shards"])
                loaded = None if programs is None else set(programs) | (set(manifest["stale"]) if stale else set())
                files = {}
                deltas = manifest.get("deltas", {})
                for program in sorted(held if loaded is None else held & loaded):
                    for shard in [SHARD_PREFIX + program] + [delta_name(program, n) for n in deltas.get(program, ())]:
                        for name, row in orjson.loads((out / shard).read_bytes()).items():
                            if row is None:
                                files.pop(name, None)
                            else:
                                files[name] = Entry.from_row(row)
                return cls(manifest["format"], files, report.get("pool_seq"), dict(manifest["shards"]),
                           manifest.get("highest"), manifest["stale"], loaded, deltas)
            if version != MANIFEST_VERSION:
                raise ValueError(f"manifest version {version!r}")
            files = {name: Entry.from_row(row) for name, row in manifest["files"].items()}
            return cls(manifest["format"], files, report.get("pool_seq"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AsnError(f"{path}: no usable manifest ({exc}); run without --update "
                           "(with --overwrite) to start a new one") from exc

    def ids(self) -> dict[tuple[str, str], str]:
        """``(asn_rule, product_name)`` -> ``asn_id`` of every association loaded (and, sharded,
        of the highest ``asn_id``, so that new ones count on from it)."""
        ids = {(e.rule, e.product): e.asn_id for e in self.files.values()}
        if self.highest:
            rule, product, asn_id = self.highest
            ids.setdefault((rule, product), asn_id)
        return ids


_COLUMNS = pa.schema([("name", pa.string()), ("number", pa.int64()), ("rule", pa.int32()), ("product", pa.string()),
                      ("size", pa.int64()), ("digest", pa.binary(16)), ("program", pa.string())])


def _hex(digests: pa.Array) -> pa.Array:
    """Each file's digest (16 bytes) as :func:`digest` writes it."""
    count = len(digests)
    data = memoryview(digests.buffers()[1])[16 * digests.offset:16 * (digests.offset + count)]
    offsets = np.arange(0, 32 * count + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data.hex().encode("ascii")))


class Made:
    """The manifest entries of the files a run made, kept as columns (:data:`_COLUMNS`), a record
    batch a block (a million :class:`Entry` records would take half a gigabyte)."""

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []
        self.rules: list[str] = []  # a rule's code is its position here

    def add(self, block: FileBlock, names: pa.Array, files: list[memoryview], digests: list[bytes]) -> None:
        """Note the files of ``block``: named ``names``, holding ``files``, their :func:`_digest` ``digests``."""
        if block.rule not in self.rules:
            self.rules.append(block.rule)
        count = len(files)
        self.batches.append(pa.record_batch([
            names, pa.array(block.numbers, pa.int64()), pa.array(np.full(count, self.rules.index(block.rule), np.int32)),
            block.products, pa.array(np.fromiter(map(len, files), dtype=np.int64, count=count)),
            pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), count, [None, pa.py_buffer(b"".join(digests))]),
            block.programs], schema=_COLUMNS))

    def table(self) -> pa.Table:
        """Every file's entry, a row each (the blocks' columns, not copied)."""
        return pa.Table.from_batches(self.batches, _COLUMNS)

    def drop(self, rules: set[str]) -> list[str]:
        """Forget the files of ``rules``; their names."""
        gone = [batch for batch in self.batches if self.rules[batch["rule"][0].as_py()] in rules]
        self.batches = [batch for batch in self.batches if self.rules[batch["rule"][0].as_py()] not in rules]
        return [name for batch in gone for name in batch["name"].to_pylist()]

    def names(self) -> list[str]:
        """Every file's name."""
        return self.table()["name"].to_pylist()

    def entries(self) -> dict[str, Entry]:
        """Every file's :class:`Entry`, by name."""
        made = {}
        for batch in self.batches:
            rule = self.rules[batch["rule"][0].as_py()]
            columns = (batch["number"].to_pylist(), batch["name"].to_pylist(), batch["product"].to_pylist(),
                       batch["size"].to_pylist(), _hex(batch["digest"]).to_pylist(), batch["program"].to_pylist())
            for number, name, product, size, hashed, program in zip(*columns):
                made[name] = Entry(f"a{number}", rule, product, size, hashed, program=program)
        return made

    def rows(self, entries: pa.RecordBatch) -> pa.Array:
        """Each entry's line of the manifest, after a comma: its name and its :meth:`Entry.row` as JSON."""
        rules = pa.array([_string(rule) for rule in self.rules], pa.string()).take(entries["rule"])
        program = pc.fill_null(pc.binary_join_element_wise(", ", lane.json_texts(entries["program"]), ""), "")
        return pc.binary_join_element_wise(
            ",\n      ", lane.json_texts(entries["name"]), ': ["a', entries["number"].cast(pa.string()), '", ',
            rules, ", ", lane.json_texts(entries["product"]), ", ", entries["size"].cast(pa.string()),
            ', "', _hex(entries["digest"]), '"', program, "]", "")


# -- runs -----------------------------------------------------------------------------------------


@define
class Outcome:
    """What a run wrote: files of the run (id order), and with ``update`` what changed."""

    result: Result
    files: list[str]
    written: list[Path]
    added: list[str] = field(factory=list)
    changed: list[str] = field(factory=list)
    unchanged: list[str] = field(factory=list)
    stale: list[str] = field(factory=list)
    removed: list[str] = field(factory=list)
    kept: int = 0  # files of programs not re-planned (an update of some programs only)
    run_id: str | None = None
    events: list[dict] = field(factory=list)


class LazyAssociations(Sequence):
    """The associations of a plan, built when asked for (for observers after a streamed run)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __len__(self) -> int:
        return self.plan.total

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.at(index)

    def at(self, index: int) -> Association:
        """The association with the ``index``-th id (not negative, in range)."""
        return self.plan.association(index)


def member_prefix(out: Path, member_dir: str | os.PathLike | None) -> str | None:
    """The path from the association folder to ``member_dir``, prefixed to member names."""
    if member_dir is None:
        return None
    return os.path.relpath(Path(member_dir).resolve(), out.resolve())


def generate_to(
    pool: Any,
    out_dir: str | os.PathLike,
    *,
    plugin_manager: PluginManager,
    config: RunConfig,
    rules: Iterable[str] | None = None,
    skip_rules: Iterable[str] = (),
    format: str = "json",
    overwrite: bool = False,
    update: bool = False,
    prune: bool = False,
    member_dir: str | os.PathLike | None = None,
    inputs: Iterable[str] = (),
    engine: str = "local",
    prune_all: bool = False,
    scheduler: str | None = None,
    keep_going: bool = False,
    progress: bool | None = False,
    strict: bool = False,
    programs: Iterable[Any] | None = None,
    events: bool = False,
    on_file: Callable[[str, bytes], None] | None = None,
) -> Outcome:
    """Make the associations of ``pool`` and write each as soon as it is built.

    :param update: rewrite only what changed since the run recorded in the
        folder's manifest, keeping the ``asn_id``\\ s it gave (see the module's docstring).
    :param prune: with ``update``, remove the files of associations no longer made;
        refused when that would remove every file the folder holds, unless ``prune_all``.
    :param prune_all: ``prune``, even when the run makes none of the folder's files again.
    :param engine: ``local``, or ``dask`` to plan and encode on a Dask cluster
        (``scheduler`` is its address; a local cluster when None).
    :param keep_going: a rule that fails is left out (its files too) and
        listed in ``Outcome.result.failed`` and the run report's
        ``failed_rules``; the other rules finish.
    :param progress: show a progress bar on stderr while writing (None: when
        stderr is a terminal).
    :param strict: with ``member_dir``, member files missing from it are an
        error (nothing is written) rather than a warning (see :mod:`romanasn.members`).
    :param programs: with ``update``, ``pool`` holds only these programs'
        rows (those changed since the last run): the folder's associations of
        other programs are kept as they are (associations never cross a
        program). ``pool.meta["romanasn"]["seq"]``, when a database pool
        gives it, is recorded as ``pool_seq`` in the run report.
    :param events: record in the run report a ``run_id`` and ``events``: one
        record per association file added, changed or removed (``event``,
        ``file``, ``asn_id``, ``rule``, ``product``, ``program``), committed
        with the files (what ``romanasn watch`` prints).
    :param on_file: called with each association file's name and bytes as the run hands it to the
        folder (or finds it unchanged), e.g. by ``generate --report``.
    """
    prune = prune or prune_all
    if prune and not update:
        raise UsageError("--prune goes with --update")
    if engine not in ("local", "dask"):
        raise UsageError(f"unknown engine {engine!r}: use local or dask")
    if keep_going and engine != "local":
        raise UsageError("--keep-going works with the local engine only")
    with paused_gc(), _system_memory():
        return _generate_to(pool, Path(out_dir), plugin_manager, config, rules, skip_rules, format, overwrite,
                            update, prune, member_dir, inputs, engine, scheduler, keep_going, progress, strict,
                            prune_all, programs, events, on_file)


@contextlib.contextmanager
def _system_memory() -> Iterator[None]:
    """Arrow's buffers from the C library's allocator for the block: mimalloc, Arrow's default,
    keeps what a run frees for its reuse (hundreds of megabytes at a million rows). What both
    allocators keep freed is handed back first."""
    previous = pa.default_memory_pool()
    previous.release_unused()
    pa.set_memory_pool(pa.system_memory_pool())
    pa.system_memory_pool().release_unused()  # with the C library's malloc_trim
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _generate_to(pool, out, plugin_manager, config, rules, skip_rules, format, overwrite, update, prune,
                 member_dir, inputs, engine, scheduler, keep_going, progress, strict, prune_all, programs=None,
                 events=False, on_file=None) -> Outcome:
    ext = extension(format)
    folder = Folder(out)
    _guard(folder.open)
    try:
        scope = None if programs is None else {program_id(p) for p in programs}
        manifest = Manifest.load(out, scope if engine == "local" else None, stale=prune) if update else None
        if manifest is not None and manifest.format != format:
            raise UsageError(f"{out} holds {manifest.format} associations: --update needs --format {manifest.format}")
        existing_ids = manifest.ids() if manifest is not None else None
        prefix = member_prefix(out, member_dir)
        if engine == "dask":
            from romanasn import cluster

            source = cluster.DaskRun(pool, plugin_manager=plugin_manager, config=config, rules=rules,
                                     skip_rules=skip_rules, scheduler=scheduler, format=format,
                                     member_prefix=prefix, existing_ids=existing_ids)
        else:
            source = _LocalRun(pool, plugin_manager=plugin_manager, config=config, rules=rules,
                               skip_rules=skip_rules, format=format, member_prefix=prefix,
                               existing_ids=existing_ids, keep_going=keep_going)
            members.check(source.plan, member_dir, strict)
        if prune and not prune_all and manifest is not None:
            _check_prune(out, manifest, _file_names(source.stems(), ext))
        scope = None if manifest is None else scope
        seq = (getattr(pool, "meta", None) or {}).get("romanasn", {}).get("seq")
        outcome = _write(folder, source, ext, overwrite, manifest, prune, config, plugin_manager, format, inputs,
                         keep_going, progress, scope, seq, events, on_file)
    except BaseException as exc:
        folder.abort()
        _reraise(exc, out)
    return outcome


def _file_names(stems: Sequence[str], ext: str) -> Sequence[str]:
    """Each association file's name (an Arrow column, :class:`lane.Texts`, when the stems are one)."""
    if isinstance(stems, lane.Texts):
        return lane.Texts(pc.binary_join_element_wise(stems.values, ext, ""))
    return [stem + ext for stem in stems]


def _check_prune(out: Path, manifest: Manifest, names: Sequence[str]) -> None:
    """Refuse a ``--prune`` that would remove every association file the folder holds."""
    if manifest.loaded is not None and any(program not in manifest.loaded for program in manifest.shards or {}):
        return  # an update of some programs: the others' files stay
    if manifest.files and not set(manifest.files) & set(names):
        raise UsageError(f"{out}: --prune would remove all {len(manifest.files):,} association files it holds"
                         f" (this run makes none of them again); check the pools and the selection,"
                         f" or say --prune-all to remove them")


def write_result(
    result: Result,
    out_dir: str | os.PathLike,
    *,
    plugin_manager: PluginManager,
    config: RunConfig,
    format: str = "json",
    overwrite: bool = False,
    member_dir: str | os.PathLike | None = None,
    inputs: Iterable[str] = (),
) -> list[Path]:
    """Write every association of ``result`` and the run report into ``out_dir``.

    :param format: ``json``, ``yaml`` or ``asdf``.
    :param overwrite: replace existing association files of the same name.
    :param member_dir: where the member files are; member names are then
        written as paths relative to ``out_dir``.
    :return: the paths written, in ``asn_id`` order.
    """
    out = Path(out_dir)
    ext = extension(format)
    folder = Folder(out)
    _guard(folder.open)
    try:
        source = _ResultRun(result, format=format, member_prefix=member_prefix(out, member_dir))
        outcome = _write(folder, source, ext, overwrite, None, False, config, plugin_manager, format, inputs)
    except BaseException as exc:
        folder.abort()
        _reraise(exc, out)
    return [out / name for name in outcome.files]


def _guard(function) -> Any:
    try:
        return function()
    except OSError as exc:
        raise AsnError(f"{exc.filename or ''}: cannot write the associations: {exc.strerror or exc}") from exc


def _reraise(exc: BaseException, out: Path) -> None:
    if isinstance(exc, OSError) and not isinstance(exc, RomanasnError):
        where = exc.filename or out
        raise AsnError(f"{where}: cannot write the associations: {exc.strerror or exc}") from exc
    raise exc


class _LocalRun:
    """Plans on this machine and makes each association file in turn: as columns (the columnar
    lane, JSON), or building, checking and encoding each association record (the object lane)."""

    def __init__(self, pool, *, plugin_manager, config, rules, skip_rules, format, member_prefix, existing_ids,
                 keep_going=False):
        self.plan = make_plan(pool, config=config, rules=rules, skip_rules=skip_rules,
                              plugin_manager=plugin_manager, existing_ids=existing_ids, keep_going=keep_going)
        self.encoder = Encoder(format, member_prefix)
        self.ext = extension(format)
        self.columns = format == "json"  # the columnar lane's rules as columns (the object lane's as records)

    def stems(self) -> list[str]:
        return self.plan.file_stems()

    def blocks(self) -> Iterator[FileBlock]:
        """The association files, a block of one rule's at a time, each file validated."""
        if self.columns:
            yield from self._checked(self.plan.encoded(self.encoder.prefix))
        yield from file_blocks(self._records())
        lane.written(self.plan.view)

    def _records(self) -> Iterator[tuple[int, str, str, str, bytes, str]]:
        """``(id number, rule, product name, file stem, bytes, program)`` of each association record
        (the object lane), checked and encoded."""
        release = not self.plan.hooks.written  # no observer will ask for them again
        for number, association, stem in self.plan.stream(release=release, columnar=not self.columns):
            try:
                data = self.encoder.encode(association, stem + self.ext)
            except RomanasnError as exc:
                rule = association.asn_rule
                named = type(exc)(f"rule {rule!r} of plugin {self.plan.plugin_of(rule).label}: {exc}")
                self.plan.fail(rule, named)  # raises unless the run keeps going
                continue
            yield number, association.asn_rule, association.product_name, stem, data, association.program

    def _checked(self, blocks: Iterator[FileBlock]) -> Iterator[FileBlock]:
        """The columnar lane's files, each validated against the association schema (a block
        holding an invalid file fails its rule)."""
        for block in blocks:
            rule = block.rule
            if rule in self.plan.failed:
                continue
            try:
                for stem, data in zip(block.stems.to_pylist(), block.data()):
                    encoder.check_file(data, stem + self.ext)
            except RomanasnError as exc:
                self.plan.fail(rule, type(exc)(f"rule {rule!r} of plugin {self.plan.plugin_of(rule).label}: {exc}"))
                continue
            yield block

    def failed_rules(self) -> set[str]:
        """The rules that failed (once every item is out); the plan forgets their associations."""
        self.plan.drop_failed()
        return set(self.plan.failed)

    def result(self) -> Result:
        return self.plan.summary(LazyAssociations(self.plan), self.plan.file_stems())


class _ResultRun:
    """The associations of a :class:`Result` made earlier."""

    def __init__(self, result: Result, *, format: str, member_prefix: str | None) -> None:
        self._result = result
        self.encoder = Encoder(format, member_prefix)
        self.ext = extension(format)

    def stems(self) -> list[str]:
        return list(self._result.file_stems)

    def blocks(self) -> Iterator[FileBlock]:
        return file_blocks(self._records())

    def _records(self):
        for association, stem in zip(self._result.associations, self._result.file_stems):
            data = self.encoder.encode(association, stem + self.ext)
            yield (int(association.asn_id[1:]), association.asn_rule, association.product_name, stem, data,
                   association.program)

    def result(self) -> Result:
        return self._result


def _write(folder: Folder, source, ext: str, overwrite: bool, manifest: Manifest | None, prune: bool,
           config: RunConfig, pm: PluginManager, format: str, inputs: Iterable[str],
           keep_going: bool = False, progress: bool | None = False, scope: set[str] | None = None,
           pool_seq: int | None = None, events: bool = False, on_file=None) -> Outcome:
    out = folder.out
    if format != "json":
        log.warning("writing %s associations: romancal reads JSON associations only (--format json)", format)
    names = _file_names(source.stems(), ext)
    known = manifest.files if manifest is not None else {}
    _check_names(folder, names, known if manifest is not None else None, overwrite)
    log.debug("%s: writing %d association files", out, len(names))
    outcome = Outcome(result=None, files=[], written=[])
    made = Made()
    fresh = not known and not folder.existing
    bar = Progress(len(names), enabled=progress, label="writing associations")
    del names  # made again once the files are written (a million names held meanwhile take memory)
    try:
        _put(folder, source, ext, known, outcome, made, bar, on_file)
    finally:
        bar.close()
    failed = source.failed_rules() if keep_going else set()
    if failed:
        _drop_failed(folder, outcome, made, failed)
    names = outcome.files = _file_names(source.stems(), ext)
    pa.default_memory_pool().release_unused()  # what making them freed
    if fresh:
        outcome.added = names  # the same strings
    outcome.written = _Paths(out, names, set(outcome.unchanged))
    kept: dict[str, Entry] = {}  # the files of the folder this run did not make
    if manifest is not None:
        for name in sorted(set(known) - set(made.names())):
            if known[name].rule in failed:  # as the last run left it
                kept[name] = known[name]
            elif scope is not None and known[name].program not in scope and not (prune and known[name].stale):
                # of a program not re-planned (a stale one goes with --prune)
                kept[name] = known[name]
            elif prune and name in folder.existing:
                folder.remove(name)
                outcome.removed.append(name)
            elif not prune:
                kept[name] = evolve(known[name], stale=True)
                outcome.stale.append(name)
    else:
        previous = _previous_manifest(out, format)
        if previous:
            ours = set(made.names())
            kept = {name: entry for name, entry in previous.items() if name not in ours and name in folder.existing}
    outcome.result = source.result()
    report = run_report(outcome.result, pm, config, inputs)
    report["format"] = format
    report["files"] = names
    if pool_seq is not None:
        report["pool_seq"] = pool_seq
    if events:
        outcome.run_id = uuid.uuid4().hex
        outcome.events = _events(outcome, made.entries() | kept, known, out)
        report["run_id"], report["events"] = outcome.run_id, outcome.events
    if manifest is not None:
        report["update"] = {"added": len(outcome.added), "changed": len(outcome.changed),
                            "unchanged": len(outcome.unchanged), "stale": outcome.stale,
                            "removed": outcome.removed}
        if scope is not None:
            report["update"]["programs"] = sorted(scope)
    observe = (lambda: _observe(pm, outcome, out, config)) if pm.wants_written() else None
    if pool_seq is None:
        pieces = _report_pieces(report, format, made, kept)
    else:  # from a database pool: a shard per program, so that an update reads and writes only its programs'
        rewritten = None if scope is None or manifest is None else manifest.loaded
        report["manifest"] = _write_shards(folder, made.entries() | kept, format, rewritten, manifest)
        outcome.kept = sum(count for program, count in report["manifest"]["shards"].items()
                           if rewritten is not None and program not in rewritten)
        pieces = [orjson.dumps({**report, "files": list(names)}, option=orjson.OPT_INDENT_2) + b"\n"]
    folder.commit(RUN_REPORT, pieces, then=observe)
    return outcome


def shard_bytes(rows: Mapping[str, Any]) -> bytes:
    """A manifest shard's bytes (a program's entry rows, or changes to them where None removes
    one): one entry a line, in name order."""
    lines = ",\n".join(f"{_string(name)}: {json.dumps(rows[name])}" for name in sorted(rows))
    return ("{\n" + lines + "\n}\n").encode("utf-8")


def _write_shards(folder: Folder, files: Mapping[str, Entry], format: str, scope: set[str] | None,
                  previous: Manifest | None) -> dict:
    """Write the manifest shards of the programs of ``files`` (those of ``scope``, the programs
    loaded, when given: the others stay), remove those of programs gone; the sharded manifest
    the run report holds."""
    groups: dict[str, dict[str, Entry]] = {}
    for name, entry in files.items():
        groups.setdefault(entry.program or "noprogram", {})[name] = entry
    old = previous.shards or {} if previous is not None else {}
    counts = {program: count for program, count in old.items() if scope is not None and program not in scope}
    for program, entries in sorted(groups.items()):
        folder.add(SHARD_PREFIX + program, shard_bytes({name: entry.row() for name, entry in entries.items()}))
        counts[program] = len(entries)
    deltas = {} if previous is None or scope is None else previous.deltas
    held = {name for name in folder.existing if name.startswith(SHARD_PREFIX)} if scope is None else (
        {SHARD_PREFIX + program for program in old} | {delta_name(p, n) for p in scope for n in deltas.get(p, ())})
    for name in sorted(held - {SHARD_PREFIX + program for program in counts}):
        folder.remove(name)
    highest = previous.highest if previous is not None and scope is not None else None
    top = max(files.values(), key=lambda entry: int(entry.asn_id[1:]), default=None)
    if top is not None and (highest is None or int(top.asn_id[1:]) > int(highest[2][1:])):
        highest = [top.rule, top.product, top.asn_id]
    stale = {program for program in (previous.stale if previous is not None and scope is not None else [])
             if program not in scope}
    stale |= {entry.program or "noprogram" for entry in files.values() if entry.stale}
    return {"version": SHARDED_VERSION, "format": format, "shards": dict(sorted(counts.items())),
            "highest": highest, "stale": sorted(stale),
            "deltas": {p: numbers for p, numbers in sorted(deltas.items()) if p not in scope}}


def _events(outcome: Outcome, files: Mapping[str, Entry], known: Mapping[str, Entry], out: Path) -> list[dict]:
    """One record per association file the run added, changed or removed, in that order."""
    made, inside = [], str(out / "_")[:-1]  # the folder as a name's prefix (names are bare: joined as text)
    for kind, names, entries in (("added", outcome.added, files), ("changed", outcome.changed, files),
                                 ("removed", outcome.removed, known)):
        for name in sorted(names):
            entry = entries[name]
            made.append({"event": kind, "file": inside + name, "asn_id": entry.asn_id, "rule": entry.rule,
                         "product": entry.product, "program": entry.program})
    return made


def _check_names(folder: Folder, names: Sequence[str], known: Mapping[str, Entry] | None, overwrite: bool) -> None:
    """Refuse names the folder cannot take (:meth:`Folder.check_names`), and (without
    ``overwrite``) existing files the manifest ``known`` (None without ``--update``) does not list."""
    out = folder.out
    folder.check_names(itertools.chain(names, [RUN_REPORT]))
    if overwrite or not folder.existing:  # a new folder (listed and empty) holds none of them
        return
    clash = [n for n in names if n in folder.existing and n not in (known or {})]
    if clash:
        more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
        hint = "; use --overwrite to replace association files" + (
            " not listed in the folder's manifest" if known is not None else "")
        raise AsnError(f"{out / clash[0]} exists{more}{hint}")


def _put(folder: Folder, source, ext: str, known: Mapping[str, Entry], outcome: Outcome, made: "Made",
         bar: Progress, on_file=None) -> None:
    """Hand each block of association files to the folder (each file the manifest knows unchanged
    left as it is), noting what they hold in ``made`` and what changed in ``outcome``."""
    for block in source.blocks():
        names = pc.binary_join_element_wise(block.stems, ext, "")
        files = block.data()
        digests = [_digest(data) for data in files]
        made.add(block, names, files, digests)
        names = names.to_pylist()
        bar.update(len(names))
        if on_file is not None:
            for name, data in zip(names, files):
                on_file(name, data)
        if not known and not folder.existing:  # a new (or empty) folder: every file is new (added: _write)
            folder.add_files(names, files)
            continue
        for name, data, hashed in zip(names, files, digests):
            old = known.get(name)
            if old is not None and name in folder.existing and (old.digest, old.size) == (hashed.hex(), len(data)) \
                    and not old.stale and _on_disk(folder.out / name, old):
                outcome.unchanged.append(name)
                continue
            (outcome.changed if name in folder.existing else outcome.added).append(name)
            folder.add_files([name], [data])


def _drop_failed(folder: Folder, outcome: Outcome, made: "Made", failed: set[str]) -> None:
    """Take back the files of the rules that failed."""
    dropped = set(made.drop(failed))
    unchanged = set(outcome.unchanged)
    for name in dropped - unchanged:
        folder.discard(name)
    outcome.added = [name for name in outcome.added if name not in dropped]
    outcome.changed = [name for name in outcome.changed if name not in dropped]
    outcome.unchanged = [name for name in outcome.unchanged if name not in dropped]


class _Paths(Sequence):
    """The paths of the files a run wrote, made when asked for (a million Paths take memory)."""

    def __init__(self, out: Path, names: list[str], unchanged: set[str]) -> None:
        self.out = out
        self.names = [name for name in names if name not in unchanged] if unchanged else names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.out / name for name in self.names[index]]
        return self.out / self.names[index]

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


def _on_disk(path: Path, entry: Entry) -> bool:
    """Whether the file at ``path`` holds what ``entry`` records (size, then digest of its bytes)."""
    try:
        if path.stat().st_size != entry.size:
            return False
        with open_regular(path) as stream:
            return digest(stream.read()) == entry.digest
    except OSError:
        return False


def _previous_manifest(out: Path, format: str) -> dict[str, Entry]:
    """The entries of the manifest already in ``out`` (kept for files this run does not touch)."""
    try:
        manifest = Manifest.load(out)
    except AsnError:
        return {}
    if manifest is None or manifest.format != format:
        return {}
    return manifest.files


def _observe(pm: PluginManager, outcome: Outcome, out: Path, config: RunConfig) -> None:
    associations = outcome.result.associations
    if getattr(associations, "from_files", False):  # a cluster's run: the associations are in the files
        associations = (asnfile.load_asn(out / name) for name in outcome.files)
    for association, name in zip(associations, outcome.files):
        pm.association_written(association, out / name, config)


def run_report(
    result: Result, plugin_manager: PluginManager, config: RunConfig, inputs: Iterable[str] = ()
) -> dict[str, Any]:
    """What a run did: inputs, plugins, rules, counts, skipped rules, vetoes, orphans."""
    return {
        "romanasn_version": __version__,
        "inputs": [str(i) for i in inputs],
        "pool_rows": result.pool_rows,
        "data_release_id": config.data_release_id,
        "version_id": config.version_id,
        "options": {k: v for k, v in sorted(config.options.items()) if v is not None},
        "plugins": [
            {"name": i.name, "version": i.version, "status": i.status}
            for i in plugin_manager.plugin_infos()
        ],
        "rules": [
            {"name": e.name, "plugin": e.plugin.name, "version": e.plugin.version,
             "asn_type": e.rule.asn_type, "level": e.rule.level}
            for e in result.rules
        ],
        "skipped_rules": [{"name": s.rule, "plugin": s.plugin, "reason": s.reason} for s in result.skipped],
        "associations": len(result.associations),
        "counts": dict(sorted(result.counts.items())),
        "vetoes": [
            {"rule": v.rule, "filename": v.filename, "reason": v.reason, "plugin": v.plugin}
            for v in result.vetoes
        ],
        "orphans": list(result.orphans),
        "failed_rules": [{"name": f.rule, "plugin": f.plugin, "version": f.version, "error": f.error}
                         for f in result.failed],
    }


def _report_pieces(report: dict, format: str, made: Made, kept: Mapping[str, Entry]) -> Iterator[bytes]:
    """The run report, as JSON indented by 2 with each manifest entry on one line (the files
    ``made`` and those ``kept``, by name), in pieces: the lines made a slice of the name order
    at a time, as the list of files."""
    names = report["files"]
    head, tail = encode_json({**report, "files": _LISTED}, 2)[:-2].split(encode_json(_LISTED), 1)
    yield head.encode("utf-8")
    yield b"[" if names else b"[]"
    listed = names.values if isinstance(names, lane.Texts) else pa.array(names, pa.string())
    for start in range(0, len(names), 50_000):
        texts = lane.json_texts(listed[start:start + 50_000])
        yield _joined(pc.binary_join_element_wise(",\n    ", texts, ""), start == 0)
        pa.default_memory_pool().release_unused()  # the C library's heap keeps what a slice freed otherwise
    yield (b"\n  ]" if names else b"") + tail.encode("utf-8")
    yield (f',\n  "manifest": {{\n    "version": {MANIFEST_VERSION},\n    "format": {_string(format)},'
           '\n    "files": ').encode("utf-8")
    table = made.table().combine_chunks()  # taking rows from a column of many chunks joins them each time
    kept_rows = pa.array([f",\n      {_string(name)}: {json.dumps(entry.row())}" for name, entry in kept.items()],
                         pa.large_string())
    order = pc.sort_indices(pa.chunked_array([table["name"], pa.array(list(kept), pa.string())], pa.string()))
    order = order.to_numpy()
    if not len(order):
        yield b"{}\n  }\n}\n"
        return
    yield b"{"
    for start in range(0, len(order), 50_000):
        part = order[start:start + 50_000]
        ours = part < table.num_rows
        entries = table.take(part[ours]).combine_chunks().to_batches()
        rows = made.rows(entries[0]).cast(pa.large_string()) if entries else kept_rows[:0]
        if not ours.all():  # kept entries among them: each row back in its place
            places = np.argsort(np.concatenate((np.flatnonzero(ours), np.flatnonzero(~ours))), kind="stable")
            rows = pa.concat_arrays([rows, kept_rows.take(part[~ours] - table.num_rows)]).take(places)
        yield _joined(rows, start == 0)
        pa.default_memory_pool().release_unused()
    yield b"\n    }\n  }\n}\n"


_LISTED = "\0files"  # where the run report's text gets its list of files


def _joined(texts: pa.Array, first: bool) -> memoryview:
    """The texts one after the other (the bytes of their buffer), the first's first byte (a
    comma) left out when ``first``."""
    texts = texts.cast(pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    return memoryview(texts.buffers()[2])[int(offsets[0]) + first:int(offsets[-1])]


def update_summary(outcome: Outcome) -> str:
    """One line: what an ``--update`` run added, changed, left alone, and found stale or removed."""
    line = (f"update: {len(outcome.added)} added, {len(outcome.changed)} changed, "
            f"{len(outcome.unchanged)} unchanged")
    if outcome.kept:
        line += f", {outcome.kept} of unchanged programs kept"
    if outcome.stale:
        line += f", {len(outcome.stale)} no longer made (kept, listed as stale in {RUN_REPORT}; --prune removes them)"
    if outcome.removed:
        line += f", {len(outcome.removed)} no longer made and removed"
    return line
