"""The columnar lane writes exactly what the object lane writes.

The engine plans and writes associations as columns (:mod:`romanasn.lane`),
except those of the rules that packs' build, file-stem or finalize hooks
serve (``romanasn_hook_scope``; every rule for a pack that does not say, even
one that always answers None): those, or every rule with
``ROMANASN_LANE=object``, go through the hooks, an association record at a
time. Both must give the same files, byte for byte, and the same
associations, ids, stems, vetoes, orphans and counts.
"""

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from attrs import evolve

from romanasn import RuleError, RunConfig, engine, get_plugin_manager, hookimpl, products, read_pool
from romanasn.diff import diff_dirs
from romanasn.encoder import Encoder
from romanasn.output import generate_to

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mission_pool import mission_pool  # noqa: E402

PACKS = ["romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration"]


def _managers():
    fast = get_plugin_manager(allow=PACKS)
    passive = types.ModuleType("passive")
    passive.romanasn_build_associations = hookimpl(lambda rule: None)
    passive.romanasn_file_stem = hookimpl(lambda association: None)
    hooked = get_plugin_manager(allow=PACKS, plugins=[(passive, "passive")])
    return fast, hooked


def _same(a: engine.Result, b: engine.Result) -> None:
    assert tuple(a.associations) == tuple(b.associations)
    assert tuple(a.file_stems) == tuple(b.file_stems)
    assert a.vetoes == b.vetoes and a.orphans == b.orphans and a.counts == b.counts


@pytest.mark.parametrize("options", [{}, {"drop_degraded": True}])
def test_the_fast_lane_builds_what_the_hooks_build(options):
    fast, hooked = _managers()
    assert not engine.Hooks(fast, fast.rules()).objects
    assert engine.Hooks(hooked, hooked.rules()).objects == {entry.name for entry in hooked.rules()}  # unscoped
    pools = [read_pool(ROOT / "examples" / "pool.ecsv", columns=[f.item for f in fast.pool_columns()]),
             mission_pool(3000)]
    for pool in pools:
        config = RunConfig(pool_name="pool", version_id="v1", options=options)
        _same(engine.generate(pool, plugin_manager=fast, config=config),
              engine.generate(pool, plugin_manager=hooked, config=config))


def test_streaming_builds_every_association_once_with_its_id_and_stem():
    fast, _ = _managers()
    pool = mission_pool(2000)
    run = engine.plan(pool, plugin_manager=fast)
    streamed = list(run.stream(block=7))
    assert sorted(number for number, _, _ in streamed) == list(range(3001, 3001 + run.total))
    result = run.result()
    by_id = {a.asn_id: a for a in result.associations}
    for number, association, stem in streamed:
        assert by_id[f"a{number}"] == association and stem == f"{association.product_name}_asn"
    assert run.association(5) == result.associations[5]


def test_known_ids_are_kept_and_new_ones_follow():
    fast, _ = _managers()
    pool = mission_pool(500)
    first = engine.generate(pool, plugin_manager=fast)
    known = {(a.asn_rule, a.product_name): a.asn_id for a in first.associations[::2]}
    run = engine.plan(pool, plugin_manager=fast, existing_ids=known)
    again = run.result()
    for association in again.associations:
        key = (association.asn_rule, association.product_name)
        if key in known:
            assert association.asn_id == known[key]
    new = sorted(int(a.asn_id[1:]) for a in again.associations if (a.asn_rule, a.product_name) not in known)
    start = max(int(v[1:]) for v in known.values()) + 1
    assert new == list(range(start, start + len(new)))


