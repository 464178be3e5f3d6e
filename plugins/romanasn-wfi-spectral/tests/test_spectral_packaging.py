"""The pack as a real wheel, installed with pip into a folder of its own, seen by the romanasn CLI."""

import json
import zipfile
from pathlib import Path

import pytest

from romanasn import write_pool
from romanasn.testing import build_wheel, exposure_rows, install_target, pool_table, run_romanasn

PACK = Path(__file__).parents[1]
DIST, PACKAGE = "romanasn-wfi-spectral", "romanasn_wfi_spectral"
ONLY_THIS_PACK = {"ROMANASN_PLUGINS": DIST}
RULES = ["wfi_spec_exposure", "wfi_spec_full", "wfi_spec_pass", "wfi_spec_visit"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """The pack's wheel, built once per test session and installed into a folder of its own."""
    wheel = build_wheel(PACK, tmp_path_factory.mktemp("spectral-wheel"))
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert f"{DIST} = {PACKAGE}.plugin" in archive.read(entry_points).decode()
    return install_target(wheel, tmp_path_factory.mktemp("spectral-site"))


def test_rules_json_lists_exactly_the_pack_rules(installed):
    done = run_romanasn("rules", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["name"] for row in rows] == RULES
    assert {(row["plugin"], row["level"]) for row in rows} == {(DIST, 2), (DIST, 3)}


def test_plugins_lists_the_pack_active(installed):
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)}[DIST]
    assert (row["status"], row["version"], row["rules"]) == ("active", "0.1.0", RULES)


def test_generate_finds_direct_images_without_the_imaging_pack(installed, tmp_path):
    visit = "0000101001001001001"
    rows = exposure_rows(visit, 1) + exposure_rows(visit, 2, "WFI_SPECTRAL", "GRISM")
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    done = run_romanasn("generate", tmp_path / "pool.ecsv", "-o", tmp_path / "out",
                        pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert report["counts"] == {"wfi_spec_exposure": 18, "wfi_spec_full": 1, "wfi_spec_pass": 1, "wfi_spec_visit": 1}
    spec2 = json.loads((tmp_path / "out" / f"r{visit}_0002_wfi18_grism_asn.json").read_text())
    assert spec2["products"][0]["members"] == [
        {"expname": f"r{visit}_0002_wfi18_grism_uncal.asdf", "exptype": "science"},
        {"expname": f"r{visit}_0001_wfi18_f158_cal.asdf", "exptype": "direct_image"},
    ]
