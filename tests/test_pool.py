"""Reading, checking, repairing and writing pools."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from astropy.table import MaskedColumn, Table

from romanasn import pool
from romanasn.columns import canonical_columns, ranges
from romanasn.errors import PoolError, UsageError
from romanasn.naming import NAME_BYTES, unsafe_reason
from romanasn.plugins.types import PoolColumn
from romanasn.pool import read_pool, read_pools, write_pool

DATA = Path(__file__).parent / "data"
VISIT = "0000101001001001001"
REQUIRED = [column.name for column in canonical_columns() if column.required]


def _row(exposure=1, detector=1, **changes):
    """A valid pool row (required columns) for one exposure and detector, with ``changes``."""
    row = {
        "filename": f"r{VISIT}_{exposure:04d}_wfi{detector:02d}_f158_cal.asdf",
        "program": 1, "execution_plan": 1, "pass": 1, "segment": 1, "observation": 1, "visit": 1,
        "visit_file_group": 1, "visit_file_sequence": 1, "visit_file_activity": "01",
        "exposure": exposure, "visit_id": VISIT, "observation_id": f"{VISIT}01101{exposure:04d}",
        "exposure_type": "WFI_IMAGE", "detector": f"WFI{detector:02d}", "optical_element": "F158",
    }
    row.update(changes)
    return row


def _csv(tmp_path, rows, name="pool.csv", names=None):
    """Write ``rows`` (dicts) as a CSV pool with columns ``names`` (default: the first row's keys)."""
    names = names or list(rows[0])
    lines = [",".join(names)] + [",".join(str(row.get(name, "")) for name in names) for row in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _error(path, **options):
    with pytest.raises(PoolError) as raised:
        read_pool(path, **options)
    return str(raised.value)


# -- canonical pools ----------------------------------------------------------------


def test_canonical_csv_is_typed_and_complete():
    table = read_pool(DATA / "pool_canonical.csv")
    assert len(table) == 6
    assert table.colnames[: len(canonical_columns())] == [c.name for c in canonical_columns()]
    for column in canonical_columns():
        if column.dtype == "int":
            assert table[column.name].dtype == np.int64
        if column.dtype == "str":  # Python strings, a value repeated in many rows held once
            assert table[column.name].dtype == object
            assert all(type(value) is str for value in table[column.name])
    visits = np.asarray(table["visit_id"])
    assert visits[0] == VISIT and all(value is visits[0] for value in visits[visits == VISIT])
    assert table["visit_file_activity"][0] == "01"
    assert table["visit_id"][0] == VISIT
    assert list(table["level"]) == [2, 2, 1, 2, 2, 1]
    assert table.meta["romanasn"] == {
        "path": str(DATA / "pool_canonical.csv"), "format": "csv", "repairs": []
    }


def test_the_table_can_be_written():
    table = read_pool(DATA / "pool_canonical.csv")
    table["program"][0], table["ra_ref"][0], table["filename"][0] = 7, 1.5, "x_cal.asdf"
    assert (table["program"][0], table["ra_ref"][0], table["filename"][0]) == (7, 1.5, "x_cal.asdf")


def test_missing_optional_columns_are_added_empty():
    table = read_pool(DATA / "pool_canonical.csv")
    assert isinstance(table["nresultants"], MaskedColumn)
    assert table["nresultants"].mask.all()
    assert isinstance(table["roll_ref"], MaskedColumn)
    assert list(table["s_region"]) == [""] * 6
    assert list(table["exposerr"]) == [""] * 6


def test_empty_optional_numbers_are_masked(tmp_path):
    path = _csv(tmp_path, [_row(1, ra_ref=10.5, level=2), _row(2, ra_ref="", level="")])
    table = read_pool(path)
    assert list(table["ra_ref"].mask) == [False, True]
    assert table["ra_ref"][0] == 10.5
    assert list(table["level"].mask) == [False, True]


def test_astropy_ecsv_with_quoted_fields():
    table = read_pool(DATA / "pool_canonical.ecsv")
    assert len(table) == 6
    assert table.meta["romanasn"]["format"] == "ecsv"
    assert table["s_region"][0] == (
        "POLYGON ICRS  270.1000 65.4000 270.2000 65.4000 270.2000 65.5000 270.1000 65.5000"
    )
    assert table["exposerr"][0] == ""
    assert table["ma_table_name"][0] == "C2A_IMG_HLWAS"
    assert table["ra_ref"][0] == 270.1


def test_strings_stay_as_written(tmp_path):
    path = _csv(tmp_path, [_row(1, target="007", nickname="01", data_problem="False")])
    table = read_pool(path)
    assert table["visit_file_activity"][0] == "01"
    assert table["target"][0] == "007"
    assert table["nickname"][0] == "01"
    assert table["data_problem"][0] == "False"


def test_quoted_csv_fields(tmp_path):
    path = tmp_path / "pool.csv"
    names = REQUIRED + ["target", "note"]
    values = [str(_row()[name]) for name in REQUIRED]
    path.write_text(
        ",".join(names) + "\n" + ",".join(values) + ',"Sgr A*, field 2","say ""hi"", twice"\n'
    )
    table = read_pool(path)
    assert table["target"][0] == "Sgr A*, field 2"
    assert table["note"][0] == 'say "hi", twice'


def test_a_quoted_line_end_stays_in_its_cell(tmp_path):
    """Arrow splits rows at every line end only in a file without a quote."""
    path = tmp_path / "pool.csv"
    values = [str(_row()[name]) for name in REQUIRED]
    path.write_text(",".join(REQUIRED + ["note"]) + "\n" + ",".join(values) + ',"two\nlines"\n')
    table = read_pool(path)
    assert len(table) == 1 and table["note"][0] == "two\nlines"


def test_crlf_blank_lines_and_no_final_newline(tmp_path):
    rows = [_row(1), _row(2)]
    path = tmp_path / "pool.csv"
    lines = [",".join(rows[0])] + [",".join(str(v) for v in row.values()) for row in rows]
    path.write_bytes(("\r\n".join(lines[:2]) + "\r\n\r\n" + lines[2]).encode())
    table = read_pool(path)
    assert list(table["exposure"]) == [1, 2]
    assert table["optical_element"][1] == "F158"


def test_utf8_text(tmp_path):
    path = _csv(tmp_path, [_row(1, target="Étoile ω")])
    assert read_pool(path)["target"][0] == "Étoile ω"


def test_many_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "_BLOCK_BYTES", 100)
    rows = [
        _row(exposure, detector, target=f'"T, {exposure}"')
        for exposure in range(1, 6) for detector in range(1, 19)
    ]
    table = read_pool(_csv(tmp_path, rows))
    assert len(table) == 90
    assert table["target"][-1] == "T, 5"
    rows[50]["program"] = "x"
    assert "pool.csv: row 51, column 'program': 'x' is not an integer" in _error(_csv(tmp_path, rows))


# -- format detection ---------------------------------------------------------------


def test_ecsv_named_csv_is_read_as_ecsv(tmp_path):
    path = tmp_path / "pool.csv"
    shutil.copy(DATA / "pool_canonical.ecsv", path)
    assert read_pool(path).meta["romanasn"]["format"] == "ecsv"


def test_format_by_content_not_extension(tmp_path):
    csv_path = tmp_path / "pool.ecsv"
    shutil.copy(DATA / "pool_canonical.csv", csv_path)
    legacy_path = tmp_path / "pool.txt"
    shutil.copy(DATA / "pool_002_wfi_image.csv", legacy_path)
    assert read_pool(csv_path).meta["romanasn"]["format"] == "csv"
    assert read_pool(legacy_path).meta["romanasn"]["format"] == "legacy"


def test_forced_format(tmp_path):
    assert "not an ECSV file" in _error(DATA / "pool_canonical.csv", format="ecsv")
    assert read_pool(DATA / "pool_canonical.ecsv", format="ecsv").meta["romanasn"]["format"] == "ecsv"
    with pytest.raises(UsageError, match="unknown pool format 'fits'"):
        read_pool(DATA / "pool_canonical.csv", format="fits")


# -- errors in canonical pools --------------------------------------------------------


def test_missing_required_column_suggests_a_close_name(tmp_path):
    rows = [{("exp_type" if k == "exposure_type" else k): v for k, v in _row().items()}]
    message = _error(_csv(tmp_path, rows))
    assert message == (
        f"{tmp_path / 'pool.csv'}: missing required column 'exposure_type'"
        " (found 'exp_type'; did you mean it?)"
    )


def test_missing_required_column_without_suggestion(tmp_path):
    row = _row()
    del row["detector"]
    assert _error(_csv(tmp_path, [row])).endswith("missing required column 'detector'")


def test_unknown_column_close_to_a_known_one(tmp_path):
    message = _error(_csv(tmp_path, [_row(strat_time="2027-03-01T00:00:00")]))
    assert message.endswith("pool.csv: unknown column 'strat_time' (did you mean 'start_time'?)")


def test_unknown_columns_far_from_known_ones_are_kept(tmp_path):
    table = read_pool(_csv(tmp_path, [_row(dither_pattern="BOXGAP4", target_id=7)]))
    assert table["dither_pattern"][0] == "BOXGAP4"
    assert table["target_id"][0] == "7"


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("program", "abc", "'abc' is not an integer"),
        ("exposure", "1.5", "'1.5' is not an integer"),
        ("ra_ref", "north", "'north' is not a finite number"),
        ("ra_ref", "nan", "'nan' is not a finite number"),
        ("ra_ref", "-inf", "'-inf' is not a finite number"),
        ("ra_ref", "1e999", "'1e999' is not a finite number"),
        ("ra_ref", 360.5, "360.5 is out of range 0..360"),
        ("ra_ref", -1, "-1.0 is out of range 0..360"),
        ("dec_ref", -90.5, "-90.5 is out of range -90..90"),
        ("program", 18446, "18446 is out of range 1..18445"),
        ("visit_file_sequence", 6, "6 is out of range 1..5"),
        ("pass", 0, "0 is out of range 1..999"),
        ("level", 4, "4 is out of range 1..3"),
        ("detector", "WFI19", "'WFI19' is not one of WFI01, WFI02"),
        ("exposure_type", "WFI_GRISM", "'WFI_GRISM' is not one of WFI_IMAGE"),
        ("optical_element", "f158", "'f158' is not one of F062"),
        ("visit_file_activity", "1", "'1' is not 2 digits"),
        ("visit_id", VISIT[1:], f"'{VISIT[1:]}' is not 19 digits"),
        ("observation_id", f"{VISIT}P011010001", f"'{VISIT}P011010001' is not 28 digits"),
        ("filename", "", "empty value in a required column"),
        ("program", "", "empty value in a required column"),
    ],
)
def test_bad_value_names_file_row_and_column(tmp_path, column, value, expected):
    rows = [_row(1), _row(2), dict(_row(3), **{column: value})]
    message = _error(_csv(tmp_path, rows, names=list(_row(ra_ref=0, dec_ref=0, level=1))))
    assert message.startswith(f"{tmp_path / 'pool.csv'}: row 3, column '{column}': {expected}")


