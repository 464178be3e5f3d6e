"""#16.1: a folder's own files (a planted journal and moves) never make a run touch anything
outside the folder, whichever way recovery goes."""

import json

import pytest

from romanasn.folder import JOURNAL, recover

PLANTED = {"replace": ["../../victim/owned.txt"], "remove": ["/tmp/victim/keep.txt", "../../victim/secret.txt"]}


@pytest.fixture
def victim(tmp_path):
    folder = tmp_path / "victim"
    folder.mkdir()
    for name in ("owned.txt", "keep.txt", "secret.txt"):
        (folder / name).write_text(name)
    return folder


def _plant(out, journal, moves=None, staging=".romanasn-staging-x"):
    (out / staging).mkdir(exist_ok=True)
    if moves is not None:
        (out / staging / ".moves.json").write_text(json.dumps(moves))
    (out / JOURNAL).write_text(journal)


def _names(victim):
    return {**PLANTED, "remove": [str(victim / "keep.txt"), "../../victim/secret.txt"]}


@pytest.mark.parametrize("state", ["commit\n", "commit\nundo\n", ""])
def test_a_planted_journal_is_refused_and_nothing_outside_is_touched(run, pool, tmp_path, victim, state, snapshot):
    out = tmp_path / "d" / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    _plant(out, f"staging .romanasn-staging-x\n{state}", _names(victim))
    before = snapshot(victim), snapshot(out)
    status, _, err = run("generate", pool, "-o", out, "--overwrite", "-q")
    assert status == 1
    assert "not a journal romanasn wrote" in err and ".moves.json" in err
    assert (snapshot(victim), snapshot(out)) == before


@pytest.mark.parametrize("line", ["+../victim/secret.txt", "+/tmp/x", "staging ../victim", "staging .romanasn-journal",
                                  "+.romanasn-staging-y"])
def test_a_journal_naming_anything_but_a_file_of_the_folder_is_refused(tmp_path, victim, line, snapshot):
    out = tmp_path / "D"
    out.mkdir()
    (out / JOURNAL).write_text(f"staging .romanasn-staging-x\n{line}\n")
    with pytest.raises(Exception, match="not a journal romanasn wrote"):
        recover(out)
    assert snapshot(victim) == {n: n.encode() for n in ("keep.txt", "owned.txt", "secret.txt")}


def test_a_staging_folder_that_is_a_link_outside_is_refused(tmp_path, victim):
    out = tmp_path / "D"
    out.mkdir()
    (out / ".romanasn-staging-x").symlink_to(victim)
    (victim / ".moves.json").write_text(json.dumps({"replace": ["owned.txt"], "remove": []}))
    (out / JOURNAL).write_text("staging .romanasn-staging-x\ncommit\n")
    with pytest.raises(Exception, match="is not a folder"):
        recover(out)
    assert (victim / "owned.txt").exists() and not (out / "owned.txt").exists()


def test_a_journal_of_bare_names_is_still_recovered(run, pool, tmp_path, snapshot):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    before = snapshot(out)
    (out / "new_asn.json").write_text("{}")
    _plant(out, "staging .romanasn-staging-x\n+new_asn.json\n")
    assert recover(out) == "undone"
    assert snapshot(out) == before
