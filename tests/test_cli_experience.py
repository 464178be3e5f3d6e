"""The command line as a new user meets it (#14, and #16 case 8), driving the installed ``romanasn``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
POOL = DATA / "pool_canonical.csv"
ROMANASN = Path(sys.executable).with_name("romanasn")
PACKS = "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration,romanasn-skycell,romanasn-newpack"


def romanasn(*args, **env):
    """Run the installed ``romanasn`` with the shipped packs (``env`` on top); return the completed process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROMANASN_")}
    environment.update({"ROMANASN_PLUGINS": PACKS, **env})
    environment = {k: v for k, v in environment.items() if v is not None}
    return subprocess.run([str(ROMANASN), *map(str, args)], capture_output=True, text=True, env=environment)


def one_error(done, status=1):
    """The one line of error a failing run printed (checked to be one line, with that status)."""
    assert done.returncode == status, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("romanasn: error: "), done.stderr
    return lines[0].removeprefix("romanasn: error: ")


# -- 2 (and #16.8): a request that can do nothing is an error, with a "did you mean" ---------------


def test_a_program_no_row_has_is_an_error_naming_the_programs_held():
    said = one_error(romanasn("generate", POOL, "--dry-run", "--program", "99"))
    assert said == "--program 99: no pool row has this program (the pools hold program 1)"


def test_a_rule_asked_for_that_lacks_its_option_is_an_error():
    said = one_error(romanasn("generate", POOL, "--dry-run", "--rules", "skycell_visit"))
    assert said == "cannot run skycell_visit (it needs --skymap)"
    said = one_error(romanasn("generate", POOL, "--dry-run", "--rules", "skycell_*"))
    assert said.startswith("no selected rule can run: skycell_daily needs --skymap")


def test_a_mistyped_rule_gets_a_did_you_mean_not_the_whole_list():
    said = one_error(romanasn("generate", POOL, "--dry-run", "--rules", "wfi_image_vist"))
    assert said == "unknown rule 'wfi_image_vist'; did you mean wfi_image_visit?"


def test_rule_names_are_shell_patterns():
    done = romanasn("generate", POOL, "--dry-run", "--rules", "wfi_image_*", "--skip-rules", "wfi_image_[ef]*")
    assert done.returncode == 0, done.stderr
    counted = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  wfi")]
    assert counted == ["wfi_image_pass", "wfi_image_visit"]  # [ef]* took exposure, fov and full
    said = one_error(romanasn("generate", POOL, "--dry-run", "--skip-rules", "skycel_*"))
    assert said.startswith("rule pattern 'skycel_*' matches no installed rule; installed rules: skycell_daily")


def test_a_selection_that_leaves_no_rule_is_an_error():
    said = one_error(romanasn("generate", POOL, "--dry-run", "--rules", "wfi_dark", "--skip-rules", "wfi_*"))
    assert said.startswith("no rule to run: wfi_dark less --skip-rules wfi_* selects none")
    said = one_error(romanasn("generate", POOL, "--dry-run", "--rules", ""), status=2)
    assert said == "--rules '' names no rule (leave --rules out to run every rule)"


@pytest.mark.parametrize("argv, said", [
    (["generat", "x"], "unknown command 'generat'; did you mean generate? (see romanasn --help)"),
    (["generate", "x", "--dryrun"],
     "generate: unknown option --dryrun; did you mean --dry-run? (see romanasn generate --help)"),
    (["generate", "x", "--format", "jsn"],
     "generate: --format: unknown value 'jsn'; did you mean json? (see romanasn generate --help)"),
], ids=["command", "option", "choice"])
def test_mistyped_commands_options_and_values_get_a_did_you_mean(argv, said):
    assert one_error(romanasn(*argv), status=2) == said


@pytest.mark.parametrize("value", ["", " , "])
def test_an_empty_pack_list_is_an_error_not_an_empty_run(value, tmp_path):
    said = one_error(romanasn("generate", POOL, "-o", tmp_path / "out", ROMANASN_PLUGINS=value), status=2)
    assert said.startswith(f"ROMANASN_PLUGINS={value!r} names no pack")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value, loads", [("0", True), ("off", True), ("yes", False)])
def test_autoload_off_only_when_the_variable_says_so(value, loads):
    done = romanasn("plugins", "--json", ROMANASN_DISABLE_PLUGIN_AUTOLOAD=value)
    assert done.returncode == 0, done.stderr
    active = {row["name"] for row in json.loads(done.stdout) if row["status"] == "active"}
    assert ("romanasn-wfi-imaging" in active) is loads


