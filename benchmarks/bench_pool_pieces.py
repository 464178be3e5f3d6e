"""The hand-written pieces of the pool reader against what pyarrow does alone, on one pool.

Usage: python benchmarks/bench_pool_pieces.py POOL.ecsv [--json FILE]

Best of two runs each, in one process:

- rows: Arrow reading the file itself, against Arrow fed whole lines by
  ``pool._blocks`` (which bounds a line, refuses CR-only line ends and reads
  at most a block at a time);
- text columns to numpy str arrays (astropy's ``Table`` holds fixed-width
  text): ``pool._str_array`` against Arrow's ``to_numpy`` then ``np.array``;
- the footprint check: one regular expression (Arrow's) and the per-value
  check for the rest, against the per-value check alone (``region_problem``,
  timed on 100,000 values and scaled).

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
import pyarrow.csv as pa_csv

from romanasn import pool

TEXT = ("filename", "target", "start_time", "exposure_type", "s_region")


def best(function, runs: int = 2) -> tuple[float, object]:
    """The shortest wall time of ``runs`` calls, and the last result."""
    seconds = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    path = Path(args.pool)
    with open(path, "rb") as stream:
        while stream.peek(1)[:1] == b"#":
            stream.readline()
        names = stream.readline().decode().strip().split(",")
        start = stream.tell()
    keys = [str(k) for k in range(len(names))]

    def arrow_alone() -> pa.Table:
        with open(path, "rb") as stream:
            stream.seek(start)
            return pa_csv.read_csv(
                stream, read_options=pa_csv.ReadOptions(column_names=keys, block_size=pool._LINE_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(keys, pa.large_string()),
                                                      strings_can_be_null=False))

    def arrow_fed() -> pa.Table:
        with open(path, "rb") as stream:
            stream.seek(start)
            return pool._arrow_read(stream, path, 1, len(names), ",", [], threads=True)

    found = {"pool": str(path), "rows": None}
    found["arrow_reads_the_file"], table = best(arrow_alone)
    found["arrow_fed_by_blocks"], _ = best(arrow_fed)
    found["rows"] = table.num_rows
    text = [table.column(names.index(name)) for name in TEXT]
    found["str_array"], _ = best(lambda: [pool._str_array(column) for column in text])
    found["arrow_to_numpy_str"], _ = best(
        lambda: [np.array(column.to_numpy(zero_copy_only=False), dtype=str) for column in text], 1)
    regions = pool._str_array(table.column(names.index("s_region")))
    found["regions_regex_then_per_value"], _ = best(lambda: pool._malformed_regions(regions))
    sample = regions[:100_000].tolist()
    seconds, _ = best(lambda: [pool.region_problem(value) for value in sample], 1)
    found["regions_per_value"] = seconds * len(regions) / len(sample)
    print(f"{found['rows']:,} rows of {path}")
    print(f"  rows read: Arrow reading the file itself {found['arrow_reads_the_file']:.2f} s, "
          f"fed whole lines by _blocks {found['arrow_fed_by_blocks']:.2f} s")
    print(f"  {len(TEXT)} text columns to numpy str: _str_array {found['str_array']:.2f} s, "
          f"Arrow to_numpy + np.array {found['arrow_to_numpy_str']:.2f} s")
    print(f"  s_region: regular expression + per-value rest {found['regions_regex_then_per_value']:.2f} s, "
          f"per value alone {found['regions_per_value']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
