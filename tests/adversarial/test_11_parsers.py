"""#16.11: malformed pools and headers give one clear line naming the file and line, never a
traceback nor a page of astropy's formats."""

import pytest

from romanasn import read_pool
from romanasn.errors import PoolError

ECSV = "# %ECSV 1.0\n# ---\n# delimiter: {}\n# datatype:\n# - {{name: filename, datatype: string}}\nfilename\nx\n"


def test_a_pool_whose_lines_end_in_cr_alone_is_refused(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_bytes(b"filename,program\rr1_cal.asdf,1\r")
    with pytest.raises(PoolError, match=r"pool.csv: line 1: a carriage return inside the line .*LF or CR LF"):
        read_pool(path)


@pytest.mark.parametrize("delimiter", ["'||'", "''", "5", "'|'"])
def test_an_ecsv_delimiter_other_than_space_or_comma_is_refused(tmp_path, delimiter):
    path = tmp_path / "pool.ecsv"
    path.write_text(ECSV.format(delimiter))
    with pytest.raises(PoolError) as error:
        read_pool(path)
    assert str(error.value) == f"{path}: bad ECSV header: delimiter {eval(delimiter)!r} (ECSV allows ' ' or ',')"


def test_a_bad_start_time_is_one_line_naming_the_file(run, tmp_path, exposure):
    bad = exposure(tmp_path, 1, 1, exposure__start_time="!time/time-1.1.0 yesterday")
    status, _, err = run("make-pool", tmp_path, "-o", tmp_path / "pool.ecsv")
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{bad}: ") and "cannot read time 'yesterday'" in lines[1], err
