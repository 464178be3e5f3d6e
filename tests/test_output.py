"""Writing a run: flat, validated, all or nothing, with a run report."""

import json
import types

import pytest
from astropy.table import Table

from attrs import evolve

from romanasn import (AsnError, Association, Member, Product, Provenance, Rule, RunConfig, asnfile, generate, hookimpl,
                      isin, load_asn, output, strip_level, write_result)
from romanasn import folder as folder_module
from romanasn.plugins.manager import get_plugin_manager


@pytest.fixture
def pool():
    names = [f"r0000101001001001001_{e:04d}_wfi{d:02d}_f158_cal.asdf" for e in (1, 2) for d in (1, 2)]
    return Table({"filename": names, "program": [1] * 4, "exposure_type": ["WFI_IMAGE"] * 4,
                  "exposerr": [""] * 4})


def _pack(**hooks):
    module = types.ModuleType("pack")
    rule = Rule(name="each", asn_type="image2", level=2, select=[isin("exposure_type", "WFI_IMAGE")],
                group_by=("filename",), product_name=lambda g, c: strip_level(g.key["filename"]))
    module.romanasn_rules = hookimpl(lambda: [rule])
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return get_plugin_manager(autoload=False, plugins=[(module, "pack")])


def _write(pool, out, pm, **kwargs):
    config = RunConfig(pool_name="pool")
    result = generate(pool, plugin_manager=pm, config=config)
    return write_result(result, out, plugin_manager=pm, config=config, **kwargs)


def test_files_are_flat_validated_and_reported(pool, tmp_path):
    out = tmp_path / "out"
    written = _write(pool, out, _pack(), inputs=["pool.ecsv"])
    assert [p.parent for p in written] == [out] * 4
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in written] + ["romanasn-run.json"])
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["inputs"] == ["pool.ecsv"] and report["counts"] == {"each": 4}
    assert report["files"] == [p.name for p in written]
    assert [r["name"] for r in report["plugins"]] == ["romanasn", "pack"]


def test_a_failure_while_writing_leaves_the_folder_as_it_was(pool, tmp_path, full_disk):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    full_disk(3)
    with pytest.raises(AsnError, match="No space left"):
        _write(pool, out, _pack())
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_an_invalid_association_stops_the_run_and_leaves_the_folder_as_it_was(pool, tmp_path):
    out = tmp_path / "out"
    _write(pool, out, _pack())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    pm = _pack(romanasn_finalize=lambda associations: [
        evolve(a, products=(Product(a.product_name, ()),)) if i == 2 else a for i, a in enumerate(associations)])
    with pytest.raises(AsnError, match="invalid association"):
        _write(pool, out, pm, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_new_folder_is_removed_when_the_run_fails(pool, tmp_path, full_disk):
    full_disk(2)
    with pytest.raises(AsnError, match="No space left"):
        _write(pool, tmp_path / "new", _pack())
    assert not (tmp_path / "new").exists()


def test_existing_files_are_refused_without_overwrite(pool, tmp_path):
    out = tmp_path / "out"
    _write(pool, out, _pack())
    with pytest.raises(AsnError, match="exists and 3 more; use --overwrite"):
        _write(pool, out, _pack())
    assert len(_write(pool, out, _pack(), overwrite=True)) == 4


def test_the_written_observer_hook_sees_every_file(pool, tmp_path):
    seen = []
    pm = _pack(romanasn_association_written=lambda association, path: seen.append(path.name))
    written = _write(pool, tmp_path / "out", pm)
    assert seen == [p.name for p in written]


def test_yaml_and_asdf_are_written_and_load_back(pool, tmp_path):
    for fmt in ("yaml", "asdf"):
        written = _write(pool, tmp_path / fmt, _pack(), format=fmt)
        assert written[0].name.endswith(f"_asn.{fmt}")
        assert load_asn(written[0]).asn_id == "a3001"


def test_the_run_report_holds_the_manifest_of_the_folder(pool, tmp_path):
    written = _write(pool, tmp_path / "out", _pack())
    manifest = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())["manifest"]
    assert manifest["version"] == 1 and manifest["format"] == "json"
    for number, path in enumerate(written):
        asn_id, rule, product, size, digest, program = manifest["files"][path.name]
        data = path.read_bytes()
        assert (asn_id, rule, size, digest) == (f"a{3001 + number}", "each", len(data), output.digest(data))
        assert (product, program) == (load_asn(path).product_name, load_asn(path).program)


def test_nothing_is_left_behind_but_the_files_and_the_report(pool, tmp_path):
    out = tmp_path / "out"
    written = _write(pool, out, _pack())
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in written] + ["romanasn-run.json"])


