"""Pools: tables of exposure files, one row per file, that associations are made from.

:func:`read_pool` tells three formats apart by their content:

- ECSV (first line ``# %ECSV``) and CSV, with the canonical lower-case
  column names: read strictly. Every problem found is listed in one
  :class:`~romanasn.errors.PoolError`, each line naming the file, the data
  row (1-based, blank lines not counted) and the column.
- The ``|``-separated legacy pools of romancal and JWST (upper-case names):
  read leniently. Each kind of repair is logged once as a warning on the
  ``romanasn.pool`` logger and listed in ``table.meta["romanasn"]["repairs"]``;
  what cannot be repaired is an error as above.

The table has every canonical column (and those packs declare), typed by
``schemas/pool.schema.json``: integer columns are int64, optional numeric
and boolean columns are masked where empty, string columns hold the text as
written ("" when empty) as Python strings (dtype object), a value repeated in
many rows one string for them all. A cell longer than :data:`CELL_BYTES` is
an error. Columns nobody declares follow, as text (or as
typed by an ECSV header).

The header lines are read here; the rows by Arrow's CSV reader, every cell
as text. The checks run on Arrow's columns (``pyarrow.compute``): numbers are
cast by Arrow, enumerations, digit patterns, ids against their parts, file
names and footprints are Arrow's kernels and regular expressions, repeats its
hashing; in a thread beside the conversion of the text to strings for the
table (see :func:`_checked_table`).
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import math
import mmap
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import yaml
from astropy.table import Column, MaskedColumn, Table, vstack
from astropy.table.meta import get_header_from_yaml

from romanasn.asdfheader import HeaderError, compose_checked
from romanasn.columns import enums, merge_columns, patterns, ranges
from romanasn.errors import PoolError, UsageError
from romanasn.inputs import open_regular, replacing
from romanasn.naming import NAME_BYTES, unsafe_reason
from romanasn.plugins.types import PoolColumn

log = logging.getLogger("romanasn.pool")

FORMATS = ("ecsv", "csv", "legacy")

_BLOCK_BYTES = 1 << 24
_LINE_BYTES = 1 << 26  # the longest line (and Arrow's block when it is fed whole lines)
_FAST_BLOCK = 1 << 20  # Arrow's block when it reads the file itself
CELL_BYTES = 1024  # the longest cell a pool may hold: a column takes at most rows x 5 x CELL_BYTES bytes
_WRITE_ROWS = 50_000
_MAX_LINES = 20
_SHOWN_ROWS = 5

_LEGACY_NAMES = {
    "FILENAME": "filename",
    "OBS_ID": "observation_id",
    "PROGRAM": "program",
    "OBS_NUM": "observation",
    "EX_PLAN": "execution_plan",
    "PASS": "pass",
    "SEQUENCE": "segment",
    "VISIT": "visit",
    "VISIT_ID": "visit_id",
    "VISIT_GRP": "visit_file_group",
    "SEQ_ID": "visit_file_sequence",
    "ACT_ID": "visit_file_activity",
    "EXPCOUNT": "exposure",
    "EXP_TYPE": "exposure_type",
    "INSTRUME": "instrument",
    "DETECTOR": "detector",
    "OPT_ELEM": "optical_element",
    "TARGNAME": "target",
    "EXPOSERR": "exposerr",
    "ASN_CANDIDATE": "asn_candidate",
    "CAT": "program_category",
    "SUBCAT": "program_subcategory",
}
_LEGACY_NULLS = ("NULL", "NONE")
_OLD_EXPOSURE_TYPES = {  # old type: (current type, optical element it implies)
    "WFI_GRISM": ("WFI_SPECTRAL", "GRISM"),
    "WFI_PRISM": ("WFI_SPECTRAL", "PRISM"),
    "WFI_DARK": ("WFI_IM_DARK", None),
}
_WHOLE_FOCAL_PLANE = "WFI"

# The digits of the ids, in order: (column, number of digits).
_VISIT_PARTS = (
    ("program", 5), ("execution_plan", 2), ("pass", 3),
    ("segment", 3), ("observation", 3), ("visit", 3),
)
_EXPOSURE_PARTS = (
    ("visit_file_group", 2), ("visit_file_sequence", 1),
    ("visit_file_activity", 2), ("exposure", 4),
)
_ID_PARTS = {"visit_id": _VISIT_PARTS, "observation_id": _VISIT_PARTS + _EXPOSURE_PARTS}


# -- public API -------------------------------------------------------------------


def read_pool(
    path: str | os.PathLike, *, columns: Iterable[PoolColumn] = (), format: str | None = None,
    programs: Iterable[int] | None = None, since: int | None = None,
    filenames: Iterable[str] | None = None, as_of: int | None = None,
) -> Table:
    """Read and check one pool file, or a pool in a database.

    ``columns`` are the columns packs declare, typed and checked like the
    canonical ones; ``format`` ("ecsv", "csv" or "legacy") overrides the
    detection by content. ``path`` may also name a database pool (an SQLite
    file, or a ``sqlite:///`` or ``postgresql://`` URL, see
    :mod:`romanasn.pooldb`): its rows are checked as a file's, in file-name
    order; ``programs`` then reads only those programs' rows, ``since``
    only the rows of the programs changed after that change number,
    ``filenames`` only those rows, and ``as_of`` the rows as they were at
    that change number.
    ``table.meta["romanasn"]`` holds the ``path``, the ``format``
    ("database" for a database, with the change number ``seq`` the rows
    reflect and, when limited, the ``programs`` read) and the list of
    ``repairs`` made. Raises
    :class:`~romanasn.errors.PoolError` listing every problem found.
    """
    path = _source(path)
    problems = _Problems([path])
    table, _, meta = _read(path, merge_columns(columns), format, problems, programs, since, (filenames, as_of))
    problems.raise_any()
    table.meta["romanasn"] = meta
    return table


def read_pools(paths: Iterable[str | os.PathLike], *, columns: Iterable[PoolColumn] = ()) -> Table:
    """Read several pools into one table, checking duplicates across them.

    ``table.meta["romanasn"]`` holds lists: ``path`` and ``format`` (one
    per file) and every file's ``repairs``.
    """
    paths = [_source(path) for path in paths]
    if not paths:
        raise UsageError("no pool file given")
    known = merge_columns(columns)
    problems = _Problems(paths)
    read = [_read(path, known, None, problems) for path in paths]
    problems.raise_any()
    table = _stack([table for table, _, _ in read], paths)
    if len(read) > 1:  # each file's own repeats are found as it is read
        everywhere = np.ones(len(table), bool)
        origins = [(path, rows) for path, (_, rows, _) in zip(paths, read)]
        _check_repeats(table, everywhere, everywhere, origins, problems)
        problems.raise_any()
    table.meta = {"romanasn": {
        "path": [str(path) for path in paths],
        "format": [meta["format"] for _, _, meta in read],
        "repairs": [repair for _, _, meta in read for repair in meta["repairs"]],
    }}
    if len(read) == 1 and "seq" in read[0][2]:  # one database pool: the change number its rows reflect
        table.meta["romanasn"]["seq"] = read[0][2]["seq"]
    return table


def write_pool(table: Table, path: str | os.PathLike) -> None:
    """Write ``table`` as a typed, comma-separated ECSV file, atomically.

    The file is written beside ``path`` under a temporary name, then renamed.
    Masked values and empty strings are written as empty fields; the
    table's meta is not written.
    """
    with replacing(path) as temporary, open(temporary, "x", encoding="utf-8", newline="") as stream:
        stream.write(_ecsv_header(table))
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(table.colnames)
        for start in range(0, len(table), _WRITE_ROWS):
            block = table[start : start + _WRITE_ROWS]
            writer.writerows(zip(*(_cells(block[name]) for name in table.colnames)))


# -- reading one file ---------------------------------------------------------------


@dataclass
class _Text:
    """A pool's cells as text, an Arrow text column (or, from a legacy pool, a numpy str array)
    per column, and their data row numbers."""

    path: Path
    names: list[str]
    cells: dict[str, np.ndarray | pa.ChunkedArray]
    rows: np.ndarray
    declared: dict[str, str]  # dtype an ECSV header gives each column

    def take(self, index: np.ndarray) -> None:
        """Keep the rows at ``index``, in that order."""
        self.cells = {name: values[index] for name, values in self.cells.items()}
        self.rows = self.rows[index]


def _source(path: str | os.PathLike) -> Path | str:
    """A pool file's path, or a database URL as given."""
    text = os.fspath(path)
    return text if "://" in text else Path(text)


