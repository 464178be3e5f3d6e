"""Reading the real sky map subset and matching footprints on it (near the pole, across RA 0)."""

import json
import warnings
from pathlib import Path

import asdf
import numpy as np
import pytest
from romanasn_skycell import sphere
from romanasn_skycell.footprints import parse_s_region
from romanasn_skycell.skymap import SkyMap, SkyMapError, open_skymap, region_outline

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def full_tables(subset_map):
    """The subset's tables read whole by asdf (the reference the partial reader must equal)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with asdf.open(subset_map, lazy_load=False, memmap=False) as af:
            return af["roman"]["projection_regions"][:].copy(), af["roman"]["skycells"][:].copy()


@pytest.fixture
def fresh(subset_map):
    return SkyMap(subset_map)


def test_the_subset_opens_without_reading_skycells(fresh):
    assert len(fresh.regions) == 2 and fresh.n_skycells == 3987
    assert (fresh.nxy, fresh.border, fresh.pixel_scale_arcsec) == (5000, 100, 0.055)
    assert fresh._cells == {}


def test_partial_reads_equal_asdf_whole_reads(fresh, full_tables):
    regions, skycells = full_tables
    assert np.array_equal(fresh.regions, regions)
    for position in (1, 0):
        region = fresh.regions[position]
        rows = fresh.cells(position).rows
        assert np.array_equal(rows, skycells[region["skycell_start"]:region["skycell_end"]])
    # arbitrary slices, across lz4 chunk boundaries or not
    node = fresh._skycells_node
    for start, stop in ((0, 1), (1984, 1990), (3000, 3987), (3986, 3987)):
        assert np.array_equal(fresh._file.rows(node, start, stop), skycells[start:stop])


def test_the_skycell_outside_both_regions_is_never_reached(fresh, full_tables):
    _, skycells = full_tables
    stray = int(np.flatnonzero(skycells["name"] == "045p86x25y47")[0])
    assert stray == 3986
    with pytest.raises(KeyError):
        fresh.region_of(stray)
    centre = sphere.unit_vectors([skycells["ra_center"][stray]], [skycells["dec_center"][stray]])
    names = [fresh.name(i) for i in fresh.match_one(centre)]
    assert "045p86x25y47" not in names


def test_wcs_info_holds_the_twelve_values_from_the_map(fresh, full_tables):
    regions, skycells = full_tables
    index = int(np.flatnonzero(skycells["name"] == "000p86x47y47")[0])
    info = fresh.wcs_info(index)
    assert list(info) == ["name", "pixel_scale", "ra_projection_center", "dec_projection_center",
                          "x0_projection", "y0_projection", "ra_center", "dec_center", "nx", "ny",
                          "orientat", "orientat_projection_center"]
    row, region = skycells[index], regions[1]
    assert info["name"] == "000p86x47y47"
    assert info["pixel_scale"] == 0.055 / 3600
    assert info["ra_projection_center"] == region["ra_tangent"]
    assert info["dec_projection_center"] == region["dec_tangent"]
    assert (info["x0_projection"], info["y0_projection"]) == (row["x_tangent"], row["y_tangent"])
    assert (info["ra_center"], info["dec_center"]) == (row["ra_center"], row["dec_center"])
    assert (info["nx"], info["ny"]) == (5000, 5000)
    assert info["orientat"] == float(row["orientat"]) and info["orientat_projection_center"] == 0.0
    json.dumps(info)  # plain JSON values
    assert fresh.index_of("000p86x47y47") == index
    with pytest.raises(KeyError):
        fresh.index_of("000p86x99y99")


def test_table_corners_are_the_pixel_grid_windows(fresh, full_tables):
    """The geometry the matcher assumes: a skycell is pixels -0.5 .. 4999.5 of its region's grid."""
    _, skycells = full_tables
    for position in (0, 1):
        region = fresh.region(position)
        rows = fresh.cells(position).rows[::97]
        for k, (dx, dy) in enumerate(((0, 0), (5000, 0), (5000, 5000), (0, 5000)), start=1):
            xy = region.tangent.project_radec(rows[f"ra_corn{k}"], rows[f"dec_corn{k}"])
            expected = np.stack((-rows["x_tangent"] - 0.5 + dx, -rows["y_tangent"] - 0.5 + dy), axis=1)
            assert np.allclose(xy, expected, atol=1e-3)


def test_polar_cap_outline_is_romancals_15_gon(fresh):
    ra, dec = sphere.radec(region_outline(fresh.regions[0]))
    assert len(ra) == 15 and np.allclose(dec, fresh.regions[0]["dec_min"])
    assert np.allclose(np.sort(ra), np.arange(0, 360, 24), atol=1e-6)


def test_the_map_is_opened_once_per_path(subset_map):
    assert open_skymap(subset_map) is open_skymap(str(subset_map))


def test_not_a_map(tmp_path):
    (tmp_path / "x.asdf").write_text("hello")
    with pytest.raises(SkyMapError):
        SkyMap(tmp_path / "x.asdf")
    with pytest.raises(SkyMapError):
        SkyMap(tmp_path / "missing.asdf")


# -- matching -------------------------------------------------------------------------------