def test_degraded_reasons_are_read_as_text():
    table = Table({
        "exposerr": ["", "NULL", " ok ", "GUIDING_LOST", "", "x"],
        "data_problem": ["false", "TRUE", "0", "", "no", "1"],
        "engineering_quality": ["OK", "SUSPECT", "", "ok", "BAD", "OK"],
    })
    assert products.degraded_reasons(table) == [
        None, "data_problem: TRUE; engineering_quality: SUSPECT", None, "exposerr: GUIDING_LOST",
        "engineering_quality: BAD", "exposerr: x; data_problem: 1"]
    masked = Table({"data_problem": np.ma.MaskedArray([1, 0, 1], mask=[False, False, True])})
    assert products.degraded_reasons(masked) == ["data_problem: 1", None, None]


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def _encoded(blocks) -> dict[str, bytes]:
    """Each file's bytes by stem, from the columnar lane's blocks."""
    return {stem: bytes(data) for block in blocks for stem, data in zip(block.stems.to_pylist(), block.data())}


@pytest.mark.parametrize("options", [{}, {"drop_degraded": True}])
def test_the_columnar_lane_writes_what_the_object_lane_writes(tmp_path, monkeypatch, options):
    fast, _ = _managers()
    pool = read_pool(ROOT / "examples" / "pool.ecsv", columns=[f.item for f in fast.pool_columns()])
    config = RunConfig(pool_name="pool", version_id="v1", options=options)
    for lane in ("columns", "object"):
        monkeypatch.setenv(engine.LANE_ENV, lane)
        assert bool(engine.Hooks(fast, fast.rules()).objects) == (lane == "object")
        generate_to(pool, tmp_path / lane, plugin_manager=fast, config=config, member_dir=tmp_path)
    found = diff_dirs(tmp_path / "columns", tmp_path / "object", all_fields=True)
    assert not (found.added or found.removed or found.changed) and found.same > 300
    assert _files(tmp_path / "columns") == _files(tmp_path / "object")  # the run report too


def test_an_unknown_lane_is_a_usage_error(monkeypatch):
    monkeypatch.setenv(engine.LANE_ENV, "rows")
    with pytest.raises(Exception, match="ROMANASN_LANE='rows': use columns"):
        engine.Hooks(_managers()[0], ())


@pytest.mark.slow
def test_the_lanes_make_the_same_files_of_a_large_pool(monkeypatch):
    """100,000 rows: every file's name and bytes, in memory (what ``romanasn diff`` compares and more)."""
    fast, _ = _managers()
    pool = mission_pool(100_000)
    columns = _encoded(engine.plan(pool, plugin_manager=fast).encoded())
    monkeypatch.setenv(engine.LANE_ENV, "object")
    run = engine.plan(pool, plugin_manager=fast)
    encoder = Encoder()
    assert len(columns) == run.total > 100_000
    for _, association, stem in run.stream():
        assert columns.pop(stem) == encoder.encode(association, stem)
    assert not columns


def test_a_plan_streamed_with_release_lets_its_groups_go():
    fast, _ = _managers()
    run = engine.plan(mission_pool(400), plugin_manager=fast)
    total = run.total
    assert sum(1 for _ in run.stream(release=True)) == total
    assert all(not len(p.groups) for p in run.plans)
    assert sum(run.counts().values()) == total and len(run.file_stems()) == total  # still summarised
    with pytest.raises(Exception, match="let its groups go"):
        run.association(0)


