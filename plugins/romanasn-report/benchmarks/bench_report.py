"""How long ``romanasn report`` takes on large runs, and how fast its page opens and filters.

Usage: python plugins/romanasn-report/benchmarks/bench_report.py [ROWS ...] [--dir DIR] [--with-pool] [--json FILE]

For each size (100,000 rows by default; the target is 1,000,000 rows), a pool
made by ``mission_pool.py`` (kept in DIR and reused) is run through
``romanasn generate --report`` with the imaging, spectral and calibration
packs, in a fresh process that times the report's part: gathering the page's
data as the files are written (``report.Collector``: on the run's thread, and
the CPU of the thread that writes and reads each chunk meanwhile) and
finishing the page after the run (``write_report``). Then, in fresh processes:

- floor of the report written by generate: writing the same bytes as its data
  folder, in as many files (what any report holding the files' JSON must do);
- ``romanasn report RUN`` (the page read from the folder's files), and its
  floor: reading every association file's bytes, before the report (as the
  page cache holds them after the run) and after it;
- with ``--with-pool``: ``romanasn report RUN --pool POOL`` (adds the sky and
  explain's verdicts on every pool row, which run every rule over the pool again).

Then the page in headless Chromium (the system browser, through Playwright):
seconds until the first page of the table is shown, then to filter by one
member file name (every association holding a name of which it is a part),
then by a rule. Targets: a 1,000,000-row run's report written in under 30 s
(by ``generate --report`` and by ``romanasn report RUN``); the page open and
filtered in under 2 s. The load average is printed beside the figures: the
machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))  # the repository's: mission_pool

PACKS = "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration,romanasn-report"
ENV = dict(os.environ, ROMANASN_PLUGINS=PACKS)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGET_WRITE_1M, TARGET_PAGE = 30.0, 2.0
#: The table's status line once a filter is applied: "N of M associations ...".
DONE = r"/^[\d,]+ of [\d,]+ associations/.test(document.getElementById('status').textContent)"

#: ``romanasn generate ... --report`` timing the report's part (printed as JSON on the last line).
_GENERATE = r"""
import json, sys, time
from romanasn import cli
from romanasn_report import report
spent = {"gather": 0.0, "finish": 0.0, "thread_cpu": 0.0}
gather, finish, part = report.Collector.__call__, report.write_report, report._write_part
def timed_part(*args):
    start = time.thread_time()
    try:
        return part(*args)
    finally:
        spent["thread_cpu"] += time.thread_time() - start
def timed_gather(self, name, data):
    start = time.perf_counter()
    gather(self, name, data)
    spent["gather"] += time.perf_counter() - start
def timed_finish(*args, **kwargs):
    start = time.perf_counter()
    try:
        return finish(*args, **kwargs)
    finally:
        spent["finish"] = time.perf_counter() - start
report.Collector.__call__, report.write_report, report._write_part = timed_gather, timed_finish, timed_part
start = time.perf_counter()
status = cli.main(sys.argv[1:])
spent["run"] = time.perf_counter() - start
print(json.dumps(spent))
sys.exit(status)
"""

#: Writing the bytes of a data folder again, in as many files.
_WRITE_FLOOR = r"""
import os, sys, tempfile
sizes = [entry.stat().st_size for entry in os.scandir(sys.argv[1])]
with tempfile.TemporaryDirectory(dir=os.path.dirname(sys.argv[1])) as out:
    for k, size in enumerate(sizes):
        with open(os.path.join(out, f"{k}.js"), "wb") as f:
            f.write(b"x" * size)
"""

_FLOOR = r"""
import os, sys
folder = sys.argv[1]
total = 0
for entry in os.scandir(folder):
    if entry.name.endswith("_asn.json"):
        with open(entry.path, "rb") as f:
            total += len(f.read())
