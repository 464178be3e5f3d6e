"""Mission scale: romanasn on realistic pools of 10,000 to 1,000,000 rows, and romancal 1.0.3 beside it.

Usage: python benchmarks/bench_mission.py [ROWS ...] [--repeat N] [--json FILE] [--dir DIR]

For each size, a pool made by ``mission_pool.py`` (programs, execution
plans, passes, segments, observations, visits, dithers, 18 detectors per
exposure, eight filters, grism and prism, darks, flats, WFSC and LOLO,
degraded rows, footprints) is written once as ECSV under DIR, then, in
fresh processes, the best of ``--repeat`` runs of:

- read: ``read_pool`` of the file, alone;
- generate: planning and building every association with the imaging,
  spectral and calibration packs, without writing them;
- command: ``romanasn generate POOL -o OUT``: reading, generating, validating
  and writing every association file and the run report; its wall and CPU
  seconds (the command and the process writing files) and its peak memory.

Then romancal 1.0.3's generator and romanasn on the same 300- and
1,000-row pools in romancal's ``|`` form (see ``romancal_reference.py``);
``BENCH_SKIP_ROMANCAL=1`` leaves that out. ``BENCH_SIZES=10000,100000``
changes the default sizes. The targets are checked at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PACKS = "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration"
POOL_VERSION = "1"  # bump when mission_pool.py makes other pools
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
ENV = dict(os.environ, ROMANASN_PLUGINS=PACKS)

TARGETS = {
    "command_seconds_1m": 60.0,
    "peak_gib_1m": 4.0,
    "growth_10x": 12.0,
    "generate_over_read": 3.0,
    "romancal_generate_ratio": 1000.0,
    "romancal_command_ratio": 200.0,
}

# Measured in a fresh process: reading alone, then generating without writing.
_CHILD = r"""
import json, sys, time
from romanasn import RunConfig, engine, get_plugin_manager, read_pool
path, repeat = sys.argv[1], int(sys.argv[2])
pm = get_plugin_manager()
pm.check()
columns = [f.item for f in pm.pool_columns()]
best = {}
def keep(name, wall, cpu):
    if name not in best or wall < best[name][0]:
        best[name] = (wall, cpu)
for _ in range(repeat):
    t, c = time.perf_counter(), time.process_time()
    pool = read_pool(path, columns=columns)
    keep("read", time.perf_counter() - t, time.process_time() - c)
for _ in range(repeat):  # as the command does it: built a block at a time, collector paused
    t, c = time.perf_counter(), time.process_time()
    with engine.paused_gc():
        run = engine.plan(pool, plugin_manager=pm, config=RunConfig(pool_name="pool"))
        count = sum(1 for _ in run.stream(release=True))
    keep("generate", time.perf_counter() - t, time.process_time() - c)
    del run
print(json.dumps({"rows": len(pool), "associations": count,
                  **{f"{k}_wall": v[0] for k, v in best.items()}, **{f"{k}_cpu": v[1] for k, v in best.items()}}))
"""


def pool_file(rows: int, folder: Path, log=print) -> Path:
    """The ECSV pool of ``rows`` rows in ``folder``, made when missing."""
    from mission_pool import mission_pool

    from romanasn import write_pool

    path = folder / f"mission_v{POOL_VERSION}_{rows}.ecsv"
    if not path.exists():
        log(f"making the {rows:,}-row pool {path} (once)")
        folder.mkdir(parents=True, exist_ok=True)
        write_pool(mission_pool(rows), path)
    return path


def romanasn_command() -> list[str]:
    found = shutil.which("romanasn", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "romanasn"]


def run_command(argv: list[str]) -> dict:
    """Wall and CPU seconds of a command and its children, and the largest resident memory."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {process.stderr.read().decode()[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}


def measure(rows: int, folder: Path, repeat: int, keep: bool, log=print) -> dict:
    pool = pool_file(rows, folder, log)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(pool), str(repeat)], capture_output=True,
                          text=True, env=ENV)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    best = None
    for k in range(repeat):
        out = folder / f"out_{rows}_{os.getpid()}_{k}"
        shutil.rmtree(out, ignore_errors=True)
        command = run_command(romanasn_command() + ["generate", str(pool), "-o", str(out), "-q"])
        report = json.loads((out / "romanasn-run.json").read_text())
        files = sum(1 for name in os.listdir(out) if name.endswith("_asn.json"))
        if files != report["associations"] or files != result["associations"]:
            raise RuntimeError(f"{out}: {files} files for {report['associations']} associations")
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
        if best is None or command["wall"] < best["wall"]:
            best = command
    result.update({f"command_{k}": v for k, v in best.items()})
    result["files"] = files
    result["write_wall"] = max(0.0, best["wall"] - result["read_wall"] - result["generate_wall"])
    return result


def print_sizes(results: list[dict], out=sys.stdout) -> None:
    print(f"{'rows':>10} {'read s':>8} {'generate s':>11} {'write s':>8} {'command s':>10} {'cpu s':>7} "
          f"{'peak MiB':>9} {'associations':>13}", file=out)
    for r in results:
        print(f"{r['rows']:>10,} {r['read_wall']:>8.2f} {r['generate_wall']:>11.2f} {r['write_wall']:>8.2f} "
              f"{r['command_wall']:>10.2f} {r['command_cpu']:>7.1f} {r['command_peak_mib']:>9.0f} "
              f"{r['associations']:>13,}", file=out)