def test_coordinates_at_their_limits_are_accepted(tmp_path):
    rows = [_row(1, ra_ref=0, dec_ref=-90), _row(2, ra_ref=360, dec_ref=90), _row(3, ra_ref="", dec_ref="")]
    table = read_pool(_csv(tmp_path, rows))
    assert list(table["ra_ref"].filled(-1)) == [0, 360, -1]
    assert ranges()["ra_ref"] == (0, 360) and ranges()["dec_ref"] == (-90, 90)


def test_visit_id_must_match_its_parts(tmp_path):
    message = _error(_csv(tmp_path, [_row(1), _row(2, visit=2)]))
    expected = f"row 2, column 'visit_id': '{VISIT}' disagrees with its parts (expected '{VISIT[:-3]}002')"
    assert expected in message


def test_observation_id_must_match_its_parts(tmp_path):
    message = _error(_csv(tmp_path, [_row(1), _row(2, observation_id=f"{VISIT}011010001")]))
    assert (
        f"row 2, column 'observation_id': '{VISIT}011010001' disagrees with its parts"
        f" (expected '{VISIT}011010002')"
    ) in message
    message = _error(_csv(tmp_path, [_row(1, visit_file_activity="02")]))
    assert f"(expected '{VISIT}011020001')" in message


def test_duplicate_file_names_name_both_rows(tmp_path):
    rows = [_row(1), _row(2), _row(2, 2, filename=_row(1)["filename"])]
    message = _error(_csv(tmp_path, rows))
    assert message.endswith(
        f"row 3, column 'filename': duplicate file name '{_row(1)['filename']}' (also row 1)"
    )


