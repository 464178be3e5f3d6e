"""The shared Roman naming helpers of romanasn.naming."""

import re

import pytest

from romanasn.naming import (
    GROUPING_COLUMNS,
    daily_code,
    focal_plane_name,
    grouping_code,
    level3_name,
    member_filename,
    name_token,
    pass_code,
    program_id,
    strip_level,
    visit_code,
)


def test_visit_code_is_v_and_the_14_digits_after_the_program():
    assert visit_code("0000101001001001002") == "v01001001001002"
    assert visit_code(" 0099201005001001001 ") == "v01005001001001"


@pytest.mark.parametrize("bad", ["000010100100100100", "00001010010010010011", "000010100100100100x", 101001001001002])
def test_visit_code_refuses_what_is_not_a_visit_id(bad):
    with pytest.raises(ValueError, match="19 digits"):
        visit_code(bad)


def test_pass_and_daily_codes_pad_their_parts():
    assert pass_code(1, 2) == "p01002"
    assert pass_code("12", "345") == "p12345"
    assert daily_code(1, 2, 3) == "d01002003"


def test_grouping_code_reads_the_grouping_columns_of_a_key():
    key = {"program": 1, "execution_plan": 1, "pass": 2, "segment": 3, "visit_id": "0000101002003004005"}
    assert grouping_code("visit", key) == "v01002003004005"
    assert grouping_code("pass", key) == "p01002"
    assert grouping_code("daily", key) == "d01002003"
    assert grouping_code("full", key) == "full"
    with pytest.raises(ValueError, match="unknown grouping 'weekly'"):
        grouping_code("weekly", key)


def test_grouping_columns_always_include_the_program():
    assert all(columns[0] == "program" for columns in GROUPING_COLUMNS.values())
    assert GROUPING_COLUMNS["pass"] == ("program", "execution_plan", "pass")


def test_level3_name_joins_program_drid_grouping_and_lower_case_qualifiers():
    assert level3_name(1, "p", "full", "F158") == "r00001_p_full_f158"
    assert level3_name(1, "p", "v01001001001002", "GRISM") == "r00001_p_v01001001001002_grism"
    assert level3_name("2", "dr01", "p01001", element="F087") == "r00002_dr01_p01001_f087"
    assert level3_name(2, "p", "im_dark", "WFI01", "IMG_16") == "r00002_p_im_dark_wfi01_img_16"
    assert level3_name(2, "p", "wfsc", None, "v01001001004001") == "r00002_p_wfsc_v01001001004001"
    assert level3_name(3, "p", "full") == "r00003_p_full"


def test_name_token_keeps_names_safe():
    assert name_token("F158") == "f158"
    assert name_token(" IMG 16 ") == "img-16"
    assert name_token("../x/y") == "x-y"
    with pytest.raises(ValueError, match="empty name token"):
        name_token(" / ")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("r0000101001001001001_0001_wfi07_f158_cal.asdf", "r0000101001001001001_0001_wfi_f158"),
        ("r0000101001001001001_0001_wfi18_uncal.asdf", "r0000101001001001001_0001_wfi"),
        ("r0099201005001001001_00101_0001_WFI_uncal.asdf", "r0099201005001001001_00101_0001_wfi"),
        ("r0099201005001001001_00101_0001_WFI01_uncal.asdf", "r0099201005001001001_00101_0001_wfi"),
        ("exposure_cal.asdf", "exposure_wfi"),
    ],
)
def test_focal_plane_name_replaces_the_detector(filename, expected):
    assert focal_plane_name(filename) == expected


def test_focal_plane_name_changes_only_the_detector_field():
    # "wfi" inside another field is left alone
    assert focal_plane_name("r0000101001001001001_0001_wfi02_wfi03x_cal.asdf") == "r0000101001001001001_0001_wfi_wfi03x"


def test_the_older_helpers_still_agree_with_the_new_ones():
    name = "r0000101001001001001_0001_wfi01_f158_uncal.asdf"
    assert strip_level(member_filename(name, "cal")) == strip_level(name)
    assert level3_name(program_id(1), "p", "full") == "r00001_p_full"


# -- product name templates ---------------------------------------------------------------------


def test_a_template_computes_names_as_a_column():
    import pyarrow as pa

    from romanasn.lane import Template

    template = Template("r{program:program}_{drid}_{visit_id:visit}_p{pass:03d}_{optical_element:token}_{filename:stem}",
                        ("program", "visit_id", "pass", "optical_element", "filename"))
    keys = {"program": pa.array([1, 12]), "visit_id": ["0000101001001001002", "0001201001001001003"],
            "pass": [2, 31], "optical_element": pa.array(["F158", "IMG 16"]),
            "filename": pa.array(["r1_0001_wfi01_f158_cal.asdf", "r2_0002_wfi02_f062_uncal.asdf"])}
    assert template.names(keys, 2, "DR 1").to_pylist() == [
        "r00001_dr-1_v01001001001002_p002_f158_r1_0001_wfi01_f158",
        "r00012_dr-1_v01001001001003_p031_img-16_r2_0002_wfi02_f062",
    ]


@pytest.mark.parametrize(("template", "message"), [
    ("r{program}_{visit_id}", "{visit_id} is neither a group_by column"),
    ("r{program:hex}", "unknown conversion 'hex'"),
    ("r{program!r}", "!r is not allowed"),
    ("r{program", "product name template 'r{program'"),
])
def test_a_rule_refuses_a_template_it_cannot_compute(template, message):
    from romanasn import Rule

    with pytest.raises(ValueError, match=re.escape(message)):
        Rule(name="some_rule", asn_type="image3", level=3, group_by=("program",), product_name=template)