def test_a_nonsense_autoload_value_is_an_error():
    said = one_error(romanasn("plugins", ROMANASN_DISABLE_PLUGIN_AUTOLOAD="maybe"), status=2)
    assert said.startswith("ROMANASN_DISABLE_PLUGIN_AUTOLOAD='maybe': use 1")


def test_blocking_a_pack_that_is_not_installed_is_an_error():
    said = one_error(romanasn("-p", "no:wfi-imaging", "rules"), status=2)
    assert said == "-p no:wfi-imaging: no installed pack is named 'wfi-imaging'; did you mean romanasn-wfi-imaging?"
    said = one_error(romanasn("rules", "-p", "no:typo"), status=2)
    assert said.startswith("-p no:typo: no installed pack is named 'typo'; installed: ")
    assert romanasn("rules", "-p", "no:romanasn-skycell").returncode == 0


def test_prune_never_removes_every_file_without_prune_all(tmp_path):
    out = tmp_path / "out"
    done = romanasn("generate", POOL, "-o", out, "--rules", "wfi_image_exposure", "-q")
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) == 7  # six associations and the run report
    # the next run makes none of them again (another rule): --prune would empty the folder
    said = one_error(romanasn("generate", POOL, "-o", out, "--rules", "wfi_image_fov", "--update", "--prune"),
                     status=2)
    assert said.startswith(f"{out}: --prune would remove all 6 association files it holds")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    done = romanasn("generate", POOL, "-o", out, "--rules", "wfi_image_fov", "--update", "--prune-all")
    assert done.returncode == 0, done.stderr
    assert "6 no longer made and removed" in done.stdout
    assert sorted(p.name for p in out.glob("*_asn.json")) == ["r0000101001001001001_0001_wfi_f158_asn.json",
                                                              "r0000101001001001001_0002_wfi_f158_asn.json"]


# -- 1: validate takes folders and run reports, one line per bad file, a summary -------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder ``generate`` wrote from the canonical pool (11 associations and the run report)."""
    out = tmp_path_factory.mktemp("validate") / "asn"
    done = romanasn("generate", POOL, "-o", out, "-q")
    assert done.returncode == 0, done.stderr
    return out


def test_validate_takes_a_folder_and_checks_the_run_report_against_its_schema(folder, tmp_path):
    done = romanasn("validate", folder)
    assert (done.returncode, done.stdout, done.stderr) == (0, "12 files: 12 valid\n", "")
    assert romanasn("validate", *sorted(folder.iterdir())).stdout == "12 files: 12 valid\n"
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "sub").mkdir()
    (copy / "sub" / "x_asn.json").write_text('{"asn_type": "image3"}')
    report = json.loads((copy / "romanasn-run.json").read_text())
    del report["manifest"]
    (copy / "romanasn-run.json").write_text(json.dumps(report))
    done = romanasn("validate", copy)
    assert done.returncode == 1
    assert done.stdout == "13 files: 11 valid, 2 invalid\n"
    assert done.stderr.splitlines() == [
        f"{copy / 'romanasn-run.json'}: invalid run report: at $: 'manifest' is a required property",
        f"{copy / 'sub' / 'x_asn.json'}: invalid association: at $: 'products' is a required property",
    ]


def test_validating_a_folder_with_no_association_file_is_an_error(tmp_path):
    said = one_error(romanasn("validate", tmp_path))
    assert said.startswith(f"{tmp_path}: no association file")


# -- 3: --dry-run lists what it would write; --log receives the summary ----------------------------


def test_a_dry_run_lists_the_files_it_would_write_and_the_log_gets_the_summary(tmp_path):
    log = tmp_path / "run.log"
    done = romanasn("generate", POOL, "-o", tmp_path / "out", "--dry-run", "--log", log)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "6 pool rows, 11 associations"
    assert "  wfi_image_exposure  6" in lines
    at = lines.index(f"dry run: would write 11 association files to {tmp_path / 'out'} and romanasn-run.json;"
                     " nothing written")
    assert lines[at + 1:] == ["  r0000101001001001001_0001_wfi01_f158_asn.json"] + lines[at + 2:at + 10] + [
        "  r00001_p_p01001_f158_asn.json", "  ... and 1 more (-v lists them all)"]
    assert "see romanasn-run.json" not in done.stdout
    assert not (tmp_path / "out").exists()
    logged = log.read_text()
    assert "INFO: 6 pool rows, 11 associations" in logged and "INFO: dry run: would write 11" in logged
    everything = romanasn("generate", POOL, "--dry-run", "-v", "--format", "yaml").stdout.splitlines()
    files = [line.strip() for line in everything if line.endswith("_asn.yaml")]
    assert len(files) == 11 and files[-1] == "r00001_p_v01001001001001_f158_asn.yaml"


