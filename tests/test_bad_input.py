"""Bad input in a canonical pool: a one-line error naming the file, row, column or plugin, exit 1, nothing written.

Each case runs ``romanasn generate POOL -o OUT`` with one small pack active
and checks the exit status, that the error is one line naming the pool (and
row and column where there is one), and that OUT was not created.
"""

import tracemalloc
from pathlib import Path

import pytest

from romanasn import level3_name, pool, read_pool
from romanasn.cli import main
from romanasn.errors import PoolError
from romanasn.inputs import open_regular
from romanasn.naming import unsafe_reason

DISTS = Path(__file__).parent / "data" / "dists"
VISIT = "0000101001001001001"


@pytest.fixture(autouse=True)
def fake_ok(monkeypatch):
    """Only the fake pack of tests/data/dists/ok is active: one rule, one association per WFI_IMAGE file."""
    monkeypatch.syspath_prepend(str(DISTS / "ok"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok")
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)


def _row(exposure=1, detector=1, **changes):
    """A valid canonical row (required columns and the coordinates) with ``changes``."""
    row = {
        "filename": f"r{VISIT}_{exposure:04d}_wfi{detector:02d}_f158_uncal.asdf",
        "program": 1, "execution_plan": 1, "pass": 1, "segment": 1, "observation": 1, "visit": 1,
        "visit_file_group": 1, "visit_file_sequence": 1, "visit_file_activity": "01",
        "exposure": exposure, "visit_id": VISIT, "observation_id": f"{VISIT}01101{exposure:04d}",
        "exposure_type": "WFI_IMAGE", "detector": f"WFI{detector:02d}", "optical_element": "F158",
        "ra_ref": 270.1, "dec_ref": 65.5, "s_region": "",
    }
    row.update(changes)
    return row


def _cell(value):
    text = str(value)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write(path, rows, names=None):
    names = names or list(rows[0])
    lines = [",".join(names)] + [",".join(_cell(row.get(name, "")) for name in names) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _generate(tmp_path, pool_path, capsys):
    """Run generate; return (status, stderr stripped, whether the output folder exists)."""
    out = tmp_path / "out"
    status = main(["generate", str(pool_path), "-o", str(out), "-q"])
    return status, capsys.readouterr().err.strip(), out.exists()


def _refused(tmp_path, pool_path, capsys, *fragments, lines=1):
    """Check the run failed with ``lines`` lines of error (one per problem) holding ``fragments``."""
    status, err, written = _generate(tmp_path, pool_path, capsys)
    assert status == 1, err
    assert len(err.splitlines()) == lines, f"not {lines} line(s): {err!r}"
    assert err.startswith("romanasn: error: ")
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not written
    return err


def test_a_good_pool_is_accepted(tmp_path, capsys):
    status, err, written = _generate(tmp_path, _write(tmp_path / "pool.csv", [_row(1), _row(2)]), capsys)
    assert (status, err, written) == (0, "", True)


# -- structure -------------------------------------------------------------------------


def test_empty_pool(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    _refused(tmp_path, path, capsys, str(path), "no header line")


def test_header_only(tmp_path, capsys):
    path = _write(tmp_path / "header.csv", [_row()])
    path.write_text(path.read_text().splitlines()[0] + "\n")
    _refused(tmp_path, path, capsys, f"{path}: no data rows")


def test_missing_required_column(tmp_path, capsys):
    rows = [_row()]
    names = [n for n in rows[0] if n != "detector"]
    path = _write(tmp_path / "pool.csv", rows, names)
    _refused(tmp_path, path, capsys, f"{path}: missing required column 'detector'")


def test_a_required_column_spelt_close_to_its_name_is_suggested(tmp_path, capsys):
    rows = [{("exp_type" if k == "exposure_type" else k): v for k, v in _row().items()}]
    path = _write(tmp_path / "pool.csv", rows)
    _refused(tmp_path, path, capsys, str(path), "missing required column 'exposure_type' (found 'exp_type'")


def test_an_unknown_column_close_to_a_known_one_is_suggested(tmp_path, capsys):
    path = _write(tmp_path / "pool.csv", [_row(optical_elemnt="F158")])
    _refused(tmp_path, path, capsys, str(path), "unknown column 'optical_elemnt' (did you mean 'optical_element'?)")


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize("column, value, expected", [
    ("program", "abc", "'abc' is not an integer"),
    ("program", 0, "0 is out of range 1..18445"),
    ("visit", 1000, "1000 is out of range 1..999"),
    ("visit_id", "12345", "'12345' is not 19 digits"),
    ("visit_id", f"{VISIT[:-1]}X", f"'{VISIT[:-1]}X' is not 19 digits"),
    ("observation_id", f"{VISIT}0110", f"'{VISIT}0110' is not 28 digits"),
    ("exposure_type", "WFI_BOGUS", "'WFI_BOGUS' is not one of WFI_IMAGE"),
    ("detector", "WFI19", "'WFI19' is not one of WFI01"),
    ("optical_element", "F999", "'F999' is not one of F062"),
])
def test_a_bad_value_names_file_row_and_column(tmp_path, capsys, column, value, expected):
    path = _write(tmp_path / "pool.csv", [_row(1), dict(_row(2), **{column: value})])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column '{column}': {expected}")


def test_a_visit_id_that_disagrees_with_its_parts(tmp_path, capsys):
    """The visit number is in both ids, so both disagree: one line for each problem."""
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, visit=2)])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column 'visit_id': '{VISIT}' disagrees with its parts",
             f"{path}: row 2, column 'observation_id': '{VISIT}011010002' disagrees", lines=2)


