"""``romanasn diff DIR_A DIR_B``: two sets of association files compared by content."""

import json
import logging
from pathlib import Path

import pytest
from romanasn_wfi_calibration import plugin as calibration
from romanasn_wfi_imaging import plugin as imaging
from romanasn_wfi_spectral import plugin as spectral

from romanasn import RunConfig, generate, write_result
from romanasn.cli import main
from romanasn.diff import VOLATILE, diff_dirs, render
from romanasn.errors import AsnError
from romanasn.testing import exposure_rows, manager_with, pool_table

VISIT = "0000101001001001001"
PACKS = [(imaging, "romanasn-wfi-imaging"), (spectral, "romanasn-wfi-spectral"),
         (calibration, "romanasn-wfi-calibration")]


def _table(*, degraded="", more=False):
    rows = exposure_rows(VISIT, 1, detectors=[1, 2], exposerr="", ma_table_name="IMG_16")
    rows += exposure_rows(VISIT, 2, detectors=[1, 2], exposerr=degraded)
    rows += exposure_rows(VISIT, 3, "WFI_SPECTRAL", "GRISM", detectors=[1], exposerr="")
    if more:
        rows += exposure_rows("0000101001001001002", 1, detectors=[1], exposerr="")
    return pool_table(rows)


def _write(folder, table, *, fmt="json", options=None, packs=PACKS):
    pm = manager_with(*packs)
    config = RunConfig(pool_name="pool", options=options or {})
    result = generate(table, plugin_manager=pm, config=config)
    write_result(result, folder, plugin_manager=pm, config=config, format=fmt)
    return folder


@pytest.fixture
def a(tmp_path):
    return _write(tmp_path / "a", _table())


def test_the_same_run_twice_is_equal(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table())
    found = diff_dirs(a, b)
    assert found.equal and found.same == len(list(a.glob("*_asn.json")))
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{found.same} the same")


def test_formats_do_not_matter_content_does(a, tmp_path):
    assert diff_dirs(a, _write(tmp_path / "yaml", _table(), fmt="yaml")).equal
    assert diff_dirs(a, _write(tmp_path / "asdf", _table(), fmt="asdf")).equal


def test_added_and_removed_associations(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table(more=True))
    found = diff_dirs(a, b)
    added = [s.product for s in found.added]
    assert f"r{VISIT[:-3]}002_0001_wfi01_f158" in added
    assert "r00001_p_v01001001001002_f158" in added
    assert not found.removed
    assert main(["diff", str(a), str(b)]) == 3
    said = capsys.readouterr().out
    assert "+ r00001_p_v01001001001002_f158  (wfi_image_visit, 1 member;" in said
    assert main(["diff", str(b), str(a)]) == 3
    assert "- r00001_p_v01001001001002_f158" in capsys.readouterr().out


def test_new_associations_renumber_the_others_without_changing_them(a, tmp_path):
    """asn_id follows product names, so an added association shifts the later ids: not a change."""
    b = _write(tmp_path / "b", _table(more=True))
    found = diff_dirs(a, b)
    # The new visit's exposure joins the pass and the full-program mosaics; nothing else changed.
    assert [(c.product, c.fields, len(c.gained), c.lost) for c in found.changed] == [
        ("r00001_p_full_f158", {}, 1, ()), ("r00001_p_p01001_f158", {}, 1, ())]
    strict = diff_dirs(a, b, all_fields=True)
    renumbered = [c for c in strict.changed if c.product not in ("r00001_p_full_f158", "r00001_p_p01001_f158")]
    assert renumbered and all(set(c.fields) == {"asn_id"} and not c.gained for c in renumbered)


def test_members_gained_and_lost(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table(degraded="GUIDING_LOST"), options={"drop_degraded": True})
    found = diff_dirs(a, b)
    assert {s.product for s in found.removed} == {
        f"r{VISIT}_0002_wfi01_f158", f"r{VISIT}_0002_wfi02_f158", f"r{VISIT}_0002_wfi_f158"}
    changed = {c.product: c for c in found.changed}
    visit = changed["r00001_p_v01001001001001_f158"]
    assert [m["expname"] for m in visit.lost] == [f"r{VISIT}_0002_wfi{d:02d}_f158_cal.asdf" for d in (1, 2)]
    assert visit.gained == ()
    spec = changed[f"r{VISIT}_0003_wfi01_grism"]
    assert [m["exptype"] for m in spec.lost] == ["direct_image"]
    assert main(["diff", str(a), str(b)]) == 3
    said = capsys.readouterr().out
    assert "~ r00001_p_v01001001001001_f158  (members +0 -2)" in said
    assert f"    - r{VISIT}_0002_wfi01_f158_cal.asdf (science)" in said


def test_altered_members_and_changed_fields(a, tmp_path):
    b = _write(tmp_path / "b", _table(degraded="GUIDING_LOST"))
    changed = {c.product: c for c in diff_dirs(a, b).changed}
    fov = changed[f"r{VISIT}_0002_wfi_f158"]
    assert not fov.gained and not fov.lost
    assert [(x["exposerr"] if "exposerr" in x else None, y["exposerr"]) for x, y in fov.altered] == [
        (None, "exposerr: GUIDING_LOST")] * 2
    assert list(fov.fields) == ["degraded_status"]
    text = render(diff_dirs(a, b))
    assert f"~ r{VISIT}_0002_wfi01_f158_cal.asdf: exposerr null -> \"exposerr: GUIDING_LOST\"" in text


