"""romanasn.grouping.grouping_rules: the Level 3 rules of a set of groupings."""

from types import SimpleNamespace

import pytest

from romanasn import Companion, Constraint, Group, MemberSpec, RunConfig, generate, hookimpl, isin
from romanasn.grouping import GROUPING_SCOPES, grouping_rules
from romanasn.naming import GROUPING_COLUMNS
from romanasn.plugins.defaults import romanasn_product_names
from romanasn.testing import exposure_rows, manager_with, pool_table

KEY = {"program": 3, "execution_plan": 1, "pass": 2, "segment": 4, "visit_id": "0000301002004005006",
       "optical_element": "F158", "detector": "WFI07"}
SELECT = [isin("exposure_type", "SOME_TYPE")]


def rules(groupings=("visit", "pass", "daily", "full"), **kwargs):
    kwargs = {"asn_type": "thing3", "select": SELECT, "by": ("optical_element",),
              "summary": "all of one {scope}", **kwargs}
    return grouping_rules("some", groupings, **kwargs)


def name(rule, key=KEY, drid="p"):
    """The product name of a group of ``key`` (the rule's template, as the kernel computes it)."""
    group = Group(rule=rule, key=key, rows=(0,), view=None)
    return romanasn_product_names(rule, [group], RunConfig(data_release_id=drid))[0]


def test_one_level3_rule_a_grouping_in_the_order_given():
    made = rules(("full", "visit"))
    assert [r.name for r in made] == ["some_full", "some_visit"]
    assert {(r.asn_type, r.level) for r in made} == {("thing3", 3)}
    assert all(r.select == tuple(SELECT) for r in made)


def test_rules_group_by_the_grouping_columns_and_then_by():
    made = rules(by=("optical_element", "detector"))
    for rule, grouping in zip(made, ("visit", "pass", "daily", "full")):
        assert rule.group_by == GROUPING_COLUMNS[grouping] + ("optical_element", "detector")


def test_products_are_named_by_program_drid_grouping_code_and_by_values():
    visit, pass_, daily, full = rules()
    assert name(visit) == "r00003_p_v01002004005006_f158"
    assert name(pass_, drid="dr01") == "r00003_dr01_p01002_f158"
    assert name(daily) == "r00003_p_d01002004_f158"
    assert name(full) == "r00003_p_full_f158"
    (two,) = rules(("pass",), by=("optical_element", "detector"))
    assert name(two) == "r00003_p_p01002_f158_wfi07"
    (bare,) = rules(("full",), by=())
    assert name(bare) == "r00003_p_full"


def test_summary_scope_is_the_groupings_words():
    assert [r.summary for r in rules()] == [f"all of one {GROUPING_SCOPES[g]}" for g in
                                            ("visit", "pass", "daily", "full")]
    assert GROUPING_SCOPES["full"] == "program"
    assert set(GROUPING_SCOPES) == set(GROUPING_COLUMNS)


def test_members_default_to_level2_science_files_and_fields_pass_through():
    (plain,) = rules(("visit",))
    assert plain.member == MemberSpec("science", "cal")
    veto = Constraint("always", lambda table: None, "never")
    companion = Companion(select=SELECT, on=("visit_id",))
    (rule,) = rules(("visit",), member=MemberSpec("science", "i2d"), constraints=[veto],
                    companions=[companion], needs=("thing",))
    assert rule.member == MemberSpec("science", "i2d")
    assert (rule.constraints, rule.companions, rule.needs) == ((veto,), (companion,), ("thing",))


@pytest.mark.parametrize("groupings", [("visit", "weekly"), ("pass", "pass")])
def test_unknown_or_repeated_groupings_are_refused(groupings):
    with pytest.raises(ValueError, match="weekly|twice"):
        rules(groupings)


def pack_of(made):
    """A pack (an object with a ``romanasn_rules`` hook implementation) of the rules ``made``."""

    @hookimpl
    def romanasn_rules():
        return list(made)

    return SimpleNamespace(romanasn_rules=romanasn_rules)


def test_the_rules_run_as_a_pack():
    visit = "0000101001001001001"
    other = "0000101001001001002"
    rows = (exposure_rows(visit, 1, "SOME_TYPE", "F158", detectors=[1, 2])
            + exposure_rows(visit, 2, "SOME_TYPE", "F087", detectors=[1])
            + exposure_rows(other, 1, "SOME_TYPE", "F158", detectors=[1])
            + exposure_rows(other, 2, "OTHER_TYPE", "F158", detectors=[1]))
    made = rules(("visit", "full"))
    result = generate(pool_table(rows), plugin_manager=manager_with((pack_of(made), "some-pack")))
    products = {a.product_name: sorted(m.expname for m in a.members) for a in result.associations}
    assert products == {
        "r00001_p_v01001001001001_f158": [f"r{visit}_0001_wfi0{d}_f158_cal.asdf" for d in (1, 2)],
        "r00001_p_v01001001001001_f087": [f"r{visit}_0002_wfi01_f087_cal.asdf"],
        "r00001_p_v01001001001002_f158": [f"r{other}_0001_wfi01_f158_cal.asdf"],
        "r00001_p_full_f158": sorted([f"r{visit}_0001_wfi0{d}_f158_cal.asdf" for d in (1, 2)]
                                     + [f"r{other}_0001_wfi01_f158_cal.asdf"]),
        "r00001_p_full_f087": [f"r{visit}_0002_wfi01_f087_cal.asdf"],
    }
