"""Faults: hostile or broken plugins, an unwritable output folder, a full disk, a killed run.

Each fault must stop ``romanasn generate`` with exit status 1 and an error
naming the plugin (distribution and version) at fault, or the file, and
leave the output folder as it was. The hostile pack of
``tests/data/dists/hostile`` misbehaves in the hook chosen by
``ROMANASN_FAKE_HOSTILE``.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from romanasn import folder, load_asn
from romanasn.cli import main

DISTS = Path(__file__).parent / "data" / "dists"
VISIT = "0000101001001001001"
HOSTILE = "romanasn-fake-hostile 0.7"


@pytest.fixture
def packs(monkeypatch):
    """Put fake distributions on sys.path and allow only them."""
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("ROMANASN_FAKE_HOSTILE", raising=False)

    def use(*names):
        for name in names:
            monkeypatch.syspath_prepend(str(DISTS / name))
        monkeypatch.setenv("ROMANASN_PLUGINS", ",".join(f"romanasn-fake-{n}" for n in names))

    return use


@pytest.fixture
def hostile(packs, monkeypatch):
    """The well-behaved fake pack and the hostile one; call with ``WHAT:MODE`` to set the fault."""
    packs("ok", "hostile")
    return lambda fault: monkeypatch.setenv("ROMANASN_FAKE_HOSTILE", fault)


@pytest.fixture
def pool_file(tmp_path):
    """Two WFI_IMAGE exposures of two detectors: four associations from each fake rule."""
    header = ("filename,program,execution_plan,pass,segment,observation,visit,visit_file_group,"
              "visit_file_sequence,visit_file_activity,exposure,visit_id,observation_id,exposure_type,"
              "detector,optical_element")
    rows = [f"r{VISIT}_{e:04d}_wfi{d:02d}_f158_uncal.asdf,1,1,1,1,1,1,1,1,01,{e},{VISIT},"
            f"{VISIT}01101{e:04d},WFI_IMAGE,WFI{d:02d},F158" for e in (1, 2) for d in (1, 2)]
    path = tmp_path / "pool.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    return path


@pytest.fixture
def out(tmp_path):
    """An output folder holding a file of the operator's."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    return folder


def _snapshot(folder):
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _failed(capsys, argv, *fragments):
    """Run ``argv``; check exit status 1 and a one-line error holding ``fragments``; return it."""
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 1, err
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    return err


# -- a plugin that misbehaves ---------------------------------------------------------------

_HOOKS = ["rules", "match_constraints", "finalize", "product_names", "file_stem", "build_associations",
          "pool_columns", "generate_options", "commands"]
_RULE_PARTS = ["product_name", "constraint", "keys", "extras"]


@pytest.mark.parametrize("fault", [f"{what}:{mode}" for what in _HOOKS + _RULE_PARTS for mode in ("raise", "wrong")])
def test_a_hook_that_raises_or_returns_the_wrong_type_is_named_and_nothing_is_written(
        hostile, pool_file, out, capsys, fault):
    hostile(fault)
    before = _snapshot(out.parent)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out), "-q"], HOSTILE)
    assert _snapshot(out.parent) == before


def test_the_hostile_pack_behaves_when_asked_to(hostile, pool_file, out):
    hostile("")
    assert main(["generate", str(pool_file), "-o", str(out), "-q"]) == 0
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["counts"] == {"fake_exposure": 4, "hostile_exposure": 4}


def test_a_constraint_that_raises_names_the_plugin_that_added_it(hostile, pool_file, out, capsys):
    hostile("match_constraints:failing")
    err = _failed(capsys, ["generate", str(pool_file), "-o", str(out), "--rules", "fake_exposure"], HOSTILE)
    assert "romanasn-fake-ok" not in err


def test_a_constraint_that_raises_is_an_error_naming_a_plugin(hostile, pool_file, out, capsys):
    hostile("match_constraints:failing")
    before = _snapshot(out)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out), "--rules", "hostile_exposure"],
            HOSTILE, "hostile veto test")
    assert _snapshot(out) == before


def test_a_rule_registered_twice_by_one_plugin_is_named(hostile, pool_file, out, capsys):
    hostile("rules:twice")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "'hostile_exposure'", HOSTILE)
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_a_rule_name_taken_by_two_plugins_names_both(packs, pool_file, out, capsys):
    packs("ok", "dup")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "'fake_exposure'",
            "romanasn-fake-ok 1.0", "romanasn-fake-dup 1.5")
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_a_plugin_that_fails_to_import_is_named_and_stops_generate(packs, pool_file, out, capsys):
    packs("ok", "broken")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)],
            "romanasn-fake-broken 2.1 failed to load", "romanasn_module_that_does_not_exist")
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_a_misspelled_hook_is_named(packs, pool_file, out, capsys):
    packs("ok", "badhook")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "romanasn-fake-badhook 0.3", "romanasn_rulez")
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_an_observer_that_raises_leaves_the_folder_as_it_was(hostile, pool_file, out, capsys):
    hostile("association_written:raise")
    before = _snapshot(out)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], HOSTILE, "romanasn_association_written")
    assert _snapshot(out) == before


def test_an_observer_that_raises_is_named(hostile, pool_file, out, capsys):
    hostile("association_written:raise")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], HOSTILE, "romanasn_association_written")


