"""The spectral rules on small pools, with only the kernel and this pack (autoload off)."""

import pytest

from romanasn import RunConfig, generate, read_pool, write_pool
from romanasn.testing import exposure_rows, manager_with, pool_table
from romanasn_wfi_spectral import plugin

DIST = "romanasn-wfi-spectral"
RULES = {
    "wfi_spec_exposure": ("spec2", 2),
    "wfi_spec_visit": ("spec3", 3),
    "wfi_spec_pass": ("spec3", 3),
    "wfi_spec_full": ("spec3", 3),
}
V1, V2, PASS2 = "0000101001001001001", "0000101001001001002", "0000101002001001001"


def run(rows, tmp_path, **config):
    """Write ``rows`` as a pool, read it back and run this pack's rules on it."""
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    pool = read_pool(tmp_path / "pool.ecsv")
    return generate(pool, config=RunConfig(**config), plugin_manager=manager_with((plugin, DIST)))


def members(result, rule):
    """{product name: [(member file name, exptype)]} of one rule's associations."""
    return {a.product_name: [(m.expname, m.exptype) for m in a.members]
            for a in result.associations if a.asn_rule == rule}


def name(visit, exposure, element, detector, suffix):
    return f"r{visit}_{exposure:04d}_wfi{detector:02d}_{element.lower()}_{suffix}.asdf"


@pytest.fixture
def result(tmp_path):
    """V1: F158 images 1, 2 and grism 3 on detectors 1-2; V2: F087 image 1 on detector 1, prism 2 on
    detectors 1-2; PASS2: grism 1 on detector 1, no direct image; a WFI_SPECTRAL row whose element
    is neither grism nor prism is not taken."""
    rows = (exposure_rows(V1, 1, detectors=[1, 2]) + exposure_rows(V1, 2, detectors=[1, 2])
            + exposure_rows(V1, 3, "WFI_SPECTRAL", "GRISM", detectors=[1, 2])
            + exposure_rows(V2, 1, optical_element="F087", detectors=[1])
            + exposure_rows(V2, 2, "WFI_SPECTRAL", "PRISM", detectors=[1, 2])
            + exposure_rows(PASS2, 1, "WFI_SPECTRAL", "GRISM", detectors=[1])
            + exposure_rows(PASS2, 2, "WFI_SPECTRAL", "NOT_CONFIGURED", detectors=[1]))
    return run(rows, tmp_path)


def test_the_pack_contributes_its_four_rules():
    pm = manager_with((plugin, DIST))
    assert {e.name: (e.rule.asn_type, e.rule.level) for e in pm.rules()} == RULES


def test_a_spectral_exposure_gets_the_direct_images_of_its_visit_and_detector(result):
    made = members(result, "wfi_spec_exposure")
    assert len(made) == 5
    assert made["r0000101001001001001_0003_wfi02_grism"] == [
        (name(V1, 3, "GRISM", 2, "uncal"), "science"),
        (name(V1, 1, "F158", 2, "cal"), "direct_image"),
        (name(V1, 2, "F158", 2, "cal"), "direct_image"),
    ]
    assert made["r0000101001001001002_0002_wfi02_prism"] == [(name(V2, 2, "PRISM", 2, "uncal"), "science")]
    assert made["r0000101001001001002_0002_wfi01_prism"] == [
        (name(V2, 2, "PRISM", 1, "uncal"), "science"), (name(V2, 1, "F087", 1, "cal"), "direct_image")]
    assert made["r0000101002001001001_0001_wfi01_grism"] == [(name(PASS2, 1, "GRISM", 1, "uncal"), "science")]
    assert {a.asn_type for a in result.associations if a.asn_rule == "wfi_spec_exposure"} == {"spec2"}


def test_level3_keeps_grism_and_prism_apart(result):
    science = [(name(V1, 3, "GRISM", d, "cal"), "science") for d in (1, 2)]
    prism = [(name(V2, 2, "PRISM", d, "cal"), "science") for d in (1, 2)]
    later = [(name(PASS2, 1, "GRISM", 1, "cal"), "science")]
    assert members(result, "wfi_spec_visit") == {
        "r00001_p_v01001001001001_grism": science,
        "r00001_p_v01001001001002_prism": prism,
        "r00001_p_v01002001001001_grism": later,
    }
    assert members(result, "wfi_spec_pass") == {
        "r00001_p_p01001_grism": science,
        "r00001_p_p01001_prism": prism,
        "r00001_p_p01002_grism": later,
    }
    assert members(result, "wfi_spec_full") == {"r00001_p_full_grism": science + later, "r00001_p_full_prism": prism}


def test_images_and_other_elements_are_not_taken(result):
    assert sorted(result.orphans) == sorted(
        [name(V1, e, "F158", d, "uncal") for e in (1, 2) for d in (1, 2)]
        + [name(V2, 1, "F087", 1, "uncal"), name(PASS2, 2, "NOT_CONFIGURED", 1, "uncal")])


def test_the_data_release_id_goes_into_level3_names(tmp_path):
    result = run(exposure_rows(V1, 1, "WFI_SPECTRAL", "PRISM", detectors=[1]), tmp_path, data_release_id="dr02")
    assert sorted(a.product_name for a in result.associations if a.asn_type == "spec3") == [
        "r00001_dr02_full_prism", "r00001_dr02_p01001_prism", "r00001_dr02_v01001001001001_prism"]


def test_legacy_grism_rows_of_the_whole_focal_plane_are_read_as_spectral(tmp_path):
    header = ("FILENAME|PROGRAM|EX_PLAN|PASS|SEQUENCE|OBS_NUM|VISIT|VISIT_ID|VISIT_GRP|SEQ_ID|ACT_ID|EXPCOUNT|"
              "EXP_TYPE|DETECTOR|OPT_ELEM|EXPOSERR")
    rows = [f"r0099201005001001001_00101_000{e}_WFI_uncal.asdf|992|1|5|1|1|1|0099201005001001001|1|1|1|{e}|"
            f"{kind}|WFI|{element}|NULL"
            for e, kind, element in ((1, "WFI_IMAGE", "F158"), (2, "WFI_GRISM", "NULL"))]
    (tmp_path / "legacy.csv").write_text("\n".join([header, *rows]) + "\n")
    result = generate(read_pool(tmp_path / "legacy.csv"), plugin_manager=manager_with((plugin, DIST)))
    made = members(result, "wfi_spec_exposure")
    assert len(made) == 18
    assert made["r0099201005001001001_00101_0002_wfi07"] == [
        ("r0099201005001001001_00101_0002_wfi07_uncal.asdf", "science"),
        ("r0099201005001001001_00101_0001_wfi07_cal.asdf", "direct_image"),
    ]
    assert list(members(result, "wfi_spec_full")) == ["r00992_p_full_grism"]