def _inside_quads(points, corners):
    """Which points (P, 3) lie inside which great-circle quadrilaterals (Q, 4, 3): (P, Q), by edge signs."""
    normals = np.cross(corners, np.roll(corners, -1, axis=1))          # (Q, 4, 3)
    signs = np.einsum("qkc,pc->pqk", normals, points)
    return np.all(signs > 0, axis=2) | np.all(signs < 0, axis=2)


def _samples(vertices, n=30):
    """Points filling a quadrilateral footprint (RA, Dec vertices), as unit vectors."""
    centre = sphere.normalise(sphere.unit_vectors(vertices[:, 0], vertices[:, 1]).mean(axis=0))
    ra0, dec0 = sphere.radec(centre)
    plane = sphere.Tangent(float(ra0), float(dec0), 0.0, 1.0)
    xy = plane.project_radec(vertices[:, 0], vertices[:, 1])
    s, t = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    s, t = s.ravel()[:, None], t.ravel()[:, None]
    points = (1 - s) * (1 - t) * xy[0] + s * (1 - t) * xy[1] + s * t * xy[2] + (1 - s) * t * xy[3]
    return plane.deproject(points)


def _footprint(ra, dec, roll, size=0.125):
    plane = sphere.Tangent(ra, dec, roll, 1.0)
    h = size / 2
    r, d = plane.deproject_radec(np.array([[-h, -h], [h, -h], [h, h], [-h, h]]))
    return np.stack((r, d), axis=1)


CASES = {
    "on the pole": (0.0, 90.0, 17.0),
    "near the pole": (200.0, 89.6, 70.0),
    "cap border": (5.0, 88.21, 10.0),
    "across RA 0": (0.02, 86.0, 30.0),
    "across RA 0, low": (359.97, 85.3, -20.0),
    "region 1 RA edge": (337.6, 86.5, 45.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_skycell_a_footprint_point_falls_in_is_matched(fresh, full_tables, case):
    regions, skycells = full_tables
    vertices = _footprint(*CASES[case])
    matched = set(fresh.match_one(sphere.unit_vectors(vertices[:, 0], vertices[:, 1])))
    assert matched
    points = _samples(vertices)
    corners = np.stack([sphere.unit_vectors(skycells[f"ra_corn{k}"], skycells[f"dec_corn{k}"])
                        for k in range(1, 5)], axis=1)
    in_cell = _inside_quads(points, corners)
    for position in (0, 1):
        start, stop = regions["skycell_start"][position], regions["skycell_end"][position]
        outline = region_outline(regions[position])
        if len(outline) == 4:
            in_region = _inside_quads(points, outline[None])[:, 0]
        else:  # the cap's 15-gon lies above Dec 88.24 everywhere
            in_region = sphere.radec(points)[1] > 88.25
        expected = {start + k for k in np.flatnonzero(in_cell[in_region, start:stop].any(axis=0))}
        assert expected <= matched, (case, sorted(expected - matched))
    # and nothing far: every matched skycell's centre lies within reach of the footprint
    centre = sphere.normalise(points.mean(axis=0))
    cells = sphere.unit_vectors(skycells["ra_center"][sorted(matched)], skycells["dec_center"][sorted(matched)])
    assert np.all(sphere.angle_between(cells, centre) < 0.125 * 0.75 + 0.076 * 0.75)


def test_matching_reads_only_the_regions_reached(fresh):
    vertices = _footprint(*CASES["across RA 0"])
    names = [fresh.name(i) for i in fresh.match_one(sphere.unit_vectors(vertices[:, 0], vertices[:, 1]))]
    assert set(fresh._cells) == {1}
    assert all(name.startswith("000p86") for name in names)
    ras = [fresh.wcs_info(fresh.index_of(n))["ra_center"] for n in names]
    assert any(0 < r < 180 for r in ras) and any(r > 180 for r in ras)   # both sides of RA 0


def test_a_footprint_over_the_pole_meets_the_cap_centre(fresh):
    vertices = _footprint(*CASES["on the pole"])
    names = {fresh.name(i) for i in fresh.match_one(sphere.unit_vectors(vertices[:, 0], vertices[:, 1]))}
    assert "135p90x50y50" in names and all(n.startswith("135p90") for n in names)


def test_far_footprints_meet_nothing(fresh):
    for ra, dec in ((0.0, 0.0), (180.0, 60.0), (90.0, 80.0)):
        vertices = _footprint(ra, dec, 0.0)
        assert fresh.match_one(sphere.unit_vectors(vertices[:, 0], vertices[:, 1])) == []


def test_agreement_with_romancal(fresh):
    """Footprints matched by romancal 1.1.0's find_skycell_matches on this map (scripts/compare_romancal.py)."""
    cases = json.loads((DATA / "romancal_matches.json").read_text())["cases"]
    assert len(cases) > 100
    vertices = [parse_s_region(case["s_region"]) for case in cases]
    which, cells = fresh.match_radec(vertices)
    for k, case in enumerate(cases):
        mine = sorted(fresh.name(i) for i in cells[which == k])
        assert mine == sorted(case["skycells"]), case["s_region"]
