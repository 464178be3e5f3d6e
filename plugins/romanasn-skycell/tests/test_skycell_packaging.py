"""The pack as a real wheel, installed with pip into a folder of its own, seen by the romanasn CLI."""

import json
import zipfile
from pathlib import Path

import pytest
from romanasn import write_pool
from romanasn.testing import build_wheel, install_target, pool_table, run_romanasn
from romanasn_skycell.testing import pointed_rows

PACK = Path(__file__).parents[1]
DIST, PACKAGE = "romanasn-skycell", "romanasn_skycell"
ONLY_THIS_PACK = {"ROMANASN_PLUGINS": DIST, "ROMANASN_SKYMAP": "", "SKYMAP_PATH": ""}
RULES = ["skycell_daily", "skycell_full", "skycell_multiband", "skycell_pass", "skycell_visit"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    wheel = build_wheel(PACK, tmp_path_factory.mktemp("skycell-wheel"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert f"{PACKAGE}/plugin.py" in names and f"{PACKAGE}/skymap.py" in names
    assert "[romanasn]" in entry_points and f"{DIST} = {PACKAGE}.plugin" in entry_points
    return install_target(wheel, tmp_path_factory.mktemp("skycell-site"))


def test_the_installed_pack_runs_from_a_pool_with_a_map(installed, tmp_path, subset_map):
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)}[DIST]
    assert (row["status"], row["version"], row["rules"]) == ("active", "0.1.0", RULES)

    write_pool(pool_table(pointed_rows("0000101001001001001", 1, "F158", 2.0, 86.4, 30.0)), tmp_path / "pool.ecsv")
    done = run_romanasn("generate", tmp_path / "pool.ecsv", "-o", tmp_path / "out", "--skymap", subset_map,
                        pythonpath=[installed], env=ONLY_THIS_PACK)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert set(report["counts"]) == set(RULES) and all(report["counts"][r] > 0 for r in RULES)
    some = json.loads(next((tmp_path / "out").glob("r00001_p_v01001001001001_000p86x*_f158_asn.json")).read_text())
    assert some["asn_type"] == "image" and some["target"] == some["skycell_wcs_info"]["name"]
    assert some["romanasn"]["plugin"] == DIST