def test_same_exposure_at_two_levels_names_both_rows(tmp_path):
    uncal = _row(1, 3, filename=f"r{VISIT}_0001_wfi03_f158_uncal.asdf")
    message = _error(_csv(tmp_path, [uncal, _row(1, 1), _row(1, 3)]))
    assert message.endswith(
        f"row 3, column 'observation_id': same exposure '{VISIT}011010001' and detector 'WFI03' as row 1"
    )


FOOTPRINT = "POLYGON ICRS  270.1000 65.4000 270.2000 65.4000 270.2000 65.5000 270.1000 65.5000"


@pytest.mark.parametrize("s_region", [
    FOOTPRINT,
    "",
    "POLYGON 270.1 65.4 270.2 65.4 270.2 65.5",  # no frame
    "POLYGON FK5 270.1 65.4 270.2 65.4 270.2 65.5",
    "polygon icrs 270 65 271 65 271 66",  # any case, integers
    "POLYGON ICRS 2.701e2 6.54E1 270.2 +65.4 .5 65.5 270.1 65.5 2.701e2 6.54E1",  # closed, exponents
    "POLYGON ICRS 0 -90 360 90 360.0 -90.0",  # the limits
    "  POLYGON\tICRS\t359.99 -89.99 0.01 89.99 180.0 0.0 ",
])
def test_well_formed_s_regions_are_accepted(tmp_path, s_region):
    table = read_pool(_csv(tmp_path, [_row(1, s_region=f'"{s_region}"')]))
    assert table["s_region"][0] == s_region


