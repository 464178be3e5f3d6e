"""Writing a run's associations into an output folder, all or nothing.

Files are written flat into the folder (which may exist), never outside it,
never over an existing file unless asked. Every file is validated against
the association schema and written as soon as its association is finished,
so nothing holds every association of a large pool at once.

All or nothing: a new file is made in place (its name first noted in the
journal ``.romanasn-journal``); a file that replaces an existing one is
made in a staging folder inside the output folder and moved into place only
when every file is ready. A run that fails or is interrupted before that
point removes what it made; once every file is ready the run writes
``commit`` to the journal, and from then on finishes even if interrupted
(Ctrl-C waits until the folder is complete). A run that was killed is
finished or undone, as its journal says, by the next run into the folder.

``romanasn-run.json`` reports the run and holds the *manifest*: for each
association file its ``asn_id``, rule, product name, size and digest.
``--update`` reads it to rewrite only the files whose content changed, keep
the ``asn_id`` of every association it knew, and list (or with ``prune``
remove) the associations the grown pool no longer makes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import threading
from json.encoder import encode_basestring_ascii as _string
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from attrs import define, evolve, field

from romanasn import asnfile
from romanasn._version import __version__
from romanasn.engine import Plan, Result, paused_gc
from romanasn.engine import plan as make_plan
from romanasn.errors import AsnError, RomanasnError, UsageError
from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig
from romanasn.records import Association, Member, Product, Provenance

log = logging.getLogger("romanasn.output")

RUN_REPORT = "romanasn-run.json"
JOURNAL = ".romanasn-journal"
STAGING_PREFIX = ".romanasn-staging-"
MANIFEST_VERSION = 1
_MOVES = ".moves.json"
_QUEUE = 1024


# -- JSON as json.dumps(..., indent=N) writes it ------------------------------------------------


def encode_json(value: Any, indent: int = 4, level: int = 0) -> str:
    """``json.dumps(value, indent=indent)``, byte for byte, nested at ``level``; faster.

    The standard library uses its pure-Python encoder when asked to indent;
    this one joins strings and encodes text with the C helper.
    """
    kind = type(value)
    if kind is str:
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + " " * (indent * (level + 1))
        items = [inner + _key(k) + ": " + encode_json(v, indent, level + 1) for k, v in value.items()]
        return "{" + ",".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = "\n" + " " * (indent * (level + 1))
        return "[" + ",".join(inner + encode_json(v, indent, level + 1) for v in value) + "\n" + " " * (indent * level) + "]"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return _string(int.__repr__(key))
    if isinstance(key, float):
        return _string(_float(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


# -- associations to checked bytes --------------------------------------------------------------


_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description"}
_PLAIN_OBJECT = _ANNOTATIONS | {"type", "required", "properties", "additionalProperties"}
_PLAIN_ARRAY = _ANNOTATIONS | {"type", "minItems", "items"}
_MEMO = 50_000


class Checked:
    """Stands, in a mapping being checked, for the members of a product, each already checked."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