def test_a_second_run_into_a_folder_being_written_is_refused(pool, tmp_path):
    out = tmp_path / "out"
    folder = folder_module.Folder(out).open()
    try:
        with pytest.raises(AsnError, match="another romanasn run is writing"):
            _write(pool, out, _pack())
    finally:
        folder.abort()
    assert not out.exists()


# -- --keep-going -------------------------------------------------------------------------------


def _two_rules(bad_group, fault="invalid"):
    """Rules ``each`` and ``odd``; ``odd`` gives its ``bad_group``-th association an invalid
    target (``fault="invalid"``) or raises there."""
    made = []

    def extras(group, config):
        made.append(group)
        if len(made) == bad_group and fault == "raise":
            raise ValueError("no extras for this one")
        return {"target": 5} if len(made) == bad_group else {}

    select = [isin("exposure_type", "WFI_IMAGE")]
    each = Rule(name="each", asn_type="image2", level=2, select=select, group_by=("filename",),
                product_name=lambda g, c: strip_level(g.key["filename"]))
    odd = Rule(name="odd", asn_type="image2", level=2, select=select, group_by=("filename",),
               product_name=lambda g, c: strip_level(g.key["filename"]) + "_odd", extras=extras)
    module = types.ModuleType("pack")
    module.romanasn_rules = hookimpl(lambda: [each, odd])
    return get_plugin_manager(autoload=False, plugins=[(module, "pack")])


def test_keep_going_takes_back_the_files_a_failing_rule_already_wrote(pool, tmp_path):
    out = tmp_path / "out"
    outcome = output.generate_to(pool, out, plugin_manager=_two_rules(3), config=RunConfig(pool_name="pool"),
                                 keep_going=True)
    [failed] = outcome.result.failed
    assert (failed.rule, failed.plugin) == ("odd", "pack") and "invalid association" in failed.error
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([name[:-len("_cal.asdf")] + "_asn.json" for name in pool["filename"]]
                           + ["romanasn-run.json"])
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["counts"] == {"each": 4}
    assert report["files"] == outcome.files == files[:-1]
    assert sorted(report["manifest"]["files"]) == files[:-1]
    assert report["failed_rules"] == [{"name": "odd", "plugin": "pack", "version": failed.version,
                                       "error": failed.error}]
    assert len(outcome.result.associations) == 4


def test_without_keep_going_the_failing_rule_stops_the_run(pool, tmp_path):
    with pytest.raises(AsnError, match="invalid association"):
        output.generate_to(pool, tmp_path / "out", plugin_manager=_two_rules(3), config=RunConfig())
    assert not (tmp_path / "out").exists()


def test_keep_going_in_memory_leaves_out_the_failing_rule(pool):
    result = generate(pool, plugin_manager=_two_rules(2, "raise"), keep_going=True)
    [failed] = result.failed
    assert failed.rule == "odd" and "ValueError: no extras for this one" in failed.error
    assert result.counts == {"each": 4}
    assert [a.asn_rule for a in result.associations] == ["each"] * 4
    assert [a.asn_id for a in result.associations] == ["a3001", "a3003", "a3005", "a3007"]  # ids as without the failure
    assert result.orphans == ()


def test_keep_going_with_update_and_prune_keeps_the_failing_rules_files(pool, tmp_path):
    out = tmp_path / "out"
    output.generate_to(pool, out, plugin_manager=_two_rules(99), config=RunConfig(pool_name="pool"))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "romanasn-run.json"}
    manifest = json.loads((out / "romanasn-run.json").read_text())["manifest"]["files"]
    outcome = output.generate_to(pool, out, plugin_manager=_two_rules(3), config=RunConfig(pool_name="pool"),
                                 update=True, prune=True, keep_going=True)
    assert [f.rule for f in outcome.result.failed] == ["odd"]
    assert outcome.removed == [] and outcome.stale == [] and len(outcome.unchanged) == 4
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "romanasn-run.json"} == before
    assert json.loads((out / "romanasn-run.json").read_text())["manifest"]["files"] == manifest


def test_a_progress_bar_is_drawn_when_asked(pool, tmp_path, capsys):
    output.generate_to(pool, tmp_path / "out", plugin_manager=_pack(), config=RunConfig(), progress=True)
    err = capsys.readouterr().err
    assert "writing associations [" in err and "4/4 files" in err and err.endswith("\n")
    output.generate_to(pool, tmp_path / "again", plugin_manager=_pack(), config=RunConfig())
    assert capsys.readouterr().err == ""
