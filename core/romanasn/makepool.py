"""``romanasn make-pool``: a pool made from the YAML headers of exposure files.

Steps: find the files (files, folders searched recursively, globs), read
the values of the pool's columns from each file's ``roman.meta`` (only the
YAML header, see :mod:`romanasn.asdfheader`; with ``jobs`` > 1 in that many
processes, or on the workers of a Dask cluster with ``engine="dask"``),
check each row as :func:`romanasn.pool.read_pool` checks its cells, settle
repeats (one row per exposure and detector, the highest level), and write
the pool: typed ECSV through
:func:`romanasn.pool.write_pool`, or romancal's ``|``-separated legacy
form. The written file is read back with :func:`romanasn.pool.read_pool`
before it replaces anything, so what ``make-pool`` writes is what
``generate`` reads.

Files left out (bad ones with ``skip_bad``, lower levels of an exposure and
detector, repeated names) are listed in ``<pool>.skipped.txt``, tab-separated
``path``, ``reason``.
"""

from __future__ import annotations

import csv
import glob
import io
import logging
import multiprocessing
import os
import signal
import sys
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TextIO

import numpy as np
from attrs import define, field, frozen

from romanasn import asdfheader, folder, interrupt
from romanasn.columns import merge_columns
from romanasn.engine import paused_gc
from romanasn.errors import PoolError, RomanasnError, UsageError
from romanasn.inputs import replacing
from romanasn.plugins.types import PoolColumn
from romanasn.pool import cell_problem, id_problems
from romanasn.progress import Progress
from romanasn.words import count

log = logging.getLogger("romanasn.makepool")

__all__ = ["FORMATS", "LEVELS", "MakePoolResult", "Readers", "Skipped", "find_files", "make_pool", "read_row"]

FORMATS = ("ecsv", "legacy")
ENGINES = ("local", "dask")
#: The level of each exposure model type.
LEVELS = {"ScienceRawModel": 1, "ImageModel": 2, "MosaicModel": 3}
#: The same from the tag of the ``roman`` node, for files without ``model_type``.
_TAG_LEVELS = {"wfi_science_raw": 1, "wfi_image": 2, "wfi_mosaic": 3}
#: Upper-case names of romancal's legacy pools (the others are upper-cased).
LEGACY_NAMES = {
    "filename": "FILENAME", "observation_id": "OBS_ID", "program": "PROGRAM", "observation": "OBS_NUM",
    "execution_plan": "EX_PLAN", "pass": "PASS", "segment": "SEQUENCE", "visit": "VISIT",
    "visit_id": "VISIT_ID", "visit_file_group": "VISIT_GRP", "visit_file_sequence": "SEQ_ID",
    "visit_file_activity": "ACT_ID", "exposure": "EXPCOUNT", "exposure_type": "EXP_TYPE",
    "instrument": "INSTRUME", "detector": "DETECTOR", "optical_element": "OPT_ELEM", "target": "TARGNAME",
    "exposerr": "EXPOSERR", "asn_candidate": "ASN_CANDIDATE", "program_category": "CAT",
    "program_subcategory": "SUBCAT",
}
LEGACY_NULL = "NULL"
SKIPPED_SUFFIX = ".skipped.txt"
_GLOB_CHARS = set("*?[")


@frozen
class Skipped:
    """A file left out of the pool and why."""

    path: str
    reason: str


