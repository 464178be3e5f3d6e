"""The skycell rules on pools near the pole, across RA 0 and at negative Dec."""

import logging
import re

import numpy as np
import pytest
from romanasn import RunConfig, generate
from romanasn.testing import exposure_rows, pool_table
from romanasn_skycell.rules import APPROXIMATE_KEY
from romanasn_skycell.testing import pointed_rows

WCS_KEYS = ["name", "pixel_scale", "ra_projection_center", "dec_projection_center", "x0_projection",
            "y0_projection", "ra_center", "dec_center", "nx", "ny", "orientat", "orientat_projection_center"]
SKYCELL = re.compile(r"[0-9]{3}[pm][0-9]{2}x[0-9]{2}y[0-9]{2}")
VISIT_A = "0000101001001001001"   # program 1, pass 1, segment 1, visit 1
VISIT_B = "0000101001002001001"   # program 1, pass 1, segment 2
VISIT_C = "0000101002001001001"   # program 1, pass 2


def _run(pool, pm, skymap, **options):
    config = RunConfig(pool_name="test", options={"skymap": str(skymap), **options})
    return generate(pool, config=config, plugin_manager=pm)


def _by_rule(result, rule):
    return [a for a in result.associations if a.asn_rule == rule]


@pytest.fixture(scope="module")
def polar_pool():
    """Three visits around the pole and across RA 0 in the real subset, two filters."""
    return pool_table(
        pointed_rows(VISIT_A, 1, "F158", 2.0, 86.4, 30.0)
        + pointed_rows(VISIT_A, 2, "F158", 2.01, 86.41, 30.0)
        + pointed_rows(VISIT_A, 3, "F087", 2.0, 86.4, 30.0)
        + pointed_rows(VISIT_B, 1, "F158", 0.0, 89.8, 0.0)
        + pointed_rows(VISIT_C, 1, "F158", 359.9, 88.0, 120.0)
    )


@pytest.fixture(scope="module")
def polar_result(polar_pool, pm, subset_map):
    return _run(polar_pool, pm, subset_map)


def test_one_association_per_grouping_skycell_and_filter(polar_result, polar_pool):
    counts = polar_result.counts
    assert set(counts) == {"skycell_visit", "skycell_pass", "skycell_daily", "skycell_full", "skycell_multiband"}
    assert all(counts[rule] > 0 for rule in counts)
    for rule, code in (("skycell_visit", "v01001001001001"), ("skycell_pass", "p01001"),
                       ("skycell_daily", "d01001001"), ("skycell_full", "full")):
        associations = _by_rule(polar_result, rule)
        names = [a.product_name for a in associations]
        assert len(names) == len(set(names))
        for a in associations:
            assert a.asn_type == "image"
            assert re.fullmatch(r"r00001_p_(v[0-9]{14}|p[0-9]{5}|d[0-9]{8}|full)_" + SKYCELL.pattern + r"_f(158|087)",
                                a.product_name)
            assert a.target == a.skycell_wcs_info["name"] == a.product_name.split("_")[3]
            assert list(a.skycell_wcs_info) == WCS_KEYS
            assert a.program == "00001" and a.data_release_id == "p"
            assert all(m.expname.endswith("_cal.asdf") and m.exptype == "science" for m in a.members)
            element = a.product_name.rsplit("_", 1)[1]
            assert all(f"_{element}_cal" in m.expname for m in a.members)
        assert any(code in name for name in names)


def test_full_program_holds_every_visit_of_a_skycell(polar_result):
    full = {a.product_name: {m.expname for m in a.members} for a in _by_rule(polar_result, "skycell_full")}
    for rule in ("skycell_visit", "skycell_pass", "skycell_daily"):
        for a in _by_rule(polar_result, rule):
            skycell, element = a.product_name.split("_")[3:5]
            assert {m.expname for m in a.members} <= full[f"r00001_p_full_{skycell}_{element}"]


