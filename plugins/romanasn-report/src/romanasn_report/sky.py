"""The report's sky view: the footprints of a run's Level 3 associations, and the outlines packs draw.

Each footprint is the convex hull of its members' ``s_region`` polygons
(parsed by Arrow's compute functions, members joined to pool rows by their
names), drawn in the azimuthal equidistant projection about the run's
centre; the outlines come from the ``romanasn_report_sky`` hook
(:mod:`romanasn_report.hookspec`: the skycells, with ``--skymap``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig

from romanasn_report import SkyOutline

if TYPE_CHECKING:
    from romanasn_report.report import _Table

#: A number as an s_region writes it (what Arrow casts to a float; ``nan`` and ``inf`` are no vertices).
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
#: The level suffix and extension of a file name (as :func:`romanasn.naming.strip_level` takes them off).
_SUFFIX, _SUFFIXED = r"_[A-Za-z0-9]+\.[A-Za-z0-9]+$", r"^.+_[A-Za-z0-9]+\.[A-Za-z0-9]+$"


def parse_s_regions(regions: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The RA, Dec vertices of ``s_region`` strings ``POLYGON [frame] ra dec ...`` (at least three,
    Dec within +-90), one polygon after the other as (V, 2), and how many vertices each has (0: not
    such a polygon, null or not a string)."""
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(regions.cast(pa.string())))
    lengths = pc.fill_null(pc.list_value_length(words), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    tokens, owner = pc.list_flatten(words), pc.list_parent_indices(words).to_numpy()
    starts = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    some = lengths > 1
    polygon, framed = np.zeros(len(regions), bool), np.zeros(len(regions), bool)
    polygon[some] = pc.equal(pc.utf8_upper(tokens.take(starts[some])), "POLYGON").to_numpy(zero_copy_only=False)
    framed[some] = pc.utf8_is_alpha(tokens.take(starts[some] + 1)).to_numpy(zero_copy_only=False)
    valid = polygon & (lengths >= 7)
    position = np.arange(len(tokens)) - starts[owner] - 1 - framed[owner]
    kept = valid[owner] & (position >= 0)
    numbers, owner, position = tokens.filter(kept), owner[kept], position[kept]
    try:
        values = pc.cast(numbers, pa.float64()).to_numpy()
    except pa.ArrowInvalid:  # a word that is no number: no vertices (nan) for its polygon
        numeric = pc.match_substring_regex(numbers, _NUMBER).to_numpy(zero_copy_only=False)
        values = np.full(len(numbers), np.nan)
        values[numeric] = pc.cast(numbers.filter(numeric), pa.float64()).to_numpy()
    count = np.bincount(owner, minlength=len(regions))
    valid &= (count >= 6) & (count % 2 == 0)
    valid[owner[~np.isfinite(values) | ((position % 2 == 1) & (np.abs(values) > 90))]] = False
    return values[valid[owner]].reshape(-1, 2), np.where(valid, count // 2, 0)


def _stems(names: pa.Array) -> pa.Array:
    """Each file name without its level suffix and extension (:func:`romanasn.naming.strip_level`)."""
    return pc.if_else(pc.match_substring_regex(names, _SUFFIXED), pc.replace_substring_regex(names, _SUFFIX, ""),
                      pc.replace_substring_regex(names, r"\.[^.]*$", ""))


def _pool_rows(names: pa.Array, filenames: pa.Array) -> np.ndarray:
    """The pool row of the exposure each member name is of (the last of a name's level), -1 for none."""
    names = pc.dictionary_encode(names)  # each name once: members of many associations repeat
    stems = _stems(filenames.cast(pa.large_string()))[::-1]
    found = pc.index_in(_stems(names.dictionary.cast(pa.large_string())), value_set=stems)
    rows = np.where(found.is_valid().to_numpy(zero_copy_only=False),
                    len(filenames) - 1 - pc.fill_null(found, 0).to_numpy(), -1)
    return rows[names.indices.to_numpy()]


def _strings(pool: Any, name: str) -> pa.Array:
    """A pool column as Arrow strings (masked cells null)."""
    column = pool[name]
    mask = np.ma.getmaskarray(column)
    values = np.asarray(np.ma.getdata(column))
    try:
        return pa.array(values, pa.string(), mask=mask if mask.any() else None)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # values that are not text
        return pa.array(values.astype(str), pa.string(), mask=mask if mask.any() else None)


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


def hulls(points: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    """The convex hull of each group of (N, 2) points (group k: ``points[starts[k]:starts[k + 1]]``, none
    empty), rounded to 1e-7, counter-clockwise from the lowest of the leftmost point."""
    points = np.round(points, 7)
    return [_hull(points[a:b]) for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())]


def _directions(count: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.stack((np.cos(angles), np.sin(angles)))


#: The directions of the polygons of extreme points a hull's points are sifted with, one after the other.
_SIEVES = [_directions(count) for count in (8, 24, 96)]


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of (N, 2) points: Andrew's monotone chain, on the points no polygon of extreme
    points holds (the hundreds of thousands of vertices of a large mosaic's members leave a few dozen)."""
    for directions in _SIEVES:
        if len(points) <= 4 * directions.shape[1]:
            break
        points = points[_outside_extremes(points, directions)]
    return _chain(points)


def _outside_extremes(points: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Which points are the extreme ones in ``directions`` (2, K, counter-clockwise), or outside their
    convex polygon (the others are no corners of the hull)."""
    extremes = (points @ directions).argmax(axis=0)
    corners = points[extremes]
    edges = np.roll(corners, -1, axis=0) - corners
    kept = (edges[:, 0] * (points[:, 1, None] - corners[:, 1])
            - edges[:, 1] * (points[:, 0, None] - corners[:, 0]) < 0).any(axis=1)
    kept[extremes] = True
    return kept


def _chain(points: np.ndarray) -> np.ndarray:
    """The convex hull of a few points (Andrew's monotone chain)."""
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


def sky_view(table: _Table, pool: Any, levels: Mapping[str, int], pm: PluginManager,
             config: RunConfig) -> dict[str, Any]:
    """The footprints of the Level 3 associations (hulls of their members') and the packs' outlines."""
    level3 = sorted(r for r, level in levels.items() if level == 3)  # every rule's, when the run report is missing
    rows = np.arange(len(table))
    if level3:
        rows = np.flatnonzero(pc.is_in(table.column("rule"), value_set=pa.array(level3, pa.string()))
                              .to_numpy(zero_copy_only=False))
    members = table.column("members").take(rows)
    owner = rows[pc.list_parent_indices(members).to_numpy()]
    at = _pool_rows(pc.list_flatten(members), _strings(pool, "filename"))
    used = np.zeros(len(pool) + 1, dtype=bool)
    used[at] = True  # (-1, none, marks the last)
    needed = np.flatnonzero(used[:-1])
    if "s_region" in pool.colnames and len(needed):
        vertices, counts = parse_s_regions(_strings(pool, "s_region").take(needed))
        slot = np.cumsum(used[:-1])[at] - 1  # each member's polygon, among the pool rows needed
        found = (at >= 0) & (counts[slot] > 0)
        owner, slot = owner[found], slot[found]
    if "s_region" not in pool.colnames or not len(needed) or not len(slot):
        return {"footprints": [], "outlines": [], "missing": "no member of a Level 3 association has an s_region"}
    first = np.concatenate(([0], np.cumsum(counts)))
    polygons = _Vertices(vertices, first, np.flatnonzero(counts))
    outlines = [f.item for f in pm.records("romanasn_report_sky", SkyOutline, footprints=polygons,
                                           config=config)]
    uses = np.repeat(np.bincount(slot, minlength=len(counts)), counts)  # each vertex, once per association holding it
    project = Projection((_unit(vertices) * uses[:, None]).sum(axis=0))
    shown, hulls_xy = _footprints(project(vertices), first, slot, owner)
    rules, products = (table.column(c).take(shown).to_pylist() for c in ("rule", "product"))
    footprints = [list(row) for row in zip(shown.tolist(), rules, products, hulls_xy)]
    drawn = [{"name": o.name, "kind": o.kind, "xy": np.round(project(np.array(o.vertices)), 5).ravel().tolist()}
             for o in outlines]
    centre_ra, centre_dec = _radec(project.centre)
    return {"footprints": footprints, "outlines": drawn, "centre": [centre_ra, centre_dec], "levels": level3}


def _footprints(xy: np.ndarray, first: np.ndarray, slot: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, list]:
    """The associations that have footprints (``owner`` of each member's polygon ``slot``, ascending), and
    each one's hull (as ``[x, y, x, y ...]``) of its members' polygons (``xy[first[i]:first[i + 1]]``).

    Associations of the same members share one hull.
    """
    shown, where = np.unique(owner, return_index=True)
    bounds = np.append(where, len(owner)).tolist()
    known: dict[bytes, int] = {}
    same = [known.setdefault(slot[a:b].tobytes(), len(known)) for a, b in zip(bounds[:-1], bounds[1:])]
    groups = np.unique(same, return_index=True)[1]  # the first association of each set of members
    slots = np.concatenate([slot[bounds[g]:bounds[g + 1]] for g in groups])
    sizes = np.array([bounds[g + 1] - bounds[g] for g in groups])
    lengths = first[slots + 1] - first[slots]
    ends = np.cumsum(lengths)
    points = xy[np.arange(ends[-1]) + np.repeat(first[slots] - (ends - lengths), lengths)]
    starts = np.concatenate(([0], ends[np.cumsum(sizes) - 1]))
    made = [np.round(hull, 5).ravel().tolist() for hull in hulls(points, starts)]
    return shown, [made[k] for k in same]


class _Vertices(Sequence):
    """Polygons' (RA, Dec) vertices as lists, made when a pack asks for them: polygon ``k`` is
    ``vertices[first[i]:first[i + 1]]`` for ``i = which[k]``."""

    def __init__(self, vertices: np.ndarray, first: np.ndarray, which: np.ndarray) -> None:
        self.vertices, self.first, self.which = vertices, first, which

    def __len__(self) -> int:
        return len(self.which)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = self.which[index]
        return self.vertices[self.first[i]:self.first[i + 1]].tolist()


def _radec(vector: np.ndarray) -> tuple[float, float]:
    return (round(math.degrees(math.atan2(vector[1], vector[0])) % 360.0, 6),
            round(math.degrees(math.asin(max(-1.0, min(1.0, vector[2])))), 6))