@pytest.mark.parametrize("s_region, expected", [
    ("CIRCLE ICRS 270.1 65.4 0.1", "is not 'POLYGON [frame] ra1 dec1 ra2 dec2 ra3 dec3 ...'"),
    ("270.1 65.4 270.2 65.4 270.2 65.5", "is not 'POLYGON"),
    ("POLYGON garbage", "has 0 coordinates, not 3 or more (ra, dec) pairs"),
    ("POLYGON ICRS 270.1 65.4 270.2 65.4", "has 4 coordinates, not 3 or more (ra, dec) pairs"),
    ("POLYGON ICRS 270.1 65.4 270.2 65.4 270.2 65.5 270.1", "has 7 coordinates"),
    ("POLYGON ICRS 270.1 65.4 270.2 nan 270.2 65.5", "holds 'nan', not a finite number"),
    ("POLYGON ICRS 270.1 65.4 270.2 inf 270.2 65.5", "holds 'inf', not a finite number"),
    ("POLYGON ICRS 270.1 65.4 270.2 65.4.1 270.2 65.5", "holds '65.4.1', not a finite number"),
    ("POLYGON ICRS 270.1 65.4 270.2 6-5 270.2 65.5", "holds '6-5', not a finite number"),
    ("POLYGON ICRS 270.1 65.4 x 270.2 65.4 270.2 65.5", "holds 'x', not a finite number"),
    ("POLYGON ICRS 360.5 65.4 270.2 65.4 270.2 65.5", "has a right ascension 360.5 outside 0..360"),
    ("POLYGON ICRS 270.1 65.4 -0.5 65.4 270.2 65.5", "has a right ascension -0.5 outside 0..360"),
    ("POLYGON ICRS 270.1 90.01 270.2 65.4 270.2 65.5", "has a declination 90.01 outside -90..90"),
    ("POLYGON ICRS 270.1 65.4 270.2 -95 270.2 65.5", "has a declination -95.0 outside -90..90"),
])
def test_a_malformed_s_region_names_file_row_and_column(tmp_path, s_region, expected):
    path = _csv(tmp_path, [_row(1, s_region=FOOTPRINT), _row(2, s_region=s_region)])
    assert _error(path).startswith(f"{path}: row 2, column 's_region': {s_region!r} {expected}")


def _mutations(rng, count):
    """Footprints with a few characters replaced, inserted or removed, many of them still well formed."""
    alphabet = list("0123456789.+- \teEPOLYGNICRSx") + ["nan", "360", "90", "\x00", "\u0665"]
    plain = [FOOTPRINT, "POLYGON ICRS 359.5 -89.9 0.0 89.5 180.25 -0.5 10.0 10.0",
             "POLYGON 0.1 1.0 2.2 2.0 3.3 3.0"]
    for _ in range(count):
        text = list(plain[rng.integers(len(plain))])
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(len(text) + 1))
            change = rng.integers(3)
            if change == 0 and at < len(text):
                del text[at]
            else:
                text[at:at + int(change == 1)] = [alphabet[rng.integers(len(alphabet))]]
        yield "".join(text)


def test_the_fast_s_region_check_agrees_with_the_full_one():
    """The regular expression passes only footprints the per-value check passes; together they judge as it does."""
    regions = np.array(list(_mutations(np.random.default_rng(7), 3000)) + ["", FOOTPRINT])
    problems = [pool.region_problem(text) if text else None for text in regions.tolist()]
    plain = pc.match_substring_regex(pa.array(regions.tolist()), pool._PLAIN_POLYGON).to_numpy(zero_copy_only=False)
    assert not any(plain[k] and problems[k] for k in range(len(regions)))
    assert plain.mean() > 0.05 and 0.1 < np.mean([problem is None for problem in problems]) < 0.9
    malformed, reasons = pool._judge(regions, regions != "", "s_region", pool._plain(regions, pool._PLAIN_POLYGON, pool.CELL_BYTES))
    assert list(malformed) == [problem is not None for problem in problems]
    assert all(reasons[text] == f"{text!r} {problem}" for text, problem in zip(regions.tolist(), problems) if problem)


# -- one cell at a time, as make-pool checks each file's row --------------------------------------

