"""Hand-written pieces of the kernel against the libraries that could do them, side by side in one run.

- **ASDF headers**: the values ``make-pool`` reads under ``roman.meta`` (every
  canonical column's path), from real Level 2 files made by
  ``bench_make_pool.py`` (made once into ``--dir``, then reused), by
  ``romanasn.asdfheader.read_meta`` and ``load_tree`` (the whole tree), and by
  ``asdf.util.load_yaml``, ``asdf.open`` (lazy tree) and ``roman_datamodels.open``.
- **The kernel's version**: ``importlib.metadata.version`` against reading the
  ``METADATA`` of the ``romanasn-*.dist-info`` folder directly, in a process
  that has ``importlib.metadata`` imported (every command has: the plugin
  manager finds the packs through its entry points).
- **new-pack's placeholders**: ``romanasn_newpack.render`` (a regular
  expression fills ``{{name}}``, an unknown one is an error) against Jinja2
  with ``StrictUndefined`` on the same templates: importing it beside
  ``romanasn``, and rendering a pack's files.
- **The progress bar**: ``romanasn.progress.Progress`` against tqdm and
  rich.progress (each left out when not installed): importing it beside
  ``romanasn`` in a fresh interpreter, and microseconds per update drawn to a
  terminal-like stream.

And two pieces of modules this benchmark does not change, measured for their
owners, on the associations ``romanasn generate`` makes of ``--pool``:

- **JSON of association files**: ``romanasn.encoder.encode_json`` (indent 4,
  the bytes of ``json.dumps``) against ``json.dumps(indent=4)`` and orjson
  (which indents by 2 only: not the same bytes).
- **The report's sky view**: ``romanasn_report.sky.Projection`` (azimuthal
  equidistant, about the vertices' centre) against astropy.modeling's
  ``RotateCelestial2Native | Sky2Pix_ZenithalEquidistant`` on every vertex of
  the Level 3 associations' member polygons, and the footprint hulls of each
  association, ``romanasn_report.sky.hulls`` against scipy's ``ConvexHull`` (Qhull).

The contenders take turns in each round; each one's best round counts, and
ratios are to the kernel's piece in the same run. The load average is printed
(the machine may be shared).

Usage: python benchmarks/bench_libraries.py [--files 300] [--dir DIR] [--pool POOL] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson
import pyarrow as pa
sys.path.insert(0, str(Path(__file__).parent))
from bench_make_pool import ensure_files, warm  # noqa: E402

from romanasn import asdfheader  # noqa: E402
from romanasn.columns import merge_columns  # noqa: E402

PATHS = [c.meta for c in merge_columns(()) if c.meta] + ["model_type"]


def _walk(node: Any, path: str) -> Any:
    for part in path.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError):
            node = getattr(node, part, None)
        if node is None:
            return None
    return node


def read_meta(path: Path) -> dict:
    return dict(asdfheader.read_meta(path, PATHS).values)


def load_tree(path: Path) -> dict:
    meta = asdfheader.load_tree(path)["roman"]["meta"]
    return {p: _walk(meta, p) for p in PATHS}


def load_yaml(path: Path) -> dict:
    import asdf.util

    meta = asdf.util.load_yaml(path)["roman"]["meta"]
    return {p: _walk(meta, p) for p in PATHS}


def asdf_open(path: Path) -> dict:
    import asdf

    with asdf.open(path, lazy_load=True, memmap=False, lazy_tree=True) as af:
        meta = af.tree["roman"]["meta"]
        return {p: _walk(meta, p) for p in PATHS}


def datamodels_open(path: Path) -> dict:
    import roman_datamodels as rd

    with rd.open(path) as model:
        return {p: _walk(model.meta, p) for p in PATHS}


def rounds(contenders: dict[str, Callable[[], Any]], count: int) -> dict[str, float]:
    """Each contender's best seconds over ``count`` rounds, taking turns within a round."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(count):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def headers(files: list[Path], count: int) -> list[str]:
    readers = {"asdfheader.read_meta": read_meta, "asdfheader.load_tree": load_tree,
               "asdf.util.load_yaml": load_yaml, "asdf.open (lazy_tree)": asdf_open,
               "roman_datamodels.open": datamodels_open}
    for name, reader in readers.items():  # the first call imports and caches: not timed
        found = reader(files[0])
        if found.get("observation.observation_id") is None:
            raise SystemExit(f"{name} did not find observation.observation_id in {files[0]}")
    best = rounds({name: (lambda r=reader: [r(path) for path in files]) for name, reader in readers.items()}, count)
    floor = best["asdfheader.read_meta"]
    header = files[0].read_bytes().find(asdfheader.BLOCK_MAGIC)
    lines = [f"ASDF headers: {len(PATHS)} roman.meta values from each of {len(files)} L2 files "
             f"({files[0].stat().st_size:,} bytes, header {header:,} bytes), "
             f"1 process, best of {count}"]
    for name, seconds in best.items():
        lines.append(f"  {name:24} {len(files) / seconds:8,.0f} files/s  {seconds / floor:6.1f} x read_meta's time")
    return lines


