"""The imaging rules on small pools, with only the kernel and this pack (autoload off)."""

from pathlib import Path

import pytest

from romanasn import RunConfig, generate, read_pool, write_pool
from romanasn.testing import exposure_rows, manager_with, pool_table
from romanasn_wfi_imaging import plugin

DIST = "romanasn-wfi-imaging"
DATA = Path(__file__).parent / "data"
RULES = {
    "wfi_image_exposure": ("image2", 2),
    "wfi_image_fov": ("fov", 2),
    "wfi_image_visit": ("image3", 3),
    "wfi_image_pass": ("image3", 3),
    "wfi_image_full": ("image3", 3),
}
# program 1, pass 1, visits 1 and 2; program 1, pass 2, visit 1; program 2
P1_V1, P1_V2, P1_PASS2, P2 = "0000101001001001001", "0000101001001001002", "0000101002001001001", "0000201001001001001"


def run(rows, tmp_path, **config):
    """Write ``rows`` as a pool, read it back and run this pack's rules on it."""
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    pool = read_pool(tmp_path / "pool.ecsv")
    return generate(pool, config=RunConfig(**config), plugin_manager=manager_with((plugin, DIST)))


def products(result, rule):
    """{product name: [member file names]} of one rule's associations."""
    return {a.product_name: [m.expname for m in a.members] for a in result.associations if a.asn_rule == rule}


def files(visit, exposure, element, detectors, suffix="cal"):
    return [f"r{visit}_{exposure:04d}_wfi{d:02d}_{element.lower()}_{suffix}.asdf" for d in detectors]


@pytest.fixture
def result(tmp_path):
    """Two detectors per exposure: F158 twice and F087 in P1_V1, F158 in P1_V2, P1_PASS2 and P2;
    and a grism exposure and a dark, which are not this pack's."""
    rows = (exposure_rows(P1_V1, 1, detectors=[1, 2]) + exposure_rows(P1_V1, 2, detectors=[1, 2])
            + exposure_rows(P1_V1, 3, optical_element="F087", detectors=[1, 2])
            + exposure_rows(P1_V2, 1, detectors=[1, 2]) + exposure_rows(P1_PASS2, 1, detectors=[1, 2])
            + exposure_rows(P2, 1, detectors=[1, 2])
            + exposure_rows(P1_V2, 2, "WFI_SPECTRAL", "GRISM", detectors=[1])
            + exposure_rows(P2, 2, "WFI_IM_DARK", "DARK", detectors=[1]))
    return run(rows, tmp_path)


def test_the_pack_contributes_its_five_rules():
    pm = manager_with((plugin, DIST))
    assert {e.name: (e.rule.asn_type, e.rule.level) for e in pm.rules()} == RULES
    assert {e.plugin.name for e in pm.rules()} == {DIST}


def test_one_level2_association_per_exposure_file_with_its_level1_file(result):
    made = products(result, "wfi_image_exposure")
    assert len(made) == 12
    assert made["r0000101001001001001_0003_wfi02_f087"] == ["r0000101001001001001_0003_wfi02_f087_uncal.asdf"]
    association = next(a for a in result.associations if a.asn_rule == "wfi_image_exposure")
    assert (association.asn_type, association.members[0].exptype) == ("image2", "science")


def test_fov_takes_the_detectors_of_one_exposure_as_level2_files(result):
    made = products(result, "wfi_image_fov")
    assert len(made) == 6
    assert made["r0000101001001001001_0002_wfi_f158"] == files(P1_V1, 2, "F158", [1, 2])
    assert made["r0000201001001001001_0001_wfi_f158"] == files(P2, 1, "F158", [1, 2])


def test_level3_groups_by_visit_pass_and_program_per_element(result):
    assert products(result, "wfi_image_visit") == {
        "r00001_p_v01001001001001_f158": files(P1_V1, 1, "F158", [1, 2]) + files(P1_V1, 2, "F158", [1, 2]),
        "r00001_p_v01001001001001_f087": files(P1_V1, 3, "F087", [1, 2]),
        "r00001_p_v01001001001002_f158": files(P1_V2, 1, "F158", [1, 2]),
        "r00001_p_v01002001001001_f158": files(P1_PASS2, 1, "F158", [1, 2]),
        "r00002_p_v01001001001001_f158": files(P2, 1, "F158", [1, 2]),
    }
    assert products(result, "wfi_image_pass") == {
        "r00001_p_p01001_f158": files(P1_V1, 1, "F158", [1, 2]) + files(P1_V1, 2, "F158", [1, 2])
        + files(P1_V2, 1, "F158", [1, 2]),
        "r00001_p_p01001_f087": files(P1_V1, 3, "F087", [1, 2]),
        "r00001_p_p01002_f158": files(P1_PASS2, 1, "F158", [1, 2]),
        "r00002_p_p01001_f158": files(P2, 1, "F158", [1, 2]),
    }
    full = products(result, "wfi_image_full")
    assert sorted(full) == ["r00001_p_full_f087", "r00001_p_full_f158", "r00002_p_full_f158"]
    assert len(full["r00001_p_full_f158"]) == 8 and len(full["r00002_p_full_f158"]) == 2
    assert {a.asn_type for a in result.associations if a.asn_rule.endswith(("visit", "pass", "full"))} == {"image3"}