def test_groupings_split_as_roman_names_say(polar_result):
    def skycells(rule, code):
        return {a.target for a in _by_rule(polar_result, rule) if f"_{code}_" in a.product_name}

    # pass 1 holds visits A and B (segments 1 and 2); pass 2 holds visit C
    assert skycells("skycell_pass", "p01001") == skycells("skycell_daily", "d01001001") | skycells(
        "skycell_daily", "d01001002")
    assert skycells("skycell_pass", "p01002") == skycells("skycell_visit", "v01002001001001")
    # the pole visit is on the cap, the others on region 1 (000p86) or both
    assert all(s.startswith("135p90") for s in skycells("skycell_daily", "d01001002"))
    assert all(s.startswith("000p86") for s in skycells("skycell_daily", "d01001001"))


def test_a_visit_across_ra0_reaches_skycells_on_both_sides(polar_result):
    ras = [a.skycell_wcs_info["ra_center"] for a in _by_rule(polar_result, "skycell_visit")
           if "_v01001001001001_" in a.product_name]
    assert any(0 < r < 180 for r in ras) and any(r > 180 for r in ras)


def test_multiband_lists_the_filters_mosaics(polar_result):
    multiband = {a.product_name: a for a in _by_rule(polar_result, "skycell_multiband")}
    per_filter = {a.product_name for a in polar_result.associations if a.asn_type == "image"}
    assert {name.rsplit("_", 1)[0] for name in per_filter} == set(multiband)
    for name, a in multiband.items():
        assert a.asn_type == "multiband" and a.target == name.split("_")[3]
        expected = sorted(f"{p}_coadd.asdf" for p in per_filter if p.rsplit("_", 1)[0] == name)
        assert [m.expname for m in a.members] == expected
        assert "psf_match_reference_filter" not in a.extra
    both = [a for a in multiband.values() if len(a.members) == 2]
    assert both and all(a.product_name.startswith("r00001_p_") for a in both)


def test_psf_reference_filter_and_data_release(polar_pool, pm, subset_map):
    config = RunConfig(pool_name="t", data_release_id="dr01",
                       options={"skymap": str(subset_map), "psf_match_reference_filter": "F158"})
    result = generate(polar_pool, config=config, plugin_manager=pm, rules=["skycell_multiband", "skycell_full"])
    multiband = _by_rule(result, "skycell_multiband")
    assert multiband and all(a.extra["psf_match_reference_filter"] == "F158" for a in multiband)
    assert all(a.product_name.startswith("r00001_dr01_") and a.data_release_id == "dr01"
               for a in result.associations)


def test_degraded_members_say_so(pm, subset_map):
    rows = pointed_rows(VISIT_A, 1, "F158", 2.0, 86.4, 30.0, engineering_quality="SUSPECT")
    result = _run(pool_table(rows), pm, subset_map)
    visit = _by_rule(result, "skycell_visit")
    assert visit and all(m.exposerr == "engineering_quality: SUSPECT" for a in visit for m in a.members)


def test_rows_without_s_region_are_placed_approximately_and_said_so(pm, subset_map):
    exact = pointed_rows(VISIT_A, 1, "F158", 2.0, 86.4, 30.0)
    rough = pointed_rows(VISIT_A, 2, "F158", 2.0, 86.4, 30.0, s_region=False)
    result = _run(pool_table(exact + rough), pm, subset_map)
    visit = _by_rule(result, "skycell_visit")
    noted = [a for a in visit if APPROXIMATE_KEY in a.extra]
    assert noted
    for a in visit:
        rough_members = {m.expname for m in a.members if "_0002_" in m.expname}
        if rough_members:
            assert sorted(rough_members) == a.extra[APPROXIMATE_KEY]["members"]
            assert "ra_ref" in a.extra[APPROXIMATE_KEY]["footprint"]
        else:
            assert APPROXIMATE_KEY not in a.extra
    # the approximate squares land on nearly the same skycells as the exact ones
    exact_cells = {a.target for a in visit if any("_0001_" in m.expname for m in a.members)}
    rough_cells = {a.target for a in visit if any("_0002_" in m.expname for m in a.members)}
    assert len(exact_cells ^ rough_cells) <= 0.2 * len(exact_cells)