# -- 4: warnings only for what may be wrong ---------------------------------------------------------


def test_no_warning_for_a_skipped_optional_rule_or_a_legacy_pool_romanasn_wrote(tmp_path):
    from romanasn.makepool import _legacy_text  # the text make-pool --format legacy writes
    from romanasn.pool import read_pool

    legacy = tmp_path / "legacy.csv"
    legacy.write_text(_legacy_text(read_pool(POOL)))
    done = romanasn("generate", legacy, "--dry-run")
    assert done.returncode == 0 and done.stderr == ""
    assert ("  skipped (needs --skymap): skycell_daily, skycell_full, skycell_multiband, skycell_pass,"
            " skycell_visit") in done.stdout.splitlines()
    assert romanasn("explain", legacy, "r0000101001001001001_0001_wfi01_f158_cal.asdf").stderr == ""
    assert romanasn("generate", POOL, "--dry-run", "-q").stdout == ""


def test_a_repaired_legacy_pool_gives_one_short_warning():
    done = romanasn("generate", DATA / "pool_001_candidates.csv", "--dry-run", "-q")
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("WARNING: ") and "legacy pool repaired: 7 unknown columns dropped" in line
    assert len(line) < 300


# -- 5: help: every option says what it does and its default; examples; environment ---------------


def _parsers():
    """Every command's parser (the shipped packs' too), by name."""
    import argparse

    from romanasn.cli import build_parser
    from romanasn.plugins.manager import get_plugin_manager

    parser = build_parser(get_plugin_manager())
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"romanasn": parser, **sub.choices}


def test_every_option_and_argument_has_help_and_every_command_a_description_and_examples():
    for name, parser in _parsers().items():
        bare = [action.option_strings or action.dest for action in parser._actions if not action.help]
        assert not bare, f"{name}: arguments without help: {bare}"
        assert parser.description, f"{name} has no description"
        assert parser.epilog and "examples:\n  romanasn " in parser.epilog, f"{name} shows no example"


def test_generate_help_gives_defaults_environment_and_how_ids_are_given():
    said = " ".join(romanasn("generate", "--help").stdout.split())
    assert "--format {asdf,json,yaml} json (default): what romancal reads." in said
    assert "data release id in product names (default: p)" in said
    assert "(env: ROMANASN_SKYMAP, SKYMAP_PATH)" in said
    assert "examples: romanasn generate pool.ecsv -o asn/" in said
    assert "asn_id: each run numbers its associations a3001, a3002, ... in product-name order" in said
    assert "--update keeps the id of every association" in said
    top = romanasn("--help").stdout
    assert "ROMANASN_PLUGINS=a,b" in top and "ROMANASN_DISABLE_PLUGIN_AUTOLOAD=1" in top


def test_listing_commands_print_tables_with_headers():
    for command, header in [("rules", ["rule", "asn_type", "level", "pack", "needs", "summary"]),
                            ("columns", ["column", "type", "required", "pack", "description"]),
                            ("plugins", ["pack", "version", "status", "rules"])]:
        first, *rows = romanasn(command).stdout.splitlines()
        assert first.split() == header, command
        assert rows, command
    rules = romanasn("rules").stdout.splitlines()
    assert any(line.split()[:5] == ["skycell_visit", "image", "L3", "romanasn-skycell", "--skymap"] for line in rules)


# -- 6: a broken pack does not hide the others -------------------------------------------------------


def test_plugins_lists_the_working_packs_beside_a_broken_one():
    done = romanasn("plugins", PYTHONPATH=str(DATA / "dists" / "raising"),
                    ROMANASN_PLUGINS=PACKS + ",romanasn-fake-raising")
    assert done.returncode == 1
    rows = {line.split()[0]: line.split(maxsplit=3)[2:] for line in done.stdout.splitlines()[1:]}
    assert rows["romanasn-fake-raising"] == ["failed", "-"]
    assert rows["romanasn-wfi-imaging"][0] == "active" and "wfi_image_visit" in rows["romanasn-wfi-imaging"][1]
    assert done.stderr.strip() == ("romanasn-fake-raising: plugin romanasn-fake-raising 0.9 failed in romanasn_rules:"
                                   " RuntimeError: the rule table is corrupt")


# -- 8: plot says plainly when an association has no skycell ------------------------------------------