def check_targets(sizes: list[dict], romancal: list[dict]) -> list[dict]:
    """Each target: what it asks, what was measured, and whether it holds."""
    checks = []
    by_rows = {r["rows"]: r for r in sizes}
    if 1_000_000 in by_rows:
        big = by_rows[1_000_000]
        checks.append(("1M rows, all files written and validated, seconds", big["command_wall"],
                       TARGETS["command_seconds_1m"]))
        checks.append(("1M rows, peak memory GiB", big["command_peak_mib"] / 1024, TARGETS["peak_gib_1m"]))
    ordered = sorted(by_rows)
    for small, large in zip(ordered, ordered[1:]):
        if large == 10 * small:
            a, b = by_rows[small], by_rows[large]
            checks.append((f"time x{large // small} rows ({small:,} -> {large:,}), command",
                           b["command_wall"] / a["command_wall"], TARGETS["growth_10x"]))
            checks.append((f"time x{large // small} rows ({small:,} -> {large:,}), generate",
                           b["generate_wall"] / a["generate_wall"], TARGETS["growth_10x"]))
    for r in sizes:
        checks.append((f"generate / read at {r['rows']:,} rows", r["generate_wall"] / r["read_wall"],
                       TARGETS["generate_over_read"]))
    for r in romancal:
        if r["rows"] == 1000:
            checks.append(("romancal / romanasn CPU, generation, 1,000 rows", r["generate_ratio"],
                           -TARGETS["romancal_generate_ratio"]))
            checks.append(("romancal / romanasn CPU, whole commands, 1,000 rows", r["command_ratio"],
                           -TARGETS["romancal_command_ratio"]))
    results = []
    for what, value, limit in checks:
        holds = value >= -limit if limit < 0 else value <= limit
        results.append({"target": what, "measured": round(value, 3), "limit": abs(limit),
                        "kind": "at least" if limit < 0 else "at most", "holds": holds})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = [int(x) for x in os.environ.get("BENCH_SIZES", "").split(",") if x] or list(DEFAULT_SIZES)
    parser.add_argument("rows", nargs="*", type=int, default=default)
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 2)),
                        help="runs of each measurement; the best is kept (default 2)")
    parser.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/romanasn-bench"),
                        help="where pools are kept and output is written (default /tmp/romanasn-bench)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the association files written")
    parser.add_argument("--romancal-results", metavar="FILE",
                        help="take romancal's side from FILE (written by romancal_reference.py --json) "
                             "instead of measuring it again")
    parser.add_argument("--no-romancal", action="store_true", default=bool(os.environ.get("BENCH_SKIP_ROMANCAL")),
                        help="leave out romancal 1.0.3 (also BENCH_SKIP_ROMANCAL=1)")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    sizes = []
    for rows in args.rows:
        log(f"measuring {rows:,} rows ...")
        sizes.append(measure(rows, folder, args.repeat, args.keep, log))
    print(f"romanasn, imaging + spectral + calibration packs; best of {args.repeat}; wall seconds "
          f"(cpu: command and its file writer); {os.cpu_count()} cores")
    print_sizes(sizes)
    romancal = []
    if args.romancal_results:
        romancal = json.loads(Path(args.romancal_results).read_text())
        print()
        print(f"romancal 1.0.3 (rule-based generator) and romanasn on the same pools, |-separated form "
              f"(from {args.romancal_results})")
        import romancal_reference

        romancal_reference.print_table(romancal)
    elif not args.no_romancal:
        import romancal_reference

        python = romancal_reference.ensure_venv(log)
        work = folder / "romancal"
        work.mkdir(parents=True, exist_ok=True)
        for rows in (300, 1000):
            log(f"romancal 1.0.3 and romanasn on {rows} rows ...")
            romancal.append(romancal_reference.measure(rows, python, work, repeat=max(args.repeat, 3), log=log))
        print()
        print("romancal 1.0.3 (rule-based generator) and romanasn on the same pools, |-separated form")
        romancal_reference.print_table(romancal)
    targets = check_targets(sizes, romancal)
    print()
    for t in targets:
        mark = "holds" if t["holds"] else "MISSES"
        print(f"  {mark:>6}  {t['target']}: {t['measured']:g} ({t['kind']} {t['limit']:g})")
    if args.json:
        # "tool" and "results" (rows, seconds) are what docs/gallery.py draws: CPU seconds of the
        # generation alone, for both generators; the rest is the full record.
        runs = [{"tool": "romanasn", "rows": r["rows"], "seconds": r["generate_cpu"]} for r in sizes]
        for r in romancal:
            runs.append({"tool": "romanasn", "rows": r["rows"], "seconds": r["romanasn"]["generate_cpu"]})
            runs.append({"tool": "romancal", "version": "1.0.3", "rows": r["rows"],
                         "seconds": r["romancal"]["generate_cpu"]})
        document = {
            "tool": "romanasn",
            "results": sorted(runs, key=lambda run: (run["tool"], run["rows"])),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "load": os.getloadavg()},
            "packs": PACKS.split(","),
            "repeat": args.repeat,
            "sizes": sizes,
            "romancal": romancal,
            "targets": targets,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