REFUSED_CELLS = [  # typed as make-pool reads them from exposure headers
    ("ra_ref", float("nan")), ("ra_ref", float("-inf")), ("roll_ref", float("inf")), ("ra_ref", 360.5),
    ("ra_ref", -0.25), ("dec_ref", 90.001), ("program", 18446), ("visit_file_sequence", 6), ("level", 0),
    ("detector", "WFI19"), ("optical_element", "f158"), ("exposure_type", "WFI_GRISM"),
    ("visit_file_activity", "1"), ("visit_file_activity", "0a"), ("visit_id", VISIT + "0"),
    ("s_region", "CIRCLE ICRS 270.1 65.4 0.1"), ("s_region", "POLYGON ICRS 270.1 65.4 270.2 65.4"),
    ("s_region", "POLYGON ICRS 270.1 95 270.2 65.4 270.2 65.5"), ("s_region", FOOTPRINT.replace("65.5000", "nan", 1)),
    ("filename", "r..x_cal.asdf"), ("filename", "back\\slash_cal.asdf"), ("filename", "esc\x1b_cal.asdf"),
]


def _typed_pool(tmp_path, column, value):
    """A pool written as make-pool writes one: typed rows through write_pool, row 2 holding ``value``."""
    from romanasn.testing import pool_table

    base = {"ra_ref": 1.0, "dec_ref": 1.0, "roll_ref": 0.0, "level": 2, "s_region": FOOTPRINT, "target": ""}
    rows = [_row(1, **base), dict(_row(2, **base), **{column: value})]
    path = tmp_path / "pool.ecsv"
    write_pool(pool_table(rows), path)
    return path


@pytest.mark.parametrize("column, value", REFUSED_CELLS)
def test_a_cell_is_refused_by_cell_problem_as_by_read_pool_with_its_message(tmp_path, column, value):
    problem = pool.cell_problem(column, value)
    assert problem
    path = _typed_pool(tmp_path, column, value)
    assert _error(path) == f"{path}: row 2, column {column!r}: {problem}"


@pytest.mark.parametrize("column, value", [
    ("ra_ref", 0.0), ("ra_ref", 360.0), ("dec_ref", -90.0), ("roll_ref", -720.5), ("level", 3),
    ("nresultants", 1 << 40),
    ("s_region", "polygon icrs 270 65 271 65 271 66"), ("s_region", ""), ("filename", "a.b.c_cal.asdf"),
    ("filename", "\u00e9_cal.asdf"), ("target", 'any text, even "quoted", | or \u0665'), ("ra_ref", None),
])
def test_a_cell_read_pool_accepts_has_no_problem(tmp_path, column, value):
    assert pool.cell_problem(column, value) is None
    assert len(read_pool(_typed_pool(tmp_path, column, value))) == 2


def test_cells_a_pool_cannot_hold():
    assert pool.cell_problem("nresultants", 1 << 63) == "9223372036854775808 does not fit a 64-bit integer"
    assert pool.cell_problem("nresultants", -(1 << 63)) is None
    assert pool.cell_problem("filename", "r\udcff_cal.asdf") == "'r\\udcff_cal.asdf' is not valid UTF-8 text"
    assert pool.cell_problem("target", "\u0665\u0661") is None
    assert pool.cell_problem("visit_file_activity", "\u0660\u0661") == "'\u0660\u0661' is not 2 digits"  # ASCII only
    assert pool.cell_problem("hga_move", True) is None and pool.cell_problem("program", None) is None


def test_ids_against_their_parts_as_read_pool_checks_them(tmp_path):
    row = _row(2, visit=2)
    problems = pool.id_problems(row)
    assert [name for name, _ in problems] == ["visit_id", "observation_id"]
    lines = _error(_csv(tmp_path, [_row(1), row])).splitlines()
    assert lines == [f"{tmp_path / 'pool.csv'}: row 2, column {name!r}: {problem}" for name, problem in problems]
    assert pool.id_problems(_row(2)) == [] and pool.id_problems(dict(_row(2), visit=None)) == []
    assert pool.id_from_parts("observation_id", _row(7)) == _row(7)["observation_id"]


@pytest.mark.parametrize("filename", [
    "../../x_cal.asdf", "sub/dir_cal.asdf", "back\\slash_cal.asdf", "r..x_cal.asdf", "bell\x07_cal.asdf",
    "nul\x00_cal.asdf", "del\x7f_cal.asdf", "é_cal.asdf", "a.b.c_cal.asdf", ".hidden_cal.asdf",
    "x_cal.asdf.",
])
def test_unsafe_file_names_are_found_as_naming_finds_them(filename):
    names = np.array([filename, "ok_cal.asdf"])
    bad, _ = pool._judge(names, np.ones(2, bool), "filename", pool._plain(names, pool._PLAIN_NAME, NAME_BYTES))
    assert bad.tolist() == [unsafe_reason(filename) is not None, False]


def test_a_file_name_that_is_not_bare_names_row_and_column(tmp_path):
    path = _csv(tmp_path, [_row(1), _row(2, filename="sub/r..x_cal.asdf")])
    assert _error(path) == (f"{path}: row 2, column 'filename': 'sub/r..x_cal.asdf' is not a bare file name:"
                            " it holds a path separator or a control character")


