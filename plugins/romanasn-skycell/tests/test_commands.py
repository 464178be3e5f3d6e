"""The pack's commands: skymap make / info / find, multiband, plot; and the sky map options."""

import argparse
import json

import numpy as np
import pytest
from romanasn import RunConfig, UsageError, generate, load_asn, write_pool
from romanasn.testing import pool_table, run_romanasn
from romanasn_skycell import commands, plugin
from romanasn_skycell.testing import pointed_rows


def _command(name, *argv):
    """Run one of the pack's commands in this process, as the romanasn CLI would."""
    command = {c.name: c for c in commands.COMMANDS}[name]
    parser = argparse.ArgumentParser(prog=f"romanasn {name}")
    command.configure(parser)
    return command.run(parser.parse_args([str(a) for a in argv]))


def test_the_commands_are_declared():
    assert [c.name for c in commands.COMMANDS] == ["skymap", "plot", "multiband", "skycell-asn"]


def test_skymap_make_info_and_find(tmp_path, capsys):
    path = tmp_path / "map.asdf"
    assert _command("skymap", "make", "--ra", "30", "--dec", "-45", "--radius", "0.5", "-o", path) == 0
    assert "not official" in capsys.readouterr().out
    assert _command("skymap", "info", path, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["regions"] == 1 and info["skycells"] > 100 and info["nxy_skycell"] == 5000
    assert _command("skymap", "find", path, "--ra", "30", "--dec", "-45", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert "030m45x50y50" in [f["name"] for f in found]
    assert all(len(f) == 12 for f in found)
    with pytest.raises(UsageError):
        _command("skymap", "make", "--ra", "30", "--dec", "-45", "--radius", "0.5", "-o", path)
    with pytest.raises(UsageError):
        _command("skymap", "make", "--ra", "30", "--dec", "-45", "--radius", "90", "-o", tmp_path / "big.asdf")
    with pytest.raises(UsageError):
        _command("skymap", "info", tmp_path / "missing.asdf")


def test_skymap_find_on_the_official_subset(subset_map, capsys):
    assert _command("skymap", "find", subset_map, "--ra", "0", "--dec", "90") == 0
    out = capsys.readouterr().out
    assert "135p90x50y50" in out


COADDS = [
    "r00001_p_v01001001001001_270p65x48y69_f158_coadd.asdf",
    "r00001_p_v01001001001001_270p65x48y69_f087_coadd.asdf",
    "r00001_p_v01001001001001_270m65x48y69_f158_coadd.asdf",
    "r00001_dr01_full_270m65x48y69_f213_coadd.asdf",
    "r00001_dr01_full_270m65x48y69_f062_coadd.asdf",
    "r00002_p_p01002_270p65x48y69_f158_coadd.asdf",
    "r00001_p_v01001001001001_270p65x48y69_f158_cal.asdf",       # not a mosaic: left out
]


def test_multiband_from_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "asn"
    assert _command("multiband", *COADDS, "-o", "asn", "--psf-match-reference-filter", "F158") == 0
    made = {p.name: load_asn(p) for p in sorted(out.glob("*_asn.json"))}
    assert sorted(made) == [
        "r00001_dr01_full_270m65x48y69_asn.json",
        "r00001_p_v01001001001001_270m65x48y69_asn.json",
        "r00001_p_v01001001001001_270p65x48y69_asn.json",
        "r00002_p_p01002_270p65x48y69_asn.json",
    ]
    north = made["r00001_p_v01001001001001_270p65x48y69_asn.json"]
    assert north.product_name == "r00001_p_v01001001001001_270p65x48y69"
    assert [m.expname for m in north.members] == [
        "../r00001_p_v01001001001001_270p65x48y69_f087_coadd.asdf",
        "../r00001_p_v01001001001001_270p65x48y69_f158_coadd.asdf"]
    assert north.target == "270p65x48y69" and north.program == "00001"
    assert north.extra["psf_match_reference_filter"] == "F158"  # as given, as romancal writes it
    south = made["r00001_dr01_full_270m65x48y69_asn.json"]
    assert south.data_release_id == "dr01" and south.target == "270m65x48y69" and len(south.members) == 2
    assert made["r00002_p_p01002_270p65x48y69_asn.json"].program == "00002"


def test_multiband_fills_the_wcs_from_a_map(tmp_path, subset_map, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "r00001_p_full_000p86x47y47_f158_coadd.asdf"
    assert _command("multiband", name, "--skymap", subset_map) == 0
    asn = load_asn(tmp_path / "r00001_p_full_000p86x47y47_asn.json")
    assert asn.skycell_wcs_info["name"] == "000p86x47y47"
    assert [m.expname for m in asn.members] == [name]


def test_multiband_of_nothing_fails(tmp_path):
    assert _command("multiband", "a_cal.asdf", "-o", tmp_path) == 1


def test_multiband_expands_one_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in COADDS[:2]:
        (tmp_path / name).write_text("")
    assert _command("multiband", "*_coadd.asdf", "--dry-run") == 0
    assert not list(tmp_path.glob("*_asn.json"))


@pytest.fixture(scope="module")
def written(tmp_path_factory, subset_map, pm):
    """A pool across RA 0 near the pole, its associations written by the CLI's writer."""
    from romanasn import write_result

    folder = tmp_path_factory.mktemp("plot")
    rows = (pointed_rows("0000101001001001001", 1, "F158", 2.0, 86.4, 30.0)
            + pointed_rows("0000101001001001001", 2, "F158", 2.02, 86.41, 30.0, s_region=False))
    pool = pool_table(rows)
    write_pool(pool, folder / "pool.ecsv")
    config = RunConfig(pool_name="pool", options={"skymap": str(subset_map)})
    result = generate(pool, config=config, plugin_manager=pm, rules=["skycell_visit"])
    write_result(result, folder / "out", plugin_manager=pm, config=config)
    return folder


def test_plot_draws_a_png(written, tmp_path):
    biggest = max((written / "out").glob("*_asn.json"), key=lambda p: len(load_asn(p).members))
    png = tmp_path / "asn.png"
    assert _command("plot", biggest, "--pool", written / "pool.ecsv", "-o", png) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_needs_a_map_without_wcs_info(written, tmp_path, subset_map, monkeypatch):
    monkeypatch.delenv("ROMANASN_SKYMAP", raising=False)
    monkeypatch.delenv("SKYMAP_PATH", raising=False)
    asn_path = next((written / "out").glob("*_asn.json"))
    data = json.loads(asn_path.read_text())
    data["skycell_wcs_info"] = "none"
    bare = tmp_path / "bare_asn.json"
    bare.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="--skymap"):
        _command("plot", bare, "--pool", written / "pool.ecsv", "-o", tmp_path / "x.png")
    assert _command("plot", bare, "--pool", written / "pool.ecsv", "-o", tmp_path / "x.png",
                    "--skymap", subset_map) == 0


def test_the_map_option_falls_back_on_the_environment(monkeypatch):
    from romanasn_skycell.skymap import skymap_path

    monkeypatch.setenv("SKYMAP_PATH", "/romancal.asdf")
    monkeypatch.setenv("ROMANASN_SKYMAP", "")
    assert skymap_path(None) == "/romancal.asdf"
    monkeypatch.setenv("ROMANASN_SKYMAP", "/mine.asdf")
    assert skymap_path(None) == "/mine.asdf"
    assert skymap_path("/given.asdf") == "/given.asdf"
    option = {o.name: o for o in plugin.romanasn_generate_options()}
    assert option["--skymap"].env == ("ROMANASN_SKYMAP", "SKYMAP_PATH")


@pytest.mark.slow
def test_generate_reads_romancals_variable(written, subset_map, tmp_path):
    env = {"ROMANASN_PLUGINS": "romanasn-skycell", "ROMANASN_SKYMAP": "", "SKYMAP_PATH": str(subset_map)}
    done = run_romanasn("generate", written / "pool.ecsv", "-o", tmp_path / "out", "--rules", "skycell_full",
                        env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert report["counts"]["skycell_full"] > 0
    assert np.all([name.startswith("r00001_p_full_000p86x") for name in
                   (p.name for p in (tmp_path / "out").glob("r*_asn.json"))])
