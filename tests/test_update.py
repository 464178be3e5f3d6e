"""Incremental runs: ``generate --update`` on a grown pool.

Only the associations whose content changed are rewritten, unchanged files
are left untouched, ``asn_id``\\ s stay stable, associations no longer made
are reported (and removed only with ``--prune``), and an interrupted run
leaves the folder as it was or fully updated.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from romanasn import RunConfig, encoder, folder, get_plugin_manager, load_asn, output, write_pool
from romanasn.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mission_pool import mission_pool  # noqa: E402

PACKS = ["romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration"]


@pytest.fixture(scope="module")
def pm():
    manager = get_plugin_manager(allow=PACKS)
    manager.check()
    return manager


def _run(pool, out, pm, **kwargs):
    return output.generate_to(pool, out, plugin_manager=pm, config=RunConfig(pool_name="pool"), **kwargs)


def _snapshot(folder):
    """Every file in ``folder`` (hidden ones too): bytes, inode and modification time."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


def _manifest(out):
    return json.loads((out / output.RUN_REPORT).read_text())["manifest"]["files"]


def test_a_grown_pool_rewrites_only_what_changed_and_keeps_the_ids(pm, tmp_path):
    out = tmp_path / "out"
    first = _run(mission_pool(1000), out, pm)
    before = _snapshot(out)
    ids_before = {(row[1], row[2]): row[0] for row in _manifest(out).values()}

    grown = _run(mission_pool(1500), out, pm, update=True)

    assert len(grown.added) + len(grown.changed) + len(grown.unchanged) == len(grown.files)
    assert grown.added and grown.changed and grown.unchanged and not grown.stale
    # The last exposure of the small pool lacked detectors: its associations changed.
    assert all(name in before for name in grown.changed)
    assert not any(name in before for name in grown.added)
    after = _snapshot(out)
    for name in grown.unchanged:  # untouched: same bytes, same inode, same time
        assert after[name] == before[name]
    for name in grown.changed:
        assert after[name][0] != before[name][0]
    # Known associations keep their asn_id; new ones take the following numbers.
    manifest = _manifest(out)
    ids_after = {(row[1], row[2]): row[0] for row in manifest.values()}
    assert all(ids_after[key] == value for key, value in ids_before.items())
    new = sorted(int(ids_after[key][1:]) for key in set(ids_after) - set(ids_before))
    assert new == list(range(3001 + len(first.files), 3001 + len(first.files) + len(new)))
    for name in grown.changed[:5] + grown.added[:5]:  # the files say the same as the manifest
        assert load_asn(out / name).asn_id == manifest[name][0]
    report = json.loads((out / output.RUN_REPORT).read_text())
    assert report["update"] == {"added": len(grown.added), "changed": len(grown.changed),
                                "unchanged": len(grown.unchanged), "stale": [], "removed": []}


def test_an_update_with_nothing_new_writes_no_association_file(pm, tmp_path):
    out = tmp_path / "out"
    pool = mission_pool(600)
    _run(pool, out, pm)
    before = _snapshot(out)
    again = _run(pool, out, pm, update=True)
    assert not again.added and not again.changed and len(again.unchanged) == len(again.files)
    after = _snapshot(out)
    assert {n: v for n, v in after.items() if n != output.RUN_REPORT} == \
        {n: v for n, v in before.items() if n != output.RUN_REPORT}


def test_associations_no_longer_made_are_reported_and_removed_only_with_prune(pm, tmp_path):
    out = tmp_path / "out"
    pool = mission_pool(1200)
    _run(pool, out, pm)
    shrunk = pool[np.asarray(pool["program"]) != 2]  # the pipeline withdrew a program's exposures
    kept = _run(shrunk, out, pm, update=True)
    assert kept.stale and all((out / name).exists() for name in kept.stale)
    assert all(name.startswith("r00002") for name in kept.stale)
    manifest = _manifest(out)
    assert all(manifest[name][-1] == "stale" for name in kept.stale)
    assert "no longer made (kept" in output.update_summary(kept)

    pruned = _run(shrunk, out, pm, update=True, prune=True)
    assert sorted(pruned.removed) == sorted(kept.stale)
    assert not any((out / name).exists() for name in pruned.removed)
    assert not set(pruned.removed) & set(_manifest(out))
    assert "removed" in output.update_summary(pruned)


