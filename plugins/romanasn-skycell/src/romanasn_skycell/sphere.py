"""Small vectorised geometry on the unit sphere and in gnomonic (TAN) planes.

Everything the pack needs to put footprints on skycells, without a spherical
geometry library:

- points on the sky as unit vectors (:func:`unit_vectors`, :func:`radec`);
- gnomonic projections (:class:`Tangent`): a great circle is a straight line
  in the plane of a gnomonic projection, so two spherical polygons whose edges
  are great-circle arcs intersect exactly when their projections do, as long
  as both lie in the hemisphere around the tangent point;
- planar tests on many polygons at once: polygon against polygon
  (:func:`polygons_intersect`) and polygon against axis-aligned rectangle
  (:func:`polygons_meet_boxes`).

Angles are in degrees unless a name says otherwise.
"""

from __future__ import annotations

import numpy as np

RAD = np.pi / 180.0


def unit_vectors(ra, dec) -> np.ndarray:
    """Unit vectors (..., 3) of sky positions ``ra``, ``dec`` (deg, any matching shapes)."""
    ra = np.asarray(ra, dtype=float) * RAD
    dec = np.asarray(dec, dtype=float) * RAD
    cos_dec = np.cos(dec)
    return np.stack((cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)), axis=-1)


def radec(vectors) -> tuple[np.ndarray, np.ndarray]:
    """RA in [0, 360) and Dec (deg) of vectors (..., 3), which need not be unit length."""
    v = np.asarray(vectors, dtype=float)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    ra = np.arctan2(y, x) / RAD % 360.0
    dec = np.arctan2(z, np.hypot(x, y)) / RAD
    return ra, dec


