"""The report as a pack: its hook added to the plugin manager, the skycell pack with and without it,
and its wheel installed with pip and run by the romanasn command."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from romanasn import PluginError, hookimpl
from romanasn.cli import build_parser
from romanasn.plugins.manager import get_plugin_manager
from romanasn.plugins.types import RunConfig
from romanasn.testing import build_wheel, install_target, run_romanasn

from romanasn_report import SkyOutline

PACK = Path(__file__).parents[1]
ROOT = Path(__file__).resolve().parents[3]
DIST, PACKAGE = "romanasn-report", "romanasn_report"
ONLY = {"ROMANASN_PLUGINS": f"romanasn-wfi-imaging,{DIST}"}


def test_the_skycell_pack_loads_with_or_without_the_report_and_draws_through_its_hook():
    alone = get_plugin_manager(allow=["romanasn-skycell"])
    alone.check()  # its romanasn_report_sky is optional: no hook specification, no error
    assert alone.hook.romanasn_report_sky.spec is None
    both = get_plugin_manager(allow=["romanasn-skycell", DIST])
    both.check()
    assert both.hook.romanasn_report_sky.spec is not None
    footprint = [[357.9160941, 86.0517521], [359.4453835, 86.1203556], [358.4245659, 86.2250475],
                 [356.8725108, 86.1545769]]  # of the first row of the example pool
    drawn = both.records("romanasn_report_sky", SkyOutline, footprints=[footprint],
                         config=RunConfig(options={"skymap": str(ROOT / "examples" / "skymap.asdf")}))
    assert drawn and {f.plugin.name for f in drawn} == {"romanasn-skycell"}
    assert all(f.item.kind == "skycell" and len(f.item.vertices) == 4 for f in drawn)


def test_a_misspelled_hook_is_still_caught_with_the_report_installed():
    import types

    module = types.ModuleType("typo")
    module.romanasn_report_skies = hookimpl(lambda footprints: [])
    module.__version__ = "0.1"
    pm = get_plugin_manager(allow=[DIST], plugins=[(module, "typo")])
    with pytest.raises(PluginError, match=r"plugin typo 0\.1: unknown hook 'romanasn_report_skies'"):
        pm.check()


def test_the_report_command_takes_the_packs_options_but_not_report():
    parser = build_parser(get_plugin_manager(allow=["romanasn-skycell", DIST]))
    (commands,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    report = {o for a in commands.choices["report"]._actions for o in a.option_strings}
    generate = {o for a in commands.choices["generate"]._actions for o in a.option_strings}
    assert "--skymap" in report and "--report" not in report and "--report" in generate
    assert "romanasn report out/ --pool pool.ecsv" in commands.choices["report"].format_help()


@pytest.mark.slow
def test_the_wheel_installed_with_pip_ships_its_assets_and_writes_the_page(tmp_path_factory, tmp_path):
    wheel = build_wheel(PACK, tmp_path_factory.mktemp("report-wheel"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {f"{PACKAGE}/{n}" for n in ("plugin.py", "report.py", "sky.py", "hookspec.py", "assets/report.html",
                                        "assets/report.js", "assets/report.css")} <= set(names)
    assert "[romanasn]" in entry_points and f"{DIST} = {PACKAGE}.plugin" in entry_points
    site = install_target(wheel, tmp_path_factory.mktemp("report-site"))
    where = subprocess.run([sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], text=True,
                           capture_output=True, env={"PYTHONPATH": str(site), "PATH": ""}, check=True).stdout
    assert Path(where.strip()).is_relative_to(site)  # the wheel's copy, not the repository's
    out = tmp_path / "out"
    done = run_romanasn("generate", ROOT / "examples" / "pool.ecsv", "-o", out, "--report", pythonpath=[site], env=ONLY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"wrote {out / 'report.html'}")
    page = (out / "report.html").read_text("utf-8")
    assert (site / PACKAGE / "assets" / "report.js").read_text("utf-8") in page  # inlined from the wheel
    assert (out / "report_data" / "rows-0000.js").is_file()
    done = run_romanasn("report", out, "-o", tmp_path / "again.html", pythonpath=[site], env=ONLY)
    assert done.returncode == 0 and (tmp_path / "again.html").is_file(), done.stderr
