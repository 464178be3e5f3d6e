"""#16.6: runs at the same time. Two runs into a folder that does not exist yet: one writes it,
the other fails naming the folder (or, coming after, finds its files), and no run removes what
it does not hold. Concurrent ``make-pool --update`` into one pool lose no row."""

from pathlib import Path

import pytest

from romanasn import read_pool
from romanasn.errors import AsnError
from romanasn.folder import Folder


def test_two_runs_into_a_new_folder_never_remove_the_winners_files(pool, tmp_path, spawn, snapshot):
    out = tmp_path / "D" / "out"
    runs = [spawn("generate", pool, "-o", out, "-q") for _ in range(2)]
    done = [(run.wait(), run.stderr.read()) for run in runs]
    assert sorted(status for status, _ in done)[0] == 0, done
    for status, err in done:
        assert status == 0 or "another romanasn run is writing this folder" in err or " exists" in err, err
    assert "romanasn-run.json" in snapshot(out)


def test_a_run_that_loses_the_race_for_a_new_folder_leaves_it_to_the_winner(tmp_path, monkeypatch):
    out = tmp_path / "new"
    winner, real = Folder(out), Path.mkdir

    def mkdir(self, *args, **kwargs):  # the winner makes and locks the folder just before the loser
        if self == out and winner.journal is None and not getattr(mkdir, "busy", False):
            mkdir.busy = True
            winner.open()
            winner.add("a_asn.json", b"a")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(AsnError, match="another romanasn run is writing this folder"):
        Folder(out).open()
    winner.commit("report.json", b"{}")
    assert sorted(p.name for p in out.iterdir()) == ["a_asn.json", "report.json"]


def test_concurrent_updates_of_one_pool_lose_no_row(tmp_path, spawn, exposure):
    batches = []
    for batch in range(3):
        folder = tmp_path / f"batch{batch}"
        folder.mkdir()
        for number in range(5):
            exposure(folder, batch * 5 + number + 1, 1)
        batches.append(folder)
    output = tmp_path / "pool.ecsv"
    runs = [spawn("make-pool", folder, "-o", output, "--update", "-q") for folder in batches]
    assert [(run.wait(), run.stderr.read()) for run in runs] == [(0, "")] * 3
    assert len(read_pool(output)) == 15
