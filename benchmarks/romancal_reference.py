"""romancal 1.0.3's rule-based association generator, measured beside romanasn on the same pool.

romancal <= 1.0.3 shipped a pool-based generator of JWST's design (removed in
1.1.0). This module installs romancal 1.0.3 in a virtual environment of its
own (``$BENCH_ROMANCAL_VENV``, by default ``/tmp/romanasn-bench/romancal-1.0.3``)
when it is missing, writes the benchmark pool in romancal's ``|``-separated
form (:func:`mission_pool.legacy_text`) and measures, for each size:

- romancal: CPU seconds of its ``generate`` alone (its imports, the pool
  read and the writing excluded), and of the whole command
  ``python -m romancal.associations.main POOL -p DIR`` (imports, reading,
  generating and writing its files);
- romanasn on the same file: CPU seconds of ``romanasn.generate`` alone and
  of the whole command ``romanasn generate POOL -o DIR``.

CPU time (user + system) is the measure: it does not depend on what else
the machine runs. Usage::

    python benchmarks/romancal_reference.py [ROWS ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROMANCAL = "romancal==1.0.3"
#: The packs measured: romanasn's counterparts of romancal 1.0.3's rules (the skycell pack is measured apart).
PACKS = "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration"
_ENV = dict(os.environ, ROMANASN_PLUGINS=PACKS)
VENV = Path(os.environ.get("BENCH_ROMANCAL_VENV", "/tmp/romanasn-bench/romancal-1.0.3"))

# Run inside romancal's environment: time its generation alone.
_DRIVER = r"""
import json, sys, time
t0 = time.process_time()
from romancal.associations.main import Main
t1 = time.process_time()
pool, out = sys.argv[1], sys.argv[2]
main = Main(args=[pool, "-p", out, "--dry-run"])
t2 = time.process_time()
main.generate()
t3 = time.process_time()
print(json.dumps({"import_cpu": t1 - t0, "read_cpu": t2 - t1, "generate_cpu": t3 - t2,
                  "associations": len(main.associations)}))
"""

# Run with romanasn's interpreter: time romanasn's generation alone on the same file.
_ROMANASN = r"""
import json, sys, time
import romanasn
from romanasn import RunConfig, engine, get_plugin_manager, read_pool
pm = get_plugin_manager()
pm.check()
pool = read_pool(sys.argv[1], columns=[f.item for f in pm.pool_columns()])
best = None
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    result = engine.generate(pool, plugin_manager=pm, config=RunConfig(pool_name="pool"))
    cpu = time.process_time() - t
    best = cpu if best is None else min(best, cpu)
print(json.dumps({"generate_cpu": best, "associations": len(result.associations), "rows": len(pool)}))
"""


def ensure_venv(log=print) -> Path:
    """The Python of a virtual environment with romancal 1.0.3, made (pip install) when missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import romancal; assert romancal.__version__.startswith('1.0.3')"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"installing {ROMANCAL} into {VENV} (once; a few minutes)")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", ROMANCAL], check=True)
    return python


def _command_cpu(argv: list[str], env: dict | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the command and its children, exit status)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, process.returncode


def write_pool(rows: int, path: Path) -> None:
    sys.path.insert(0, str(HERE))
    from mission_pool import legacy_text, mission_pool

    path.write_text(legacy_text(mission_pool(rows)))


def romanasn_command() -> list[str]:
    found = shutil.which("romanasn", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "romanasn"]


def measure(rows: int, python: Path, work: Path, repeat: int = 5, log=print, outputs: list | None = None) -> dict:
    """romancal and romanasn on one legacy pool of ``rows`` rows.

    romanasn's command runs ``repeat`` times, each into a new folder, and the least CPU time is
    kept. The folders are added to ``outputs`` for the caller to delete when every measurement is
    done (deleted here, after the last run, when ``outputs`` is None): files made right after
    others were deleted cost more on some file systems (see ``bench_mission.py``).
    """
    pool = work / f"pool_{rows}.csv"
    write_pool(rows, pool)
    log(f"  romancal 1.0.3, {rows} rows (minutes at 1,000 rows) ...")
    out = work / f"romancal_{rows}"
    out.mkdir(exist_ok=True)
    driver = work / "romancal_driver.py"
    driver.write_text(_DRIVER)
    done = subprocess.run([str(python), str(driver), str(pool), str(out)], capture_output=True, text=True,
                          check=True)
    romancal = json.loads(done.stdout.strip().splitlines()[-1])
    wall, cpu, _ = _command_cpu([str(python), "-m", "romancal.associations.main", str(pool), "-p", str(out)])
    romancal.update(command_wall=wall, command_cpu=cpu, files=len(list(out.glob("*_asn.json"))))

    script = work / "romanasn_driver.py"
    script.write_text(_ROMANASN)
    done = subprocess.run([sys.executable, str(script), str(pool), str(repeat)], capture_output=True, text=True,
                          check=True, env=_ENV)
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    best, made = None, []
    for k in range(repeat):
        target = work / f"romanasn_{rows}_{os.getpid()}_{k}"
        shutil.rmtree(target, ignore_errors=True)
        made.append(target)
        before = os.getloadavg()[0]
        result = _command_cpu(romanasn_command() + ["generate", str(pool), "-o", str(target), "-q"], env=_ENV)
        if best is None or result[1] < best[1]:
            best, loads = result, [round(before, 2), round(os.getloadavg()[0], 2)]
    if outputs is None:
        for target in made:
            shutil.rmtree(target, ignore_errors=True)
    else:
        outputs.extend(made)
    ours.update(command_wall=best[0], command_cpu=best[1], command_load=loads)
    return {
        "rows": rows,
        "romancal": romancal,
        "romanasn": ours,
        "generate_ratio": romancal["generate_cpu"] / ours["generate_cpu"],
        "command_ratio": romancal["command_cpu"] / ours["command_cpu"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[300, 1000])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    python = ensure_venv()
    sys.path.insert(0, str(HERE))
    from bench_mission import compile_bytecode

    compile_bytecode()
    results = []
    with tempfile.TemporaryDirectory(prefix="romancal-bench-") as work:
        for rows in args.rows:
            results.append(measure(rows, python, Path(work)))
            print_table(results[-1:])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def print_table(results: list[dict], out=sys.stdout) -> None:
    print(f"{'rows':>6} {'romancal generate':>18} {'romanasn generate':>18} {'ratio':>8}   "
          f"{'romancal command':>17} {'romanasn command':>17} {'ratio':>7}   (CPU seconds)", file=out)
    for r in results:
        a, b = r["romancal"], r["romanasn"]
        print(f"{r['rows']:>6} {a['generate_cpu']:>18.2f} {b['generate_cpu']:>18.4f} {r['generate_ratio']:>8.0f}   "
              f"{a['command_cpu']:>17.2f} {b['command_cpu']:>17.2f} {r['command_ratio']:>7.0f}", file=out)


if __name__ == "__main__":
    sys.exit(main())