@define
class MakePoolResult:
    """What :func:`make_pool` did."""

    output: Path
    format: str
    rows: int = 0
    read: int = 0
    kept: int = 0
    new_rows: int = 0
    updated_rows: int = 0
    seconds: float = 0.0
    bad: list[Skipped] = field(factory=list)
    left_out: list[Skipped] = field(factory=list)
    notes: list[str] = field(factory=list)
    report: Path | None = None
    summary: str | None = None

    @property
    def rate(self) -> float:
        """Files read per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0


# -- finding files ------------------------------------------------------------------


def find_files(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[str], list[Skipped]]:
    """The files named by ``inputs`` (files, folders searched for ``*.asdf``, globs).

    Returns the files, each once, in the order found (folders and globs
    sorted), notes about files listed more than once, and the folders that
    could not be searched (as bad files: what they hold is left out). A path
    that does not exist or a glob that matches nothing is a
    :class:`~romanasn.errors.RomanasnError`.
    """
    found: dict[str, Path] = {}
    notes, missing, unreadable = [], [], []
    for given in inputs:
        text = os.fspath(given)
        if not text:
            missing.append("'': an empty path (give '.' for the current folder)")
            continue
        if _GLOB_CHARS & set(text) and not os.path.exists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                missing.append(f"{text}: the pattern matches nothing")
            paths = [p for m in matches for p in _expand(Path(m), unreadable)]
        else:
            path = Path(text)
            if not path.exists():
                missing.append(f"{text}: no such file or folder")
                continue
            paths = list(_expand(path, unreadable))
        for path, key in paths:
            if key in found:
                notes.append(f"{path}: listed more than once (read once)")
            else:
                found[key] = path
    if missing:
        raise RomanasnError("\n".join(missing))
    return list(found.values()), notes, unreadable


def _expand(path: Path, unreadable: list[Skipped]) -> Iterator[tuple[Path, str]]:
    """The files under ``path`` (or ``path`` itself), each with a key naming the file once; the
    folders that cannot be listed are added to ``unreadable``.

    The key is the real path of the file's folder and its name: one
    ``realpath`` per folder, not per file.
    """
    if not path.is_dir():
        yield path, os.path.realpath(path)
        return

    def cannot_list(error: OSError) -> None:
        unreadable.append(Skipped(str(error.filename), f"folder cannot be searched: {error.strerror or error}"))

    for root, dirs, files in os.walk(path, followlinks=False, onerror=cannot_list):
        dirs.sort()
        real = os.path.realpath(root)
        for name in sorted(files):
            if name.lower().endswith(".asdf"):
                yield Path(root, name), os.path.join(real, name)


# -- reading one file -------------------------------------------------------------------


@frozen
class _Field:
    name: str
    dtype: str
    required: bool
    meta: str | None


def _fields(columns: Sequence[PoolColumn]) -> tuple[_Field, ...]:
    return tuple(_Field(c.name, c.dtype, c.required, c.meta) for c in columns)


class BadFile(Exception):
    """A file that cannot give a pool row; the message says why."""


def read_row(path: str | os.PathLike, columns: Sequence[PoolColumn]) -> dict[str, Any]:
    """The pool row of one exposure file: one value (or None) per column, checked.

    ``filename`` is the file's own name; ``level`` comes from
    ``model_type``; times are ISO UTC. Raises :class:`BadFile` naming every
    problem of the file.
    """
    return _row(Path(path), _fields(columns))


def _row(path: Path, fields: tuple[_Field, ...]) -> dict[str, Any]:
    paths = [f.meta for f in fields if f.meta] + ["filename", "model_type"]
    try:
        meta = asdfheader.read_meta(path, paths)
    except asdfheader.HeaderError as exc:
        raise BadFile(str(exc)) from None
    values = meta.values
    row: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields:
        if f.name == "filename":
            row[f.name] = path.name
        elif f.name == "level":
            row[f.name] = _level(values.get("model_type"), meta.roman_tag, problems)
        elif f.meta is None or f.meta not in values:
            if f.required:
                problems.append(f"required field roman.meta.{f.meta} is missing" if f.meta
                                else f"required column {f.name!r} has no place in roman.meta")
            row[f.name] = None
        else:
            row[f.name] = _convert(values[f.meta], f, problems)
    _check(row, fields, problems)
    if problems:
        raise BadFile("; ".join(problems))
    return row


def _level(model_type: Any, roman_tag: str | None, problems: list[str]) -> int | None:
    if model_type in LEVELS:
        return LEVELS[model_type]
    if model_type is None and roman_tag:
        kind = roman_tag.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        if kind in _TAG_LEVELS:
            return _TAG_LEVELS[kind]
    shown = "missing" if model_type is None else repr(model_type)
    problems.append(f"roman.meta.model_type is {shown}, not an exposure model ({', '.join(LEVELS)})")
    return None


def _convert(value: Any, f: _Field, problems: list[str]) -> Any:
    where = f"roman.meta.{f.meta}"
    if value is None:
        if f.required:
            problems.append(f"required field {where} is null")
        return None
    try:
        if f.dtype == "str":
            if isinstance(value, asdfheader.AsdfTime):
                return value.iso_utc()
            if isinstance(value, datetime):
                return value.isoformat(timespec="milliseconds")
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, str):
                if not value and f.required:
                    problems.append(f"required field {where} is empty")
                    return None
                return value
        elif f.dtype == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif f.dtype == "float":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif f.dtype == "bool":
            if isinstance(value, bool):
                return value
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    problems.append(f"{where} is {_describe(value)}, expected {_NOUNS[f.dtype]}")
    return None


_NOUNS = {"str": "text", "int": "an integer", "float": "a number", "bool": "true or false"}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _check(row: dict[str, Any], fields: tuple[_Field, ...], problems: list[str]) -> None:
    """Each value, then the ids against their parts, with read_pool's checks (:mod:`romanasn.pool`).

    A file read_pool would refuse in the written pool is a bad file here:
    out of range, not finite, not in the schema's values, a malformed
    ``s_region``, a file name that is not a bare name, ids their parts do
    not make.
    """
    for f in fields:
        problem = cell_problem(f.name, row[f.name])
        if problem:
            problems.append(_where(f, problem))
    if problems:
        return
    for name, problem in id_problems(row):
        problems.append(_where(next(f for f in fields if f.name == name), problem))


def _where(f: _Field, problem: str) -> str:
    """``problem`` of the value of ``f`` with where it comes from (the file's name, or roman.meta)."""
    if f.name == "filename":
        return problem
    if f.name == "level":
        return f"roman.meta.model_type: {problem}"
    return f"roman.meta.{f.meta}: {problem}" if f.meta else f"column {f.name!r}: {problem}"


# worker processes: the fields, set once per process
_WORKER_FIELDS: tuple[_Field, ...] = ()


def _init_worker(fields: tuple[_Field, ...]) -> None:
    """Set the fields; leave Ctrl-C to the parent and let SIGTERM end the worker (a forked worker
    inherits the command's handlers, which would have the pool's ending wait for it forever)."""
    global _WORKER_FIELDS
    _WORKER_FIELDS = fields
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in interrupt.SIGNALS[1:]:
        signal.signal(number, signal.SIG_DFL)


def _read_one(path: Path, fields: tuple[_Field, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """(row, None) or (None, reason): nothing a bad file does escapes as an exception."""
    try:
        return _row(path, fields), None
    except BadFile as exc:
        return None, str(exc)
    except Exception as exc:  # a header this reader does not expect: report the file, go on
        return None, f"cannot read the header: {type(exc).__name__}: {exc}"


def _read_all(paths: list[Path], fields: tuple[_Field, ...], jobs: int) -> Iterator:
    """(path, row, reason) for every path, in order, read here or in ``jobs`` processes."""
    if jobs <= 1 or len(paths) < 2 * jobs:
        for path in paths:
            row, reason = _read_one(path, fields)
            yield path, row, reason
        return
    with Readers(fields, jobs) as readers:
        yield from readers.start(paths)()


class Readers:
    """Processes reading headers, kept from one read to the next (a watch reads its files as they
    come); with one job, headers are read here, at once. What :meth:`start` gives is
    :func:`read_settled`'s ``source``."""

    def __init__(self, fields: tuple[_Field, ...], jobs: int) -> None:
        self.fields, self.jobs = fields, jobs
        self.names = tuple(f.name for f in fields)
        self.pool = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.pool = context.Pool(jobs, initializer=_init_worker, initargs=(fields,))

    @classmethod
    def of(cls, columns: Sequence[PoolColumn], jobs: int) -> "Readers":
        """Readers of the ``columns`` (the kernel's columns and the packs' added to them)."""
        return cls(_fields(merge_columns(columns)), jobs)

    def start(self, paths: list[Path]) -> Callable[[], Iterator[tuple[Path, dict[str, Any] | None, str | None]]]:
        """Begin reading ``paths``; a function yielding ``(path, row, reason)`` for each, in order
        (waiting for each as it is read)."""
        if self.pool is None:
            done = [(path, *_read_one(path, self.fields)) for path in paths]
            return lambda: iter(done)
        chunk = max(1, min(256, len(paths) // (self.jobs * 8)))
        pending = self.pool.imap(_read_values, map(str, paths), chunksize=chunk)  # sent to the workers now
        names = self.names
        return lambda: ((path, None if values is None else dict(zip(names, values)), reason)
                        for path, (values, reason) in zip(paths, pending))

    def close(self) -> None:
        """End the processes (reads started and not looked at are dropped)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def __enter__(self) -> "Readers":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _read_values(path: str) -> tuple[tuple | None, str | None]:
    """:func:`_read_one` with the row as a tuple in field order (less to send between processes)."""
    return _as_values(*_read_one(Path(path), _WORKER_FIELDS), _WORKER_FIELDS)


def _as_values(row: dict[str, Any] | None, reason: str | None, fields: tuple[_Field, ...]):
    return (None, reason) if row is None else (tuple(row[f.name] for f in fields), None)


def _read_block(paths: Sequence[str], columns: Sequence[PoolColumn]) -> list[tuple[tuple | None, str | None]]:
    """``(values, None)`` or ``(None, reason)`` of each file: what a make-pool task on a Dask worker returns.

    ``values`` are :func:`read_row`'s row, in the order of ``columns``.
    """
    fields = _fields(columns)
    return [_as_values(*_read_one(Path(path), fields), fields) for path in paths]


# -- progress ----------------------------------------------------------------------------------


@paused_gc()  # the rows live until they are written: no cycles to look for meanwhile
def make_pool(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike | None,
    *,
    pool_db: str | os.PathLike | None = None,
    index: Iterable[tuple[str, ...]] = (),
    columns: Iterable[PoolColumn] = (),
    format: str | None = None,
    skip_bad: bool = False,
    update: bool = False,
    overwrite: bool = False,
    jobs: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
) -> MakePoolResult:
    """Make the pool ``output`` from the exposure files named by ``inputs``.

    :param columns: the columns packs declare (``pm.pool_columns()``), read
        from ``roman.meta`` at their ``meta`` path like the canonical ones.
    :param format: "ecsv" (default) or "legacy"; with ``update`` the
        default is the existing pool's format.
    :param skip_bad: write the pool of the good files and list the bad ones
        in ``<output>.skipped.txt``; otherwise any bad file stops the run
        with a :class:`~romanasn.errors.PoolError` naming each bad file, and
        nothing is written.
    :param update: add the files not yet in the pool at ``output``, without
        reading the others; rows already there are kept byte for byte.
    :param overwrite: replace an existing ``output`` (without ``update``).
    :param jobs: processes reading headers (local engine).
    :param engine: "local" (default), or "dask" to read the headers on
        the workers of a Dask cluster (they must see the files at the same
        absolute paths); the pool is the same, byte for byte.
    :param scheduler: with ``engine="dask"``, the address of a running
        ``dask.distributed`` scheduler (default: a local cluster for the run).
    :param progress: draw a progress bar on ``stream`` (default: when
        ``stream``, stderr by default, is a terminal).
    :param pool_db: instead of ``output``, a database pool (an SQLite file or a
        URL, see :mod:`romanasn.pooldb`): the rows are inserted, or update
        the rows of the same file name, in one transaction (all or none);
        ``update`` then reads only the files not yet in it. ``index``: more
        keys to index (those rules group by).
    """
    if (output is None) == (pool_db is None):
        raise UsageError("make-pool needs -o POOL or --pool-db DB (one of them)")
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown pool format {format!r}: use one of {', '.join(FORMATS)}")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    _check_engine(engine, scheduler, jobs)
    if pool_db is not None:
        if format is not None or overwrite:
            raise UsageError("--format and --overwrite are for pool files, not --pool-db")
        return _make_in_database(inputs, pool_db, columns=columns, index=index, skip_bad=skip_bad,
                                 update=update, jobs=jobs, engine=engine, scheduler=scheduler,
                                 progress=progress, stream=stream)
    output = Path(output)
    if not output.parent.is_dir():
        raise UsageError(f"cannot write {output}: no folder {output.parent}")
    if output.exists() and not update and not overwrite:
        raise UsageError(f"{output} exists: give --update to add files to it or --overwrite to replace it")
    known = merge_columns(columns)
    extra = list(columns)
    with folder.locked(output.parent):  # one make-pool at a time reads and replaces a pool there
        return _make_pool(inputs, output, known, extra, format, skip_bad, update, jobs, engine, scheduler,
                          progress, stream)


def _make_pool(inputs, output, known, extra, format, skip_bad, update, jobs, engine, scheduler, progress,
               stream) -> MakePoolResult:
    """:func:`make_pool`, its arguments checked and the folder of ``output`` locked."""
    existing = _Existing.load(output, extra) if update and output.exists() else None
    if update and existing is None:
        log.info("%s does not exist yet: making it", output)
    fmt = format or (existing.format if existing else "ecsv")
    result = MakePoolResult(output=output, format=fmt)

    paths, notes, unreadable = find_files(inputs)
    _check_not_input(output, paths)
    result.notes.extend(notes)
    result.bad.extend(unreadable)
    if existing is not None:
        held = [p for p in paths if p.name in existing.names]
        result.kept = len(held)
        paths = [p for p in paths if p.name not in existing.names]
    if not paths and existing is None:
        raise RomanasnError("no exposure files found in " + ", ".join(map(os.fspath, inputs)))

    rows = read_settled(paths, known, result, skip_bad, jobs, engine, scheduler, progress, stream)

    replaced: set[int] = set()
    if existing is not None:
        rows, replaced, more = existing.settle(rows)
        result.left_out.extend(more)
    rows.sort(key=lambda item: item[1]["filename"])
    result.new_rows = len(rows)
    if not rows and existing is None:
        raise PoolError("no good exposure files: nothing written\n"
                        + "\n".join(f"{s.path}: {s.reason}" for s in result.bad))

    new_table = _table([row for _, row in rows], known)
    result.rows = _write(output, fmt, new_table, existing, replaced, extra, result)
    skipped = result.bad + result.left_out
    if skipped or skip_bad:
        result.report = write_report(Path(f"{output}{SKIPPED_SUFFIX}"), skipped)
    return result


def read_settled(paths: list[Path], known: tuple[PoolColumn, ...], result: MakePoolResult, skip_bad: bool,
                 jobs: int, engine: str, scheduler: str | None, progress: bool | None,
                 stream: TextIO | None, source: Iterable | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """The rows of ``paths``, one per file name and per exposure and detector; bad files stop
    the run unless ``skip_bad`` (then they are listed in ``result.bad``). ``source``: the
    ``(path, row, reason)`` of each path, read already (by :class:`Readers`)."""
    bar = Progress(len(paths), stream, enabled=progress)
    rows: list[tuple[Path, dict[str, Any]]] = []
    if source is None and engine == "dask" and paths:
        from romanasn import cluster

        source = cluster.read_rows(paths, known, _read_block, scheduler=scheduler)
    elif source is None:
        source = _read_all(paths, _fields(known), jobs)
    try:
        for path, row, reason in source:
            bar.update()
            if row is None:
                result.bad.append(Skipped(str(path), reason or "unreadable"))
            else:
                rows.append((path, row))
    finally:
        bar.close()
    result.read, result.seconds = bar.done, bar.seconds
    if not bar.enabled:
        result.summary = bar.summary()
    rows, left_out, conflicts = _settle(rows)
    result.bad.extend(conflicts)
    result.left_out.extend(left_out)
    if result.bad and not skip_bad:
        lines = [f"{s.path}: {s.reason}" for s in result.bad]
        raise PoolError(f"{len(result.bad)} bad file{'s' if len(result.bad) > 1 else ''}"
                        " (nothing written; --skip-bad writes the pool of the others):\n" + "\n".join(lines))
    return rows


def _make_in_database(inputs, target, *, columns, index, skip_bad, update, jobs, engine, scheduler, progress,
                      stream) -> MakePoolResult:
    """:func:`make_pool` into a database pool."""
    from romanasn.pooldb import PoolDB

    columns = list(columns)
    db = PoolDB(target, columns, index)
    try:
        result = MakePoolResult(output=Path(db.label), format="database")
        paths, notes, unreadable = find_files(inputs)
        result.notes.extend(notes)
        result.bad.extend(unreadable)
        if update:
            held = db.names(p.name for p in paths)
            result.kept = sum(p.name in held for p in paths)
            paths = [p for p in paths if p.name not in held]
        elif not paths:
            raise RomanasnError("no exposure files found in " + ", ".join(map(os.fspath, inputs)))
        rows = read_settled(paths, merge_columns(columns), result, skip_bad, jobs, engine, scheduler,
                            progress, stream)
        rows.sort(key=lambda item: item[1]["filename"])
        result.rows = into_database(db, rows, result)
    finally:
        db.close()
    skipped = result.bad + result.left_out
    if (skipped or skip_bad) and db.sqlite and db.url.database:  # beside an SQLite file; a server's: in the log
        result.report = write_report(Path(f"{db.url.database}{SKIPPED_SUFFIX}"), skipped)
    return result


def _check_not_input(output: Path, paths: list[Path]) -> None:
    """Refuse an ``output`` that is one of the exposure files read."""
    for path in paths:
        if path.name == output.name and output.exists() and os.path.samefile(path, output):
            raise UsageError(f"-o {output} is one of the exposure files read: the pool would overwrite it")


def _check_engine(engine: str, scheduler: str | None, jobs: int) -> None:
    """Refuse an unknown engine, options of the other engine, and ``dask`` when Dask is not installed."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine != "dask":
        if scheduler:
            raise UsageError("--scheduler needs --engine dask")
        return
    if jobs != 1:
        raise UsageError("--jobs is for --engine local: with --engine dask the Dask workers read the headers")
    from romanasn.cluster import _distributed

    _distributed()  # a one-line error naming romanasn[dask] when Dask cannot be imported


def _settle(rows: list[tuple[Path, dict[str, Any]]]):
    """One row per file name and per exposure and detector.

    Returns the rows kept, the files left out for a good reason (a copy of
    a file already read, a lower level of an exposure and detector) and
    the conflicting ones (bad).
    """
    by_name: dict[str, tuple[Path, dict[str, Any]]] = {}
    left_out, conflicts = [], []
    for path, row in rows:
        first = by_name.get(row["filename"])
        if first is None:
            by_name[row["filename"]] = (path, row)
        elif first[1] == row:
            left_out.append(Skipped(str(path), f"a copy of {first[0]} (same file name and metadata)"))
        else:
            differ = ", ".join(name for name in row if row[name] != first[1].get(name))
            conflicts.append(Skipped(str(path), f"same file name as {first[0]}, but other metadata ({differ})"))
    by_exposure: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for path, row in by_name.values():
        key = (row["observation_id"], row["detector"])
        first = by_exposure.get(key)
        if first is None:
            by_exposure[key] = (path, row)
            continue
        low, high = sorted([first, (path, row)], key=lambda item: item[1]["level"])
        if low[1]["level"] == high[1]["level"]:
            conflicts.append(Skipped(str(path), f"same exposure {key[0]} and detector {key[1]} at level"
                                     f" {row['level']} as {first[0]}"))
            continue
        by_exposure[key] = high
        left_out.append(_superseded(low, high))
    return list(by_exposure.values()), left_out, conflicts


def _superseded(low: tuple[Any, dict[str, Any]], high: tuple[Any, dict[str, Any]]) -> Skipped:
    row = low[1]
    return Skipped(str(low[0]), f"level {row['level']}; the pool keeps level {high[1]['level']}"
                   f" {high[1]['filename']} for exposure {row['observation_id']} detector {row['detector']}")


def _table(rows: list[dict[str, Any]], known: tuple[PoolColumn, ...]) -> Any:
    """The rows as a table typed like read_pool's: strings "" when empty, others masked."""
    from astropy.table import Column, MaskedColumn, Table

    dtypes = {"int": np.int64, "float": np.float64, "bool": bool}
    columns = []
    for column in known:
        values = [row.get(column.name) for row in rows]
        if column.dtype == "str":
            columns.append(Column(np.array(["" if v is None else v for v in values], dtype=str)
                                  if values else np.array([], dtype="U1"), name=column.name))
            continue
        dtype = dtypes[column.dtype]
        mask = np.array([v is None for v in values], dtype=bool)
        data = np.array([dtype(0) if v is None else v for v in values], dtype=dtype)
        if column.required:
            columns.append(Column(data, name=column.name))
        else:
            columns.append(MaskedColumn(data, name=column.name, mask=mask))
    return Table(columns)


# -- the existing pool (--update) -------------------------------------------------------------


@define
class _Existing:
    """The pool being updated: its table, text (header and data lines) and format."""

    path: Path
    table: Any
    format: str
    header: list[str]
    lines: list[str] | None  # one per table row, or None when they cannot be matched up

    @property
    def names(self) -> set[str]:
        return set(np.asarray(self.table["filename"]).tolist())

    @classmethod
    def load(cls, path: Path, columns: list[PoolColumn]) -> "_Existing":
        from romanasn.pool import read_pool

        with _quiet_repairs():
            table = read_pool(path, columns=columns)
        meta = table.meta.get("romanasn", {})
        fmt = meta.get("format", "ecsv")
        header, lines = _split_text(path.read_text("utf-8"))
        names = np.asarray(table["filename"]).tolist()
        if len(lines) != len(names) or not all(name in line for name, line in zip(names, lines)):
            lines = None  # rows merged or split when read: their lines cannot be kept as they are
        return cls(path, table, "legacy" if fmt == "legacy" else "ecsv", header, lines)

    def settle(self, rows: list[tuple[Path, dict[str, Any]]]):
        """New rows against the old: a higher level replaces an old row, a lower one is left out."""
        ids, detectors = np.asarray(self.table["observation_id"]), np.asarray(self.table["detector"])
        levels = self.table["level"] if "level" in self.table.colnames else None
        files = np.asarray(self.table["filename"]).tolist()
        held = {key: (files[i], None if levels is None or np.ma.is_masked(levels[i]) else int(levels[i]), i)
                for i, key in enumerate(zip(ids.tolist(), detectors.tolist()))}
        return _settle_against(rows, held)


def _settle_against(rows: list[tuple[Path, dict[str, Any]]], held: Mapping[tuple[str, str], tuple[str, Any, Any]]):
    """New rows against those already in a pool, ``held`` by (observation id, detector) as
    (file name, level, handle): a higher level replaces an old row, a lower one is left out.

    Returns the rows kept, the handles of the old rows replaced, and the files left out. A new
    row of a file name already held updates it.
    """
    kept, replaced, left_out = [], set(), []
    for path, row in rows:
        found = held.get((row["observation_id"], row["detector"]))
        if found is None or found[0] == row["filename"]:
            kept.append((path, row))
            continue
        name, old_level, handle = found
        old = (name, {**row, "level": old_level, "filename": name})
        if old_level is not None and row["level"] > old_level:
            replaced.add(handle)
            kept.append((path, row))
            left_out.append(_superseded(old, (path, row)))
        elif old_level is not None and row["level"] < old_level:
            left_out.append(_superseded((path, row), old))
        else:
            left_out.append(Skipped(str(path), f"same exposure {row['observation_id']} and detector"
                                    f" {row['detector']} as {name}, already in the pool"))
    return kept, replaced, left_out


def into_database(db: Any, rows: list[tuple[Path, dict[str, Any]]], result: MakePoolResult) -> int:
    """Put ``rows`` ((path, row) pairs) into the database pool ``db`` in one transaction (see
    :func:`put_settled`); return the pool's rows."""
    with db.writing() as writer:
        put_settled(writer, rows, result)
        return writer.count()


def put_settled(writer: Any, rows: list[tuple[Path, dict[str, Any]]], result: MakePoolResult) -> None:
    """Put ``rows`` into a database pool through ``writer`` (a :class:`romanasn.pooldb.Writer`),
    settled against the rows there; note what was left out and how many rows are new or updated
    in ``result``; log the changes."""
    old = writer.rows("observation_id", {row["observation_id"] for _, row in rows})
    held = {(r["observation_id"], r["detector"]): (r["filename"], r.get("level"), r["filename"]) for r in old}
    rows, replaced, left_out = _settle_against(rows, held)
    result.left_out.extend(left_out)
    writer.delete(replaced)
    result.new_rows, result.updated_rows = writer.put([row for _, row in rows])
    writer.log_changes()


def _split_text(text: str) -> tuple[list[str], list[str]]:
    """A pool's header lines (comments and the names line) and its non-blank data lines."""
    lines = text.splitlines(keepends=True)
    at = 0
    while at < len(lines) and lines[at].startswith("#"):
        at += 1
    header = lines[: at + 1]
    data = [line for line in lines[at + 1:] if line.strip()]
    return header, data


# -- writing -------------------------------------------------------------------------------------


def _render(table: Any, fmt: str, near: Path) -> str:
    """The text of a pool file of ``table`` in ``fmt`` (ECSV is made by write_pool beside ``near``)."""
    if fmt == "legacy":
        return _legacy_text(table)
    from romanasn.pool import write_pool

    temporary = near.with_name(f".{near.name}.{uuid.uuid4().hex}.rows.tmp")
    try:
        write_pool(table, temporary)
        return temporary.read_text("utf-8")
    finally:
        temporary.unlink(missing_ok=True)


def _legacy_text(table: Any) -> str:
    """romancal's ``|``-separated pool: upper-case names, NULL for empty values."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="|", lineterminator="\n")
    writer.writerow([LEGACY_NAMES.get(name, name.upper()) for name in table.colnames])
    cells = []
    for name in table.colnames:
        column = table[name]
        mask = np.asarray(getattr(column, "mask", np.zeros(len(column), bool)))
        values = np.asarray(column).tolist()
        cells.append([LEGACY_NULL if (m or v == "") else _legacy_value(v) for v, m in zip(values, mask)])
    writer.writerows(zip(*cells))
    return out.getvalue()


def _legacy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, float) else repr(value)


def _write(output: Path, fmt: str, new: Any, existing: _Existing | None, replaced: set[int],
           columns: list[PoolColumn], result: MakePoolResult) -> int:
    """Write the pool (new rows after the kept old ones); check it reads back; return its rows."""
    from romanasn.pool import read_pool

    text = _render(new, fmt, output)
    if existing is not None:
        header, lines = _split_text(text)
        same_form = existing.lines is not None and header == existing.header and fmt == existing.format
        if same_form:
            kept = [line for i, line in enumerate(existing.lines) if i not in replaced]
            text = "".join(existing.header + kept + lines)
        else:
            from astropy.table import vstack

            old = existing.table.copy(copy_data=True)
            old.meta = {}
            if replaced:
                old.remove_rows(sorted(replaced))
            merged = vstack([old, new], join_type="outer", metadata_conflicts="silent")
            text = _render(_fill(merged), fmt, output)
            result.notes.append(f"{output}: the pool's columns or format changed: every row was rewritten")
    with replacing(output) as temporary:
        temporary.write_text(text, "utf-8")
        try:
            with _quiet_repairs():
                table = read_pool(temporary, columns=columns)
        except PoolError as exc:
            raise PoolError(f"the pool made does not read back (a bug, please report it):\n{exc}") from exc
    return len(table)


@contextmanager
def _quiet_repairs() -> Iterator[None]:
    """Silence read_pool's warnings about the legacy form (upper-case names, NULL) that make-pool writes."""
    logger = logging.getLogger("romanasn.pool")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fill(table: Any) -> Any:
    """Masked text cells (from columns only one side had) as empty strings."""
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind in "UO" and getattr(column, "mask", None) is not None:
            from astropy.table import Column

            table[name] = Column(np.asarray(column.filled("")), name=name)
    return table


def write_report(path: Path, skipped: list[Skipped]) -> Path:
    """The files left out, one a line: ``path<TAB>reason`` after a comment line.

    A path that is not UTF-8 (bytes the file system does not decode) is
    written with ``\\udcXX`` escapes for those bytes.
    """
    lines = ["# files left out of the pool: path<TAB>reason\n"]
    lines += [f"{s.path}\t{s.reason}\n" for s in skipped]
    with replacing(path) as temporary:
        temporary.write_text("".join(lines), "utf-8", errors="backslashreplace")
    return path


# -- command line ---------------------------------------------------------------------------------


def configure(parser: Any) -> None:
    """Add make-pool's arguments to ``parser``."""
    parser.add_argument("inputs", nargs="+", metavar="PATH",
                        help="ASDF exposure files, folders (searched recursively for *.asdf) or globs")
    parser.add_argument("-o", "--output", metavar="POOL", help="the pool file to write")
    parser.add_argument("--pool-db", metavar="DB",
                        help="instead of -o: insert or update the rows in a database pool, in one transaction"
                             " (an SQLite file, sqlite:///FILE or postgresql://...)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="ecsv (default; typed, what generate reads) or legacy (romancal's |-separated"
                             " form); with --update, the existing pool's format by default")
    parser.add_argument("--skip-bad", action="store_true",
                        help=f"write the pool of the good files and list the others in POOL{SKIPPED_SUFFIX}"
                             " (default: any bad file stops the run and nothing is written)")
    parser.add_argument("--update", action="store_true",
                        help="add the files not yet in POOL without re-reading the others")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing POOL")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="read headers in N processes")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local (default), or dask: read the headers on the workers of a Dask cluster,"
                             " which must see the files at the same paths (needs romanasn[dask])")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --engine dask, a running dask.distributed scheduler, e.g. tcp://HOST:8786"
                             " (default: a local cluster, a worker process per core)")


def run(args: Any, pm: Any) -> int:
    """``romanasn make-pool``: make the pool, print a summary."""
    pm.check()
    extra = [found.item for found in pm.pool_columns()]
    from romanasn.pooldb import group_columns

    result = make_pool(args.inputs, args.output, pool_db=args.pool_db, index=group_columns(pm), columns=extra,
                       format=args.format, skip_bad=args.skip_bad, update=args.update, overwrite=args.overwrite,
                       jobs=args.jobs, engine=args.engine, scheduler=args.scheduler)
    if result.summary and not args.quiet:
        print(result.summary, file=sys.stderr)
    for note in result.notes:
        log.warning("%s", note)
    superseded = [s for s in result.left_out if s.reason.startswith("level ")]
    for s in result.left_out:
        log.debug("left out %s: %s", s.path, s.reason)
    if superseded:
        log.info("%s left out for a higher level of the same exposure and detector (e.g. %s: %s)",
                 count(len(superseded), "file"), superseded[0].path, superseded[0].reason)
    for s in result.bad:
        log.warning("skipped %s: %s", s.path, s.reason)
    if not args.quiet:
        added = f", {result.new_rows} new" if args.update or args.pool_db else ""
        added += f", {result.updated_rows} updated" if args.pool_db else ""
        print(f"wrote {result.output} ({result.format}): {count(result.rows, 'row')}{added}")
        if args.update and result.kept:
            print(f"  {count(result.kept, 'file')} already in the pool (not read)")
        left = len(result.bad) + len(result.left_out)
        if left:
            where = f": see {result.report}" if result.report else " (listed above with -v)"
            print(f"  {count(left, 'file')} left out ({len(result.bad)} bad){where}")
    return 0


# -- romanasn pool export|import ----------------------------------------------------------------


def configure_pool(parser: Any) -> None:
    """Add ``romanasn pool``'s arguments to ``parser``."""
    parser.add_argument("action", choices=("export", "import"),
                        help="export: write the database pool to FILE; import: put FILE's rows into it")
    parser.add_argument("file", metavar="FILE", help="the pool file (ECSV when exported)")
    parser.add_argument("--pool-db", required=True, metavar="DB",
                        help="the database pool: an SQLite file, sqlite:///FILE or postgresql://...")
    parser.add_argument("--overwrite", action="store_true", help="with export, replace an existing FILE")


def run_pool(args: Any, pm: Any) -> int:
    """``romanasn pool export|import``: move a pool between a database and a file, checked both ways."""
    from romanasn.pool import read_pool, write_pool
    from romanasn.pooldb import PoolDB, group_columns, hidden, table_rows

    pm.check()
    extra = [found.item for found in pm.pool_columns()]
    if args.action == "export":
        if os.path.exists(args.file) and not args.overwrite:
            raise UsageError(f"{args.file} exists: give --overwrite to replace it")
        table = read_pool(args.pool_db, columns=extra)
        table.meta = {}
        write_pool(table, args.file)
        message = f"wrote {args.file}: {len(table)} rows from {hidden(os.fspath(args.pool_db))}"
    else:
        table = read_pool(args.file, columns=extra)
        db = PoolDB(args.pool_db, extra, group_columns(pm))
        result = MakePoolResult(output=args.file, format="database")
        try:
            rows = [(args.file, row) for row in table_rows(table)]
            result.rows = into_database(db, rows, result)
        finally:
            db.close()
        for skipped in result.left_out:
            log.warning("left out %s", skipped.reason)
        message = (f"imported {args.file} into {db.label}: {result.rows} rows, {result.new_rows} new,"
                   f" {result.updated_rows} updated")
    if not args.quiet:
        print(message)
    return 0
