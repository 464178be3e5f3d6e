"""Mission scale: romanasn on realistic pools of 10,000 to 1,000,000 rows, and romancal 1.0.3 beside it.

Usage: python benchmarks/bench_mission.py [ROWS ...] [--repeat N] [--json FILE] [--dir DIR]

For each size, a pool made by ``mission_pool.py`` (programs, execution
plans, passes, segments, observations, visits, dithers, 18 detectors per
exposure, eight filters, grism and prism, darks, flats, WFSC and LOLO,
degraded rows, footprints) is written once as ECSV under DIR, then, in
fresh processes, the best of ``--repeat`` runs of:

- read: ``read_pool`` of the file, alone;
- generate: planning every association with the imaging, spectral and
  calibration packs and making each file's bytes in memory, as the command
  does (the columnar lane: ``Plan.encoded``), without validating or writing them;
- command: ``romanasn generate POOL -o OUT``: reading, generating, validating
  and writing every association file and the run report; its wall and CPU
  seconds (the command and the process writing files) and their peak memory
  (the sum of their proportional set sizes, sampled, or the largest resident
  set of one of them when larger: see ``run_command``);
- the floor, in the same run: a bare pyarrow CSV read of the same pool (in
  the process that measures the read, best of ``--repeat``), and a bare
  Python loop creating as many files of the same names and sizes as the
  command wrote, in a new folder beside its output (best of ``--repeat``).
  romanasn's times are printed beside the floor's, with the ratio.

Then romancal 1.0.3's generator and romanasn on the same 300- and
1,000-row pools in romancal's ``|`` form (see ``romancal_reference.py``);
``BENCH_SKIP_ROMANCAL=1`` leaves that out. ``BENCH_SIZES=10000,100000``
changes the default sizes. Then the skycell pack alone on 10,080 exposures
with footprints and a sky map (read and generate in memory; the whole
command). The targets are checked at the end: each says
whether it holds, and by how much it misses when it does not.

How the runs are made fair:

- romanasn's modules are compiled to bytecode first (``compileall``), as an
  installation from a wheel has them; with ``PYTHONDONTWRITEBYTECODE`` set and
  no cache every command would otherwise compile the kernel anew.
- No association file is deleted while anything is measured: every run writes
  a new folder, and the folders go at the end (``--keep`` keeps them). On ext4
  without a journal (as here) the inode allocator skips, one by one, the inodes
  freed in the last minute (six while their table blocks are dirty), so making
  files right after deleting a million made each file cost about a millisecond
  instead of tens of microseconds. Old output found in DIR is deleted, synced
  and let settle (``BENCH_SETTLE`` seconds, 65 by default) before measuring.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PACKS = "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration"
POOL_VERSION = "1"  # bump when mission_pool.py makes other pools
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
ENV = dict(os.environ, ROMANASN_PLUGINS=PACKS)
SETTLE = float(os.environ.get("BENCH_SETTLE", "65"))

# issue #13's targets; the romancal ratios are lower bounds.
TARGETS = {
    "command_over_floor_1m": 1.25,
    "peak_gib_1m": 1.5,
    "growth_10x": 11.0,
    "generate_over_read": 2.0,
    "read_over_arrow": 3.0,
    "romancal_generate_ratio": 1000.0,
    "romancal_command_ratio": 200.0,
    "skycell_seconds": 3.0,
}

# Measured in a fresh process: reading alone, then generating without writing.
_CHILD = r"""
import json, sys, time
import pyarrow.csv
from romanasn import RunConfig, engine, get_plugin_manager, read_pool
path, repeat = sys.argv[1], int(sys.argv[2])
pm = get_plugin_manager()
pm.check()
columns = [f.item for f in pm.pool_columns()]
best = {}
def keep(name, wall, cpu):
    if name not in best or wall < best[name][0]:
        best[name] = (wall, cpu)