def test_other_exposure_types_are_left_alone(result):
    assert sorted(result.orphans) == [
        "r0000101001001001002_0002_wfi01_grism_uncal.asdf", "r0000201001001001001_0002_wfi01_dark_uncal.asdf"]


def test_members_follow_the_level_they_feed_whatever_level_the_pool_lists(tmp_path):
    result = run(exposure_rows(P1_V1, 1, detectors=[3], suffix="cal"), tmp_path)
    assert products(result, "wfi_image_exposure") == {
        "r0000101001001001001_0001_wfi03_f158": ["r0000101001001001001_0001_wfi03_f158_uncal.asdf"]}
    assert products(result, "wfi_image_full") == {"r00001_p_full_f158": files(P1_V1, 1, "F158", [3])}


def test_the_data_release_id_goes_into_level3_names(tmp_path):
    result = run(exposure_rows(P1_V1, 1, detectors=[1]), tmp_path, data_release_id="dr01")
    names = sorted(a.product_name for a in result.associations if a.asn_type == "image3")
    assert names == ["r00001_dr01_full_f158", "r00001_dr01_p01001_f158", "r00001_dr01_v01001001001001_f158"]
    assert {a.data_release_id for a in result.associations} == {"dr01"}


def test_a_full_exposure_has_18_fov_members(tmp_path):
    result = run(exposure_rows(P1_V1, 7), tmp_path)
    assert products(result, "wfi_image_fov") == {
        "r0000101001001001001_0007_wfi_f158": files(P1_V1, 7, "F158", range(1, 19))}


def test_a_degraded_exposure_stays_flagged_and_changes_the_degraded_status(tmp_path):
    rows = exposure_rows(P1_V1, 1, detectors=[1]) + exposure_rows(
        P1_V1, 2, detectors=[1], engineering_quality="SUSPECT")
    result = run(rows, tmp_path)
    visit = next(a for a in result.associations if a.asn_rule == "wfi_image_visit")
    flagged = {m.expname: m.exposerr for m in visit.members}
    assert flagged == {files(P1_V1, 1, "F158", [1])[0]: None,
                       files(P1_V1, 2, "F158", [1])[0]: "engineering_quality: SUSPECT"}
    assert visit.degraded_status.startswith("One or more members are degraded")
    clean = next(a for a in result.associations if a.product_name == "r0000101001001001001_0001_wfi_f158")
    assert clean.degraded_status == "No known degraded exposures in association."
    assert not result.vetoes


@pytest.mark.parametrize(("pool", "exposures"), [("pool_001_candidates.csv", 3), ("pool_002_wfi_image.csv", 2)])
def test_romancal_legacy_pools_give_one_fov_of_18_detectors_per_row(pool, exposures):
    table = read_pool(DATA / pool)
    result = generate(table, plugin_manager=manager_with((plugin, DIST)))
    fovs = products(result, "wfi_image_fov")
    # romancal 1.0.3 replaced "wfi" in the row's (level 2) name by each of the 18 detectors
    assert fovs == {
        f"r0099201005001001001_00101_{e:04d}_wfi": [
            f"r0099201005001001001_00101_{e:04d}_wfi{d:02d}_cal.asdf" for d in range(1, 19)]
        for e in range(1, exposures + 1)
    }
    assert len(products(result, "wfi_image_exposure")) == 18 * exposures
    assert products(result, "wfi_image_full") == {
        "r00992_p_full_f158": [name for members in fovs.values() for name in members]}
    candidates = {m.extra.get("asn_candidate") for a in result.associations for m in a.members}
    assert candidates <= {"[('o001'),('OBSERVATION')]", "[('o002'),('OBSERVATION')]"} and candidates
    assert not result.orphans
