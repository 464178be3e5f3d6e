"""A run you can look at: ``romanasn report DIR``, a static web page of a folder of associations.

The page (``report.html`` by default, in DIR) opens from disk in a browser,
with no server and no network: its script and style are inlined from
``report_assets/``, and its data sit beside it in ``<page>_data/`` as small
JavaScript files (``<script>`` tags load them, so ``file://`` works), each
loaded only when the page needs it:

- ``rows-N.js``: the association table in chunks (product, rule, type,
  program, members, file, and where its JSON is), ordered by rule then file;
- ``json-N.js``: the association files themselves, for the detail view, in
  the order they were read (or, with ``generate --report``, written: a
  :class:`Collector` gathers the page's data as the run hands each file to
  the folder, so that no file is read back);
- ``names-N.js``: every member file name, sorted, with the associations
  holding it (the member filter);
- ``sky.js``: with ``--pool``, the footprint of each Level 3 association (the
  hull of its members' ``s_region``) and the outlines packs add through the
  ``romanasn_report_sky`` hook (the skycells, with ``--skymap``);
- ``verdicts-N.js``: with ``--pool``, ``romanasn explain``'s verdicts on
  every pool row, in pool order, and ``explain-N.js``: the names that find
  them (pool file names, and members' names of the same exposures), sorted;
- ``diff.js``: with ``--against OLD_DIR``, what ``romanasn diff OLD_DIR DIR``
  finds: added, removed and changed associations.

The summary (inputs, packs, counts, vetoes, orphans, failed rules) comes from
the run report ``romanasn-run.json`` and is inlined in the page. The page
and its data folder replace the old ones only when both are complete.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from attrs import define, field

from romanasn import asnfile, diff
from romanasn._version import __version__
from romanasn.errors import AsnError, UsageError
from romanasn.naming import strip_level
from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig

log = logging.getLogger("romanasn.report")

RUN_REPORT = "romanasn-run.json"  # written by romanasn.output beside the associations
DEFAULT_PAGE = "report.html"
ASSETS = Path(__file__).with_name("report_assets")

#: Associations per chunk of the table, of the association files, and member names per chunk.
ROWS_CHUNK, JSON_CHUNK, NAMES_CHUNK = 20_000, 2_000, 50_000
#: Processes reading the association files (at most one per core).
READERS = 2
#: Explained pool rows per data file of verdicts.
EXPLAIN_CHUNK = 200
#: Orphans listed in the page (all are counted; romanasn-run.json lists every one).
ORPHANS_SHOWN = 5_000


# -- reading the run -------------------------------------------------------------------


def read_run_report(folder: Path) -> dict[str, Any]:
    """The run report of ``folder`` (``{}`` when there is none)."""
    path = folder / RUN_REPORT
    if not path.exists():
        return {}
    try:
        report = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AsnError(f"{path}: not a run report: {exc}") from None
    if not isinstance(report, dict):
        raise AsnError(f"{path}: not a run report: a JSON object was expected")
    return report


def association_files(folder: Path, report: Mapping[str, Any]) -> tuple[list[str], list[int | None]]:
    """The names of the association files (as ``romanasn diff`` finds them), by rule then name, and
    the size the run report's manifest records of each (None when it does not know the file).

    The rule of each file is the manifest's, when there is one.
    """
    names = _listed(folder)
    listed = (report.get("manifest") or {}).get("files") or {}
    by_rule: dict[str, list[str]] = {}
    for name in names:
        entry = listed.get(name)
        by_rule.setdefault(str(entry[1]) if isinstance(entry, list) and len(entry) > 3 else "", []).append(name)
    ordered = [name for rule in sorted(by_rule) for name in sorted(by_rule[rule])]
    sizes = [entry[3] if isinstance(entry := listed.get(name), list) and len(entry) > 3
             and isinstance(entry[3], int) else None for name in ordered]
    return ordered, sizes


def _listed(folder: Path) -> list[str]:
    """The association files of ``folder``, as ``romanasn diff`` finds them (unordered)."""
    with os.scandir(folder) as entries:
        found = [(e.name, e.is_file()) for e in entries]
    if any(name.startswith(diff.STAGING) for name, _ in found):
        diff.association_files(folder)  # warns that a run did not finish
    return [name for name, is_file in found if is_file and not name.startswith(".") and name != RUN_REPORT
            and os.path.splitext(name)[1].lower() in diff.SUFFIXES]


def load_association(folder: str, name: str, folder_fd: int, size: int | None = None) -> tuple[dict[str, Any], bytes]:
    """An association file's mapping and its JSON text; an :class:`AsnError` names a bad file.

    ``folder_fd`` is the folder opened (``os.open``): a file is opened from it, read and closed
    with three system calls (one read when its ``size`` is known), the cost that counts for a million files.
    """
    if not name.lower().endswith(".json"):
        data = dict(asnfile.load_asn_dict(os.path.join(folder, name)))
        return data, orjson.dumps(data, default=str)
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0), dir_fd=folder_fd)
    try:
        raw = os.read(fd, size + 1) if size is not None else b""
        if size is None or len(raw) > size:  # not the size the manifest says: read to the end
            pieces = [raw]
            while piece := os.read(fd, 1 << 20):
                pieces.append(piece)
            raw = b"".join(pieces)
    finally:
        os.close(fd)
    try:
        return orjson.loads(raw), raw
    except orjson.JSONDecodeError as exc:
        raise AsnError(f"{os.path.join(folder, name)}: not an association file: {exc}") from None


@define
class _Part:
    """The table columns of a part of the files, and their members' names one after the other."""

    product: list[str] = field(factory=list)
    rule: list[str] = field(factory=list)
    type: list[str] = field(factory=list)
    program: list[str] = field(factory=list)
    members: list[int] = field(factory=list)  # how many members each association has
    member_names: list[str] = field(factory=list)