def _dist_info_version() -> str | None:
    """The version in the ``romanasn-*.dist-info/METADATA`` on ``sys.path``, read by hand (as
    ``romanasn._version`` did): the folder found by listing each entry, the headers read up to ``Version:``."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("romanasn-") and name.endswith(".dist-info"):
                with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as stream:
                    for line in stream:
                        if line.startswith("Version:"):
                            return line[8:].strip()
    return None


def version(count: int) -> list[str]:
    from importlib.metadata import version as metadata_version

    check = subprocess.run([sys.executable, "-c", "import sys, romanasn.cli;"
                            " print('importlib.metadata' in sys.modules)"], capture_output=True, text=True)
    if metadata_version("romanasn") != _dist_info_version():
        raise SystemExit("importlib.metadata and the dist-info disagree on romanasn's version")
    calls = 500
    best = rounds({"importlib.metadata.version": lambda: [metadata_version("romanasn") for _ in range(calls)],
                   "dist-info read by hand": lambda: [_dist_info_version() for _ in range(calls)]}, count)
    command = rounds({"--version": lambda: subprocess.run([sys.executable, "-m", "romanasn", "--version"],
                                                          check=True, capture_output=True)}, count)["--version"]
    return [f"The kernel's version (the cheapest command, 'romanasn --version', takes {command * 1e3:.0f} ms;"
            f" the version is read once a command; {len(sys.path)} sys.path entries; importlib.metadata imported by"
            f" 'import romanasn.cli' anyway: {check.stdout.strip()}), best of {count} x {calls} calls"] + [
        f"  {name:28} {seconds / calls * 1e3:6.3f} ms a call  {seconds / best['importlib.metadata.version']:5.2f} x"
        f" importlib.metadata's time" for name, seconds in best.items()]


def templating(count: int) -> list[str]:
    import jinja2

    from romanasn_newpack.skeleton import _walk, pack_names, render, templates

    names = pack_names("my-survey")
    values = {"short": names.short, "dist": names.dist, "package": names.package, "prefix": names.prefix,
              "requirement": "romanasn>=0.1"}
    texts = [entry.read_text("utf-8") for _, entry in _walk(templates())]
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    if sorted(environment.from_string(t).render(values) for t in texts) != sorted(render("my-survey").values()):
        raise SystemExit("Jinja2 renders the pack's templates otherwise")
    imports = rounds({"jinja2": lambda: subprocess.run([sys.executable, "-c", "import romanasn_newpack, jinja2"],
                                                       check=True),
                      "(romanasn_newpack)": lambda: subprocess.run([sys.executable, "-c", "import romanasn_newpack"],
                                                                   check=True)}, count + 2)
    best = rounds({"newpack.render": lambda: render("my-survey"),
                   "jinja2": lambda: [environment.from_string(t).render(values) for t in texts]}, count)
    imported = imports["jinja2"] - imports["(romanasn_newpack)"]
    return [f"new-pack's {len(texts)} templates, rendered once (as a new-pack does); best of {count}",
            f"  newpack.render   {best['newpack.render'] * 1e3:7.2f} ms",
            f"  jinja2           {best['jinja2'] * 1e3:7.2f} ms, and {imported * 1e3:.0f} ms to import"
            " beside romanasn_newpack"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress_bar(updates: int) -> None:
    from romanasn.progress import Progress

    bar = Progress(updates, _Terminal(), enabled=True)
    for _ in range(updates):
        bar.update()
    bar.close()


def _tqdm(updates: int) -> None:
    from tqdm import tqdm

    with tqdm(total=updates, file=_Terminal(), desc="reading headers", unit="files") as bar:
        for _ in range(updates):
            bar.update()


def _rich(updates: int) -> None:
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(file=_Terminal(), force_terminal=True)) as bar:
        task = bar.add_task("reading headers", total=updates)
        for _ in range(updates):
            bar.update(task, advance=1)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def progress(count: int) -> list[str]:
    bars = {"romanasn.progress": ("romanasn.progress", _progress_bar), "tqdm": ("tqdm", _tqdm),
            "rich.progress": ("rich.progress", _rich)}
    missing = [name for name, (module, _) in bars.items() if not _installed(module)]
    bars = {name: bar for name, bar in bars.items() if name not in missing}
    imports = rounds({name: (lambda m=module: subprocess.run([sys.executable, "-c", f"import romanasn, {m}"],
                                                             check=True))
                      for name, (module, _) in bars.items()}
                     | {"(import romanasn)": lambda: subprocess.run([sys.executable, "-c", "import romanasn"],
                                                                   check=True)},
                     count + 2)
    updates = 100_000
    best = rounds({name: (lambda b=bar: b(updates)) for name, (_, bar) in bars.items()}, count)
    floor = imports.pop("(import romanasn)")
    lines = [f"Progress bars: import beside romanasn in a fresh interpreter (less 'import romanasn' alone, "
             f"{floor * 1e3:.0f} ms), {updates:,} updates drawn to a terminal-like stream; best of {count}"
             + (f"; not installed: {', '.join(missing)}" if missing else "")]
    for name in bars:
        lines.append(f"  {name:18} import {(imports[name] - floor) * 1e3:6.1f} ms   "
                     f"{best[name] / updates * 1e6:6.2f} us an update")
    return lines


def associations(pool: Path, out: Path) -> list[dict]:
    """The associations ``romanasn generate`` makes of ``pool`` into ``out``, as mappings."""
    subprocess.run([sys.executable, "-m", "romanasn", "generate", str(pool), "-o", str(out)], check=True,
                   capture_output=True)
    return [orjson.loads(path.read_bytes()) for path in sorted(out.glob("*_asn.json"))]


def encoding(found: list[dict], count: int) -> list[str]:
    from romanasn.encoder import encode_json

    if any(encode_json(a) != json.dumps(a, indent=4) for a in found):
        raise SystemExit("encode_json and json.dumps(indent=4) disagree")
    best = rounds({"encoder.encode_json": lambda: [encode_json(a) for a in found],
                   "json.dumps(indent=4)": lambda: [json.dumps(a, indent=4) for a in found],
                   "orjson (indent 2)": lambda: [orjson.dumps(a, option=orjson.OPT_INDENT_2) for a in found]}, count)
    floor = best["encoder.encode_json"]
    lines = [f"JSON of {len(found):,} association files (mean {sum(map(len, map(json.dumps, found))) // len(found):,}"
             f" bytes), best of {count}"]
    for name, seconds in best.items():
        lines.append(f"  {name:22} {seconds / len(found) * 1e6:7.1f} us a file  {seconds / floor:5.2f} x encode_json's")
    return lines


def footprints(found: list[dict], pool: Path) -> tuple[np.ndarray, np.ndarray]:
    """The RA, Dec vertices of each Level 3 association's member polygons, one association after the other,
    and where each one's start."""
    from romanasn.naming import strip_level
    from romanasn.pool import read_pool
    from romanasn_report.sky import parse_s_regions

    table = read_pool(pool)
    vertices, counts = parse_s_regions(pa.array([str(s) for s in table["s_region"]], pa.string()))
    first = np.concatenate(([0], np.cumsum(counts)))
    row = {strip_level(str(name)): k for k, name in enumerate(table["filename"])}
    groups = []
    for a in found:
        members = [m["expname"] for p in a["products"] for m in p["members"] if m.get("exptype") == "science"]
        rows = [row[strip_level(m)] for m in members if strip_level(m) in row]
        group = np.concatenate([vertices[first[k]:first[k + 1]] for k in rows]) if len(rows) > 1 else []
        if len(group) >= 3:
            groups.append(group)
    starts = np.concatenate(([0], np.cumsum([len(g) for g in groups])))
    return np.concatenate(groups), starts


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def projection(points: np.ndarray, count: int) -> list[str]:
    from astropy.modeling import models

    from romanasn_report.sky import Projection, _radec, _unit

    project = Projection(_unit(points).sum(axis=0))
    model = models.RotateCelestial2Native(*_radec(project.centre), 180) | models.Sky2Pix_ZenithalEquidistant()
    apart = np.abs(project(points) - np.stack(model(points[:, 0], points[:, 1]), axis=-1)).max()
    best = rounds({"report.Projection": lambda: project(points),
                   "astropy.modeling": lambda: model(points[:, 0], points[:, 1])}, count)
    return [f"The sky view's projection of {len(points):,} vertices (the two {apart:.0e} deg apart at most),"
            f" best of {count}"] + [
        f"  {name:18} {seconds * 1e3:8.1f} ms  {seconds / best['report.Projection']:5.2f} x report.Projection's"
        for name, seconds in best.items()]


