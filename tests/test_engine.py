"""The engine: selection, grouping, companions, vetoes, naming, ids and determinism."""

import logging
import types

import numpy as np
import pytest
from astropy.table import Table

from romanasn import (
    Companion,
    Constraint,
    MemberSpec,
    PluginError,
    Rule,
    RuleError,
    RunConfig,
    generate,
    hookimpl,
    isin,
    strip_level,
)
from romanasn.naming import focal_plane_name
from romanasn.plugins.manager import get_plugin_manager

VISIT = "0000101001001001001"


def _exposure_rows(exposure, detectors, exposure_type="WFI_IMAGE", element="F158", visit=VISIT, **extra):
    rows = []
    for det in detectors:
        rows.append({
            "filename": f"r{visit}_{exposure:04d}_wfi{det:02d}_{element.lower()}_uncal.asdf",
            "program": int(visit[:5]),
            "visit_id": visit,
            "observation_id": f"{visit}01101{exposure:04d}",
            "exposure_type": exposure_type,
            "detector": f"WFI{det:02d}",
            "optical_element": element,
            "exposerr": "",
            **extra,
        })
    return rows


def _pool(*row_lists):
    rows = [row for rows in row_lists for row in rows]
    return Table(rows=[tuple(r.values()) for r in rows], names=list(rows[0]))


@pytest.fixture
def pool():
    return _pool(
        _exposure_rows(1, [1, 2, 3]),
        _exposure_rows(2, [1, 2, 3]),
        _exposure_rows(3, [1, 2], exposure_type="WFI_SPECTRAL", element="GRISM"),
    )


def _pack(*rules, **hooks):
    module = types.ModuleType("pack")
    module.romanasn_rules = hookimpl(lambda: list(rules))
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def _run(pool, *packs, **kwargs):
    plugins = [(pack, f"pack-{i}") for i, pack in enumerate(packs)]
    pm = get_plugin_manager(autoload=False, plugins=plugins)
    return generate(pool, plugin_manager=pm, **kwargs)


def _fov():
    return Rule(
        name="fov", asn_type="fov", level=2, select=[isin("exposure_type", "WFI_IMAGE")],
        group_by=("observation_id",), member=MemberSpec(suffix="cal"),
        product_name=lambda g, c: focal_plane_name(g.first("filename")),
    )


def _exposure():
    return Rule(
        name="exposure", asn_type="image2", level=2, select=[isin("exposure_type", "WFI_IMAGE")],
        group_by=("filename",), product_name=lambda g, c: strip_level(g.key["filename"]),
    )


def test_rows_group_by_their_keys_with_members_renamed_for_the_level(pool):
    result = _run(pool, _pack(_fov()))
    assert [a.product_name for a in result.associations] == [
        f"r{VISIT}_0001_wfi_f158", f"r{VISIT}_0002_wfi_f158"]
    members = [m.expname for m in result.associations[0].members]
    assert members == [f"r{VISIT}_0001_wfi{d:02d}_f158_cal.asdf" for d in (1, 2, 3)]
    first = result.associations[0]
    assert (first.asn_type, first.asn_rule, first.program) == ("fov", "fov", "00001")
    assert first.provenance.plugin == "pack-0"


def test_ids_run_from_a3001_in_product_name_order_and_stems_follow(pool):
    result = _run(pool, _pack(_fov(), _exposure()))
    names = [a.product_name for a in result.associations]
    assert names == sorted(names)
    assert [a.asn_id for a in result.associations] == [f"a{3001 + i}" for i in range(len(names))]
    assert result.file_stems == tuple(f"{n}_asn" for n in names)
    assert result.counts == {"exposure": 6, "fov": 2}


def test_rows_no_rule_takes_are_orphans(pool):
    result = _run(pool, _pack(_fov()))
    assert result.orphans == (f"r{VISIT}_0003_wfi01_grism_uncal.asdf", f"r{VISIT}_0003_wfi02_grism_uncal.asdf")


def test_output_does_not_depend_on_row_order(pool):
    shuffled = pool[np.random.default_rng(7).permutation(len(pool))]
    assert _run(pool, _pack(_fov(), _exposure())).associations == \
        _run(shuffled, _pack(_fov(), _exposure())).associations


