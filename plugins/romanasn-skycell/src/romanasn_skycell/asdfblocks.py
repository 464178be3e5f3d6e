"""Reading a few rows of a large table in an ASDF file without reading the table.

The official SKYCELLS map holds about 8 million skycells (over 1 GB); a run
needs a few thousand of them. ``asdf`` reads a compressed array whole, so this
module reads the ASDF block layout itself (ASDF standard 1.x):

- the YAML tree (parsed by :func:`asdf.util.load_yaml`, untagged) describes
  each array: ``source`` (block number), ``datatype``, ``byteorder``,
  ``shape``, optional ``offset``;
- binary blocks follow the tree, each starting with the magic bytes
  ``\\xd3BLK``, a big-endian header size, then flags, a 4-byte compression
  label, allocated, used and data sizes and a checksum;
- an ``lz4`` block (the label asdf writes) is a series of chunks, each a
  4-byte big-endian compressed length followed by an lz4 block that begins
  with its own little-endian uncompressed size; only the chunks holding the
  wanted rows are decompressed.

Uncompressed blocks are read in place; ``zlib`` and ``bzp2`` blocks are
decompressed whole once (with a warning), as there is no random access
into them.
"""

from __future__ import annotations

import bz2
import logging
import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("romanasn.skycell")

MAGIC = b"\xd3BLK"
_HEADER = struct.Struct(">I4sQQQ16s")  # flags, compression, allocated, used, data size, checksum

_SCALARS = {
    "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8",
    "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8",
    "float16": "f2", "float32": "f4", "float64": "f8", "bool8": "?",
    "complex64": "c8", "complex128": "c16",
}


class FormatError(ValueError):
    """The file is not an ASDF file this reader understands."""


def numpy_dtype(datatype: Any, byteorder: str = "little") -> np.dtype:
    """The numpy dtype of an ASDF ``datatype`` (a name, ``[ucs4, N]``, ``[ascii, N]`` or a field list)."""
    order = "<" if byteorder == "little" else ">"
    if isinstance(datatype, str):
        if datatype not in _SCALARS:
            raise FormatError(f"unsupported ASDF datatype {datatype!r}")
        return np.dtype(order + _SCALARS[datatype])
    if isinstance(datatype, list) and len(datatype) == 2 and datatype[0] in ("ucs4", "ascii"):
        kind = "U" if datatype[0] == "ucs4" else "S"
        return np.dtype(f"{order}{kind}{int(datatype[1])}")
    if isinstance(datatype, list):
        fields = []
        for field in datatype:
            sub = numpy_dtype(field["datatype"], field.get("byteorder", byteorder))
            shape = tuple(field.get("shape", ()))
            fields.append((field["name"], sub, shape) if shape else (field["name"], sub))
        return np.dtype(fields)
    raise FormatError(f"unsupported ASDF datatype {datatype!r}")


class Block:
    """One binary block: where its data are and how they are stored."""

    def __init__(self, path: Path, data_start: int, compression: bytes, used: int, size: int) -> None:
        self.path = path
        self.data_start = data_start
        self.compression = compression.rstrip(b"\0").decode("ascii", "replace")
        self.used = used
        self.size = size
        self._chunks: list[tuple[int, int, int, int]] | None = None  # (file pos, length, out start, out size)
        self._whole: bytes | None = None

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``start:stop`` of the block's (uncompressed) data."""
        if not self.compression:
            with open(self.path, "rb") as f:
                f.seek(self.data_start + start)
                return f.read(stop - start)
        if self.compression == "lz4":
            return self._read_lz4(start, stop)
        return self._decompressed()[start:stop]

    def _chunk_index(self) -> list[tuple[int, int, int, int]]:
        if self._chunks is None:
            chunks, out = [], 0
            with open(self.path, "rb") as f:
                pos, end = self.data_start, self.data_start + self.used
                while pos < end:
                    f.seek(pos)
                    head = f.read(8)
                    if len(head) < 8:
                        raise FormatError(f"{self.path}: truncated lz4 chunk at byte {pos}")
                    length = struct.unpack(">I", head[:4])[0]
                    size = struct.unpack("<i", head[4:])[0]
                    chunks.append((pos + 4, length, out, size))
                    out += size
                    pos += 4 + length
            self._chunks = chunks
        return self._chunks

    def _read_lz4(self, start: int, stop: int) -> bytes:
        pieces = []
        stamp = self.path.stat().st_mtime_ns
        for pos, length, out, size in self._chunk_index():
            if out + size <= start or out >= stop:
                continue
            data = _lz4_chunk(str(self.path), stamp, pos, length)
            pieces.append(data[max(start - out, 0):min(stop - out, size)])
        return b"".join(pieces)

    def _decompressed(self) -> bytes:
        if self._whole is None:
            log.warning("%s: %s-compressed block read whole (only lz4 or uncompressed maps are read in part)",
                        self.path, self.compression)
            with open(self.path, "rb") as f:
                f.seek(self.data_start)
                raw = f.read(self.used)
            if self.compression == "zlib":
                self._whole = zlib.decompress(raw)
            elif self.compression == "bzp2":
                self._whole = bz2.decompress(raw)
            else:
                raise FormatError(f"{self.path}: unsupported block compression {self.compression!r}")
        return self._whole