def _read(path: Path | str, known: tuple[PoolColumn, ...], format: str | None, problems: _Problems,
          programs: Iterable[int] | None = None, since: int | None = None, rows: tuple = (None, None)):
    """One pool file (or database) as (typed table, data row numbers, meta), its problems recorded."""
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown pool format {format!r}: use one of {', '.join(FORMATS)}")
    seq = None
    try:
        format = format or _detect_format(path)
        if format == "database":
            text, seq, programs = _database_text(path, known, programs, since, problems, rows)
        elif since is not None:
            raise UsageError(f"{path}: only a database pool records its changes")
        else:
            text = _read_text(path, format, known, problems)
    except OSError as error:
        raise PoolError(f"{path}: cannot read the pool: {error.strerror or error}") from error
    repairs = _Repairs(path)
    if format == "legacy":
        _repair_legacy(text, known, repairs)
        repairs.warn()
    text.cells = {name: _arrow(values) for name, values in text.cells.items()}
    table = _checked_table(text, known, problems)
    pa.default_memory_pool().release_unused()  # what Arrow's reader threads freed too
    meta = {"path": str(path), "format": format, "repairs": list(repairs)}
    if seq is not None:
        meta["seq"] = seq
        if programs is not None:
            meta["programs"] = sorted(programs, key=str)
    if programs is not None and format != "database":
        keep = np.isin(np.asarray(table["program"]), list(programs))
        table, rows = table[keep], text.rows[keep]
        return table, rows, meta
    return table, text.rows, meta


def _checked_table(text: _Text, known: tuple[PoolColumn, ...], problems: _Problems) -> Table:
    """The typed table of ``text``, its problems recorded, ``text.cells`` emptied.

    Arrow's kernels let go of the interpreter's lock: the regular
    expressions of file names and footprints start in threads as soon as
    the text is read, the other checks run in one beside the conversion of
    the columns for the table. File names and footprints, the columns of
    distinct strings (most of the table's bytes), are converted last, once
    checked, one after the other, each Arrow column let go as it is.
    """
    _check_names(text, known, problems)
    with ThreadPoolExecutor(2) as beside:
        plain = {name: beside.submit(_plain, _text_cells(text, name), pattern, longest)
                 for name, pattern, longest in _JUDGED}
        columns, valid = _typed_columns(text, known, problems)
        order = list(columns)
        text.cells = {}  # the Arrow columns of numbers now typed go; text ones go as each is converted
        pa.default_memory_pool().release_unused()
        checks = beside.submit(_check_values, {name: columns[name] for name in _checked_names()}, valid, text,
                               problems, plain)
        made = _converted(columns, [name for name in order if name not in plain])
        checks.result()
    made.update(_converted(columns, list(plain)))
    return Table([made[name] for name in order], copy=False)


def _database_text(source: Path | str, known: tuple[PoolColumn, ...], programs: Iterable[int] | None,
                   since: int | None, problems: _Problems, rows: tuple = (None, None)
                   ) -> tuple[_Text, int, set | None]:
    """A database pool's cells as a file's text would give them, the change number they reflect
    and the programs read (None: all)."""
    from romanasn.pooldb import PoolDB

    db = PoolDB(source, known)
    try:
        cells, kinds, seq, programs = db.cells(programs, since, *rows)
    finally:
        db.close()
    count = len(next(iter(cells.values()))) if cells else 0
    if not count and programs is None and rows[0] is None:
        problems.add(source, "no data rows")
    return _Text(source, list(cells), cells, np.arange(1, count + 1), kinds), seq, programs


def _detect_format(path: Path | str) -> str:
    """"database" (a URL, or an SQLite file: see :mod:`romanasn.pooldb`), "ecsv", "csv" or
    "legacy", from the first line of the file."""
    if isinstance(path, str):
        return "database"
    with open_regular(path) as stream:
        first = stream.readline(_BLOCK_BYTES)
    if first.startswith(b"SQLite format 3\x00"):
        return "database"
    if first.startswith(b"# %ECSV"):
        return "ecsv"
    return "legacy" if b"|" in first else "csv"


def _read_text(path: Path, format: str, known: tuple[PoolColumn, ...], problems: _Problems) -> _Text:
    with open_regular(path) as stream:
        if format == "ecsv":
            delimiter, declared, line = _read_ecsv_header(stream, path)
        else:
            delimiter, declared, line = ("|" if format == "legacy" else ","), {}, 0
        header = stream.readline()
        line += 1
        if not header.strip():
            raise PoolError(f"{path}: no header line with the column names")
        names = _split_names(_decode(header, path, line), delimiter, path, line)
        if declared and list(declared) != names:
            raise PoolError(f"{path}: line {line}: the column names differ from the ECSV header's")
        dtypes = {} if format == "legacy" else {**declared, **{column.name: column.dtype for column in known}}
        integers = {name for name, dtype in dtypes.items() if dtype == "int"}
        cells, rows = _read_rows(stream, path, names, delimiter, line + 1, integers, problems)
    if format == "legacy":
        cells = {name: np.strings.strip(_str_array(values)) for name, values in cells.items()}
    if not len(rows):
        problems.add(path, "no data rows")
    return _Text(path, _unique_names(names, path, problems), cells, rows, declared)


