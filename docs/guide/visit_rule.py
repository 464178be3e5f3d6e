# Add to src/romanasn_my_survey/rules.py (the import goes with the others at the top).
from romanasn import visit_code


def visit_stack_name(group: Group, config: RunConfig) -> str:
    """``r<PPPPP>_<drid>_v<CCAAASSSOOOVVV>_<element>_<detector>``."""
    key = group.key
    return level3_name(key["program"], config.data_release_id, visit_code(key["visit_id"]),
                       key["optical_element"], key["detector"])


VISIT_STACK = Rule(
    name=f"{PREFIX}_visit_stack",
    asn_type="image3",
    level=3,
    select=[isin("exposure_type", "WFI_IMAGE")],
    group_by=("program", "visit_id", "detector", "optical_element"),
    member=MemberSpec(exptype="science", suffix="cal"),
    product_name=visit_stack_name,
    summary="every WFI_IMAGE exposure of one visit, detector and optical element",
)

RULES.append(VISIT_STACK)
