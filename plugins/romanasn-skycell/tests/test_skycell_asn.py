"""romanasn skycell-asn: romancal's skycell_asn arguments, straight from Level 2 files.

The agreement with romancal itself, file for file, is checked by ``make interop``; here the
command is checked against the pack's own rules on the same exposures.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from romanasn import RunConfig, generate
from romanasn.testing import pool_table, run_romanasn
from romanasn_skycell.testing import pointed_rows

rdm = pytest.importorskip("roman_datamodels.datamodels")

VISIT = "0000101001001001001"


def write_level2(folder, row):
    """A small Level 2 file with the pool row's identity and footprint in its header."""
    model = rdm.ImageModel.create_fake_data(shape=(8, 8))
    meta = model.meta
    for name in ("program", "execution_plan", "pass", "segment", "observation", "visit", "visit_file_group",
                 "visit_file_sequence", "visit_file_activity", "exposure", "visit_id", "observation_id"):
        meta.observation[name] = row[name]
    meta.exposure.type = row["exposure_type"]
    meta.exposure.data_problem = None
    meta.instrument.detector = row["detector"]
    meta.instrument.optical_element = row["optical_element"]
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = row["ra_ref"], row["dec_ref"], row["roll_ref"]
    meta.wcsinfo.s_region = row["s_region"]
    model.save(folder / row["filename"])


@pytest.fixture(scope="module")
def exposures(tmp_path_factory):
    """Two F158 exposures of one visit (6 detectors each) near the north pole, as files and as pool rows."""
    folder = tmp_path_factory.mktemp("l2")
    rows = []
    for exposure in (1, 2):
        rows += pointed_rows(VISIT, exposure, "F158", 2.0 + 0.01 * exposure, 86.4, 30.0, detectors=range(1, 7))
    for row in rows:
        write_level2(folder, row)
    return folder, rows


def test_skycell_asn_writes_romancals_files_with_the_packs_skycells(exposures, subset_map, pm, tmp_path):
    folder, rows = exposures
    files = [f"../l2/{row['filename']}" for row in rows]
    work = tmp_path / "work"
    (tmp_path / "l2").symlink_to(folder)
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "romanasn", "skycell-asn", *files, "-o", "out/r00001",
                           "--product-type", "visit", "--skymap", str(subset_map)],
                          cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = {p.name: json.loads(p.read_text()) for p in (work / "out").glob("*_asn.json")}

    config = RunConfig(pool_name="pool", options={"skymap": str(subset_map)})
    expected = generate(pool_table(rows), config=config, rules=["skycell_visit"], plugin_manager=pm)
    assert len(expected.associations) >= 2
    assert sorted(written) == sorted(f"{a.product_name}_asn.json" for a in expected.associations)
    for association in expected.associations:
        asn = written[f"{association.product_name}_asn.json"]
        assert asn["products"][0]["name"] == association.product_name  # root r00001, no folder
        assert [m["expname"] for m in asn["products"][0]["members"]] == [
            f"../l2/{m.expname}" for m in association.members]
        assert asn["target"] == asn["skycell_wcs_info"]["name"] == association.target
        assert (asn["asn_type"], asn["program"], asn["data_release_id"]) == ("image", "00001", "p")


def test_skycell_asn_takes_romancals_spellings_and_warns_about_deprecated_ones(exposures, subset_map, tmp_path):
    folder, rows = exposures
    done = run_romanasn("skycell-asn", *(str(folder / row["filename"]) for row in rows[:2]),
                        "--output-file-root", str(tmp_path / "dr9"), "--product-type", "FULL",
                        "--data-release-id", "dr9", "-f", "yaml", "-r", "Other", "-i", "o1",
                        env={"SKYMAP_PATH": str(subset_map)})
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.glob("*_asn.json"))
    assert names and all(n.startswith("dr9_dr9_full_") for n in names)
    for word in ("-f yaml ignored", "--rule Other ignored", "--id o1 ignored"):
        assert word in done.stderr


def test_skycell_asn_without_a_sky_map_says_how_to_give_one(exposures, tmp_path):
    folder, rows = exposures
    done = run_romanasn("skycell-asn", str(folder / rows[0]["filename"]), "-o", str(tmp_path / "r"),
                        env={"SKYMAP_PATH": "", "ROMANASN_SKYMAP": ""})
    assert done.returncode != 0 and "--skymap" in done.stderr