def _read_part(folder: str, names: Sequence[str], sizes: Sequence[int | None], data_file: str, k: int) -> _Part:
    """Read a part of the files: write their JSON as ``data_file``, return their table columns."""
    part, texts = _Part(), []
    folder_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        for name, size in zip(names, sizes):
            data, raw = load_association(folder, name, folder_fd, size)
            texts.append(raw)
            _add_row(part, folder, name, data)
    finally:
        os.close(folder_fd)
    with open(data_file, "wb") as out:
        out.write(_script("json", k, b"[" + b",".join(texts) + b"]"))
    return part


def _add_row(part: _Part, folder: str, name: str, data: Mapping[str, Any]) -> None:
    """Add an association's product name(s), rule, type, program and member names to ``part``."""
    try:
        products = data["products"]
        members = [str(m["expname"]) for p in products for m in p["members"]]
        product = " + ".join(str(p.get("name", "")) for p in products)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AsnError(f"{os.path.join(folder, name)}: not an association file: no products with members "
                       f"({exc!r})") from None
    part.product.append(product)
    part.rule.append(str(data.get("asn_rule", "")))
    part.type.append(str(data.get("asn_type", "")))
    part.program.append(str(data.get("program", "")))
    part.members.append(len(members))
    part.member_names.extend(members)