def _read_ecsv_header(stream: BinaryIO, path: Path) -> tuple[str, dict[str, str], int]:
    """The delimiter, the declared dtype of each column and the number of header lines."""
    lines = []
    while stream.peek(1)[:1] == b"#":
        lines.append(_decode(stream.readline(), path, len(lines) + 1).rstrip("\r\n"))
    if not lines or not lines[0].startswith("# %ECSV"):
        raise PoolError(f"{path}: line 1: not an ECSV file (no '# %ECSV' line)")
    try:
        text = [line[2:] for line in lines]
        compose_checked("\n".join(text[1:]), f"{path}: the ECSV header")  # after the %ECSV line
        header = get_header_from_yaml(text)
        declared = {
            spec["name"]: _declared_dtype(spec.get("datatype", "string")) for spec in header["datatype"]
        }
    except HeaderError as error:
        raise PoolError(str(error)) from error
    except Exception as error:
        raise PoolError(f"{path}: bad ECSV header: {error!r}") from error
    delimiter = header.get("delimiter", " ")
    if delimiter not in (" ", ","):
        raise PoolError(f"{path}: bad ECSV header: delimiter {delimiter!r} (ECSV allows ' ' or ',')")
    return delimiter, declared, len(lines)


def _declared_dtype(datatype: str) -> str:
    if datatype.startswith(("int", "uint")):
        return "int"
    if datatype.startswith("float"):
        return "float"
    return "bool" if datatype == "bool" else "str"


def _decode(line: bytes, path: Path, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, number, line[error.start]) from error


def _not_utf8(path: Path, line: int, byte: int) -> PoolError:
    return PoolError(f"{path}: line {line}: not valid UTF-8 (byte {byte:#04x})")


def _split_names(line: str, delimiter: str, path: Path, number: int) -> list[str]:
    line = line.rstrip("\r\n")
    if "\r" in line:
        raise PoolError(f"{path}: line {number}: a carriage return inside the line (do lines end in CR "
                        "alone?): end lines with LF or CR LF")
    try:
        names = next(csv.reader([line], delimiter=delimiter))
    except csv.Error as error:
        raise PoolError(f"{path}: line {number}: the column names cannot be read: {error}") from error
    return [name.strip() for name in names]


def _unique_names(names: list[str], path: Path, problems: _Problems) -> list[str]:
    unique = list(dict.fromkeys(names))
    for name in unique:
        if names.count(name) > 1:
            problems.add(path, f"column {name!r} appears {names.count(name)} times")
    return unique


# -- reading the cells with Arrow ------------------------------------------------


def _read_rows(stream: BinaryIO, path: Path, names: list[str], delimiter: str, first_line: int,
               integers: set[str], problems: _Problems) -> tuple[dict[str, pa.ChunkedArray], np.ndarray]:
    """The data lines of ``stream`` (read by Arrow's CSV reader): an Arrow column for each
    column, and the data row numbers (1-based, blank lines not counted).

    Arrow reads the file itself, on every core, the columns named in
    ``integers`` as int64 (null where empty), the others as text. Only a
    pool it cannot read so (a cell that is not an integer, not UTF-8, a line
    longer than its block, rows of the wrong length, a carriage return inside
    a line) is scanned, whole lines a block at a time, to name the line at
    fault, and then read again in one thread, every cell as text, to name the
    row or cell. A quoted cell may hold a line end only in a file with a
    quote: Arrow splits the others at every line end, faster.
    """
    start, bad = stream.tell(), []
    scanned = _Scanned(stream)
    try:
        types = [pa.int64() if name in integers else pa.large_string() for name in names]
        table = _arrow_read(scanned, delimiter, types, bad, threads=True, block=_FAST_BLOCK,
                            newlines=_holds(stream, b'"'))
    except pa.ArrowInvalid:
        table = None
    if table is None or bad or scanned.carriage:
        stream.seek(start)
        for block, line in _numbered_blocks(stream, path, first_line):  # Arrow does not say where
            _check_block(block, path, line)
        bad.clear()
        stream.seek(start)
        try:
            types = [pa.large_string()] * len(names)
            table = _arrow_read(stream, delimiter, types, bad, threads=False, block=_LINE_BYTES)
        except pa.ArrowInvalid as error:
            raise PoolError(f"{path}: cannot read the rows: {error}") from None
    numbers = np.array([number for number, _ in bad], np.int64)
    problems.add_rows(path, None, numbers, lambda k: f"{bad[k][1]} fields, expected {len(names)}")
    rows = np.delete(np.arange(1, table.num_rows + len(bad) + 1), numbers - 1)
    _check_cell_lengths(table, names, rows, path)
    cells = {}
    for name, column in zip(names, table.columns):
        cells.setdefault(name, column)
    return cells, rows


def _arrow_read(stream, delimiter: str, types: list[pa.DataType], bad: list, threads: bool, block: int,
                newlines: bool = True) -> pa.Table:
    """The cells of each column as of ``types`` (text, or int64 null where empty); the rows with
    another number of fields are left out and added to ``bad`` as (data row number or None, fields).
    ``newlines``: whether a quoted cell may hold a line end."""
    keys = [str(k) for k in range(len(types))]
    if not stream.peek():
        return pa.table({key: pa.array([], kind) for key, kind in zip(keys, types)})

    def skip(row) -> str:
        bad.append((row.number, row.actual_columns))
        return "skip"

    return pa_csv.read_csv(
        stream,
        read_options=pa_csv.ReadOptions(column_names=keys, use_threads=threads, block_size=block),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines, invalid_row_handler=skip),
        convert_options=pa_csv.ConvertOptions(column_types=dict(zip(keys, types)), null_values=[""],
                                              strings_can_be_null=False, quoted_strings_can_be_null=False),
    )


def _holds(stream: BinaryIO, byte: bytes) -> bool:
    """Whether the rest of ``stream``, a regular file, holds ``byte`` (searched in place, mapped)."""
    if os.fstat(stream.fileno()).st_size <= stream.tell():
        return False
    with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return mapped.find(byte, stream.tell()) >= 0


class _Scanned(io.RawIOBase):
    """The rest of a pool file as Arrow reads it, noting whether it holds a carriage return."""

    def __init__(self, stream: BinaryIO):
        super().__init__()
        self._stream, self.carriage = stream, False

    def readable(self) -> bool:
        return True

    def peek(self) -> bytes:
        """Some of the bytes to come (b"" at the end), left to be read."""
        return self._stream.peek(1)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.carriage = self.carriage or b"\r" in data  # a CR LF too: the slow read tells them apart
        return data


def _blocks(stream: BinaryIO, path: Path) -> Iterator[bytes]:
    """Whole lines of ``stream``, about a block at a time, each block ending with a newline."""
    rest = b""
    while chunk := stream.read(_BLOCK_BYTES):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        rest = chunk[cut:]
        if len(rest) > _LINE_BYTES:  # no line of cells within the limit is that long
            raise PoolError(f"{path}: a line longer than {_LINE_BYTES >> 20} MiB")
        if cut:
            yield chunk[:cut]
    if rest.strip():
        yield rest + b"\n"


