"""``romanasn explain`` and ``generate --orphans``: why an exposure is, or is not, in each association."""

import json
import types
from pathlib import Path

import pytest
from romanasn_wfi_calibration import plugin as calibration
from romanasn_wfi_imaging import plugin as imaging
from romanasn_wfi_spectral import plugin as spectral

from romanasn import (
    MemberSpec,
    PoolError,
    Rule,
    RuleError,
    RunConfig,
    generate,
    hookimpl,
    isin,
    write_pool,
)
from romanasn.cli import main
from romanasn.explain import (
    COMPANION,
    DROPPED,
    FAILED,
    JOINED,
    NO_KEY,
    NOT_SELECTED,
    SKIPPED,
    VETOED,
    explain,
    find_row,
)
from romanasn.testing import exposure_rows, manager_with, pool_table

DISTS = Path(__file__).parent / "data" / "dists"
VISIT = "0000101001001001001"
PACKS = [(imaging, "romanasn-wfi-imaging"), (spectral, "romanasn-wfi-spectral"),
         (calibration, "romanasn-wfi-calibration")]


def _name(exposure, detector, element="f158", suffix="uncal"):
    return f"r{VISIT}_{exposure:04d}_wfi{detector:02d}_{element}_{suffix}.asdf"


@pytest.fixture
def table():
    """Images (1, 2), a grism exposure (3), a dark without an MA table (4), a degraded image (5)."""
    rows = exposure_rows(VISIT, 1, detectors=[1, 2], ma_table_name="IMG_16", exposerr="")
    rows += exposure_rows(VISIT, 2, detectors=[1, 2], ma_table_name="IMG_16", exposerr="")
    rows += exposure_rows(VISIT, 3, "WFI_SPECTRAL", "GRISM", detectors=[1], ma_table_name="SPEC_1", exposerr="")
    rows += exposure_rows(VISIT, 4, "WFI_IM_DARK", "DARK", detectors=[1], ma_table_name="", exposerr="")
    rows += exposure_rows(VISIT, 5, detectors=[1], ma_table_name="IMG_16", exposerr="GUIDING_LOST")
    return pool_table(rows)


def _pm(*extra):
    return manager_with(*PACKS, *extra)


def _by_rule(found):
    return {v.rule: v for v in found.verdicts}


def test_an_image_joins_its_rules_with_the_keys_it_got(table):
    found = explain(table, _name(1, 2), plugin_manager=_pm())
    verdicts = _by_rule(found)
    exposure = verdicts["wfi_image_exposure"]
    assert (exposure.status, exposure.plugin) == (JOINED, "romanasn-wfi-imaging 0.1.0")
    assert exposure.keys == ({"filename": _name(1, 2)},)
    [joined] = exposure.joined
    assert (joined.product_name, joined.expname, joined.exptype, joined.companion) == (
        f"r{VISIT}_0001_wfi02_f158", _name(1, 2), "science", False)
    assert joined.file_stem == f"r{VISIT}_0001_wfi02_f158_asn" and joined.asn_id.startswith("a3")
    visit = verdicts["wfi_image_visit"]
    assert visit.keys == ({"program": 1, "visit_id": VISIT, "optical_element": "F158"},)
    assert [j.product_name for j in visit.joined] == ["r00001_p_v01001001001001_f158"]
    assert [j.expname for j in visit.joined] == [_name(1, 2, suffix="cal")]
    assert not found.orphan


def test_a_rule_that_does_not_select_the_row_names_the_condition_and_the_value(table):
    verdicts = _by_rule(explain(table, _name(1, 2), plugin_manager=_pm()))
    dark = verdicts["wfi_dark"]
    assert dark.status == NOT_SELECTED
    assert dark.not_selected_by == (("exposure_type in ['WFI_IM_DARK', 'WFI_SP_DARK']", "WFI_IMAGE"),)
    spec = verdicts["wfi_spec_visit"]
    assert [name for name, _ in spec.not_selected_by] == [
        "exposure_type in ['WFI_SPECTRAL']", "optical_element in ['GRISM', 'PRISM']"]


def test_a_direct_image_is_a_companion_of_the_spectral_exposure(table):
    spec = _by_rule(explain(table, _name(2, 1), plugin_manager=_pm()))["wfi_spec_exposure"]
    assert spec.status == COMPANION
    [joined] = spec.joined
    assert (joined.product_name, joined.exptype, joined.companion) == (
        f"r{VISIT}_0003_wfi01_grism", "direct_image", True)
    assert joined.expname == _name(2, 1, suffix="cal")
    detector_2 = _by_rule(explain(table, _name(2, 2), plugin_manager=_pm()))["wfi_spec_exposure"]
    assert (detector_2.status, detector_2.joined) == (NOT_SELECTED, ())