def test_the_command_line_reports_added_changed_unchanged(tmp_path, capsys):
    small, grown = tmp_path / "small.ecsv", tmp_path / "grown.ecsv"
    write_pool(mission_pool(500), small)
    write_pool(mission_pool(800), grown)
    out = tmp_path / "out"
    assert main(["generate", str(small), "-o", str(out)]) == 0
    assert main(["generate", str(grown), "-o", str(out)]) == 1  # without --update: refused
    capsys.readouterr()
    assert main(["generate", str(grown), "-o", str(out), "--update"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("update:")]
    assert line and " added, " in line[0] and " changed, " in line[0] and " unchanged" in line[0]


def test_update_keeps_the_format_of_the_folder(pm, tmp_path):
    out = tmp_path / "out"
    _run(mission_pool(300), out, pm)
    with pytest.raises(output.UsageError, match="--format json"):
        _run(mission_pool(300), out, pm, update=True, format="yaml")


# -- interruptions ------------------------------------------------------------------------------


def _fully_updated(pm, tmp_path, small, grown):
    """The folder a completed update leaves (made in another folder)."""
    reference = tmp_path / "reference"
    _run(small, reference, pm)
    _run(grown, reference, pm, update=True)
    return {n: v[0] for n, v in _snapshot(reference).items()}


def test_an_interrupt_before_every_file_is_ready_leaves_the_folder_as_it_was(pm, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(mission_pool(600), out, pm)
    before = _snapshot(out)
    real, calls = encoder.check_file, []

    def interrupted(data, source):
        calls.append(source)
        if len(calls) == 200:
            raise KeyboardInterrupt
        return real(data, source)

    monkeypatch.setattr(encoder, "check_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(mission_pool(900), out, pm, update=True)
    assert _snapshot(out) == before


@pytest.fixture
def ctrl_c():
    """SIGINT raises ``KeyboardInterrupt``, as at a terminal.

    A process started in the background by a non-interactive shell inherits SIGINT ignored,
    and Python then leaves it ignored: the test would see no interrupt at all.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_while_files_are_moved_in_waits_until_the_folder_is_complete(pm, tmp_path, monkeypatch, ctrl_c):
    small, grown = mission_pool(600), mission_pool(900)
    expected = _fully_updated(pm, tmp_path, small, grown)
    out = tmp_path / "out"
    _run(small, out, pm)
    real = folder._roll_forward

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of the moves
        real(*args, **kwargs)

    monkeypatch.setattr(folder, "_roll_forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(grown, out, pm, update=True)
    assert {n: v[0] for n, v in _snapshot(out).items()} == expected


def test_a_run_killed_while_moving_files_in_is_finished_by_the_next(pm, tmp_path, monkeypatch):
    small, grown = mission_pool(600), mission_pool(900)
    expected = _fully_updated(pm, tmp_path, small, grown)
    out = tmp_path / "out"
    _run(small, out, pm)
    real_replace = os.replace
    moved = []

    class Killed(BaseException):
        pass

    def replace(source, target):
        moved.append(target)
        if len(moved) == 3:
            raise Killed  # the process dies here: half the changed files are in
        real_replace(source, target)

    monkeypatch.setattr(folder.os, "replace", replace)
    with pytest.raises(Killed):
        _run(grown, out, pm, update=True)
    monkeypatch.setattr(folder.os, "replace", real_replace)
    assert (out / folder.JOURNAL).exists()  # committed, not finished
    assert folder.recover(out) == "finished"
    assert {n: v[0] for n, v in _snapshot(out).items()} == expected


_KILLER = """
import os, signal, sys
from romanasn import encoder, folder, output
from romanasn.cli import main

calls = []

def counted(real):  # killed at the N-th file made (checked, in either lane)
    def function(*args):
        calls.append(1)
        if len(calls) == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)
    return function

encoder.check_file = counted(encoder.check_file)
encoder.Encoder.encode = counted(encoder.Encoder.encode)
sys.exit(main(sys.argv[2:]))
"""


def test_a_run_killed_while_writing_is_undone_by_the_next(tmp_path):
    small, grown = tmp_path / "small.ecsv", tmp_path / "grown.ecsv"
    write_pool(mission_pool(600), small)
    write_pool(mission_pool(900), grown)
    out = tmp_path / "out"
    assert main(["generate", str(small), "-o", str(out), "-q"]) == 0
    before = _snapshot(out)
    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    done = subprocess.run([sys.executable, str(script), "300", "generate", str(grown), "-o", str(out),
                           "--update", "-q"], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (out / folder.JOURNAL).exists()
    deadline = time.monotonic() + 30
    while True:  # the process writing files stops once its parent is gone
        try:
            assert folder.recover(out) == "undone"
            break
        except output.AsnError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert _snapshot(out) == before
    assert main(["generate", str(grown), "-o", str(out), "--update", "-q"]) == 0
