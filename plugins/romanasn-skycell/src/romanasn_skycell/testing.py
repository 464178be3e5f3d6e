"""Pointed pool rows for tests, demonstrations and benchmarks.

:func:`pointed_rows` gives the 18 pool rows of one exposure (through
:func:`romanasn.testing.exposure_rows`) with ``ra_ref``, ``dec_ref``,
``roll_ref`` and an ``s_region`` for each detector, laid out like the WFI:
six columns of three detectors, the outer columns lower. The layout is
approximate (not the real focal plane), good enough to put exposures on
skycells.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from romanasn_skycell import sphere
from romanasn_skycell.footprints import WFI_DETECTOR_SIZE, s_region_text

#: Distance between neighbouring detector centres (deg).
PITCH = 0.135


def detector_centres() -> np.ndarray:
    """Offsets (18, 2) of the detector centres from the boresight (deg; x along the rows, y up the columns)."""
    centres = []
    for number in range(18):
        column, row = divmod(number, 3)
        x = (column - 2.5) * PITCH
        y = (row - 1) * PITCH - 0.025 * abs(column - 2.5)
        centres.append((x, y))
    return np.array(centres)


def detector_polygons(ra: float, dec: float, roll: float, size: float = WFI_DETECTOR_SIZE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Centres (18, 2) and corners (18, 4, 2), RA and Dec, of the detectors pointed at ``ra, dec, roll``."""
    plane = sphere.Tangent(ra, dec, roll, 1.0)
    centres = detector_centres()
    half = size / 2.0
    square = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    corners = centres[:, None, :] + square[None, :, :]
    c_ra, c_dec = plane.deproject_radec(centres)
    k_ra, k_dec = plane.deproject_radec(corners)
    return np.stack((c_ra, c_dec), axis=-1), np.stack((k_ra, k_dec), axis=-1)


def pointed_rows(visit_id: str, exposure: int, optical_element: str, ra: float, dec: float, roll: float = 0.0,
                 *, detectors: Iterable[int] = range(1, 19), s_region: bool = True, suffix: str = "cal",
                 **columns: Any) -> list[dict[str, Any]]:
    """The pool rows of one WFI_IMAGE exposure pointed at ``ra, dec`` with ``roll`` (deg).

    Each row gets ``ra_ref``, ``dec_ref``, ``roll_ref`` and, when
    ``s_region`` is true, the detector's ``s_region``.
    """
    from romanasn.testing import exposure_rows

    detectors = list(detectors)
    centres, corners = detector_polygons(ra, dec, roll)
    rows = exposure_rows(visit_id, exposure, "WFI_IMAGE", optical_element, detectors=detectors,
                         suffix=suffix, **columns)
    for row, number in zip(rows, detectors):
        k = number - 1
        row.update(ra_ref=round(float(centres[k, 0]), 9), dec_ref=round(float(centres[k, 1]), 9),
                   roll_ref=float(roll))
        if s_region:
            row["s_region"] = s_region_text(corners[k])
    return rows
