"""An output folder changed all or nothing.

The folder is locked (``flock`` on the folder itself) for the whole run; a
second run into it fails at once, naming the folder. A new file is made in
place (its name first noted in the journal ``.romanasn-journal``); a file that
replaces an existing one is made in a staging folder inside the output
folder and moved into place only when every file is ready. A run that fails
or is interrupted before that point removes what it made; once every file
is ready the run writes ``commit`` to the journal, and from then on
finishes even if interrupted (Ctrl-C, SIGTERM and SIGHUP wait until the
folder is complete); a commit that cannot be finished (a folder in the way)
is taken back, the files it replaced having been kept. A run that was killed
is finished or undone, as its journal says, by the next run into the folder
(:func:`recover`). Every name read back from a journal must be a bare file
name of the folder: a journal naming anything else is refused, untouched.
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from attrs import define

from romanasn.errors import AsnError
from romanasn.interrupt import SIGNALS

log = logging.getLogger("romanasn.folder")

__all__ = ["Folder", "locked", "recover", "safe_name", "JOURNAL", "STAGING_PREFIX", "NAME_MAX"]

JOURNAL = ".romanasn-journal"
STAGING_PREFIX = ".romanasn-staging-"
_MOVES = ".moves.json"
_PREVIOUS = ".previous"
NAME_MAX = 255  # bytes in a file name, on every file system romanasn writes to


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_file(path: Path | str, data: bytes | Iterable[bytes]) -> None:
    """Make the new file ``path`` holding ``data``, bytes or pieces of bytes (every file a run
    writes goes through here)."""
    fd = os.open(path, _CREATE, 0o666)
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            _write_all(fd, data)
        else:
            for piece in data:
                _write_all(fd, piece)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    written = os.write(fd, data)
    if written == (data.nbytes if type(data) is memoryview else len(data)):  # nearly always
        return
    view = memoryview(data).cast("B")
    while written < len(view):
        view = view[written:]
        written = os.write(fd, view)


_BATCH = 1 << 20  # bytes of files sent to the child at a time
_PIPE_SIZE = 1 << 20  # the pipe to the child holds a whole batch, when the system allows it


class _Files:
    """Writes files in a process of its own, so that the file system's work runs beside the main one's.

    Each file's name goes to the journal before the file is made. The main
    process sends batches of files through a pipe; the writer reports the
    first error through another pipe and stops. The writer is a new
    interpreter running :func:`_files_child` (a fork would hold as its own
    every page of the main process's memory changed while it runs), in a
    session of its own: Ctrl-C is the main process's to handle, and it
    ends the writer when it gives up.

    A batch is ``"COUNT NAMES_SIZE BODY_SIZE\\n"``, then the names (UTF-8, one a
    line: no name holds a line break), a byte per file (1: staged), each file's
    size (8-byte integers), and the files' data back to back. The writer takes
    the data as views of the batch it read: no copy of a file's bytes is made
    in either process besides the one into the pipe and the one out of it.
    """

    def __init__(self, out: Path, staging: Path, journal: Any) -> None:
        self.out, self.staging, self.journal = out, staging, journal
        self._clear()
        self.process: subprocess.Popen | None = None
        self.pipe = -1
        self.errors = -1

    def _clear(self) -> None:
        self.names: list[str] = []
        self.staged: list[bool] = []
        self.data: list[bytes | memoryview] = []
        self.buffered = 0

    def start(self) -> None:
        self.journal.flush()
        data_r, data_w = os.pipe()
        error_r, error_w = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # a larger pipe lets this process run ahead
            fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        fds = (data_r, error_w, self.journal.fileno())
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, _HOME, *map(str, fds), str(self.out), str(self.staging)],
                pass_fds=fds, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(data_r)
            os.close(error_w)
        self.pipe, self.errors = data_w, error_r

    def put(self, names: list[str], data: list[bytes | memoryview], staged: list[bool]) -> None:
        """Write the files ``names`` holding ``data`` (each in the staging folder when ``staged``)."""
        self.names += names
        self.data += data
        self.staged += staged
        self.buffered += sum(map(len, data))
        if self.buffered >= _BATCH:
            self._send()

    def _send(self) -> None:
        names = "\n".join(self.names).encode("utf-8")
        sizes = array.array("q", map(len, self.data))
        header = b"%d %d %d\n" % (len(self.names), len(names), self.buffered)
        view = memoryview(b"".join([header, names, bytes(self.staged), sizes.tobytes(), *self.data]))
        self._clear()
        try:
            while view:
                view = view[os.write(self.pipe, view):]
        except BrokenPipeError:
            self._wait()
            raise AsnError(f"{self.out}: the process writing files stopped") from None

    def finish(self) -> None:
        """Wait until every file is written; raise the first error."""
        if self.names:
            self._send()
        self._wait()

    def stop(self) -> None:
        """Stop writing (what is written stays until the journal is rolled back)."""
        if self.process is None:
            return
        self.process.kill()
        self._clear()
        with contextlib.suppress(BaseException):
            self._wait()

    def _wait(self) -> None:
        if self.pipe >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pipe)
            self.pipe = -1
        process, self.process = self.process, None
        if process is None:
            return
        status = process.wait()
        with os.fdopen(self.errors, "rb") as stream:
            message = stream.read().decode("utf-8", "replace")
        self.errors = -1
        if message:
            number, filename, text = message.split("\t", 2)
            raise OSError(int(number), text, filename or None)
        if status != 0:
            raise AsnError(f"{self.out}: the process writing files failed (status {status})")


_HOME = str(Path(__file__).resolve().parents[1])  # where this romanasn is imported from: the writer's too
_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); "
          "from romanasn.folder import _files_child; _files_child(*sys.argv[2:])")


def _files_child(data: str, errors: str, journal: str, out: str, staging: str) -> None:
    """The writer of :class:`_Files` (file descriptors and folders as its command line gives
    them): make the files of each batch sent, the batch's new names noted in the journal first."""
    folders, journal = (f"{out}/", f"{staging}/"), int(journal)
    with os.fdopen(int(data), "rb", buffering=1 << 16) as stream:
        try:
            while header := stream.readline():
                count, names_size, body_size = map(int, header.split())
                names = _read_exactly(stream, names_size).decode("utf-8").split("\n")
                staged = _read_exactly(stream, count)
                sizes = memoryview(_read_exactly(stream, 8 * count)).cast("q").tolist()
                body = memoryview(_read_exactly(stream, body_size))
                new = "".join(f"+{name}\n" for name, in_staging in zip(names, staged) if not in_staging)
                if new:
                    view = memoryview(new.encode("utf-8"))
                    while view:
                        view = view[os.write(journal, view):]
                at = 0
                for name, in_staging, size in zip(names, staged, sizes):
                    _write_file(folders[in_staging] + name, body[at:at + size])
                    at += size
        except OSError as exc:
            message = f"{exc.errno or 0}\t{exc.filename or ''}\t{exc.strerror or exc}"
            os.write(int(errors), message.encode("utf-8", "replace"))
            sys.exit(1)
        except EOFError:  # the main process is gone
            sys.exit(1)


def _read_exactly(stream: Any, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the batch was cut short")
    return data


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP (in the main thread) until the block is done, then
    deliver the first one caught to its handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for number in SIGNALS:
        try:
            previous[number] = signal.signal(number, lambda n, frame: caught.append(n))
        except (ValueError, OSError):
            pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if caught:
        signal.raise_signal(caught[0])


class Folder:
    """One run's changes to an output folder, applied all or nothing (see the module's docstring)."""

    def __init__(self, out: str | os.PathLike, listing: bool = True) -> None:
        self.out = Path(out)
        self.listing = listing  # False: look each name up when asked (a folder of a million files is not listed)
        self.created = False
        self.lock = -1
        self.journal: Any = None
        self.staging: Path | None = None
        self.files: _Files | None = None
        self.existing: set[str] = set()
        self.replaced: list[str] = []
        self.removed: list[str] = []
        self.discarded: set[str] = set()
        self.committed = False

    def open(self) -> "Folder":
        """Lock the folder (made if need be), start the journal and the process writing files."""
        if self.out.exists() and not self.out.is_dir():
            raise AsnError(f"{self.out}: not a folder")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.out.mkdir()
                self.created = True
            except FileExistsError:
                pass
            self.lock = _lock(self.out)
            _recover(self.out)
            self.existing = set(os.listdir(self.out)) if self.listing else _Present(self.out)  # not our journal
            fd = os.open(self.out / JOURNAL, _CREATE | os.O_NOFOLLOW, 0o644)
            self.journal = os.fdopen(fd, "w", encoding="utf-8")
            self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
            self.journal.write(f"staging {self.staging.name}\n" + ("created\n" if self.created else ""))
            self.journal.flush()
            self.files = _Files(self.out, self.staging, self.journal)
            self.files.start()
        except BaseException:
            self.abort()
            raise
        return self

    def check_names(self, names: Iterable[str]) -> None:
        """Refuse, before anything is written, a name the commit could not make: one that leaves
        the folder, is too long, or is taken by something other than a file."""
        for name in names:
            if not safe_name(name):
                raise AsnError(f"{self.out / name}: would be written outside {self.out}")
            if len(name.encode("utf-8")) > NAME_MAX:
                raise AsnError(f"{self.out}: file name {name[:40]!r}... is {len(name.encode())} bytes long, "
                               f"more than the {NAME_MAX} a file system allows")
            if name in self.existing and not _is_file(self.out / name):
                raise AsnError(f"{self.out / name}: in the way (not a file): move it away and run again")

    def add(self, name: str, data: bytes) -> None:
        """Write the file ``name`` (new, or replacing an existing one at commit)."""
        self.add_files([name], [data])

    def add_files(self, names: list[str], data: list[bytes | memoryview]) -> None:
        """Write the files ``names`` holding ``data`` (each new, or replacing an existing one at commit)."""
        staged = [name in self.existing for name in names] if self.existing else [False] * len(names)
        if self.existing:
            self.replaced += [name for name, replacing in zip(names, staged) if replacing]
        self.files.put(names, data, staged)

    def discard(self, name: str) -> None:
        """Take back the file ``name`` added earlier in this run (done at commit)."""
        self.discarded.add(name)

    def remove(self, name: str) -> None:
        """Remove the file ``name`` at commit."""
        self.removed.append(name)

    def commit(self, last: str, data: bytes | Iterable[bytes], then: Callable[[], None] | None = None) -> None:
        """Make every change visible, the file ``last`` (the run report) after the others; from
        the commit on, finish regardless.

        The files replaced or removed are kept until the end: when the changes cannot all be
        made (something in the way), or ``then`` (called once they are visible) raises, they are
        taken back and the error raised.
        """
        self.check_names([last])
        self.files.finish()
        self._drop_discarded()
        _write_file(self.staging / last, data)
        moves = {"replace": self.replaced + [last], "remove": self.removed}
        _write_file(self.staging / _MOVES, json.dumps(moves).encode())
        _keep_previous(self.out, self.staging / _PREVIOUS, moves)
        with _uninterrupted():
            self._note("commit")
            self.committed = True
            try:
                _roll_forward(self.out, self.staging, moves, keep_staging=True)
            except OSError as exc:
                self._take_back()
                raise AsnError(f"{exc.filename or self.out}: cannot be replaced ({exc.strerror or exc}); "
                               f"the folder was left as it was") from exc
            if then is None:
                self._finish()
        if then is None:
            return
        try:
            then()
        except BaseException:
            with _uninterrupted():
                self._take_back()
            raise
        with _uninterrupted():
            self._finish()

    def _finish(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._close()

    def _take_back(self) -> None:
        self._note("undo")
        _take_back(self.out, self.out / JOURNAL)
        self._close()

    def _drop_discarded(self) -> None:
        for name in sorted(self.discarded):
            staged = name in self.existing
            ((self.staging if staged else self.out) / name).unlink(missing_ok=True)
        self.replaced = [name for name in self.replaced if name not in self.discarded]

    def _note(self, line: str) -> None:
        """Write ``line`` to the journal, on disk before going on."""
        self.journal.write(line + "\n")
        self.journal.flush()
        os.fsync(self.journal.fileno())

    def abort(self) -> None:
        """Undo every change made so far (after the commit, leave the journal for the next run to finish)."""
        if self.committed:
            if self.journal is not None:
                with contextlib.suppress(OSError):
                    self.journal.close()
                self.journal = None
            self._unlock()
            return
        with _uninterrupted():
            if self.files is not None:
                self.files.stop()
            if self.journal is not None:
                self.journal.flush()
                _roll_back(self.out, self.out / JOURNAL)
                self._close()
            elif self.created and self.lock >= 0:  # only an empty folder this run made and holds
                with contextlib.suppress(OSError):
                    self.out.rmdir()
            self._unlock()

    def _close(self) -> None:
        if self.journal is not None:
            with contextlib.suppress(OSError):
                (self.out / JOURNAL).unlink()
            self.journal.close()
            self.journal = None
        self._unlock()

    def _unlock(self) -> None:
        if self.lock >= 0:
            os.close(self.lock)
            self.lock = -1


class _Present:
    """The names in a folder, each looked up when first asked about."""

    def __init__(self, out: Path) -> None:
        self.inside = os.path.join(out, "")  # names joined as text: no Path made for each
        self.known: dict[str, bool] = {}

    def __contains__(self, name: str) -> bool:
        if name not in self.known:
            self.known[name] = os.path.lexists(self.inside + name)
        return self.known[name]


def _lock(out: Path, wait: bool = False) -> int:
    """Lock the folder ``out`` for this process; the lock's fd. When another run holds it, an
    error, or with ``wait`` wait until it is done."""
    fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            if not wait:
                raise AsnError(f"{out}: another romanasn run is writing this folder") from exc
            log.info("%s: waiting for another romanasn run writing this folder", out)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of the folder ``path`` (the one runs writing into it take), waiting for it."""
    fd = _lock(Path(path), wait=True)
    try:
        yield
    finally:
        os.close(fd)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file or a symbolic link (which a file may replace), or nothing."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True


@define(frozen=True)
class _Journal:
    """What a run's journal says: its staging folder, whether it made the output folder, the
    new files it made, how far it got (``open``, ``commit`` or ``undo``), and the moves of its
    commit (when it wrote them)."""

    staging: str | None
    created: bool
    names: list[str]
    state: str
    moves: dict[str, list[str]] | None

    @classmethod
    def read(cls, out: Path) -> "_Journal":
        """The journal of ``out``, every name in it checked (:func:`_bare`)."""
        path = out / JOURNAL
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _foreign(path, "is a symbolic link") from exc
            raise
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _foreign(path, "is not a file")
            text = stream.read(_JOURNAL_MAX + 1).decode("utf-8", errors="replace")
        if len(text) > _JOURNAL_MAX:
            raise _foreign(path, f"is larger than {_JOURNAL_MAX} bytes")
        staging, created, names, state = None, False, [], "open"
        for line in text.splitlines():
            if line.startswith("staging "):
                staging = _bare(line[len("staging "):], path, staging=True)
            elif line == "created":
                created = True
            elif line.startswith("+"):
                names.append(_bare(line[1:], path))
            elif line in ("commit", "undo"):
                state = line
        return cls(staging, created, names, state, _read_moves(out, staging))


_JOURNAL_MAX = 1 << 30


def _read_moves(out: Path, staging: str | None) -> dict[str, list[str]] | None:
    """The moves a run's commit wrote in its staging folder (None when it did not), every name checked."""
    if staging is None:
        return None
    folder = out / staging
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise _foreign(folder, "is not a folder")
        text = (folder / _MOVES).read_bytes()
    except FileNotFoundError:
        return None
    try:
        moves = json.loads(text)
        lists = {key: list(moves[key]) for key in ("replace", "remove")}
    except (ValueError, KeyError, TypeError) as exc:
        raise _foreign(folder / _MOVES, f"is not what romanasn writes ({exc})") from exc
    return {key: [_bare(name, folder / _MOVES) for name in names] for key, names in lists.items()}


def _bare(name: Any, source: Path, staging: bool = False) -> str:
    """``name``, read from ``source``, when it is a bare file name of the output folder (the
    staging folder's name when ``staging``); else the journal is refused."""
    ok = isinstance(name, str) and safe_name(name) and (
        name.startswith(STAGING_PREFIX) if staging else not name.startswith((JOURNAL, STAGING_PREFIX)))
    if not ok:
        raise _foreign(source, f"names {name!r}, which is not {'a staging folder' if staging else 'a file'} "
                               "of the folder")
    return name


def _foreign(path: Path, why: str) -> AsnError:
    journal = path.parent / JOURNAL if path.name != JOURNAL else path
    return AsnError(f"{path} {why}: not a journal romanasn wrote, so nothing was changed; "
                    f"remove {journal} (and any {STAGING_PREFIX}* folder beside it) by hand")


def safe_name(name: str) -> bool:
    """Whether ``name`` is one plain file name (no folder part, not ``.`` or ``..``, no line break)."""
    return bool(name) and not any(c in name for c in "/\0\n\r") and name not in (".", "..") and (
        os.altsep is None or os.altsep not in name)


def _unlink(path: Path) -> None:
    """Remove the file ``path``; nothing when there is none (or a folder is there instead)."""
    try:
        path.unlink()
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.EISDIR, errno.ENAMETOOLONG, errno.ENOTDIR, errno.EPERM):
            raise


def _roll_back(out: Path, journal: Path, noted: "_Journal | None" = None) -> None:
    """Remove the new files and the staging folder of the run of ``journal`` (and the output
    folder, when the run made it and nothing else is in it)."""
    noted = noted or _Journal.read(out)
    for name in noted.names:
        _unlink(out / name)
    if noted.staging:
        shutil.rmtree(out / noted.staging, ignore_errors=True)
    if noted.created:
        left = [p.name for p in out.iterdir() if p.name != JOURNAL]
        if not left:
            with contextlib.suppress(OSError):
                journal.unlink()
                out.rmdir()


def _roll_forward(out: Path, staging: Path, moves: Mapping[str, list[str]], keep_staging: bool = False) -> None:
    """Move the staged files into place and remove the files to be removed."""
    for name in moves["replace"]:
        with contextlib.suppress(FileNotFoundError):
            os.replace(staging / name, out / name)
    for name in moves["remove"]:
        _unlink(out / name)
    if not keep_staging:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_previous(out: Path, previous: Path, moves: Mapping[str, list[str]]) -> None:
    """Hard-link (or copy) into ``previous`` each file the commit will replace or remove."""
    previous.mkdir()
    for name in moves["replace"] + moves["remove"]:
        try:
            os.link(out / name, previous / name, follow_symlinks=False)
        except FileNotFoundError:
            pass
        except OSError:
            if _is_file(out / name):  # a folder in the way stops the commit, which is then taken back
                shutil.copy2(out / name, previous / name, follow_symlinks=False)


def _take_back(out: Path, journal: Path) -> None:
    """Undo a committed run whose previous files were kept: put them back, then roll back."""
    noted = _Journal.read(out)
    moves = noted.moves
    if moves is not None and (out / noted.staging / _PREVIOUS).is_dir():
        for name in moves["replace"] + moves["remove"]:
            try:
                os.replace(out / noted.staging / _PREVIOUS / name, out / name)
            except FileNotFoundError:
                if name in moves["replace"]:
                    _unlink(out / name)
    _roll_back(out, journal, noted)


def recover(out: str | os.PathLike) -> str | None:
    """Finish or undo the run whose journal is in ``out`` (killed, or still running: an error).

    Returns ``"finished"``, ``"undone"`` or None when there was nothing to do.
    """
    out = Path(out)
    try:
        fd = _lock(out)
    except FileNotFoundError:
        return None
    try:
        return _recover(out)
    finally:
        os.close(fd)


def _recover(out: Path) -> str | None:
    """:func:`recover`, the folder locked; a commit that cannot be finished is taken back."""
    path = out / JOURNAL
    if not os.path.lexists(path):
        return None
    noted = _Journal.read(out)
    if noted.state == "commit":  # without moves, the commit was done: only its staging folder is left
        try:
            if noted.moves is not None:
                _roll_forward(out, out / noted.staging, noted.moves)
            elif noted.staging:
                shutil.rmtree(out / noted.staging, ignore_errors=True)
            outcome = "finished"
        except OSError as exc:
            log.warning("%s: cannot finish the interrupted run (%s): taking it back", out, exc)
            _take_back(out, path)
            outcome = "undone"
    elif noted.state == "undo":
        _take_back(out, path)
        outcome = "undone"
    else:
        _roll_back(out, path, noted)
        outcome = "undone"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    log.warning("%s: a run into this folder was interrupted; its changes were %s", out, outcome)
    return outcome
