"""The pack as a real wheel, installed with pip into a folder of its own, seen by the romanasn CLI."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from romanasn import write_pool
from romanasn.testing import build_wheel, exposure_rows, install_target, pool_table, run_romanasn

PACK = Path(__file__).parents[1]
DIST, PACKAGE = "romanasn-wfi-imaging", "romanasn_wfi_imaging"
ONLY_THIS_PACK = {"ROMANASN_PLUGINS": DIST}
RULES = ["wfi_image_exposure", "wfi_image_fov", "wfi_image_full", "wfi_image_pass", "wfi_image_visit"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The pack's wheel, built once per test session."""
    return build_wheel(PACK, tmp_path_factory.mktemp("imaging-wheel"))


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory):
    """The wheel installed (without dependencies) into a folder to put on PYTHONPATH."""
    return install_target(wheel, tmp_path_factory.mktemp("imaging-site"))


def test_the_wheel_holds_the_package_and_the_entry_point(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        text = archive.read(entry_points).decode()
    assert f"{PACKAGE}/plugin.py" in names and f"{PACKAGE}/rules.py" in names
    assert "[romanasn]" in text and f"{DIST} = {PACKAGE}.plugin" in text


def test_the_installed_copy_is_the_one_imported(installed):
    done = subprocess.run([sys.executable, "-c", f"import {PACKAGE}.plugin as p; print(p.__file__)"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(installed), "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed)


def test_rules_json_lists_exactly_the_pack_rules(installed):
    done = run_romanasn("rules", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["name"] for row in rows] == RULES
    assert {row["plugin"] for row in rows} == {DIST}


def test_plugins_lists_the_pack_active(installed):
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)}[DIST]
    assert (row["status"], row["version"], row["rules"], row["hooks"]) == ("active", "0.1.0", RULES, ["romanasn_rules"])


def test_generate_with_only_the_kernel_and_this_pack(installed, tmp_path):
    rows = exposure_rows("0000101001001001001", 1) + exposure_rows("0000101001001001001", 2, "WFI_FLAT")
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    done = run_romanasn("generate", tmp_path / "pool.ecsv", "-o", tmp_path / "out",
                        pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert report["counts"] == {"wfi_image_exposure": 18, "wfi_image_fov": 1, "wfi_image_full": 1,
                                "wfi_image_pass": 1, "wfi_image_visit": 1}
    assert len(report["orphans"]) == 18
    fov = json.loads((tmp_path / "out" / "r0000101001001001001_0001_wfi_f158_asn.json").read_text())
    assert fov["asn_type"] == "fov" and len(fov["products"][0]["members"]) == 18
