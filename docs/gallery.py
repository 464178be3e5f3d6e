"""Draw the gallery's pictures into docs/_static/gallery/, with romanasn itself.

Usage: python docs/gallery.py [--out DIR]

1. ``associations-per-rule.png``: how many associations each rule of the
   shipped packs makes from ``examples/pool.ecsv``, coloured by level (a run
   of ``romanasn.generate``).
2. ``skycell-footprints.png``: the skycell associations of the example pool,
   drawn by ``romanasn plot`` of the romanasn-skycell pack (skipped, with a
   note, while that command is not installed).
3. ``benchmark-scaling.png``: time against pool size, romanasn and romancal
   1.0.3, from the benchmark results committed under ``benchmarks/results/``
   (skipped, with a note, while there are none).

``manifest.json`` beside the pictures says which were drawn, and why the
others were not; the gallery page is written from it. Benchmark results are
JSON files holding either a list of runs, ``[{"rows": N, "seconds": S, "tool":
"romanasn"}, ...]`` (``tool`` defaults to the file's name; ``rows_per_second``
may stand for ``seconds``), or a mapping ``{"tool": ..., "results": [...]}``, or
a mapping of tool names to such lists. Runs whose ``seconds`` is null (not
finished) are left out of the lines and counted in the caption.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import romanasn_packs as packs  # noqa: E402

OUT = HERE / "_static" / "gallery"
RESULTS = packs.REPO / "benchmarks" / "results"
LEVEL_COLOURS = {1: "#9e9e9e", 2: "#4c72b0", 3: "#dd8452"}
PNG_METADATA = {"Software": None}  # no version stamp: the same picture gives the same bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "romanasn"})
    return plt


# -- 1. associations per rule and level -------------------------------------------------------


def associations_per_rule(out: Path) -> dict[str, Any]:
    """A horizontal bar per rule of every shipped pack, grouped by pack, coloured by level."""
    entry = {"file": "associations-per-rule.png", "title": "Associations per rule and level",
             "about": "Each bar is one rule of a shipped pack; its length is the number of associations the "
                      "rule makes from the example pool when every shipped pack is installed. Level 2 rules "
                      "make one association per exposure file or exposure; Level 3 rules combine many."}
    usable = packs.importable_packs()
    if not usable:
        return {**entry, "drawn": False, "note": "no shipped pack imports in this environment."}
    result = packs.run_example(usable)
    counts = dict(result.counts)
    top_down = sorted(result.rules, key=lambda e: (e.plugin.name, e.rule.level, e.name))
    bottom_up = list(reversed(top_down))
    labels = [f"{e.name}  ({e.rule.asn_type})" for e in bottom_up]
    values = [counts.get(e.name, 0) for e in bottom_up]
    colours = [LEVEL_COLOURS.get(e.rule.level, "#333333") for e in bottom_up]
    pack_of = [e.plugin.name.removeprefix("romanasn-") for e in bottom_up]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(labels) + 1.4), dpi=110)
    bars = ax.barh(range(len(labels)), values, color=colours)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(values + [1]) * 3)
    for bar, value in zip(bars, values):
        ax.text(bar.get_width() * 1.08, bar.get_y() + bar.get_height() / 2, str(value), va="center", fontsize=8)
    # the pack of each run of bars, named at the right; a rule between packs
    beside = ax.get_yaxis_transform()  # x in axes fractions, y in bars
    start = 0
    for end in range(1, len(pack_of) + 1):
        if end < len(pack_of) and pack_of[end] == pack_of[start]:
            continue
        if end < len(pack_of):
            ax.axhline(end - 0.5, color="#cccccc", linewidth=0.8)
        ax.text(1.01, (start + end - 1) / 2, pack_of[start], transform=beside, va="center",
                fontsize=9, color="#444444")
        start = end
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for level, c in LEVEL_COLOURS.items() if level > 1]
    ax.legend(handles, ["Level 2", "Level 3"], loc="lower right", frameon=False)
    ax.set_xlabel("associations (log scale)")
    ax.set_title(f"romanasn generate examples/pool.ecsv: {len(result.associations)} associations "
                 f"from {result.pool_rows} rows", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / entry["file"], metadata=PNG_METADATA)
    plt.close(fig)
    packs_used = ", ".join(p.dist for p in usable)
    return {**entry, "drawn": True,
            "caption": f"Associations per rule on examples/pool.ecsv, with {packs_used}."}


# -- 2. skycell footprints ----------------------------------------------------------------------


def skycell_footprints(out: Path) -> dict[str, Any]:
    """``romanasn plot`` of the skycell pack, on the largest skycell association of the example pool."""
    entry = {"file": "skycell-footprints.png", "title": "Skycell association footprints",
             "about": "One skycell association of the example pool: the skycell, and the footprints of "
                      "the exposures whose Level 2 files are its members. The pool's exposures point near "
                      "the north celestial pole, across RA 0; the skycells come from the example sky map "
                      "the skycell rules were run with."}
    import tempfile

    from romanasn import asnfile
    from romanasn.cli import build_parser

    usable = packs.importable_packs()
    pm = packs.manager(usable)
    if not any(f.item.name == "plot" for f in pm.commands()):
        return {**entry, "drawn": False,
                "note": "the command romanasn plot is not installed (it comes with the romanasn-skycell pack)."}
    result = packs.run_example(usable)
    skycell = [a for a in result.associations if isinstance(a.skycell_wcs_info, dict)]
    if not skycell:
        return {**entry, "drawn": False, "note": "the example pool gave no skycell association (is a sky map "
                                                 "found under plugins/*/tests/data/?)."}
    chosen = max(skycell, key=lambda a: (len(a.members), a.product_name))
    target = out / entry["file"]
    with tempfile.TemporaryDirectory() as folder:
        asn_path = asnfile.write_asn(chosen, Path(folder) / f"{chosen.product_name}_asn.json")
        argv = ["plot", str(asn_path), "--pool", str(packs.EXAMPLE_POOL), "-o", str(target)]
        said = io.StringIO()
        try:
            args = build_parser(pm).parse_args(argv)
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                status = args.run(args, pm)
        except Exception as exc:  # reported in the manifest: the gallery page says what went wrong
            return {**entry, "drawn": False, "note": f"romanasn plot failed: {type(exc).__name__}: {exc}"}
    if status or not target.exists():
        return {**entry, "drawn": False,
                "note": f"romanasn plot exited with status {status}: {said.getvalue().strip()[:300]}"}
    return {**entry, "drawn": True,
            "caption": f"romanasn plot {chosen.product_name}_asn.json --pool examples/pool.ecsv: "
                       f"{len(chosen.members)} members on skycell {chosen.skycell_wcs_info.get('name', '')}."}


# -- 3. benchmark scaling -------------------------------------------------------------------


def _shown(path: Path) -> str:
    """A path as the captions show it: from the repository's root when it is inside."""
    try:
        return path.relative_to(packs.REPO).as_posix()
    except ValueError:
        return str(path)


