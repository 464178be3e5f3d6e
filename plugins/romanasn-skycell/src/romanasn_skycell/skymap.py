"""The sky map: projection regions and skycells, read from a SKYCELLS reference file.

The file (ASDF) holds, under ``roman``: ``meta`` (``nxy_skycell``,
``skycell_border_pixels``, ``pixel_scale`` in arcsec), ``projection_regions``
(a few thousand rows) and ``skycells`` (about 8 million rows in the official
map). :class:`SkyMap` reads the meta and the regions when opened, and the
skycells of a region only when a footprint reaches that region, through
:mod:`romanasn_skycell.asdfblocks`, which decompresses only the chunks that
hold them.

Geometry (checked against the official map): each region is a gnomonic
projection about ``(ra_tangent, dec_tangent)``, turned by ``orientat``, on a
pixel grid whose tangent pixel is ``(x_tangent, y_tangent)``. A skycell is a
``nxy x nxy`` window of that grid (its pixel edges at -0.5 and nxy - 0.5),
and its own ``x_tangent, y_tangent`` are where the region's tangent point
falls in the skycell's pixels; so in plane coordinates (pixels from the
tangent point) a skycell covers ``[-x_tangent - 0.5, nxy - 0.5 - x_tangent]``
by the same in y. Neighbouring skycells are ``nxy - 2 * border`` pixels apart.

Matching (:meth:`SkyMap.match`): an exposure joins a skycell when its
footprint meets the skycell's whole area (border included) and the outline of
the skycell's projection region, drawn as romancal draws it (the four corners
of the region's RA/Dec bounds joined by great circles; a polar cap as the
15-sided polygon inscribed in it). Regions are short-listed from their bounds
(a cap around each), then the skycells from the region's pixel grid; every
test is exact, in the region's gnomonic plane, where great-circle edges are
straight.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from romanasn_skycell import sphere
from romanasn_skycell.asdfblocks import AsdfTables, FormatError

log = logging.getLogger("romanasn.skycell")

#: Environment variables naming the sky map, in the order they are read.
ENV_VARS = ("ROMANASN_SKYMAP", "SKYMAP_PATH")

REGION_FIELDS = ("index", "ra_tangent", "dec_tangent", "ra_min", "ra_max", "dec_min", "dec_max", "orientat",
                 "x_tangent", "y_tangent", "nx", "ny", "skycell_start", "skycell_end")
SKYCELL_FIELDS = ("name", "ra_center", "dec_center", "orientat", "x_tangent", "y_tangent",
                  "ra_corn1", "dec_corn1", "ra_corn2", "dec_corn2", "ra_corn3", "dec_corn3",
                  "ra_corn4", "dec_corn4")

#: Steps romancal gives a polar cap's outline (the first and last point coincide: 15 sides).
CAP_SIDES = 15


class SkyMapError(ValueError):
    """The sky map cannot be read or is not a SKYCELLS map."""


def is_polar(row: np.void) -> bool:
    return float(row["dec_max"]) == 90.0 or float(row["dec_min"]) == -90.0


def region_outline(row: np.void) -> np.ndarray:
    """Unit vectors (W, 3) of a projection region's outline, as romancal draws it.

    A region that is not polar: its bounds' corners (ra_min, dec_min),
    (ra_max, dec_min), (ra_max, dec_max), (ra_min, dec_max), joined by great
    circles. A polar cap: 15 points on the circle of its Dec bound; romancal
    (spherical_geometry's ``from_cone``) starts them where the pole lands when
    turned by the cap's radius about the unit axis perpendicular to it along
    the coordinate axis of the pole vector's smallest component.
    """
    if not is_polar(row):
        ra = [row["ra_min"], row["ra_max"], row["ra_max"], row["ra_min"]]
        dec = [row["dec_min"], row["dec_min"], row["dec_max"], row["dec_max"]]
        return sphere.unit_vectors(ra, dec)
    north = float(row["dec_max"]) == 90.0
    radius = 90.0 - float(row["dec_min"]) if north else 90.0 + float(row["dec_max"])
    lon, lat = np.deg2rad(float(row["ra_tangent"])), np.deg2rad(float(row["dec_tangent"]))
    centre = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    axis = np.zeros(3)
    axis[int(np.argmin(centre * centre))] = 1.0
    perpendicular = sphere.normalise(np.cross(centre, axis))
    pen = sphere.rotate_about(centre, perpendicular, np.deg2rad(radius))
    turns = 2.0 * np.pi * np.arange(CAP_SIDES) / CAP_SIDES
    return sphere.rotate_about(np.broadcast_to(pen, (CAP_SIDES, 3)), centre, turns)


class Region:
    """One projection region: its projection, outline and bounding cap."""

    def __init__(self, position: int, row: np.void, scale: float) -> None:
        self.position = position
        self.row = row
        self.start = int(row["skycell_start"])
        self.stop = int(row["skycell_end"])
        self.tangent = sphere.Tangent(float(row["ra_tangent"]), float(row["dec_tangent"]),
                                      float(row["orientat"]), scale)
        self.outline = region_outline(row)
        self.outline_plane = self.tangent.project(self.outline)
        self.cap_radius = float(sphere.angle_between(self.outline, self.tangent.centre).max())


class RegionCells:
    """The skycells of one region: their rows and a lookup by grid position."""

    def __init__(self, region: Region, rows: np.ndarray, nxy: int, step: int) -> None:
        self.region = region
        self.rows = rows
        self.nxy = nxy
        self.low = np.stack((-rows["x_tangent"] - 0.5, -rows["y_tangent"] - 0.5), axis=1).astype(float)
        self.grid = None
        if len(rows) and step > 0:
            self.origin = self.low.min(axis=0)
            steps = (self.low - self.origin) / step
            index = np.rint(steps).astype(np.int64)
            if np.allclose(steps, index, atol=1e-6):
                grid = -np.ones(index.max(axis=0) + 1, dtype=np.int64)
                grid[index[:, 0], index[:, 1]] = np.arange(len(rows))
                if np.count_nonzero(grid >= 0) == len(rows):
                    self.grid, self.step = grid, step
        if self.grid is None and len(rows):
            log.debug("region %d: skycells not on a regular grid; testing each", region.position)

    def candidates(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (footprint, local skycell row) whose bounding boxes (M, 4) may meet."""
        if not len(self.rows):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if self.grid is None:
            overlap = ((boxes[:, None, 0] <= self.low[None, :, 0] + self.nxy)
                       & (boxes[:, None, 2] >= self.low[None, :, 0])
                       & (boxes[:, None, 1] <= self.low[None, :, 1] + self.nxy)
                       & (boxes[:, None, 3] >= self.low[None, :, 1]))
            return np.nonzero(overlap)
        shape = np.array(self.grid.shape)
        lo = np.ceil((boxes[:, 0:2] - self.nxy - self.origin) / self.step).astype(np.int64)
        hi = np.floor((boxes[:, 2:4] - self.origin) / self.step).astype(np.int64)
        lo = np.clip(lo, 0, None)
        hi = np.minimum(hi, shape - 1)
        span = np.clip(hi - lo + 1, 0, None)
        counts = span[:, 0] * span[:, 1]
        footprint = np.repeat(np.arange(len(boxes)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        k = np.arange(counts.sum()) - first
        ny = np.maximum(span[footprint, 1], 1)
        ix = lo[footprint, 0] + k // ny
        iy = lo[footprint, 1] + k % ny
        local = self.grid[ix, iy]
        keep = local >= 0
        return footprint[keep], local[keep]


class SkyMap:
    """A SKYCELLS sky map, read lazily; see the module docstring for the geometry."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SkyMapError(f"sky map {self.path} not found")
        try:
            self._file = AsdfTables(self.path)
            root = self._file.tree.get("roman", self._file.tree)
            meta = root["meta"]
            self._skycells_node = root["skycells"]
            self.regions = self._file.rows(root["projection_regions"])
        except (FormatError, KeyError, TypeError, OSError) as exc:
            raise SkyMapError(f"{self.path} is not a SKYCELLS sky map: {exc}") from exc
        missing = [f for f in REGION_FIELDS if f not in (self.regions.dtype.names or ())]
        names = self._skycell_names()
        missing += [f for f in SKYCELL_FIELDS if f not in names]
        if missing:
            raise SkyMapError(f"{self.path}: fields missing from the sky map: {', '.join(missing)}")
        self.nxy = int(meta["nxy_skycell"])
        self.border = int(meta["skycell_border_pixels"])
        self.pixel_scale_arcsec = float(meta["pixel_scale"])
        self.pixel_scale = self.pixel_scale_arcsec / 3600.0
        self.meta = meta
        self._regions: dict[int, Region] = {}
        self._cells: dict[int, RegionCells] = {}
        self._order = np.argsort(self.regions["skycell_start"], kind="stable")

    def _skycell_names(self) -> tuple[str, ...]:
        datatype = self._skycells_node.get("datatype")
        if isinstance(datatype, list):
            return tuple(field.get("name") for field in datatype if isinstance(field, dict))
        return ()

    def __repr__(self) -> str:
        return f"SkyMap({str(self.path)!r}: {len(self.regions)} regions, {self.n_skycells} skycells)"

    @property
    def n_skycells(self) -> int:
        return self._file.length(self._skycells_node)

    # -- regions and their skycells -------------------------------------------------

    def region(self, position: int) -> Region:
        if position not in self._regions:
            self._regions[position] = Region(position, self.regions[position], self.pixel_scale)
        return self._regions[position]

    def cells(self, position: int) -> RegionCells:
        """The skycells of region ``position`` (read from the file on first use)."""
        if position not in self._cells:
            region = self.region(position)
            rows = self._file.rows(self._skycells_node, region.start, region.stop)
            self._cells[position] = RegionCells(region, rows, self.nxy, self.nxy - 2 * self.border)
        return self._cells[position]

    @cached_property
    def _caps(self) -> tuple[np.ndarray, np.ndarray]:
        centres = sphere.unit_vectors(self.regions["ra_tangent"], self.regions["dec_tangent"])
        radii = np.array([self.region(i).cap_radius for i in range(len(self.regions))])
        return centres, radii

    def region_of(self, index: int) -> int:
        """The position of the region whose skycell range holds global skycell ``index``."""
        starts = self.regions["skycell_start"][self._order]
        k = int(np.searchsorted(starts, index, side="right")) - 1
        if k >= 0:
            position = int(self._order[k])
            if self.regions["skycell_start"][position] <= index < self.regions["skycell_end"][position]:
                return position
        raise KeyError(f"skycell {index} is in no projection region of {self.path}")

    def skycell(self, index: int) -> np.void:
        """The row of global skycell ``index``."""
        position = self.region_of(index)
        return self.cells(position).rows[index - self.region(position).start]

    def index_of(self, name: str) -> int:
        """The global index of the skycell called ``name``.

        Only the regions whose rounded tangent point gives the name's first
        six characters (``RRRpDD``, as in the official names) are read, never
        the whole map.
        """
        prefix = str(name)[:6]
        regions = self.regions
        prefixes = [f"{int(round(float(ra))) % 360:03d}{'p' if dec >= 0 else 'm'}{int(round(abs(float(dec)))):02d}"
                    for ra, dec in zip(regions["ra_tangent"], regions["dec_tangent"])]
        for position in [i for i, p in enumerate(prefixes) if p == prefix]:
            rows = self.cells(position).rows
            found = np.flatnonzero(rows["name"] == name)
            if len(found):
                return int(found[0]) + self.region(position).start
        raise KeyError(f"no skycell {name!r} in {self.path}")

    def name(self, index: int) -> str:
        return str(self.skycell(index)["name"])

    def wcs_info(self, index: int) -> dict[str, Any]:
        """The ``skycell_wcs_info`` of global skycell ``index``: the 12 values romancal's mosaic step reads."""
        position = self.region_of(index)
        region = self.regions[position]
        row = self.cells(position).rows[index - int(region["skycell_start"])]
        return {
            "name": str(row["name"]),
            "pixel_scale": self.pixel_scale,
            "ra_projection_center": float(region["ra_tangent"]),
            "dec_projection_center": float(region["dec_tangent"]),
            "x0_projection": float(row["x_tangent"]),
            "y0_projection": float(row["y_tangent"]),
            "ra_center": float(row["ra_center"]),
            "dec_center": float(row["dec_center"]),
            "nx": self.nxy,
            "ny": self.nxy,
            "orientat": float(row["orientat"]),
            "orientat_projection_center": float(region["orientat"]),
        }

    # -- matching -------------------------------------------------------------------

    def candidate_regions(self, centres: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (footprint, region position) whose bounding caps meet.

        Regions are first binned by the Dec range of their caps (1 degree
        bins), so each footprint is compared with the regions of its own bin.
        """
        region_centres, region_radii = self._caps
        if not len(centres) or not len(region_radii):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        widest = float(radii.max())
        _, dec = sphere.radec(centres)
        _, region_dec = sphere.radec(region_centres)
        lo = np.floor(np.clip(region_dec - region_radii - widest, -90, 90)).astype(int)
        hi = np.floor(np.clip(region_dec + region_radii + widest, -90, 90)).astype(int)
        bins = np.floor(dec).astype(int)
        footprints, regions = [], []
        for b in np.unique(bins):
            mine = np.flatnonzero(bins == b)
            theirs = np.flatnonzero((lo <= b) & (hi >= b))
            if not len(theirs):
                continue
            limit = np.minimum(radii[mine, None] + region_radii[None, theirs] + 1e-7, 180.0)
            near = centres[mine] @ region_centres[theirs].T >= np.cos(np.deg2rad(limit))
            f, r = np.nonzero(near)
            footprints.append(mine[f])
            regions.append(theirs[r])
        if not footprints:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(footprints), np.concatenate(regions)

    def match(self, footprints: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The skycells each footprint meets.

        :param footprints: polygons as unit vectors, each (V, 3) (V >= 1;
            edges are great-circle arcs, the last vertex joined to the first),
            or one (N, V, 3) array of them.
        :return: two arrays of the same length: footprint positions and global
            skycell indices, sorted by footprint then skycell.
        """
        if not len(footprints):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        polygons = footprints if isinstance(footprints, np.ndarray) and footprints.ndim == 3 else pad(footprints)
        centres = sphere.normalise(polygons.mean(axis=1))
        radii = sphere.angle_between(polygons, centres[:, None, :]).max(axis=1)
        pair_fp, pair_region = self.candidate_regions(centres, radii)
        found_fp, found_cell = [], []
        order = np.argsort(pair_region, kind="stable")
        pair_fp, pair_region = pair_fp[order], pair_region[order]
        splits = np.flatnonzero(np.diff(pair_region)) + 1
        for fps, regions in zip(np.split(pair_fp, splits), np.split(pair_region, splits)):
            if not len(fps):
                continue
            position = int(regions[0])
            region = self.region(position)
            if region.stop <= region.start:
                continue
            plane = region.tangent.project(polygons[fps])
            in_front = ~np.isnan(plane).any(axis=(1, 2))
            if not in_front.all():
                log.debug("region %d: %d footprints reach behind its tangent plane; skipped",
                          position, np.count_nonzero(~in_front))
                fps, plane = fps[in_front], plane[in_front]
            touching = sphere.polygons_intersect(plane, region.outline_plane)
            fps, plane = fps[touching], plane[touching]
            if not len(fps):
                continue
            cells = self.cells(position)
            boxes = np.concatenate((plane.min(axis=1), plane.max(axis=1)), axis=1)
            which, local = cells.candidates(boxes)
            if not len(which):
                continue
            low = cells.low[local]
            cell_boxes = np.concatenate((low, low + self.nxy), axis=1)
            meets = sphere.polygons_meet_boxes(plane[which], cell_boxes)
            found_fp.append(fps[which[meets]])
            found_cell.append(local[meets] + region.start)
        if not found_fp:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        fp = np.concatenate(found_fp)
        cell = np.concatenate(found_cell)
        order = np.lexsort((cell, fp))
        return fp[order], cell[order]

    def match_radec(self, footprints: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`match` for polygons given as RA, Dec vertices, each (V, 2) (deg)."""
        if not len(footprints):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        radec = pad(footprints)
        return self.match(sphere.unit_vectors(radec[..., 0], radec[..., 1]))

    def match_one(self, vertices: np.ndarray) -> list[int]:
        """Global indices of the skycells one footprint (V, 3) meets."""
        _, cells = self.match([vertices])
        return cells.tolist()


def pad(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Polygons (each (V_i, 3) or (V_i, 2)) as one array, shorter ones padded with their last vertex."""
    longest = max(len(p) for p in polygons)
    out = np.empty((len(polygons), longest, polygons[0].shape[-1]))
    for i, p in enumerate(polygons):
        out[i, :len(p)] = p
        out[i, len(p):] = p[-1]
    return out


# -- finding and caching maps ------------------------------------------------------------

_OPEN: dict[tuple[str, int, int], SkyMap] = {}


def open_skymap(path: str | os.PathLike) -> SkyMap:
    """The sky map at ``path``, opened once per process (reopened when the file changes)."""
    resolved = Path(path).expanduser().resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise SkyMapError(f"sky map {path} not found") from exc
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key not in _OPEN:
        _OPEN[key] = SkyMap(resolved)
    return _OPEN[key]


def skymap_path(given: str | os.PathLike | None = None) -> str | None:
    """``given``, else the first of ``ROMANASN_SKYMAP`` and ``SKYMAP_PATH`` that is set."""
    if given:
        return str(given)
    return next((os.environ[name] for name in ENV_VARS if os.environ.get(name)), None)