class _Checker:
    """The association schema's check, split along the schema: an object checks each of its
    keys alone, an array its length and each item; other nodes are compiled by
    :mod:`romanasn.asnfile` and remember their verdict on each repeated text.

    The same verdicts as ``asnfile.validate`` for the schema's plain objects and arrays
    (``type``, ``required``, ``properties``, ``additionalProperties: true``, ``minItems``,
    ``items``); anything else is checked as a whole. The members of a product may be given
    as :class:`Checked` when each was checked alone by :attr:`member`.
    """

    def __init__(self) -> None:
        self.schema = asnfile.schema()
        self.verdicts: dict[tuple, bool] = {}
        self.member: Any = None
        self.root: tuple[frozenset, dict] | None = None  # (required keys, check of each key) of a plain root
        self.check = self._node(self.schema, ())

    def _resolve(self, node: Mapping) -> Mapping:
        while isinstance(node, Mapping) and "$ref" in node and set(node) <= _ANNOTATIONS | {"$ref"}:
            reference = node["$ref"]
            if not reference.startswith("#/"):
                break
            target: Any = self.schema
            for part in reference[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _node(self, node: Mapping, path: tuple) -> Any:
        node = self._resolve(node)
        keys = set(node)
        if node.get("type") == "object" and keys <= _PLAIN_OBJECT and node.get("additionalProperties", True) is True:
            return self._object(node, path)
        if node.get("type") == "array" and keys <= _PLAIN_ARRAY and "items" in node:
            return self._array(node, path)
        return self._leaf(asnfile._compile(node, self.schema), node)

    def _object(self, node: Mapping, path: tuple) -> Any:
        required = frozenset(node.get("required", ()))
        properties = {name: self._node(sub, path + (name,)) for name, sub in node.get("properties", {}).items()}
        if not path:
            self.root = (required, properties)

        def check(value: Any) -> bool:
            if not isinstance(value, dict) or not required <= value.keys():
                return False
            for key, item in value.items():
                check_item = properties.get(key)
                if check_item is not None and not check_item(item):
                    return False
            return True

        return check

    def _array(self, node: Mapping, path: tuple) -> Any:
        least = node.get("minItems", 0)
        check_item = self._node(node["items"], path + ("[]",))
        if path == ("products", "[]", "members"):
            self.member = check_item

        def check(value: Any) -> bool:
            if type(value) is Checked:
                return value.count >= least
            if not isinstance(value, list) or len(value) < least:
                return False
            for item in value:
                if not check_item(item):
                    return False
            return True

        return check

    def _leaf(self, compiled: Any, node: Mapping) -> Any:
        verdicts, tag = self.verdicts, id(node)

        def check(value: Any) -> bool:
            if type(value) is not str and value is not None:
                return compiled(value)
            memo = (tag, value)
            verdict = verdicts.get(memo)
            if verdict is None:
                verdict = compiled(value)
                if len(verdicts) < _MEMO:
                    verdicts[memo] = verdict
            return verdict

        return check


class Encoder:
    """Turns associations into validated file bytes.

    JSON files are made as :func:`romanasn.asnfile.dumps` makes them, byte
    for byte, each member's text and check done once however many
    associations hold it; YAML and ASDF files through :mod:`romanasn.asnfile`.
    Every association is validated against ``schemas/asn.schema.json``
    before it is encoded.
    """

    def __init__(self, format: str = "json", member_prefix: str | None = None) -> None:
        if format not in asnfile.EXTENSIONS:
            raise AsnError(f"unknown association format {format!r}; use one of {', '.join(asnfile.EXTENSIONS)}")
        self.format = format
        self.prefix = member_prefix
        checker = _Checker()
        self.check, self.check_member, self.root = checker.check, checker.member, checker.root
        self._pieces: dict[tuple[str, Any], str] = {}
        self._provenance: dict[int, tuple[Provenance, dict]] = {}

    def encode(self, association: Association, source: str) -> bytes:
        """The file bytes of ``association``; AsnError naming ``source`` when it is invalid."""
        original = association
        association = self._relocated(association)
        if self.format != "json" or self.check_member is None:
            return self._general(association, source)
        try:
            top = self._top(association)
            texts = [(product.name, [self._member(m, o, source) for m, o in zip(product.members, was.members)])
                     for product, was in zip(association.products, original.products)]
        except AsnError:
            return self._general(association, source)
        # Every member is checked once, alone; the rest around them, key by key when the schema's
        # root is a plain object: each text value's check and text are remembered.
        head = self._head(top, [{"name": name, "members": Checked(len(members))} for name, members in texts])
        if head is None:
            return self._general(association, source)
        products = ",".join(
            '\n        {\n            "name": ' + _string(name) + ',\n            "members": ['
            + ",".join("\n                " + text for text in members) + "\n            ]\n        }"
            for name, members in texts
        )
        return ("{" + head + '\n    "products": [' + products + "\n    ]\n}\n").encode("utf-8")

    def _head(self, top: dict, products: list) -> str | None:
        """The top-level keys' text, or None when the association is not valid."""
        if self.root is None:
            checked = dict(top)
            checked["products"] = products
            if not self.check(checked):
                return None
            return "".join("\n    " + _string(k) + ": " + encode_json(v, 4, 1) + "," for k, v in top.items())
        required, checks = self.root
        if not required <= top.keys() | {"products"}:
            return None
        check = checks.get("products")
        if check is not None and not check(products):
            return None
        pieces, head = self._pieces, []
        for key, value in top.items():
            memo = type(value) is str or value is None
            piece = pieces.get((key, value)) if memo else None
            if piece is None:
                check = checks.get(key)
                if check is not None and not check(value):
                    return None
                piece = "\n    " + _string(key) + ": " + encode_json(value, 4, 1) + ","
                if memo and len(pieces) < _MEMO:
                    pieces[(key, value)] = piece
            head.append(piece)
        return "".join(head)

    def _general(self, association: Association, source: str) -> bytes:
        try:
            data = asnfile.to_dict(association)
        except AsnError as exc:
            raise AsnError(f"{source}: {exc}") from exc
        asnfile.validate(data, source)
        return asnfile.dumps(association, self.format)

    def _relocated(self, association: Association) -> Association:
        if self.prefix is None:
            return association
        products = tuple(
            Product(p.name, tuple(evolve(m, expname=os.path.join(self.prefix, m.expname)) for m in p.members))
            for p in association.products
        )
        return evolve(association, products=products)

    def _top(self, association: Association) -> dict:
        """The top-level mapping without products, as :func:`asnfile.to_dict` makes it."""
        if association.extra or type(association.skycell_wcs_info) is not str:
            whole = asnfile.to_dict(evolve(association, products=()))
            whole.pop("products")
            return whole
        top = {key: getattr(association, key) for key in asnfile.TOP_KEYS}
        provenance = association.provenance
        if provenance is not None:
            found = self._provenance.get(id(provenance))
            if found is None:
                found = (provenance, {"rule": provenance.rule, "plugin": provenance.plugin,
                                      "plugin_version": provenance.plugin_version,
                                      "kernel_version": provenance.kernel_version})
                self._provenance[id(provenance)] = found
            top["romanasn"] = found[1]
        return top

    def _member(self, member: Member, original: Member, source: str) -> str:
        """A member's JSON text, checked against the member schema (key by key, verdicts on
        repeated texts remembered)."""
        if member.extra:
            data = asnfile.to_dict(Association(products=(Product("member", (member,)),)))["products"][0]["members"][0]
            text = encode_json(data, 4, 4)
        else:
            data = {"expname": member.expname, "exptype": member.exptype}
            text = (_MEMBER_OPEN + _string(member.expname) + _MEMBER_NEXT + _string(member.exptype)
                    + ("" if member.exposerr is None else _MEMBER_ERR + _string(member.exposerr)) + _MEMBER_CLOSE)
            if member.exposerr is not None:
                data["exposerr"] = member.exposerr
        if not self.check_member(data):
            raise AsnError(f"{source}: invalid member {member.expname!r}")
        return text


_MEMBER_OPEN = '{\n                    "expname": '
_MEMBER_NEXT = ',\n                    "exptype": '
_MEMBER_ERR = ',\n                    "exposerr": '
_MEMBER_CLOSE = "\n                }"


def digest(data: bytes) -> str:
    """The digest the manifest records of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- the manifest ---------------------------------------------------------------------------------


@define
class Entry:
    """What one association file holds: id, rule, product, size and digest; ``stale`` when the
    last run did not make it."""

    asn_id: str
    rule: str
    product: str
    size: int
    digest: str
    stale: bool = False

    def row(self) -> list:
        row = [self.asn_id, self.rule, self.product, self.size, self.digest]
        return row + ["stale"] if self.stale else row


@define
class Manifest:
    """The association files of an output folder, as the last run left them."""

    format: str
    files: dict[str, Entry] = field(factory=dict)

    @classmethod
    def load(cls, out: Path) -> "Manifest | None":
        """The manifest in ``out``'s run report, or None when there is none."""
        path = out / RUN_REPORT
        if not path.exists():
            return None
        try:
            report = json.loads(path.read_bytes())
            manifest = report["manifest"]
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"manifest version {manifest.get('version')!r}")
            files = {name: Entry(*row[:5], stale=len(row) > 5 and row[5] == "stale")
                     for name, row in manifest["files"].items()}
            return cls(manifest["format"], files)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AsnError(f"{path}: no usable manifest ({exc}); run without --update "
                           "(with --overwrite) to start a new one") from exc

    def ids(self) -> dict[tuple[str, str], str]:
        """``(asn_rule, product_name)`` -> ``asn_id`` of every association the folder holds."""
        return {(e.rule, e.product): e.asn_id for e in self.files.values()}

    def as_dict(self) -> dict:
        return {"version": MANIFEST_VERSION, "format": self.format,
                "files": {name: self.files[name].row() for name in sorted(self.files)}}


