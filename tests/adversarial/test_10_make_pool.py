"""#16.10: make-pool reports every file it leaves out, and a bad header is that file's error
(skippable with --skip-bad), never "the pool made does not read back"."""

import errno
import os

import pytest


@pytest.mark.parametrize("meta, reason", [
    ({"exposure__type": "''"}, "required field roman.meta.exposure.type is empty"),
    ({"instrument__detector": "''"}, "required field roman.meta.instrument.detector is empty"),
    ({"exposure__type": "!!python/name:os.system ''"}, "required field roman.meta.exposure.type is empty"),
])
def test_a_bad_header_is_the_files_error_and_can_be_skipped(run, tmp_path, exposure, meta, reason):
    folder = tmp_path / "in"
    folder.mkdir()
    exposure(folder, 1, 1)
    bad = exposure(folder, 2, 1, **meta)
    output = tmp_path / "pool.ecsv"
    status, _, err = run("make-pool", folder, "-o", output)
    assert status == 1 and f"{bad}: {reason}" in err and "read back" not in err, err
    assert not output.exists()
    status, _, err = run("make-pool", folder, "-o", output, "--skip-bad", "-q")
    assert status == 0 and f"{bad}\t{reason}" in (tmp_path / "pool.ecsv.skipped.txt").read_text()


def test_a_folder_that_cannot_be_searched_is_reported(run, tmp_path, exposure, monkeypatch):
    folder, hidden = tmp_path / "in", tmp_path / "in" / "sub"
    hidden.mkdir(parents=True)
    exposure(folder, 1, 1)
    exposure(hidden, 2, 1)
    real = os.scandir

    def scandir(path="."):  # as for a folder without read permission (root reads them all)
        if os.fspath(path) == str(hidden):
            raise PermissionError(errno.EACCES, "Permission denied", str(hidden))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    output = tmp_path / "pool.ecsv"
    status, _, err = run("make-pool", folder, "-o", output)
    assert status == 1 and f"{hidden}: folder cannot be searched: Permission denied" in err
    assert run("make-pool", folder, "-o", output, "--skip-bad", "-q")[0] == 0
    assert f"{hidden}\tfolder cannot be searched" in (tmp_path / "pool.ecsv.skipped.txt").read_text()
