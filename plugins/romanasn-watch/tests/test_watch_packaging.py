"""The distribution as a real wheel, installed with pip into a folder of its own, seen by the romanasn CLI."""

import json
import zipfile
from pathlib import Path

import pytest
from romanasn.testing import build_wheel, install_target, run_romanasn

DIST, PACKAGE = "romanasn-watch", "romanasn_watch"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    wheel = build_wheel(Path(__file__).parents[1], tmp_path_factory.mktemp("watch-wheel"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"{PACKAGE}/plugin.py" in names and f"{PACKAGE}/watch.py" in names
    assert "[romanasn]" in entry_points and f"{DIST} = {PACKAGE}.plugin" in entry_points
    assert "Requires-Dist: watchdog" in metadata
    return install_target(wheel, tmp_path_factory.mktemp("watch-site"))


def test_the_installed_distribution_adds_watch_and_blocked_it_says_what_to_install(installed):
    only = {"ROMANASN_PLUGINS": DIST}
    done = run_romanasn("plugins", "--json", pythonpath=[installed], env=only)
    assert done.returncode == 0, done.stderr
    row = {r["name"]: r for r in json.loads(done.stdout)}[DIST]
    assert (row["status"], row["version"], row["rules"], row["hooks"]) == ("active", "0.1.0", [], ["romanasn_commands"])
    done = run_romanasn("watch", "--help", pythonpath=[installed], env=only)
    assert done.returncode == 0, done.stderr
    assert "--pool-db DB" in done.stdout and "romanasn watch /data/landing" in done.stdout
    done = run_romanasn("-p", f"no:{DIST}", "watch", "landing", pythonpath=[installed], env=only)
    assert done.returncode == 2 and f"pip install {DIST}" in done.stderr
