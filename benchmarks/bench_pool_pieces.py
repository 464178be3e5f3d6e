"""The hand-written pieces of the pool reader against what a library does alone, on one pool.

Usage: python benchmarks/bench_pool_pieces.py POOL.ecsv [--json FILE]

Best of two runs each, in one process:

- rows: a bare pyarrow read of the file (types inferred, the floor of
  ``make bench``); Arrow reading it as ``read_pool`` does (every core,
  integers typed, the rest text); and the reader's second read of a pool
  Arrow cannot read so (whole lines scanned by ``pool._blocks`` to name the
  line at fault, then Arrow in one thread, every cell as text, which numbers
  the rows);
- every text column to what the ``Table`` holds, Python strings, a repeated
  value held once (``pool._strings``), against what it held before:
  fixed-width numpy str (``pool._str_array``), Python strings one per cell
  for a column with a cell longer than 64 bytes; seconds and the bytes held
  (array and strings);
- the footprint and file name checks: one regular expression (Arrow's) and
  the per-value check for the rest (``pool._judge``), against the per-value
  check alone (timed on 100,000 values and scaled);
- repeated file names: Arrow's hashing (``pool._repeats``) against numpy's
  sort (``np.unique``).

``docs/design.md`` quotes the results (``benchmarks/results/pool_pieces.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from romanasn import pool
from romanasn.columns import canonical_columns
from romanasn.naming import NAME_BYTES, unsafe_reason

SAMPLE = 100_000


def best(function, runs: int = 2) -> tuple[float, object]:
    """The shortest wall time of ``runs`` calls, and the last result."""
    seconds = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds, result


def held_bytes(array: np.ndarray) -> int:
    """The bytes a column holds: its array, and each distinct Python string it points to once."""
    if array.dtype != object:
        return array.nbytes
    distinct = {id(value): value for value in array.tolist()}
    return array.nbytes + sum(sys.getsizeof(value) for value in distinct.values())


def before(values: pa.ChunkedArray) -> np.ndarray:
    """A text column as the table held it before: fixed-width numpy str, or Python strings (one
    per cell) when a cell is longer than 64 bytes."""
    if pc.max(pc.binary_length(values)).as_py() > 64:
        return values.to_numpy()
    return pool._str_array(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    path = Path(args.pool)
    with open(path, "rb") as stream:
        header = 0
        while stream.peek(1)[:1] == b"#":
            stream.readline()
            header += 1
        names = stream.readline().decode().strip().split(",")
        start = stream.tell()
    integers = {column.name for column in canonical_columns() if column.dtype == "int"}

    def bare() -> pa.Table:
        return pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(skip_rows=header))

    def arrow_reads(threads: bool) -> pa.Table:
        with open(path, "rb") as stream:
            stream.seek(start)
            if threads:
                types = [pa.int64() if name in integers else pa.large_string() for name in names]
                return pool._arrow_read(pool._Scanned(stream), ",", types, [], True, pool._FAST_BLOCK)
            for block, line in pool._numbered_blocks(stream, path, header + 2):
                pool._check_block(block, path, line)
            stream.seek(start)
            return pool._arrow_read(stream, ",", [pa.large_string()] * len(names), [], False, pool._LINE_BYTES)

    found = {"pool": str(path), "rows": None}
    found["bare_pyarrow_read"], _ = best(bare)
    found["arrow_reads_the_file"], table = best(lambda: arrow_reads(True))
    found["scanned_then_one_thread"], _ = best(lambda: arrow_reads(False))
    rows = found["rows"] = table.num_rows
    column = {name: table.column(names.index(name)) for name in names}
    strings = {c.name for c in canonical_columns() if c.dtype == "str"}
    text = [values for name, values in column.items() if name in strings]
    found["text_columns"] = len(text)
    found["strings"], made = best(lambda: [pool._strings(values) for values in text])
    found["strings_mib"] = sum(held_bytes(array) for array in made) / 2**20
    found["before"], made = best(lambda: [before(values) for values in text])
    found["before_mib"] = sum(held_bytes(array) for array in made) / 2**20
    del made
    everywhere = np.ones(rows, bool)
    for name, plain, longest, alone in (("s_region", pool._PLAIN_POLYGON, pool.CELL_BYTES, pool.region_problem),
                                        ("filename", pool._PLAIN_NAME, NAME_BYTES, unsafe_reason)):
        found[f"{name}_regex_then_per_value"], _ = best(
            lambda: pool._judge(column[name], everywhere, name, pool._plain(column[name], plain, longest)))
        sample = column[name].slice(0, SAMPLE).to_pylist()
        seconds, _ = best(lambda: [alone(value) for value in sample], 1)
        found[f"{name}_per_value"] = seconds * rows / len(sample)
    found["repeats_arrow_hash"], _ = best(lambda: pool._repeats(pool._codes(column["filename"])))
    files = column["filename"].to_numpy().astype(str)
    found["repeats_numpy_sort"], _ = best(lambda: np.unique(files, return_index=True, return_inverse=True))
    print(f"{rows:,} rows of {path}")
    print(f"  rows read: bare pyarrow {found['bare_pyarrow_read']:.2f} s; as read_pool reads them "
          f"{found['arrow_reads_the_file']:.2f} s; scanned by _blocks, then one thread "
          f"{found['scanned_then_one_thread']:.2f} s")
    print(f"  {len(text)} text columns to Python strings, repeats shared (_strings): {found['strings']:.2f} s, "
          f"{found['strings_mib']:.0f} MiB; as before (fixed-width numpy str, long ones Python strings): "
          f"{found['before']:.2f} s, {found['before_mib']:.0f} MiB")
    for name in ("s_region", "filename"):
        print(f"  {name}: regular expression + per-value rest {found[f'{name}_regex_then_per_value']:.2f} s, "
              f"per value alone {found[f'{name}_per_value']:.1f} s")
    print(f"  repeated file names: Arrow hashing {found['repeats_arrow_hash']:.2f} s, "
          f"numpy sort {found['repeats_numpy_sort']:.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
