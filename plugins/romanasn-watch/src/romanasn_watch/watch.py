"""``romanasn watch``: associations kept up to date as exposure files land.

A watch notices new and changed ``*.asdf`` files under a landing folder
(inotify through watchdog, or polling), reads their headers as
``make-pool`` does, commits their rows to a database pool in one
transaction (with the size and time of each file read, in
``landed_files``), then updates the associations of the programs that
changed (``generate --update --prune`` from the database, all or nothing)
and prints one JSON line per association file added, changed or removed.

Files arriving close together are taken as one batch: a batch starts once
no file has come for ``settle`` seconds, or ``longest`` seconds after the
first one. Their headers are read as they come, while the batch gathers (in
``jobs`` processes kept for the watch's life); a file changed since its
header was read is read again with the batch. A file that cannot be read
yet (still being copied, or bad) is left for its next change.

Restarts: on start the output folder's interrupted run is finished or
undone, the events of its last run that were not printed are printed, files
not yet read (or changed since) are read and any program changed since the
folder's last run is updated. Events are numbered by ``watch_events`` in
the database: a line is printed (and, with ``--events FILE``, on disk) before
its number is committed, and a line found at the end of FILE but not
committed is committed, not printed again; so a restart neither loses nor
repeats an event in FILE (on stdout a line printed just before a kill may
be printed again). SIGINT and SIGTERM stop the watch once the batch under
way is done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import orjson
import sqlalchemy as sa

from romanasn import incremental, makepool, output
from romanasn.columns import merge_columns
from romanasn.engine import paused_gc
from romanasn.errors import UsageError
from romanasn.folder import recover
from romanasn.pool import read_pool
from romanasn.pooldb import PoolDB, among, group_columns, insert
from romanasn.plugins.types import PoolColumn, RunConfig

log = logging.getLogger("romanasn.watch")

__all__ = ["Watch"]

_META = sa.MetaData()
LANDED = sa.Table(
    "landed_files", _META,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
)
EVENTS = sa.Table(
    "watch_events", _META,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("folder", sa.Text, nullable=False),
    sa.Column("run", sa.Text, nullable=False),
    sa.Column("item", sa.Integer, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.UniqueConstraint("folder", "run", "item"),
    sqlite_autoincrement=True,
)
_LAST_LINES = 1 << 20  # bytes at the end of an events file holding its last line (and the one cut short)
_KEYS = 5000  # paths in one IN (...) list
_EARLY = 0.05  # seconds between handing the files come so far to the readers, while a batch gathers


class _Inbox:
    """Paths reported by the observer, taken in batches."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.paths: dict[str, None] = {}  # in the order they came
        self.last = 0.0

    def put(self, path: str) -> None:
        with self.condition:
            self.paths[path] = None
            self.last = time.monotonic()
            self.condition.notify()

    def take(self, stop: threading.Event, settle: float, longest: float,
             early: Callable[[list[str]], None] | None = None) -> set[str]:
        """The next batch: once quiet for ``settle`` seconds or ``longest`` after its first path.
        While the batch gathers, ``early`` is given the paths come since it was last called,
        every ``_EARLY`` seconds at most."""
        handed, given = 0, 0.0
        with self.condition:
            while not self.paths and not stop.is_set():
                self.condition.wait(0.2)
            first = time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                wait = min(settle - (now - self.last), longest - (now - first))
                if wait <= 0:
                    break
                if early is not None and handed < len(self.paths) and now - given >= _EARLY:
                    new = list(itertools.islice(self.paths, handed, None))
                    handed, given = len(self.paths), now
                    self.condition.release()  # the observer goes on putting paths meanwhile
                    try:
                        early(new)
                    finally:
                        self.condition.acquire()
                    continue
                self.condition.wait(min(wait, _EARLY))
            taken, self.paths = set(self.paths), {}
            return taken