# -- the output folder, all or nothing -------------------------------------------------------------


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_file(path: Path | str, data: bytes | Iterable[bytes]) -> None:
    """Make the new file ``path`` holding ``data``, bytes or pieces of bytes (every file a run
    writes goes through here)."""
    fd = os.open(path, _CREATE, 0o666)
    try:
        for piece in [data] if isinstance(data, (bytes, bytearray, memoryview)) else data:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class _Files:
    """Writes files in a child process, so that the file system's work runs beside the main one's.

    Each file's name goes to the journal before the file is made. The main
    process sends ``name, data`` frames through a pipe; the child reports
    the first error through another pipe and stops. Without ``os.fork`` the
    files are written in this process.
    """

    def __init__(self, out: Path, staging: Path, journal: Any) -> None:
        self.out, self.staging, self.journal = out, staging, journal
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.pid = 0
        self.pipe = -1
        self.errors = -1

    def start(self) -> None:
        self.journal.flush()
        if not hasattr(os, "fork"):
            return
        data_r, data_w = os.pipe()
        error_r, error_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write files until the pipe closes
            status = 0
            try:
                os.close(data_w)
                os.close(error_r)
                _files_child(data_r, error_w, self.out, self.staging, self.journal.fileno())
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(data_r)
        os.close(error_w)
        self.pid, self.pipe, self.errors = pid, data_w, error_r

    def put(self, name: str, data: bytes, staged: bool) -> None:
        if not self.pid:
            self._write_here(name, data, staged)
            return
        encoded = name.encode("utf-8")
        self.buffer.append(b"%d %d %d\n" % (len(encoded), int(staged), len(data)))
        self.buffer.append(encoded)
        self.buffer.append(data)
        self.buffered += len(data) + len(encoded) + 16
        if self.buffered >= 1 << 20:
            self._send()

    def _write_here(self, name: str, data: bytes, staged: bool) -> None:
        if not staged:
            self.journal.write(f"+{name}\n")
            self.journal.flush()
        _write_file((self.staging if staged else self.out) / name, data)

    def _send(self) -> None:
        payload = b"".join(self.buffer)
        view = memoryview(b"%d\n" % len(payload) + payload)
        self.buffer, self.buffered = [], 0
        try:
            while view:
                view = view[os.write(self.pipe, view):]
        except BrokenPipeError:
            self._wait()
            raise AsnError(f"{self.out}: the process writing files stopped") from None

    def finish(self) -> None:
        """Wait until every file is written; raise the first error."""
        if not self.pid:
            return
        if self.buffer:
            self._send()
        self._wait()

    def stop(self) -> None:
        """Stop writing (what is written stays until the journal is rolled back)."""
        if not self.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.buffer = []
        with contextlib.suppress(BaseException):
            self._wait()

    def _wait(self) -> None:
        if self.pipe >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pipe)
            self.pipe = -1
        pid, self.pid = self.pid, 0
        if not pid:
            return
        _, status = os.waitpid(pid, 0)
        with os.fdopen(self.errors, "rb") as stream:
            message = stream.read().decode("utf-8", "replace")
        self.errors = -1
        if message:
            number, filename, text = message.split("\t", 2)
            raise OSError(int(number), text, filename or None)
        if status != 0:
            raise AsnError(f"{self.out}: the process writing files failed (status {status})")