def _numbered_blocks(stream: BinaryIO, path: Path, line: int) -> Iterator[tuple[bytes, int]]:
    """:func:`_blocks` with the line number each starts at."""
    for block in _blocks(stream, path):
        yield block, line
        line += block.count(b"\n")


def _check_block(block: bytes, path: Path, first_line: int) -> None:
    """Refuse text that is not UTF-8, and a carriage return that does not end a line with a line
    feed (Arrow would read it as a line end), naming the line."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + block.count(b"\n", 0, error.start)
        raise _not_utf8(path, line, block[error.start]) from error
    if block.count(b"\r") != block.count(b"\r\n"):
        at = block.replace(b"\r\n", b"  ").index(b"\r")
        line = first_line + block.count(b"\n", 0, at)
        raise PoolError(f"{path}: line {line}: a carriage return inside the "
                        "line (do lines end in CR alone?): end lines with LF or CR LF")


def _check_cell_lengths(table: pa.Table, names: list[str], rows: np.ndarray, path: Path) -> None:
    """Refuse a cell longer than :data:`CELL_BYTES`: the first one, by row then column."""
    first = []
    for column, values in enumerate(table.columns):
        if not pa.types.is_large_string(values.type):
            continue
        lengths = pc.binary_length(values)
        if len(values) and pc.max(lengths).as_py() > CELL_BYTES:
            index = pc.index(pc.greater(lengths, CELL_BYTES), True).as_py()
            first.append((index, column, lengths[index].as_py()))
    if first:
        index, column, length = min(first)
        raise PoolError(f"{path}: row {rows[index]}, column {names[column]!r}: a cell of {length} bytes, "
                        f"more than the {CELL_BYTES} a pool cell may hold")


def _arrow(values: np.ndarray | pa.ChunkedArray) -> pa.ChunkedArray:
    """Text cells as an Arrow text column."""
    if isinstance(values, pa.ChunkedArray):
        return values
    return pa.chunked_array([pa.array(np.asarray(values).astype(object), pa.large_string())])  # a NUL kept


_SAMPLE_ROWS = 4096  # the rows that tell a column of repeated text from one of distinct text


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    """The cells of an Arrow text column as Python strings (dtype object), a value repeated in
    many rows one string for them all: a detector, a filter or a visit id costs a pointer a row.

    A column whose first :data:`_SAMPLE_ROWS` cells are mostly distinct (file names,
    footprints) is converted cell by cell: hashing it would only cost time.
    """
    sample = column.slice(0, _SAMPLE_ROWS)
    if len(column) == 0 or pc.count_distinct(sample).as_py() * 2 > len(sample):
        return column.to_numpy()
    encoded = pc.dictionary_encode(column)  # one dictionary for every chunk
    indices = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
    return encoded.chunk(0).dictionary.to_numpy(zero_copy_only=False)[indices]


def _str_array(column: pa.ChunkedArray) -> np.ndarray:
    """The cells of an Arrow text column as a numpy str array, fixed width (ASCII without a
    Python object per cell), for numpy's string functions."""
    array = column.combine_chunks() if column.num_chunks else pa.array([], pa.large_string())
    lengths = pc.binary_length(array).to_numpy()
    width = max(int(lengths.max(initial=0)), 1)
    if not pc.all(pc.string_is_ascii(array), min_count=0).as_py():
        return array.to_numpy(zero_copy_only=False).astype(str)
    fixed = array if lengths.min(initial=width) == width else pc.ascii_rpad(array, width=width, padding="\0")
    _, offsets, data = fixed.buffers()  # every cell padded to the width
    start = int(np.frombuffer(offsets, np.int64, 1, fixed.offset * 8)[0])
    return np.frombuffer(data, np.uint8, len(fixed) * width, start).astype(np.uint32).view(f"U{width}")


# -- legacy repairs ---------------------------------------------------------------