def test_the_lanes_agree_on_extras_companions_odd_names_and_candidates(monkeypatch):
    """A rule with extras, a function naming its products, companions overlapping its own rows,
    ``asn_candidate`` cells, degraded rows and file names JSON must escape or that lack a level."""
    from romanasn import Companion, MemberSpec, Rule, isin
    from romanasn.testing import exposure_rows, manager_with, pool_table

    rows = exposure_rows("0000101001001001001", 1, detectors=[1, 2], engineering_quality="SUSPECT",
                         asn_candidate="('o001', 'observation')")
    rows += exposure_rows("0000101001001001001", 2, detectors=[1, 2, 3], suffix="cal", asn_candidate="")
    rows += exposure_rows("0000202001001001001", 1, "WFI_SPECTRAL", "GRISM", detectors=[1], exposerr="LOST")
    rows[0]["filename"] = 'r0000101001001001001_0001_wfi01_"quoted"_uncal.asdf'
    rows[1]["filename"] = "r0000101001001001001_0001_wfi02_f158_é_uncal.asdf"
    rows[2]["filename"] = "no_level_suffix"

    def named(group, config):
        return f"r{group.key['program']:05d}_{config.data_release_id}_odd_{group.key['visit_id'][-3:]}"

    rule = Rule(name="odd_visit", asn_type="image3", level=3, select=[isin("program", 1, 2)],
                group_by=("program", "visit_id"), product_name=named, member=MemberSpec("science", "cal"),
                companions=[Companion(select=[isin("exposure_type", "WFI_IMAGE")], on=("visit_id",),
                                      member=MemberSpec("background", None))],
                extras=lambda group, config: {"target": f"t{len(group.rows)}", "psf_match_reference_filter": "F158"})
    pack = types.ModuleType("odd")
    pack.romanasn_rules = hookimpl(lambda: [rule])
    pm = manager_with((pack, "odd"))
    pool = pool_table(rows)
    columns = _encoded(engine.plan(pool, plugin_manager=pm).encoded("../x"))
    monkeypatch.setenv(engine.LANE_ENV, "object")
    run = engine.plan(pool, plugin_manager=pm)
    assert sorted(columns) == sorted(run.file_stems()) and len(columns) == 2
    for _, association, stem in run.stream():
        assert columns[stem] == Encoder(member_prefix="../x").encode(association, stem)


def _scoped(seen: list):
    """A pack whose hooks serve wfi_image_visit alone: it writes that rule's associations to files of
    its own and notes the rules of those its finalize hook is given."""
    pack = types.ModuleType("scoped")
    pack.romanasn_hook_scope = hookimpl(lambda: ["wfi_image_visit"])
    pack.romanasn_file_stem = hookimpl(lambda association: f"{association.product_name}_visit_asn")
    pack.romanasn_finalize = hookimpl(lambda associations: seen.extend({a.asn_rule for a in associations}))
    return pack


def test_a_scoped_pack_sends_its_rules_alone_through_the_object_lane(tmp_path, monkeypatch):
    """Its rule takes the object lane, the others the columnar lane; the files are those the run
    without the pack writes (the scoped rule's under the pack's names), in either lane."""
    seen = []
    pm = get_plugin_manager(allow=PACKS, plugins=[(_scoped(seen), "scoped")])
    assert engine.Hooks(pm, pm.rules()).objects == {"wfi_image_visit"}
    pool, config = mission_pool(3000), RunConfig(pool_name="pool", version_id="v1")
    generate_to(pool, tmp_path / "plain", plugin_manager=_managers()[0], config=config)
    for lane in ("columns", "object"):
        monkeypatch.setenv(engine.LANE_ENV, lane)
        generate_to(pool, tmp_path / lane, plugin_manager=pm, config=config)
    assert seen == ["wfi_image_visit", "wfi_image_visit"]
    mixed, plain = _files(tmp_path / "columns"), _files(tmp_path / "plain")
    assert mixed == _files(tmp_path / "object")
    renamed = {name.replace("_visit_asn", "_asn"): data for name, data in mixed.items()}
    assert sum(name.endswith("_visit_asn.json") for name in mixed) > 10 and len(renamed) == len(mixed)
    del renamed["romanasn-run.json"], plain["romanasn-run.json"]
    assert renamed == plain


def test_the_skycell_pack_sends_its_multiband_rule_alone_through_the_object_lane(tmp_path, monkeypatch):
    """The real pack on the example pool and sky map: the same files in either lane."""
    pm = get_plugin_manager(allow=PACKS + ["romanasn-skycell"])
    assert engine.Hooks(pm, pm.rules()).objects == {"skycell_multiband"}
    pool = read_pool(ROOT / "examples" / "pool.ecsv", columns=[f.item for f in pm.pool_columns()])
    config = RunConfig(pool_name="pool.ecsv", options={"skymap": str(ROOT / "examples" / "skymap.asdf")})
    for lane in ("columns", "object"):
        monkeypatch.setenv(engine.LANE_ENV, lane)
        outcome = generate_to(pool, tmp_path / lane, plugin_manager=pm, config=config)
    assert outcome.result.counts["skycell_multiband"] > 100 and outcome.result.counts["skycell_visit"] > 100
    assert _files(tmp_path / "columns") == _files(tmp_path / "object")