class Collector:
    """A report's table gathered as ``generate --report`` writes the run's files: each file's bytes
    are parsed as they pass and written into the report's data in chunks, so that the report reads
    no association file back. Call it with each file's name and bytes; :meth:`close` when done."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.existed = self.folder.exists()
        self.table = _Table()
        self.texts: list[bytes] = []
        self.chunks = 0
        self.staging: Path | None = None

    def start(self) -> Path:
        """The staging folder of the page and its data (made on the first call)."""
        if self.staging is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{Path(DEFAULT_PAGE).stem}-", dir=self.folder))
            (self.staging / f"{Path(DEFAULT_PAGE).stem}_data").mkdir()
        return self.staging

    def __call__(self, name: str, data: bytes) -> None:
        self.start()
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise AsnError(f"{self.folder / name}: not an association file: {exc}") from None
        _add_row(self.table, str(self.folder), name, parsed)
        self.table.file.append(name)
        self.texts.append(data)
        if len(self.texts) == JSON_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the files gathered since the last chunk."""
        if self.texts:
            path = self.staging / f"{Path(DEFAULT_PAGE).stem}_data" / f"json-{self.chunks:04d}.js"
            path.write_bytes(_script("json", self.chunks, b"[" + b",".join(self.texts) + b"]"))
            self.chunks += 1
            self.texts = []

    def close(self) -> None:
        """Remove what was gathered and not used."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


    def discard(self) -> None:
        """:meth:`close`, after a failed run: and remove the folder when the run made it and it is empty."""
        self.close()
        if not self.existed:
            with contextlib.suppress(OSError):
                self.folder.rmdir()


def complete(collected: Collector | None) -> Collector | None:
    """``collected`` when it holds every association file of its folder, once each; else None (closed:
    the report then reads the folder, as for a run that kept older files or left a failed rule's out)."""
    if collected is None:
        return None
    files = collected.table.file
    if len(set(files)) == len(files) and sorted(files) == sorted(_listed(collected.folder)):
        return collected
    collected.close()
    return None


# -- the association table -------------------------------------------------------------------


class _Table(_Part):
    """The associations of the folder as columns, with their files' names."""

    def __init__(self) -> None:
        super().__init__()
        self.file: list[str] = []

    def extend(self, names: Sequence[str], part: _Part) -> None:
        """Add the rows of a part of the files (``_read_part``), in order."""
        for column in ("product", "rule", "type", "program", "members", "member_names"):
            getattr(self, column).extend(getattr(part, column))
        self.file.extend(names)

    def __len__(self) -> int:
        return len(self.product)

    def members_of(self, rows: Iterable[int]) -> Iterator[tuple[int, list[str]]]:
        """Each of ``rows`` (ascending) with its members' names."""
        starts = np.concatenate(([0], np.cumsum(self.members)))
        for row in rows:
            yield row, self.member_names[starts[row]:starts[row + 1]]

    def keys(self) -> list[str]:
        """The key ``romanasn diff`` gives each association: its product name, with the rule when shared."""
        counts = Counter(self.product)
        return [name if counts[name] == 1 else f"{name} [{rule}]" for name, rule in zip(self.product, self.rule)]

    def order(self) -> np.ndarray:
        """The rows by rule, then file name: the order of the page's table."""
        columns = pa.table({"rule": pa.array(self.rule, pa.string()), "file": pa.array(self.file, pa.string())})
        return pc.sort_indices(columns, sort_keys=[("rule", "ascending"), ("file", "ascending")]).to_numpy()

    def member_index(self, rank: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every member name, sorted; where each one's associations start in the rows; the rows
        (the associations holding each name, ascending, one after the other), each row ``rank[row]``."""
        if not self.member_names:
            return [], np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = rank[np.repeat(np.arange(len(self.members), dtype=np.int64), self.members)]
        pairs = pa.table({"name": pa.array(self.member_names, pa.string()), "row": rows})
        pairs = pairs.sort_by([("name", "ascending"), ("row", "ascending")])
        names, rows = pairs["name"].combine_chunks(), pairs["row"].to_numpy()
        new_name = np.concatenate(([True], pc.not_equal(names[1:], names[:-1]).to_numpy(zero_copy_only=False)))
        kept = new_name | np.concatenate(([True], rows[1:] != rows[:-1]))  # a name twice in one association
        firsts = np.flatnonzero(new_name[kept])
        distinct = names.filter(pa.array(kept)).take(pa.array(firsts)).to_pylist()
        return distinct, np.append(firsts, kept.sum()).astype(np.int64), rows[kept]


def _chunks(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def _interned(values: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct values, sorted, and each value's position among them."""
    distinct = sorted(set(values))
    position = {v: i for i, v in enumerate(distinct)}
    return distinct, [position[v] for v in values]


# -- the sky ---------------------------------------------------------------------------------


def parse_s_region(text: Any) -> np.ndarray | None:
    """The (V, 2) RA, Dec vertices of an ``s_region`` ``POLYGON [frame] ra dec ...``, or None."""
    parts = str(text).split() if isinstance(text, str) else []
    if len(parts) < 7 or parts[0].upper() != "POLYGON":
        return None
    numbers = parts[2:] if parts[1].isalpha() else parts[1:]
    try:
        values = np.array(numbers, dtype=float)
    except ValueError:
        return None
    if len(values) < 6 or len(values) % 2 or not np.isfinite(values).all():
        return None
    vertices = values.reshape(-1, 2)
    return vertices if np.abs(vertices[:, 1]).max() <= 90 else None


def _unit(radec: np.ndarray) -> np.ndarray:
    ra, dec = np.deg2rad(radec[..., 0]), np.deg2rad(radec[..., 1])
    return np.stack((np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)), axis=-1)


class Projection:
    """The azimuthal equidistant projection about a centre: (east, north) in degrees from it.

    True in distance and direction from the centre, defined over the whole
    sky but the point opposite the centre: a run near a pole or across RA 0
    is drawn as the sky shows it.
    """

    def __init__(self, centre: np.ndarray) -> None:
        self.centre = centre / np.linalg.norm(centre)
        ra = math.atan2(self.centre[1], self.centre[0])
        self.east = np.array([-math.sin(ra), math.cos(ra), 0.0])
        self.north = np.cross(self.centre, self.east)

    def __call__(self, radec: np.ndarray) -> np.ndarray:
        """The (..., 2) east and north offsets (deg) of (..., 2) RA, Dec points."""
        p = _unit(np.asarray(radec, dtype=float))
        x, y = p @ self.east, p @ self.north
        c = np.arccos(np.clip(p @ self.centre, -1.0, 1.0))
        r = np.hypot(x, y)
        k = np.where(r > 0, c / np.where(r > 0, r, 1.0), 1.0)
        return np.degrees(np.stack((x * k, y * k), axis=-1))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of (N, 2) points, counter-clockwise (Andrew's monotone chain, on the points
    outside the octagon of the extreme ones: the thousands of vertices of a large mosaic's members
    leave a few dozen)."""
    points = np.round(np.asarray(points, dtype=float).reshape(-1, 2), 7)
    if len(points) > 16:
        points = _outside_octagon(points)
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return np.array(pts, dtype=float).reshape(-1, 2)

    def half(ordered: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for x, y in ordered:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (y - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (x - chain[-2][0])) <= 0:
                chain.pop()
            chain.append((x, y))
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=float)


def _outside_octagon(points: np.ndarray) -> np.ndarray:
    """The extreme points in eight directions and the points outside their convex polygon (those
    inside or on its edges are no corners of the hull)."""
    directions = np.array([[1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1]], dtype=float)
    extremes = points[np.argmax(points @ directions.T, axis=0)]  # counter-clockwise, maybe repeated
    corners = extremes[(extremes != np.roll(extremes, 1, axis=0)).any(axis=1)]
    if len(corners) < 3:
        return points
    a, b = corners, np.roll(corners, -1, axis=0)
    cross = ((b[:, 0] - a[:, 0])[:, None] * (points[:, 1] - a[:, 1][:, None])
             - (b[:, 1] - a[:, 1])[:, None] * (points[:, 0] - a[:, 0][:, None]))
    return np.concatenate((corners, points[(cross < 0).any(axis=0)]))


def sky_view(table: _Table, pool: Any, levels: Mapping[str, int], pm: PluginManager,
             config: RunConfig) -> dict[str, Any]:
    """The footprints of the Level 3 associations (hulls of their members') and the packs' outlines."""
    by_stem = {strip_level(str(f)): i for i, f in enumerate(np.asarray(pool["filename"]).tolist())}
    s_regions = np.asarray(pool["s_region"]).tolist() if "s_region" in pool.colnames else [None] * len(pool)
    polygons: dict[int, np.ndarray | None] = {}
    shapes: list[tuple[int, list[np.ndarray]]] = []
    level3 = {r for r, level in levels.items() if level == 3}  # every rule's, when the run report is missing
    for row, names in table.members_of(r for r, rule in enumerate(table.rule) if not level3 or rule in level3):
        found = []
        for name in names:
            i = by_stem.get(strip_level(name))
            if i is not None and i not in polygons:
                polygons[i] = parse_s_region(s_regions[i])
            if i is not None and polygons[i] is not None:
                found.append(polygons[i])
        if found:
            shapes.append((row, found))
    members = [p for p in polygons.values() if p is not None]
    outlines = [f.item for f in pm.report_sky(_Vertices(members), config)] if members else []
    if not shapes:
        return {"footprints": [], "outlines": [], "missing": "no member of a Level 3 association has an s_region"}
    everything = np.concatenate([np.concatenate(found) for _, found in shapes])
    project = Projection(_unit(everything).sum(axis=0))
    footprints = [[row, table.rule[row], table.product[row],
                   np.round(convex_hull(project(np.concatenate(found))), 5).ravel().tolist()]
                  for row, found in shapes]
    drawn = [{"name": o.name, "kind": o.kind, "xy": np.round(project(np.array(o.vertices)), 5).ravel().tolist()}
             for o in outlines]
    centre_ra, centre_dec = _radec(project.centre)
    return {"footprints": footprints, "outlines": drawn, "centre": [centre_ra, centre_dec],
            "levels": sorted(r for r, level in levels.items() if level == 3)}


class _Vertices(Sequence):
    """Polygons' (RA, Dec) vertices as lists, made when a pack asks for them."""

    def __init__(self, polygons: list[np.ndarray]) -> None:
        self.polygons = polygons

    def __len__(self) -> int:
        return len(self.polygons)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [p.tolist() for p in self.polygons[index]]
        return self.polygons[index].tolist()


def _radec(vector: np.ndarray) -> tuple[float, float]:
    return (round(math.degrees(math.atan2(vector[1], vector[0])) % 360.0, 6),
            round(math.degrees(math.asin(max(-1.0, min(1.0, vector[2])))), 6))


# -- explain and diff ------------------------------------------------------------------------------


def explanations(member_names: Iterable[str], pool: Any, pm: PluginManager, config: RunConfig,
                 writer: _Writer) -> dict[str, Any]:
    """Write ``romanasn explain``'s verdicts on every pool row, :data:`EXPLAIN_CHUNK` rows a file, in pool
    order, and the index of the names that find them (pool file names, and the member names of the
    same exposures), sorted, :data:`NAMES_CHUNK` names a file.

    :return: what the page needs to find a name's verdicts: rows, chunk size, each index file's first name.
    """
    from romanasn import explain

    filenames = [str(f) for f in np.asarray(pool["filename"]).tolist()]
    row_of = {f: i for i, f in enumerate(filenames)}
    stems = {strip_level(f): i for i, f in reversed(list(enumerate(filenames)))}
    for name in member_names:
        if name not in row_of and (i := stems.get(strip_level(name))) is not None:
            row_of[name] = i
    engine_log = logging.getLogger("romanasn")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)  # the rules run again: their warnings were the run's, and verdicts say them
    try:
        found = explain.iter_explanations(pool, range(len(filenames)), plugin_manager=pm, config=config)
        for k, part in enumerate(_chunks(len(filenames), EXPLAIN_CHUNK)):
            writer.put("verdicts", k, _script("verdicts", k, [next(found).to_json() for _ in part]))
    finally:
        engine_log.setLevel(level)
    names = sorted(row_of)
    firsts = []
    for k, part in enumerate(_chunks(len(names), NAMES_CHUNK)):
        chunk = names[part.start:part.stop]
        writer.put("explain", k, _script("explain", k, [chunk, [row_of[n] for n in chunk]]))
        firsts.append(chunk[0])
    return {"rows": len(filenames), "pool_rows": len(filenames), "chunk": EXPLAIN_CHUNK, "names": firsts}


def differences(table: _Table, folder: Path, against: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Each row's change against ``against`` (0 none, 1 added, 2 changed), and what ``romanasn diff`` found
    (``changed``: by row)."""
    found = diff.diff_dirs(against, folder)
    row_of = {key: row for row, key in enumerate(table.keys())}
    status = np.zeros(len(table), dtype=np.int8)
    for summary in found.added:
        status[row_of[summary.product]] = 1
    changed = {}
    for change in found.changed:
        status[row_of[change.product]] = 2
        changed[row_of[change.product]] = change
    data = found.to_json()
    details = dict(zip(changed, data["changed"]))
    return status, {"against": str(against), "removed": data["removed"], "changed": details,
                    "counts": {"added": len(found.added), "removed": len(found.removed),
                               "changed": len(found.changed), "same": found.same}}


# -- the summary -----------------------------------------------------------------------------------


def summary(folder: Path, report: Mapping[str, Any], table: _Table) -> dict[str, Any]:
    """What the page shows first: the run, its packs, counts, what was left out and why."""
    rules = {r.get("name"): r for r in report.get("rules", []) if isinstance(r, dict)}
    counts = {"rule": Counter(table.rule), "type": Counter(table.type), "program": Counter(table.program)}
    vetoes: dict[tuple[str, str, str], list[str]] = {}
    for v in report.get("vetoes", []):
        vetoes.setdefault((v.get("rule"), v.get("reason"), v.get("plugin")), []).append(v.get("filename"))
    orphans = list(report.get("orphans", []))
    return {
        "folder": str(folder),
        "romanasn_version": __version__,
        "has_run_report": bool(report),
        "inputs": report.get("inputs", []),
        "pool_rows": report.get("pool_rows"),
        "options": report.get("options", {}),
        "data_release_id": report.get("data_release_id"),
        "plugins": report.get("plugins", []),
        "rules": [{"name": name, "count": count, **{k: rules.get(name, {}).get(k) for k in
                                                   ("plugin", "version", "asn_type", "level")}}
                  for name, count in sorted(counts["rule"].items())],
        "types": dict(sorted(counts["type"].items())),
        "programs": dict(sorted(counts["program"].items())),
        "associations": len(table),
        "vetoes": [{"rule": r, "reason": why, "plugin": p, "count": len(f), "files": f[:20]}
                   for (r, why, p), f in sorted(vetoes.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "vetoed": sum(len(f) for f in vetoes.values()),
        "orphans": orphans[:ORPHANS_SHOWN],
        "orphan_count": len(orphans),
        "skipped_rules": report.get("skipped_rules", []),
        "failed_rules": report.get("failed_rules", []),
    }


# -- writing ----------------------------------------------------------------------------------------


def _script(call: str, *args: Any) -> bytes:
    """``RomanasnReport.<call>(args...);`` as the bytes of a data file."""
    return b"RomanasnReport." + call.encode() + b"(" + b",".join(
        a if isinstance(a, bytes) else orjson.dumps(a, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
        for a in args) + b");\n"


class _Writer:
    """The data files, written into a staging folder as the run is read."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.files: dict[str, int] = {}

    def put(self, kind: str, index: int | None, payload: bytes) -> None:
        name = f"{kind}.js" if index is None else f"{kind}-{index:04d}.js"
        (self.data / name).write_bytes(payload)
        self.files[kind] = self.files.get(kind, 0) + 1


def write_report(
    folder: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    plugin_manager: PluginManager,
    pool: Any = None,
    options: Mapping[str, Any] | None = None,
    against: str | os.PathLike | None = None,
    collected: Collector | None = None,
    explain: bool = True,
    run_report: Mapping[str, Any] | None = None,
) -> Path:
    """Write the report page of ``folder`` (default ``folder/report.html``) and its data folder.

    :param pool: the pool table the run was made from (``read_pools``), for
        the sky view and (with ``explain``) the ``explain`` verdicts on every pool row.
    :param options: values of the options packs add (``--skymap``), over those
        the run report recorded.
    :param against: an older run's folder, compared as ``romanasn diff`` does.
    :param collected: every association file of ``folder``, gathered as they were written (then the
        page is ``folder/report.html`` and no file is read back); it is closed.
    :param run_report: what ``folder``'s run report says of the run, when the caller has it (as
        :func:`romanasn.output.run_report` gives it: a large run's report file is mostly its manifest).
    :return: the page's path.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AsnError(f"{folder}: not a folder of association files")
    page = Path(output) if output else folder / DEFAULT_PAGE
    if page.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {page}: the report is a web page: give a name ending in .html")
    if against is not None and Path(against).resolve() == folder.resolve():
        raise UsageError(f"--against {against}: that is the folder being reported")
    report = read_run_report(folder) if run_report is None else run_report
    config = RunConfig(data_release_id=str(report.get("data_release_id") or "p"),
                       version_id=report.get("version_id"),
                       options={**(report.get("options") or {}), **{k: v for k, v in (options or {}).items()
                                                                    if v not in (None, False)}})
    page.parent.mkdir(parents=True, exist_ok=True)
    staging = collected.start() if collected is not None else Path(
        tempfile.mkdtemp(prefix=f".{page.stem}-", dir=page.parent))
    try:
        data = staging / f"{page.stem}_data"
        data.mkdir(exist_ok=True)
        writer = _Writer(data)
        if collected is not None:
            collected.flush()
            table, writer.files["json"] = collected.table, collected.chunks
        else:
            table = _read_table(folder, report, writer)
        meta = _write_data(folder, report, table, writer, plugin_manager, pool, config, against, explain)
        (staging / page.name).write_bytes(render_page(meta, f"{page.stem}_data"))
        _replace(staging, page)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if collected is not None:
            collected.staging = None
    return page


def _read_table(folder: Path, report: Mapping[str, Any], writer: _Writer) -> _Table:
    """The table of ``folder``'s association files, read on two processes; their JSON written in chunks."""
    names, sizes = association_files(folder, report)
    if not names and not report:
        raise AsnError(f"{folder}: no association files and no {RUN_REPORT}: nothing to report")
    table = _Table()
    parts = list(_chunks(len(names), JSON_CHUNK))
    jobs = [(str(folder), names[r.start:r.stop], sizes[r.start:r.stop], str(writer.data / f"json-{k:04d}.js"), k)
            for k, r in enumerate(parts)]
    for r, part in zip(parts, _each_part(jobs)):
        table.extend(names[r.start:r.stop], part)
    writer.files["json"] = len(parts)
    return table


def _write_data(folder: Path, report: Mapping[str, Any], table: _Table, writer: _Writer, pm: PluginManager,
                pool: Any, config: RunConfig, against: str | os.PathLike | None, explain: bool) -> dict[str, Any]:
    """Write every data file but the association files' JSON; return the page's summary.

    ``table`` is in the order of the JSON chunks; the page's table is by rule, then file name.
    """
    levels = {r.get("name"): r.get("level") for r in report.get("rules", []) if isinstance(r, dict)}
    order = table.order()
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    member_names, starts, rows = table.member_index(rank)
    meta = summary(folder, report, table)
    status = np.zeros(len(table), dtype=np.int8)
    if against is not None:
        status, changes = differences(table, folder, Path(against))
        changes["changed"] = {str(rank[row]): entry for row, entry in changes["changed"].items()}
        writer.put("diff", None, _script("diff", changes))
        meta["diff"] = changes["counts"] | {"against": str(against)}
    if pool is not None:
        sky = sky_view(table, pool, levels, pm, config)
        for footprint in sky["footprints"]:
            footprint[0] = int(rank[footprint[0]])
        writer.put("sky", None, _script("sky", sky))
        if explain:
            meta["explained"] = explanations(member_names, pool, pm, config, writer)
    meta["chunks"] = _write_rows(table, order, status, writer)
    meta["names"] = _write_names(member_names, starts, rows, writer)
    meta["json_chunk"] = JSON_CHUNK
    meta["files"] = writer.files
    return meta


def _each_part(jobs: list[tuple]) -> Iterator[tuple]:
    """``_read_part`` of each job, in order: on two processes when there are several parts and cores."""
    workers = min(READERS, os.cpu_count() or 1, len(jobs))
    if workers < 2:
        yield from (_read_part(*job) for job in jobs)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ProcessPoolExecutor(workers, mp_context=context) as readers:
        yield from readers.map(_read_part, *zip(*jobs))


def _write_rows(table: _Table, order: np.ndarray, status: np.ndarray, writer: _Writer) -> dict[str, Any]:
    """The table in ``order``, in chunks (``json``: where each row's file is among the JSON chunks);
    per chunk, how many rows of each rule, type and program it holds.

    With those counts a filter loads only the chunks it shows.
    """
    rules, rule_ids = _interned(table.rule)
    types, type_ids = _interned(table.type)
    programs, program_ids = _interned(table.program)
    chunks = []
    for k, rows in enumerate(_chunks(len(table), ROWS_CHUNK)):
        at = order[rows.start:rows.stop]
        columns = {name: [values[i] for i in at] for name, values in (
            ("product", table.product), ("rule", rule_ids), ("type", type_ids), ("program", program_ids),
            ("members", table.members), ("file", table.file))}
        columns |= {"diff": np.ascontiguousarray(status[at]), "json": np.ascontiguousarray(at)}
        writer.put("rows", k, _script("rows", k, columns))
        chunks.append({"start": rows.start, "count": len(rows), "rules": _counts(columns["rule"]),
                       "types": _counts(columns["type"]), "programs": _counts(columns["program"])})
    return {"rules": rules, "types": types, "programs": programs, "rows": chunks, "size": ROWS_CHUNK}


def _counts(ids: Sequence[int]) -> list[list[int]]:
    """``[id, how many]`` of each id in ``ids``."""
    return [[i, n] for i, n in sorted(Counter(ids).items())]


def _write_names(names: list[str], starts: np.ndarray, rows: np.ndarray, writer: _Writer) -> list[str]:
    """Every member name, sorted, with its associations (:meth:`_Table.member_index`), in chunks of
    ``[names, where each name's rows start (from 0), rows]``; the first name of each chunk."""
    firsts = []
    for k, part in enumerate(_chunks(len(names), NAMES_CHUNK)):
        begin, end = int(starts[part.start]), int(starts[part.stop])
        offsets = np.ascontiguousarray(starts[part.start:part.stop + 1] - begin)
        writer.put("names", k, _script("names", k, [names[part.start:part.stop], offsets,
                                                    np.ascontiguousarray(rows[begin:end])]))
        firsts.append(names[part.start])
    return firsts


def render_page(meta: Mapping[str, Any], data_folder: str) -> bytes:
    """The page: the template with the style, the script and the summary inlined."""
    template = (ASSETS / "report.html").read_text("utf-8")
    summary_json = orjson.dumps({**meta, "data": data_folder}, default=str).decode().replace("</", "<\\/")
    title = f"romanasn report: {Path(str(meta['folder'])).name or meta['folder']}"
    filled = (template.replace("{{title}}", html.escape(title))
              .replace("{{style}}", (ASSETS / "report.css").read_text("utf-8"))
              .replace("{{script}}", (ASSETS / "report.js").read_text("utf-8"))
              .replace("{{summary}}", summary_json))
    return filled.encode("utf-8")


def _replace(staging: Path, page: Path) -> None:
    """Move the new page and data folder in place of the old ones (the old data folder goes last)."""
    data = page.with_name(f"{page.stem}_data")
    old = None
    if data.exists():
        old = staging / ".old"
        os.replace(data, old)
    os.replace(staging / data.name, data)
    os.replace(staging / page.name, page)


# -- the command ---------------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser, pm: PluginManager) -> None:
    """Add ``report``'s arguments, and the ``generate`` options packs add, to ``parser``."""
    from romanasn.explain import add_pack_options

    parser.add_argument("folder", metavar="DIR", help="the folder of association files (a run's output)")
    parser.add_argument("-o", "--output", metavar="PAGE",
                        help=f"the page to write (default: DIR/{DEFAULT_PAGE}); its data go beside it, in NAME_data/ "
                             "for NAME.html")
    parser.add_argument("--pool", action="append", metavar="POOL",
                        help="the pool the run was made from: draws the sky, gives explain's verdicts (repeatable)")
    parser.add_argument("--against", metavar="OLD_DIR",
                        help="an older run's folder: show what changed, as romanasn diff OLD_DIR DIR finds it")
    add_pack_options(parser, pm, "options added by plugins (as for generate; default: the run's)")


def run(args: argparse.Namespace, pm: PluginManager) -> int:
    """``romanasn report``: write the page and say where it is."""
    from romanasn import pool as pools
    from romanasn.explain import pack_option_values

    table = None
    if args.pool:
        pm.check()
        table = pools.read_pools(args.pool, columns=[f.item for f in pm.pool_columns()])
    page = write_report(args.folder, args.output, plugin_manager=pm, pool=table,
                        options=pack_option_values(args), against=args.against)
    if not args.quiet:
        print(f"wrote {page} (open it in a browser; its data are in {page.stem}_data/ beside it)")
    return 0