class _Repairs(list):
    """The repairs made to one legacy pool: each one a debug line, then one warning for them all.

    Reading the legacy form itself (upper-case names, NULL for empty) is no
    repair worth a warning: a pool ``make-pool --format legacy`` wrote reads
    back in silence.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.fixes: list[str] = []

    def note(self, what: str, rows: np.ndarray | None = None, *, fix: str | None = None) -> None:
        """Record a repair; ``fix`` is its short name in the warning (None: the form, no warning)."""
        message = f"{self.path}: {what}"
        if rows is not None:
            message += f": {len(rows)} row{'s' if len(rows) > 1 else ''} ({_preview(rows)})"
        log.debug(message)
        self.append(message)
        if fix:
            self.fixes.append(fix if rows is None else f"{fix} ({len(rows)} row{'s' if len(rows) > 1 else ''})")

    def warn(self) -> None:
        """One warning line naming every repair that may have changed what the pool means."""
        if self.fixes:
            log.warning("%s: legacy pool repaired: %s (-v lists each)", self.path, ", ".join(self.fixes))


def _preview(rows: np.ndarray) -> str:
    shown = ", ".join(str(row) for row in rows[:_SHOWN_ROWS])
    return shown + (", ..." if len(rows) > _SHOWN_ROWS else "")


def _repair_legacy(text: _Text, known: tuple[PoolColumn, ...], repairs: _Repairs) -> None:
    _rename_legacy(text, known, repairs)
    _blank_nulls(text, repairs)
    _merge_repeated_files(text, repairs)
    _map_old_exposure_types(text, repairs)
    _pad_ids(text, repairs)
    _rebuild_observation_ids(text, repairs)
    _expand_focal_plane(text, repairs)


def _rename_legacy(text: _Text, known: tuple[PoolColumn, ...], repairs: _Repairs) -> None:
    """Map upper-case legacy names to canonical ones; drop the columns nobody knows."""
    names = {column.name for column in known}
    renamed, dropped = {}, []
    for name in text.names:
        target = _LEGACY_NAMES.get(name) or (name.lower() if name.lower() in names else None)
        if target is None or target in renamed.values():
            dropped.append(name)
        else:
            renamed[name] = target
    text.cells = {target: text.cells[name] for name, target in renamed.items()}
    text.names = list(renamed.values())
    changes = [f"{name} -> {target}" for name, target in renamed.items() if name != target]
    if changes:
        repairs.note(f"renamed legacy columns {', '.join(changes)}")
    if dropped:
        repairs.note(f"dropped unknown legacy columns {', '.join(dropped)}",
                     fix=f"{len(dropped)} unknown column{'s' if len(dropped) > 1 else ''} dropped")


def _blank_nulls(text: _Text, repairs: _Repairs) -> None:
    hit = np.zeros(len(text.rows), bool)
    for name, values in text.cells.items():
        null = np.isin(values, _LEGACY_NULLS)
        text.cells[name] = np.where(null, "", values)
        hit |= null
    if hit.any():
        repairs.note(f"read {' and '.join(_LEGACY_NULLS)} as empty", text.rows[hit])


def _merge_repeated_files(text: _Text, repairs: _Repairs) -> None:
    if "filename" not in text.cells:
        return
    later, _ = _repeats(_codes(text.cells["filename"]))
    if len(later):
        repairs.note("merged rows repeating a file name (first kept)", text.rows[later], fix="repeated files merged")
        text.take(np.setdiff1d(np.arange(len(text.rows)), later))


def _map_old_exposure_types(text: _Text, repairs: _Repairs) -> None:
    if "exposure_type" not in text.cells:
        return
    types = text.cells["exposure_type"]
    hit = np.isin(types, list(_OLD_EXPOSURE_TYPES))
    if not hit.any():
        return
    for old, (new, element) in _OLD_EXPOSURE_TYPES.items():
        rows = types == old
        text.cells["exposure_type"] = np.where(rows, new, text.cells["exposure_type"])
        if element and "optical_element" in text.cells:
            text.cells["optical_element"] = np.where(rows, element, text.cells["optical_element"])
    mapping = ", ".join(
        f"{old} -> {new}" + (f" with {element}" if element else "")
        for old, (new, element) in _OLD_EXPOSURE_TYPES.items()
    )
    repairs.note(f"mapped old exposure types ({mapping})", text.rows[hit], fix="old exposure types mapped")


def _pad_ids(text: _Text, repairs: _Repairs) -> None:
    for name in ("visit_file_activity", "visit_id"):
        if name not in text.cells:
            continue
        values, width = text.cells[name], _digit_width(patterns()[name])
        short = np.strings.isdigit(values) & (np.strings.str_len(values) < width)
        if short.any():
            text.cells[name] = np.where(short, np.strings.zfill(values, width), values)
            repairs.note(f"zero-padded {name} to {width} digits", text.rows[short], fix=f"{name} zero-padded")


def _rebuild_observation_ids(text: _Text, repairs: _Repairs) -> None:
    """Rebuild the observation ids that are not 28 digits from visit_id and the exposure parts."""
    if not all(name in text.cells for name in ["visit_id", *(name for name, _ in _EXPOSURE_PARTS)]):
        return
    ids = text.cells.get("observation_id", np.full(len(text.rows), ""))
    malformed = ~_is_digits(ids, _digit_width(patterns()["observation_id"]))
    if not malformed.any():
        return
    built = text.cells["visit_id"]
    for name, width in _EXPOSURE_PARTS:
        built = np.strings.add(built, np.strings.zfill(text.cells[name], width))
    text.cells["observation_id"] = np.where(malformed, built, ids)
    if "observation_id" not in text.names:
        text.names.append("observation_id")
    repairs.note("rebuilt malformed observation_id from its parts", text.rows[malformed],
                 fix="observation_id rebuilt")


def _expand_focal_plane(text: _Text, repairs: _Repairs) -> None:
    """Make each row for detector WFI (the whole focal plane) one row per detector."""
    if "detector" not in text.cells:
        return
    whole = text.cells["detector"] == _WHOLE_FOCAL_PLANE
    if not whole.any():
        return
    detectors = np.array(enums()["detector"])
    repairs.note(f"expanded rows for detector {_WHOLE_FOCAL_PLANE} to its {len(detectors)} detectors",
                 text.rows[whole], fix=f"{_WHOLE_FOCAL_PLANE} rows expanded to detectors")
    copies = np.where(whole, len(detectors), 1)
    index = np.repeat(np.arange(len(whole)), copies)
    number = np.arange(len(index)) - np.repeat(np.cumsum(copies) - copies, copies)  # 0.. within a row
    expanded = whole[index]
    text.take(index)
    detector = detectors[number]
    text.cells["detector"] = np.where(expanded, detector, text.cells["detector"])
    if "filename" in text.cells:
        files = text.cells["filename"]
        infix = np.strings.add(np.strings.add("_", np.strings.lower(detector)), "_")
        text.cells["filename"] = np.where(expanded, np.strings.replace(files, "_WFI_", infix), files)


# -- typing and checking ----------------------------------------------------------


class _Problems:
    """Problems found in pools, raised together as one PoolError (by file, then row)."""

    def __init__(self, paths: list[Path]):
        self.lines: list[tuple[tuple[int, int], str]] = []
        self.count = 0
        self._rank = {path: rank for rank, path in enumerate(paths)}

    def add(self, path: Path, message: str) -> None:
        """A problem with a whole file."""
        self._record(path, 0, message)

    def add_rows(
        self, path: Path, column: str | None, rows: np.ndarray, describe: Callable[[int], str]
    ) -> None:
        """One problem for each of ``rows`` (ascending data row numbers), ``describe(k)`` the k-th."""
        where = f", column {column!r}" if column else ""
        for k in range(min(len(rows), _MAX_LINES)):
            self._record(path, int(rows[k]), f"row {rows[k]}{where}: {describe(k)}")
        self.count += max(len(rows) - _MAX_LINES, 0)

    def _record(self, path: Path, row: int, message: str) -> None:
        self.lines.append(((self._rank[path], row), f"{path}: {message}"))
        self.count += 1

    def raise_any(self) -> None:
        if not self.count:
            return
        lines = [line for _, line in sorted(self.lines, key=lambda item: item[0])[:_MAX_LINES]]
        if self.count > len(lines):
            lines.append(f"and {self.count - len(lines)} more")
        raise PoolError("\n".join(lines))


def _shown(value: Any) -> str:
    """A cell value as quoted in a message."""
    return repr(str(value))


def _check_names(text: _Text, known: tuple[PoolColumn, ...], problems: _Problems) -> None:
    """Missing required columns, and unknown ones spelt like a known one."""
    known_names = [column.name for column in known]
    unknown = [name for name in text.names if name not in known_names]
    suggested = set()
    for column in known:
        if column.required and column.name not in text.cells:
            found = _closest(column.name, unknown, 0.6)
            hint = f" (found {found!r}; did you mean it?)" if found else ""
            problems.add(text.path, f"missing required column {column.name!r}{hint}")
            suggested.add(found)
    for name in unknown:
        close = _closest(name, known_names, 0.85)
        if close and name not in suggested:
            problems.add(text.path, f"unknown column {name!r} (did you mean {close!r}?)")


def _closest(word: str, candidates: list[str], cutoff: float) -> str | None:
    """The candidate spelt most like ``word`` (ignoring case), if close enough."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[found[0]] if found else None


def _typed_columns(text: _Text, known: tuple[PoolColumn, ...], problems: _Problems):
    """The typed columns (numbers, masked where empty; text still as Arrow columns), and for each
    column which cells hold a valid value."""
    specs = [(column.name, column.dtype, column.required) for column in known]
    names = {column.name for column in known}
    specs += [(name, text.declared.get(name, "str"), False) for name in text.names if name not in names]
    columns, valid = {}, {}
    for name, dtype, required in specs:
        present = name in text.cells
        cells = _text_cells(text, name)
        columns[name], valid[name] = _convert(cells, name, dtype, required and present, text, problems)
    return columns, valid


