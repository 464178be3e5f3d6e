"""The calibration rules, the MA table column and --drop-degraded, with only the kernel and this pack."""

import types

import pytest

from romanasn import MemberSpec, Rule, RunConfig, generate, hookimpl, isin, read_pool, write_pool
from romanasn.testing import exposure_rows, manager_with, pool_table
from romanasn_wfi_calibration import plugin

DIST = "romanasn-wfi-calibration"
RULES = {"wfi_dark": ("dark", 3), "wfi_flat": ("flat", 3), "wfi_wfsc": ("wfsc", 3), "wfi_lolo": ("lolo", 3)}
CAL = "0000201001001002001"
SCIENCE = "0000101001001001001"


def read_back(rows, tmp_path):
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    return read_pool(tmp_path / "pool.ecsv")


def run(rows, tmp_path, *others, **options):
    """Run this pack (and ``others``, fake packs) on ``rows``; ``options`` are generate options."""
    pm = manager_with((plugin, DIST), *others)
    return generate(read_back(rows, tmp_path), config=RunConfig(options=options), plugin_manager=pm)


def members(result, rule):
    return {a.product_name: [m.expname for m in a.members] for a in result.associations if a.asn_rule == rule}


def name(visit, exposure, element, detector, suffix="uncal"):
    return f"r{visit}_{exposure:04d}_wfi{detector:02d}_{element.lower()}_{suffix}.asdf"


@pytest.fixture
def result(tmp_path):
    """Darks on detectors 1-2: imaging darks 1, 2 (IMG_16), 3 (IMG_8), spectral dark 4 (IMG_16),
    imaging dark 5 with no MA table; flats: 6 and 7 in F158, 8 in F087 on detector 1, listed as
    _cal files; WFSC 1, 2 on detector 3 of visit ...004001; LOLO 1 of visit ...005001."""
    dark = dict(exposure_type="WFI_IM_DARK", optical_element="DARK", detectors=[1, 2])
    rows = (exposure_rows(CAL, 1, ma_table_name="IMG_16", **dark)
            + exposure_rows(CAL, 2, ma_table_name="IMG_16", **dark)
            + exposure_rows(CAL, 3, ma_table_name="IMG_8", **dark)
            + exposure_rows(CAL, 4, "WFI_SP_DARK", "DARK", detectors=[1, 2], ma_table_name="IMG_16")
            + exposure_rows(CAL, 5, ma_table_name="", **dark)
            + exposure_rows(CAL, 6, "WFI_FLAT", "F158", detectors=[1], suffix="cal")
            + exposure_rows(CAL, 7, "WFI_FLAT", "F158", detectors=[1], suffix="cal")
            + exposure_rows(CAL, 8, "WFI_FLAT", "F087", detectors=[1], suffix="cal")
            + exposure_rows("0000201001001004001", 1, "WFI_WFSC", "F087", detectors=[3])
            + exposure_rows("0000201001001004001", 2, "WFI_WFSC", "F087", detectors=[3])
            + exposure_rows("0000201001001005001", 1, "WFI_LOLO", "F087", detectors=[3]))
    return run(rows, tmp_path)


def test_the_pack_contributes_its_four_rules_an_option_and_a_pool_column():
    pm = manager_with((plugin, DIST))
    assert {e.name: (e.rule.asn_type, e.rule.level) for e in pm.rules()} == RULES
    [option] = plugin.romanasn_generate_options()
    assert (option.name, option.flag, option.dest) == ("--drop-degraded", True, "drop_degraded")
    [column] = plugin.romanasn_pool_columns()
    assert (column.name, column.dtype, column.meta) == ("ma_table_name", "str", "exposure.ma_table_name")


def test_darks_group_by_program_type_detector_and_ma_table(result):
    assert members(result, "wfi_dark") == {
        "r00002_p_im_dark_wfi01_img_16": [name(CAL, 1, "DARK", 1), name(CAL, 2, "DARK", 1)],
        "r00002_p_im_dark_wfi02_img_16": [name(CAL, 1, "DARK", 2), name(CAL, 2, "DARK", 2)],
        "r00002_p_im_dark_wfi01_img_8": [name(CAL, 3, "DARK", 1)],
        "r00002_p_im_dark_wfi02_img_8": [name(CAL, 3, "DARK", 2)],
        "r00002_p_sp_dark_wfi01_img_16": [name(CAL, 4, "DARK", 1)],
        "r00002_p_sp_dark_wfi02_img_16": [name(CAL, 4, "DARK", 2)],
    }