# -- --keep-going -----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["product_name:raise", "extras:raise", "constraint:wrong"])
def test_keep_going_lets_the_other_rules_finish_and_reports_the_failed_ones(hostile, pool_file, out, capsys, fault):
    hostile(fault)
    status = main(["generate", str(pool_file), "-o", str(out), "--keep-going"])
    err = capsys.readouterr().err
    assert status == 1  # not silent: some associations are missing
    assert "hostile_exposure" in err and HOSTILE in err
    written = sorted(p.name for p in out.glob("*_asn.json"))
    assert written == [f"r{VISIT}_{e:04d}_wfi{d:02d}_f158_asn.json" for e in (1, 2) for d in (1, 2)]
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["counts"] == {"fake_exposure": 4}
    [failed] = report["failed_rules"]
    assert (failed["name"], failed["plugin"]) == ("hostile_exposure", "romanasn-fake-hostile")
    assert HOSTILE in failed["error"]


def test_without_keep_going_one_failing_rule_stops_the_run(hostile, pool_file, out, capsys):
    hostile("product_name:raise")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "'hostile_exposure'", HOSTILE)
    assert _snapshot(out) == {"keep.txt": b"mine"}


# -- the output folder -------------------------------------------------------------------------


def test_an_output_folder_that_cannot_be_written_is_an_error_naming_it(packs, pool_file, out, capsys, monkeypatch):
    packs("ok")

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "Permission denied", str(out))
    assert _snapshot(out) == {"keep.txt": b"mine"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder(packs, pool_file, out, capsys):
    packs("ok")
    out.chmod(0o555)
    try:
        _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "Permission denied")
    finally:
        out.chmod(0o755)
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_an_output_path_that_is_a_file(packs, pool_file, tmp_path, capsys):
    packs("ok")
    target = tmp_path / "taken"
    target.write_text("a file")
    _failed(capsys, ["generate", str(pool_file), "-o", str(target)], str(target))
    assert target.read_text() == "a file"


def test_a_full_disk_leaves_an_existing_folder_as_it_was(packs, pool_file, out, capsys, full_disk):
    packs("ok")
    full_disk(3)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out)], "No space left on device")
    assert _snapshot(out) == {"keep.txt": b"mine"}


def test_a_full_disk_removes_a_folder_the_run_made(packs, pool_file, tmp_path, capsys, full_disk):
    packs("ok")
    full_disk(2)
    _failed(capsys, ["generate", str(pool_file), "-o", str(tmp_path / "new")], "No space left on device")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_keeps_the_previous_run_when_overwriting(packs, pool_file, out, capsys, full_disk):
    packs("ok")
    assert main(["generate", str(pool_file), "-o", str(out), "-q"]) == 0
    before = _snapshot(out)
    full_disk(2)
    _failed(capsys, ["generate", str(pool_file), "-o", str(out), "--overwrite"], "No space left on device")
    assert _snapshot(out) == before


def test_a_full_disk_while_writing_the_report_keeps_the_previous_run(packs, pool_file, out, capsys, full_disk):
    packs("ok")
    assert main(["generate", str(pool_file), "-o", str(out), "-q"]) == 0
    (out / "romanasn-run.json").write_text('{"previous": true}\n')
    before = _snapshot(out)
    full_disk(1, "romanasn-run")
    _failed(capsys, ["generate", str(pool_file), "-o", str(out), "--overwrite"], "No space left on device")
    assert _snapshot(out) == before


# -- a run killed while writing --------------------------------------------------------------------

_KILLER = """
import os, signal, sys
from romanasn import cli, encoder

point, argv = sys.argv[1], sys.argv[2:]
calls = []
if point == "staging":  # while the association files are being made (checked, in either lane)
    def counted(real):
        def function(*args):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args)
        return function

    encoder.check_file = counted(encoder.check_file)
    encoder.Encoder.encode = counted(encoder.Encoder.encode)
else:  # while they are being moved into the output folder, after the commit
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith(("_asn.json", "_asn.yaml")):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(source, target)

    os.replace = replace
sys.exit(cli.main(argv))
"""


def _killed_run(tmp_path, point, *argv):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DISTS / "ok"), os.environ.get("PYTHONPATH", "")]),
               ROMANASN_PLUGINS="romanasn-fake-ok")
    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    done = subprocess.run([sys.executable, str(script), point, *map(str, argv)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _visible(folder):
    return {name: data for name, data in (_snapshot(folder) or {}).items() if not name.startswith(".")}


def test_a_run_killed_while_making_files_leaves_the_visible_files_as_they_were(packs, pool_file, out, tmp_path):
    packs("ok")
    assert main(["generate", str(pool_file), "-o", str(out), "-q"]) == 0
    before = _visible(out)
    _killed_run(tmp_path, "staging", "generate", pool_file, "-o", out, "--overwrite", "-q")
    assert _visible(out) == before
    for path in out.glob("*_asn.json"):
        load_asn(path)  # whole and valid


def test_the_next_run_undoes_a_run_killed_before_its_commit(packs, pool_file, out, tmp_path):
    packs("ok")
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--format", "yaml"]) == 0
    before = _snapshot(out)
    _killed_run(tmp_path, "staging", "generate", pool_file, "-o", out, "-q")
    assert (out / ".romanasn-journal").exists()
    # The next run into the folder first takes back what the killed one made, then refuses
    # to overwrite the files of the first run.
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--format", "yaml"]) == 1
    assert _snapshot(out) == before


def test_the_next_run_finishes_a_run_killed_after_its_commit(packs, pool_file, out, tmp_path):
    packs("ok")
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--format", "yaml"]) == 0
    first = json.loads((out / "romanasn-run.json").read_text())
    _killed_run(tmp_path, "moving", "generate", pool_file, "-o", out, "-q", "--format", "yaml", "--overwrite")
    assert (out / ".romanasn-journal").read_text().endswith("commit\n")
    assert folder.recover(out) == "finished"
    assert sorted(p.name for p in out.iterdir()) == sorted(["keep.txt", "romanasn-run.json"] + first["files"])
    assert json.loads((out / "romanasn-run.json").read_text()) == first
    for name in first["files"]:
        load_asn(out / name)  # whole and valid