def arrow_read(path):  # the floor: the rows after the ECSV header, types inferred, no checks
    with open(path, "rb") as stream:
        header = 0
        while stream.readline().startswith(b"#"):
            header += 1
    return pyarrow.csv.read_csv(path, read_options=pyarrow.csv.ReadOptions(skip_rows=header))
for _ in range(repeat):  # alternating, so that both see the same state of the machine
    t, c = time.perf_counter(), time.process_time()
    rows = arrow_read(path).num_rows
    keep("arrow_read", time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    pool = read_pool(path, columns=columns)
    keep("read", time.perf_counter() - t, time.process_time() - c)
    assert rows == len(pool), (rows, len(pool))
for _ in range(repeat):  # as the command does it: built a block at a time, collector paused
    t, c = time.perf_counter(), time.process_time()
    with engine.paused_gc():
        run = engine.plan(pool, plugin_manager=pm, config=RunConfig(pool_name="pool"))
        count = sum(len(block) for block in run.encoded())
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


# -- the skycell pack on 10,000 exposures -----------------------------------------------------------
# The pool of plugins/romanasn-skycell/benchmarks/bench_skycell.py (2 passes x 35 visits x 8 exposures
# x 18 detectors, each row with its s_region, about 5 square degrees) and a local sky map of it.

SKYCELL_ROWS = 10_080
_SKYCELL_CHILD = r"""
import json, sys, time
from romanasn import RunConfig, engine, get_plugin_manager, read_pool
path, skymap, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
best = None
for _ in range(repeat):  # read and generate in memory, every skycell rule; the map opened anew each time
    from romanasn_skycell import skymap as maps
    maps._OPEN.clear()
    start = time.perf_counter()
    pm = get_plugin_manager()
    pool = read_pool(path, columns=[f.item for f in pm.pool_columns()])
    with engine.paused_gc():
        run = engine.plan(pool, plugin_manager=pm, config=RunConfig(pool_name="pool", options={"skymap": skymap}))
        count = sum(1 for _ in run.stream(release=True))
    wall = time.perf_counter() - start
    best = wall if best is None else min(best, wall)
print(json.dumps({"rows": len(pool), "associations": count, "generate_wall": best}))
"""


def measure_skycell(folder: Path, repeat: int, outputs: list[Path], log=print) -> dict:
    """The skycell pack alone on 10,080 exposures: read and generate in memory (best of ``repeat``, in a
    fresh process), and the whole command writing every file (best of ``repeat``)."""
    sys.path.insert(0, str(HERE.parent / "plugins" / "romanasn-skycell" / "benchmarks"))
    from bench_skycell import DEC, RA, make_pool
    from romanasn_skycell.makemap import write_skymap

    from romanasn import write_pool

    pool, skymap = folder / f"skycell_v{POOL_VERSION}_{SKYCELL_ROWS}.ecsv", folder / "skycell_map.asdf"
    if not pool.exists() or not skymap.exists():
        log(f"making the {SKYCELL_ROWS:,}-row skycell pool and its sky map (once)")
        write_pool(make_pool(SKYCELL_ROWS), pool)
        write_skymap(skymap, RA, DEC, 2.5, overwrite=True)
    env = dict(os.environ, ROMANASN_PLUGINS="romanasn-skycell")
    done = subprocess.run([sys.executable, "-c", _SKYCELL_CHILD, str(pool), str(skymap), str(repeat)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for k in range(repeat):
        out = folder / f"out_skycell_{os.getpid()}_{k}"
        outputs.append(out)
        wall = run_command(romanasn_command() + ["generate", str(pool), "--skymap", str(skymap), "-o", str(out),
                                                 "-q"], env)["wall"]
        result["command_wall"] = min(wall, result.get("command_wall", wall))
    return result


def compile_bytecode(log=print) -> None:
    """Compile romanasn and the measured packs to bytecode, as ``pip install`` of a wheel does."""
    for name in ["romanasn"] + [pack.replace("-", "_") for pack in PACKS.split(",")]:
        for folder in importlib.import_module(name).__path__:
            if not compileall.compile_dir(folder, quiet=1):
                log(f"warning: some of {folder} did not compile")


def filesystem(path: Path) -> str:
    """The type of the file system ``path`` is on (from /proc/mounts), or "unknown"."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    path = str(path.resolve())
    found = [(len(point), kind) for point, kind in mounts
             if path == point or path.startswith(point.rstrip("/") + "/")]
    return max(found)[1] if found else "unknown"


def _left_over(path: Path) -> bool:
    """Whether ``path`` (``out_``, ``floor_`` or ``romanasn_ROWS_PID_K``) is the output of a run that ended."""
    parts = path.name.split("_")
    if len(parts) != 4 or not parts[2].isdigit() or not path.is_dir():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False  # the benchmark that writes it is still running


def settle(folder: Path, log=print) -> None:
    """Delete the output that ended runs left in ``folder``, then let the file system forget it
    (see the module's docstring)."""
    old = [p for p in [*folder.glob("out_*"), *folder.glob("floor_*"), *folder.glob("romancal/romanasn_*")]
           if _left_over(p)]
    if not old:
        return
    log(f"deleting {len(old)} old output folders in {folder}; then {SETTLE:g} s for the file system to settle")
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    os.sync()
    time.sleep(SETTLE)


def load() -> float:
    """The load average of the last minute."""
    return round(os.getloadavg()[0], 2)


def romanasn_command() -> list[str]:
    found = shutil.which("romanasn", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "romanasn"]


def tree_pss_mib(pid: int) -> float:
    """The proportional set size of a process and its descendants, MiB (a page two of them share
    counted once; 0 when it has ended)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
        children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
    except (OSError, ValueError):
        return total / 1024
    return total / 1024 + sum(tree_pss_mib(child) for child in children)


def run_command(argv: list[str], env: dict | None = None) -> dict:
    """Wall and CPU seconds of a command and its children, and the peak memory of them all: the
    largest sum of their proportional set sizes, sampled every 0.1 s, or the largest resident set
    of any one of them when that is larger (a peak between two samples)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or ENV)
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], tree_pss_mib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {process.stderr.read().decode()[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": max(peak[0], usage.ru_maxrss / 1024),
            "tree_pss_mib": peak[0], "largest_rss_mib": usage.ru_maxrss / 1024}


def create_files(sizes: dict[str, int], out: Path) -> float:
    """Wall seconds of a bare loop creating, in the new folder ``out``, files of these names and sizes."""
    payload = b"x" * max(sizes.values(), default=0)
    start = time.perf_counter()
    out.mkdir()
    for name, size in sizes.items():
        with open(out / name, "wb") as stream:
            stream.write(payload[:size])
    return time.perf_counter() - start


def measure(rows: int, folder: Path, repeat: int, outputs: list[Path], log=print) -> dict:
    """Read and generate alone (best of ``repeat``, in one fresh process), then the whole command
    (best of ``repeat`` by wall time); the folders written are added to ``outputs``."""
    pool = pool_file(rows, folder, log)
    before = load()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(pool), str(repeat)], capture_output=True,
                          text=True, env=ENV)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_generate"] = [before, load()]
    best = None
    for k in range(repeat):
        out = folder / f"out_{rows}_{os.getpid()}_{k}"
        if out.exists():
            raise RuntimeError(f"{out} exists: the benchmark writes new folders only")
        outputs.append(out)
        before = load()
        command = run_command(romanasn_command() + ["generate", str(pool), "-o", str(out), "-q"])
        command["load"] = [before, load()]
        report = json.loads((out / "romanasn-run.json").read_text())
        files = sum(1 for name in os.listdir(out) if name.endswith("_asn.json"))
        if files != report["associations"] or files != result["associations"]:
            raise RuntimeError(f"{out}: {files} files for {report['associations']} associations")
        if best is None or command["wall"] < best["wall"]:
            best = command
        sizes = {entry.name: entry.stat().st_size for entry in os.scandir(out) if entry.is_file()}
        floor = folder / f"floor_{rows}_{os.getpid()}_{k}"
        outputs.append(floor)
        wall = create_files(sizes, floor)
        result["create_wall"] = min(wall, result.get("create_wall", wall))
    result.update({f"command_{k}": v for k, v in best.items()})
    result["files"] = files
    result["floor_wall"] = result["arrow_read_wall"] + result["create_wall"]
    result["write_wall"] = max(0.0, best["wall"] - result["read_wall"] - result["generate_wall"])
    return result


def print_sizes(results: list[dict], out=sys.stdout) -> None:
    print(f"{'rows':>10} {'read s':>8} {'generate s':>11} {'write s':>8} {'command s':>10} {'cpu s':>7} "
          f"{'peak MiB':>9} {'associations':>13}  {'load (1 min) during':>20}", file=out)
    for r in results:
        loads = r.get("load_generate", []) + r.get("command_load", [])
        span = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        print(f"{r['rows']:>10,} {r['read_wall']:>8.2f} {r['generate_wall']:>11.2f} {r['write_wall']:>8.2f} "
              f"{r['command_wall']:>10.2f} {r['command_cpu']:>7.1f} {r['command_peak_mib']:>9.0f} "
              f"{r['associations']:>13,}  {span:>20}", file=out)
    print("  read, generate: in a process of their own, wall; write: the command's wall time less read and "
          "generate\n  (start, encoding, checking, writing the files and the run report); cpu: the command and its "
          "file writer;\n  peak: of the command and its file writer together (pages they share counted once)", file=out)
    print(file=out)
    print("the floor, measured in the same run: a bare pyarrow CSV read of the pool, and a bare loop creating "
          "the same\nfiles (names and sizes) in the same file system; romanasn beside it", file=out)
    print(f"{'rows':>10} {'arrow read s':>13} {'read s':>8} {'ratio':>6}   {'create files s':>15} "
          f"{'floor s':>8} {'command s':>10} {'ratio':>6}", file=out)
    for r in results:
        print(f"{r['rows']:>10,} {r['arrow_read_wall']:>13.2f} {r['read_wall']:>8.2f} "
              f"{r['read_wall'] / r['arrow_read_wall']:>6.2f}   {r['create_wall']:>15.2f} {r['floor_wall']:>8.2f} "
              f"{r['command_wall']:>10.2f} {r['command_wall'] / r['floor_wall']:>6.2f}", file=out)


def check_targets(sizes: list[dict], romancal: list[dict], skycell: dict | None = None) -> list[dict]:
    """Each target: what it asks, what was measured, and whether it holds."""
    checks = []
    if skycell:
        checks.append((f"skycell pack, {skycell['rows']:,} exposures, read + generate s",
                       skycell["generate_wall"], TARGETS["skycell_seconds"]))
    by_rows = {r["rows"]: r for r in sizes}
    if 1_000_000 in by_rows:
        big = by_rows[1_000_000]
        checks.append((f"1M rows, all files written and validated: command {big['command_wall']:.1f} s / "
                       f"floor {big['floor_wall']:.1f} s", big["command_wall"] / big["floor_wall"],
                       TARGETS["command_over_floor_1m"]))
        checks.append(("1M rows, peak memory GiB", big["command_peak_mib"] / 1024, TARGETS["peak_gib_1m"]))
    ordered = sorted(by_rows)
    for small, large in zip(ordered, ordered[1:]):
        if large == 10 * small:
            a, b = by_rows[small], by_rows[large]
            floor_growth = b["floor_wall"] / a["floor_wall"]  # the disk's own growth, beside the command's
            checks.append((f"time x{large // small} rows ({small:,} -> {large:,}), command (its floor: "
                           f"x{floor_growth:.1f})", b["command_wall"] / a["command_wall"], TARGETS["growth_10x"]))
            checks.append((f"time x{large // small} rows ({small:,} -> {large:,}), generate",
                           b["generate_wall"] / a["generate_wall"], TARGETS["growth_10x"]))
    for r in sizes:
        checks.append((f"generate / read at {r['rows']:,} rows", r["generate_wall"] / r["read_wall"],
                       TARGETS["generate_over_read"]))
        checks.append((f"read_pool / bare pyarrow read at {r['rows']:,} rows",
                       r["read_wall"] / r["arrow_read_wall"], TARGETS["read_over_arrow"]))
    for r in romancal:
        if r["rows"] == 1000:
            checks.append(("romancal / romanasn CPU, generation, 1,000 rows", r["generate_ratio"],
                           -TARGETS["romancal_generate_ratio"]))
            checks.append(("romancal / romanasn CPU, whole commands, 1,000 rows", r["command_ratio"],
                           -TARGETS["romancal_command_ratio"]))
    results = []
    for what, value, limit in checks:
        holds = value >= -limit if limit < 0 else value <= limit
        # how far from the limit, in the target's own unit, and as a factor of it
        by = (value + limit) if limit < 0 else (limit - value)
        results.append({"target": what, "measured": round(value, 3), "limit": abs(limit),
                        "kind": "at least" if limit < 0 else "at most", "holds": holds,
                        "by": round(abs(by), 3), "factor": round(value / abs(limit), 3)})
    return results


def describe_target(t: dict) -> str:
    """One line: the target, what was measured, and whether it holds or by how much it misses."""
    if t["holds"]:
        verdict = f"holds, with {t['by']:g} to spare"
    else:
        verdict = f"MISSES by {t['by']:g} ({t['factor']:g} x the limit)"
    return f"{t['target']}: {t['measured']:g} ({t['kind']} {t['limit']:g}): {verdict}"


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
    folder.mkdir(parents=True, exist_ok=True)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    compile_bytecode(log)
    settle(folder, log)
    outputs: list[Path] = []
    try:
        return _run(args, folder, outputs, log)
    finally:
        if not args.keep:
            for out in outputs:
                shutil.rmtree(out, ignore_errors=True)


def _run(args: argparse.Namespace, folder: Path, outputs: list[Path], log) -> int:
    sizes = []
    for rows in args.rows:
        log(f"measuring {rows:,} rows ...")
        sizes.append(measure(rows, folder, args.repeat, outputs, log))
    kind = filesystem(folder)
    print(f"romanasn, imaging + spectral + calibration packs; best of {args.repeat}; wall seconds "
          f"(cpu: command and its file writer); {os.cpu_count()} cores; files written to {folder} ({kind})")
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
            romancal.append(romancal_reference.measure(rows, python, work, repeat=max(args.repeat, 5), log=log,
                                                       outputs=outputs))
        print()
        print("romancal 1.0.3 (rule-based generator) and romanasn on the same pools, |-separated form")
        romancal_reference.print_table(romancal)
    log(f"measuring the skycell pack on {SKYCELL_ROWS:,} exposures ...")
    skycell = measure_skycell(folder, args.repeat, outputs, log)
    print()
    print(f"the skycell pack alone (--skymap, its five rules), {skycell['rows']:,} exposures with footprints: "
          f"read + generate {skycell['generate_wall']:.2f} s ({skycell['associations']:,} associations); "
          f"the whole command, every file written: {skycell['command_wall']:.2f} s")
    targets = check_targets(sizes, romancal, skycell)
    print()
    print("targets:")
    for t in targets:
        print(f"  {describe_target(t)}")
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
                        "platform": platform.platform(), "load": os.getloadavg(),
                        "filesystem": filesystem(folder)},
            "packs": PACKS.split(","),
            "repeat": args.repeat,
            "sizes": sizes,
            "romancal": romancal,
            "skycell": skycell,
            "targets": targets,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
