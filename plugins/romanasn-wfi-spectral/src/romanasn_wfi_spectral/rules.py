"""The WFI spectral rules: one exposure with its direct images (Level 2), and combinations.

- ``wfi_spec_exposure`` (``spec2``): one association per grism or prism
  exposure file, its Level 1 file as the science member, plus the Level 2
  files of the WFI_IMAGE exposures of the same visit and detector as
  ``direct_image`` members.
- ``wfi_spec_visit``, ``wfi_spec_pass``, ``wfi_spec_full`` (``spec3``): the
  Level 2 files of every exposure of one visit, one pass or one program, for
  the grism and the prism separately, all detectors.
"""

from __future__ import annotations

from romanasn import Companion, Group, MemberSpec, Rule, RunConfig, isin, strip_level
from romanasn.naming import GROUPING_COLUMNS, grouping_code, level3_name

ELEMENTS = ("GRISM", "PRISM")

SELECT = [isin("exposure_type", "WFI_SPECTRAL"), isin("optical_element", *ELEMENTS)]

#: The direct images of a spectral exposure: imaging exposures of its visit and detector.
DIRECT_IMAGES = Companion(
    select=[isin("exposure_type", "WFI_IMAGE")],
    on=("visit_id", "detector"),
    member=MemberSpec("direct_image", "cal"),
)


def exposure_name(group: Group, config: RunConfig) -> str:
    """``r<vid>_<eeee>_<det>_<el>``: the exposure file name without level suffix and extension."""
    return strip_level(group.key["filename"])


def level3_rules(prefix: str, asn_type: str, select: list, what: str) -> list[Rule]:
    """The visit, pass and full-program rules of one kind of exposure.

    Each groups the selected rows by the grouping's columns
    (:data:`romanasn.naming.GROUPING_COLUMNS`) and the optical element; members
    are Level 2 (``_cal``) files; products are named
    ``r<PPPPP>_<drid>_<grouping>_<el>``.
    """
    rules = []
    for grouping, scope in (("visit", "visit"), ("pass", "pass"), ("full", "program")):

        def product_name(group: Group, config: RunConfig, grouping: str = grouping) -> str:
            key = group.key
            code = grouping_code(grouping, key)
            return level3_name(key["program"], config.data_release_id, code, key["optical_element"])

        rules.append(Rule(
            name=f"{prefix}_{grouping}",
            asn_type=asn_type,
            level=3,
            select=select,
            group_by=GROUPING_COLUMNS[grouping] + ("optical_element",),
            member=MemberSpec("science", "cal"),
            product_name=product_name,
            summary=f"every {what} exposure of one {scope} per optical element, all detectors",
        ))
    return rules


RULES: tuple[Rule, ...] = (
    Rule(
        name="wfi_spec_exposure",
        asn_type="spec2",
        level=2,
        select=SELECT,
        group_by=("filename",),
        member=MemberSpec("science", "uncal"),
        companions=[DIRECT_IMAGES],
        product_name=exposure_name,
        summary="one grism or prism exposure file (one detector), Level 1 member, "
                "with the visit's direct images of that detector",
    ),
    *level3_rules("wfi_spec", "spec3", SELECT, "grism or prism"),
)
