"""romanasn make-pool: pools from real ASDF exposure files made with roman_datamodels."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

rdm = pytest.importorskip("roman_datamodels.datamodels")

from romanasn import makepool, read_pool, write_pool  # noqa: E402
from romanasn.cli import main  # noqa: E402
from romanasn.errors import PoolError, RomanasnError, UsageError  # noqa: E402
from romanasn.testing import exposure_rows, make_exposure, pool_table, tan_wcs  # noqa: E402

VISIT = "0000101001001001001"
DARK_VISIT = "0000101001001002001"
EXTRA = {"ma_table_name": "IMG_16", "ma_table_number": 16, "nresultants": 6,
         "program_category": "GI", "program_subcategory": "HLWA"}


# -- making exposure files -------------------------------------------------------------------------


def rows(visit: str, exposure: int, kind: str = "WFI_IMAGE", element: str = "F158", *, detectors=(1, 2)):
    return exposure_rows(visit, exposure, kind, element, detectors=detectors, **EXTRA)


def edit(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """Copy ``source`` to ``target`` replacing ``old`` by ``new`` (same length: blocks stay put)."""
    data = source.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1, (old, data.count(old))
    target.write_bytes(data.replace(old, new))
    return target


@pytest.fixture(scope="session")
def exposures(tmp_path_factory):
    """Seven good files in nested folders and a folder of broken ones, made once.

    good/: exposure 1 (2 detectors) at L1, with detector 1 also at L2;
    exposure 2 (2 detectors) at L2 in good/more/; a dark exposure (1 detector) at L1.
    """
    root = tmp_path_factory.mktemp("exposures")
    good, more, bad = root / "good", root / "good" / "more", root / "bad"
    for folder in (good, more, bad):
        folder.mkdir(parents=True)
    one, two = rows(VISIT, 1), rows(VISIT, 2)
    dark = rows(DARK_VISIT, 1, "WFI_IM_DARK", "DARK", detectors=(3,))
    made = {"one_l1": [make_exposure(good, r, level=1) for r in one],
            "one_l2": [make_exposure(good, one[0], level=2)],
            "two_l2": [make_exposure(more, r, level=2, shape=(64, 64)) for r in two],
            "dark_l1": [make_exposure(good, r, level=1) for r in dark]}
    source = made["two_l2"][0]
    broken = {
        "not_asdf": bad / "notes_cal.asdf",
        "truncated": bad / "cut_cal.asdf",
        "no_meta": bad / "other_cal.asdf",
        "missing": edit(source, bad / "missing_cal.asdf", b"visit_id: '", b"visit_xx: '"),
        "enum": edit(source, bad / "enum_cal.asdf", b"optical_element: F158", b"optical_element: F999"),
    }
    broken["not_asdf"].write_text("filename,program\nx,1\n")
    data = made["one_l1"][0].read_bytes()
    broken["truncated"].write_bytes(data[: len(data) // 2])
    import asdf

    asdf.AsdfFile({"something": {"else": 1}}).write_to(broken["no_meta"])
    return {"root": root, "good": good, "bad": bad, "rows": {"one": one, "two": two, "dark": dark},
            **made, **broken}


def expected_rows(exposures) -> list[dict]:
    """The hand-written pool of the good files: one row per exposure and detector, highest level."""
    one = [dict(r) for r in exposures["rows"]["one"]]
    one[0]["filename"] = one[0]["filename"].replace("_uncal", "_cal")
    two = [{**r, "filename": r["filename"].replace("_uncal", "_cal")} for r in exposures["rows"]["two"]]
    return sorted(one + two + exposures["rows"]["dark"], key=lambda r: r["filename"])


# -- reading and writing ---------------------------------------------------------------------------


def test_pool_of_a_folder_has_one_row_per_exposure_and_detector(exposures, tmp_path):
    out = tmp_path / "pool.ecsv"
    result = makepool.make_pool([exposures["good"]], out, progress=False)
    table = read_pool(out)
    expected = expected_rows(exposures)
    assert list(table["filename"]) == [r["filename"] for r in expected]
    assert result.rows == len(expected) == 5 and result.read == 6
    for name in ("observation_id", "visit_id", "detector", "optical_element", "exposure_type",
                 "visit_file_activity", "ma_table_name", "program_subcategory"):
        assert list(table[name]) == [r[name] for r in expected], name
    assert list(table["exposure"]) == [r["exposure"] for r in expected]
    assert list(table["level"]) == [2, 1, 2, 2, 1]
    superseded = [s for s in result.left_out if s.path.endswith("_wfi01_f158_uncal.asdf")]
    assert len(superseded) == 1 and "keeps level 2" in superseded[0].reason
    assert result.report.read_text().count("\n") == 2  # the comment line and the L1 file


def test_values_are_normalised(exposures, tmp_path):
    out = tmp_path / "pool.ecsv"
    makepool.make_pool([exposures["two_l2"][0]], out, progress=False)
    row = read_pool(out)[0]
    assert row["start_time"] == "2027-03-01T12:06:40.000"
    assert row["end_time"] == "2027-03-01T12:08:59.800"
    assert row["s_region"].startswith("POLYGON ICRS  ") and len(row["s_region"].split()) == 10
    assert row["ra_ref"] == pytest.approx(80.62) and row["level"] == 2
    assert row["instrument"] == "WFI" and row["data_problem"] == "false"
    assert row["target"] == "" and row["nresultants"] == 6


def test_values_agree_with_roman_datamodels(exposures, tmp_path):
    out = tmp_path / "pool.ecsv"
    makepool.make_pool([exposures["good"]], out, progress=False)
    table = read_pool(out)
    for path in exposures["one_l2"] + exposures["two_l2"]:
        row = table[list(table["filename"]).index(path.name)]
        with rdm.open(path) as model:
            meta = model.meta
            assert row["observation_id"] == meta.observation.observation_id
            assert row["start_time"] == meta.exposure.start_time.utc.isot
            assert row["s_region"] == meta.wcsinfo.s_region
            assert row["dec_ref"] == meta.wcsinfo.dec_ref


def test_make_pool_then_generate_gives_the_hand_written_pools_associations(exposures, tmp_path):
    made, hand = tmp_path / "made", tmp_path / "hand"
    made.mkdir(), hand.mkdir()
    assert main(["make-pool", str(exposures["good"]), "-o", str(made / "pool.ecsv"), "-q"]) == 0
    write_pool(pool_table(expected_rows(exposures)), hand / "pool.ecsv")
    for folder in (made, hand):
        assert main(["generate", str(folder / "pool.ecsv"), "-o", str(folder / "asn"), "-q"]) == 0
    made_files = {p.name: p.read_text() for p in (made / "asn").glob("*_asn.json")}
    hand_files = {p.name: p.read_text() for p in (hand / "asn").glob("*_asn.json")}
    assert made_files and made_files.keys() == hand_files.keys()
    for name in made_files:
        a, b = json.loads(made_files[name]), json.loads(hand_files[name])
        assert a["products"] == b["products"], name
        assert {k: v for k, v in a.items() if k != "code_version"} == \
               {k: v for k, v in b.items() if k != "code_version"}, name


def test_pack_columns_are_read_from_their_meta_path(exposures, tmp_path):
    from romanasn import PoolColumn

    extra = [PoolColumn("aperture", "str", meta="wcsinfo.aperture_name"),
             PoolColumn("hga_move", "bool", meta="exposure.hga_move"),
             PoolColumn("not_there", "float", meta="exposure.no_such_thing")]
    out = tmp_path / "pool.ecsv"
    makepool.make_pool([exposures["two_l2"][0]], out, columns=extra, progress=False)
    row = read_pool(out, columns=extra)[0]
    assert row["aperture"] == "WFI01_FULL" and row["hga_move"] is np.False_ or row["hga_move"] == False  # noqa: E712
    assert np.ma.is_masked(row["not_there"])


def test_jobs_give_the_same_pool(exposures, tmp_path):
    one, two = tmp_path / "one.ecsv", tmp_path / "two.ecsv"
    makepool.make_pool([exposures["good"]], one, progress=False)
    makepool.make_pool([exposures["good"]], two, jobs=2, progress=False)
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.parametrize("jobs", [1, 2])
def test_readers_kept_for_several_reads_give_each_file_its_row_or_reason(exposures, jobs):
    """What a watch does: one set of readers, one read started before the next is looked at."""
    from romanasn.columns import merge_columns
    from romanasn.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    columns = [found.item for found in pm.pool_columns()]
    good = sorted(exposures["one_l1"] + exposures["two_l2"] + exposures["dark_l1"])
    bad = [exposures["truncated"], exposures["enum"]]
    with makepool.Readers.of(columns, jobs) as readers:
        first, second = readers.start(good), readers.start(bad + good[:1])
        again = list(second())
        read = list(first())
    assert [path for path, _, _ in read] == good
    assert [row for _, row, _ in read] == [makepool.read_row(path, merge_columns(columns)) for path in good]
    assert [path for path, _, _ in again] == bad + good[:1]
    assert [row is None for _, row, _ in again] == [True, True, False]
    assert "truncated" in again[0][2] and "F999" in again[1][2]


# -- bad files -----------------------------------------------------------------------------------


BAD_REASONS = {
    "not_asdf": "not an ASDF file",
    "truncated": "truncated",
    "no_meta": "no 'roman' node",
    "missing": "required field roman.meta.observation.visit_id is missing",
    "enum": "optical_element: 'F999' is not one of",
}


def test_bad_files_stop_the_run_naming_each_and_write_nothing(exposures, tmp_path, capsys):
    out = tmp_path / "pool.ecsv"
    status = main(["make-pool", str(exposures["good"]), str(exposures["bad"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    for key, reason in BAD_REASONS.items():
        line = next(line for line in err.splitlines() if line.startswith(str(exposures[key])))
        assert reason in line, (key, line)
    assert "5 bad files" in err
    assert not out.exists() and not Path(f"{out}.skipped.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_skip_bad_writes_the_good_rows_and_a_report(exposures, tmp_path, capsys):
    out = tmp_path / "pool.ecsv"
    assert main(["make-pool", str(exposures["good"]), str(exposures["bad"]), "-o", str(out), "--skip-bad"]) == 0
    assert len(read_pool(out)) == 5
    report = Path(f"{out}.skipped.txt").read_text().splitlines()
    assert report[0].startswith("#")
    reasons = dict(line.split("\t") for line in report[1:])
    for key, reason in BAD_REASONS.items():
        assert reason in reasons[str(exposures[key])], key
    assert any("keeps level 2" in reason for reason in reasons.values())
    said = capsys.readouterr()
    assert "6 files left out (5 bad)" in said.out and "skipped" in said.err


def test_a_file_listed_twice_is_read_once_and_reported(exposures, tmp_path, capsys):
    path = exposures["two_l2"][0]
    out = tmp_path / "pool.ecsv"
    assert main(["make-pool", str(path), str(path.parent / ".." / "more" / path.name), "-o", str(out)]) == 0
    assert len(read_pool(out)) == 1
    assert "listed more than once" in capsys.readouterr().err


def test_same_name_in_two_folders(exposures, tmp_path):
    path = exposures["two_l2"][0]
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(path, copy / path.name)
    result = makepool.make_pool([path, copy], tmp_path / "pool.ecsv", progress=False)
    assert result.rows == 1 and "a copy of" in result.left_out[0].reason
    other = tmp_path / "other"
    other.mkdir()
    edit(path, other / path.name, b"nresultants: 6", b"nresultants: 7")
    with pytest.raises(PoolError, match="same file name as .* but other metadata"):
        makepool.make_pool([path, other], tmp_path / "pool2.ecsv", progress=False)


def test_same_exposure_at_the_same_level_twice_is_bad(exposures, tmp_path):
    path = exposures["two_l2"][0]
    renamed = tmp_path / path.name.replace("_f158_", "_")
    shutil.copy(path, renamed)
    with pytest.raises(PoolError, match="same exposure .* at level 2"):
        makepool.make_pool([path, renamed], tmp_path / "pool.ecsv", progress=False)


def test_an_existing_pool_is_not_replaced_silently(exposures, tmp_path):
    out = tmp_path / "pool.ecsv"
    out.write_text("keep me")
    with pytest.raises(UsageError, match="--update .* --overwrite"):
        makepool.make_pool([exposures["good"]], out, progress=False)
    assert out.read_text() == "keep me"
    makepool.make_pool([exposures["good"]], out, overwrite=True, progress=False)
    assert len(read_pool(out)) == 5


def test_inputs_that_name_nothing(exposures, tmp_path):
    with pytest.raises(RomanasnError, match="no such file"):
        makepool.make_pool([tmp_path / "nowhere"], tmp_path / "pool.ecsv", progress=False)
    with pytest.raises(RomanasnError, match="matches nothing"):
        makepool.make_pool([str(tmp_path / "*.asdf")], tmp_path / "pool.ecsv", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RomanasnError, match="no exposure files"):
        makepool.make_pool([tmp_path / "empty"], tmp_path / "pool.ecsv", progress=False)


def test_globs(exposures, tmp_path):
    pattern = str(exposures["good"] / "**" / "*_cal.asdf")
    result = makepool.make_pool([pattern], tmp_path / "pool.ecsv", progress=False)
    assert result.rows == 3


# -- files the pool reader would refuse ---------------------------------------------------------------

# Each a good L2 file with one value of its header changed (same length: the blocks stay put), or
# copied to a name that is not a bare file name: make-pool must refuse it as read_pool refuses its row.
REFUSED = {
    "ra_nan": ({b"ra_ref: 80.62": b"ra_ref: .nan "}, "roman.meta.wcsinfo.ra_ref: 'nan' is not a finite number"),
    "roll_inf": ({b"roll_ref: 12.0": b"roll_ref: .inf"}, "roman.meta.wcsinfo.roll_ref: 'inf' is not a finite number"),
    "ra_range": ({b"ra_ref: 80.62": b"ra_ref: 400.6"}, "roman.meta.wcsinfo.ra_ref: 400.6 is out of range 0..360"),
    "dec_range": ({b"dec_ref: -69.4": b"dec_ref: -99.4"},
                  "roman.meta.wcsinfo.dec_ref: -99.4 is out of range -90..90"),
    "region_shape": ({b"s_region: POLYGON": b"s_region: CIRCLE "},
                     "roman.meta.wcsinfo.s_region: 'CIRCLE  ICRS  80.482837140 -69.474003918 80.830956522"),
    "region_dec": ({b"80.482837140 -69.474003918": b"80.482837140 -99.474003918"},
                   "has a declination -99.474003918 outside -90..90"),
    "region_nan": ({b"80.482837140 -69.474003918": b"80.482837140           nan"}, "holds 'nan', not a finite number"),
    "dots": ("r0000101001001001001_0002_wfi01_f158_cal..asdf", "is not a bare file name: it holds '..'"),
    "backslash": ("r0000101001001001001_0002_wfi01_f158\\cal.asdf",
                  "is not a bare file name: it holds a path separator or a control character"),
    "control": ("r0000101001001001001_0002_wfi01_f158\x1b_cal.asdf",
                "is not a bare file name: it holds a path separator or a control character"),
    "not_utf8": (b"r0000101001001001001_0002_wfi01_f158\xff_cal.asdf", "is not valid UTF-8 text"),
}


@pytest.fixture(scope="session")
def refused(exposures, tmp_path_factory):
    """The path of each case of REFUSED, each in its own folder."""
    root = tmp_path_factory.mktemp("refused")
    source = exposures["two_l2"][0]
    made = {}
    for case, (change, _) in REFUSED.items():
        folder = root / case
        folder.mkdir()
        if isinstance(change, dict):
            ((old, new),) = change.items()
            made[case] = edit(source, folder / source.name, old, new)
        elif isinstance(change, bytes):  # a name the file system gives back with surrogate escapes
            target = os.path.join(os.fsencode(folder), change)
            with open(target, "wb") as stream:
                stream.write(source.read_bytes())
            made[case] = Path(os.fsdecode(target))
        else:
            made[case] = folder / change
            shutil.copy(source, made[case])
    return made


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_file_read_pool_would_refuse_is_a_bad_file_naming_the_problem(exposures, refused, tmp_path, case):
    path, reason = refused[case], REFUSED[case][1]
    out = tmp_path / "pool.ecsv"
    with pytest.raises(PoolError) as raised:
        makepool.make_pool([*exposures["dark_l1"], path], out, progress=False)
    line = next(line for line in str(raised.value).splitlines() if line.startswith(f"{path}: "))
    assert reason in line
    assert "1 bad file" in str(raised.value) and not out.exists()


@pytest.mark.parametrize("case", list(REFUSED))
def test_with_skip_bad_a_file_read_pool_would_refuse_is_skipped_with_its_reason(exposures, refused, tmp_path,
                                                                                  case, capsys):
    path, reason = refused[case], REFUSED[case][1]
    out = tmp_path / "pool.ecsv"
    assert main(["make-pool", str(exposures["good"] / "more"), str(path), "-o", str(out), "--skip-bad"]) == 0
    assert list(read_pool(out)["filename"]) == [p.name for p in exposures["two_l2"]]
    said = capsys.readouterr()
    assert "1 file left out (1 bad)" in said.out and reason in said.err
    (line,) = Path(f"{out}.skipped.txt").read_text("utf-8").splitlines()[1:]
    shown = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    assert line.startswith(f"{shown}\t") and reason in line


def test_a_pack_column_must_be_finite_too(exposures, refused, tmp_path):
    from romanasn import PoolColumn

    extra = [PoolColumn("roll", "float", meta="wcsinfo.roll_ref")]
    result = makepool.make_pool([*exposures["dark_l1"], refused["roll_inf"]], tmp_path / "pool.ecsv", columns=extra,
                                skip_bad=True, progress=False)
    assert result.rows == 1 and "roman.meta.wcsinfo.roll_ref: 'inf' is not a finite number" in result.bad[0].reason


@pytest.mark.parametrize("case", list(REFUSED))
def test_without_the_checks_such_a_file_would_stop_the_pool_reading_back(exposures, refused, tmp_path, monkeypatch,
                                                                          case):
    monkeypatch.setattr(makepool, "_check", lambda row, fields, problems: None)
    with pytest.raises((PoolError, UnicodeEncodeError)) as raised:
        makepool.make_pool([*exposures["dark_l1"], refused[case]], tmp_path / "pool.ecsv", skip_bad=True,
                           progress=False)
    assert isinstance(raised.value, UnicodeEncodeError) or "does not read back" in str(raised.value)


# -- update ------------------------------------------------------------------------------------


def test_update_adds_new_files_keeps_old_rows_and_reads_only_new_files(exposures, tmp_path, monkeypatch):
    out = tmp_path / "pool.ecsv"
    first = exposures["one_l1"] + exposures["dark_l1"]
    makepool.make_pool(first, out, progress=False)
    before = out.read_text().splitlines()
    read = []
    original = makepool.asdfheader.read_meta
    monkeypatch.setattr(makepool.asdfheader, "read_meta", lambda path, *a, **k: read.append(Path(path).name)
                        or original(path, *a, **k))
    result = makepool.make_pool([exposures["good"]], out, update=True, progress=False)
    assert sorted(read) == sorted(p.name for p in exposures["one_l2"] + exposures["two_l2"])
    after = out.read_text().splitlines()
    replaced = next(line for line in before if line.startswith(exposures["one_l1"][0].name))
    assert [line for line in before if line != replaced] == after[: len(before) - 1]
    assert result.kept == 3 and result.new_rows == 3 and result.rows == 5
    assert sorted(read_pool(out)["filename"]) == [r["filename"] for r in expected_rows(exposures)]
    assert any("keeps level 2" in s.reason for s in result.left_out)


def test_update_of_a_legacy_pool_stays_legacy(exposures, tmp_path):
    out = tmp_path / "pool.csv"
    makepool.make_pool(exposures["dark_l1"], out, format="legacy", progress=False)
    before = out.read_text()
    result = makepool.make_pool([exposures["good"]], out, update=True, progress=False)
    assert result.format == "legacy" and out.read_text().startswith(before)
    assert not any("rewritten" in note for note in result.notes)
    assert len(read_pool(out)) == 5


def test_update_with_nothing_new_keeps_the_file(exposures, tmp_path):
    out = tmp_path / "pool.ecsv"
    makepool.make_pool([exposures["good"]], out, progress=False)
    before = out.read_bytes()
    result = makepool.make_pool([exposures["good"]], out, update=True, progress=False)
    assert out.read_bytes() == before and result.read == 1  # the L1 file left out the first time


# -- formats ---------------------------------------------------------------------------------


def test_legacy_format_reads_back_like_the_ecsv(exposures, tmp_path):
    ecsv, legacy = tmp_path / "pool.ecsv", tmp_path / "pool.ecsv.legacy"
    assert main(["make-pool", str(exposures["good"]), "-o", str(ecsv), "-q"]) == 0
    assert main(["make-pool", str(exposures["good"]), "-o", str(legacy), "--format", "legacy", "-q"]) == 0
    header = legacy.read_text().splitlines()[0].split("|")
    assert header[:3] == ["FILENAME", "PROGRAM", "EX_PLAN"] and "OBS_ID" in header and "LEVEL" in header
    a, b = read_pool(ecsv), read_pool(legacy)
    assert b.meta["romanasn"]["format"] == "legacy"
    for name in a.colnames:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name


# -- engines -----------------------------------------------------------------------------------------
# Runs on a Dask cluster are in test_cluster.py; these need no Dask.


def test_the_dask_engine_without_dask_is_a_one_line_error_naming_the_extra(exposures, tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if Dask were not installed
    out = tmp_path / "pool.ecsv"
    assert main(["make-pool", str(exposures["good"]), "-o", str(out), "--engine", "dask"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("romanasn: error: --engine dask needs Dask") and err.count("\n") == 1
    assert "pip install 'romanasn[dask]'" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, expected", [
    (["--scheduler", "tcp://localhost:8786"], "--scheduler needs --engine dask"),
    (["--engine", "dask", "-j", "2"], "--jobs is for --engine local"),
])
def test_options_of_the_other_engine_are_refused(exposures, tmp_path, capsys, options, expected):
    assert main(["make-pool", str(exposures["good"]), "-o", str(tmp_path / "pool.ecsv"), *options]) == 2
    assert expected in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="unknown engine 'spark'"):
        makepool.make_pool([exposures["good"]], tmp_path / "pool.ecsv", engine="spark")


# -- progress --------------------------------------------------------------------------------------


def test_cli_prints_a_one_line_summary_when_not_on_a_terminal(exposures, tmp_path, capsys):
    out = tmp_path / "pool.ecsv"
    assert main(["make-pool", str(exposures["good"]), "-o", str(out)]) == 0
    said = capsys.readouterr()
    assert "reading headers: 6 files in" in said.err and "\r" not in said.err
    assert f"wrote {out} (ecsv): 5 rows" in said.out
