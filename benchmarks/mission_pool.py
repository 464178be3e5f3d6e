"""Realistic synthetic pools for the mission-scale benchmarks, of any number of rows.

A pool is a set of programs observed side by side, each of one kind, each
made of visits laid out the way Roman schedules them: execution plans, passes, segments,
observations and visits (the 19-digit visit id), dithered exposures inside a
visit, and one row per detector (18 per exposure). The kinds:

- ``wide``: an imaging survey, one filter per visit (all eight in turn), 6 dithers;
- ``gbtds``: a time-domain survey, F146 with F087 every 12th visit, 2 dithers, many passes;
- ``grism`` / ``prism``: spectroscopy, 4 grism (3 prism) exposures and 2 (1) direct images a visit;
- ``go``: small imaging programs, 2-4 filters, 4 dithers;
- ``calibration``: darks (imaging darks in two MA tables, spectral darks), flats,
  wavefront sensing (WFSC) and LOLO visits.

About 2 % of the exposures are degraded (``engineering_quality`` SUSPECT on
every detector, or ``data_problem`` true), and 0.3 % of the rows carry an
``exposerr``. Every row has its pointing (``ra_ref``, ``dec_ref``, ``roll_ref``),
its footprint (``s_region``) and its times. Deterministic: the same number of
rows always gives the same table, and a larger pool starts with the rows of
every smaller one (rows are cut at the end: the last exposure may lack
detectors), so a grown pool is a larger one.

Usage: python benchmarks/mission_pool.py ROWS OUT.ecsv [--legacy OUT.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FILTERS = ("F062", "F087", "F106", "F129", "F146", "F158", "F184", "F213")
DETECTORS = 18

#: kind: (category, subcategory, visits per program, in turn).
KINDS = {
    "wide": ("SURVEY", "HLWA", (3000,)),
    "gbtds": ("SURVEY", "GBTDS", (2500,)),
    "grism": ("SURVEY", "HLSS", (600,)),
    "prism": ("GO", "SN", (300,)),
    "go": ("GO", "GO", (60, 40, 120)),
    "calibration": ("CAL", "WFI", (240,)),
}
#: Programs run side by side: visits are scheduled in this pattern, over and over.
SCHEDULE = ("wide", "gbtds", "wide", "gbtds", "grism", "wide", "go", "gbtds", "calibration",
            "wide", "gbtds", "prism", "wide", "go", "gbtds", "grism")

# -- visits -----------------------------------------------------------------------------------


def _visit_exposures(kind: str, v: int) -> list[tuple[str, str, str]]:
    """The exposures of the ``v``-th visit of a program of ``kind``: (type, element, MA table)."""
    if kind == "wide":
        return [("WFI_IMAGE", FILTERS[v % 8], "IMG_16")] * 6
    if kind == "gbtds":
        return [("WFI_IMAGE", "F087" if v % 12 == 11 else "F146", "IMG_8")] * 2
    if kind == "grism":
        return [("WFI_SPECTRAL", "GRISM", "SPEC_12")] * 4 + [("WFI_IMAGE", "F158", "IMG_16")] * 2
    if kind == "prism":
        return [("WFI_SPECTRAL", "PRISM", "SPEC_12")] * 3 + [("WFI_IMAGE", "F129", "IMG_16")]
    if kind == "go":
        return [("WFI_IMAGE", FILTERS[(v + k) % 8], "IMG_16") for k in range(2 + v % 3) for _ in range(4)]
    if kind == "calibration":
        step = v % 8
        if step < 3:
            return [("WFI_IM_DARK", "DARK", "IMG_16")] * 3 + [("WFI_IM_DARK", "DARK", "IMG_8")] * 2
        if step == 3:
            return [("WFI_SP_DARK", "DARK", "SPEC_12")] * 3
        if step < 6:
            return [("WFI_FLAT", FILTERS[(v // 8) % 8], "IMG_8")] * 3
        if step == 6:
            return [("WFI_WFSC", "F158", "WFSC_6")] * 3
        return [("WFI_LOLO", "F158", "LOLO_4")] * 2
    raise ValueError(kind)


def _layout(v: int) -> tuple[int, int, int, int, int]:
    """(execution plan, pass, segment, observation, visit) of a program's ``v``-th visit."""
    visit = 1 + v % 25
    observation = 1 + (v // 25) % 8
    segment = 1 + (v // 200) % 4
    pass_ = 1 + (v // 800) % 999
    plan = 1 + v // (800 * 999)
    return plan, pass_, segment, observation, visit


def _exposures(rows: int):
    """Exposure-level arrays, enough for ``rows`` rows: one entry per exposure."""
    names = ("program", "plan", "pass", "segment", "observation", "visit")
    out = {name: [] for name in names + ("exposure", "type", "element", "ma", "category", "subcategory",
                                         "visit_serial")}
    state = {kind: [0, -1, 0] for kind in KINDS}  # programs started, current program, visits done
    total, programs, serial = 0, 0, 0
    while total < rows:
        kind = SCHEDULE[serial % len(SCHEDULE)]
        category, subcategory, sizes = KINDS[kind]
        started, program, v = state[kind]
        if program < 0 or v >= sizes[(started - 1) % len(sizes)]:
            programs += 1
            started, program, v = started + 1, programs, 0
        for e, (type_, element, ma) in enumerate(_visit_exposures(kind, v), start=1):
            for name, value in zip(names, (program, *_layout(v))):
                out[name].append(value)
            out["exposure"].append(e)
            out["type"].append(type_)
            out["element"].append(element)
            out["ma"].append(ma)
            out["category"].append(category)
            out["subcategory"].append(subcategory)
            out["visit_serial"].append(serial)
            total += DETECTORS
        state[kind] = [started, program, v + 1]
        serial += 1
    return {name: np.asarray(values) for name, values in out.items()}


# -- the table ------------------------------------------------------------------------------------


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(values.astype(str), width)


def _cat(*parts) -> np.ndarray:
    result = parts[0]
    for part in parts[1:]:
        result = np.char.add(result, part)
    return result


def _footprints(visit_serial, exposure, detector):
    """Pointing and footprint of each row: (ra_ref, dec_ref, roll_ref, s_region)."""
    # Visits tile a band of sky; dithers move the boresight by 0.004 deg a step.
    dec0 = -60.0 + (visit_serial // 360) % 120 * 1.0
    ra0 = (visit_serial % 360) * 1.0 + 0.5
    roll = (visit_serial * 7.0) % 360.0
    column, row = np.divmod(detector - 1, 3)
    x = (column - 2.5) * 0.14 + (exposure - 1) * 0.004
    y = (row - 1) * 0.14 + 0.02 * np.abs(column - 2.5)
    angle = np.radians(roll)
    half = 4088 * 0.11 / 3600 / 2
    cos_dec = np.cos(np.radians(dec0))

    def sky(dx, dy):
        xr = (x + dx) * np.cos(angle) - (y + dy) * np.sin(angle)
        yr = (x + dx) * np.sin(angle) + (y + dy) * np.cos(angle)
        return np.round((ra0 + xr / cos_dec) % 360.0, 7), np.round(dec0 + yr, 7)

    ra_ref, dec_ref = sky(0.0, 0.0)
    corners = [sky(dx, dy) for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))]
    texts = ["POLYGON ICRS "]
    for ra, dec in corners:
        texts += [" ", np.char.mod("%.7f", ra), " ", np.char.mod("%.7f", dec)]
    return ra_ref, dec_ref, np.round(roll, 3), _cat(*texts)


def mission_pool(rows: int):
    """An astropy Table of exactly ``rows`` pool rows (see the module's docstring)."""
    from astropy.table import Column, MaskedColumn, Table

    ex = _exposures(rows)
    n_exp = len(ex["program"])
    per_row = np.repeat(np.arange(n_exp), DETECTORS)[:rows]
    detector = np.tile(np.arange(1, DETECTORS + 1), n_exp)[:rows]

    def row(name):
        return ex[name][per_row]

    visit_id = _cat(_zfill(ex["program"], 5), _zfill(ex["plan"], 2), _zfill(ex["pass"], 3),
                    _zfill(ex["segment"], 3), _zfill(ex["observation"], 3), _zfill(ex["visit"], 3))
    exp4 = _zfill(ex["exposure"], 4)
    observation_id = _cat(visit_id, "01", "1", "01", exp4)
    det = np.char.add("WFI", _zfill(np.arange(1, DETECTORS + 1), 2))[detector - 1]
    element = row("element")
    filename = _cat("r", visit_id[per_row], "_", exp4[per_row], "_", np.char.lower(det), "_",
                    np.char.lower(element), "_uncal.asdf")

    # Degraded exposures and rows, fixed by a seeded generator.
    rng = np.random.default_rng(20270301)
    draw = rng.random(n_exp)
    quality = np.where(draw < 0.015, "SUSPECT", "OK")[per_row]
    problem = np.where((draw >= 0.015) & (draw < 0.02), "true", "false")[per_row]
    exposerr = np.where(rng.random(rows) < 0.003, "DETECTOR_SATURATED", "")

    start = np.datetime64("2027-03-01T00:00:00") + (np.arange(n_exp) * 180).astype("timedelta64[s]")
    start_time = np.datetime_as_string(start, unit="ms")[per_row]
    end_time = np.datetime_as_string(start + np.timedelta64(140, "s"), unit="ms")[per_row]
    ra_ref, dec_ref, roll_ref, s_region = _footprints(row("visit_serial"), row("exposure"), detector)

    ma = row("ma")
    ma_numbers = {"IMG_16": 16, "IMG_8": 8, "SPEC_12": 12, "WFSC_6": 6, "LOLO_4": 4}
    ma_number = np.vectorize(ma_numbers.get, otypes=[np.int64])(ma)
    types_ = row("type")
    targets = np.where(np.char.startswith(types_, "WFI_IMAGE") | (types_ == "WFI_SPECTRAL"),
                       np.char.add("FIELD_", _zfill(row("visit_serial") // 50, 5)), "")
    columns = [
        Column(filename, name="filename"),
        Column(row("program"), name="program"),
        Column(row("plan"), name="execution_plan"),
        Column(row("pass"), name="pass"),
        Column(row("segment"), name="segment"),
        Column(row("observation"), name="observation"),
        Column(row("visit"), name="visit"),
        Column(np.ones(rows, np.int64), name="visit_file_group"),
        Column(np.ones(rows, np.int64), name="visit_file_sequence"),
        Column(np.full(rows, "01"), name="visit_file_activity"),
        Column(row("exposure"), name="exposure"),
        Column(visit_id[per_row], name="visit_id"),
        Column(observation_id[per_row], name="observation_id"),
        Column(types_, name="exposure_type"),
        Column(det, name="detector"),
        Column(element, name="optical_element"),
        Column(np.full(rows, "WFI"), name="instrument"),
        Column(start_time, name="start_time"),
        Column(end_time, name="end_time"),
        Column(ma, name="ma_table_name"),
        MaskedColumn(ma_number, name="ma_table_number", mask=np.zeros(rows, bool)),
        MaskedColumn(np.where(ma_number > 8, 12, 8), name="nresultants", mask=np.zeros(rows, bool)),
        MaskedColumn(ra_ref, name="ra_ref", mask=np.zeros(rows, bool)),
        MaskedColumn(dec_ref, name="dec_ref", mask=np.zeros(rows, bool)),
        MaskedColumn(roll_ref, name="roll_ref", mask=np.zeros(rows, bool)),
        Column(s_region, name="s_region"),
        Column(targets, name="target"),
        Column(exposerr, name="exposerr"),
        Column(problem, name="data_problem"),
        Column(quality, name="engineering_quality"),
        MaskedColumn(np.ones(rows, np.int64), name="level", mask=np.zeros(rows, bool)),
        Column(row("category"), name="program_category"),
        Column(row("subcategory"), name="program_subcategory"),
    ]
    return Table(columns)


# -- romancal's legacy form ---------------------------------------------------------------------

#: The columns of romancal 1.0.3's pools (its tests' pool_002), in its order.
LEGACY_COLUMNS = ("FILENAME", "OBS_ID", "PROGRAM", "OBS_NUM", "EX_PLAN", "PASS", "VISIT", "SEQUENCE",
                  "VISIT_ID", "VISIT_GRP", "VISIT_TYPE", "SEQ_ID", "ACT_ID", "NEXPSUR", "EXPCOUNT",
                  "EXP_TYPE", "INSTRUME", "DETECTOR", "TARGNAME", "TARGET_ID", "OPT_ELEM", "DITHER",
                  "SUBPIX_DITHER", "ASN_CANDIDATE", "TILE", "N_TILES", "EXPOSERR", "CAT", "SUBCAT")
#: Exposure types as romancal 1.0.3 named them (its rules know WFI_GRISM / WFI_PRISM).
_LEGACY_TYPES = {"WFI_SPECTRAL/GRISM": "WFI_GRISM", "WFI_SPECTRAL/PRISM": "WFI_PRISM"}


def legacy_text(table) -> str:
    """The pool in romancal's ``|``-separated form: its columns, upper case, NULL for empty."""
    n = len(table)
    col = {name: np.asarray(table[name]) for name in table.colnames}
    types_ = col["exposure_type"]
    spectral = types_ == "WFI_SPECTRAL"
    legacy_types = np.where(spectral, np.char.add("WFI_", col["optical_element"]), types_)
    exposures_per_visit = _per_visit_count(col["visit_id"], col["exposure"])
    target = np.where(col["target"] == "", "NULL", col["target"])
    exposerr = np.where(col["exposerr"] == "", "NULL", col["exposerr"])
    values = {
        "FILENAME": col["filename"],
        "OBS_ID": col["observation_id"],
        "PROGRAM": col["program"].astype(str),
        "OBS_NUM": col["observation"].astype(str),
        "EX_PLAN": col["execution_plan"].astype(str),
        "PASS": col["pass"].astype(str),
        "VISIT": col["visit"].astype(str),
        "SEQUENCE": col["segment"].astype(str),
        "VISIT_ID": col["visit_id"],
        "VISIT_GRP": col["visit_file_group"].astype(str),
        "VISIT_TYPE": col["program_subcategory"],
        "SEQ_ID": col["visit_file_sequence"].astype(str),
        "ACT_ID": col["visit_file_activity"],
        "NEXPSUR": exposures_per_visit.astype(str),
        "EXPCOUNT": col["exposure"].astype(str),
        "EXP_TYPE": legacy_types,
        "INSTRUME": col["instrument"],
        "DETECTOR": col["detector"],
        "TARGNAME": target,
        "TARGET_ID": np.full(n, "1"),
        "OPT_ELEM": col["optical_element"],
        "DITHER": np.full(n, "BOXGAP4"),
        "SUBPIX_DITHER": np.full(n, "NONE"),
        "ASN_CANDIDATE": _cat("[('o", _zfill(col["observation"], 3), "', 'observation')]"),
        "TILE": np.full(n, "1"),
        "N_TILES": np.full(n, "1"),
        "EXPOSERR": exposerr,
        "CAT": col["program_category"],
        "SUBCAT": col["program_subcategory"],
    }
    lines = ["|".join(LEGACY_COLUMNS)]
    lines += ["|".join(cells) for cells in zip(*(values[name].tolist() for name in LEGACY_COLUMNS))]
    return "\n".join(lines) + "\n"


def _per_visit_count(visit_ids: np.ndarray, exposures: np.ndarray) -> np.ndarray:
    """For each row, the number of exposures its visit has."""
    unique, inverse = np.unique(visit_ids, return_inverse=True)
    most = np.zeros(len(unique), np.int64)
    np.maximum.at(most, inverse, exposures)
    return most[inverse]


def write(rows: int, path: str | Path, legacy: str | Path | None = None) -> None:
    from romanasn import write_pool

    table = mission_pool(rows)
    write_pool(table, path)
    if legacy is not None:
        Path(legacy).write_text(legacy_text(table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("output")
    parser.add_argument("--legacy", metavar="FILE", help="also write romancal's |-separated form")
    args = parser.parse_args(argv)
    write(args.rows, args.output, args.legacy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