def test_a_dark_without_an_ma_table_is_vetoed_with_the_reason(result):
    assert sorted(v.filename for v in result.vetoes) == [name(CAL, 5, "DARK", d) for d in (1, 2)]
    assert {(v.rule, v.plugin) for v in result.vetoes} == {("wfi_dark", f"{DIST} 0.1.0")}
    assert all("no MA table" in v.reason for v in result.vetoes)
    assert sorted(result.orphans) == [name(CAL, 5, "DARK", d) for d in (1, 2)]


def test_flats_group_by_detector_and_element_and_list_level1_files(result):
    assert members(result, "wfi_flat") == {
        "r00002_p_flat_wfi01_f158": [name(CAL, 6, "F158", 1), name(CAL, 7, "F158", 1)],
        "r00002_p_flat_wfi01_f087": [name(CAL, 8, "F087", 1)],
    }


def test_wfsc_and_lolo_take_a_visit(result):
    assert members(result, "wfi_wfsc") == {
        "r00002_p_wfsc_v01001001004001": [name("0000201001001004001", e, "F087", 3) for e in (1, 2)]}
    assert members(result, "wfi_lolo") == {
        "r00002_p_lolo_v01001001005001": [name("0000201001001005001", 1, "F087", 3)]}


def _science_pack():
    """A stand-in for another team's pack: one rule taking WFI_IMAGE rows per visit."""
    pack = types.ModuleType("other_pack")

    @hookimpl
    def romanasn_rules():
        return [Rule(name="other_visit", asn_type="image3", level=3, select=[isin("exposure_type", "WFI_IMAGE")],
                     group_by=("visit_id",), member=MemberSpec("science", "cal"),
                     product_name=lambda group, config: f"other_{group.key['visit_id']}")]

    pack.romanasn_rules = romanasn_rules
    return (pack, "other-pack")


@pytest.fixture
def degraded_rows():
    return (exposure_rows(SCIENCE, 1, detectors=[1])
            + exposure_rows(SCIENCE, 2, detectors=[1], engineering_quality="SUSPECT")
            + exposure_rows(SCIENCE, 3, detectors=[1], data_problem="true")
            + exposure_rows(SCIENCE, 4, detectors=[1], data_problem="false", engineering_quality="OK")
            + exposure_rows(CAL, 1, "WFI_IM_DARK", "DARK", detectors=[1], ma_table_name="IMG_16",
                            engineering_quality="SUSPECT"))


def test_degraded_members_stay_flagged_without_the_option(degraded_rows, tmp_path):
    result = run(degraded_rows, tmp_path, _science_pack())
    [visit] = [a for a in result.associations if a.asn_rule == "other_visit"]
    assert [m.degraded for m in visit.members] == [False, True, True, False]
    assert visit.degraded_status.startswith("One or more members are degraded")
    assert not result.vetoes


def test_drop_degraded_vetoes_degraded_rows_in_every_pack_rules(degraded_rows, tmp_path):
    result = run(degraded_rows, tmp_path, _science_pack(), drop_degraded=True)
    [visit] = [a for a in result.associations if a.asn_rule == "other_visit"]
    assert [m.expname for m in visit.members] == [name(SCIENCE, e, "F158", 1, "cal") for e in (1, 4)]
    assert visit.degraded_status == "No known degraded exposures in association."
    vetoed = sorted((v.rule, v.filename) for v in result.vetoes)
    assert vetoed == [("other_visit", name(SCIENCE, 2, "F158", 1)), ("other_visit", name(SCIENCE, 3, "F158", 1)),
                      ("wfi_dark", name(CAL, 1, "DARK", 1))]
    assert all("--drop-degraded" in v.reason and v.plugin.startswith(DIST) for v in result.vetoes)
    assert not members(result, "wfi_dark")


def test_the_option_reaches_the_hook_only_when_set():
    rule = next(iter(plugin.romanasn_rules()))
    assert plugin.romanasn_match_constraints(rule, RunConfig()) is None
    assert plugin.romanasn_match_constraints(rule, RunConfig(options={"drop_degraded": False})) is None
    [constraint] = plugin.romanasn_match_constraints(rule, RunConfig(options={"drop_degraded": True}))
    assert constraint.reason


def test_an_ma_table_name_is_a_name_not_empty_null_none_or_masked():
    from astropy.table import MaskedColumn, Table

    from romanasn_wfi_calibration.rules import has_ma_table

    names = ["IMG_16", " null ", "None", "", "IMG_8", "img_16 ", None, "IMG_16"]
    masked = [False, False, False, False, True, False, False, False]
    table = Table([MaskedColumn(names, dtype=object, mask=masked, name="ma_table_name")])
    assert has_ma_table(table).tolist() == [True, False, False, False, False, True, False, True]
    assert has_ma_table(Table({"filename": ["a", "b"]})).tolist() == [False, False]