def _files_child(data: int, errors: int, out: Path, staging: Path, journal: int) -> None:
    """The child of :class:`_Files`: make the files of each batch sent, the batch's new names
    noted in the journal first."""
    with os.fdopen(data, "rb", buffering=1 << 20) as stream:
        try:
            while header := stream.readline():
                payload = stream.read(int(header))
                files, at = [], 0
                while at < len(payload):
                    end = payload.index(b"\n", at)
                    length, staged, size = map(int, payload[at:end].split())
                    name = payload[end + 1:end + 1 + length].decode("utf-8")
                    at = end + 1 + length + size
                    files.append((name, staged, payload[end + 1 + length:at]))
                new = "".join(f"+{name}\n" for name, staged, _ in files if not staged)
                if new:
                    os.write(journal, new.encode("utf-8"))
                for name, staged, content in files:
                    _write_file(f"{staging if staged else out}/{name}", content)
        except OSError as exc:
            message = f"{exc.errno or 0}\t{exc.filename or ''}\t{exc.strerror or exc}"
            os.write(errors, message.encode("utf-8", "replace"))
            raise


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (in the main thread) until the block is done, then raise."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
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
        if caught[0] == signal.SIGINT:
            raise KeyboardInterrupt
        signal.raise_signal(caught[0])


