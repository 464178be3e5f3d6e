"""Tier 3: a pack written outside romanasn, built as a real wheel and installed with pip."""

import json
from pathlib import Path

import pytest

from romanasn import write_pool
from romanasn.testing import build_wheel, exposure_rows, install_target, pool_table, run_romanasn

DEMO = Path(__file__).parent / "data" / "packs" / "romanasn-demo"
ONLY_DEMO = {"ROMANASN_PLUGINS": "romanasn-demo"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The demo pack's wheel, installed into a folder of its own."""
    wheel = build_wheel(DEMO, tmp_path_factory.mktemp("wheel"))
    return install_target(wheel, tmp_path_factory.mktemp("site"))


def test_the_installed_wheel_is_listed_by_plugins_json(installed):
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=ONLY_DEMO)
    assert done.returncode == 0, done.stderr
    demo = {row["name"]: row for row in json.loads(done.stdout)}["romanasn-demo"]
    assert (demo["version"], demo["status"], demo["rules"]) == ("0.2.0", "active", ["demo_detector"])
    assert demo["hooks"] == ["romanasn_file_stem", "romanasn_product_names", "romanasn_rules"]


def test_the_pack_adds_a_rule_and_names_its_products_through_hooks_alone(installed, tmp_path):
    rows = exposure_rows("0000301001001001001", 1, detectors=[4, 5]) + \
        exposure_rows("0000301001001001001", 2, detectors=[4])
    write_pool(pool_table(rows), tmp_path / "pool.ecsv")
    done = run_romanasn("generate", tmp_path / "pool.ecsv", "-o", tmp_path / "out",
                        pythonpath=[installed], env=ONLY_DEMO)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "out").glob("*.json") if p.name != "romanasn-run.json")
    assert written == ["demo_00003_wfi04_demo.json", "demo_00003_wfi05_demo.json"]
    wfi04 = json.loads((tmp_path / "out" / "demo_00003_wfi04_demo.json").read_text())
    assert [m["expname"] for m in wfi04["products"][0]["members"]] == [
        "r0000301001001001001_0001_wfi04_f158_uncal.asdf", "r0000301001001001001_0002_wfi04_f158_uncal.asdf"]
    assert wfi04["romanasn"]["plugin"] == "romanasn-demo" and wfi04["romanasn"]["plugin_version"] == "0.2.0"


def test_blocking_the_installed_pack_removes_its_rules(installed):
    done = run_romanasn("-p", "no:romanasn-demo", "rules", "--json", pythonpath=[installed], env=ONLY_DEMO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