def test_a_row_may_join_several_associations_through_a_key_function(pool):
    def two_keys(table, rows, config):
        for i in rows:
            yield int(i), ("north",)
            yield int(i), ("south",)

    rule = Rule(name="cells", asn_type="image", level=3, select=[isin("exposure_type", "WFI_IMAGE")],
                group_by=("cell",), keys=two_keys, product_name=lambda g, c: f"cell_{g.key['cell']}")
    result = _run(pool, _pack(rule))
    assert [a.product_name for a in result.associations] == ["cell_north", "cell_south"]
    assert all(len(a.members) == 6 for a in result.associations)


def test_companions_join_rows_sharing_values(pool):
    rule = Rule(
        name="spec", asn_type="spec2", level=2, select=[isin("exposure_type", "WFI_SPECTRAL")],
        group_by=("filename",), member=MemberSpec(suffix="uncal"),
        companions=[Companion(select=[isin("exposure_type", "WFI_IMAGE")], on=("visit_id", "detector"),
                              member=MemberSpec("direct_image", "cal"))],
        product_name=lambda g, c: strip_level(g.key["filename"]),
    )
    first = _run(pool, _pack(rule)).associations[0]
    assert [(m.expname, m.exptype) for m in first.members] == [
        (f"r{VISIT}_0003_wfi01_grism_uncal.asdf", "science"),
        (f"r{VISIT}_0001_wfi01_f158_cal.asdf", "direct_image"),
        (f"r{VISIT}_0002_wfi01_f158_cal.asdf", "direct_image"),
    ]


def test_another_pack_can_veto_members_with_a_recorded_reason(pool):
    pool["exposerr"] = pool["exposerr"].astype("U20")
    pool["exposerr"][1] = "GUIDING_LOST"
    veto = Constraint("not degraded", lambda t: np.asarray(t["exposerr"]) == "", reason="degraded exposure")
    vetoer = types.ModuleType("vetoer")
    vetoer.romanasn_match_constraints = hookimpl(lambda rule: [veto])
    result = _run(pool, _pack(_fov()), vetoer)
    assert len(result.associations[0].members) == 2
    assert [(v.rule, v.filename, v.reason, v.plugin) for v in result.vetoes] == [
        ("fov", f"r{VISIT}_0001_wfi02_f158_uncal.asdf", "degraded exposure", "pack-1 unknown")]


def test_degraded_members_stay_flagged_and_change_the_status(pool):
    pool["exposerr"] = pool["exposerr"].astype("U20")
    pool["exposerr"][1] = "GUIDING_LOST"
    first = _run(pool, _pack(_fov())).associations[0]
    assert [m.exposerr for m in first.members] == [None, "exposerr: GUIDING_LOST", None]
    assert "degraded" in first.degraded_status
    assert "No known degraded" in _run(pool, _pack(_fov())).associations[1].degraded_status


def test_a_pack_can_rename_the_products_of_its_own_rules(pool):
    renamer = types.ModuleType("renamer")
    renamer.romanasn_product_names = hookimpl(
        lambda rule, groups: [f"custom_{i}" for i in range(len(groups))] if rule.name == "fov" else None)
    result = _run(pool, _pack(_fov(), _exposure()), renamer)
    names = {a.product_name for a in result.associations}
    assert {"custom_0", "custom_1"} <= names and len(names) == 8