def _text_cells(text: _Text, name: str) -> pa.ChunkedArray:
    """The cells of column ``name`` as read, empty text when the pool has no such column."""
    return text.cells[name] if name in text.cells else _arrow(np.full(len(text.rows), ""))


def _convert(cells: pa.ChunkedArray, name, dtype, required, text, problems):
    """The column of ``dtype`` made from text ``cells`` (text stays an Arrow column), and which
    cells hold a valid value."""
    if pa.types.is_integer(cells.type):  # read as numbers by Arrow
        empty = _numpy(pc.is_null(cells))
        values, parsed = pc.fill_null(cells, 0).to_numpy(), np.ones(len(cells), bool)
    else:
        empty = _numpy(pc.equal(cells, ""))
    if required:
        problems.add_rows(text.path, name, text.rows[empty], lambda k: "empty value in a required column")
    if dtype == "str":
        return cells, ~empty
    if not pa.types.is_integer(cells.type):
        values, parsed = _PARSERS[dtype](cells, empty)
    bad = np.flatnonzero(~parsed & ~empty)
    problems.add_rows(text.path, name, text.rows[bad], lambda k: f"{_shown(cells[bad[k]])} is not {_NOUNS[dtype]}")
    if not values.flags.writeable:  # a view of Arrow's buffer: the table's columns stay writable
        values = values.copy()
    if required:
        return Column(values, name=name, copy=False), parsed & ~empty
    return MaskedColumn(values, name=name, mask=empty, copy=False), parsed & ~empty


def _numpy(mask: pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean column as a numpy one (null as False)."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _parse_numbers(cells: pa.ChunkedArray, empty: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """The ``dtype`` value of each cell (0 where empty or not a finite number), and which cells are
    one: cast by Arrow, or, when a cell is not in the plain form Arrow reads, by numpy one
    distinct value at a time."""
    try:
        values = pc.cast(pc.if_else(pa.chunked_array([empty]), None, cells), pa.from_numpy_dtype(dtype))
        values = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)
        if np.isfinite(values).all():
            return values, np.ones(len(values), bool)
    except pa.ArrowInvalid:
        pass
    unique, inverse = np.unique(np.where(empty, "0", _str_array(cells)), return_inverse=True)
    values, parsed = np.zeros(len(unique), dtype), np.zeros(len(unique), bool)
    for k, value in enumerate(unique):
        try:
            values[k] = np.array([value]).astype(dtype)[0]
            parsed[k] = np.isfinite(values[k])
        except (ValueError, OverflowError):
            pass
    return values[inverse], parsed[inverse]


def _parse_bools(cells: pa.ChunkedArray, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True for "true"/"1", False for "false"/"0" (any case), and which cells are one of them."""
    lowered = pc.utf8_lower(cells)
    true = _numpy(pc.is_in(lowered, pa.array(["true", "1"])))
    return true, true | _numpy(pc.is_in(lowered, pa.array(["false", "0"])))


_PARSERS = {"int": partial(_parse_numbers, dtype=np.int64), "float": partial(_parse_numbers, dtype=np.float64),
            "bool": _parse_bools}
_NOUNS = {"int": "an integer", "float": "a finite number", "bool": "true or false"}


def _converted(columns: dict[str, Column | pa.ChunkedArray], names: list[str]) -> dict[str, Column]:
    """The columns ``names`` taken out of ``columns`` as the table's (see :func:`_column`), each
    Arrow column let go in turn and the memory Arrow's allocator keeps handed back to the system."""
    made = {}
    for name in names:
        made[name] = _column(name, columns.pop(name))
        pa.default_memory_pool().release_unused()
    return made


def _column(name: str, values: Column | pa.ChunkedArray) -> Column:
    """A column of the table: text as Python strings (see :func:`_strings`)."""
    return values if isinstance(values, Column) else Column(_strings(values), name=name)


def _cell(values, index: int) -> Any:
    """The value at ``index`` of a numpy or Arrow column."""
    value = values[int(index)]
    return value.as_py() if isinstance(value, pa.Scalar) else value


def _checked_names() -> set[str]:
    """The columns :func:`_check_values` reads."""
    parts = {part for parts in _ID_PARTS.values() for part, _ in parts}
    return {*ranges(), *enums(), *patterns(), *_ID_PARTS, *parts, *(name for name, _, _ in _JUDGED),
            "filename", "observation_id", "detector"}


def _check_values(columns: dict, valid: dict[str, np.ndarray], text: _Text, problems: _Problems,
                  plain: dict[str, Future]) -> None:
    """Ranges, enumerations, id formats, ids against their parts, bare file names,
    footprints and repeated rows, on the typed columns (text as Arrow's).

    A cell found bad is no longer ``valid``, so that later checks skip it.
    ``plain`` holds, for each column of :data:`_JUDGED`, which of its cells
    are plain (:func:`_plain`), made in another thread.
    """
    path, rows = text.path, text.rows

    def check(name: str, bad_cells: np.ndarray, describe: Callable[[Any], str]) -> None:
        bad = np.flatnonzero(valid[name] & bad_cells)
        problems.add_rows(path, name, rows[bad], lambda k: describe(_cell(columns[name], bad[k])))
        valid[name][bad] = False

    for name, (low, high) in ranges().items():
        values = np.asarray(columns[name])
        check(name, (values < low) | (values > high), lambda value: f"{value} is out of range {low}..{high}")
    for name, allowed in enums().items():
        check(name, ~_numpy(pc.is_in(columns[name], pa.array(allowed, pa.large_string()))),
              lambda value: f"{_shown(value)} is not one of {', '.join(allowed)}")
    for name, pattern in patterns().items():
        width = _digit_width(pattern)
        digits = pc.and_(pc.equal(pc.binary_length(columns[name]), width), pc.ascii_is_decimal(columns[name]))
        check(name, ~_numpy(digits),
              lambda value: f"{_shown(value)} is not {width} digits")
    _check_ids(columns, valid, text, problems)
    for name, _, _ in _JUDGED:
        bad, reasons = _judge(columns[name], valid[name], name, plain[name].result())
        check(name, bad, lambda value: reasons[value])
    exposures_ok = valid["observation_id"] & valid["detector"]
    _check_repeats(columns, valid["filename"], exposures_ok, [(path, rows)], problems)


def _digit_width(pattern: str) -> int:
    """N for a pattern ``^[0-9]{N}$``, the only kind the pool schema uses."""
    match = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pattern)
    if not match:
        raise ValueError(f"unsupported pool schema pattern {pattern!r}")
    return int(match.group(1))


def _is_digits(values: np.ndarray, width: int) -> np.ndarray:
    return (np.strings.str_len(values) == width) & np.strings.isdigit(values)


