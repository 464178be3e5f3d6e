"""Incremental work on a database pool: the numbers of issue #17.

1. update: a pool of ROWS rows (1,000,000 by default, the mission pool of
   ``mission_pool.py``) in a database, its associations written; 100
   exposures (18 detectors each) of one program arrive: the time to commit
   them to the pool, then ``generate --update`` (the changed program re-planned,
   changed files rewritten). Target: under 2 s together. Measured for the
   smallest imaging program with 3,600 rows or more (when the folder is new: the
   first update after the full run), then the largest. Then what an update reads
   of the full run's run report, against parsing it whole.
2. landing: ``romanasn watch`` on that pool and folder; one new Level 2 file
   of the smaller program lands: the time until its Level 2 association's
   event is printed. Target: under 3 s.
3. burst: 10,000 real L2 files land at once in a watched folder (a fresh pool
   and folder): the watch's rate (files read, committed and their associations
   written and announced, per second) against ``make-pool``'s rate on the
   same files into a database in the same run (the floor). Target: at least
   the make-pool rate. burst-made: the same into a folder a first file made
   (as for a watch that has run before: every turn an update, none a whole run).

4. bulk (PostgreSQL only): 200,000 rows into an empty pool by COPY, against
   executemany batches (the floor) in the same run.

Everything slow to make (the pool, the database, the associations, the
files) is made once under ``--dir`` and reused; each number is measured once.
``--db postgresql://...`` runs the same against a PostgreSQL database (made
anew: give an empty one).

``--postgresql`` starts a server of Debian's ``postgresql`` package for the run
(as the tests do: a temporary cluster, fsync off) and runs against it.

Usage: python benchmarks/bench_incremental.py [--rows N] [--files N] [--dir DIR] [--db URL | --postgresql]
       [--skip update,landing,burst,burst-made,bulk]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

NEW_EXPOSURES = 100
DETECTORS = 18


def log(message: str) -> None:
    print(message, flush=True)


# -- the pool and its associations ----------------------------------------------------------------


def split_pool(rows: int):
    """The mission pool less the last 100 exposures of its smallest and of its largest imaging
    program; those rows (smallest first); the two programs."""
    from mission_pool import mission_pool

    from romanasn import read_pool, write_pool

    with tempfile.TemporaryDirectory() as scratch:  # typed and checked as any pool read
        write_pool(mission_pool(rows), Path(scratch) / "pool.ecsv")
        table = read_pool(Path(scratch) / "pool.ecsv")
    table.meta = {}
    program_of, ids = np.asarray(table["program"]), np.asarray(table["observation_id"])
    imaging = np.asarray(table["exposure_type"]) == "WFI_IMAGE"
    programs, counts = np.unique(program_of[imaging], return_counts=True)
    big = counts >= NEW_EXPOSURES * DETECTORS * 2
    chosen = [int(programs[big][np.argmin(counts[big])]), int(programs[np.argmax(counts)])]
    new = []
    for program in chosen:
        exposures = np.unique(ids[program_of == program])[-NEW_EXPOSURES:]
        new.append(np.isin(ids, exposures) & (program_of == program))
    return table[~(new[0] | new[1])], [table[mask] for mask in new], chosen


def put_rows(target: str, table, *, batch: int = 50_000) -> float:
    """Commit ``table``'s rows to the database pool ``target`` in one transaction, with the indexes
    ``make-pool`` makes (on the keys the rules group by and join companions on); seconds taken."""
    from romanasn.plugins.manager import get_plugin_manager
    from romanasn.pooldb import PoolDB, group_columns, table_rows

    db = PoolDB(target, index=group_columns(get_plugin_manager()))
    started = time.perf_counter()
    with db.writing() as writer:
        for start in range(0, len(table), batch):
            writer.put(table_rows(table[start:start + batch]))
        writer.log_changes()
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def romanasn(*args: str, quiet: bool = True) -> float:
    """Run ``romanasn`` in a new process; its wall seconds."""
    return seconds_of([sys.executable, "-m", "romanasn", *args, *(["-q"] if quiet else [])])


def prepared(work: Path, rows: int, db: str | None) -> tuple[str, Path, list, list[int], bool]:
    """The database pool (less the new rows) and its association folder, made once (a copy of the
    full run's report kept beside it); the new rows, their programs, whether the folder is new."""
    base, new, programs = split_pool(rows)
    target = db or str(work / f"pool_{rows}.sqlite")
    out = work / f"asn_{rows}" if db is None else work / f"asn_{rows}_pg"
    stamp, fresh = out / ".bench-ready", db is not None or not (out / ".bench-ready").exists()
    if fresh:
        for path in (out, Path(target)):
            if path.exists() and path != Path(db or "-"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        log(f"committing {len(base):,} rows to {target} (once) ...")
        log(f"  {put_rows(target, base):.1f} s")
        log(f"writing every association to {out} (once) ...")
        log(f"  {romanasn('generate', target, '-o', str(out)):.1f} s")
        shutil.copyfile(out / "romanasn-run.json", full_report(out))
        stamp.write_text("")
    return target, out, new, programs, fresh


def full_report(out: Path) -> Path:
    return out.parent / f"{out.name}.full-run.json"


def bench_report(out: Path) -> dict:
    """What an update reads of the full run's report (incremental.last_report: its end) against
    parsing it whole (what it did), in the same run."""
    import orjson

    from romanasn.incremental import last_report

    saved = full_report(out)
    if not saved.exists():
        log(f"report: no copy of the full run's report beside {out} (made by an older benchmark)")
        return {}
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        os.link(saved, Path(scratch) / "romanasn-run.json")
        started = time.perf_counter()
        assert last_report(Path(scratch))["pool_seq"] > 0
        tail = time.perf_counter() - started
        started = time.perf_counter()
        orjson.loads((Path(scratch) / "romanasn-run.json").read_bytes())
        whole = time.perf_counter() - started
    log(f"report: what an update reads of the full run's {saved.stat().st_size / 1e6:,.0f} MB report in"
        f" {tail * 1000:.1f} ms; parsed whole (before) {whole * 1000:.0f} ms")
    return {"bytes": saved.stat().st_size, "tail_seconds": tail, "whole_seconds": whole}


def file_count(out: Path) -> int:
    """The association files in ``out`` (its manifest's shards)."""
    return sum(json.loads((out / "romanasn-run.json").read_bytes())["manifest"]["shards"].values())


# -- 1. update ------------------------------------------------------------------------------------


def in_process(*args: str) -> float:
    """Run ``romanasn`` in this process (as a running service would: Python and the packs loaded)."""
    from romanasn.cli import main as romanasn_main

    started = time.perf_counter()
    if romanasn_main([*args, "-q"]) != 0:
        raise SystemExit(f"romanasn {' '.join(args)} failed")
    return time.perf_counter() - started


def arriving(target: str, new):
    """The rows ``new`` if the pool lacks them, else the same exposures in a visit the pool lacks (a
    later run on the same pool: 100 exposures arrive again)."""
    import sqlalchemy as sa

    from romanasn.pooldb import PoolDB

    db = PoolDB(target)
    try:
        held = db.names(new["filename"].tolist())
        if not held:
            return new
        with db.reading() as conn:
            visits = set(conn.execute(sa.text("SELECT DISTINCT visit_id FROM pool WHERE program = :p"),
                                      {"p": int(new["program"][0])}).scalars())
    finally:
        db.close()
    fresh: dict[str, str] = {}  # each visit of the rows -> a visit of the same pass and segment the pool lacks
    for old in sorted(set(map(str, new["visit_id"]))):
        fresh[old] = next(f"{old[:16]}{number:03d}" for number in range(999, 0, -1)
                          if f"{old[:16]}{number:03d}" not in visits | set(fresh.values()))
    moved = new.copy()
    for name in ("visit_id", "observation_id", "filename"):
        moved[name] = [str(value).replace(str(vid), fresh[str(vid)]) for value, vid in zip(new[name], new["visit_id"])]
    moved["visit"] = [int(fresh[str(vid)][16:]) for vid in new["visit_id"]]
    return moved


def bench_update(target: str, out: Path, new, program: int, first: bool) -> dict:
    """Time 100 exposures of ``program`` (the rows ``new``) committed, then ``generate --update``,
    in this process; then 100 more, updated by the ``romanasn`` command, beside the floor of
    starting Python and importing romanasn and its packs."""
    from romanasn.plugins.manager import get_plugin_manager

    from romanasn import cli, incremental  # noqa: F401

    get_plugin_manager().check()  # the packs and the update imported, as in a service that runs
    new_rows = arriving(target, new)
    pool_seconds = put_rows(target, new_rows)
    generate_seconds = in_process("generate", target, "-o", str(out), "--update")
    report = json.loads((out / "romanasn-run.json").read_bytes())
    update = report["update"]
    command_pool = put_rows(target, arriving(target, new))
    command = romanasn("generate", target, "-o", str(out), "--update")
    python = seconds_of([sys.executable, "-c", "pass"])
    imports = seconds_of([sys.executable, "-c", "import romanasn.cli, romanasn.incremental; from romanasn.plugins"
                          ".manager import get_plugin_manager; get_plugin_manager().check()"])
    total = pool_seconds + generate_seconds
    log(f"update: +{len(new_rows):,} rows ({NEW_EXPOSURES} exposures of program {program}, {report['pool_rows']:,}"
        f" rows planned) into the pool of a {file_count(out):,}-association folder"
        + (" (the first update after the full run)" if first else ""))
    log(f"  in a running process: pool commit {pool_seconds:.2f} s + generate --update {generate_seconds:.2f} s ="
        f" {total:.2f} s (target < 2 s: {'holds' if total < 2 else 'MISSED'})")
    log(f"  {update['added']} added, {update['changed']} changed, {update['unchanged']} unchanged,"
        f" programs {update.get('programs')}")
    log(f"  as a command (100 exposures more): pool commit {command_pool:.2f} s + romanasn generate --update"
        f" {command:.2f} s; floor: python -c pass {python:.2f} s, + importing romanasn, its update and its packs"
        f" {imports:.2f} s; the update itself {command - imports:.2f} s")
    return {"program": program, "first": first, "rows": len(new_rows), "pool_seconds": pool_seconds,
            "generate_seconds": generate_seconds, "total": total, "added": update["added"],
            "changed": update["changed"], "command_pool_seconds": command_pool, "command_seconds": command,
            "python_start": python, "import_start": imports}


def seconds_of(command: list[str]) -> float:
    """The wall seconds of running ``command``."""
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


# -- 2. landing -----------------------------------------------------------------------------------


class Watching:
    """A ``romanasn watch`` process writing its events to a file."""

    def __init__(self, landing: Path, target: str, out: Path, events: Path, *more: str) -> None:
        self.events = events
        events.unlink(missing_ok=True)
        self.process = subprocess.Popen([sys.executable, "-m", "romanasn", "watch", str(landing), "--pool-db",
                                         target, "-o", str(out), "--events", str(events), *more],
                                        stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.read: list[tuple[float, int]] = []  # (when, files read in all) at each batch committed to the pool
        self.said: list[str] = []  # what else it said
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stderr:
            if "caught up" in line:
                self.ready.set()
            found = re.search(r"(\d+) files read:", line)
            if found:
                self.read.append((time.perf_counter(), int(found[1]) + (self.read[-1][1] if self.read else 0)))
            elif not self.ready.is_set() or "files read" not in line:
                self.said.append(line)
        self.ready.set()

    def turns(self, started: float) -> str:
        """When each batch (or turn of one) was committed, from ``started``, and its files."""
        return ", ".join(f"{when - started:.1f} s +{done - before:,}" for (when, done), (_, before)
                         in zip(self.read, [(0, 0)] + self.read))

    def pooled(self, files: int) -> float:
        """When the watch had committed ``files`` files' rows to the pool (perf_counter)."""
        return next(when for when, done in self.read if done >= files)

    def caught_up(self) -> float:
        """Seconds until the watch has started and caught up with the landing folder."""
        started = time.perf_counter()
        if not self.ready.wait(600) or self.process.poll() is not None:
            raise SystemExit("romanasn watch did not start")
        return time.perf_counter() - started

    def lines(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines() if line.endswith("}")]

    def until(self, done, timeout: float) -> float:
        """Seconds until ``done(events)``."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if done(self.lines()):
                return time.perf_counter() - started
            if self.process.poll() is not None:
                raise SystemExit(f"romanasn watch stopped (status {self.process.returncode}):\n{''.join(self.said)}")
            time.sleep(0.02)
        raise SystemExit(f"nothing after {timeout} s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)


def land(paths: list[Path], landing: Path) -> None:
    for path in paths:
        os.replace(path, landing / path.name)


def bench_landing(work: Path, target: str, out: Path, program: int) -> dict:
    from romanasn.testing import exposure_rows, make_exposure

    landing, staging = work / "landing", work / "staging"
    for folder in (landing, staging):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    visit = f"{program:05d}99099099099099"
    row = exposure_rows(visit, int(time.time()) % 9999 + 1, detectors=(1,),  # a new exposure at each run
                        ma_table_name="IMG_16", ma_table_number=16, nresultants=6,
                        program_category="SURVEY", program_subcategory="HLWA")[0]
    path = make_exposure(staging, row)
    watching = Watching(landing, target, out, work / "landing.events")
    try:
        watching.caught_up()
        land([path], landing)
        product = path.name.replace("_cal.asdf", "")
        seconds = watching.until(lambda events: any(e["product"] == product for e in events), 300)
    finally:
        watching.stop()
    log(f"landing: one L2 file into the watched {file_count(out):,}-association folder: its Level 2"
        f" association and event in {seconds:.2f} s (target < 3 s: {'holds' if seconds < 3 else 'MISSED'})")
    return {"seconds": seconds}


# -- 3. burst -------------------------------------------------------------------------------------


def bench_burst(work: Path, files: int, db: str | None, into_made: bool = False) -> dict:
    from bench_make_pool import ensure_files, warm

    source = ensure_files(work / f"files_{files}", files, 2)
    landing, out = work / "burst_landing", work / "burst_asn"
    for path in (landing, out):
        set_aside(path)
    after_deletions(work)  # before the files are warmed and the floor is measured: both sides alike
    warm(source)
    make_pool = ["make-pool", str(work / f"files_{files}"), "-j", "2", "--pool-db"]
    romanasn(*make_pool, fresh_database(work, db, "burst_floor"))  # unmeasured: warms what a wait let go cold
    floor = romanasn(*make_pool, fresh_database(work, db, "burst_floor"))
    target = fresh_database(work, db, "burst")
    landing.mkdir()
    watching = Watching(landing, target, out, work / "burst.events", "-j", "2")
    try:
        watching.caught_up()
        if into_made:  # the folder made by a first file, as in a watch that has run before
            os.link(source[0], landing / source[0].name)
            watching.until(lambda events: events, 60)
            source = source[1:]
        wanted = {path.name.replace("_cal.asdf", "") for path in source}
        started = time.perf_counter()
        for path in source:  # hard links: the files appear at once, the originals stay for the next run
            os.link(path, landing / path.name)
        seconds = watching.until(lambda events: wanted <= {e["product"] for e in events}, 1800)
        linked = time.perf_counter() - started - seconds
        pooled = watching.pooled(files) - started
        turns = watching.turns(started)
    finally:
        watching.stop()
    rate, floor_rate, pool_rate = len(source) / seconds, files / floor, len(source) / pooled
    made, creating = creation_floor(out, work / "burst_bare")
    log(f"burst{' into a made folder' if into_made else ''}: {files:,} files landing at once: every row in the pool in {pooled:.1f} s ({pool_rate:,.0f} files/s),"
        f" every Level 2 association and event in {seconds:.1f} s, {rate:,.0f} files/s; make-pool --pool-db -j 2"
        f" on the same files {floor:.1f} s, {floor_rate:,.0f} files/s (ratios {pool_rate / floor_rate:.2f} into"
        f" the pool, {rate / floor_rate:.2f} with the associations; target >= 1:"
        f" {'holds' if rate >= floor_rate else 'MISSED'})")
    log(f"  the watch's batches committed (since the first link; the associations follow each): {turns}")
    log(f"  a bare loop making the {made:,} association files again in a new folder: {creating:.2f} s")
    return {"seconds": seconds, "rate": rate, "pool_seconds": pooled, "pool_rate": pool_rate,
            "make_pool_rate": floor_rate, "linked": linked, "turns": turns, "bare_files": made,
            "bare_seconds": creating}


TRASH = ".trash"


def set_aside(path: Path) -> None:
    """Move ``path`` (a folder of an earlier run) into the trash, emptied when the benchmark ends.

    Deleting thousands of files just before a measurement would slow the files made next to
    them: ext4 without a journal (this machine's disk) skips inodes freed in the last seconds
    to minutes when it allocates, scanning past every one of them for each new file
    (``recently_deleted()`` in the kernel: 60 s, or 360 s while the inode's block is dirty, as
    making files next to it makes it; 10,663 files made in 0.2 s, or in 3.8 to 5.3 s beside
    20,000 files deleted 2 to 70 s before). make-pool, the floor, makes no files."""
    if path.exists():
        trash = path.parent / TRASH
        trash.mkdir(exist_ok=True)
        path.rename(tempfile.mkdtemp(prefix=path.name, dir=trash))


RECENTLY_DELETED = 365  # seconds an ext4 inode counts as recently deleted (60, 360 once its block is written to again)


def empty_trash(work: Path) -> None:
    """Delete the trash, noting when (see :func:`after_deletions`)."""
    if (work / TRASH).exists():
        shutil.rmtree(work / TRASH, ignore_errors=True)
        (work / f"{TRASH}-emptied").touch()


def after_deletions(work: Path) -> None:
    """Wait until the files an earlier run deleted here no longer slow the making of new ones."""
    stamp = work / f"{TRASH}-emptied"
    wait = RECENTLY_DELETED - (time.time() - stamp.stat().st_mtime) if stamp.exists() else 0
    if wait > 0:
        log(f"waiting {wait:.0f} s: an earlier run deleted its files here {RECENTLY_DELETED - wait:.0f} s ago"
            " (new files would be made past them, slowly)")
        time.sleep(wait)


def creation_floor(made: Path, bare: Path) -> tuple[int, float]:
    """The files of the folder ``made`` written again by a bare loop into the new folder ``bare``:
    how many, and the seconds it took (the file system's share of the watch's work)."""
    files = [(path.name, path.read_bytes()) for path in made.iterdir() if path.name.endswith("_asn.json")]
    set_aside(bare)
    bare.mkdir()
    started = time.perf_counter()
    for name, data in files:
        with open(bare / name, "xb") as stream:
            stream.write(data)
    return len(files), time.perf_counter() - started


# -- 4. bulk import (PostgreSQL) -----------------------------------------------------------------------


def bench_bulk(work: Path, db: str, rows: int) -> dict:
    """``rows`` rows of the mission pool committed to an empty PostgreSQL pool by COPY (what
    ``pool import`` and ``make-pool`` do) and by executemany batches (the floor: what they did)."""
    from mission_pool import mission_pool

    from romanasn import pooldb, read_pool, write_pool

    with tempfile.TemporaryDirectory() as scratch:
        write_pool(mission_pool(rows), Path(scratch) / "pool.ecsv")
        table = read_pool(Path(scratch) / "pool.ecsv")
    table.meta = {}
    copy_seconds = put_rows(fresh_database(work, db, "bulk_copy"), table)
    kept, pooldb._COPY_ROWS = pooldb._COPY_ROWS, len(table) + 1  # every batch by executemany
    try:
        many_seconds = put_rows(fresh_database(work, db, "bulk_many"), table)
    finally:
        pooldb._COPY_ROWS = kept
    log(f"bulk: {len(table):,} rows into an empty PostgreSQL pool: COPY {copy_seconds:.1f} s"
        f" ({len(table) / copy_seconds:,.0f} rows/s), executemany {many_seconds:.1f} s"
        f" ({len(table) / many_seconds:,.0f} rows/s): {many_seconds / copy_seconds:.1f}x faster by COPY")
    return {"rows": len(table), "copy_seconds": copy_seconds, "executemany_seconds": many_seconds}


def fresh_database(work: Path, db: str | None, name: str) -> str:
    """An empty database pool: an SQLite file in ``work``, or a new database beside ``db`` on its server."""
    if db is None:
        path = work / f"{name}.sqlite"
        for leftover in work.glob(f"{name}.sqlite*"):
            leftover.unlink()
        return str(path)
    import psycopg
    import sqlalchemy as sa

    url = sa.make_url(db)
    server = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.database}_{name}")
        conn.execute(f"CREATE DATABASE {url.database}_{name}")
    return url.set(database=f"{url.database}_{name}").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the pool (default 1,000,000)")
    parser.add_argument("--files", type=int, default=10_000, help="files of the burst (default 10,000)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "romanasn-bench-incremental",
                        help="work folder (what is slow to make is kept there and reused)")
    parser.add_argument("--db", help="a PostgreSQL URL to use instead of SQLite files")
    parser.add_argument("--postgresql", action="store_true",
                        help="start a PostgreSQL server (Debian's postgresql, as the tests do) and use it")
    parser.add_argument("--skip", default="",
                        help="comma-separated parts to leave out: update, landing, burst, burst-made, bulk")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    args.dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.postgresql:
            from romanasn.testing import postgresql_server

            host, port, user = stack.enter_context(postgresql_server())
            args.db = fresh_database(args.dir, f"postgresql://{user}@{host}:{port}/bench", "pool")
        return run(args, skip)


def run(args: argparse.Namespace, skip: set[str]) -> int:
    log(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, pool {args.db or 'SQLite'}")
    results = {}
    if {"update", "landing"} - skip:
        target, out, new, programs, fresh = prepared(args.dir, args.rows, args.db)
        if "update" not in skip:
            results["update"] = [bench_update(target, out, rows, program, fresh and not number)
                                 for number, (rows, program) in enumerate(zip(new, programs))]
            results["report"] = bench_report(out)
        if "landing" not in skip:
            results["landing"] = bench_landing(args.dir, target, out, programs[0])
    if "burst" not in skip:
        results["burst"] = bench_burst(args.dir, args.files, args.db)
    if "burst-made" not in skip:
        results["burst-made"] = bench_burst(args.dir, args.files, args.db, into_made=True)
    if "bulk" not in skip and args.db:
        results["bulk"] = bench_bulk(args.dir, args.db, min(args.rows, 200_000))
    empty_trash(args.dir)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