def test_an_object_lane_file_name_taken_in_the_columnar_lane_is_refused():
    stems = iter(["r00001_p_full_f062_asn"])  # a wfi_image_full file's name, for the first visit association
    pack = types.ModuleType("clash")
    pack.romanasn_hook_scope = hookimpl(lambda: ["wfi_image_visit"])
    pack.romanasn_file_stem = hookimpl(lambda association: next(stems, None))
    pm = get_plugin_manager(allow=PACKS, plugins=[(pack, "clash")])
    with pytest.raises(RuleError, match="^two associations would be written to 'r00001_p_full_f062_asn': rule "
                                        "'wfi_image_full' of plugin romanasn-wfi-imaging .* and rule 'wfi_image_visit'"):
        engine.plan(mission_pool(500), plugin_manager=pm)


def test_a_product_name_two_columnar_rules_make_is_refused():
    from romanasn_wfi_imaging.rules import RULES

    full = next(rule for rule in RULES if rule.name == "wfi_image_full")
    pack = types.ModuleType("twin")
    pack.romanasn_rules = hookimpl(lambda: [evolve(full, name="wfi_image_twin")])
    pm = get_plugin_manager(allow=PACKS, plugins=[(pack, "twin")])
    with pytest.raises(RuleError, match="^two associations would be written to 'r00001_p_full_f062_asn': rule "
                                        "'wfi_image_full' of plugin romanasn-wfi-imaging .* and rule 'wfi_image_twin'"):
        engine.plan(mission_pool(500), plugin_manager=pm)


def test_the_lanes_agree_when_every_file_name_shares_its_level_ending(monkeypatch):
    """Member names and ``{filename:stem}`` sliced off the ending every name shares, stems with
    dots and underscores of their own, members at two levels (a rule and its companion)."""
    from romanasn.testing import exposure_rows, manager_with, pool_table
    from romanasn_wfi_spectral.rules import RULES

    rows = exposure_rows("0000101001001001001", 1, detectors=[1, 2])
    rows += exposure_rows("0000101001001001001", 2, "WFI_SPECTRAL", "GRISM", detectors=[1, 2])
    rows[0]["filename"] = "r0000101001001001001_0001_wfi01_f1.5_x_cal.asdf_uncal.asdf"
    rows[2]["filename"] = "r0000101001001001001_0002_wfi01_grism_v.2_uncal.asdf"
    pack = types.ModuleType("spec")
    pack.romanasn_rules = hookimpl(lambda: [rule for rule in RULES if rule.name == "wfi_spec_exposure"])
    pm = manager_with((pack, "spec"))
    pool = pool_table(rows)
    columns = _encoded(engine.plan(pool, plugin_manager=pm).encoded())
    monkeypatch.setenv(engine.LANE_ENV, "object")
    run = engine.plan(pool, plugin_manager=pm)
    assert sorted(columns) == sorted(run.file_stems()) == ["r0000101001001001001_0002_wfi01_grism_v.2_asn",
                                                           "r0000101001001001001_0002_wfi02_grism_asn"]
    for _, association, stem in run.stream():
        assert columns[stem] == Encoder().encode(association, stem)
    first = columns["r0000101001001001001_0002_wfi01_grism_v.2_asn"]
    assert b'"r0000101001001001001_0001_wfi01_f1.5_x_cal.asdf_cal.asdf"' in first
    assert b'"r0000101001001001001_0002_wfi01_grism_v.2_uncal.asdf"' in first
