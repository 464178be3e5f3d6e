"""The WFI calibration rules, and the constraints the pack applies.

- ``wfi_dark`` (``dark``): WFI_IM_DARK and WFI_SP_DARK exposures of one
  program, exposure type, detector and MA table; rows without an MA table are
  vetoed.
- ``wfi_flat`` (``flat``): WFI_FLAT exposures of one program, detector and
  optical element.
- ``wfi_wfsc``, ``wfi_lolo`` (``wfsc``, ``lolo``): every exposure of one visit.

Members are the Level 1 (``_uncal``) files. Products are named
``r<PPPPP>_<drid>_<type>_<det>_<key>`` (darks, flats) and
``r<PPPPP>_<drid>_<type>_v<CCAAASSSOOOVVV>`` (WFSC, LOLO), ``<type>`` being
the exposure type without ``WFI_``, in lower case.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from romanasn import Constraint, Group, MemberSpec, Rule, RunConfig, degraded_reasons, isin
from romanasn.naming import GROUPING_COLUMNS, level3_name

LEVEL1 = MemberSpec("science", "uncal")

#: MA table names that say there is none (after stripping, in upper case).
NO_MA_TABLE = ("", "NULL", "NONE")


def not_degraded(table: Any) -> np.ndarray:
    """True for rows whose exposure the kernel does not consider degraded."""
    return np.array([reason is None for reason in degraded_reasons(table)], dtype=bool)


def has_ma_table(table: Any) -> np.ndarray:
    """True for rows with an MA table name (not masked, empty, ``NULL`` or ``NONE``); each
    distinct name is looked at once (a pool holds a few, over a million rows)."""
    if "ma_table_name" not in table.colnames:
        return np.zeros(len(table), dtype=bool)
    column = table["ma_table_name"]
    values = np.asarray(column, dtype=object).tolist()
    named = {value: str(value).strip().upper() not in NO_MA_TABLE for value in set(values)}
    return np.array([named[value] for value in values], dtype=bool) & ~np.ma.getmaskarray(column)


NOT_DEGRADED = Constraint(
    name="not degraded",
    test=not_degraded,
    reason="degraded exposure (exposerr, data_problem or engineering_quality) left out by --drop-degraded",
)

HAS_MA_TABLE = Constraint(
    name="ma_table_name not empty",
    test=has_ma_table,
    reason="no MA table (ma_table_name is empty): darks are grouped by MA table",
)


def calibration_type(exposure_type: str) -> str:
    """The type part of a product name: ``WFI_IM_DARK`` -> ``im_dark``."""
    return exposure_type.upper().removeprefix("WFI_").lower()


def dark_name(group: Group, config: RunConfig) -> str:
    """``r<PPPPP>_<drid>_<type>_<det>_<MA table>``, the type (``im_dark``, ``sp_dark``) from the exposure type."""
    key = group.key
    kind = calibration_type(key["exposure_type"])
    return level3_name(key["program"], config.data_release_id, kind, key["detector"], key["ma_table_name"])


def per_visit_template(kind: str) -> str:
    """The template ``r<PPPPP>_<drid>_<type>_v<CCAAASSSOOOVVV>`` of a rule taking one exposure type."""
    return f"r{{program:program}}_{{drid}}_{kind}_{{visit_id:visit}}"


def per_visit_rule(exposure_type: str) -> Rule:
    """The rule taking every exposure of ``exposure_type`` of one visit."""
    kind = calibration_type(exposure_type)
    return Rule(
        name=f"wfi_{kind}",
        asn_type=kind,
        level=3,
        select=[isin("exposure_type", exposure_type)],
        group_by=GROUPING_COLUMNS["visit"],
        member=LEVEL1,
        product_name=per_visit_template(kind),
        summary=f"every {exposure_type} exposure of one visit, all detectors",
    )


RULES: tuple[Rule, ...] = (
    Rule(
        name="wfi_dark",
        asn_type="dark",
        level=3,
        select=[isin("exposure_type", "WFI_IM_DARK", "WFI_SP_DARK")],
        group_by=("program", "exposure_type", "detector", "ma_table_name"),
        constraints=[HAS_MA_TABLE],
        member=LEVEL1,
        product_name=dark_name,
        summary="WFI_IM_DARK / WFI_SP_DARK exposures of one program, type, detector and MA table",
    ),
    Rule(
        name="wfi_flat",
        asn_type="flat",
        level=3,
        select=[isin("exposure_type", "WFI_FLAT")],
        group_by=("program", "detector", "optical_element"),
        member=LEVEL1,
        product_name="r{program:program}_{drid}_flat_{detector:token}_{optical_element:token}",
        summary="WFI_FLAT exposures of one program, detector and optical element",
    ),
    per_visit_rule("WFI_WFSC"),
    per_visit_rule("WFI_LOLO"),
)
