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

from romanasn import Companion, MemberSpec, Rule, isin
from romanasn.grouping import grouping_rules

ELEMENTS = ("GRISM", "PRISM")

SELECT = [isin("exposure_type", "WFI_SPECTRAL"), isin("optical_element", *ELEMENTS)]

#: The direct images of a spectral exposure: imaging exposures of its visit and detector.
DIRECT_IMAGES = Companion(
    select=[isin("exposure_type", "WFI_IMAGE")],
    on=("visit_id", "detector"),
    member=MemberSpec("direct_image", "cal"),
)


#: ``r<vid>_<eeee>_<det>_<el>``: the exposure file name without level suffix and extension.
EXPOSURE_NAME = "{filename:stem}"


RULES: tuple[Rule, ...] = (
    Rule(
        name="wfi_spec_exposure",
        asn_type="spec2",
        level=2,
        select=SELECT,
        group_by=("filename",),
        member=MemberSpec("science", "uncal"),
        companions=[DIRECT_IMAGES],
        product_name=EXPOSURE_NAME,
        summary="one grism or prism exposure file (one detector), Level 1 member, "
                "with the visit's direct images of that detector",
    ),
    *grouping_rules(
        "wfi_spec", ("visit", "pass", "full"), asn_type="spec3", select=SELECT, by=("optical_element",),
        summary="every grism or prism exposure of one {scope} per optical element, all detectors",
    ),
)
