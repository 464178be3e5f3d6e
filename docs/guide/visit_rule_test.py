"""The visit stacks: one per visit, detector and filter."""

from romanasn import generate
from romanasn.testing import exposure_rows, manager_with, pool_table

from romanasn_my_survey import plugin

VISIT_1, VISIT_2 = "0000101001001001001", "0000101001001001002"


def members_by_stack(rows):
    """The member lists of the visit stacks made from ``rows``, sorted."""
    result = generate(pool_table(rows), plugin_manager=manager_with((plugin, "romanasn-my-survey")))
    return sorted([m.expname for m in a.members] for a in result.associations
                  if a.asn_rule == "my_survey_visit_stack")


def test_one_stack_per_visit_detector_and_filter():
    rows = (exposure_rows(VISIT_1, 1, detectors=[1]) + exposure_rows(VISIT_1, 2, detectors=[1])
            + exposure_rows(VISIT_1, 3, "WFI_IMAGE", "F087", detectors=[1])
            + exposure_rows(VISIT_2, 1, detectors=[1]))
    assert members_by_stack(rows) == [
        [f"r{VISIT_1}_0001_wfi01_f158_cal.asdf", f"r{VISIT_1}_0002_wfi01_f158_cal.asdf"],
        [f"r{VISIT_1}_0003_wfi01_f087_cal.asdf"],
        [f"r{VISIT_2}_0001_wfi01_f158_cal.asdf"],
    ]