def test_an_observation_id_that_disagrees_with_its_parts(tmp_path, capsys):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, observation_id=f"{VISIT}021010002")])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column 'observation_id': '{VISIT}021010002' disagrees",
             f"(expected '{VISIT}011010002')")


def test_duplicate_file_names(tmp_path, capsys):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, filename=_row(1)["filename"])])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column 'filename': duplicate file name", "(also row 1)")


def test_non_utf8_bytes(tmp_path, capsys):
    path = _write(tmp_path / "pool.csv", [_row(1, target="A"), _row(2, target="Z")])
    path.write_bytes(path.read_bytes().replace(b",Z\n", b",\xe9\n"))
    _refused(tmp_path, path, capsys, f"{path}: line 3: not valid UTF-8 (byte 0xe9)")


# -- coordinates and footprints ---------------------------------------------------------------


@pytest.mark.parametrize("column, value", [
    ("ra_ref", "nan"), ("ra_ref", "inf"), ("ra_ref", 400), ("ra_ref", -1), ("dec_ref", "NaN"), ("dec_ref", -95),
])
def test_nan_or_out_of_range_coordinates(tmp_path, capsys, column, value):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, **{column: value})])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column '{column}'")


@pytest.mark.parametrize("s_region", [
    "POLYGON garbage",
    "POLYGON ICRS 270.1 65.4 270.2",  # fewer than three vertices
    "POLYGON ICRS 270.1 65.4 270.2 65.4 270.2",  # an odd number of numbers
    "POLYGON ICRS 270.1 95.0 270.2 65.4 270.2 65.5",  # a declination beyond the pole
    "CIRCLE ICRS 270.1 65.4 0.1 0.2 0.3",
])
def test_malformed_s_region(tmp_path, capsys, s_region):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, s_region=s_region)])
    _refused(tmp_path, path, capsys, f"{path}: row 2, column 's_region'")