@lru_cache(maxsize=16)
def _lz4_chunk(path: str, stamp: int, pos: int, length: int) -> bytes:
    """One decompressed lz4 chunk (about 4 MiB); the few last used are kept."""
    try:
        import lz4.block
    except ImportError as exc:  # pragma: no cover - lz4 is a dependency
        raise FormatError(f"{path}: reading lz4-compressed blocks needs the lz4 package") from exc
    with open(path, "rb") as f:
        f.seek(pos)
        return lz4.block.decompress(f.read(length))


class AsdfTables:
    """The tree and blocks of an ASDF file, and row slices of its arrays."""

    def __init__(self, path: str | Path) -> None:
        import asdf.util

        self.path = Path(path)
        with open(self.path, "rb") as f:
            if not f.read(5) == b"#ASDF":
                raise FormatError(f"{self.path}: not an ASDF file")
        self.tree = asdf.util.load_yaml(str(self.path))
        self._blocks: list[Block] | None = None

    def blocks(self) -> list[Block]:
        if self._blocks is None:
            self._blocks = self._scan()
        return self._blocks

    def _scan(self) -> list[Block]:
        blocks = []
        with open(self.path, "rb") as f:
            pos = self._first_block(f)
            while pos is not None:
                f.seek(pos)
                head = f.read(6)
                if len(head) < 6 or head[:4] != MAGIC:
                    break
                header_size = struct.unpack(">H", head[4:6])[0]
                header = f.read(header_size)
                flags, compression, allocated, used, size, _ = _HEADER.unpack(header[:_HEADER.size])
                data_start = pos + 6 + header_size
                blocks.append(Block(self.path, data_start, compression, used, size))
                pos = data_start + allocated
        return blocks

    def _first_block(self, f) -> int | None:
        """The offset of the first block: the first magic token after the YAML tree."""
        f.seek(0)
        window, offset, tail = 1 << 16, 0, b""
        while True:
            chunk = f.read(window)
            if not chunk:
                return None
            data = tail + chunk
            found = data.find(MAGIC)
            if found >= 0:
                return offset - len(tail) + found
            tail = data[-3:]
            offset += len(chunk)

    def node(self, *keys: str) -> dict:
        node = self.tree
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise FormatError(f"{self.path}: no {'/'.join(keys)} in the ASDF tree")
            node = node[key]
        return node

    def rows(self, node: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of the 1-d array described by the tree ``node``."""
        dtype = numpy_dtype(node["datatype"], node.get("byteorder", "little"))
        length = int(node["shape"][0])
        stop = length if stop is None else min(stop, length)
        start = max(0, min(start, stop))
        if "data" in node:  # an inline array
            return np.array([tuple(row) for row in node["data"]], dtype=dtype)[start:stop]
        source = node["source"]
        if not isinstance(source, int):
            raise FormatError(f"{self.path}: arrays in other files ({source!r}) are not supported")
        if node.get("strides") is not None:
            raise FormatError(f"{self.path}: strided arrays are not supported")
        block = self.blocks()[source]
        base = int(node.get("offset", 0))
        data = block.read(base + start * dtype.itemsize, base + stop * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype).copy()

    def length(self, node: dict) -> int:
        return int(node["shape"][0])


# -- writing ---------------------------------------------------------------------------------

_NAMES = {value: key for key, value in _SCALARS.items()}
NDARRAY_TAG = "tag:stsci.edu:asdf/core/ndarray-1.0.0"
CHUNK = 1 << 22  # bytes of data per lz4 chunk, as asdf writes them


def asdf_datatype(dtype: np.dtype) -> Any:
    """The ASDF ``datatype`` of a numpy dtype (scalars, fixed strings, structured records)."""
    if dtype.names:
        fields = []
        for name in dtype.names:
            sub = dtype.fields[name][0]
            fields.append({"name": name, "datatype": asdf_datatype(sub.base),
                           "byteorder": "big" if sub.base.byteorder == ">" else "little",
                           **({"shape": list(sub.shape)} if sub.shape else {})})
        return fields
    if dtype.kind == "U":
        return ["ucs4", dtype.itemsize // 4]
    if dtype.kind == "S":
        return ["ascii", dtype.itemsize]
    code = dtype.kind + str(dtype.itemsize) if dtype.kind != "b" else "?"
    if code not in _NAMES:
        raise FormatError(f"cannot write numpy dtype {dtype}")
    return _NAMES[code]


class _NDArray(dict):
    """An ndarray node of the tree being written (emitted with its ASDF tag)."""


def write_asdf(path: str | Path, tree: dict, *, compression: str = "lz4") -> None:
    """Write ``tree`` (plain values and 1-d numpy arrays) as an ASDF file, arrays in binary blocks.

    Needs neither asdf's extensions nor their start-up cost: the tree is YAML
    with the core ``ndarray`` tag on each array, then one block per array,
    lz4-compressed in 4 MiB chunks (``compression="lz4"``) or raw (``""``).
    """
    import yaml

    arrays: list[np.ndarray] = []

    def convert(node: Any) -> Any:
        if isinstance(node, np.ndarray):
            if node.ndim != 1:
                raise FormatError("only 1-d arrays are written")
            data = np.ascontiguousarray(node)
            arrays.append(data)
            return _NDArray(source=len(arrays) - 1, datatype=asdf_datatype(data.dtype), byteorder="little",
                            shape=[len(data)])
        if isinstance(node, dict):
            return {str(k): convert(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [convert(v) for v in node]
        if isinstance(node, np.generic):
            return node.item()
        return node

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(_NDArray, lambda dumper, data: dumper.represent_mapping(NDARRAY_TAG, dict(data)))
    body = yaml.dump(convert(tree), Dumper=Dumper, default_flow_style=None, sort_keys=False, width=110,
                     explicit_start=False, tags={"!": "tag:stsci.edu:asdf/"}, version=None)
    text = ("#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n--- !core/asdf-1.1.0\n"
            + _strip_directives(body) + "...\n")
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
        for data in arrays:
            raw = data.astype(data.dtype.newbyteorder("<")).tobytes()
            payload = _lz4_chunks(raw) if compression == "lz4" else raw
            label = compression.encode("ascii").ljust(4, b"\0") if compression else b"\0\0\0\0"
            header = _HEADER.pack(0, label, len(payload), len(payload), len(raw), b"\0" * 16)
            f.write(MAGIC + struct.pack(">H", len(header)) + header + payload)


def _strip_directives(body: str) -> str:
    """The YAML body without the directives and document start PyYAML writes (the header has them)."""
    lines = body.splitlines(keepends=True)
    while lines and (lines[0].startswith("%") or lines[0].startswith("---")):
        first = lines.pop(0)
        if first.startswith("---") and first.strip() != "---":
            lines.insert(0, first[3:].lstrip())
            break
    return "".join(lines)


def _lz4_chunks(raw: bytes) -> bytes:
    import lz4.block

    out = []
    for start in range(0, len(raw), CHUNK):
        compressed = lz4.block.compress(raw[start:start + CHUNK])
        out.append(struct.pack(">I", len(compressed)) + compressed)
    return b"".join(out)