class Folder:
    """One run's changes to an output folder, applied all or nothing (see the module's docstring)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.created = False
        self.journal: Any = None
        self.staging: Path | None = None
        self.files: _Files | None = None
        self.existing: set[str] = set()
        self.replaced: list[str] = []
        self.removed: list[str] = []
        self.committed = False

    def open(self) -> "Folder":
        if self.out.exists() and not self.out.is_dir():
            raise AsnError(f"{self.out}: not a folder")
        self.created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self._lock()
            self.existing = set(os.listdir(self.out))
            self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
            self.journal.write(f"staging {self.staging.name}\n" + ("created\n" if self.created else ""))
            self.journal.flush()
        except BaseException:
            self.abort()
            raise
        self.files = _Files(self.out, self.staging, self.journal)
        try:
            self.files.start()
        except BaseException:
            self.abort()
            raise
        return self

    def _lock(self) -> None:
        """Take the journal (the folder's lock); finish or undo a killed run's journal first."""
        path = self.out / JOURNAL
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            except FileExistsError:
                recover(self.out)
                continue
            break
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.journal = os.fdopen(fd, "w", encoding="utf-8")

    def add(self, name: str, data: bytes) -> None:
        """Write the file ``name`` (new, or replacing an existing one at commit)."""
        staged = name in self.existing
        if staged:
            self.replaced.append(name)
        self.files.put(name, data, staged)

    def remove(self, name: str) -> None:
        """Remove the file ``name`` at commit."""
        self.removed.append(name)

    def commit(self, report: bytes | Iterable[bytes]) -> None:
        """Make every change visible, then the run report; from the commit on, finish regardless."""
        self.files.finish()
        _write_file(self.staging / RUN_REPORT, report)
        moves = {"replace": self.replaced + [RUN_REPORT], "remove": self.removed}
        _write_file(self.staging / _MOVES, json.dumps(moves).encode())
        with _uninterrupted():
            self.journal.write("commit\n")
            self.journal.flush()
            os.fsync(self.journal.fileno())
            self.committed = True
            _roll_forward(self.out, self.staging, moves)
            self._close()

    def abort(self) -> None:
        """Undo every change made so far (after the commit, leave the journal for the next run to finish)."""
        if self.committed:
            if self.journal is not None:
                with contextlib.suppress(OSError):
                    self.journal.close()
                self.journal = None
            return
        with _uninterrupted():
            if self.files is not None:
                self.files.stop()
            if self.journal is not None:
                self.journal.flush()
                _roll_back(self.out, self.out / JOURNAL)
                self._close()
            elif self.created:
                shutil.rmtree(self.out, ignore_errors=True)

    def _close(self) -> None:
        if self.journal is not None:
            with contextlib.suppress(OSError):
                (self.out / JOURNAL).unlink()
            self.journal.close()
            self.journal = None


def _journal(path: Path) -> tuple[str | None, bool, list[str], bool]:
    """(staging folder name, folder made by the run, new file names, committed) from a journal."""
    staging, created, names, committed = None, False, [], False
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if line.startswith("staging "):
            staging = line[len("staging "):]
        elif line == "created":
            created = True
        elif line.startswith("+"):
            names.append(line[1:])
        elif line == "commit":
            committed = True
    return staging, created, names, committed


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..") and (
        os.altsep is None or os.altsep not in name)


def _roll_back(out: Path, journal: Path) -> None:
    staging, created, names, _ = _journal(journal)
    for name in names:
        if _safe_name(name):
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
    if staging and _safe_name(staging) and staging.startswith(STAGING_PREFIX):
        shutil.rmtree(out / staging, ignore_errors=True)
    if created:
        left = [p.name for p in out.iterdir() if p.name != JOURNAL]
        if not left:
            with contextlib.suppress(OSError):
                journal.unlink()
                out.rmdir()


def _roll_forward(out: Path, staging: Path, moves: Mapping[str, list[str]]) -> None:
    for name in moves["replace"]:
        with contextlib.suppress(FileNotFoundError):
            os.replace(staging / name, out / name)
    for name in moves["remove"]:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    shutil.rmtree(staging, ignore_errors=True)


def recover(out: str | os.PathLike) -> str | None:
    """Finish or undo the run whose journal is in ``out`` (killed, or still running: an error).

    Returns ``"finished"``, ``"undone"`` or None when there was nothing to do.
    """
    out = Path(out)
    path = out / JOURNAL
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise AsnError(f"{out}: another romanasn run is writing this folder") from exc
            raise
        staging, _, _, committed = _journal(path)
        moves_path = out / staging / _MOVES if staging else None
        if committed and moves_path is not None and moves_path.exists():
            _roll_forward(out, out / staging, json.loads(moves_path.read_text()))
            outcome = "finished"
        else:
            _roll_back(out, path)
            outcome = "undone"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.warning("%s: a run into this folder was interrupted; its changes were %s", out, outcome)
        return outcome
    finally:
        os.close(fd)


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
        return self.plan.association(index)


def member_prefix(out: Path, member_dir: str | os.PathLike | None) -> str | None:
    """The path from the association folder to ``member_dir``, prefixed to member names."""
    if member_dir is None:
        return None
    return os.path.relpath(Path(member_dir).resolve(), out.resolve())


def extension(format: str) -> str:
    if format not in asnfile.EXTENSIONS:
        raise AsnError(f"unknown association format {format!r}; use one of {', '.join(asnfile.EXTENSIONS)}")
    return asnfile.EXTENSIONS[format][len("_asn"):]


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
    scheduler: str | None = None,
) -> Outcome:
    """Make the associations of ``pool`` and write each as soon as it is built.

    :param update: rewrite only what changed since the run recorded in the
        folder's manifest, keeping the ``asn_id``\\ s it gave (see the module's docstring).
    :param prune: with ``update``, remove the files of associations no longer made.
    :param engine: ``local``, or ``dask`` to plan and encode on a Dask cluster
        (``scheduler`` is its address; a local cluster when None).
    """
    if prune and not update:
        raise UsageError("--prune goes with --update")
    if engine not in ("local", "dask"):
        raise UsageError(f"unknown engine {engine!r}: use local or dask")
    with paused_gc():
        return _generate_to(pool, Path(out_dir), plugin_manager, config, rules, skip_rules, format, overwrite,
                            update, prune, member_dir, inputs, engine, scheduler)


def _generate_to(pool, out, plugin_manager, config, rules, skip_rules, format, overwrite, update, prune,
                 member_dir, inputs, engine, scheduler) -> Outcome:
    ext = extension(format)
    folder = Folder(out)
    _guard(folder.open)
    try:
        manifest = Manifest.load(out) if update else None
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
                               existing_ids=existing_ids)
        outcome = _write(folder, source, ext, overwrite, manifest, prune, config, plugin_manager, format, inputs)
    except BaseException as exc:
        folder.abort()
        _reraise(exc, out)
    if plugin_manager.wants_written():
        _observe(plugin_manager, outcome, out, config)
    return outcome


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
    if plugin_manager.wants_written():
        _observe(plugin_manager, outcome, out, config)
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
    """Plans on this machine and builds, checks and encodes each association in turn."""

    def __init__(self, pool, *, plugin_manager, config, rules, skip_rules, format, member_prefix, existing_ids):
        self.plan = make_plan(pool, config=config, rules=rules, skip_rules=skip_rules,
                              plugin_manager=plugin_manager, existing_ids=existing_ids)
        self.encoder = Encoder(format, member_prefix)
        self.ext = extension(format)

    def stems(self) -> list[str]:
        return self.plan.file_stems()

    def items(self) -> Iterator[tuple[int, str, str, str, bytes]]:
        """``(id number, rule, product name, file stem, bytes)`` of each association."""
        release = not self.plan.hooks.written  # no observer will ask for them again
        for number, association, stem in self.plan.stream(release=release):
            data = self.encoder.encode(association, stem + self.ext)
            yield number, association.asn_rule, association.product_name, stem, data

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

    def items(self):
        for association, stem in zip(self._result.associations, self._result.file_stems):
            data = self.encoder.encode(association, stem + self.ext)
            yield int(association.asn_id[1:]), association.asn_rule, association.product_name, stem, data

    def result(self) -> Result:
        return self._result


def _write(folder: Folder, source, ext: str, overwrite: bool, manifest: Manifest | None, prune: bool,
           config: RunConfig, pm: PluginManager, format: str, inputs: Iterable[str]) -> Outcome:
    out = folder.out
    names = [stem + ext for stem in source.stems()]
    for name in names:
        if not _safe_name(name):
            raise AsnError(f"association file {out / name} would be written outside {out}")
    known = manifest.files if manifest is not None else {}
    if not overwrite:
        clash = [n for n in names if n in folder.existing and n not in known]
        if clash:
            more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
            hint = "; use --overwrite to replace association files" + (
                " not listed in the folder's manifest" if manifest is not None else "")
            raise AsnError(f"{out / clash[0]} exists{more}{hint}")
    outcome = Outcome(result=None, files=names, written=[])  # type: ignore[arg-type]
    made: dict[str, Entry] = {}
    for number, rule, product, stem, data in source.items():
        name = stem + ext
        entry = Entry(f"a{number}", rule, product, len(data), digest(data))
        made[name] = entry
        old = known.get(name)
        if old is not None and name in folder.existing and (old.digest, old.size) == (entry.digest, entry.size) \
                and not old.stale and _size(out / name) == entry.size:
            outcome.unchanged.append(name)
            continue
        folder.add(name, data)
        (outcome.changed if name in folder.existing else outcome.added).append(name)
    del data
    outcome.written = _Paths(out, names, set(outcome.unchanged))
    files = made  # and the files of the folder this run did not make:
    if manifest is not None:
        for name in sorted(set(known) - set(made)):
            if prune and name in folder.existing:
                folder.remove(name)
                outcome.removed.append(name)
            elif not prune:
                files[name] = evolve(known[name], stale=True)
                outcome.stale.append(name)
    else:
        previous = _previous_manifest(out, format)
        for name, entry in previous.items():
            if name not in files and name in folder.existing:
                files[name] = entry
    outcome.result = source.result()
    report = run_report(outcome.result, pm, config, inputs)
    report["format"] = format
    report["files"] = names
    if manifest is not None:
        report["update"] = {"added": len(outcome.added), "changed": len(outcome.changed),
                            "unchanged": len(outcome.unchanged), "stale": outcome.stale,
                            "removed": outcome.removed}
    folder.commit(_report_pieces(report, format, files))
    return outcome


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


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
    }


def _report_pieces(report: dict, format: str, files: Mapping[str, Entry]) -> Iterator[bytes]:
    """The run report, as JSON indented by 2 with each manifest entry on one line, in pieces."""
    text = encode_json(report, 2)
    yield text[:-2].encode("utf-8")
    yield (f',\n  "manifest": {{\n    "version": {MANIFEST_VERSION},\n    "format": {_string(format)},'
           '\n    "files": ').encode("utf-8")
    if not files:
        yield b"{}\n  }\n}\n"
        return
    names = sorted(files)
    for start in range(0, len(names), 10_000):
        rows = ",".join(f"\n      {_string(name)}: {json.dumps(files[name].row())}"
                        for name in names[start:start + 10_000])
        yield (("{" if start == 0 else ",") + rows).encode("utf-8")
    yield b"\n    }\n  }\n}\n"


def update_summary(outcome: Outcome) -> str:
    """One line: what an ``--update`` run added, changed, left alone, and found stale or removed."""
    line = (f"update: {len(outcome.added)} added, {len(outcome.changed)} changed, "
            f"{len(outcome.unchanged)} unchanged")
    if outcome.stale:
        line += f", {len(outcome.stale)} no longer made (kept, listed as stale in {RUN_REPORT}; --prune removes them)"
    if outcome.removed:
        line += f", {len(outcome.removed)} no longer made and removed"
    return line