def test_rows_that_cannot_be_placed_are_vetoed(pm, subset_map):
    rows = pointed_rows(VISIT_A, 1, "F158", 2.0, 86.4, 30.0, detectors=[1])
    rows += exposure_rows(VISIT_A, 2, "WFI_IMAGE", "F158", detectors=[1], suffix="cal")
    rows += exposure_rows(VISIT_A, 3, "WFI_FLAT", "F158", detectors=[1], suffix="cal")
    result = _run(pool_table(rows), pm, subset_map)
    vetoed = {(v.rule, v.filename) for v in result.vetoes}
    lost = "r0000101001001001001_0002_wfi01_f158_cal.asdf"
    assert {rule for rule, name in vetoed if name == lost} == set(result.counts)
    assert "r0000101001001001001_0003_wfi01_f158_cal.asdf" in result.orphans
    assert all(v.reason.startswith("no s_region") for v in result.vetoes)


def test_exposures_off_the_map_make_nothing(pm, subset_map):
    result = _run(pool_table(pointed_rows(VISIT_A, 1, "F158", 150.0, -30.0, 0.0)), pm, subset_map)
    assert result.associations == ()
    assert len(result.orphans) == 18


def test_negative_dec_with_a_local_map(pm, south_map):
    rows = (pointed_rows(VISIT_A, 1, "F158", 150.0, -30.0, 10.0)
            + pointed_rows(VISIT_A, 2, "F213", 150.05, -29.0, 10.0)      # near a region boundary
            + pointed_rows(VISIT_C, 1, "F158", 149.0, -31.2, 200.0))
    result = _run(pool_table(rows), pm, south_map)
    visit = _by_rule(result, "skycell_visit")
    assert visit
    assert all(re.fullmatch(r"[0-9]{3}m[0-9]{2}x[0-9]{2}y[0-9]{2}", a.target) for a in visit)
    assert len({a.target[:6] for a in visit}) > 1         # skycells of more than one region
    assert all(a.skycell_wcs_info["dec_projection_center"] < 0 for a in visit)
    covered = {m.expname for a in visit for m in a.members}
    assert len(covered) == 54                              # every detector file is on some skycell


def test_rules_are_skipped_with_one_debug_line_without_a_map(polar_pool, pm, caplog, monkeypatch):
    monkeypatch.delenv("ROMANASN_SKYMAP", raising=False)
    monkeypatch.delenv("SKYMAP_PATH", raising=False)
    with caplog.at_level(logging.DEBUG):
        result = generate(polar_pool, config=RunConfig(), plugin_manager=pm)
    assert result.associations == ()
    assert {s.rule for s in result.skipped} == {"skycell_visit", "skycell_pass", "skycell_daily", "skycell_full",
                                                "skycell_multiband"}
    said = [r for r in caplog.records if "--skymap" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.DEBUG  # the run's summary and report list them


def test_a_bad_map_is_a_usage_error(polar_pool, pm, tmp_path):
    from romanasn import UsageError

    (tmp_path / "bad.asdf").write_text("not a map")
    with pytest.raises(UsageError, match="--skymap"):
        _run(polar_pool, pm, tmp_path / "bad.asdf")


def test_the_placement_is_made_once_per_run(polar_pool, pm, subset_map, monkeypatch):
    from romanasn_skycell.skymap import SkyMap

    calls = []
    original = SkyMap.match

    def counting(self, footprints):
        calls.append(len(footprints))
        return original(self, footprints)

    monkeypatch.setattr(SkyMap, "match", counting)
    _run(polar_pool.copy(), pm, subset_map)
    assert calls == [len(polar_pool)]


def test_results_do_not_depend_on_row_order(polar_pool, pm, subset_map):
    shuffled = polar_pool[np.random.default_rng(0).permutation(len(polar_pool))]
    a = _run(polar_pool, pm, subset_map)
    b = _run(shuffled, pm, subset_map)
    assert [x.product_name for x in a.associations] == [x.product_name for x in b.associations]
    assert [x.members for x in a.associations] == [x.members for x in b.associations]