print(total)
"""


def romanasn() -> list[str]:
    return [sys.executable, "-m", "romanasn"]


def timed(argv: list[str]) -> dict:
    """Run ``argv`` in a fresh process: wall and CPU seconds (the child's)."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, "stdout": done.stdout}


def prepared_run(rows: int, folder: Path) -> tuple[Path, Path]:
    """The pool of ``rows`` rows (made once, kept in ``folder``) and the folder of its run."""
    import mission_pool

    pool = folder / f"pool_{rows}.ecsv"
    if not pool.exists():
        print(f"making a pool of {rows:,} rows ...", flush=True)
        mission_pool.write(rows, pool)
    return pool, folder / f"run_{rows}"


def generate_with_report(pool: Path, run: Path) -> dict:
    """``romanasn generate POOL -o RUN --report`` (anew): the run's and the report's seconds."""
    print(f"generating {run} with its report ...", flush=True)
    shutil.rmtree(run, ignore_errors=True)
    done = timed([sys.executable, "-c", _GENERATE, "generate", str(pool), "-o", str(run), "-q", "--report"])
    return json.loads(done["stdout"].strip().splitlines()[-1]) | {"wall": done["wall"]}


def browser_times(page: Path, member: str, rule: str) -> dict:
    """Seconds to open the page (first rows shown), filter by ``member`` (first the names that start
    with it, then every name), then by ``rule``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        start = time.perf_counter()
        tab.goto(page.as_uri())
        tab.wait_for_function("document.querySelectorAll('#table tbody tr').length > 0", timeout=300_000)
        opened = time.perf_counter() - start
        tab.click("#tab-associations")
        start = time.perf_counter()
        tab.fill("#f-member", member)
        tab.wait_for_function(DONE + " && document.getElementById('status').textContent.includes(' hold')",
                              timeout=300_000)
        by_member = time.perf_counter() - start - 0.25  # less the page's typing pause
        found = tab.inner_text("#status")
        tab.fill("#f-member", "")
        tab.wait_for_function("!document.getElementById('status').textContent.includes(' hold')", timeout=300_000)
        start = time.perf_counter()
        tab.select_option("#f-rule", rule)
        tab.wait_for_function(DONE, timeout=300_000)
        by_rule = time.perf_counter() - start
        found_rule = tab.inner_text("#status")
        browser.close()
    return {"open": opened, "filter_member": by_member, "filter_rule": by_rule, "member_status": found,
            "rule_status": found_rule}


def measure(rows: int, folder: Path, with_pool: bool) -> dict:
    load_before = os.getloadavg()
    pool, run = prepared_run(rows, folder)
    generated = generate_with_report(pool, run)
    files = sum(1 for n in os.listdir(run) if n.endswith("_asn.json"))
    data = run / "report_data"
    write_floor = timed([sys.executable, "-c", _WRITE_FLOOR, str(data)])
    size = sum(p.stat().st_size for p in data.iterdir())
    floor = timed([sys.executable, "-c", _FLOOR, str(run)])
    page = folder / f"report_{rows}.html"
    report = timed(romanasn() + ["report", str(run), "-o", str(page), "-q"])
    floor_after = timed([sys.executable, "-c", _FLOOR, str(run)])
    result = {"rows": rows, "associations": files, "generate_wall": generated["run"],
              "gather": generated["gather"], "finish": generated["finish"], "thread_cpu": generated["thread_cpu"],
              "report_in_generate": generated["gather"] + generated["finish"], "write_floor": write_floor["wall"],
              "floor_wall": floor["wall"], "floor_after_wall": floor_after["wall"], "report_wall": report["wall"],
              "report_cpu": report["cpu"], "data_mib": size / 2**20, "data_files": len(os.listdir(data))}
    if with_pool:
        pooled = timed(romanasn() + ["report", str(run), "-o", str(folder / f"report_pool_{rows}.html"),
                                     "--pool", str(pool), "-q"])
        result["report_with_pool_wall"] = pooled["wall"]
    run_report = json.loads((run / "romanasn-run.json").read_text())
    member = next(n for n in sorted(os.listdir(run)) if n.endswith("_asn.json"))
    first = json.loads((run / member).read_text())["products"][0]["members"][0]["expname"]
    rule = max(run_report["counts"], key=run_report["counts"].get)
    result.update(browser_times(run / "report.html", first, rule))
    result["member"], result["rule"] = first, rule
    result["load"] = [round(x, 1) for x in load_before + os.getloadavg()]
    return result


def print_result(r: dict) -> None:
    print(f"{r['rows']:>9,} rows, {r['associations']:,} associations (load average 1/5/15 min: "
          f"{'/'.join(map(str, r['load'][:3]))} at the start, {'/'.join(map(str, r['load'][3:]))} at the end):")
    print(f"  generate --report         {r['generate_wall']:7.2f} s, of which the report {r['report_in_generate']:.2f} s "
          f"(gathered as files are written {r['gather']:.2f} s, page finished after the run {r['finish']:.2f} s; "
          f"and {r['thread_cpu']:.2f} s CPU on the report's own thread while the run went on)")
    print(f"  write its data's bytes    {r['write_floor']:7.2f} s (floor: {r['data_mib']:.0f} MiB in {r['data_files']} "
          f"files); the report is {r['report_in_generate'] / r['write_floor']:.1f}x the floor "
          f"({(r['report_in_generate'] + r['thread_cpu']) / r['write_floor']:.1f}x with its thread's CPU)")
    print(f"  read every file (floor)   {r['floor_wall']:7.2f} s before the report, "
          f"{r['floor_after_wall']:.2f} s after it")
    floor = min(r["floor_wall"], r["floor_after_wall"])
    print(f"  romanasn report RUN       {r['report_wall']:7.2f} s wall, {r['report_cpu']:.2f} s CPU "
          f"({r['report_wall'] / floor:.2f}x the faster floor, {floor:.2f} s: it reads every file, on two processes)")
    if "report_with_pool_wall" in r:
        print(f"  romanasn report --pool    {r['report_with_pool_wall']:7.2f} s wall (adds the sky and explain's verdicts)")
    print(f"  page open (first rows)    {r['open']:7.2f} s")
    print(f"  filter by member name     {r['filter_member']:7.2f} s  ({r['member_status']}; every name searched: "
          f"a part of a name may be anywhere)")
    print(f"  filter by rule            {r['filter_rule']:7.2f} s  ({r['rule_status']})")
    if r["rows"] >= 1_000_000:
        for what, seconds in (("by generate --report", r["report_in_generate"]), ("by romanasn report RUN", r["report_wall"])):
            print(f"  target: written in under {TARGET_WRITE_1M:.0f} s ({what}): "
                  f"{'holds' if seconds < TARGET_WRITE_1M else 'MISSED'} ({seconds:.2f} s)")
    worst = max(r["open"], r["filter_member"], r["filter_rule"])
    print(f"  target: page opens and filters in under {TARGET_PAGE:.0f} s each: "
          f"{'holds' if worst < TARGET_PAGE else f'MISSED (slowest {worst:.2f} s)'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[100_000], help="pool sizes (default: 100000)")
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "romanasn-bench-report",
                        help="where pools, runs and pages are kept between runs")
    parser.add_argument("--with-pool", action="store_true", help="also time the report with --pool")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in args.rows:
        results.append(measure(rows, args.dir, args.with_pool))
        print_result(results[-1])
    if args.json:
        machine = {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
        args.json.write_text(json.dumps({"results": results, "machine": machine}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