def test_plot_says_an_image3_association_has_no_skycell(folder, tmp_path):
    """On a new machine, as in CI: matplotlib builds its font cache and logs it; that is not a line of the error."""
    said = one_error(romanasn("plot", folder / "r00001_p_full_f158_asn.json", "--pool", POOL,
                              "--skymap", DATA.parent.parent / "examples" / "skymap.asdf", "-o", tmp_path / "x.png",
                              MPLCONFIGDIR=str(tmp_path / "new-matplotlib")),
                     status=2)
    assert said.startswith("r00001_p_full_f158 (rule wfi_image_full) has no skycell: romanasn plot draws the"
                           " associations of the skycell rules (skycell_visit")
    assert not (tmp_path / "x.png").exists()


# -- 7: a rule over other associations' products is no "dropped" --------------------------------------


def test_explain_says_the_multiband_rule_works_on_products_not_on_the_exposure():
    examples = DATA.parent.parent / "examples"
    done = romanasn("explain", examples / "pool.ecsv", "r0000101001001001001_0001_wfi01_f158_cal.asdf",
                    "--skymap", examples / "skymap.asdf", "--rule", "skycell_multiband", "--rule", "skycell_visit")
    assert done.returncode == 0, done.stderr
    verdicts = {line.split()[0]: line for line in done.stdout.splitlines() if "]: " in line}
    assert verdicts["skycell_visit"].endswith(": joined")
    assert verdicts["skycell_multiband"].startswith(
        "skycell_multiband  [romanasn-skycell 0.1.0]: works on products: grouped, but the rule's associations list"
        " products of other associations (such as r00001_p_")
    assert "_coadd.asdf), not exposures" in verdicts["skycell_multiband"] and "dropped" not in done.stdout


# -- 10: counts agree with their nouns --------------------------------------------------------------


def test_one_of_a_thing_is_singular(tmp_path):
    from romanasn.words import count

    assert [count(n, "row") for n in (0, 1, 2, 3581)] == ["0 rows", "1 row", "2 rows", "3,581 rows"]
    done = romanasn("multiband", "r00001_p_v01001001001001_002p86x45y46_f158_coadd.asdf", "-o", tmp_path, "--dry-run")
    assert done.stdout == f"would write {tmp_path}/r00001_p_v01001001001001_002p86x45y46_asn.json (1 member)\n"
    one = tmp_path / "one.csv"
    one.write_text("".join(POOL.read_text().splitlines(keepends=True)[:2]))
    assert romanasn("generate", one, "--dry-run", "--rules", "wfi_image_exposure").stdout.startswith(
        "1 pool row, 1 association\n")


# -- 11: the author's guide reads well as plain Markdown, and stays true -------------------------------


def _docs_extension():
    """``docs/_ext/romanasn_docs.py`` as a module."""
    pytest.importorskip("sphinx")
    docs = DATA.parent.parent / "docs"
    sys.path.insert(0, str(docs / "_ext"))
    try:
        import romanasn_docs
    finally:
        sys.path.remove(str(docs / "_ext"))
    return romanasn_docs


@pytest.mark.slow
def test_the_guide_and_quick_start_hold_their_code_and_outputs_as_they_are_today():
    docs = _docs_extension()
    page = (DATA.parent.parent / "docs" / "authoring.md").read_text()
    for directive in ("romanasn-output", "romanasn-newpack-file", "literalinclude", "eval-rst", "<romanasn"):
        assert directive not in page, f"the guide shows {directive} as raw Markdown"
    assert len(docs.SNAPSHOT.findall(page)) >= 19
    text, stale = docs.refreshed(page)
    assert not stale, f"out of date in docs/authoring.md (refresh it): {stale}"
    assert "$ romanasn new-pack my-survey -o .\nwrote the pack romanasn-my-survey to romanasn-my-survey/:" in text
    edited = page.replace("romanasn-my-survey        0.1.0    active", "romanasn-my-survey        9.9.9    active")
    assert docs.refreshed(edited) == (page, ["<!-- output: plugins | packs=guide 0 -->"])
    quickstart = (DATA.parent.parent / "docs" / "quickstart.md").read_text()
    assert "eval-rst" not in quickstart and docs.refreshed(quickstart)[1] == []


def test_the_skeleton_says_where_its_romanasn_dependency_comes_from(tmp_path):
    done = romanasn("new-pack", "my-survey", "-o", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    readme = " ".join((tmp_path / "romanasn-my-survey" / "README.md").read_text().split())
    assert "the pack depends on `romanasn>=0.1`, which pip then finds installed, whether romanasn came from a" \
           " package index or from a clone" in readme