def _event_types(observer: Any) -> list[type]:
    """The events a watch asks ``observer`` for: a file made, moved in, removed, or written (closed
    after writing where the observer tells, as inotify does; modified otherwise). Not a file
    opened or closed unwritten, nor each write to it: the watch's own reading of each header
    would wake it twice per file, a copy once per write, a hard link twice."""
    from watchdog import events

    try:
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:  # not Linux
        InotifyObserver = ()  # noqa: N806
    written = events.FileClosedEvent if isinstance(observer, InotifyObserver) else events.FileModifiedEvent
    return [events.FileCreatedEvent, events.FileMovedEvent, events.FileDeletedEvent, written,
            events.DirCreatedEvent, events.DirMovedEvent]


class _Handler:
    """A watchdog event handler putting the ``*.asdf`` paths of file events (and folders moved in) in the inbox."""

    def __init__(self, inbox: _Inbox) -> None:
        self.inbox = inbox

    def dispatch(self, event: Any) -> None:
        if event.is_directory and event.event_type not in ("created", "moved"):
            return
        for path in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(path)
            if event.is_directory and path and event.event_type in ("created", "moved"):
                for found in Path(path).rglob("*.asdf"):
                    self.inbox.put(str(found))
            elif path.endswith(".asdf"):
                self.inbox.put(path)


