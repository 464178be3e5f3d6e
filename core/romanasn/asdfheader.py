"""Read the YAML header of an ASDF file fast, never its arrays.

An ASDF file is a few ``#`` comment lines, a YAML document (the tree) ending
in ``...``, then binary blocks, each starting with the magic ``\\xd3BLK``.
This module reads the bytes up to the end of the tree (the arrays of a
140-230 MiB exposure are never read) and parses them with libyaml's C
parser (``yaml.CSafeLoader``): nothing is executed, ASDF tags met in
exposure metadata become small plain records (:class:`AsdfTime`,
:class:`ArrayRef`) and every other tag becomes the plain dict, list or
string it is written as.

:func:`read_meta` is the fast path used by ``romanasn make-pool``: it cuts
from the header text only the children of ``roman.meta`` that the wanted
paths go through (leaving out the WCS, the history and any inline arrays)
and parses those, falling back to parsing the whole tree whenever the cut
cannot be made or misses a wanted value. :func:`load_tree` parses the whole
tree.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any, Iterable, Mapping

import yaml
from attrs import frozen
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from romanasn.errors import RomanasnError
from romanasn.inputs import open_regular_fd

__all__ = [
    "ArrayRef",
    "AsdfTime",
    "HeaderError",
    "Meta",
    "load_tree",
    "read_header",
    "read_meta",
]

ASDF_MAGIC = b"#ASDF "
BLOCK_MAGIC = b"\xd3BLK"
BLOCK_INDEX = b"#ASDF BLOCK INDEX"
_CHUNK = 1 << 16
_STREAMED = 0x1

#: The end of the YAML document: ``...`` alone on a line.
_DOC_END = re.compile(rb"\n\.\.\.[ \t]*(?:\r?\n|$)")
#: The line that starts the document (``---`` with an optional tag).
_DOC_START = re.compile(rb"\n---(?:[ \t]|\r?\n|$)")
_SOURCE = re.compile(rb"[ \n{,]source:[ \t]*(\d+)")  # an ndarray's block number
_INDEX_ITEM = re.compile(rb"\n-[ \t]*(\d+)")
_INDEX_END = re.compile(rb"\n\.\.\.[ \t]*(?:\r?\n)?$")

_TIME_TAG = "tag:stsci.edu:asdf/time/time-"
_NDARRAY_TAG = "tag:stsci.edu:asdf/core/ndarray-"
_ROMAN_TIME_TAGS = ("/file_date-",)


class HeaderError(RomanasnError):
    """A file is not ASDF, is truncated, or its YAML header cannot be parsed."""


# -- records for the ASDF tags met in exposure metadata -------------------------


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:Z)?$")


@frozen
class AsdfTime:
    """An ASDF ``time`` node: ``value`` in ``base_format`` on time ``scale``."""

    value: Any
    base_format: str | None = None
    scale: str = "utc"

    def iso_utc(self) -> str:
        """The time in UTC as ``YYYY-MM-DDTHH:MM:SS.sss``.

        ISO strings already in UTC are rewritten without astropy; anything
        else (other formats, other scales) goes through ``astropy.time``.
        """
        if isinstance(self.value, str) and self.scale.lower() == "utc":
            match = _ISO.match(self.value.strip())
            if match and (match.group(3) is None or len(match.group(3)) <= 3):
                fraction = (match.group(3) or "").ljust(3, "0")
                return f"{match.group(1)}T{match.group(2)}.{fraction}"
        return self._astropy().utc.isot

    def _astropy(self) -> Any:
        from astropy.time import Time

        fmt = self.base_format
        if fmt in (None, "iso", "isot", "datetime") and isinstance(self.value, str):
            fmt = None  # let astropy tell iso from isot and yday
        try:
            time = Time(self.value, format=fmt, scale=self.scale.lower(), precision=3)
        except Exception as exc:
            reason = str(exc).splitlines()[0].rstrip(": ")  # not astropy's list of every format it knows
            raise ValueError(f"cannot read time {self.value!r} ({fmt or 'any format'}, {self.scale}): {reason}") from None
        time.precision = 3
        return time


@frozen
class ArrayRef:
    """An ASDF ``ndarray`` node, without its data: where it is and its shape."""

    source: Any
    shape: tuple
    datatype: Any


# -- the loader -------------------------------------------------------------------


_LAZY = "tag:romanasn:plain-scalar"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(yaml.CSafeLoader):
    """libyaml's parser and PyYAML's safe constructors, plus ASDF tags.

    Unknown tags are built as the plain mapping, sequence or string they
    carry; nothing is imported or executed. Plain scalars are resolved
    (int, float, bool, null, ...) only when they are built, not for every
    node the parser meets: most of a header is never built.
    """

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _LAZY if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


#: First characters of the plain scalars that YAML 1.1 may read as other than text.
_SPECIAL_FIRST = frozenset("yYnNtTfFoO-+0123456789.<~=")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_POINT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?\Z")


def _construct_lazy(loader: _Loader, node: ScalarNode) -> Any:
    """A plain scalar as PyYAML's safe loader reads it; the common forms without its resolver."""
    value = node.value
    if value and value[0] not in _SPECIAL_FIRST:
        return value
    if _DECIMAL.match(value):
        return int(value)
    if _POINT.match(value):
        return float(value)
    tag = yaml.resolver.Resolver.resolve(loader, ScalarNode, value, (True, False))
    return loader.yaml_constructors[tag](loader, node)


