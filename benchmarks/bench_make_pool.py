"""Benchmark ``romanasn make-pool`` on real Level 2 files made with roman_datamodels.

Makes N ``*_cal.asdf`` files (``ImageModel.create_fake_data`` with realistic
metadata: ids, times, filters, a TAN WCS of the full 4088 x 4088 detector
and its ``s_region``; arrays in binary blocks as in full-size files) once
into a folder that later runs reuse, warms the page cache, then times:

- ``make_pool`` over the folder with 1 and 2 processes (finding the files,
  reading the headers, checking, writing and reading back the pool), best
  of ``--repeat`` runs; with ``--dask`` also with ``engine="dask"``, on a
  local cluster of 2 worker processes started once (or on the scheduler at
  ``--dask ADDRESS``), after a first run outside the timing;
- ``roman_datamodels.open`` of each file, reading the same metadata values
  (after a first call, which costs seconds, outside the timing);
- ``asdf.util.load_yaml`` of each file.

Usage: python benchmarks/bench_make_pool.py [--files 1000] [--dir DIR] [--dask [ADDRESS]] [--check]
With ``--check`` the exit status is 1 when 2 processes read fewer than
``--target`` files per second (default 1000).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from romanasn.testing import tan_wcs

VERSION = "2"  # bump when the files made change
DETECTORS = 18


def make_files(folder: Path, numbers: list[int]) -> None:
    """Write the L2 files ``numbers`` (exposure = number // 18 + 1, detector = number % 18 + 1)."""
    from astropy import units as u
    from astropy.time import Time
    import roman_datamodels.datamodels as rdm

    model = rdm.ImageModel.create_fake_data(shape=(64, 64))
    meta = model.meta
    elements = ["F062", "F087", "F106", "F129", "F146", "F158", "F184", "F213"]
    for number in numbers:
        exposure, detector = number // DETECTORS + 1, number % DETECTORS + 1
        visit = exposure // 50 + 1
        visit_id = f"{1:05d}{1:02d}{1:03d}{1:03d}{1:03d}{visit:03d}"  # program 1, ..., visit
        element = elements[(exposure // 4) % len(elements)]
        obs = meta.observation
        obs.program, obs.execution_plan, obs["pass"], obs.segment = 1, 1, 1, 1
        obs.observation, obs.visit = 1, visit
        obs.visit_file_group, obs.visit_file_sequence, obs.visit_file_activity = 1, 1, "01"
        obs.exposure, obs.visit_id = exposure, visit_id
        obs.observation_id = f"{visit_id}01101{exposure:04d}"
        start = Time("2027-03-01T00:00:00", scale="utc") + exposure * 160 * u.s
        meta.exposure.type = "WFI_IMAGE"
        meta.exposure.start_time, meta.exposure.end_time = start, start + 139.8 * u.s
        meta.exposure.ma_table_name, meta.exposure.ma_table_number, meta.exposure.nresultants = "IMG_16", 16, 6
        meta.exposure.data_problem, meta.exposure.engineering_quality = "false", "OK"
        meta.instrument.detector, meta.instrument.optical_element = f"WFI{detector:02d}", element
        meta.program.category, meta.program.subcategory = "GI", "HLWA"
        meta.program.title = "Benchmark program for romanasn make-pool"
        ra, dec, roll = 10.0 + exposure * 0.01 + (detector % 6) * 0.13, -30.0 + (detector // 6) * 0.13, 15.0
        meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = ra, dec, roll
        meta.wcsinfo.aperture_name = f"WFI{detector:02d}_FULL"
        meta.wcs, meta.wcsinfo.s_region = tan_wcs(ra, dec, roll)  # romanasn.testing's
        name = f"r{visit_id}_{exposure:04d}_wfi{detector:02d}_{element.lower()}_cal.asdf"
        model.save(folder / name)


def ensure_files(folder: Path, count: int, jobs: int) -> list[Path]:
    stamp = folder / f".made-v{VERSION}-{count}"
    if not stamp.exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        print(f"making {count} L2 files in {folder} (once) ...", flush=True)
        started = time.perf_counter()
        shares = [list(range(count))[k::jobs] for k in range(jobs)]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            pool.starmap(make_files, [(folder, share) for share in shares])
        stamp.write_text("")
        print(f"  made in {time.perf_counter() - started:.0f} s")
    files = sorted(folder.glob("*_cal.asdf"))
    if len(files) != count:
        raise SystemExit(f"{folder} holds {len(files)} files, expected {count}: remove it and run again")
    return files


def warm(files: list[Path]) -> None:
    for path in files:
        with open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def time_make_pool(folder: Path, jobs: int, repeat: int, scheduler: str | None = None
                   ) -> tuple[float, float, float, int]:
    """Best wall seconds of the whole call, of the header reading, least CPU seconds (of this
    process and its finished children: not a cluster's workers), rows. With ``scheduler``, on Dask."""
    from romanasn.makepool import make_pool

    engine = {"engine": "dask", "scheduler": scheduler} if scheduler else {"jobs": jobs}
    best, reading, cpu, rows = float("inf"), float("inf"), float("inf"), 0
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "pool.ecsv"
        if scheduler:  # the workers import romanasn on their first task: not timed
            make_pool([folder], out, overwrite=True, progress=False, **engine)
        for _ in range(repeat):
            started, used = time.perf_counter(), cpu_seconds()
            result = make_pool([folder], out, overwrite=True, progress=False, **engine)
            best = min(best, time.perf_counter() - started)
            cpu = min(cpu, cpu_seconds() - used)
            reading, rows = min(reading, result.seconds), result.rows
    return best, reading, cpu, rows


@contextlib.contextmanager
def dask_scheduler(address: str):
    """``address``, or that of a local cluster of 2 single-threaded worker processes, stopped afterwards."""
    if address != "local":
        yield address
        return
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def time_open(files: list[Path]) -> float:
    import roman_datamodels as rd

    with rd.open(files[0]) as model:  # the first call costs seconds: not timed
        model.meta.observation.observation_id
    started = time.perf_counter()
    for path in files:
        with rd.open(path) as model:
            meta = model.meta
            (meta.observation.observation_id, meta.exposure.start_time.isot, meta.wcsinfo.s_region,
             meta.instrument.detector, meta.instrument.optical_element, meta.exposure.type)
    return time.perf_counter() - started


def time_load_yaml(files: list[Path]) -> float:
    import asdf.util

    asdf.util.load_yaml(files[0])
    started = time.perf_counter()
    for path in files:
        asdf.util.load_yaml(path)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="L2 files to make and read (default 1000)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "romanasn-bench-make-pool",
                        help="folder of the files (made once, reused)")
    parser.add_argument("--repeat", type=int, default=3, help="make_pool runs per setting; the best counts")
    parser.add_argument("--open-files", type=int, default=200,
                        help="files opened with roman_datamodels.open and asdf's load_yaml (default 200)")
    parser.add_argument("--target", type=float, default=1000.0, help="files per second wanted with 2 processes")
    parser.add_argument("--check", action="store_true", help="exit 1 when 2 processes miss --target")
    parser.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS",
                        help="also time engine='dask': on a local cluster of 2 worker processes, or on the"
                             " scheduler at ADDRESS (its workers must see --dir)")
    args = parser.parse_args(argv)

    files = ensure_files(args.dir, args.files, max(1, min(2, os.cpu_count() or 1)))
    header = files[0].read_bytes().find(b"\xd3BLK")
    print(f"{len(files)} files of {files[0].stat().st_size} bytes, YAML header {header} bytes; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; warming the page cache")
    warm(files)
    rates = {}
    for jobs in (1, 2):
        seconds, reading, cpu, rows = time_make_pool(args.dir, jobs, args.repeat)
        rates[jobs] = len(files) / seconds
        print(f"make_pool, {jobs} process{'es' if jobs > 1 else '  '}: {rates[jobs]:8,.0f} files/s "
              f"({seconds:.2f} s for {rows} rows: find, read, check, write, read back; "
              f"headers alone {len(files) / reading:,.0f} files/s; {len(files) / cpu:,.0f} files per CPU-second)")
    if args.dask:
        with dask_scheduler(args.dask) as address:
            seconds, reading, _, rows = time_make_pool(args.dir, 1, args.repeat, scheduler=address)
        where = "2 local workers" if args.dask == "local" else args.dask
        print(f"make_pool, dask ({where}): {len(files) / seconds:8,.0f} files/s ({seconds:.2f} s for {rows} rows;"
              f" headers alone {len(files) / reading:,.0f} files/s)")
    sample = files[: args.open_files]
    open_rate = len(sample) / time_open(sample)
    yaml_rate = len(sample) / time_load_yaml(sample)
    print(f"roman_datamodels.open:  {open_rate:8,.0f} files/s (1 process, {len(sample)} files)")
    print(f"asdf.util.load_yaml:    {yaml_rate:8,.0f} files/s (1 process, {len(sample)} files)")
    print(f"make_pool is {rates[1] / open_rate:.0f}x roman_datamodels.open with 1 process, "
          f"{rates[2] / open_rate:.0f}x with 2; target {args.target:,.0f} files/s with 2: "
          f"{'met' if rates[2] >= args.target else 'MISSED'}")
    return 1 if args.check and rates[2] < args.target else 0


if __name__ == "__main__":
    sys.exit(main())