def test_wrong_number_of_fields(tmp_path):
    path = _csv(tmp_path, [_row(1), _row(2)])
    path.write_text(path.read_text() + "a,b,c\n")
    assert _error(path).endswith(f"pool.csv: row 3: 3 fields, expected {len(REQUIRED)}")


def test_every_problem_in_one_error_sorted_by_row(tmp_path):
    rows = [_row(1, program="x"), dict(_row(2), detector="WFI00", exposure_type="IMAGE")]
    lines = _error(_csv(tmp_path, rows)).splitlines()
    assert len(lines) == 3
    assert "row 1, column 'program'" in lines[0]
    assert {"row 2, column 'detector'", "row 2, column 'exposure_type'"} == {
        line.split(": ")[1] for line in lines[1:]
    }


def test_problems_are_capped_at_twenty_lines(tmp_path):
    rows = [_row(exposure, program="x") for exposure in range(1, 31)]
    lines = _error(_csv(tmp_path, rows)).splitlines()
    assert len(lines) == 21
    assert "row 20, column 'program'" in lines[19]
    assert lines[20] == "and 10 more"


def test_header_only_and_empty_files(tmp_path):
    header = _csv(tmp_path, [_row()], name="header.csv")
    header.write_text(header.read_text().splitlines()[0] + "\n")
    assert _error(header) == f"{header}: no data rows"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "no header line" in _error(empty)


def test_non_utf8_bytes_name_file_and_line(tmp_path):
    path = _csv(tmp_path, [_row(1, target="A"), _row(2, target="X")])
    path.write_bytes(path.read_bytes().replace(b",X", b",\xff"))
    assert _error(path) == f"{path}: line 3: not valid UTF-8 (byte 0xff)"


def test_missing_file():
    assert "cannot read the pool" in _error(DATA / "no_such_pool.csv")


def test_duplicate_column_names(tmp_path):
    path = _csv(tmp_path, [_row()], names=list(_row()) + ["program"])
    assert _error(path) == f"{path}: column 'program' appears 2 times"


def test_ecsv_header_problems(tmp_path):
    text = (DATA / "pool_canonical.ecsv").read_text()
    bad_yaml = tmp_path / "bad_yaml.ecsv"
    bad_yaml.write_text(text.replace("# datatype:", "# datatype: [", 1))
    assert _error(bad_yaml).startswith(f"{bad_yaml}: bad ECSV header: ")
    renamed = tmp_path / "renamed.ecsv"
    renamed.write_text(text.replace("\nfilename program", "\nfile program", 1))
    assert _error(renamed) == f"{renamed}: line 34: the column names differ from the ECSV header's"


def test_ecsv_declared_types_type_extra_columns(tmp_path):
    table = Table({"flagged": [True], "tile": [3], "weight": [0.5], "note": ["01"]})
    for name, value in _row().items():
        table[name] = [value]
    write_pool(table, tmp_path / "pool.ecsv")
    again = read_pool(str(tmp_path / "pool.ecsv"))
    assert again["flagged"].dtype == bool and bool(again["flagged"][0]) is True
    assert again["tile"][0] == 3 and again["weight"][0] == 0.5 and again["note"][0] == "01"
    assert again.colnames[-4:] == ["flagged", "tile", "weight", "note"]


# -- legacy pools ------------------------------------------------------------------


def test_legacy_pool_001_gives_54_rows(caplog):
    with caplog.at_level(logging.WARNING, logger="romanasn.pool"):
        table = read_pool(DATA / "pool_001_candidates.csv")
    assert len(table) == 54
    assert len(set(table["filename"])) == 54
    assert len(set(table["observation_id"])) == 3
    assert sorted(set(table["detector"])) == [f"WFI{n:02d}" for n in range(1, 19)]
    assert table["filename"][0] == "r0099201005001001001_00101_0001_wfi01_uncal.asdf"
    assert table["filename"][53] == "r0099201005001001001_00101_0003_wfi18_uncal.asdf"
    assert table.meta["romanasn"]["format"] == "legacy"
    (warning,) = caplog.records  # the repairs in one short line (each is a debug line)
    assert warning.name == "romanasn.pool" and len(warning.getMessage()) < 300
    assert warning.getMessage().endswith(
        "legacy pool repaired: 7 unknown columns dropped, repeated files merged (3 rows), visit_file_activity"
        " zero-padded (3 rows), observation_id rebuilt (3 rows), WFI rows expanded to detectors (3 rows)"
        " (-v lists each)")


def test_legacy_pool_002_gives_36_rows():
    assert len(read_pool(DATA / "pool_002_wfi_image.csv")) == 36


