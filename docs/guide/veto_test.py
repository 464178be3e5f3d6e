"""The suspect detector is vetoed from imaging mosaics, with the reason recorded."""

from romanasn import generate
from romanasn.testing import exposure_rows, manager_with, pool_table

from romanasn_my_survey import plugin

VISIT = "0000101001001001001"


def test_the_suspect_detector_is_vetoed_with_a_reason():
    rows = exposure_rows(VISIT, 1, detectors=[6, 7])
    result = generate(pool_table(rows), plugin_manager=manager_with((plugin, "romanasn-my-survey")))
    members = {m.expname for a in result.associations for m in a.members}
    assert f"r{VISIT}_0001_wfi06_f158_cal.asdf" in members
    assert not any("_wfi07_" in name for name in members)
    vetoed = {(v.rule, v.filename) for v in result.vetoes}
    assert ("my_survey_detector_stack", f"r{VISIT}_0001_wfi07_f158_uncal.asdf") in vetoed
    assert all("until my-survey has checked it" in v.reason for v in result.vetoes)
    assert result.orphans == (f"r{VISIT}_0001_wfi07_f158_uncal.asdf",)