def test_a_constraint_of_the_rule_vetoes_with_its_reason_and_plugin(table):
    found = explain(table, _name(4, 1, "dark"), plugin_manager=_pm())
    dark = _by_rule(found)["wfi_dark"]
    assert dark.status == VETOED
    [(reason, plugin)] = dark.vetoed_by
    assert "no MA table" in reason and plugin == "romanasn-wfi-calibration 0.1.0"
    assert found.orphan


def test_another_packs_constraint_vetoes_with_its_plugin(table):
    config = RunConfig(options={"drop_degraded": True})
    found = explain(table, _name(5, 1), plugin_manager=_pm(), config=config)
    image = _by_rule(found)["wfi_image_full"]
    assert image.status == VETOED and image.plugin == "romanasn-wfi-imaging 0.1.0"
    assert image.vetoed_by[0][1] == "romanasn-wfi-calibration 0.1.0"
    assert "--drop-degraded" in image.vetoed_by[0][0]
    without = _by_rule(explain(table, _name(5, 1), plugin_manager=_pm()))["wfi_image_full"]
    assert without.status == JOINED


def test_a_rule_needing_an_option_the_run_lacks_is_skipped(table):
    needy = Rule(name="sky_cells", asn_type="image3", level=3, group_by=("program",), needs=("skymap",),
                 product_name=lambda g, c: "x")
    found = explain(table, _name(1, 1), plugin_manager=_pm((_pack(needy), "romanasn-sky")))
    sky = _by_rule(found)["sky_cells"]
    assert (sky.status, sky.detail, sky.plugin) == (SKIPPED, "needs --skymap", "romanasn-sky unknown")


def _pack(*rules, **hooks):
    module = types.ModuleType("pack")
    module.romanasn_rules = hookimpl(lambda: list(rules))
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def test_a_failing_rule_is_named_and_the_others_are_still_explained(table):
    broken = Rule(name="broken", asn_type="x", level=2, group_by=("filename",), product_name=lambda g, c: 1 / 0)
    found = explain(table, _name(1, 1), plugin_manager=_pm((_pack(broken), "romanasn-broken")))
    verdicts = _by_rule(found)
    assert verdicts["broken"].status == FAILED
    assert "romanasn-broken" in verdicts["broken"].detail and "ZeroDivisionError" in verdicts["broken"].detail
    assert found.partial and found.notes
    exposure = verdicts["wfi_image_exposure"]
    assert exposure.status == JOINED and exposure.joined[0].asn_id is None


@pytest.mark.parametrize("scope", [None, ["wfi_image_exposure"], ["wfi_image_visit"]])
def test_a_row_a_finalize_hook_removes_is_dropped(table, scope):
    """Dropped, naming the pack, when its finalize hook serves the rule (no scope, or the rule's);
    joined when the pack's scope is another rule: its finalize hook never sees the association."""
    drop = _pack(romanasn_finalize=lambda associations: [
        a for a in associations if a.product_name != f"r{VISIT}_0001_wfi01_f158"])
    if scope is not None:
        drop.romanasn_hook_scope = hookimpl(lambda: scope)
    found = explain(table, _name(1, 1), plugin_manager=_pm((drop, "romanasn-dropper")))
    exposure = _by_rule(found)["wfi_image_exposure"]
    assert exposure.keys == ({"filename": _name(1, 1)},)
    if scope == ["wfi_image_visit"]:
        assert exposure.status == JOINED
    else:
        assert exposure.status == DROPPED and "romanasn-dropper" in exposure.detail


def test_a_key_function_gives_the_keys_or_none(table):
    def halves(table, rows, config):
        for i in rows:
            if table["detector"][i] == "WFI01":
                yield int(i), ("north",)
                yield int(i), ("south",)

    rule = Rule(name="halves", asn_type="image3", level=3, select=[isin("exposure_type", "WFI_IMAGE")],
                group_by=("half",), keys=halves, member=MemberSpec(suffix="cal"),
                product_name=lambda g, c: f"half_{g.key['half']}")
    pm = _pm((_pack(rule), "romanasn-halves"))
    first = _by_rule(explain(table, _name(1, 1), plugin_manager=pm))["halves"]
    assert first.keys == ({"half": "north"}, {"half": "south"})
    assert [j.product_name for j in first.joined] == ["half_north", "half_south"]
    second = _by_rule(explain(table, _name(1, 2), plugin_manager=pm))["halves"]
    assert second.status == NO_KEY


def test_only_the_rules_asked_for(table):
    found = explain(table, _name(1, 1), plugin_manager=_pm(), rules=["wfi_image_fov", "wfi_dark"])
    assert [v.rule for v in found.verdicts] == ["wfi_dark", "wfi_image_fov"]
    with pytest.raises(RuleError, match="unknown rule.*nope"):
        explain(table, _name(1, 1), plugin_manager=_pm(), rules=["nope"])