def test_legacy_values_are_repaired_not_rewritten():
    table = read_pool(DATA / "pool_001_candidates.csv")
    row = table[0]
    assert row["program"] == 992 and row["observation"] == 1 and row["pass"] == 5
    assert row["visit_id"] == "0099201005001001001"
    assert row["visit_file_activity"] == "01"
    assert row["observation_id"] == "0099201005001001001011010001"
    assert row["exposure_type"] == "WFI_IMAGE" and row["optical_element"] == "F158"
    assert row["target"] == "GBTDS"
    assert row["program_category"] == "Survey" and row["program_subcategory"] == "GBTDS"
    assert row["asn_candidate"] == "[('o001'),('OBSERVATION')]"
    assert row["exposerr"] == ""
    assert "TILE" not in table.colnames and "tile" not in table.colnames


def test_legacy_repairs_are_listed_each_with_counts_and_rows():
    path = DATA / "pool_001_candidates.csv"
    repairs = read_pool(path).meta["romanasn"]["repairs"]
    assert all(repair.startswith(f"{path}: ") for repair in repairs)
    expected = {
        "renamed legacy columns FILENAME -> filename, OBS_ID -> observation_id": None,
        "dropped unknown legacy columns VISIT_TYPE, NEXPSUR, TARGET_ID, DITHER, SUBPIX_DITHER, TILE,"
        " N_TILES": None,
        "merged rows repeating a file name (first kept): 3 rows (4, 5, 6)": None,
        "zero-padded visit_file_activity to 2 digits: 3 rows (1, 2, 3)": None,
        "rebuilt malformed observation_id from its parts: 3 rows (1, 2, 3)": None,
        "expanded rows for detector WFI to its 18 detectors: 3 rows (1, 2, 3)": None,
        "read NULL and NONE as empty: 6 rows (1, 2, 3, 4, 5, ...)": None,
    }
    for text in expected:
        assert sum(text in repair for repair in repairs) == 1, text
    assert len(repairs) == len(expected)


def _legacy(tmp_path, rows, name="legacy.csv"):
    """A legacy pool: one row per (exposure type, detector, element), exposures 1, 2, ..."""
    header = (
        "FILENAME | PROGRAM|EX_PLAN|PASS|SEQUENCE|OBS_NUM|VISIT|VISIT_ID|VISIT_GRP|SEQ_ID|ACT_ID|EXPCOUNT"
        "|EXP_TYPE|DETECTOR|OPT_ELEM|OBS_ID"
    )
    lines = [header]
    for n, (exp_type, detector, element) in enumerate(rows, 1):
        name = f"r{VISIT}_{n:04d}_{detector if detector == 'WFI' else detector.lower()}_uncal.asdf"
        lines.append(f"{name}|1|1|1|1|1|1| {VISIT[2:]} |1|1|1|{n}|{exp_type}|{detector}|{element}|NULL")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_legacy_old_exposure_types(tmp_path):
    rows = [("WFI_GRISM", "WFI01", "NONE"), ("WFI_PRISM", "WFI01", "F158"), ("WFI_DARK", "WFI01", "DARK"),
            ("WFI_IMAGE", "WFI01", "F158")]
    table = read_pool(_legacy(tmp_path, rows))
    assert list(table["exposure_type"]) == ["WFI_SPECTRAL", "WFI_SPECTRAL", "WFI_IM_DARK", "WFI_IMAGE"]
    assert list(table["optical_element"]) == ["GRISM", "PRISM", "DARK", "F158"]
    assert list(table["visit_id"]) == [VISIT] * 4
    assert list(table["observation_id"]) == [f"{VISIT}01101{n:04d}" for n in range(1, 5)]
    repairs = table.meta["romanasn"]["repairs"]
    assert any("mapped old exposure types" in repair and "3 rows (1, 2, 3)" in repair for repair in repairs)
    assert any("zero-padded visit_id to 19 digits: 4 rows" in repair for repair in repairs)


def test_legacy_whole_focal_plane_keeps_source_rows_in_errors(tmp_path):
    path = _legacy(tmp_path, [("WFI_IMAGE", "WFI02", "F158"), ("WFI_IMAGE", "WFI", "F999")])
    lines = _error(path).splitlines()
    assert len(lines) == 18
    assert all(line.startswith(f"{path}: row 2, column 'optical_element': 'F999'") for line in lines)


def test_legacy_unrepairable_problems_are_errors(tmp_path):
    path = _legacy(tmp_path, [("WFI_IMAGE", "WFI01", "F158")])
    path.write_text(path.read_text().replace("|1|1|1|1|1|1|", "|one|1|1|1|1|1|", 1))
    assert f"{path}: row 1, column 'program': 'one' is not an integer" in _error(path)


# -- pack columns ------------------------------------------------------------------


