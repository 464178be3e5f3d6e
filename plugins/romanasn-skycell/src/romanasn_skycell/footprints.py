"""Exposure footprints on the sky, from a pool's rows.

A row's footprint is its ``s_region`` polygon (``POLYGON ICRS  ra1 dec1
...``, which ``make-pool`` reads from a Level 2 file's ``wcsinfo``). A row
without one, but with ``ra_ref`` and ``dec_ref``, gets an approximate
footprint: a WFI detector (4088 x 4088 pixels of 0.11 arcsec) centred on the
reference point and turned by ``roll_ref`` (0 when missing). The detector's
distortion and the exact place of its reference point are ignored, so an
approximate footprint can miss, or add, a skycell it barely touches; the
associations say which members were placed this way.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from romanasn_skycell import sphere

#: Pixels along each side of a WFI detector's science area.
WFI_DETECTOR_PIXELS = 4088
#: WFI pixel scale (arcsec).
WFI_PIXEL_SCALE = 0.11
#: Side of a WFI detector on the sky (deg).
WFI_DETECTOR_SIZE = WFI_DETECTOR_PIXELS * WFI_PIXEL_SCALE / 3600.0

APPROXIMATION = (
    f"a {WFI_DETECTOR_PIXELS} x {WFI_DETECTOR_PIXELS} pixel WFI detector "
    f"({WFI_DETECTOR_SIZE:.4f} deg square) centred on ra_ref, dec_ref and turned by roll_ref, "
    "used where the pool has no s_region"
)

SOURCE_S_REGION, SOURCE_APPROXIMATE, SOURCE_NONE = "s_region", "approximate", "none"


def parse_s_region(text: Any) -> np.ndarray | None:
    """The (V, 2) RA, Dec vertices of an ``s_region`` polygon, or None when it holds none.

    Accepts ``POLYGON [frame] ra1 dec1 ra2 dec2 ...`` with any spacing and
    frame word (ICRS, or none); a closing vertex equal to the first is
    dropped. Anything else (a circle, a union, bad numbers) gives None.
    """
    if not isinstance(text, str):
        return None
    parts = text.split()
    if len(parts) < 7 or parts[0].upper() != "POLYGON":
        return None
    numbers = parts[1:]
    if not _is_number(numbers[0]):
        numbers = numbers[1:]
    if len(numbers) < 6 or len(numbers) % 2:
        return None
    try:
        values = [float(n) for n in numbers]
    except ValueError:
        return None
    if values[0] == values[-2] and values[1] == values[-1] and len(values) > 6:
        values = values[:-2]
    vertices = np.array(values).reshape(-1, 2)
    if not np.isfinite(vertices).all() or np.abs(vertices[:, 1]).max() > 90:
        return None
    return vertices


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def approximate(ra: float, dec: float, roll: float = 0.0, size: float = WFI_DETECTOR_SIZE) -> np.ndarray:
    """The (4, 2) RA, Dec corners of a square detector of side ``size`` (deg) centred on ``ra``, ``dec``.

    The square's sides are turned by ``roll`` (deg, east of north); its
    edges are great circles (straight in the tangent plane at its centre).
    """
    half = size / 2.0
    tangent = sphere.Tangent(ra, dec, roll, 1.0)
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    ras, decs = tangent.deproject_radec(corners)
    return np.stack((ras, decs), axis=1)


def s_region_text(vertices: np.ndarray) -> str:
    """``POLYGON ICRS  ra1 dec1 ...`` for (V, 2) vertices, as Roman writes it (two spaces after ICRS)."""
    return "POLYGON ICRS  " + " ".join(f"{ra:.9f} {dec:.9f}" for ra, dec in vertices)


def _column(table: Any, name: str, rows: np.ndarray, fill: Any) -> list:
    if name not in table.colnames:
        return [fill] * len(rows)
    column = table[name]
    mask = np.ma.getmaskarray(column)[rows] if hasattr(column, "mask") else np.zeros(len(rows), bool)
    values = np.asarray(column)[rows].tolist()
    return [fill if masked else value for value, masked in zip(values, mask)]


def row_footprints(table: Any, rows: np.ndarray) -> tuple[list[np.ndarray | None], list[str]]:
    """The RA, Dec vertices of each of ``rows`` and where they came from.

    :return: per row, a (V, 2) array or None, and ``"s_region"``,
        ``"approximate"`` or ``"none"``. Computed once per table (and kept
        while the table lives).
    """
    vertices, sources = table_footprints(table)
    index = np.asarray(rows, dtype=np.int64).tolist()
    return [vertices[i] for i in index], [sources[i] for i in index]


_TABLES: "weakref.WeakKeyDictionary[Any, tuple[list, list[str]]]" = weakref.WeakKeyDictionary()


def table_footprints(table: Any) -> tuple[list[np.ndarray | None], list[str]]:
    """The footprint and its source of every row of ``table`` (cached per table)."""
    try:
        found = _TABLES.get(table)
    except TypeError:  # a table that takes no weak reference: no cache
        found = None
    if found is not None and len(found[0]) == len(table):
        return found
    rows = np.arange(len(table))
    s_regions = _column(table, "s_region", rows, None)
    ras = _column(table, "ra_ref", rows, None)
    decs = _column(table, "dec_ref", rows, None)
    rolls = _column(table, "roll_ref", rows, None)
    vertices: list[np.ndarray | None] = []
    sources: list[str] = []
    for s_region, ra, dec, roll in zip(s_regions, ras, decs, rolls):
        polygon = parse_s_region(s_region)
        if polygon is not None:
            vertices.append(polygon)
            sources.append(SOURCE_S_REGION)
        elif _finite(ra) and _finite(dec) and abs(float(dec)) <= 90:
            vertices.append(approximate(float(ra), float(dec), float(roll) if _finite(roll) else 0.0))
            sources.append(SOURCE_APPROXIMATE)
        else:
            vertices.append(None)
            sources.append(SOURCE_NONE)
    found = (vertices, sources)
    try:
        _TABLES[table] = found
    except TypeError:
        pass
    return found


def has_footprint(table: Any) -> np.ndarray:
    """Per pool row: whether it has an ``s_region`` polygon or a reference point to place it by."""
    _, sources = table_footprints(table)
    return np.array([source != SOURCE_NONE for source in sources], dtype=bool)


def _finite(value: Any) -> bool:
    if value is None:
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
