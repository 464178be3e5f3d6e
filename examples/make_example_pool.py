"""Write examples/pool.ecsv, the example pool: 24 exposures of all 18 detectors, 432 rows.

Deterministic: running it again writes the same bytes. Usage::

    python examples/make_example_pool.py [OUTPUT]    # default: examples/pool.ecsv

The design (see examples/README.md for the associations it gives):

- Program 1, execution plan 1: pass 1 has visits 1 and 2, pass 2 has visit 1.
  Imaging in F158, F087 and F213; grism in both passes, prism in pass 2.
  Exposure 2 of pass 1, visit 1 (F158) is degraded (engineering_quality SUSPECT).
- Program 2, execution plan 1, pass 1: visit 1 images in F087 and takes a
  prism exposure; observations 2-5 are calibrations: darks (two MA tables
  for imaging darks, one spectral dark, and one dark with no MA table, which
  the calibration pack vetoes), flats in F158 and F087, two WFSC exposures and
  one LOLO exposure.
- The nine imaging exposures (every visit's) also carry pointing columns
  (ra_ref, dec_ref, roll_ref, s_region, one footprint per detector) and
  times (start_time, end_time), for packs that place exposures on the sky.
  Each visit points within 0.4 degrees of RA 2, Dec 86.4 (VISIT_POINTINGS),
  inside the example sky map (examples/skymap.asdf): visit 2 of pass 1 is
  the field next to visit 1, overlapping it a little; pass 2 comes back to
  the first field turned by 90 degrees; program 2 overlaps the first field.
  The footprints straddle RA 0 near the north pole.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta
from pathlib import Path

from romanasn import write_pool
from romanasn.testing import exposure_rows, pool_table

HERE = Path(__file__).parent

P1_PASS1_VISIT1 = "0000101001001001001"
P1_PASS1_VISIT2 = "0000101001001001002"
P1_PASS2_VISIT1 = "0000101002001001001"
P2_VISIT1 = "0000201001001001001"
P2_DARKS = "0000201001001002001"
P2_FLATS = "0000201001001003001"
P2_WFSC = "0000201001001004001"
P2_LOLO = "0000201001001005001"

IMAGE, SPECTRAL = "WFI_IMAGE", "WFI_SPECTRAL"
DEGRADED = {"engineering_quality": "SUSPECT"}

#: (visit id, exposure, exposure type, optical element, MA table, other columns)
EXPOSURES = [
    (P1_PASS1_VISIT1, 1, IMAGE, "F158", "IMG_16", {}),
    (P1_PASS1_VISIT1, 2, IMAGE, "F158", "IMG_16", DEGRADED),
    (P1_PASS1_VISIT1, 3, IMAGE, "F087", "IMG_16", {}),
    (P1_PASS1_VISIT2, 1, IMAGE, "F158", "IMG_16", {}),
    (P1_PASS1_VISIT2, 2, IMAGE, "F158", "IMG_16", {}),
    (P1_PASS1_VISIT2, 3, SPECTRAL, "GRISM", "SPEC_12", {}),
    (P1_PASS2_VISIT1, 1, IMAGE, "F158", "IMG_16", {}),
    (P1_PASS2_VISIT1, 2, IMAGE, "F213", "IMG_16", {}),
    (P1_PASS2_VISIT1, 3, SPECTRAL, "GRISM", "SPEC_12", {}),
    (P1_PASS2_VISIT1, 4, SPECTRAL, "PRISM", "SPEC_12", {}),
    (P2_VISIT1, 1, IMAGE, "F087", "IMG_16", {}),
    (P2_VISIT1, 2, IMAGE, "F087", "IMG_16", {}),
    (P2_VISIT1, 3, SPECTRAL, "PRISM", "SPEC_12", {}),
    (P2_DARKS, 1, "WFI_IM_DARK", "DARK", "IMG_16", {}),
    (P2_DARKS, 2, "WFI_IM_DARK", "DARK", "IMG_16", {}),
    (P2_DARKS, 3, "WFI_IM_DARK", "DARK", "IMG_8", {}),
    (P2_DARKS, 4, "WFI_SP_DARK", "DARK", "SPEC_12", {}),
    (P2_DARKS, 5, "WFI_IM_DARK", "DARK", "", {}),
    (P2_FLATS, 1, "WFI_FLAT", "F158", "IMG_8", {}),
    (P2_FLATS, 2, "WFI_FLAT", "F158", "IMG_8", {}),
    (P2_FLATS, 3, "WFI_FLAT", "F087", "IMG_8", {}),
    (P2_WFSC, 1, "WFI_WFSC", "F158", "WFSC_6", {}),
    (P2_WFSC, 2, "WFI_WFSC", "F158", "WFSC_6", {}),
    (P2_LOLO, 1, "WFI_LOLO", "F158", "LOLO_4", {}),
]

PROGRAMS = {1: ("GI", "HLWA"), 2: ("CAL", "WFI")}

# -- pointings of the imaging exposures ----------------------------------------------

RA, DEC = 2.0, 86.4  # the tangent point of the pointings (deg): the example sky map's centre
#: Where each visit's imaging exposures point: boresight (xi, eta) in the tangent plane
#: around (RA, DEC) (deg, xi eastward), roll (deg), and the start of its exposure 1.
VISIT_POINTINGS = {
    P1_PASS1_VISIT1: (0.0, 0.0, 30.0, datetime(2027, 3, 1, 12, 0)),
    # the next field of pass 1: 0.38 deg along the field's short side (0.455 deg: they overlap by 0.075)
    P1_PASS1_VISIT2: (0.19, -0.329, 30.0, datetime(2027, 3, 1, 12, 15)),
    # pass 2 comes back to the first field three months later, turned by 90 degrees
    P1_PASS2_VISIT1: (0.05, -0.1, 120.0, datetime(2027, 6, 1, 3, 0)),
    # another program's field, overlapping the first one's
    P2_VISIT1: (-0.3, 0.15, 75.0, datetime(2027, 4, 15, 20, 30)),
}
POINTED_TYPES = (IMAGE,)
DITHER = 0.004  # deg along the detector rows, per exposure
DETECTOR_SIZE = 4088 * 0.11 / 3600  # deg: 4088 pixels of 0.11 arcsec
PITCH = 0.14  # deg between detector centres (an approximate layout, not the real one)
EXPOSURE_MINUTES = 2  # exposure n of a visit starts 3 (n - 1) minutes after exposure 1


def _sky(xi: float, eta: float) -> tuple[float, float]:
    """RA, Dec (deg) of the tangent-plane point (xi, eta) (deg, xi eastward) around (RA, DEC)."""
    x, y, d0 = math.radians(xi), math.radians(eta), math.radians(DEC)
    denominator = math.cos(d0) - y * math.sin(d0)
    ra = math.degrees(math.atan2(x, denominator)) + RA
    dec = math.degrees(math.atan2(math.sin(d0) + y * math.cos(d0), math.hypot(x, denominator)))
    return round(ra % 360.0, 7), round(dec, 7)


def _placed(x: float, y: float, visit_id: str) -> tuple[float, float]:
    """The tangent-plane point of focal-plane offset (x, y) (deg) in a visit: turned by its roll, then
    moved to its boresight."""
    xi0, eta0, roll, _ = VISIT_POINTINGS[visit_id]
    angle = math.radians(roll)
    return xi0 + x * math.cos(angle) - y * math.sin(angle), eta0 + x * math.sin(angle) + y * math.cos(angle)


def pointing(visit_id: str, detector: int, exposure: int) -> dict[str, object]:
    """ra_ref, dec_ref, roll_ref and s_region of one detector in one exposure of a visit.

    The 18 detectors sit in 6 columns of 3, bowed like the WFI's; each
    exposure is shifted by DITHER along the rows.
    """
    column, row = divmod(detector - 1, 3)
    x = (column - 2.5) * PITCH + (exposure - 1) * DITHER
    y = (row - 1) * PITCH + 0.02 * abs(column - 2.5)
    half = DETECTOR_SIZE / 2
    offsets = ((-half, -half), (half, -half), (half, half), (-half, half))
    corners = [_sky(*_placed(x + dx, y + dy, visit_id)) for dx, dy in offsets]
    ra_ref, dec_ref = _sky(*_placed(x, y, visit_id))
    return {
        "ra_ref": ra_ref,
        "dec_ref": dec_ref,
        "roll_ref": VISIT_POINTINGS[visit_id][2],
        "s_region": "POLYGON ICRS  " + " ".join(f"{ra:.7f} {dec:.7f}" for ra, dec in corners),
    }


def times(visit_id: str, exposure: int) -> dict[str, str]:
    """start_time and end_time of one exposure of a pointed visit."""
    start = VISIT_POINTINGS[visit_id][3] + timedelta(minutes=3 * (exposure - 1))
    end = start + timedelta(minutes=EXPOSURE_MINUTES)
    return {"start_time": f"{start:%Y-%m-%dT%H:%M:%S}.000", "end_time": f"{end:%Y-%m-%dT%H:%M:%S}.000"}


def rows() -> list[dict[str, object]]:
    """Every row of the example pool, exposure by exposure, detectors in order."""
    made = []
    for visit_id, exposure, exposure_type, element, ma_table, extra in EXPOSURES:
        category, subcategory = PROGRAMS[int(visit_id[:5])]
        common = {
            "instrument": "WFI", "level": 1, "ma_table_name": ma_table,
            "data_problem": "false", "engineering_quality": "OK",
            "program_category": category, "program_subcategory": subcategory,
        }
        common.update(extra)
        for row in exposure_rows(visit_id, exposure, exposure_type, element, **common):
            if exposure_type in POINTED_TYPES:
                row.update(times(visit_id, exposure))
                row.update(pointing(visit_id, int(row["detector"][3:]), exposure))
            made.append(row)
    return made


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE / "pool.ecsv"
    table = pool_table(rows())
    write_pool(table, out)
    print(f"wrote {out}: {len(table)} rows, {len(EXPOSURES)} exposures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
