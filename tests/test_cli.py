"""The command line: generate, plugins, rules, columns, validate, from-list, -p no:NAME."""

import json
from pathlib import Path

import pytest

from romanasn import load_asn
from romanasn.cli import main, split_plugin_args
from romanasn.errors import UsageError

DATA = Path(__file__).parent / "data"
DISTS = DATA / "dists"


@pytest.fixture
def fake_ok(monkeypatch):
    """Only the fake pack of tests/data/dists/ok is active."""
    monkeypatch.syspath_prepend(str(DISTS / "ok"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok")


@pytest.fixture
def pool_file(tmp_path):
    """A small canonical pool: two WFI_IMAGE exposures of 2 detectors and one dark."""
    header = ("filename,program,execution_plan,pass,segment,observation,visit,visit_file_group,"
              "visit_file_sequence,visit_file_activity,exposure,visit_id,observation_id,exposure_type,"
              "detector,optical_element")
    rows = []
    for exposure, kind, element in ((1, "WFI_IMAGE", "F158"), (2, "WFI_IMAGE", "F158"), (3, "WFI_IM_DARK", "DARK")):
        for det in (1, 2):
            rows.append(f"r0000101001001001001_{exposure:04d}_wfi{det:02d}_{element.lower()}_uncal.asdf,"
                        f"1,1,1,1,1,1,1,1,01,{exposure},0000101001001001001,"
                        f"000010100100100100101101{exposure:04d},{kind},WFI{det:02d},{element}")
    path = tmp_path / "pool.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    return path


def test_generate_writes_associations_a_report_and_a_summary(fake_ok, pool_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(pool_file), "-o", str(out)]) == 0
    files = sorted(p.name for p in out.glob("*_asn.json"))
    assert files == [f"r0000101001001001001_{e:04d}_wfi{d:02d}_f158_asn.json" for e in (1, 2) for d in (1, 2)]
    first = load_asn(out / files[0])
    assert [m.expname for m in first.members] == ["r0000101001001001001_0001_wfi01_f158_uncal.asdf"]
    assert first.asn_id == "a3001" and first.asn_pool == "pool"
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["counts"] == {"fake_exposure": 4}
    assert sorted(report["orphans"]) == [f"r0000101001001001001_0003_wfi{d:02d}_dark_uncal.asdf" for d in (1, 2)]
    said = capsys.readouterr().out
    assert "fake_exposure" in said and "2 rows in no association" in said


def test_generate_twice_refuses_to_overwrite_and_leaves_files_alone(fake_ok, pool_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(pool_file), "-o", str(out)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["generate", str(pool_file), "-o", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert main(["generate", str(pool_file), "-o", str(out), "--overwrite"]) == 0


def test_generate_is_byte_identical_across_runs(fake_ok, pool_file, tmp_path):
    for name in ("a", "b"):
        assert main(["generate", str(pool_file), "-o", str(tmp_path / name), "-q"]) == 0
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a == b


@pytest.mark.parametrize("fmt", ["yaml", "asdf"])
def test_other_formats_load_back(fake_ok, pool_file, tmp_path, fmt):
    out = tmp_path / "out"
    assert main(["generate", str(pool_file), "-o", str(out), "--format", fmt, "-q"]) == 0
    files = sorted(out.glob(f"*_asn.{fmt}"))
    assert len(files) == 4
    assert load_asn(files[0]).products[0].name == "r0000101001001001001_0001_wfi01_f158"


def test_member_dir_writes_paths_relative_to_the_association(fake_ok, pool_file, tmp_path):
    out = tmp_path / "asn"
    assert main(["generate", str(pool_file), "-o", str(out), "--member-dir", str(tmp_path / "l1"), "-q"]) == 0
    first = load_asn(sorted(out.glob("*_asn.json"))[0])
    assert first.members[0].expname == "../l1/r0000101001001001001_0001_wfi01_f158_uncal.asdf"


def test_dry_run_writes_nothing(fake_ok, pool_file, tmp_path, capsys):
    assert main(["generate", str(pool_file), "--dry-run", "-o", str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out").exists()
    assert "dry run" in capsys.readouterr().out


def test_program_selects_a_subset_and_an_absent_program_is_an_error(fake_ok, pool_file, tmp_path, capsys):
    assert main(["generate", str(pool_file), "--dry-run", "--program", "1"]) == 0
    assert "6 pool rows" in capsys.readouterr().out
    assert main(["generate", str(pool_file), "--dry-run", "--program", "2"]) == 1
    assert "--program 2: no pool row has this program (the pools hold program 1)" in capsys.readouterr().err


def test_bad_pool_is_exit_1_naming_the_file(fake_ok, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,program\nx.asdf,1\n")
    assert main(["generate", str(bad), "-o", str(tmp_path / "out")]) == 1
    assert "bad.csv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_usage_errors_are_exit_2(fake_ok, pool_file, capsys):
    assert main(["generate", str(pool_file)]) == 2
    assert main(["generate", str(pool_file), "--rules"]) == 2
    assert main(["no-such-command"]) == 2


@pytest.mark.parametrize("command, pack", [("watch", "romanasn-watch"), ("new-pack", "romanasn-newpack")])
def test_a_command_of_a_pack_not_loaded_says_what_to_install(fake_ok, capsys, command, pack):
    assert main([command, "somewhere"]) == 2
    err = capsys.readouterr().err
    assert f"unknown command {command!r}: it comes with the pack {pack}, which is not loaded (pip install {pack};" in err


def test_unknown_rule_is_exit_1(fake_ok, pool_file, capsys):
    assert main(["generate", str(pool_file), "--dry-run", "--rules", "nope"]) == 1
    assert "unknown rule 'nope'" in capsys.readouterr().err


def test_plugins_json_lists_name_version_status_hooks_rules(fake_ok, capsys):
    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    ok = rows["romanasn-fake-ok"]
    assert (ok["version"], ok["status"], ok["rules"]) == ("1.0", "active", ["fake_exposure"])
    assert "romanasn_rules" in ok["hooks"]
    assert rows["romanasn"]["status"] == "active"


@pytest.mark.parametrize("argv", [["-p", "no:romanasn-fake-ok", "plugins", "--json"],
                                  ["plugins", "--json", "-p", "no:romanasn-fake-ok"],
                                  ["plugins", "-pno:romanasn_fake_ok", "--json"]])
def test_p_no_blocks_a_plugin_before_or_after_the_subcommand(fake_ok, capsys, argv):
    assert main(argv) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["romanasn-fake-ok"]["status"] == "blocked"


def test_split_plugin_args_rejects_other_values():
    assert split_plugin_args(["a", "-p", "no:x", "b"]) == (["a", "b"], ["x"])
    with pytest.raises(UsageError):
        split_plugin_args(["-p", "yes:x"])


def test_a_broken_plugin_shows_as_failed_and_stops_generate(monkeypatch, pool_file, capsys):
    monkeypatch.syspath_prepend(str(DISTS / "broken"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-broken")
    assert main(["plugins", "--json"]) == 1
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["romanasn-fake-broken"]["status"] == "failed"
    assert main(["generate", str(pool_file), "--dry-run"]) == 1
    assert "romanasn-fake-broken 2.1 failed to load" in capsys.readouterr().err


def test_rules_json(fake_ok, capsys):
    assert main(["rules", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{
        "name": "fake_exposure", "plugin": "romanasn-fake-ok", "asn_type": "image2", "level": 2,
        "needs": [], "summary": "one association per WFI_IMAGE file"}]


def test_columns_json_lists_canonical_columns(fake_ok, capsys):
    assert main(["columns", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["exposure_type"]["required"] is True
    assert rows["s_region"]["required"] is False


def test_pack_options_and_commands_join_the_parser(fake_ok, capsys):
    assert main(["fake-hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    assert "--fake-flag" in capsys.readouterr().out


def test_validate_accepts_romancal_files_and_rejects_broken_ones(fake_ok, tmp_path, capsys):
    good = sorted(p for p in (DATA / "romancal").glob("*.json") if "schema" not in p.name)
    assert main(["validate", *map(str, good)]) == 0
    broken = tmp_path / "broken_asn.json"
    broken.write_text('{"products": [{"name": "x", "members": [{"expname": "a"}]}]}')
    assert main(["validate", str(broken)]) == 1
    assert "broken_asn.json" in capsys.readouterr().err


@pytest.mark.parametrize("flags, shown", [
    ([], {"romanasn info", "library warning"}),
    (["-v"], {"romanasn debug", "romanasn info", "library info", "library warning"}),
    (["-q"], {"library warning"})])
def test_romanasns_messages_follow_q_and_v_and_other_libraries_say_only_warnings(fake_ok, capsys, flags, shown):
    """What a library logs for itself (matplotlib building its font cache on a new machine) is
    not a run's output: other loggers speak from WARNING up, from INFO up with -v."""
    import logging

    assert main([*flags, "plugins", "--json"]) == 0
    capsys.readouterr()
    ours, theirs = logging.getLogger("romanasn.engine"), logging.getLogger("matplotlib.font_manager")
    ours.debug("romanasn debug")
    ours.info("romanasn info")
    theirs.info("library info")
    theirs.warning("library warning")
    assert {line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()} == shown


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("romanasn ")


# -- a run's folder, followed and told of (romanasn_run_files, romanasn_run_written) ---------------------------


@pytest.fixture
def notify(monkeypatch):
    """The fake packs of tests/data/dists/ok and notify are active."""
    monkeypatch.syspath_prepend(str(DISTS / "ok"))
    monkeypatch.syspath_prepend(str(DISTS / "notify"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok,romanasn-fake-notify")


def test_a_pack_follows_the_files_of_a_run_and_is_told_when_it_is_written(notify, pool_file, tmp_path):
    out, notice = tmp_path / "out", tmp_path / "notice.json"
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--notify", str(notice)]) == 0
    told = json.loads(notice.read_text())
    files = sorted(p.name for p in out.glob("*_asn.json"))
    assert told["folder"] == str(out) and sorted(told["files"]) == files and told["pool_rows"] == 6
    assert sorted(told["followed"]) == [[name, (out / name).stat().st_size] for name in files]
    notice.unlink()
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--notify", str(notice)]) == 1  # files exist
    assert not notice.exists() and json.loads(notice.with_suffix(".discarded").read_text()) == []
    assert main(["generate", str(pool_file), "-o", str(out), "-q", "--overwrite"]) == 0  # not asked: not told
    assert not notice.exists()


def test_a_pack_refuses_a_run_its_option_cannot_go_with(notify, pool_file, tmp_path, capsys):
    notice = tmp_path / "notice.json"
    assert main(["generate", str(pool_file), "--dry-run", "--notify", str(notice)]) == 2
    assert capsys.readouterr().err == "romanasn: error: --notify needs a run that writes its associations\n"
    assert main(["explain", str(pool_file), "x_uncal.asdf", "--notify", str(notice)]) == 2  # generate's alone
    assert "unknown option --notify" in capsys.readouterr().err and not notice.exists()


def test_the_report_pack_not_loaded_its_command_and_option_name_it(fake_ok, pool_file, tmp_path, capsys):
    """Without romanasn-report (here not loaded; the same when not installed) the kernel runs as
    ever, and ``report`` and ``generate --report`` say which pack to install."""
    out = tmp_path / "out"
    assert main(["generate", str(pool_file), "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [*(f"r0000101001001001001_{e:04d}_wfi{d:02d}_f158_asn.json"
                                                       for e in (1, 2) for d in (1, 2)), "romanasn-run.json"]
    hint = ("it comes with the pack romanasn-report, which is not loaded (pip install romanasn-report;"
            " in a clone of romanasn, pip install plugins/romanasn-report)")
    assert main(["report", str(out)]) == 2
    assert f"unknown command 'report': {hint}" in capsys.readouterr().err
    assert main(["generate", str(pool_file), "-o", str(tmp_path / "other"), "--report"]) == 2
    assert f"unknown option --report: {hint}" in capsys.readouterr().err
    assert not (tmp_path / "other").exists() and not (out / "report.html").exists()
