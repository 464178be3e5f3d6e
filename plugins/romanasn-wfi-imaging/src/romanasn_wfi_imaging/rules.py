"""The WFI imaging rules: one exposure (Level 2), one exposure of all detectors, and mosaics.

- ``wfi_image_exposure`` (``image2``): one association per exposure file, its
  Level 1 file as the science member.
- ``wfi_image_fov`` (``fov``): the Level 2 files of all detectors of one
  exposure (one ``observation_id``).
- ``wfi_image_visit``, ``wfi_image_pass``, ``wfi_image_full`` (``image3``):
  the Level 2 files of every exposure of one visit, one pass or one program,
  per optical element, all detectors.
"""

from __future__ import annotations

from romanasn import Group, MemberSpec, Rule, RunConfig, isin
from romanasn.grouping import grouping_rules
from romanasn.naming import focal_plane_name

EXPOSURE_TYPE = "WFI_IMAGE"


#: ``r<vid>_<eeee>_<det>_<el>``: the exposure file name without level suffix and extension.
EXPOSURE_NAME = "{filename:stem}"


def fov_name(group: Group, config: RunConfig) -> str:
    """``r<vid>_<eeee>_wfi_<el>``: a detector file's name with the detector made ``wfi``."""
    return focal_plane_name(group.first("filename"))


SELECT = [isin("exposure_type", EXPOSURE_TYPE)]

RULES: tuple[Rule, ...] = (
    Rule(
        name="wfi_image_exposure",
        asn_type="image2",
        level=2,
        select=SELECT,
        group_by=("filename",),
        member=MemberSpec("science", "uncal"),
        product_name=EXPOSURE_NAME,
        summary="one WFI_IMAGE exposure file (one detector), Level 1 member",
    ),
    Rule(
        name="wfi_image_fov",
        asn_type="fov",
        level=2,
        select=SELECT,
        group_by=("observation_id",),
        member=MemberSpec("science", "cal"),
        product_name=fov_name,
        summary="the detector files of one WFI_IMAGE exposure (up to 18), Level 2 members",
    ),
    *grouping_rules(
        "wfi_image", ("visit", "pass", "full"), asn_type="image3", select=SELECT, by=("optical_element",),
        summary="every WFI_IMAGE exposure of one {scope} per optical element, all detectors",
    ),
)
