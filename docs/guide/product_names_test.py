"""The visit stacks carry the archive's tag; the detector stacks keep the rule's names."""

from romanasn import generate
from romanasn.testing import exposure_rows, manager_with, pool_table

from romanasn_my_survey import plugin


def test_visit_stacks_are_tagged():
    rows = exposure_rows("0000101001001001001", 1, detectors=[2])
    result = generate(pool_table(rows), plugin_manager=manager_with((plugin, "romanasn-my-survey")))
    names = {a.asn_rule: a.product_name for a in result.associations}
    assert names == {
        "my_survey_visit_stack": "r00001_p_v01001001001001_f158_wfi02_vstack",
        "my_survey_detector_stack": "r00001_p_full_f158_wfi02",
    }
    stems = {a.asn_rule: stem for a, stem in zip(result.associations, result.file_stems)}
    assert stems["my_survey_visit_stack"] == "r00001_p_v01001001001001_f158_wfi02_vstack_my_survey_asn"
