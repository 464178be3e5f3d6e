"""The pack as a real wheel, installed with pip into a folder of its own, seen by the romanasn CLI."""

import json
import zipfile
from pathlib import Path

import pytest

from romanasn import write_pool
from romanasn.testing import build_wheel, exposure_rows, install_target, pool_table, run_romanasn

PACK = Path(__file__).parents[1]
DIST, PACKAGE = "romanasn-wfi-calibration", "romanasn_wfi_calibration"
ONLY_THIS_PACK = {"ROMANASN_PLUGINS": DIST}
RULES = ["wfi_dark", "wfi_flat", "wfi_lolo", "wfi_wfsc"]
HOOKS = ["romanasn_generate_options", "romanasn_match_constraints", "romanasn_pool_columns", "romanasn_rules"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """The pack's wheel, built once per test session and installed into a folder of its own."""
    wheel = build_wheel(PACK, tmp_path_factory.mktemp("calibration-wheel"))
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert f"{DIST} = {PACKAGE}.plugin" in archive.read(entry_points).decode()
    return install_target(wheel, tmp_path_factory.mktemp("calibration-site"))


def test_rules_json_lists_exactly_the_pack_rules(installed):
    done = run_romanasn("rules", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    assert [(row["name"], row["plugin"]) for row in json.loads(done.stdout)] == [(r, DIST) for r in RULES]


def test_plugins_lists_the_pack_and_its_hooks(installed):
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)}[DIST]
    assert (row["status"], row["version"], row["rules"], row["hooks"]) == ("active", "0.1.0", RULES, HOOKS)


def test_columns_and_generate_help_show_what_the_pack_adds(installed):
    done = run_romanasn("columns", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    column = {c["name"]: c for c in json.loads(done.stdout)}["ma_table_name"]
    assert (column["plugin"], column["meta"]) == (DIST, "exposure.ma_table_name")
    done = run_romanasn("generate", "--help", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert "--drop-degraded" in done.stdout


def test_generate_vetoes_darks_without_ma_table_and_degraded_rows_on_request(installed, tmp_path):
    visit = "0000201001001002001"
    rows = (exposure_rows(visit, 1, "WFI_IM_DARK", "DARK", ma_table_name="IMG_16")
            + exposure_rows(visit, 2, "WFI_IM_DARK", "DARK", ma_table_name="IMG_16", engineering_quality="SUSPECT")
            + exposure_rows(visit, 3, "WFI_IM_DARK", "DARK", ma_table_name=""))
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    reports = {}
    for label, extra in (("kept", []), ("dropped", ["--drop-degraded"])):
        done = run_romanasn("generate", tmp_path / "pool.ecsv", "-o", tmp_path / label, *extra,
                            pythonpath=[installed], env=ONLY_THIS_PACK)
        assert done.returncode == 0, done.stderr
        reports[label] = json.loads((tmp_path / label / "romanasn-run.json").read_text())
    assert reports["kept"]["counts"] == {"wfi_dark": 18, "wfi_flat": 0, "wfi_lolo": 0, "wfi_wfsc": 0}
    assert {v["reason"] for v in reports["kept"]["vetoes"]} == {
        "no MA table (ma_table_name is empty): darks are grouped by MA table"}
    assert len(reports["dropped"]["vetoes"]) == 36
    kept = json.loads((tmp_path / "kept" / "r00002_p_im_dark_wfi07_img_16_asn.json").read_text())
    dropped = json.loads((tmp_path / "dropped" / "r00002_p_im_dark_wfi07_img_16_asn.json").read_text())
    assert len(kept["products"][0]["members"]) == 2 and len(dropped["products"][0]["members"]) == 1