_Loader.add_constructor(_LAZY, _construct_lazy)


def _plain(loader: _Loader, node: Node) -> Any:
    if isinstance(node, MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _construct_tagged(loader: _Loader, tag: str, node: Node) -> Any:
    if tag.startswith(_TIME_TAG) or any(t in tag for t in _ROMAN_TIME_TAGS):
        return _construct_time(loader, node)
    if tag.startswith(_NDARRAY_TAG):
        return _construct_ndarray(loader, node)
    return _plain(loader, node)


def _construct_time(loader: _Loader, node: Node) -> AsdfTime:
    if isinstance(node, ScalarNode):
        return AsdfTime(loader.construct_scalar(node))
    value = _plain(loader, node)
    if not isinstance(value, dict) or "value" not in value:
        raise yaml.constructor.ConstructorError(None, None, "a time node without a value", node.start_mark)
    fmt = value.get("base_format", value.get("format"))
    return AsdfTime(value["value"], fmt, str(value.get("scale", "utc")))


def _construct_ndarray(loader: _Loader, node: Node) -> ArrayRef:
    fields = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key in ("source", "shape", "datatype"):  # never build inline data
                fields[key] = loader.construct_object(value_node, deep=True)
    shape = fields.get("shape")
    return ArrayRef(fields.get("source"), tuple(shape) if isinstance(shape, list) else (), fields.get("datatype"))


_Loader.add_multi_constructor(None, _construct_tagged)


# -- reading the header bytes ------------------------------------------------------


def read_header(path: str | os.PathLike, *, check_blocks: bool = True) -> bytes:
    """The bytes of the YAML tree of the ASDF file at ``path`` (``%YAML`` ... ``...``).

    Reads in 64 KiB steps until the end of the tree (``...``) or the first
    block; no array data is read. With ``check_blocks`` the block headers
    are walked (a few bytes each) to catch files cut short in their arrays.
    Raises :class:`HeaderError` for a file that is not ASDF, has no tree or
    is truncated.
    """
    try:
        fd = open_regular_fd(path)
    except OSError as exc:
        raise HeaderError(f"cannot open: {exc.strerror or exc}") from None
    try:
        return _read_header(fd, check_blocks)
    except OSError as exc:
        raise HeaderError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_header(fd: int, check_blocks: bool) -> bytes:
    """The header bytes of the open file ``fd`` (see :func:`read_header`)."""
    data = os.read(fd, _CHUNK)
    if not data.startswith(ASDF_MAGIC):
        raise HeaderError("not an ASDF file (no '#ASDF' at the start)")
    searched = 0
    while True:
        block = data.find(BLOCK_MAGIC, searched)
        end = _DOC_END.search(data, searched, block if block >= 0 else len(data))
        if end is not None or block >= 0:
            header_end = end.end() if end is not None else block  # the tree's end, or the first block
            break
        more = os.read(fd, max(_CHUNK, len(data)))
        if not more:
            if _DOC_START.search(data):
                raise HeaderError("truncated: the YAML header has no end ('...')")
            raise HeaderError("no YAML tree in this ASDF file")
        searched = max(0, len(data) - 8)  # a marker may straddle the chunks
        data += more
    header = data[:header_end]
    if not _DOC_START.search(header):
        raise HeaderError("no YAML tree in this ASDF file")
    if check_blocks:
        _check_blocks(fd, data, header_end, header)
    return header


def _check_blocks(fd: int, data: bytes, stop: int, header: bytes) -> None:
    """Fail when the file ends inside its blocks (a copy cut short); reads a few bytes.

    asdf ends a file with a block index (the offset of each block): when it is
    there, complete and consistent, only the last block's header is read;
    otherwise every block header is visited.
    """
    size = os.fstat(fd).st_size
    sources = _SOURCE.findall(header)
    used = max(map(int, sources)) + 1 if sources else 0
    first = _first_block(fd, data, stop)
    if first is None:
        if used:
            raise HeaderError(f"truncated: the tree uses {used} blocks, the file has none")
        return
    blocks = _indexed_blocks(fd, first, size)
    if blocks is None:
        blocks = _walk_blocks(fd, first, size)
    if used > blocks:
        raise HeaderError(f"truncated: the tree uses {used} blocks, the file has {blocks}")


def _first_block(fd: int, data: bytes, stop: int) -> int | None:
    """The offset of the first block at or after ``stop`` (padding may come between)."""
    if data.startswith(BLOCK_MAGIC, stop):
        return stop
    ahead = os.pread(fd, 4096, stop)
    at = ahead.find(BLOCK_MAGIC)
    return None if at < 0 else stop + at


def _block_end(fd: int, position: int, size: int, number: int) -> int | None:
    """Where block ``number`` at ``position`` ends (None for a streamed block, which runs to the end)."""
    head = os.pread(fd, 22, position)
    if not head.startswith(BLOCK_MAGIC):
        raise HeaderError(f"corrupt: no block {number} at byte {position}")
    if len(head) < 22:
        raise HeaderError(f"truncated: the header of block {number} is cut short at byte {size}")
    if int.from_bytes(head[6:10], "big") & _STREAMED:
        return None
    end = position + 6 + int.from_bytes(head[4:6], "big") + int.from_bytes(head[14:22], "big")
    if end > size:
        raise HeaderError(f"truncated: block {number} needs {end} bytes, the file has {size}")
    return end


def _indexed_blocks(fd: int, first: int, size: int) -> int | None:
    """The number of blocks per a complete, consistent block index at the end; else None."""
    length = min(size - first, 4096)
    tail = os.pread(fd, length, size - length)
    at = tail.rfind(BLOCK_INDEX)
    if at < 0 or not _INDEX_END.search(tail, at):
        return None
    offsets = [int(n) for n in _INDEX_ITEM.findall(tail, at)]
    if not offsets or offsets[0] != first or offsets != sorted(set(offsets)):
        return None
    end = _block_end(fd, offsets[-1], size, len(offsets) - 1)
    if end is not None and end > size - length + at:
        return None
    return len(offsets)


def _walk_blocks(fd: int, position: int, size: int) -> int:
    """Visit every block header from ``position``; return the number of blocks."""
    blocks = 0
    while position < size:
        head = os.pread(fd, len(BLOCK_INDEX), position)
        if not head.startswith(BLOCK_MAGIC) and (BLOCK_INDEX.startswith(head) or not head.strip(b" \t\r\n\x00")):
            break
        end = _block_end(fd, position, size, blocks)
        blocks += 1
        if end is None:
            break
        position = end
    return blocks


# -- parsing ---------------------------------------------------------------------------


def _compose(text: bytes) -> Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def check_expansion(node: Node | None, source: str) -> None:
    """Refuse a YAML tree whose aliases (``*name``) make it far larger than its text (a "billion
    laughs"): a :class:`HeaderError` naming ``source``. Counts each node once."""
    if node is None:
        return
    sizes: dict[int, int] = {}
    total = _expanded(node, sizes)
    if total > _EXPANSION * len(sizes) + _EXPANSION_FREE:
        raise HeaderError(f"{source} holds YAML aliases that expand its {len(sizes)} nodes to {total}: refused")


_EXPANSION, _EXPANSION_FREE = 10, 100_000


def _expanded(node: Node, sizes: dict[int, int]) -> int:
    """The number of nodes ``node`` stands for once its aliases are expanded (a cycle counts once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    sizes[key] = 1
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        return 1
    sizes[key] = 1 + sum(_expanded(child, sizes) for child in children)
    return sizes[key]


def compose_checked(text: bytes | str, source: str) -> Node | None:
    """The node tree of the YAML document ``text`` (ASDF tags kept as tags), its aliases checked
    (:func:`check_expansion`)."""
    if isinstance(text, bytes) and text.startswith(ASDF_MAGIC):
        block = text.find(BLOCK_MAGIC)
        text = text if block < 0 else text[:block]
    node = _compose(text)
    check_expansion(node, source)
    return node


def _parse_error(exc: Exception) -> HeaderError:
    message = str(exc).replace("\n", " ")
    return HeaderError(f"YAML header cannot be parsed: {message}")


def load_tree(path: str | os.PathLike) -> Any:
    """The whole tree of the ASDF file at ``path`` as plain values."""
    header = read_header(path)
    loader = _Loader(header)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise _parse_error(exc) from None
    finally:
        loader.dispose()


@frozen
class Meta:
    """What :func:`read_meta` found: ``values`` by dotted path, the ``roman`` node's tag."""

    values: Mapping[str, Any]
    roman_tag: str | None


def read_meta(path: str | os.PathLike, paths: Iterable[str], *, check_blocks: bool = True) -> Meta:
    """The values at the dotted ``paths`` under ``roman.meta`` of an ASDF file.

    Paths that are absent are left out of :attr:`Meta.values`. Raises
    :class:`HeaderError` for a file that is not ASDF, is truncated, cannot
    be parsed or has no ``roman.meta`` mapping.
    """
    paths = list(dict.fromkeys(paths))
    header = read_header(path, check_blocks=check_blocks)
    roman_tag = _roman_tag(header)
    wanted = {p.split(".", 1)[0] for p in paths}
    cut = _cut_meta(header, wanted)
    if cut is not None:
        try:
            node = _compose(cut)
        except yaml.YAMLError:
            node = None
        if isinstance(node, MappingNode):
            return Meta(_values(node, paths), roman_tag)
    return Meta(_values(_full_meta_node(header), paths), roman_tag)


def _full_meta_node(header: bytes) -> MappingNode:
    try:
        root = _compose(header)
    except yaml.YAMLError as exc:
        raise _parse_error(exc) from None
    roman = _child(root, "roman")
    if roman is None:
        raise HeaderError("no 'roman' node in the tree: not a Roman data file")
    meta = _child(roman, "meta")
    if not isinstance(meta, MappingNode):
        raise HeaderError("no 'roman.meta' mapping in the tree")
    return meta


def _child(node: Node | None, key: str) -> Node | None:
    """The value node of ``key`` in a mapping node (the last one, as YAML loaders keep)."""
    if not isinstance(node, MappingNode):
        return None
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = value_node
    return found


def _values(meta: MappingNode, paths: list[str]) -> dict[str, Any]:
    """Construct only the nodes at ``paths`` (the rest of the tree stays unbuilt)."""
    values = {}
    children: dict[int, dict[str, Node]] = {}
    loader = _Loader("")
    try:
        for path in paths:
            node: Node | None = meta
            for part in path.split("."):
                if not isinstance(node, MappingNode):
                    node = None
                    break
                mapping = children.get(id(node))
                if mapping is None:
                    mapping = children[id(node)] = {
                        k.value: v for k, v in node.value if isinstance(k, ScalarNode)
                    }
                node = mapping.get(part)
                if node is None:
                    break
            if node is None:
                continue
            try:
                values[path] = _construct(loader, node)
            except (yaml.YAMLError, ValueError, TypeError) as exc:
                message = str(exc).replace("\n", " ")
                raise HeaderError(f"roman.meta.{path} cannot be read: {message}") from None
    finally:
        loader.dispose()
    return values


def _construct(loader: _Loader, node: Node) -> Any:
    if isinstance(node, ScalarNode):
        if node.tag == _STR:
            return node.value
        if node.tag == _LAZY:
            return _construct_lazy(loader, node)
    return loader.construct_object(node, deep=True)


# -- cutting roman.meta out of the header text ------------------------------------------------
#
# Every pattern starts with a literal newline so that the regex engine skips
# from line to line instead of trying each byte (the header starts with
# '#ASDF', so no key of interest is on its first line).

_ROMAN = re.compile(rb"\nroman:[ \t]*(?:!<([^>\r\n]*)>|!([^ \t\r\n]*))?[ \t]*\r?(?=\n)")
#: A line at indent 0 that starts a new top-level key or ends the document.
_TOP = re.compile(rb"\n(?:[^ \t\r\n#-]|-[^ \t\r\n])")
#: The first line with content, and its indent.
_INDENT = re.compile(rb"\n( *)[^ \t\r\n#]")
_PATTERNS = {
    # a block-mapping key at exactly n spaces
    "key": rb"\n {%d}([A-Za-z_][\w.\-]*):(?=[ \t\r\n])",
    # any line with content at exactly n spaces, not an item of an indentless sequence
    "line": rb"\n {%d}(?!-[ \t\r\n])[^ \t\r\n]",
    # a line with content at n spaces or fewer
    "end": rb"\n {0,%d}[^ \t\r\n]",
    # the meta key at exactly n spaces, its value on the next lines
    "meta": rb"\n {%d}meta:[ \t]*\r?(?=\n)",
}


@functools.cache
def _pattern(kind: str, indent: int) -> re.Pattern[bytes]:
    return re.compile(_PATTERNS[kind] % indent)


def _roman_tag(header: bytes) -> str | None:
    match = _ROMAN.search(header)
    if match is None:
        return None
    tag = match.group(1) or match.group(2)
    return tag.decode("utf-8", "replace") if tag else None


def _cut_meta(header: bytes, wanted: set[str]) -> bytes | None:
    """A small YAML document of the ``wanted`` children of ``roman.meta``, or None.

    Works on the block style that asdf writes: the value of a key at indent
    ``n`` is the lines after it indented more than ``n``. Anything else
    (flow style, a tag on ``meta``, quoted keys, no ``roman`` key) returns
    None and the caller parses the whole tree.
    """
    roman = _ROMAN.search(header)
    if roman is None:
        return None
    top = _TOP.search(header, roman.end())
    roman_end = top.start() if top else len(header)
    first = _INDENT.search(header, roman.end(), roman_end)
    if first is None:
        return None
    indent = len(first.group(1))
    meta = _pattern("meta", indent).search(header, roman.end(), roman_end)
    if meta is None:
        return None
    stop = _pattern("end", indent).search(header, meta.end(), roman_end)
    meta_end = stop.start() if stop else roman_end
    child = _INDENT.search(header, meta.end(), meta_end)
    if child is None or len(child.group(1)) <= indent:
        return None
    width = len(child.group(1))
    starts = list(_pattern("key", width).finditer(header, meta.end(), meta_end))
    if not starts or starts[0].start() != child.start():
        return None
    if len(_pattern("line", width).findall(header, meta.end(), meta_end)) != len(starts):
        return None  # a child this cut does not understand
    pieces = []
    for i, start in enumerate(starts):
        if start.group(1).decode() in wanted:
            end = starts[i + 1].start() if i + 1 < len(starts) else meta_end
            pieces.append(header[start.start():end])
    if not pieces:
        return None
    directives = header[:_DOC_START.search(header).start()]
    return b"".join([directives, b"\n--- ", *pieces, b"\n...\n"])
