"""Making a local sky map: skycells around a point, in the official map's format and geometry.

For users without the official SKYCELLS reference file (and for tests). The
map covers the circle of ``radius`` degrees around ``(ra, dec)`` with
projection regions laid out like the official ones, but not the same ones:

- a polar cap of radius :data:`CAP_RADIUS` around a pole the circle comes
  near (tangent at the pole, RA bounds 0-360);
- elsewhere, bands of Dec at most :data:`REGION_SIZE` high, each cut in RA
  into regions at most :data:`REGION_SIZE` wide on the sky, tangent at their
  centre, with ``orientat`` 0;
- in each region, skycells of ``5000 x 5000`` pixels of 0.055 arcsec, one
  every 4800 pixels (100 border pixels on each side overlap the
  neighbours), centred on the tangent point and every 4800 pixels from it,
  kept where they meet the region (its RA/Dec box, or its outline as
  romancal draws it);
- names ``<RRR><p|m><DD>x<XX>y<YY>`` as in the official map: the rounded RA
  and Dec of the region's tangent point, then 50 plus the skycell's steps
  from the tangent point along the pixel y axis (``x``) and x axis (``y``).

The names are local: the same name in the official map is another skycell.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from romanasn_skycell import sphere
from romanasn_skycell.skymap import REGION_FIELDS, SKYCELL_FIELDS, region_outline

PIXEL_SCALE = 0.055  # arcsec
NXY = 5000
BORDER = 100
STEP = NXY - 2 * BORDER
REGION_SIZE = 3.6  # deg: the largest height and width of a region on the sky
CAP_RADIUS = 1.8  # deg
MAX_RADIUS = 15.0  # deg
SAMPLES = 97  # points along each constant-Dec edge of a region's box
CENTRE_INDEX = 50  # the name index of the skycell on the tangent point

REGION_DTYPE = np.dtype([
    ("index", "<i4"), ("ra_tangent", "<f8"), ("dec_tangent", "<f8"), ("ra_min", "<f8"), ("ra_max", "<f8"),
    ("dec_min", "<f8"), ("dec_max", "<f8"), ("orientat", "<f4"), ("x_tangent", "<f8"), ("y_tangent", "<f8"),
    ("nx", "<i4"), ("ny", "<i4"), ("skycell_start", "<i4"), ("skycell_end", "<i4"),
])
SKYCELL_DTYPE = np.dtype([("name", "<U16"), ("ra_center", "<f8"), ("dec_center", "<f8"), ("orientat", "<f4"),
                          ("x_tangent", "<f8"), ("y_tangent", "<f8")]
                         + [(f"{axis}_corn{k}", "<f8") for k in range(1, 5) for axis in ("ra", "dec")])
assert REGION_DTYPE.names == REGION_FIELDS and SKYCELL_DTYPE.names == SKYCELL_FIELDS


def region_boxes(ra: float, dec: float, radius: float) -> list[tuple[float, float, float, float, float, float]]:
    """The regions covering the circle: (ra_tangent, dec_tangent, ra_min, ra_max, dec_min, dec_max)."""
    if not 0 < radius <= MAX_RADIUS:
        raise ValueError(f"the radius must be above 0 and at most {MAX_RADIUS} deg, got {radius}")
    if not -90 <= dec <= 90:
        raise ValueError(f"Dec must be within [-90, 90], got {dec}")
    ra = ra % 360.0
    low, high = dec - radius, dec + radius
    boxes = []
    if high > 90 - CAP_RADIUS:
        boxes.append((0.0, 90.0, 0.0, 360.0, 90.0 - CAP_RADIUS, 90.0))
    if low < -90 + CAP_RADIUS:
        boxes.append((0.0, -90.0, 0.0, 360.0, -90.0, -90.0 + CAP_RADIUS))
    low, high = max(low, -90 + CAP_RADIUS), min(high, 90 - CAP_RADIUS)
    if high <= low:
        return boxes
    if radius >= 90 - abs(dec):
        half_width = 180.0
    else:
        half_width = math.degrees(math.asin(min(1.0, math.sin(math.radians(radius)) / math.cos(math.radians(dec)))))
    bands = max(1, math.ceil((high - low) / REGION_SIZE - 1e-9))
    height = (high - low) / bands
    for b in range(bands):
        d0, d1 = low + b * height, low + (b + 1) * height
        widest = 0.0 if d0 <= 0 <= d1 else min(abs(d0), abs(d1))
        span = 360.0 if half_width >= 180 else 2 * half_width
        chunks = max(1, math.ceil(span * math.cos(math.radians(widest)) / REGION_SIZE - 1e-9))
        if span >= 360.0:
            chunks = max(chunks, 3)  # keep each region well under 180 deg of RA
        width = span / chunks
        start = 0.0 if span >= 360.0 else ra - half_width
        for c in range(chunks):
            r0 = start + c * width
            centre = (r0 + width / 2) % 360.0
            boxes.append((centre, (d0 + d1) / 2, r0 % 360.0, (r0 + width) % 360.0 or 360.0, d0, d1))
    return boxes


def _box_polygon(tangent: sphere.Tangent, row: np.void, polar: bool) -> np.ndarray:
    """A region's RA/Dec box in its plane, its constant-Dec edges sampled finely."""
    if polar:
        north = row["dec_max"] == 90.0
        dec_edge = row["dec_min"] if north else row["dec_max"]
        ras = np.linspace(0.0, 360.0, 361)[:-1]
        # the circle a hair wider, so the sampled polygon holds the true circle
        decs = np.full_like(ras, dec_edge - 1e-4 if north else dec_edge + 1e-4)
        return tangent.project_radec(ras, decs)
    width = (row["ra_max"] - row["ra_min"]) % 360.0 or 360.0
    along = row["ra_min"] + width * np.linspace(0.0, 1.0, SAMPLES)
    ras = np.concatenate((along, along[::-1]))
    decs = np.concatenate((np.full(SAMPLES, row["dec_min"]), np.full(SAMPLES, row["dec_max"])))
    return tangent.project_radec(ras, decs)


