"""The small spherical and planar geometry the pack rests on."""

import numpy as np
import pytest
from romanasn_skycell import sphere
from romanasn_skycell.footprints import approximate, parse_s_region, s_region_text


@pytest.mark.parametrize("ra0, dec0, orientat", [(0.0, 90.0, 0.0), (135.0, 90.0, 0.0), (0.0, 86.4, 0.0),
                                                 (150.0, -30.0, 25.0), (359.9, -89.5, -40.0)])
def test_tangent_round_trip(ra0, dec0, orientat):
    plane = sphere.Tangent(ra0, dec0, orientat, 0.055 / 3600)
    xy = np.array([[0.0, 0.0], [1000.5, -2000.25], [-60000.0, 45000.0]])
    ra, dec = plane.deproject_radec(xy)
    assert np.allclose(plane.project_radec(ra, dec), xy, atol=1e-6)
    assert np.allclose(plane.project_radec([ra0], [dec0]), 0.0, atol=1e-6)


def test_tangent_axes_point_east_and_north():
    plane = sphere.Tangent(10.0, 20.0, 0.0, 1.0)
    east = plane.project_radec([10.01], [20.0])[0]
    north = plane.project_radec([10.0], [20.01])[0]
    assert east[0] > 0 and abs(east[1]) < 1e-4
    assert north[1] > 0 and abs(north[0]) < 1e-9


def test_points_behind_the_plane_are_nan():
    plane = sphere.Tangent(0.0, 0.0)
    assert np.isnan(plane.project_radec([180.0], [0.0])).all()


def test_radec_wraps_ra_and_handles_the_pole():
    ra, dec = sphere.radec(sphere.unit_vectors([-10.0, 370.0, 0.0], [5.0, -5.0, 90.0]))
    assert np.allclose(ra[:2], [350.0, 10.0]) and np.allclose(dec, [5.0, -5.0, 90.0])


def test_angle_between_is_accurate_for_small_angles():
    a = sphere.unit_vectors([0.0], [0.0])[0]
    b = sphere.unit_vectors([1e-7], [0.0])[0]
    assert np.isclose(sphere.angle_between(a, b), 1e-7, rtol=1e-6)


SQUARE = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])


@pytest.mark.parametrize("other, meets", [
    (SQUARE + 1.0, True),                                             # overlapping corners
    (SQUARE + 3.0, False),                                            # apart
    (SQUARE * 0.25 + 0.5, True),                                      # inside
    (SQUARE * 4 - 3.0, True),                                         # around
    (np.array([[-1.0, 1.0], [3.0, 1.0], [3.0, 1.2], [-1.0, 1.2]]), True),  # crossing, no vertex inside
    (np.array([[2.0, 0.0], [3.0, 0.0], [3.0, 1.0]]), True),            # touching at a vertex
    (np.array([[2.5, -1.0], [4.0, 1.0], [2.5, 3.0]]), False),          # near but apart
])
def test_polygons_intersect(other, meets):
    assert sphere.polygons_intersect(SQUARE[None], other[None])[0] == meets
    assert sphere.polygons_intersect(other[None], SQUARE[None])[0] == meets


@pytest.mark.parametrize("polygon, meets", [
    (np.array([[1.0, 1.0], [3.0, 1.0], [3.0, 3.0]]), True),
    (np.array([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]]), True),   # surrounds the box
    (np.array([[-1.0, 1.0], [1.0, 3.0], [-1.0, 3.0]]), True),                # one edge cuts a corner
    (np.array([[-1.0, 2.5], [0.0, 3.5], [-1.0, 3.5]]), False),
    (np.array([[2.5, 2.5], [2.5, 2.5], [2.5, 2.5]]), False),                 # a point outside
    (np.array([[1.5, 0.5], [1.5, 0.5], [1.5, 0.5]]), True),                  # a point inside
])
def test_polygons_meet_boxes(polygon, meets):
    box = np.array([[0.0, 0.0, 2.0, 2.0]])
    assert sphere.polygons_meet_boxes(polygon[None], box)[0] == meets


def test_s_region_parsing():
    text = "POLYGON ICRS  357.9160941 86.0517521 359.4453835 86.1203556 358.4245659 86.2250475 356.8725108 86.1545769"
    vertices = parse_s_region(text)
    assert vertices.shape == (4, 2) and vertices[1, 0] == 359.4453835
    assert parse_s_region("polygon 1 2 3 4 5 6").shape == (3, 2)                 # no frame, lower case
    assert parse_s_region("POLYGON ICRS 1 2 3 4 5 6 1 2").shape == (3, 2)        # closed ring
    for bad in ("", None, "CIRCLE ICRS 1 2 3", "POLYGON ICRS 1 2 3", "POLYGON ICRS 1 2 3 4 5 x",
                "POLYGON ICRS 1 95 2 95 3 95", float("nan")):
        assert parse_s_region(bad) is None
    assert np.allclose(parse_s_region(s_region_text(vertices)), vertices)


def test_approximate_footprint_is_a_turned_detector_square():
    corners = approximate(10.0, 89.9, 30.0)
    plane = sphere.Tangent(10.0, 89.9, 0.0, 1.0)
    xy = plane.project_radec(corners[:, 0], corners[:, 1])
    sides = np.linalg.norm(np.roll(xy, -1, axis=0) - xy, axis=1)
    assert np.allclose(sides, 4088 * 0.11 / 3600, rtol=1e-6)
    angle = np.degrees(np.arctan2(xy[3, 0] - xy[0, 0], xy[3, 1] - xy[0, 1]))
    assert np.isclose(angle, 30.0)