def normalise(vectors) -> np.ndarray:
    v = np.asarray(vectors, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angle_between(a, b) -> np.ndarray:
    """Angular distance (deg) between unit vectors ``a`` and ``b`` (broadcast), stable at small angles."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return np.arctan2(cross, dot) / RAD


def wrap180(angle) -> np.ndarray:
    """An angle (deg) folded into (-180, 180]."""
    folded = (np.asarray(angle, dtype=float) + 180.0) % 360.0 - 180.0
    return np.where(folded == -180.0, 180.0, folded)


def bounding_cap(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """A cap (centre vector, radius in deg) holding the polygon of unit-vector ``vertices`` (V, 3).

    The centre is the normalised mean vertex; a cap under 90 deg is convex on
    the sphere, so it holds every great-circle edge between its vertices too.
    """
    centre = normalise(vertices.mean(axis=0))
    return centre, float(angle_between(vertices, centre).max())


def rotation(angle_deg: float) -> np.ndarray:
    """The 3x3 rotation by ``angle_deg`` about the z axis (counter-clockwise seen from +z)."""
    c, s = np.cos(angle_deg * RAD), np.sin(angle_deg * RAD)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_about(vectors: np.ndarray, axis: np.ndarray, angle_rad) -> np.ndarray:
    """Rotate ``vectors`` (..., 3) about the unit ``axis`` by ``angle_rad`` (right-handed, Rodrigues)."""
    v = np.asarray(vectors, dtype=float)
    k = np.asarray(axis, dtype=float)
    angle = np.asarray(angle_rad, dtype=float)[..., None]
    return (v * np.cos(angle) + np.cross(k, v) * np.sin(angle)
            + k * (np.sum(v * k, axis=-1, keepdims=True)) * (1.0 - np.cos(angle)))


class Tangent:
    """A gnomonic (TAN) projection about ``(ra0, dec0)``, its plane axes turned by ``orientat``.

    Plane coordinates are in units of ``scale`` degrees (a pixel size) from
    the tangent point: with ``orientat`` 0, +x points east and +y north at the
    tangent point, as in the FITS TAN projection with LONPOLE 180 and a
    positive CDELT on both axes (the convention of Roman's skycell WCS). A
    non-zero ``orientat`` applies the rotation matrix Roman's Level 3 WCS
    uses: ``x = cos(t) u + sin(t) v``, ``y = -sin(t) u + cos(t) v`` from pixel
    offsets ``(u, v)`` to intermediate coordinates ``(x, y)``.
    """

    def __init__(self, ra0: float, dec0: float, orientat: float = 0.0, scale: float = 1.0) -> None:
        self.ra0, self.dec0, self.orientat, self.scale = float(ra0), float(dec0), float(orientat), float(scale)
        a, d = ra0 * RAD, dec0 * RAD
        centre = np.array([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])
        east = np.array([-np.sin(a), np.cos(a), 0.0])
        north = np.array([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
        t = orientat * RAD
        # pixel axes: u = cos(t) x - sin(t) y, v = sin(t) x + cos(t) y
        u_axis = np.cos(t) * east - np.sin(t) * north
        v_axis = np.sin(t) * east + np.cos(t) * north
        self.matrix = np.stack((u_axis, v_axis, centre))
        self.centre = centre
        self._per_unit = 1.0 / (RAD * self.scale)

    def depth(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of the angle from the tangent point: the plane holds only points with depth > 0."""
        return np.asarray(vectors, float) @ self.centre

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Plane coordinates (..., 2) of unit vectors (..., 3); points behind the plane give nan."""
        local = np.asarray(vectors, float) @ self.matrix.T
        z = local[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(z > 0, self._per_unit / z, np.nan)
        return local[..., :2] * factor[..., None]

    def project_radec(self, ra, dec) -> np.ndarray:
        return self.project(unit_vectors(ra, dec))

    def deproject(self, xy) -> np.ndarray:
        """Unit vectors (..., 3) of plane coordinates (..., 2)."""
        xy = np.asarray(xy, dtype=float) / self._per_unit
        local = np.concatenate((xy, np.ones(xy.shape[:-1] + (1,))), axis=-1)
        return normalise(local @ self.matrix)

    def deproject_radec(self, xy) -> tuple[np.ndarray, np.ndarray]:
        return radec(self.deproject(xy))


# -- planar tests, many polygons at once --------------------------------------------------


def _cross(ox, oy, ax, ay, bx, by):
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox)


def points_in_polygons(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Whether each point (P, 2) lies inside its polygon (P, V, 2) (even-odd rule).

    Polygons may be padded by repeating their last vertex; a repeated vertex
    adds an empty edge, which the rule ignores.
    """
    px, py = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygons[..., 0], polygons[..., 1]
    x1, y1 = np.roll(x0, -1, axis=1), np.roll(y0, -1, axis=1)
    straddles = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing_x = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    crosses = straddles & (px < crossing_x)
    return (np.count_nonzero(crosses, axis=1) % 2) == 1


def polygons_intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether polygon ``a[i]`` (P, V, 2) meets polygon ``b[i]`` (P, W, 2) (or ``b`` (W, 2) for all).

    Two simple polygons meet when an edge of one crosses an edge of the
    other, or else when one holds a vertex of the other. Edges that only
    touch count as meeting.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if b.ndim == 2:
        b = np.broadcast_to(b, (a.shape[0],) + b.shape)
    ax0, ay0 = a[..., 0][:, :, None], a[..., 1][:, :, None]
    ax1, ay1 = np.roll(a[..., 0], -1, axis=1)[:, :, None], np.roll(a[..., 1], -1, axis=1)[:, :, None]
    bx0, by0 = b[..., 0][:, None, :], b[..., 1][:, None, :]
    bx1, by1 = np.roll(b[..., 0], -1, axis=1)[:, None, :], np.roll(b[..., 1], -1, axis=1)[:, None, :]
    d1 = _cross(bx0, by0, bx1, by1, ax0, ay0)
    d2 = _cross(bx0, by0, bx1, by1, ax1, ay1)
    d3 = _cross(ax0, ay0, ax1, ay1, bx0, by0)
    d4 = _cross(ax0, ay0, ax1, ay1, bx1, by1)
    proper = (d1 * d2 <= 0) & (d3 * d4 <= 0)
    # collinear pieces pass the sign test even when apart: require overlapping extents too
    overlap = ((np.minimum(ax0, ax1) <= np.maximum(bx0, bx1)) & (np.minimum(bx0, bx1) <= np.maximum(ax0, ax1))
               & (np.minimum(ay0, ay1) <= np.maximum(by0, by1)) & (np.minimum(by0, by1) <= np.maximum(ay0, ay1)))
    edges = np.any(proper & overlap, axis=(1, 2))
    inside = points_in_polygons(a[:, 0, :], b) | points_in_polygons(b[:, 0, :], a)
    return edges | inside


def polygons_meet_boxes(polygons: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether polygon ``polygons[i]`` (P, V, 2) meets the closed box ``boxes[i]`` = (xmin, ymin, xmax, ymax).

    A polygon meets a box when one of its edges enters the box (clipped
    against it, Liang-Barsky style) or, failing that, when it surrounds the
    box (it then holds the box's centre).
    """
    x0, y0 = polygons[..., 0], polygons[..., 1]
    dx, dy = np.roll(x0, -1, axis=1) - x0, np.roll(y0, -1, axis=1) - y0
    xmin, ymin, xmax, ymax = (boxes[:, k:k + 1] for k in range(4))
    low = np.zeros_like(x0)
    high = np.ones_like(x0)
    ok = np.ones(x0.shape, dtype=bool)
    for p, q in ((-dx, x0 - xmin), (dx, xmax - x0), (-dy, y0 - ymin), (dy, ymax - y0)):
        parallel = p == 0
        ok &= ~(parallel & (q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
        entering = (p < 0) & ~parallel
        leaving = (p > 0) & ~parallel
        low = np.where(entering, np.maximum(low, r), low)
        high = np.where(leaving, np.minimum(high, r), high)
    edges = np.any(ok & (low <= high), axis=1)
    centres = np.stack(((xmin + xmax)[:, 0] / 2, (ymin + ymax)[:, 0] / 2), axis=1)
    return edges | points_in_polygons(centres, polygons)