def _region_skycells(row: np.void) -> tuple[np.ndarray, int, int]:
    """The skycells of one region (sorted by name), and its pixel grid size."""
    scale = PIXEL_SCALE / 3600.0
    polar = row["dec_max"] == 90.0 or row["dec_min"] == -90.0
    tangent = sphere.Tangent(row["ra_tangent"], row["dec_tangent"], 0.0, scale)
    shapes = [_box_polygon(tangent, row, polar), tangent.project(region_outline(row))]
    extent = np.max([np.abs(shape).max(axis=0) for shape in shapes], axis=0)
    reach = np.ceil((extent + NXY / 2) / STEP).astype(int)
    kx, ky = np.meshgrid(np.arange(-reach[0], reach[0] + 1), np.arange(-reach[1], reach[1] + 1), indexing="ij")
    kx, ky = kx.ravel(), ky.ravel()
    boxes = np.stack((kx * STEP - NXY / 2, ky * STEP - NXY / 2, kx * STEP + NXY / 2, ky * STEP + NXY / 2), axis=1)
    keep = np.zeros(len(boxes), dtype=bool)
    for shape in shapes:
        lo, hi = shape.min(axis=0), shape.max(axis=0)
        near = np.flatnonzero((boxes[:, 0] <= hi[0]) & (boxes[:, 2] >= lo[0])
                              & (boxes[:, 1] <= hi[1]) & (boxes[:, 3] >= lo[1]) & ~keep)
        for chunk in np.array_split(near, max(1, len(near) // 256)):
            keep[chunk] |= sphere.polygons_meet_boxes(np.broadcast_to(shape, (len(chunk),) + shape.shape),
                                                      boxes[chunk])
    kx, ky = kx[keep], ky[keep]
    if np.any(np.abs(np.concatenate((kx, ky))) >= CENTRE_INDEX):
        raise ValueError("a region reaches more than 49 skycells from its tangent point")
    cells = np.zeros(len(kx), dtype=SKYCELL_DTYPE)
    prefix = f"{int(round(row['ra_tangent'])) % 360:03d}{'p' if row['dec_tangent'] >= 0 else 'm'}" \
             f"{int(round(abs(row['dec_tangent']))):02d}"
    cells["name"] = [f"{prefix}x{CENTRE_INDEX + y:02d}y{CENTRE_INDEX + x:02d}" for x, y in zip(kx, ky)]
    half = (NXY - 1) / 2.0  # the centre pixel, 2499.5
    cells["x_tangent"] = half - kx * STEP
    cells["y_tangent"] = half - ky * STEP
    centre = np.stack((kx * STEP, ky * STEP), axis=1).astype(float)
    cells["ra_center"], cells["dec_center"] = tangent.deproject_radec(centre)
    cells["orientat"] = -sphere.wrap180(cells["ra_center"] - row["ra_tangent"])
    low = -np.stack((cells["x_tangent"], cells["y_tangent"]), axis=1) - 0.5
    for k, (dx, dy) in enumerate(((0, 0), (NXY, 0), (NXY, NXY), (0, NXY)), start=1):
        cells[f"ra_corn{k}"], cells[f"dec_corn{k}"] = tangent.deproject_radec(low + np.array([dx, dy]))
    size = 2 * (reach * STEP + NXY) + 1
    return np.sort(cells, order="name"), int(size[0]), int(size[1])


def make_skymap(ra: float, dec: float, radius: float) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The meta, projection regions and skycells of a local map around ``(ra, dec)``."""
    regions = np.zeros(0, dtype=REGION_DTYPE)
    rows, cells = [], []
    start = 0
    for index, (ra_t, dec_t, ra_min, ra_max, dec_min, dec_max) in enumerate(region_boxes(ra, dec, radius)):
        row = np.zeros(1, dtype=REGION_DTYPE)[0]
        row["index"], row["ra_tangent"], row["dec_tangent"] = index, ra_t, dec_t
        row["ra_min"], row["ra_max"], row["dec_min"], row["dec_max"] = ra_min, ra_max, dec_min, dec_max
        region_cells, nx, ny = _region_skycells(row)
        row["nx"], row["ny"] = nx, ny
        row["x_tangent"], row["y_tangent"] = (nx - 1) / 2.0, (ny - 1) / 2.0
        row["skycell_start"], row["skycell_end"] = start, start + len(region_cells)
        start += len(region_cells)
        rows.append(row)
        cells.append(region_cells)
    regions = np.array(rows, dtype=REGION_DTYPE)
    skycells = np.concatenate(cells) if cells else np.zeros(0, dtype=SKYCELL_DTYPE)
    names, counts = np.unique(skycells["name"], return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"skycell names repeat: {', '.join(names[counts > 1][:5])}")
    meta = {
        "author": "romanasn-skycell",
        "description": (f"Local skycells around RA {ra:g}, Dec {dec:g}, radius {radius:g} deg, made by "
                        "romanasn skymap make: the geometry of the official map, but its names are local, "
                        "not official"),
        "instrument": {"name": "WFI"},
        "nxy_skycell": NXY,
        "origin": "romanasn",
        "pedigree": "GROUND",
        "pixel_scale": PIXEL_SCALE,
        "reftype": "SKYCELLS",
        "skycell_border_pixels": BORDER,
        "telescope": "ROMAN",
        "useafter": "2020-01-01T00:00:00.000",
    }
    return meta, regions, skycells


def write_skymap(path: str | os.PathLike, ra: float, dec: float, radius: float, *, overwrite: bool = False) -> dict:
    """Write a local map (ASDF, lz4-compressed blocks) and return a summary.

    The tree is the official one (``roman``: ``meta``, ``projection_regions``,
    ``skycells``) without the official SKYCELLS tag, which would claim an
    official origin.
    """
    from romanasn_skycell.asdfblocks import write_asdf

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; not overwriting it")
    meta, regions, skycells = make_skymap(ra, dec, radius)
    tree = {"roman": {"meta": meta, "projection_regions": regions, "skycells": skycells}}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_asdf(tmp, tree)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": str(path), "regions": len(regions), "skycells": len(skycells),
            "first": str(skycells["name"][0]) if len(skycells) else None}