def test_pack_columns_are_typed_and_checked(tmp_path):
    columns = [
        PoolColumn(name="tile", dtype="int"),
        PoolColumn(name="survey_pass", dtype="str", required=True),
    ]
    table = read_pool(_csv(tmp_path, [_row(1, tile=7, survey_pass="007")]), columns=columns)
    assert table["tile"][0] == 7 and table["tile"].dtype == np.int64
    assert table["survey_pass"][0] == "007"
    message = _error(_csv(tmp_path, [_row(1, tile="seven")]), columns=columns)
    assert "missing required column 'survey_pass'" in message
    assert "row 1, column 'tile': 'seven' is not an integer" in message


def test_legacy_pack_columns_are_kept(tmp_path):
    table = read_pool(DATA / "pool_002_wfi_image.csv", columns=[PoolColumn(name="tile", dtype="int")])
    assert list(table["tile"][:2]) == [1, 1]


# -- several pools -----------------------------------------------------------------


def test_read_pools_concatenates(tmp_path):
    first = _csv(tmp_path, [_row(1)], name="a.csv")
    second = _csv(tmp_path, [_row(2)], name="b.csv")
    table = read_pools([first, second])
    assert list(table["exposure"]) == [1, 2]
    assert table.meta["romanasn"] == {
        "path": [str(first), str(second)], "format": ["csv", "csv"], "repairs": []
    }


def test_read_pools_finds_duplicates_across_files(tmp_path):
    first = _csv(tmp_path, [_row(1), _row(2)], name="a.csv")
    second = _csv(tmp_path, [_row(3), _row(2, filename="other.asdf")], name="b.csv")
    third = _csv(tmp_path, [_row(1)], name="c.csv")
    with pytest.raises(PoolError) as raised:
        read_pools([first, second, third])
    lines = str(raised.value).splitlines()
    assert lines == [
        f"{second}: row 2, column 'observation_id': same exposure '{VISIT}011010002' and detector 'WFI01'"
        f" as row 2 of {first}",
        f"{third}: row 1, column 'filename': duplicate file name '{_row(1)['filename']}'"
        f" (also row 1 of {first})",
    ]


def test_read_pools_with_clashing_extra_columns(tmp_path):
    first = _csv(tmp_path, [_row(1, tile=1)], name="a.csv")
    second = tmp_path / "b.ecsv"
    table = Table({name: [value] for name, value in _row(2).items()})
    table["tile"] = [2]
    write_pool(table, second)
    clash = "cannot be read together: The 'tile' columns have incompatible types"
    with pytest.raises(PoolError, match=clash):
        read_pools([first, second])


def test_read_pools_needs_a_file():
    with pytest.raises(UsageError):
        read_pools([])


# -- writing -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pool_canonical.csv", "pool_canonical.ecsv", "pool_001_candidates.csv"])
def test_write_read_round_trip_is_byte_identical(tmp_path, name):
    table = read_pool(DATA / name)
    write_pool(table, tmp_path / "one.ecsv")
    again = read_pool(tmp_path / "one.ecsv")
    write_pool(again, tmp_path / "two.ecsv")
    assert (tmp_path / "one.ecsv").read_bytes() == (tmp_path / "two.ecsv").read_bytes()
    assert again.colnames == table.colnames
    for name in table.colnames:
        assert again[name].dtype.kind == table[name].dtype.kind
        assert list(again[name].filled() if hasattr(again[name], "mask") else again[name]) == list(
            table[name].filled() if hasattr(table[name], "mask") else table[name]
        )
        assert type(again[name]) is type(table[name])


def test_written_pool_is_ecsv_that_astropy_reads(tmp_path):
    table = read_pool(DATA / "pool_canonical.ecsv")
    write_pool(table, tmp_path / "pool.ecsv")
    text = (tmp_path / "pool.ecsv").read_text()
    assert text.startswith("# %ECSV 1.0\n# ---\n")
    other = Table.read(tmp_path / "pool.ecsv", format="ascii.ecsv")
    assert other["program"].dtype == np.int64
    assert other["visit_id"][0] == VISIT
    assert other["s_region"][0] == table["s_region"][0]


def test_write_pool_replaces_atomically(tmp_path):
    target = tmp_path / "pool.ecsv"
    target.write_text("old")
    write_pool(read_pool(DATA / "pool_canonical.csv"), target)
    assert read_pool(target).meta["romanasn"]["format"] == "ecsv"
    assert [p.name for p in tmp_path.iterdir()] == ["pool.ecsv"]


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def fail(column):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pool, "_cells", fail)
    with pytest.raises(RuntimeError):
        write_pool(read_pool(DATA / "pool_canonical.csv"), tmp_path / "pool.ecsv")
    assert list(tmp_path.iterdir()) == []