def test_well_formed_coordinates_and_s_region_are_accepted(tmp_path, capsys):
    footprint = "POLYGON ICRS  270.1000 65.4000 270.2000 65.4000 270.2000 65.5000 270.1000 65.5000"
    rows = [_row(1, ra_ref=0, dec_ref=-90, s_region=footprint), _row(2, ra_ref=359.9, dec_ref=90, s_region="")]
    status, err, _ = _generate(tmp_path, _write(tmp_path / "pool.csv", rows), capsys)
    assert (status, err) == (0, "")


# -- names that would leave the output folder -------------------------------------------------


@pytest.mark.parametrize("filename", [
    "../../escape_uncal.asdf", "sub/dir_uncal.asdf", "r..x_uncal.asdf", "bell\x07_uncal.asdf",
    "two\nlines_uncal.asdf", "back\\slash_uncal.asdf",
])
def test_a_file_name_that_would_make_an_unsafe_product_name_is_refused(tmp_path, capsys, filename):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, filename=filename)])
    before = sorted(p.name for p in tmp_path.iterdir())
    err = _refused(tmp_path, path, capsys)
    # Refused by the engine (naming the rule's plugin and the product name) or, earlier, by the
    # pool reader (naming the row and column).
    assert ("romanasn-fake-ok 1.0" in err and repr(filename.split("_uncal")[0])[1:-1] in err) or (
        f"{path}: row 2, column 'filename': {filename!r}" in err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path.parent / "escape_asn.json").exists()


def test_an_unsafe_file_name_is_refused_by_the_pool_reader_naming_row_and_column(tmp_path):
    path = _write(tmp_path / "pool.csv", [_row(1), _row(2, filename="../../escape_uncal.asdf")])
    with pytest.raises(PoolError, match=r"row 2, column 'filename': '\.\./\.\./escape_uncal\.asdf'"):
        read_pool(path)


@pytest.mark.parametrize("target", ["../../etc", "a/b", "x\x00y\x07", "Sgr A* / field 2", "..\\..\\x", "a..b"])
def test_a_hostile_target_in_a_product_name_is_sanitised(target):
    name = level3_name(1, "p", "full", "F158", target)
    assert unsafe_reason(name) is None, name
    assert name.startswith("r00001_p_full_f158_")


def test_a_target_with_no_letter_or_digit_is_refused_not_emptied():
    with pytest.raises(ValueError, match="empty name token"):
        level3_name(1, "p", "full", "F158", "../..")


# -- a large pool is streamed -----------------------------------------------------------------


def _large_pool(path, exposures):
    header = ",".join(_row())
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(header + "\n")
        for exposure in range(1, exposures + 1):
            for detector in range(1, 19):
                stream.write(",".join(_cell(v) for v in _row(exposure, detector).values()) + "\n")
    return path


class _CountingReader:
    """A binary file that records the size of every ``read``."""

    def __init__(self, stream, sizes):
        self._stream, self._sizes = stream, sizes

    def read(self, size=-1):
        self._sizes.append(size)
        return self._stream.read(size)

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stream.close()


def test_a_large_pool_is_read_in_blocks_and_never_held_twice(tmp_path, monkeypatch):
    """A pool of several GB cannot be a test file; a 7 MB one read in 1 MiB blocks shows the same.

    Every read asks for at most one block (never the whole file), and the memory used
    while reading, beyond the table returned, stays below the size of that table.
    """
    block = 1 << 20
    path = _large_pool(tmp_path / "large.csv", 2500)
    assert path.stat().st_size > 6 * block
    monkeypatch.setattr(pool, "_BLOCK_BYTES", block)
    sizes = []
    monkeypatch.setattr(pool, "open_regular", lambda p: _CountingReader(open_regular(p), sizes))
    tracemalloc.start()
    try:
        table = read_pool(path)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(table) == 2500 * 18
    assert sizes and all(0 < size <= block for size in sizes), sizes[:10]
    assert len(sizes) >= path.stat().st_size // block
    assert peak - current < current, f"peak {peak / 1e6:.1f} MB for a table of {current / 1e6:.1f} MB"
