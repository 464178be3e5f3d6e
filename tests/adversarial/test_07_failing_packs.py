"""#16.7: a pack that exits or raises BaseException (at import, in a hook, in a rule's callable)
is a failing pack: exit status 1, the pack named, nothing written."""

import pytest

PACK = "plugin romanasn-fake-hostile 0.7"


@pytest.mark.parametrize("mode, shown", [("exit", "sys.exit(0)"), ("exit3", "sys.exit(3)"),
                                         ("interrupt", "KeyboardInterrupt")])
def test_a_pack_that_stops_at_import_fails_every_command_that_needs_it(run, pool, tmp_path, hostile, mode, shown):
    hostile(f"import:{mode}")
    status, _, err = run("generate", pool, "-o", tmp_path / "D")
    assert (status, not (tmp_path / "D").exists()) == (1, True)
    assert f"{PACK} failed to load: cannot import fake_hostile: {shown}" in err
    status, out, err = run("plugins")
    assert status == 1 and "romanasn-fake-hostile" in out and f"cannot import fake_hostile: {shown}" in out + err


@pytest.mark.parametrize("fault", ["file_stem:exit", "product_names:exit3", "finalize:interrupt",
                                   "product_name:exit", "keys:exit3", "constraint:interrupt"])
def test_a_pack_that_stops_in_a_hook_or_a_rule_fails_the_run(run, pool, tmp_path, hostile, snapshot, fault):
    out = tmp_path / "D"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    hostile(fault)
    status, _, err = run("generate", pool, "-o", out)
    assert status == 1, err
    assert PACK in err and ("sys.exit" in err or "KeyboardInterrupt" in err)
    assert snapshot(out) == {"mine.txt": b"mine"}


def test_validate_still_checks_files_when_a_pack_cannot_load(run, pool, tmp_path, hostile):
    assert run("generate", pool, "-o", tmp_path / "D", "-q")[0] == 0
    hostile("import:exit")
    report = tmp_path / "D" / "romanasn-run.json"
    files = sorted(str(p) for p in (tmp_path / "D").glob("*_asn.json"))
    status, out, _ = run("validate", *files)
    assert status == 0 and f"{len(files)} files: {len(files)} valid" in out
    (tmp_path / "D" / "bad_asn.json").write_text("{}")
    assert run("validate", tmp_path / "D" / "bad_asn.json")[0] == 1
    assert report.exists()