def hull_sky(found: list[dict], pool: Path, count: int) -> list[str]:
    from scipy.spatial import ConvexHull

    from romanasn_report.sky import hulls

    points, starts = footprints(found, pool)
    spans = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
    ours, theirs = hulls(points, starts), [points[a:b][ConvexHull(points[a:b]).vertices] for a, b in spans]
    differ = sum(abs(_area(x) - _area(y)) > 1e-9 * _area(y) for x, y in zip(ours, theirs))
    best = rounds({"report.hulls": lambda: hulls(points, starts),
                   "scipy ConvexHull": lambda: [ConvexHull(points[a:b]).vertices for a, b in spans]}, count)
    sizes = np.diff(starts)
    lines = [f"Footprint hulls of {len(spans):,} Level 3 associations ({len(points):,} vertices, up to "
             f"{sizes.max():,} in one; {differ} hulls of another area), best of {count}"]
    for name, seconds in best.items():
        lines.append(f"  {name:18} {seconds * 1e3:8.1f} ms  {seconds / best['report.hulls']:5.2f} x report.hulls'")
    return projection(points, count) + lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="L2 files to make (once) and read (default 300)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "romanasn-bench-make-pool",
                        help="folder of the files (made once, reused; the same as bench_make_pool.py's)")
    parser.add_argument("--pool", type=Path, default=Path(__file__).parents[1] / "examples" / "pool.ecsv",
                        help="pool whose associations are encoded and their footprints hulled (default the example)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each contender's best counts")
    args = parser.parse_args(argv)
    files = ensure_files(args.dir, args.files, max(1, min(2, os.cpu_count() or 1)))
    warm(files)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    for section in (headers(files, args.rounds), version(args.rounds), templating(args.rounds),
                    progress(args.rounds)):
        print("\n".join(section), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        found = associations(args.pool, Path(scratch) / "out")
    print(f"{len(found):,} associations of {args.pool.name}")
    for section in (encoding(found, args.rounds), hull_sky(found, args.pool, args.rounds)):
        print("\n".join(section), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
