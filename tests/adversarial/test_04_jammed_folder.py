"""#16.4: a run that cannot finish rolls back and says why, before or after its commit; the
next run is never blocked by a journal it can safely undo."""

import pytest

from romanasn.errors import AsnError
from romanasn.folder import JOURNAL, Folder, recover


def test_a_product_name_too_long_for_a_file_is_refused_before_anything_is_written(
        run, pool, tmp_path, hostile, snapshot):
    out = tmp_path / "D"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    hostile("product_name:long")
    status, _, err = run("generate", pool, "-o", out)
    assert status == 1
    assert "romanasn-fake-hostile 0.7" in err and "characters long" in err
    assert snapshot(out) == {"mine.txt": b"mine"}
    hostile("")
    assert run("generate", pool, "-o", out, "-q")[0] == 0  # the folder is not jammed


def test_a_folder_in_the_way_of_a_file_is_named_before_anything_is_written(run, pool, tmp_path, snapshot):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    victim = sorted(p for p in out.iterdir() if p.name.endswith("_asn.json"))[0]
    victim.unlink()
    victim.mkdir()
    before = snapshot(out)
    status, _, err = run("generate", pool, "-o", out, "--overwrite", "-q")
    assert status == 1
    assert f"{victim}: in the way (not a file)" in err
    assert snapshot(out) == before
    victim.rmdir()
    assert run("generate", pool, "-o", out, "--overwrite", "-q")[0] == 0


def test_a_commit_that_cannot_finish_is_taken_back_and_says_why(tmp_path, snapshot):
    out = tmp_path / "D"
    out.mkdir()
    for name in ("a", "b", "c"):
        (out / name).write_text(f"old {name}")
    before = snapshot(out)
    folder = Folder(out).open()
    for name in ("a", "b", "c", "d"):
        folder.add(name, b"new")
    (out / "b").unlink()
    (out / "b").mkdir()  # appears after the checks, before the commit
    with pytest.raises(AsnError, match="b: cannot be replaced .*left as it was"):
        folder.commit("report", b"{}")
    (out / "b").rmdir()
    (out / "b").write_text("old b")
    assert snapshot(out) == before


def test_a_journal_noting_a_name_too_long_for_a_file_is_undone(tmp_path, snapshot):
    out = tmp_path / "D"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    (out / ".romanasn-staging-x").mkdir()
    (out / JOURNAL).write_text(f"staging .romanasn-staging-x\n+{'x' * 300}_asn.json\n")
    assert recover(out) == "undone"
    assert snapshot(out) == {"mine.txt": b"mine"}


def test_a_journal_that_was_never_finished_is_undone_by_the_next_run(run, pool, tmp_path, snapshot):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    before = snapshot(out)
    (out / ".romanasn-staging-x").mkdir()
    (out / ".romanasn-staging-x" / "half").write_text("half")
    (out / "new_asn.json").write_text("half")
    (out / JOURNAL).write_text("staging .romanasn-staging-x\n+new_asn.json\n")
    assert run("generate", pool, "-o", out, "--overwrite", "-q")[0] == 0
    assert snapshot(out).keys() == before.keys()