def _check_ids(columns: dict, valid: dict[str, np.ndarray], text: _Text, problems: _Problems) -> None:
    """Check that the ids are their parts' digits, side by side, where the id and its parts are
    valid: as numbers of at most 18 digits at a time."""
    for name, parts in _ID_PARTS.items():
        checked = valid[name].copy()
        for part, _ in parts:
            checked &= valid[part]
        index = np.flatnonzero(checked)
        ids = pc.dictionary_encode(_arrow_values(columns[name], index))  # each distinct id cut once
        codes, agree, position = ids.indices.to_numpy(), np.ones(len(index), bool), 0
        for group in _digit_groups(parts):
            width = sum(digits for _, digits in group)
            written = pc.cast(pc.utf8_slice_codeunits(ids.dictionary, position, position + width), pa.int64())
            wanted = np.zeros(len(index), np.int64)
            for part, digits in group:
                wanted = wanted * 10**digits + _integers(columns[part], index)
            agree &= written.to_numpy()[codes] == wanted
            position += width
        wrong = index[~agree]

        def describe(k: int, name=name, parts=parts) -> str:
            expected = id_from_parts(name, {part: _cell(columns[part], wrong[k]) for part, _ in parts})
            return f"{_shown(_cell(columns[name], wrong[k]))} disagrees with its parts (expected {expected!r})"

        problems.add_rows(text.path, name, text.rows[wrong], describe)


def _integers(column, index: np.ndarray) -> np.ndarray:
    """The values at ``index`` of an integer column, or of a text column of digits, as int64."""
    if isinstance(column, Column):
        return np.asarray(column)[index]
    return pc.cast(_arrow_values(column, index), pa.int64()).to_numpy()


def _digit_groups(parts: tuple[tuple[str, int], ...]) -> list[list[tuple[str, int]]]:
    """``parts`` in runs of at most 18 digits, numbers an int64 holds."""
    groups = [[]]
    for part in parts:
        if sum(digits for _, digits in groups[-1]) + part[1] > 18:
            groups.append([])
        groups[-1].append(part)
    return groups


def _arrow_values(values, index: np.ndarray | None = None) -> pa.Array:
    """The values (at ``index``, distinct and ascending) of a numpy or Arrow column, as an Arrow array."""
    if index is not None and len(index) == len(values):  # every row
        index = None
    if index is not None and not len(index) and isinstance(values, pa.ChunkedArray):
        return pa.array([], values.type)  # Arrow's take joins a chunked text column first
    if isinstance(values, pa.ChunkedArray):
        return (values if index is None else values.take(index)).combine_chunks()
    values = np.asarray(values) if index is None else np.asarray(values)[index]
    return pa.array(values.astype(object) if values.dtype.kind == "U" else values)  # a NUL inside kept


# -- one row at a time ------------------------------------------------------------
#
# read_pool checks whole columns with array operations. make-pool checks each
# exposure file's row as it reads it, with these: what they pass, read_pool
# passes, and their messages are read_pool's for the same cell.

_INT64 = (-(1 << 63), (1 << 63) - 1)


def cell_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the cell of column ``name``, as :func:`read_pool` checks cells, or None.

    ``value`` is typed as in read_pool's table (int, float, bool or str;
    None or "" when empty). Numbers must be finite and integers fit 64
    bits; the schema's ranges, enumerations and digit patterns (ASCII
    digits) hold; text is UTF-8; ``filename`` is a bare file name and
    ``s_region`` a well-formed polygon (:func:`region_problem`). Ids
    against their parts are :func:`id_problems`; repeated rows are not
    checked here.
    """
    if value is None or value is True or value is False:
        return None
    if isinstance(value, str):
        if not value:
            return None
        if not value.isascii() and not _encodes(value):
            return f"{_shown(value)} is not valid UTF-8 text"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{_shown(value)} is not {_NOUNS['float']}"
    elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        return f"{value} does not fit a 64-bit integer"
    rule = (_CELL_RULES or _cell_rules()).get(name)
    if rule is None:
        return None
    kind, first, second = rule
    if kind == "range":
        if isinstance(value, (int, float)) and not first <= value <= second:
            return f"{value} is out of range {first}..{second}"
    elif not isinstance(value, str):
        return None
    elif kind == "enum":
        if value not in first:
            return f"{_shown(value)} is not one of {second}"
    elif kind == "digits":
        if not (len(value) == first and value.isascii() and value.isdigit()):
            return f"{_shown(value)} is not {first} digits"
    elif kind == "filename":
        reason = unsafe_reason(value)
        if reason:
            return f"{_shown(value)} is not a bare file name: {reason}"
    elif kind == "s_region":
        reason = region_problem(value)
        if reason:
            return f"{_shown(value)} {reason}"
    return None


def id_problems(row: Any) -> list[tuple[str, str]]:
    """``(column, problem)`` for each id of ``row`` (a mapping) that its parts do not make.

    An id, or a part, that is missing or None is not compared.
    """
    found = []
    for name in _ID_PARTS:
        value = row.get(name)
        if value is None or any(row.get(part) is None for part, _ in _ID_PARTS[name]):
            continue
        expected = id_from_parts(name, row)
        if value != expected:
            found.append((name, f"{_shown(value)} disagrees with its parts (expected {expected!r})"))
    return found


def id_from_parts(name: str, row: Any) -> str:
    """The ``visit_id`` or ``observation_id`` that the parts in ``row`` make, their digits side by side."""
    return "".join(f"{int(row[part]):0{width}d}" for part, width in _ID_PARTS[name])


def _encodes(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates, as file names undecodable may hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_CELL_RULES: dict[str, tuple] | None = None


def _cell_rules() -> dict[str, tuple]:
    """``(kind, first, second)`` for each checked column, from the schema (made once)."""
    global _CELL_RULES
    if _CELL_RULES is None:
        rules: dict[str, tuple] = {"filename": ("filename", None, None), "s_region": ("s_region", None, None)}
        rules.update((name, ("range", low, high)) for name, (low, high) in ranges().items())
        rules.update((name, ("enum", frozenset(allowed), ", ".join(allowed)))
                     for name, allowed in enums().items())
        rules.update((name, ("digits", _digit_width(pattern), None)) for name, pattern in patterns().items())
        _CELL_RULES = rules
    return _CELL_RULES


def _check_repeats(columns, files_ok, exposures_ok, origins, problems) -> None:
    """Repeated file names, and two rows for one exposure and detector.

    Only rows where ``files_ok`` (``exposures_ok``) are compared; ``origins``
    lists the (path, data row numbers) of the files the rows come from, in order.
    """
    paths = [path for path, _ in origins]
    source = np.repeat(np.arange(len(origins)), [len(rows) for _, rows in origins])
    rows = np.concatenate([rows for _, rows in origins])
    files, ids, detectors = (columns[name] for name in ("filename", "observation_id", "detector"))

    def row(i: int, j: int) -> str:
        """Row ``j`` as named in a problem of row ``i``."""
        return f"row {rows[j]}" + ("" if source[i] == source[j] else f" of {paths[source[j]]}")

    index = np.flatnonzero(files_ok)
    same_file = [index[found] for found in _repeats(_codes(files)[index])]
    exposures_ok = exposures_ok.copy()
    exposures_ok[same_file[0]] = False
    index = np.flatnonzero(exposures_ok)
    exposures = pc.dictionary_encode(_arrow_values(ids, index)).indices.to_numpy().astype(np.int64)
    known = pa.array(enums()["detector"], pa.large_string())
    exposures = exposures * len(known) + pc.index_in(_arrow_values(detectors, index), known).to_numpy()
    same_exposure = [index[found] for found in _repeats(exposures)]
    checks = [
        ("filename", same_file,
         lambda i, j: f"duplicate file name {_shown(_cell(files, i))} (also {row(i, j)})"),
        ("observation_id", same_exposure,
         lambda i, j: f"same exposure {_shown(_cell(ids, i))} and detector {_shown(_cell(detectors, i))} as {row(i, j)}"),
    ]
    for column, (later, first), describe in checks:
        for number, path in enumerate(paths):
            mine = source[later] == number
            here, there = later[mine], first[mine]
            problems.add_rows(path, column, rows[here], lambda k: describe(here[k], there[k]))


def _codes(values) -> np.ndarray:
    """A code per cell of a numpy or Arrow column: equal values, equal codes.

    The cells of a numpy column of Python strings that are all distinct (file
    names) are told so by a Python set, hashing them faster than Arrow does.
    """
    if not isinstance(values, pa.ChunkedArray) and len(set(np.asarray(values).tolist())) == len(values):
        return np.arange(len(values))
    return pc.dictionary_encode(_arrow_values(values)).indices.to_numpy().astype(np.int64)


def _repeats(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose code equals an earlier row's, ascending, and that earlier row for each."""
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    firsts = first[inverse]
    later = np.flatnonzero(firsts != np.arange(len(codes)))
    return later, firsts[later]