def test_rules_needing_a_missing_option_are_skipped_with_one_debug_line(pool, caplog):
    needy = [Rule(name=f"sky_{i}", asn_type="image", level=3, group_by=("program",), needs=("skymap",),
                  product_name=lambda g, c, i=i: f"x{i}") for i in range(2)]
    with caplog.at_level(logging.DEBUG):
        result = _run(pool, _pack(_fov(), *needy))
    assert [s.rule for s in result.skipped] == ["sky_0", "sky_1"]
    said = [r for r in caplog.records if "skymap" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.DEBUG  # the summary says it
    assert result.counts == {"fov": 2}
    ran = _run(pool, _pack(*needy), config=RunConfig(options={"skymap": "map.asdf"}))
    assert ran.counts == {"sky_0": 1, "sky_1": 1}


def test_rules_can_be_chosen_and_unknown_names_are_refused(pool):
    assert _run(pool, _pack(_fov(), _exposure()), rules=["fov"]).counts == {"fov": 2}
    assert _run(pool, _pack(_fov(), _exposure()), skip_rules=["fov"]).counts == {"exposure": 6}
    with pytest.raises(RuleError, match="unknown rule.*nope.*installed rules: exposure, fov"):
        _run(pool, _pack(_fov(), _exposure()), rules=["nope"])


def test_two_associations_with_one_file_name_name_both_rules(pool):
    clash = Rule(name="clash", asn_type="fov", level=2, group_by=("observation_id",),
                 select=[isin("exposure_type", "WFI_IMAGE")],
                 product_name=lambda g, c: focal_plane_name(g.first("filename")))
    with pytest.raises(RuleError, match="rule 'clash' of plugin pack-1 unknown and rule 'fov' of plugin pack-0"):
        _run(pool, _pack(_fov()), _pack(clash))


def test_an_exception_in_a_rule_names_the_rule_and_its_plugin(pool):
    broken = Rule(name="broken", asn_type="x", level=2, group_by=("filename",),
                  product_name=lambda g, c: 1 / 0)
    with pytest.raises(PluginError, match="rule 'broken' of plugin pack-0 unknown failed: ZeroDivisionError"):
        _run(pool, _pack(broken))


@pytest.mark.parametrize("name", ["../up", "a/b", "bad\x07name", ""])
def test_unsafe_product_names_are_refused(pool, name):
    rule = Rule(name="evil", asn_type="x", level=2, group_by=("filename",), product_name=lambda g, c: name)
    with pytest.raises((RuleError, PluginError), match="evil"):
        _run(pool, _pack(rule))


def test_config_values_reach_the_associations(pool):
    config = RunConfig(data_release_id="dr01", version_id="v7", pool_name="mypool")
    first = _run(pool, _pack(_fov()), config=config).associations[0]
    assert (first.data_release_id, first.version_id, first.asn_pool) == ("dr01", "v7", "mypool")


def test_constraints_other_packs_add_also_filter_companions(pool):
    pool["exposerr"] = pool["exposerr"].astype("U20")
    pool["exposerr"][0] = "GUIDING_LOST"  # exposure 1, detector 1: a direct image
    rule = Rule(
        name="spec", asn_type="spec2", level=2, select=[isin("exposure_type", "WFI_SPECTRAL")],
        group_by=("filename",),
        companions=[Companion(select=[isin("exposure_type", "WFI_IMAGE")], on=("visit_id", "detector"),
                              member=MemberSpec("direct_image", "cal"))],
        product_name=lambda g, c: strip_level(g.key["filename"]),
    )
    veto = Constraint("clean", lambda t: np.asarray(t["exposerr"]) == "", reason="degraded")
    vetoer = types.ModuleType("vetoer")
    vetoer.romanasn_match_constraints = hookimpl(lambda rule: [veto])
    first = _run(pool, _pack(rule), vetoer).associations[0]
    assert [m.expname for m in first.members if m.exptype == "direct_image"] == [
        f"r{VISIT}_0002_wfi01_f158_cal.asdf"]


def test_a_rule_grouping_by_a_missing_column_is_named(pool):
    rule = Rule(name="needs_ma", asn_type="dark", level=1, group_by=("ma_table_name",),
                product_name=lambda g, c: "x")
    with pytest.raises(RuleError, match="rule 'needs_ma' of plugin pack-0 unknown needs the pool column.*ma_table_name"):
        _run(pool, _pack(rule))


def test_a_constraint_is_evaluated_once_per_run(pool):
    calls = []

    def counted(table):
        calls.append(1)
        return np.ones(len(table), dtype=bool)

    shared = Constraint("counted", counted)
    vetoer = types.ModuleType("vetoer")
    vetoer.romanasn_match_constraints = hookimpl(lambda rule: [shared])
    _run(pool, _pack(_fov(), _exposure()), vetoer)
    assert len(calls) == 1


def test_a_pool_without_rows_makes_nothing_in_any_shipped_rule(tmp_path):
    """A table without rows (what a database gives of a program whose rows all went) through the
    rules of every installed pack, to a folder: its text columns stay text for the rules' member
    lists (Arrow would type an empty column of Python strings as null), and nothing is made."""
    from pathlib import Path

    from romanasn import read_pool
    from romanasn.output import generate_to

    table = read_pool(Path(__file__).parent / "data" / "pool_canonical.ecsv")
    pm, config = get_plugin_manager(), RunConfig()
    assert generate_to(table, tmp_path / "all", plugin_manager=pm, config=config).files
    outcome = generate_to(table[:0], tmp_path / "none", plugin_manager=pm, config=config)
    assert outcome.files == [] and not list((tmp_path / "none").glob("*_asn.json"))