class Watch:
    """One watch: a landing folder, a database pool, an output folder and where events go."""

    def __init__(self, landing: str | os.PathLike, pool_db: str | os.PathLike, out: str | os.PathLike, *,
                 plugin_manager: Any, config: RunConfig, events: TextIO, format: str = "json",
                 columns: Iterable[PoolColumn] = (), jobs: int = 1, settle: float = 0.25,
                 longest: float = 2.0) -> None:
        self.landing = Path(landing).resolve()
        if not self.landing.is_dir():
            raise UsageError(f"{landing}: not a folder")
        self.out = Path(out).resolve()
        self.pm, self.config, self.format, self.jobs = plugin_manager, config, format, jobs
        self.columns = list(columns)
        self.target = pool_db
        self.db = PoolDB(pool_db, self.columns, group_columns(plugin_manager))
        self.events = events
        self.settle, self.longest = settle, longest
        self.inbox = _Inbox()
        self.readers: makepool.Readers | None = None
        self.early: list[tuple[dict[str, tuple[int, int]], Callable]] = []  # reads begun, each file's size and time

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll: float | None = None) -> None:
        """Catch up, then take batches until ``stop`` is set (``poll``: poll every so many seconds
        instead of inotify)."""
        self.start()
        self._readers()  # its processes forked before the observer's threads start
        observer = self._observer(poll)
        try:
            self.batch(self.scan() | self.gone())
            log.info("caught up with %s", self.landing)
            while not stop.is_set():
                paths = self.inbox.take(stop, self.settle, self.longest, early=self.read_early)
                if paths and not stop.is_set():
                    self.batch(paths)
        finally:
            observer.stop()
            observer.join()
            if self.readers is not None:
                self.readers.close()
            self.db.close()

    def _readers(self) -> makepool.Readers:
        if self.readers is None:
            self.readers = makepool.Readers.of(self.columns, self.jobs)
        return self.readers

    def _observer(self, poll: float | None) -> Any:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=poll) if poll else Observer()
        observer.schedule(_Handler(self.inbox), str(self.landing), recursive=True,
                          event_filter=_event_types(observer))
        try:
            observer.start()
        except OSError as exc:  # no inotify (or no watches left): poll instead
            log.warning("%s: cannot watch with inotify (%s): polling every second instead", self.landing, exc)
            observer = PollingObserver(timeout=1.0)
            observer.schedule(_Handler(self.inbox), str(self.landing), recursive=True,
                              event_filter=_event_types(observer))
            observer.start()
        return observer

    def start(self) -> None:
        """Make the tables, finish or undo an interrupted run, print its events not printed yet."""
        with self.db.writing() as writer:
            _META.create_all(writer.conn)
        if self.out.is_dir():
            recover(self.out)
        self.emit_report()

    def scan(self) -> set[str]:
        """Every ``*.asdf`` file under the landing folder."""
        return {str(path) for path in self.landing.rglob("*.asdf")}

    def batch(self, paths: Iterable[str]) -> None:
        """Read the files new or changed among ``paths``, commit their rows, update the associations."""
        try:
            with paused_gc():  # a batch's records live until it ends; collected once it is done
                self.ingest(paths)
                self.update()
        except KeyboardInterrupt:  # Ctrl-C while the output folder was committing: its events are in its report
            self.emit_report()
            raise

    def ingest(self, paths: Iterable[str]) -> None:
        """Commit the rows of the files not read yet, or changed since, and take out the rows of
        the files read that are gone, in one transaction."""
        early, self.early = self.early, []
        stats, missing = {}, set()
        inside = f"{self.landing}{os.sep}"
        for path in sorted(set(paths)):
            key = path[len(inside):] if path.startswith(inside) else os.path.relpath(path, self.landing)
            try:
                info = os.stat(path)
            except OSError:
                missing.add(key)
                continue
            stats[key] = (path, info.st_size, info.st_mtime_ns)
        seen = self._landed([*stats, *missing])
        fresh = {key: value for key, value in stats.items() if seen.get(key) != value[1:]}
        gone = sorted(missing & set(seen))
        if not fresh and not gone:
            return
        result = makepool.MakePoolResult(output=Path(self.db.label), format="database")
        source = self._read(fresh.values(), early)
        rows = makepool.read_settled([path for path, _, _ in source], merge_columns(self.columns), result, True,
                                     self.jobs, "local", None, False, None, source=source)
        for skipped in result.bad:
            log.warning("not read yet: %s: %s", skipped.path, skipped.reason)
        bad = {skipped.path for skipped in result.bad}
        read = [(key, size, mtime) for key, (path, size, mtime) in fresh.items() if path not in bad]
        with self.db.writing() as writer:
            removed = writer.delete(os.path.basename(key) for key in gone)
            for start in range(0, len(gone), _KEYS):
                leaving = among(writer.conn, LANDED.c.path, gone[start:start + _KEYS])
                writer.conn.execute(sa.delete(LANDED).where(leaving))
            makepool.put_settled(writer, rows, result)
            insert(writer.conn, LANDED, read, key="path")
        log.info("%d files read: %d rows new, %d updated; %d files gone: %d rows removed", len(read),
                 result.new_rows, result.updated_rows, len(gone), removed)

    def read_early(self, paths: list[str]) -> None:
        """Start reading the headers of ``paths``, come while a batch gathers (a file changed
        since is read again with the batch)."""
        started = {}
        for path in paths:
            with contextlib.suppress(OSError):
                info = os.stat(path)
                started[path] = (info.st_size, info.st_mtime_ns)
        if started:
            self.early.append((started, self._readers().start([Path(path) for path in started])))

    def _read(self, fresh: Iterable[tuple[str, int, int]], early: list) -> list[tuple[Path, dict | None, str | None]]:
        """``(path, row, reason)`` of each file ``(path, size, time)``: as read ``early`` (by
        :meth:`read_early`) when it has not changed since, read now otherwise."""
        read = {}  # path: (its size and time when read early, row, reason)
        for started, reading in early:
            read.update((path, (stat, row, reason))
                        for (path, stat), (_, row, reason) in zip(started.items(), reading()))
        fresh = list(fresh)
        unread = [path for path, size, mtime in fresh if read.get(path, (None,))[0] != (size, mtime)]
        read.update((path, (None, row, reason)) for path, (_, row, reason)
                    in zip(unread, self._readers().start([Path(path) for path in unread])()))
        return [(Path(path), *read[path][1:]) for path, _, _ in fresh]

    def gone(self) -> set[str]:
        """The files read earlier that are no longer in the landing folder."""
        with self.db.reading() as conn:
            paths = conn.execute(sa.select(LANDED.c.path)).scalars().all()
        return {str(self.landing / path) for path in paths if not (self.landing / path).exists()}

    def _landed(self, keys: Iterable[str]) -> dict[str, tuple[int, int]]:
        found = {}
        keys = sorted(keys)
        with self.db.reading() as conn:
            for start in range(0, len(keys), _KEYS):
                query = sa.select(LANDED).where(among(conn, LANDED.c.path, keys[start:start + _KEYS]))
                found.update((row.path, (row.size, row.mtime_ns)) for row in conn.execute(query))
        return found

    def update(self) -> None:
        """Update the associations of the groups changed since the folder's last run (of the programs
        changed, when the folder is not yet made); print the events."""
        report = incremental.last_report(self.out)
        since = report["pool_seq"] if report is not None else None
        if self.db.changes(since or 0)[1] == (since or 0):  # nothing changed (or an empty pool)
            return
        outcome = incremental.update(self.target, self.out, plugin_manager=self.pm, config=self.config,
                                     format=self.format, prune=True, inputs=[self.db.label], columns=self.columns,
                                     events=True)
        if outcome is not None:
            self.emit(outcome.run_id, outcome.events)
            return
        table = read_pool(self.target, columns=self.columns, since=since)
        programs = table.meta["romanasn"].get("programs")
        outcome = output.generate_to(table, self.out, plugin_manager=self.pm, config=self.config,
                                     format=self.format, update=True, prune=True, programs=programs,
                                     inputs=[self.db.label], events=True)
        self.emit(outcome.run_id, outcome.events)

    # -- events ------------------------------------------------------------------------------------

    def emit_report(self) -> None:
        """Print the events of the folder's last run that were not printed yet."""
        report = incremental.last_report(self.out)
        if report is not None and report.get("run_id"):
            self.emit(report["run_id"], report.get("events", []))

    def emit(self, run_id: str, events: list[dict]) -> None:
        """Print those of ``events`` not printed yet, numbered on from the last event, one JSON line
        each, then commit their numbers."""
        folder = str(self.out)
        with self.db.writing() as writer:
            conn = writer.conn
            query = sa.select(EVENTS.c.item).where(EVENTS.c.folder == folder, EVENTS.c.run == run_id)
            done = set(conn.execute(query).scalars())
            todo = [(item, event) for item, event in enumerate(events) if item not in done]
            if not todo:
                return
            first = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(EVENTS.c.seq), 0))).scalar()) + 1
            run = orjson.dumps(run_id).decode()  # each line: {"seq": ..., the event's fields, "run": ...}
            lines = [f'{{"seq":{first + k},{orjson.dumps(event).decode()[1:-1]},"run":{run}}}'
                     for k, (_, event) in enumerate(todo)]
            self._print(lines[_already_written(self.events, first, run_id):])
            insert(writer.conn, EVENTS, [(first + k, folder, run_id, item, line)
                                         for k, ((item, _), line) in enumerate(zip(todo, lines))])

    def _print(self, lines: list[str]) -> None:
        if not lines:
            return
        self.events.write("".join(line + "\n" for line in lines))
        self.events.flush()
        if _regular_file(self.events) is not None:
            os.fsync(self.events.fileno())


def _regular_file(stream: TextIO) -> str | None:
    """The path through which the events ``stream`` can be read back, when it is a regular file
    (``--events FILE``, or stdout sent to a file); None for a pipe or a terminal."""
    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    through = f"/proc/self/fd/{fd}"
    return through if os.path.exists(through) else getattr(stream, "name", None)


def _already_written(stream: TextIO, first: int, run_id: str) -> int:
    """How many lines of run ``run_id`` numbered ``first`` or more the events file ``stream`` ends
    with: printed before a kill, their numbers not committed (0 for a pipe). Lines are printed in
    the order of their numbers, so the last one says how many. A last line cut short by a kill is
    taken off the file."""
    name = _regular_file(stream)
    if name is None:
        return 0
    with open(name, "rb+") as file:
        start = max(0, file.seek(0, os.SEEK_END) - _LAST_LINES)
        file.seek(start)
        data = file.read()
        if not data.endswith(b"\n"):
            data = data[:data.rfind(b"\n") + 1]
            file.truncate(start + len(data))
    last = json.loads(data.splitlines()[-1]) if data.strip() else {}
    return max(0, last["seq"] - first + 1) if last.get("run") == run_id else 0