# -- file names and footprints ------------------------------------------------------

_NOT_POLYGON = "is not 'POLYGON [frame] ra1 dec1 ra2 dec2 ra3 dec3 ...'"


def _plain(column, plain: str, longest: int) -> np.ndarray:
    """Which cells of ``column`` match ``plain`` (a regular expression, Arrow's, passing only
    values surely good) within ``longest`` bytes."""
    text = _arrow(column)
    return _numpy(pc.match_substring_regex(text, plain)) & _numpy(pc.less_equal(pc.binary_length(text), longest))


def _judge(column, ok: np.ndarray, name: str, plain: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Which cells of ``column`` (of those ``ok``) :func:`cell_problem` refuses, and its message
    for each refused value.

    The ``plain`` cells (see :func:`_plain`) pass at once; the others go to
    cell_problem, each distinct value once.
    """
    suspect = np.flatnonzero(ok & ~plain)
    values = _arrow_values(column, suspect).to_pylist()
    reasons = {value: cell_problem(name, value) for value in set(values)}
    bad = np.zeros(len(ok), bool)
    bad[suspect] = [reasons[value] is not None for value in values]
    return bad, {value: reason for value, reason in reasons.items() if reason}


def region_problem(text: str) -> str | None:
    """Why ``text`` is not ``POLYGON [frame] ra1 dec1 ra2 dec2 ra3 dec3 ...`` (degrees), or None.

    The full check of one ``s_region`` value, as :func:`read_pool` makes it
    (after a regular expression has passed the plain ones, :data:`_PLAIN_POLYGON`).
    """
    words = text.split()
    if not words or words[0].upper() != "POLYGON":
        return _NOT_POLYGON
    if len(words) > 1 and words[1][0].isalpha() and _float(words[1]) is None:
        del words[1]  # the frame, such as ICRS
    numbers = []
    for word in words[1:]:
        number = _float(word)
        if number is None or not math.isfinite(number):
            return f"holds {word!r}, not a finite number"
        numbers.append(number)
    if len(numbers) % 2 or len(numbers) < 6:
        return f"has {len(numbers)} coordinates, not 3 or more (ra, dec) pairs"
    for axis, values, low, high in (("right ascension", numbers[0::2], 0, 360),
                                    ("declination", numbers[1::2], -90, 90)):
        outside = [value for value in values if not low <= value <= high]
        if outside:
            return f"has a {axis} {outside[0]!r} outside {low}..{high}"
    return None


def _float(word: str) -> float | None:
    """``float(word)``, or None when ``word`` is not a number."""
    try:
        return float(word)
    except ValueError:
        return None


# Plain is the form Roman writes: ``POLYGON `` or ``POLYGON ICRS `` then numbers apart by spaces,
# each an optional sign, 1 to 3 digits, a dot and digits; 3 or more pairs, RA in [0, 360) and
# |Dec| < 90. A plain file name is ASCII letters, digits and _ . + -, starting with a letter or
# digit, with no two dots in a row. What is not plain may still be good: cell_problem decides.
_RA = r"\+?([0-9]{1,2}|[0-2][0-9]{2}|3[0-5][0-9])\.[0-9]+"
_DEC = r"[-+]?[0-8]?[0-9]\.[0-9]+"
_PLAIN_POLYGON = rf"^POLYGON +(ICRS +)?{_RA} +{_DEC}( +{_RA} +{_DEC}){{2,}} *$"
_PLAIN_NAME = r"^[A-Za-z0-9](\.?[A-Za-z0-9_+-])*\.?$"
_JUDGED = (("filename", _PLAIN_NAME, NAME_BYTES), ("s_region", _PLAIN_POLYGON, CELL_BYTES))


def _stack(tables: list[Table], paths: list[Path]) -> Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return vstack(tables, join_type="outer", metadata_conflicts="silent")
    except ValueError as error:  # extra columns of different types
        raise PoolError(f"{', '.join(map(str, paths))}: cannot be read together: {error}") from error


# -- writing ----------------------------------------------------------------------


def _ecsv_header(table: Table) -> str:
    datatype = [{"name": name, "datatype": _ecsv_datatype(table[name])} for name in table.colnames]
    body = yaml.safe_dump(
        {"datatype": datatype, "delimiter": ",", "schema": "astropy-2.0"},
        sort_keys=False, default_flow_style=None, width=1000,
    )
    return "".join(f"# {line}\n" for line in ["%ECSV 1.0", "---", *body.splitlines()])


def _ecsv_datatype(column: Column) -> str:
    kind = column.dtype.kind
    if kind in "USO":
        return "string"
    return "bool" if kind == "b" else column.dtype.name


def _cells(column: Column) -> list:
    """The values of ``column`` as written: masked ones as empty fields."""
    mask = getattr(column, "mask", None)
    if mask is None or not np.any(mask):
        return np.asarray(column).tolist()
    values = np.asarray(column).astype(object)
    values[np.asarray(mask)] = ""
    return values.tolist()