def test_versions_are_ignored_unless_asked_for(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table())
    for path in b.glob("*_asn.json"):
        data = json.loads(path.read_text())
        data["code_version"] = "9.9.9"
        data["romanasn"]["plugin_version"] = "2.0.0"
        data["romanasn"]["kernel_version"] = "9.9.9"
        path.write_text(json.dumps(data))
    assert diff_dirs(a, b).equal
    assert set(VOLATILE) == {"asn_id", "code_version", "romanasn.plugin_version", "romanasn.kernel_version"}
    found = diff_dirs(a, b, all_fields=True)
    assert set(found.changed[0].fields) == {"code_version", "romanasn.plugin_version", "romanasn.kernel_version"}
    assert main(["diff", str(a), str(b), "--all-fields", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["equal"] is False
    assert data["changed"][0]["fields"]["code_version"]["b"] == "9.9.9"


def test_more_keys_can_be_ignored(a, tmp_path):
    b = _write(tmp_path / "b", _table())
    for path in b.glob("*_asn.json"):
        data = json.loads(path.read_text())
        data["asn_pool"] = "another_pool"
        path.write_text(json.dumps(data))
    assert not diff_dirs(a, b).equal
    assert diff_dirs(a, b, ignore=["asn_pool"]).equal
    assert main(["diff", str(a), str(b), "--ignore", "asn_pool,version_id"]) == 0


def test_a_rule_moved_to_another_plugin_is_a_change(a, tmp_path):
    b = _write(tmp_path / "b", _table(), packs=[(imaging, "romanasn-imaging-new"), *PACKS[1:]])
    changed = diff_dirs(a, b).changed
    assert changed and all(set(c.fields) == {"romanasn.plugin"} for c in changed)


def test_json_lists_everything(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table(degraded="GUIDING_LOST", more=True), options={"drop_degraded": True})
    assert main(["diff", str(a), str(b), "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"a", "b", "equal", "ignored", "added", "removed", "changed", "same"}
    assert {s["product"] for s in data["removed"]} >= {f"r{VISIT}_0002_wfi_f158"}
    visit = next(c for c in data["changed"] if c["product"] == "r00001_p_full_f158")
    assert visit["lost"][0]["expname"] == f"r{VISIT}_0002_wfi01_f158_cal.asdf"
    assert visit["gained"][0]["expname"] == f"r{VISIT[:-3]}002_0001_wfi01_f158_cal.asdf"


def test_only_association_files_are_read(a, tmp_path):
    b = _write(tmp_path / "b", _table())
    (b / "notes.txt").write_text("not an association")
    (b / ".hidden.json").write_text("{}")
    (b / "sub").mkdir()
    (b / "sub" / "x_asn.json").write_text("{}")
    assert (b / "romanasn-run.json").exists()
    assert diff_dirs(a, b).equal


def test_an_invalid_file_is_exit_1_naming_it(a, tmp_path, capsys):
    b = _write(tmp_path / "b", _table())
    (b / "broken_asn.json").write_text('{"products": []}')
    assert main(["diff", str(a), str(b)]) == 1
    assert "broken_asn.json" in capsys.readouterr().err


def test_a_missing_folder_is_exit_1_and_no_folder_exit_2(a, tmp_path, capsys):
    assert main(["diff", str(a), str(tmp_path / "nope")]) == 1
    assert "nope: not a folder of association files" in capsys.readouterr().err
    assert main(["diff", str(a)]) == 2


def test_two_files_of_one_product_are_told_apart_by_rule(a, tmp_path):
    b = _write(tmp_path / "b", _table())
    source = next(b.glob(f"r{VISIT}_0001_wfi01_f158_asn.json"))
    data = json.loads(source.read_text())
    data["asn_rule"] = "another_rule"
    (b / "copy_asn.json").write_text(json.dumps(data))
    found = diff_dirs(a, b)
    assert [s.product for s in found.added] == [f"r{VISIT}_0001_wfi01_f158 [another_rule]",
                                                f"r{VISIT}_0001_wfi01_f158 [wfi_image_exposure]"]
    assert [s.product for s in found.removed] == [f"r{VISIT}_0001_wfi01_f158"]
    (b / "copy2_asn.json").write_text(json.dumps(data))
    with pytest.raises(AsnError, match="copy2_asn.json and copy_asn.json are both|copy_asn.json and "
                                       "copy2_asn.json are both"):
        diff_dirs(a, b)


def test_an_unfinished_write_is_warned_about(a, tmp_path, caplog):
    b = _write(tmp_path / "b", _table())
    (b / ".romanasn-staging-abc").mkdir()
    with caplog.at_level(logging.WARNING, logger="romanasn.diff"):
        assert diff_dirs(a, b).equal
    assert "did not finish" in caplog.text


def test_the_readme_troubleshooting_section_names_commands_that_exist():
    from romanasn.cli import build_parser
    from romanasn.plugins.manager import get_plugin_manager

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    parser = build_parser(get_plugin_manager(autoload=False))
    assert parser.parse_args(["explain", "pool.ecsv", "x.asdf", "--rule", "r", "--json"]).filename == "x.asdf"
    assert parser.parse_args(["generate", "pool.ecsv", "-o", "out", "--orphans", "o.txt"]).orphans == "o.txt"
    assert parser.parse_args(["diff", "a", "b", "--json", "--all-fields", "--ignore", "k"]).all_fields
    for text in ("romanasn explain", "romanasn diff", "--orphans", "--all-fields", "--ignore", "0 when equal, 3"):
        assert text in section, text
