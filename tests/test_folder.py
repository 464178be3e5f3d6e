"""The output folder's all-or-nothing changes: commit, an observer's veto after it, recovery."""

import pytest

from romanasn import folder as folder_module
from romanasn.folder import JOURNAL, Folder, recover


def _files(path):
    """The visible files of ``path`` (the journal and the staging folder are hidden)."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if not p.name.startswith(".")}


@pytest.fixture
def out(tmp_path):
    """A folder holding a previous run's two files and a file of the operator's."""
    out = tmp_path / "out"
    out.mkdir()
    for name, text in {"a_asn.json": "old a", "b_asn.json": "old b", "keep.txt": "mine"}.items():
        (out / name).write_text(text)
    return out


def _change(out, then=None):
    """Replace a, remove b, add c, then commit with the report last."""
    folder = Folder(out).open()
    try:
        folder.add("a_asn.json", b"new a")
        folder.remove("b_asn.json")
        folder.add("c_asn.json", b"new c")
        folder.commit("report.json", b"{}", then=then)
    except BaseException:
        folder.abort()
        raise


def test_a_commit_makes_every_change_and_leaves_nothing_else(out):
    _change(out)
    assert _files(out) == {"a_asn.json": b"new a", "c_asn.json": b"new c", "keep.txt": b"mine",
                           "report.json": b"{}"}


def test_then_sees_the_changes_made(out):
    seen = []
    _change(out, then=lambda: seen.append(_files(out)))
    assert seen[0] == {"a_asn.json": b"new a", "c_asn.json": b"new c", "keep.txt": b"mine", "report.json": b"{}"}
    assert _files(out) == seen[0]
    assert sorted(p.name for p in out.iterdir()) == sorted(seen[0])  # no journal, no staging folder


def test_when_then_raises_every_change_is_taken_back(out):
    before = _files(out)

    def refuse():
        raise RuntimeError("observer says no")

    with pytest.raises(RuntimeError, match="observer says no"):
        _change(out, then=refuse)
    assert _files(out) == before


def test_a_run_killed_while_taking_back_is_undone_by_recover(out, monkeypatch):
    before = _files(out)

    class Killed(BaseException):
        pass

    def killed(*args):
        raise Killed

    def refuse():
        raise RuntimeError("observer says no")

    monkeypatch.setattr(folder_module, "_take_back", killed)
    with pytest.raises(Killed):
        _change(out, then=refuse)
    assert (out / JOURNAL).read_text().endswith("commit\nundo\n")
    monkeypatch.undo()
    assert recover(out) == "undone"
    assert _files(out) == before


def test_a_failure_before_the_commit_leaves_the_folder_as_it_was(out, monkeypatch):
    before = _files(out)
    real = folder_module._write_file

    def full(path, data):
        if str(path).endswith("report.json"):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(folder_module, "_write_file", full)
    with pytest.raises(OSError, match="No space"):
        _change(out)
    assert _files(out) == before


def test_recover_with_no_journal_does_nothing(out):
    assert recover(out) is None