def _series(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The runs of one results file, by tool."""
    data = json.loads(path.read_text("utf-8"))
    found: dict[str, list[dict[str, Any]]] = {}

    def add(tool: str, runs: Any) -> None:
        for run in runs if isinstance(runs, list) else []:
            if isinstance(run, dict) and "rows" in run:
                name = str(run.get("tool") or run.get("generator") or tool)
                version = run.get("version")
                if version and str(version) not in name:
                    name = f"{name} {version}"
                found.setdefault(name, []).append(run)

    if isinstance(data, list):
        add(path.stem, data)
    elif isinstance(data, dict):
        runs = data.get("results") or data.get("runs")
        if runs is not None:
            tool = str(data.get("tool") or data.get("generator") or path.stem)
            if data.get("version") and str(data["version"]) not in tool:
                tool = f"{tool} {data['version']}"
            add(tool, runs)
        else:
            for tool, value in data.items():
                add(str(tool), value)
    return found


def _seconds(run: dict[str, Any]) -> float | None:
    if isinstance(run.get("seconds"), (int, float)):
        return float(run["seconds"])
    if isinstance(run.get("rows_per_second"), (int, float)) and run["rows_per_second"]:
        return float(run["rows"]) / float(run["rows_per_second"])
    return None


def benchmark_scaling(out: Path) -> dict[str, Any]:
    """Seconds against pool rows, log-log, one line per tool, from benchmarks/results/*.json."""
    entry = {"file": "benchmark-scaling.png", "title": "Scaling against romancal 1.0.3",
             "about": "Time to make the associations of a pool against the pool's size, both axes "
                      "logarithmic. A line parallel to the dashed one grows linearly with the pool; "
                      "the dotted one grows with its square."}
    files = sorted(RESULTS.glob("*.json")) if RESULTS.is_dir() else []
    series: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        try:
            for tool, runs in _series(path).items():
                series.setdefault(tool, []).extend(runs)
        except (ValueError, OSError) as exc:
            return {**entry, "drawn": False, "note": f"{_shown(path)} cannot be read: {exc}"}
    points = {tool: sorted((float(r["rows"]), _seconds(r)) for r in runs if _seconds(r))
              for tool, runs in series.items()}
    points = {tool: p for tool, p in points.items() if p}
    if not points:
        where = "benchmarks/results/"
        return {**entry, "drawn": False,
                "note": f"no benchmark results in {where} yet (JSON files of rows and seconds per tool)."}
    unfinished = sum(1 for runs in series.values() for r in runs if not _seconds(r))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    order = sorted(points, key=lambda t: (not t.startswith("romanasn"), t))
    markers = "osD^v"
    for i, tool in enumerate(order):
        rows, seconds = zip(*points[tool])
        ax.plot(rows, seconds, marker=markers[i % len(markers)], label=tool)
    low = min(r for p in points.values() for r, _ in p)
    high = max(r for p in points.values() for r, _ in p)
    first_tool = order[0]
    r0, s0 = points[first_tool][0]
    ax.plot([low, high], [s0 * low / r0, s0 * high / r0], "--", color="#888888", linewidth=1, label="linear")
    if len(order) > 1:  # the square law through the second tool's first run, a decade past its last
        r1, s1 = points[order[1]][0]
        end = min(high, points[order[1]][-1][0] * 10)
        ax.plot([r1, end], [s1, s1 * (end / r1) ** 2], ":", color="#888888", linewidth=1, label="quadratic")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool rows")
    ax.set_ylabel("seconds")
    ax.set_title("Association generation time against pool size", fontsize=10)
    ax.legend(frameon=False)
    ax.grid(True, which="major", color="#eeeeee")
    fig.tight_layout()
    fig.savefig(out / entry["file"], metadata=PNG_METADATA)
    plt.close(fig)
    names = ", ".join(_shown(p) for p in files)
    caption = f"From {names}."
    if unfinished:
        caption += f" {unfinished} run{'s' if unfinished != 1 else ''} that did not finish {'are' if unfinished != 1 else 'is'} not drawn."
    return {**entry, "drawn": True, "caption": caption}


def main(argv: list[str] | None = None) -> int:
    """Draw every picture into ``--out`` and write the manifest; print what was skipped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the pictures (default: {OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("romanasn").setLevel(logging.ERROR)
    entries = [associations_per_rule(args.out), skycell_footprints(args.out), benchmark_scaling(args.out)]
    for entry in entries:
        if not entry["drawn"]:
            stale = args.out / entry["file"]
            stale.unlink(missing_ok=True)
            print(f"gallery: skipped {entry['file']}: {entry['note']}")
        else:
            print(f"gallery: drew {entry['file']}")
    (args.out / "manifest.json").write_text(json.dumps(entries, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
