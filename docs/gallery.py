"""Draw the gallery's pictures into docs/_static/gallery/, with romanasn itself.

Usage: python docs/gallery.py [--out DIR]

1. ``associations-per-rule.png``: how many associations each rule of the
   shipped packs makes from ``examples/pool.ecsv``, coloured by level (a run
   of ``romanasn.generate``).
2. ``skycell-footprints.png``: the skycell associations of the example pool,
   drawn by ``romanasn plot`` of the romanasn-skycell pack (skipped, with a
   note, while that command is not installed).
3. ``report-*.png``: ``romanasn report`` of the example run in headless
   Chromium, taken by ``plugins/romanasn-report/tests/test_report_browser.py`` when
   ``ROMANASN_GALLERY`` names this folder (``make docs`` runs those tests so
   first); without Chromium they are left as they are, with a note.
4. ``benchmark-scaling.png``: time against pool size, romanasn and romancal
   1.0.3, from the benchmark results committed in
   ``benchmarks/results/mission.json`` (see :func:`read_benchmark` for what it
   holds). This one is never skipped: when the file is missing or malformed
   the script stops with an error naming it, and ``make docs`` fails.

``manifest.json`` beside the pictures says which were drawn, with their
captions, and why the others were not; the gallery page is written from it."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import romanasn_packs as packs  # noqa: E402

OUT = HERE / "_static" / "gallery"
#: The benchmark results the scaling plot is drawn from (``make bench`` writes them).
RESULTS = packs.REPO / "benchmarks" / "results" / "mission.json"
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


# -- 3. the report in a browser -------------------------------------------------------------

#: The report's screenshots: file, title, what it shows.
REPORT_SHOTS = (
    ("report-summary.png", "romanasn report: the summary",
     "The page romanasn report writes for the example run (make run's output), opened from disk in headless "
     "Chromium: inputs, packs and versions, counts per rule, type and program, and what was left out."),
    ("report-member-filter.png", "romanasn report: every association of one file",
     "The association table filtered by a member file name: every association the exposure is in, at every level."),
    ("report-association.png", "romanasn report: one association",
     "An association opened: its facts, what changed since the older run, and its members, each with the "
     "associations it is in and explain's verdicts."),
    ("report-verdicts.png", "romanasn report: explain's verdicts",
     "Each rule's verdict on one member (romanasn explain), read from the pool given with --pool."),
    ("report-diff.png", "romanasn report --against: what changed",
     "The diff view against the run of a day before (one detector file more, one less): added, removed and "
     "changed associations, as romanasn diff finds them."),
    ("report-sky.png", "romanasn report: the sky",
     "The Level 3 footprints (hulls of their members' s_region) near the north celestial pole and, with "
     "--skymap, the skycells they touch; drag to pan, wheel to zoom, click to open an association."),
    ("report-narrow.png", "romanasn report in a narrow window",
     "The same page in a 390-pixel-wide window: the controls stack, every one labelled."),
)


def report_screenshots(out: Path) -> list[dict[str, Any]]:
    """The report's screenshots found in ``out`` (the browser tests take them)."""
    entries = []
    for file, title, about in REPORT_SHOTS:
        entry = {"file": file, "title": title, "about": about}
        if (out / file).exists():
            entries.append({**entry, "drawn": True, "caption": f"plugins/romanasn-report/tests/test_report_browser.py,"
                                                                 f" in headless Chromium: {title}."})
        else:
            entries.append({**entry, "drawn": False, "note": "not taken: run make docs where Chromium is installed "
                                                             "(apt-get install chromium)."})
    return entries


# -- 4. benchmark scaling -------------------------------------------------------------------


