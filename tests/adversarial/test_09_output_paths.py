"""#16.9: every output path is checked before anything is written; no run writes over one of
its inputs or over a file it manages."""

import pytest


@pytest.mark.parametrize("orphans, message", [
    ("{tmp}/nonexistent/x.txt", "no folder"),
    ("{out}/romanasn-run.json", "named like the files the run writes"),
    ("{out}/.romanasn-journal", "named like the files the run writes"),
    ("{pool}", "would overwrite the input"),
    ("{tmp}", "a folder, not a file"),
])
def test_a_bad_orphans_path_stops_the_run_before_the_folder_changes(run, pool, tmp_path, snapshot, orphans,
                                                                    message):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    before, pool_bytes = snapshot(out), pool.read_bytes()
    target = orphans.format(tmp=tmp_path, out=out, pool=pool)
    status, _, err = run("generate", pool, "-o", out, "--overwrite", "--orphans", target, "-q")
    assert status == 2 and f"--orphans {target}: {message}" in err, err
    assert (snapshot(out), pool.read_bytes()) == (before, pool_bytes)


def test_orphans_beside_the_associations_under_another_name_are_written(run, pool, tmp_path):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "--orphans", out / "orphans.txt", "-q")[0] == 0
    assert (out / "orphans.txt").exists()


def test_make_pool_never_writes_over_an_exposure_file(run, tmp_path, exposure):
    first = exposure(tmp_path, 1, 1)
    exposure(tmp_path, 2, 1)
    before = first.read_bytes()
    status, _, err = run("make-pool", tmp_path, "-o", first, "--overwrite")
    assert status == 2 and "is one of the exposure files read" in err
    assert first.read_bytes() == before


def test_make_pool_of_an_empty_path_is_refused(run, tmp_path, exposure, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exposure(tmp_path, 1, 1)
    status, _, err = run("make-pool", "", "-o", "pool.ecsv")
    assert status == 1 and "'': an empty path" in err and not (tmp_path / "pool.ecsv").exists()