def test_explain_agrees_with_generate_on_every_row(table):
    """Every membership generate makes is one explain reports, and the other way round."""
    pm = _pm()
    result = generate(table, plugin_manager=pm)
    made = {(a.asn_rule, a.product_name, m.expname) for a in result.associations for m in a.members}
    told = set()
    for filename in table["filename"]:
        found = explain(table, str(filename), plugin_manager=pm)
        told |= {(v.rule, j.product_name, j.expname) for v in found.verdicts for j in v.joined}
        assert found.orphan == (str(filename) in result.orphans)
    assert told == made


def test_finding_the_row(table):
    assert find_row(table, _name(1, 2)) == 1
    assert find_row(table, f"/data/l1/{_name(1, 2)}") == 1
    assert find_row(table, _name(1, 2, suffix="cal")) == 1  # the same exposure at another level
    with pytest.raises(PoolError, match=r"pool.csv: no row has the file name 'r0000101001001001001_0001_wfi09"
                                        r".*close: r0000101001001001001_0001_wfi0"):
        find_row(table, _name(1, 9), "pool.csv")


def test_a_stem_shared_by_two_rows_must_be_spelt_out():
    rows = exposure_rows(VISIT, 1, detectors=[1]) + exposure_rows(VISIT, 2, detectors=[1], suffix="cal")
    rows[1]["filename"] = _name(1, 1, suffix="cal")
    with pytest.raises(PoolError, match="matches several rows"):
        find_row(pool_table(rows), _name(1, 1, suffix="rate"))


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def fake_ok(monkeypatch):
    monkeypatch.syspath_prepend(str(DISTS / "ok"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok")
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.fixture
def pool_file(tmp_path, table):
    path = tmp_path / "pool.ecsv"
    write_pool(table, path)
    return path


def test_explain_prints_each_rules_verdict(fake_ok, pool_file, capsys):
    assert main(["explain", str(pool_file), _name(1, 1)]) == 0
    said = capsys.readouterr().out
    assert said.splitlines()[0] == _name(1, 1)
    assert "fake_exposure  [romanasn-fake-ok 1.0]: joined" in said
    assert f"key: filename='{_name(1, 1)}'" in said
    assert f"in r{VISIT}_0001_wfi01_f158 (a3001, r{VISIT}_0001_wfi01_f158_asn) as member" in said


def test_explain_says_which_condition_left_a_row_out(fake_ok, pool_file, capsys):
    assert main(["explain", str(pool_file), _name(4, 1, "dark")]) == 0
    said = capsys.readouterr().out
    assert "(an orphan: no rule took it)" in said
    assert ("not selected by: exposure_type in ['WFI_IMAGE'] (the row has exposure_type='WFI_IM_DARK')"
            in said)


def test_explain_json(fake_ok, pool_file, capsys):
    assert main(["explain", str(pool_file), _name(1, 1), "--json", "--rule", "fake_exposure"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["filename"] == _name(1, 1) and found["orphan"] is False
    [rule] = found["rules"]
    assert (rule["rule"], rule["plugin"], rule["status"]) == ("fake_exposure", "romanasn-fake-ok 1.0", "joined")
    assert rule["keys"] == [{"filename": _name(1, 1)}]
    assert rule["associations"][0]["product_name"] == f"r{VISIT}_0001_wfi01_f158"


def test_explain_of_a_file_not_in_the_pool_is_exit_1(fake_ok, pool_file, capsys):
    assert main(["explain", str(pool_file), "nothing_like_it.asdf"]) == 1
    err = capsys.readouterr().err
    assert str(pool_file) in err and "'nothing_like_it.asdf'" in err


def test_explain_takes_the_options_packs_add(fake_ok, pool_file, capsys):
    assert main(["explain", str(pool_file), _name(1, 1), "--fake-flag"]) == 0
    assert main(["explain", str(pool_file), _name(1, 1), "--rule", "nope"]) == 1
    assert "unknown rule 'nope'" in capsys.readouterr().err


# -- orphans ----------------------------------------------------------------------------------


def test_generate_orphans_lists_the_rows_no_rule_took(fake_ok, pool_file, tmp_path, table):
    orphans = tmp_path / "orphans.txt"
    assert main(["generate", str(pool_file), "-o", str(tmp_path / "out"), "--orphans", str(orphans), "-q"]) == 0
    listed = orphans.read_text().splitlines()
    assert listed == [_name(3, 1, "grism"), _name(4, 1, "dark")]
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert report["orphans"] == listed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_generate_orphans_to_stdout_on_a_dry_run(fake_ok, pool_file, capsys):
    assert main(["generate", str(pool_file), "--dry-run", "--orphans", "-", "-q"]) == 0
    assert capsys.readouterr().out.splitlines() == [_name(3, 1, "grism"), _name(4, 1, "dark")]


def test_no_orphans_file_when_the_pool_is_bad(fake_ok, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,program\nx.asdf,1\n")
    orphans = tmp_path / "orphans.txt"
    assert main(["generate", str(bad), "--dry-run", "--orphans", str(orphans)]) == 1
    assert not orphans.exists()
