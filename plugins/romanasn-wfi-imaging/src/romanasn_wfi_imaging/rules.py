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

from romanasn import Group, MemberSpec, Rule, RunConfig, isin, strip_level
from romanasn.naming import GROUPING_COLUMNS, focal_plane_name, grouping_code, level3_name

EXPOSURE_TYPE = "WFI_IMAGE"


def exposure_name(group: Group, config: RunConfig) -> str:
    """``r<vid>_<eeee>_<det>_<el>``: the exposure file name without level suffix and extension."""
    return strip_level(group.key["filename"])


def fov_name(group: Group, config: RunConfig) -> str:
    """``r<vid>_<eeee>_wfi_<el>``: a detector file's name with the detector made ``wfi``."""
    return focal_plane_name(group.first("filename"))


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


SELECT = [isin("exposure_type", EXPOSURE_TYPE)]

RULES: tuple[Rule, ...] = (
    Rule(
        name="wfi_image_exposure",
        asn_type="image2",
        level=2,
        select=SELECT,
        group_by=("filename",),
        member=MemberSpec("science", "uncal"),
        product_name=exposure_name,
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
    *level3_rules("wfi_image", "image3", SELECT, "WFI_IMAGE"),
)