class GalleryError(Exception):
    """The input of a picture that must be drawn is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Benchmark:
    """What ``benchmarks/results/mission.json`` says, as the scaling plot needs it.

    ``series`` maps each tool, with its version when the file gives one
    (``romancal 1.0.3``), to its ``(rows, seconds)`` runs by rows; ``reference``
    is the tool the others are compared with (the file's ``tool``).
    """

    path: Path
    series: dict[str, list[tuple[int, float]]]
    reference: str
    machine: dict[str, Any]
    date: str | None = None
    packs: tuple[str, ...] = ()

    def ratios(self) -> dict[str, list[tuple[int, float]]]:
        """For each other tool, ``(rows, its seconds / the reference's)`` at the sizes both ran."""
        mine = dict(self.series[self.reference])
        return {tool: [(rows, seconds / mine[rows]) for rows, seconds in runs if rows in mine]
                for tool, runs in self.series.items() if tool != self.reference}


def _shown(path: Path) -> str:
    """A path as messages and captions show it: from the repository's root when it is inside."""
    try:
        return Path(path).resolve().relative_to(packs.REPO).as_posix()
    except ValueError:
        return str(path)


def _positive(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def read_benchmark(path: Path = RESULTS) -> Benchmark:
    """The runs of a results file written by ``make bench``; a :class:`GalleryError` naming it if unusable.

    The file is a JSON object with ``tool`` (the tool measured, ``romanasn``),
    ``results``, a list of runs ``{"tool", "version" (optional), "rows",
    "seconds"}``, and ``machine`` (cores, Python, platform); ``date`` and
    ``packs`` are shown when present. Of two runs of one tool at one size the
    faster is kept.
    """
    where = _shown(path)
    shape = ('expected a JSON object with "tool", "machine" and "results", a list of '
             '{"tool", "version", "rows", "seconds"} runs, as benchmarks/bench_mission.py --json writes')
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise GalleryError(f"{where} does not exist: the benchmark's scaling plot is drawn from it "
                           "(make bench writes it)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GalleryError(f"{where} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or not data["results"]:
        raise GalleryError(f"{where}: {shape}")
    reference = data.get("tool")
    if not isinstance(reference, str) or not reference:
        raise GalleryError(f'{where}: "tool" must name the tool measured (romanasn); {shape}')
    best: dict[str, dict[int, float]] = {}
    for i, run in enumerate(data["results"]):
        at = f"{where}: results[{i}]"
        if not isinstance(run, dict):
            raise GalleryError(f"{at} is not an object; {shape}")
        tool, version, rows, seconds = run.get("tool"), run.get("version"), run.get("rows"), run.get("seconds")
        if not isinstance(tool, str) or not tool:
            raise GalleryError(f'{at}: "tool" must be a non-empty string, not {tool!r}')
        if version is not None and not isinstance(version, (str, int, float)):
            raise GalleryError(f'{at}: "version" must be a string, not {version!r}')
        if not _positive(rows) or int(rows) != rows:
            raise GalleryError(f'{at}: "rows" must be a positive whole number, not {rows!r}')
        if not _positive(seconds):
            raise GalleryError(f'{at}: "seconds" must be a positive number, not {seconds!r}')
        label = f"{tool} {version}" if version not in (None, "") else tool
        runs = best.setdefault(label, {})
        runs[int(rows)] = min(float(seconds), runs.get(int(rows), math.inf))
    if reference not in best:
        raise GalleryError(f'{where}: no run of "{reference}", the tool the file says it measured')
    if len(best) < 2:
        raise GalleryError(f"{where}: only {reference} was measured; the plot compares it with romancal "
                           "1.0.3 (run make bench without BENCH_SKIP_ROMANCAL)")
    machine = data.get("machine")
    if not isinstance(machine, dict) or not machine:
        raise GalleryError(f'{where}: no "machine" object: the caption says what the runs were measured on')
    listed = data.get("packs")
    return Benchmark(path=Path(path), series={tool: sorted(runs.items()) for tool, runs in best.items()},
                     reference=reference, machine=machine,
                     date=data.get("date") if isinstance(data.get("date"), str) else None,
                     packs=tuple(str(p) for p in listed) if isinstance(listed, list) else ())


def _times(value: float) -> str:
    """A ratio as the plot writes it: ``3,258× as long``, ``9.8× as long``."""
    return (f"{value:,.0f}" if value >= 100 else f"{value:.2g}") + "× as long"


def plot_benchmark(bench: Benchmark) -> Any:
    """The scaling plot of ``bench``: a line per tool, log-log, the ratios written at the sizes both ran."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    order = [bench.reference] + sorted(t for t in bench.series if t != bench.reference)
    markers = "osD^v"
    for i, tool in enumerate(order):
        rows, seconds = zip(*bench.series[tool])
        ax.plot(rows, seconds, marker=markers[i % len(markers)], label=tool)
    everything = [r for runs in bench.series.values() for r, _ in runs]
    low, high = min(everything), max(everything)
    r0, s0 = bench.series[bench.reference][0]
    ax.plot([low, high], [s0 * low / r0, s0 * high / r0], "--", color="#888888", linewidth=1,
            label="linear (time ∝ rows)")
    first_other = bench.series[order[1]]
    r1, s1 = first_other[0]
    end = min(high, first_other[-1][0] * 10)
    if end > r1:
        ax.plot([r1, end], [s1, s1 * (end / r1) ** 2], ":", color="#888888", linewidth=1,
                label="quadratic (time ∝ rows²)")
    mine = dict(bench.series[bench.reference])
    for tool, ratios in bench.ratios().items():
        theirs = dict(bench.series[tool])
        for rows, ratio in ratios:
            ax.plot([rows, rows], [mine[rows], theirs[rows]], color="#bbbbbb", linewidth=0.8, zorder=0)
            middle = math.sqrt(mine[rows] * theirs[rows])
            ax.annotate(_times(ratio), (rows, middle), xytext=(5, 0), textcoords="offset points",
                        va="center", fontsize=9, color="#444444")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool rows")
    ax.set_ylabel("CPU seconds making the associations")
    ax.set_title("Association generation time against pool size", fontsize=10)
    ax.legend(frameon=False, loc="upper left")
    ax.grid(True, which="major", color="#eeeeee")
    fig.tight_layout()
    return fig


def _caption(bench: Benchmark) -> str:
    """What was measured, the ratios, and on what machine, from the file."""
    others = [t for t in bench.series if t != bench.reference]
    made_by = bench.reference + (f" (with {', '.join(bench.packs)})" if bench.packs else "")
    text = (f"CPU seconds spent making the associations of a pool in memory, reading the pool and writing "
            f"files not counted: {made_by} against {' and '.join(others)}.")
    for tool, ratios in bench.ratios().items():
        if ratios:
            at = "; ".join(f"{ratio:,.0f} times as long at {rows:,} rows" for rows, ratio in ratios)
            text += f" {tool} takes {at}."
    machine = bench.machine
    parts = [f"{machine['cores']} cores" if machine.get("cores") else "",
             str(machine.get("platform") or ""),
             f"Python {machine['python']}" if machine.get("python") else ""]
    machine_text = ", ".join(p for p in parts if p) or "not described"
    when = f" on {bench.date[:10]}" if bench.date else ""
    return f"{text} Measured{when}; machine: {machine_text}. From {_shown(bench.path)}."


def benchmark_scaling(out: Path, results: Path | None = None) -> dict[str, Any]:
    """Seconds against pool rows, log-log, for romanasn and romancal 1.0.3, from ``results`` (mission.json).

    Raises :class:`GalleryError`, naming the file, when it is missing or malformed: the
    gallery must show this picture.
    """
    entry = {"file": "benchmark-scaling.png", "title": "Scaling against romancal 1.0.3",
             "about": "What make bench measures (benchmarks/bench_mission.py): the CPU time of making "
                      "every association of a pool, without writing them. romanasn runs with the imaging, "
                      "spectral and calibration packs; romancal 1.0.3's rule-based generator runs in a "
                      "virtual environment of its own. At the sizes both ran (300 and 1,000 rows) the two "
                      "read the same pools, in romancal's |-separated form; the larger, mission-like pools "
                      "are romanasn's alone. Both axes "
                      "are logarithmic: a line parallel to the dashed one grows linearly with the pool, "
                      "one parallel to the dotted one with its square; the grey bars give how many times "
                      "as long romancal takes."}
    bench = read_benchmark(RESULTS if results is None else results)
    fig = plot_benchmark(bench)
    fig.savefig(out / entry["file"], metadata=PNG_METADATA)
    _pyplot().close(fig)
    return {**entry, "drawn": True, "caption": _caption(bench)}


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Only errors from the logger ``name`` while the block runs (the runs' warnings are expected)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Draw every picture into ``--out`` and write the manifest; print what was skipped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the pictures (default: {OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:  # first, so that a missing or malformed results file stops the script at once
        scaling = benchmark_scaling(args.out)
    except GalleryError as exc:
        print(f"gallery: error: {exc}", file=sys.stderr)
        return 1
    with _quiet("romanasn"):
        entries = [associations_per_rule(args.out), skycell_footprints(args.out), *report_screenshots(args.out),
                   scaling]
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
