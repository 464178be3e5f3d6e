"""#16.3: one long cell costs memory in proportion to its bytes (a column of short cells and a
few long ones is held as Python strings); a cell longer than the documented limit
(``romanasn.pool.CELL_BYTES``) is an error naming its row and column."""

import tracemalloc

import pytest

from romanasn import pool as pool_module
from romanasn import read_pool
from romanasn.errors import PoolError
from romanasn.pool import CELL_BYTES

VISIT = "0000101001001001001"
HEADER = ("filename,program,execution_plan,pass,segment,observation,visit,visit_file_group,visit_file_sequence,"
          "visit_file_activity,exposure,visit_id,observation_id,exposure_type,detector,optical_element,exposerr")


def _pool(path, rows, long_row=None, cell_bytes=0):
    lines = [HEADER]
    for row in range(1, rows + 1):
        e, d = (row - 1) % 9999 + 1, (row - 1) // 9999 + 1
        error = "x" * cell_bytes if row == long_row else ""
        lines.append(f"r{VISIT}_{e:04d}_wfi{d:02d}_f158_cal.asdf,1,1,1,1,1,1,1,1,01,{e},{VISIT},{VISIT}01101{e:04d},"
                     f"WFI_IMAGE,WFI{d:02d},F158,{error}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _peak(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cell_bytes", [CELL_BYTES + 1, 30_000, 100_000, 10_000_000])
def test_a_cell_beyond_the_limit_is_an_error_naming_row_and_column(run, tmp_path, cell_bytes):
    path = _pool(tmp_path / "pool.csv", 50, long_row=7, cell_bytes=cell_bytes)
    with pytest.raises(PoolError) as error:
        assert _peak(lambda: read_pool(path)) < 4 * path.stat().st_size + (8 << 20)
    assert str(error.value) == (f"{path}: row 7, column 'exposerr': a cell of {cell_bytes} bytes, "
                                f"more than the {CELL_BYTES} a pool cell may hold")
    status, _, err = run("explain", path, f"r{VISIT}_0007_wfi01_f158_cal.asdf")
    assert status == 1 and "row 7, column 'exposerr'" in err


def test_a_long_cell_costs_memory_in_proportion_to_its_bytes(tmp_path):
    rows = 20_000
    plain, long = (_pool(tmp_path / f"pool{n}.csv", rows, long_row=3, cell_bytes=n) for n in (0, CELL_BYTES))
    read_pool(plain)  # caches filled
    extra = _peak(lambda: read_pool(long)) - _peak(lambda: read_pool(plain))
    assert extra < rows * 64, extra  # held at the width of the longest cell, it would take rows x 5 x 1,024
    table = read_pool(long)
    assert table["exposerr"][2] == "x" * CELL_BYTES and table["exposerr"][3] == ""


def test_a_column_held_compact_gives_the_same_associations(run, tmp_path, monkeypatch, snapshot):
    """Text held as shared Python strings and as fixed-width numpy text make the same files."""
    path = _pool(tmp_path / "pool.csv", 3000, long_row=3, cell_bytes=CELL_BYTES)
    assert read_pool(path)["exposerr"].dtype == object  # held compact
    assert run("generate", path, "-o", tmp_path / "compact", "-q")[0] == 0
    monkeypatch.setattr(pool_module, "_strings", pool_module._str_array)
    assert read_pool(path)["exposerr"].dtype.kind == "U"
    assert run("generate", path, "-o", tmp_path / "fixed", "-q")[0] == 0
    compact, fixed = snapshot(tmp_path / "compact"), snapshot(tmp_path / "fixed")
    compact.pop("romanasn-run.json"), fixed.pop("romanasn-run.json")
    assert compact == fixed and len(compact) > 3000
