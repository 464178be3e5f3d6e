"""romanasn from-list: romancal's asn_from_list arguments, same meaning, same output."""

from __future__ import annotations

import json

import pytest

from romanasn import load_asn
from romanasn.cli import main
from romanasn.fromlist import catalog_name

FILES = ["r0000101001001001001_0001_wfi01_f158_cal.asdf", "data/r0000101001001001001_0002_wfi01_f158_cal.asdf"]


def run(tmp_path, *args):
    out = tmp_path / "l3_asn.json"
    status = main(["from-list", "-o", str(out), "--product-name", "r00001_p_full_f158", *args, *FILES])
    return status, out


def test_romancal_spellings_give_romancals_content(tmp_path):
    status, out = run(tmp_path, "-t", "270p65x48y69", "--data-release-id", "dr01",
                      "--psf-match-reference-filter", "F213", "--_tweakreg-catalogs")
    assert status == 0
    raw = json.loads(out.read_text())
    assert (raw["asn_type"], raw["asn_rule"], raw["asn_id"], raw["asn_pool"]) == ("None", "DMS_ELPP_Base", "a3001", "none")
    assert (raw["target"], raw["data_release_id"], raw["program"]) == ("270p65x48y69", "dr01", "noprogram")
    assert raw["psf_match_reference_filter"] == "F213"
    members = raw["products"][0]["members"]
    assert [m["expname"] for m in members] == FILES
    assert [m["tweakreg_catalog"] for m in members] == [
        "r0000101001001001001_0001_wfi01_f158_cat.parquet", "data/r0000101001001001001_0002_wfi01_f158_cat.parquet"]


def test_target_defaults_to_romancals_none_string(tmp_path):
    status, out = run(tmp_path)
    assert status == 0 and json.loads(out.read_text())["target"] == "None"
    assert "tweakreg_catalog" not in json.loads(out.read_text())["products"][0]["members"][0]


def test_output_file_spelling_and_replacing_as_romancal_does(tmp_path):
    out = tmp_path / "x_asn.json"
    for name in ("first", "second"):
        assert main(["from-list", "--output-file", str(out), "--product-name", name, *FILES]) == 0
    assert load_asn(out).product_name == "second"


def test_deprecated_options_are_warned_about_and_ignored(tmp_path, capsys):
    status, out = run(tmp_path, "-r", "OtherRule", "--ruledefs", "rules.py", "-i", "o123")
    assert status == 0
    assert json.loads(out.read_text())["asn_rule"] == "DMS_ELPP_Base"
    said = capsys.readouterr().err
    assert "--rule OtherRule ignored" in said and "--ruledefs ignored" in said and "--id o123 ignored" in said


@pytest.mark.parametrize("name", ["../../x", "a/b", "x\ny", ""])
def test_an_unsafe_product_name_is_refused_and_nothing_written(tmp_path, name, capsys):
    out = tmp_path / "x_asn.json"
    assert main(["from-list", "-o", str(out), "--product-name", name, *FILES]) == 2
    assert "--product-name" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("expname, catalog", [
    ("x_cal.asdf", "x_cat.parquet"),
    ("dir/x_uncal.asdf", "dir/x_cat.parquet"),
    ("r1_wfi01_dark_uncal.asdf", "r1_wfi01_dark_cat.parquet"),
    ("x_f158.asdf", "x_f158_cat.parquet"),
    ("x_coadd.asdf", "x_cat.parquet"),
    ("cal.asdf", "cal_cat.parquet"),
])
def test_catalog_names_follow_romancals_suffix_rule(expname, catalog):
    assert catalog_name(expname) == catalog
