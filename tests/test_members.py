"""Members that exist: earlier-level members are named once per rule; --member-dir checks the files."""

from __future__ import annotations

import pytest

from romanasn import write_pool
from romanasn.testing import exposure_rows, pool_table, run_romanasn

VISIT = "0000101001001001001"
IMAGING = {"ROMANASN_PLUGINS": "romanasn-wfi-imaging"}


def pool(tmp_path, suffix: str, level: int):
    rows = []
    for exposure in (1, 2):
        rows += exposure_rows(VISIT, exposure, detectors=[1, 2, 3], suffix=suffix, level=level)
    path = tmp_path / f"pool_{suffix}.ecsv"
    write_pool(pool_table(rows), path)
    return path, rows


def test_a_pool_of_cal_files_says_once_that_image2_wants_the_uncal_ones(tmp_path):
    path, _ = pool(tmp_path, "cal", 2)
    done = run_romanasn("generate", path, "-o", tmp_path / "asn", env=IMAGING)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "_uncal (Level 1) files" in line]
    assert len(lines) == 1
    assert "rule wfi_image_exposure (romanasn-wfi-imaging 0.1.0): 6 members are _uncal" in lines[0]
    assert "--member-dir" in lines[0]


def test_a_pool_of_uncal_files_says_nothing_of_levels(tmp_path):
    path, _ = pool(tmp_path, "uncal", 1)
    done = run_romanasn("generate", path, "-o", tmp_path / "asn", env=IMAGING)
    assert done.returncode == 0 and "Level 1) files" not in done.stderr


@pytest.fixture
def members(tmp_path):
    """A folder with every member file of the uncal pool but one _cal file."""
    path, rows = pool(tmp_path, "uncal", 1)
    folder = tmp_path / "data"
    folder.mkdir()
    for row in rows:
        (folder / row["filename"]).write_bytes(b"")
        (folder / row["filename"].replace("_uncal.", "_cal.")).write_bytes(b"")
    gone = folder / rows[4]["filename"].replace("_uncal.", "_cal.")
    gone.unlink()
    return path, folder, gone.name


def test_member_dir_reports_the_missing_member_files(members, tmp_path):
    path, folder, gone = members
    done = run_romanasn("generate", path, "-o", tmp_path / "asn", "--member-dir", folder, env=IMAGING)
    assert done.returncode == 0, done.stderr
    assert f"1 member file not in {folder}: {gone} (--strict makes this an error)" in done.stderr
    assert any((tmp_path / "asn").glob("*_asn.json"))


def test_strict_makes_a_missing_member_an_error_and_writes_nothing(members, tmp_path):
    path, folder, gone = members
    out = tmp_path / "asn"
    done = run_romanasn("generate", path, "-o", out, "--member-dir", folder, "--strict", env=IMAGING)
    assert done.returncode == 1
    assert gone in done.stderr and "nothing written" in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_every_member_present_says_nothing(members, tmp_path):
    path, folder, gone = members
    (folder / gone).write_bytes(b"")
    done = run_romanasn("generate", path, "-o", tmp_path / "asn", "--member-dir", folder, "--strict", env=IMAGING)
    assert done.returncode == 0 and "member file" not in done.stderr


def test_yaml_output_says_romancal_reads_json_only(tmp_path):
    path, _ = pool(tmp_path, "uncal", 1)
    done = run_romanasn("generate", path, "-o", tmp_path / "asn", "--format", "yaml", env=IMAGING)
    assert done.returncode == 0
    assert done.stderr.count("romancal reads JSON associations only") == 1
