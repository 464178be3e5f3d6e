"""Creating association files: one loop against several writer threads, one folder against a
folder per program (issue #13, item 3).

Makes ``COUNT`` files of about 1 KB (names as a run gives them, 20 programs)
in a new folder under ``--dir``, each way in turn, alternating, best of
``--repeat``; prints the seconds and the ratio to one loop into one folder.

Usage: python benchmarks/bench_write.py [COUNT] [--dir /tmp/romanasn-bench] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PAYLOAD = b"x" * 1100
FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create(paths: list[str]) -> None:
    for path in paths:
        fd = os.open(path, FLAGS, 0o666)
        try:
            os.write(fd, PAYLOAD)
        finally:
            os.close(fd)


def run(folder: Path, count: int, threads: int, per_program: bool) -> float:
    """Seconds to create ``count`` files in ``folder`` (new) with ``threads`` writers."""
    names = [f"r{k % 20:05d}_p_v{k:014d}_f158_asn.json" for k in range(count)]
    folder.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    folder.mkdir()
    if per_program:
        for program in range(20):
            (folder / f"r{program:05d}").mkdir()
        paths = [f"{folder}/{name[:6]}/{name}" for name in names]
    else:
        paths = [f"{folder}/{name}" for name in names]
    if threads == 1:
        _create(paths)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(_create, [paths[k::threads] for k in range(threads)]))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    parser.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/romanasn-bench"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    base = Path(args.dir) / f"write_{os.getpid()}"
    ways = [(1, False), (2, False), (4, False), (2, True)]
    best = {}
    try:
        for k in range(args.repeat):
            for threads, per_program in ways:
                folder = base / f"{threads}_{per_program}_{k}"
                wall = run(folder, args.count, threads, per_program)
                best[(threads, per_program)] = min(wall, best.get((threads, per_program), wall))
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{args.count:,} files of {len(PAYLOAD)} bytes, best of {args.repeat}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    one = best[(1, False)]
    for (threads, per_program), wall in best.items():
        layout = "a folder per program" if per_program else "one folder"
        print(f"  {threads} writer thread{'s' if threads > 1 else ' '}, {layout:22s} {wall:7.2f} s  {wall / one:5.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
