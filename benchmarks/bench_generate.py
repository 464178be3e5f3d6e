"""Rows per second of ``romanasn.generate`` for a one-rule pack, at growing pool sizes.

Usage: python benchmarks/bench_generate.py [ROWS ...] [--json FILE]

The pool is synthetic but shaped like Roman's: programs, passes, visits,
exposures of 18 detectors each, several filters. The rule groups every
exposure of a visit per optical element (a Level 3 rule), so each run makes
about one association per 18 x 8 rows. Linear growth shows as a steady
rows/second across sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types

import numpy as np
from astropy.table import Table

from romanasn import Rule, generate, get_plugin_manager, hookimpl, isin, level3_name, visit_code

FILTERS = np.array(["F062", "F087", "F106", "F129", "F146", "F158", "F184", "F213"])


def synthetic_pool(rows: int) -> Table:
    """A pool of ``rows`` rows: exposures of 18 detectors, 8 per visit, one filter per visit."""
    exposures = (rows + 17) // 18
    e = np.arange(exposures)
    visit = e // 8
    program = 1 + visit // 5000
    pass_ = 1 + (visit // 100) % 999
    vis = 1 + visit % 100
    visit_id = np.char.add(np.char.add(np.char.zfill(program.astype(str), 5), "01"),
                           np.char.add(np.char.zfill(pass_.astype(str), 3), "001001"))
    visit_id = np.char.add(visit_id, np.char.zfill(vis.astype(str), 3))
    exposure = 1 + e % 8
    detector = np.tile(np.arange(1, 19), exposures)[:rows]
    per_row = np.repeat(np.arange(exposures), 18)[:rows]
    element = FILTERS[visit % len(FILTERS)][per_row]
    vid = visit_id[per_row]
    exp = np.char.zfill(exposure[per_row].astype(str), 4)
    det = np.char.zfill(detector.astype(str), 2)
    filename = np.char.add(np.char.add(np.char.add("r", vid), "_"), exp)
    filename = np.char.add(np.char.add(filename, "_wfi"), det)
    filename = np.char.add(np.char.add(np.char.add(filename, "_"), np.char.lower(element)), "_uncal.asdf")
    return Table({
        "filename": filename,
        "program": program[visit][per_row],
        "execution_plan": np.ones(rows, dtype=int),
        "pass": pass_[visit][per_row],
        "visit_id": vid,
        "observation_id": np.char.add(np.char.add(vid, "01101"), exp),
        "exposure_type": np.full(rows, "WFI_IMAGE"),
        "detector": np.char.add("WFI", det),
        "optical_element": element,
        "exposerr": np.full(rows, ""),
    })


def _visit_product(group, config):
    return level3_name(group.key["program"], config.data_release_id,
                       visit_code(group.key["visit_id"]), group.key["optical_element"])


class OneRulePack(types.SimpleNamespace):
    """A pack with a single Level 3 rule: one association per visit and filter."""

    @staticmethod
    @hookimpl
    def romanasn_rules():
        return [Rule(name="bench_visit", asn_type="image3", level=3,
                     select=[isin("exposure_type", "WFI_IMAGE")],
                     group_by=("program", "visit_id", "optical_element"),
                     product_name=_visit_product, summary="benchmark rule")]


def measure(rows: int) -> dict:
    pool = synthetic_pool(rows)
    pm = get_plugin_manager(autoload=False, plugins=[(OneRulePack(), "bench-pack")])
    start = time.perf_counter()
    result = generate(pool, plugin_manager=pm)
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds),
            "associations": len(result.associations)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    print(f"{'rows':>10} {'seconds':>9} {'rows/s':>10} {'associations':>13}")
    results = []
    for rows in args.rows:
        r = measure(rows)
        results.append(r)
        print(f"{r['rows']:>10} {r['seconds']:>9.3f} {r['rows_per_second']:>10} {r['associations']:>13}")
        sys.stdout.flush()
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = (last["seconds"] / first["seconds"]) / (last["rows"] / first["rows"])
        print(f"time grows {growth:.2f} x as fast as the rows (1.00 = linear)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
