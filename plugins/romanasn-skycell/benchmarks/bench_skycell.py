"""Benchmark of the skycell pack: 10,000 Level 2 exposure files spread over a few square degrees.

Usage::

    .venv/bin/python plugins/romanasn-skycell/benchmarks/bench_skycell.py [--rows N] [--keep DIR]

Builds a pool (2 passes x 35 visits x 8 exposures x 18 detectors = 10,080
rows, each with its s_region, around RA 150, Dec 2, about 4 square degrees),
makes a local sky map of that region with ``romanasn skymap make``'s code,
then times, in a fresh process state:

1. skycell matching alone (every row's footprint against the map);
2. the whole ``romanasn.generate`` with only this pack's five rules (which
   matches again, reading the map anew);

and prints exposures per second for each, and the number of associations.
The target is under 10 s for everything timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from romanasn import RunConfig, generate
from romanasn.testing import manager_with, pool_table
from romanasn_skycell import plugin, sphere
from romanasn_skycell.footprints import row_footprints
from romanasn_skycell.makemap import write_skymap
from romanasn_skycell.skymap import SkyMap
from romanasn_skycell.testing import pointed_rows

RA, DEC = 150.0, 2.0
PASSES, COLUMNS, LINES, EXPOSURES = 2, 7, 5, 8
STEP_RA, STEP_DEC = 0.33, 0.28
DITHER = 0.01


def make_pool(rows_wanted: int) -> object:
    rows = []
    for p in range(1, PASSES + 1):
        roll = 20.0 + 35.0 * (p - 1)
        for v in range(COLUMNS * LINES):
            column, line = divmod(v, LINES)
            ra = RA + (column - (COLUMNS - 1) / 2) * STEP_RA + 0.05 * (p - 1)
            dec = DEC + (line - (LINES - 1) / 2) * STEP_DEC + 0.04 * (p - 1)
            visit_id = f"00001{1:02d}{p:03d}{1:03d}{1:03d}{v + 1:03d}"
            for e in range(1, EXPOSURES + 1):
                element = "F158" if e <= EXPOSURES // 2 else "F213"
                d = (e - 1) % (EXPOSURES // 2)
                rows += pointed_rows(visit_id, e, element, ra + DITHER * d, dec + DITHER * d / 2, roll)
                if len(rows) >= rows_wanted:
                    return pool_table(rows[:rows_wanted])
    return pool_table(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_080)
    parser.add_argument("--keep", metavar="DIR", help="keep the pool and the map in DIR")
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-skycell-"))
    folder.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    pool = make_pool(args.rows)
    made = time.perf_counter() - start
    map_path = folder / "skymap.asdf"
    start = time.perf_counter()
    summary = write_skymap(map_path, RA, DEC, 2.5, overwrite=True)
    mapped = time.perf_counter() - start
    n = len(pool)
    ras = np.asarray(pool["ra_ref"])
    decs = np.asarray(pool["dec_ref"])
    area = np.ptp(ras) * np.cos(np.radians(DEC)) * np.ptp(decs)
    print(f"pool: {n} Level 2 exposure files over about {area:.1f} square degrees "
          f"(made in {made:.2f} s, not timed below)")
    print(f"map: {summary['regions']} projection regions, {summary['skycells']} skycells "
          f"(made in {mapped:.2f} s, not timed below)")

    # 1. matching alone: read footprints, open the map, match
    start = time.perf_counter()
    skymap = SkyMap(map_path)
    vertices, _ = row_footprints(pool, np.arange(n))
    polygons = [sphere.unit_vectors(v[:, 0], v[:, 1]) for v in vertices]
    which, cells = skymap.match(polygons)
    matching = time.perf_counter() - start
    print(f"skycell matching: {n} exposures in {matching:.3f} s = {n / matching:,.0f} exposures/s "
          f"({len(which)} exposure-skycell pairs, {len(np.unique(cells))} skycells)")

    # 2. the whole generate, this pack's rules only (the map is opened anew: the cache is per path)
    config = RunConfig(pool_name="bench", options={"skymap": str(map_path)})
    from romanasn_skycell import skymap as skymap_module

    skymap_module._OPEN.clear()
    start = time.perf_counter()
    result = generate(pool, config=config, plugin_manager=manager_with((plugin, "romanasn-skycell")))
    whole = time.perf_counter() - start
    members = sum(len(a.members) for a in result.associations)
    print(f"generate: {n} exposures in {whole:.3f} s = {n / whole:,.0f} exposures/s "
          f"({len(result.associations)} associations, {members} members: "
          + ", ".join(f"{rule} {count}" for rule, count in sorted(result.counts.items())) + ")")
    total = matching + whole
    print(f"total timed: {total:.2f} s (target: under 10 s) -> {'OK' if total < 10 else 'TOO SLOW'}")
    return 0 if total < 10 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
