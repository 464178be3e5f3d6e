"""Local sky maps: the official format and geometry, anywhere on the sky."""

import re

import numpy as np
import pytest
from romanasn_skycell import sphere
from romanasn_skycell.makemap import make_skymap, region_boxes, write_skymap
from romanasn_skycell.skymap import SkyMap, region_outline

NAME = re.compile(r"^[0-9]{3}[pm][0-9]{2}x[0-9]{2}y[0-9]{2}$")


def _core_cover(skymap, points):
    """Per point (P, 3): in how many skycell cores (without the border) of a region owning it it lies."""
    counts = np.zeros(len(points), dtype=int)
    for position in range(len(skymap.regions)):
        region, cells = skymap.region(position), skymap.cells(position)
        xy = region.tangent.project(points)
        low = cells.low + skymap.border
        high = cells.low + skymap.nxy - skymap.border
        inside = ((xy[:, None, 0] >= low[None, :, 0]) & (xy[:, None, 0] <= high[None, :, 0])
                  & (xy[:, None, 1] >= low[None, :, 1]) & (xy[:, None, 1] <= high[None, :, 1]))
        counts += inside.any(axis=1)
    return counts


def _disc(ra, dec, radius, n=400, seed=3):
    rng = np.random.default_rng(seed)
    plane = sphere.Tangent(ra, dec, 0.0, 1.0)
    r = radius * 0.98 * np.sqrt(rng.uniform(0, 1, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    # a distance on the sky of r deg: tan in the gnomonic plane
    xy = np.degrees(np.tan(np.radians(r)))[:, None] * np.stack((np.cos(angle), np.sin(angle)), axis=1)
    return plane.deproject(xy)


def test_the_negative_dec_map_has_the_official_layout(south_map):
    skymap = SkyMap(south_map)
    assert (skymap.nxy, skymap.border, skymap.pixel_scale_arcsec) == (5000, 100, 0.055)
    assert "not official" in skymap.meta["description"]
    assert len(skymap.regions) > 1
    for position in range(len(skymap.regions)):
        region, cells = skymap.region(position), skymap.cells(position)
        rows = cells.rows
        assert cells.grid is not None and cells.step == 4800
        assert all(NAME.match(str(name)) and str(name)[3] == "m" for name in rows["name"])
        assert list(rows["name"]) == sorted(rows["name"])
        # corners and centre are the skycell's pixel window in the region's projection
        centre = region.tangent.project_radec(rows["ra_center"], rows["dec_center"])
        assert np.allclose(centre, np.stack((2499.5 - rows["x_tangent"], 2499.5 - rows["y_tangent"]), axis=1),
                           atol=1e-4)
        for k, (dx, dy) in enumerate(((0, 0), (5000, 0), (5000, 5000), (0, 5000)), start=1):
            xy = region.tangent.project_radec(rows[f"ra_corn{k}"], rows[f"dec_corn{k}"])
            assert np.allclose(xy, cells.low + [dx, dy], atol=1e-4)
        # orientat as the official map gives it: minus the RA offset from the tangent point
        assert np.allclose(rows["orientat"], -sphere.wrap180(rows["ra_center"] - region.row["ra_tangent"]),
                           atol=1e-4)
        # the skycell on the tangent point is x50y50 of its region
        on_tangent = rows[(rows["x_tangent"] == 2499.5) & (rows["y_tangent"] == 2499.5)]
        assert [str(n)[6:] for n in on_tangent["name"]] == ["x50y50"]


def test_every_point_of_the_circle_is_in_a_skycell_core(south_map):
    skymap = SkyMap(south_map)
    points = _disc(150.0, -30.0, 2.0)
    assert np.all(_core_cover(skymap, points) >= 1)


@pytest.mark.parametrize("ra, dec, radius", [(10.0, 88.9, 2.0), (359.5, -1.0, 2.5), (0.0, -90.0, 1.0)])
def test_maps_across_ra0_the_equator_and_the_poles(ra, dec, radius):
    meta, regions, skycells = make_skymap(ra, dec, radius)
    assert len(np.unique(skycells["name"])) == len(skycells)
    assert regions["skycell_end"][-1] == len(skycells)
    assert np.array_equal(regions["skycell_start"][1:], regions["skycell_end"][:-1])
    for row in regions:
        outline = region_outline(row)
        assert len(outline) in (4, 15)
    if abs(dec) + radius > 88.2:
        polar = regions[(regions["dec_max"] == 90) | (regions["dec_min"] == -90)]
        assert len(polar) == 1 and polar["dec_tangent"][0] == np.sign(dec) * 90


def test_polar_and_ra0_maps_cover_their_circle(tmp_path):
    path = tmp_path / "north.asdf"
    write_skymap(path, 10.0, 88.9, 2.0)
    skymap = SkyMap(path)
    assert np.all(_core_cover(skymap, _disc(10.0, 88.9, 2.0)) >= 1)
    path = tmp_path / "ra0.asdf"
    write_skymap(path, 359.5, 20.0, 1.0)
    skymap = SkyMap(path)
    assert np.all(_core_cover(skymap, _disc(359.5, 20.0, 1.0)) >= 1)


def test_bad_requests():
    with pytest.raises(ValueError):
        region_boxes(0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        region_boxes(0.0, 0.0, 40.0)
    with pytest.raises(ValueError):
        region_boxes(0.0, 95.0, 1.0)


def test_an_existing_file_is_kept(tmp_path):
    path = tmp_path / "m.asdf"
    path.write_text("keep me")
    with pytest.raises(FileExistsError):
        write_skymap(path, 0.0, 0.0, 0.3)
    assert path.read_text() == "keep me"
