"""romanasn-report: a web page of a romanasn run (``romanasn report DIR``, ``generate --report``).

The page and its data are made in :mod:`romanasn_report.report`, its sky view
in :mod:`romanasn_report.sky`; the hooks that add the command and the option
are in :mod:`romanasn_report.plugin`, and the hook this pack adds for other
packs (``romanasn_report_sky``, the outlines they draw on the sky) in
:mod:`romanasn_report.hookspec`.
"""

from __future__ import annotations

from typing import Iterable

from attrs import field, frozen

__version__ = "0.1.0"
__all__ = ["SkyOutline"]


def _vertices(value: Iterable) -> tuple[tuple[float, float], ...]:
    vertices = tuple((float(ra), float(dec)) for ra, dec in value)
    if len(vertices) < 3:
        raise ValueError(f"an outline needs at least 3 vertices, got {len(vertices)}")
    return vertices


@frozen
class SkyOutline:
    """A named outline a pack draws on the sky view of ``romanasn report`` (a skycell, a field).

    ``vertices`` are (RA, Dec) pairs in degrees, joined in order by great
    circles, the last to the first; ``kind`` says what it is (``skycell``).
    """

    name: str
    vertices: tuple[tuple[float, float], ...] = field(converter=_vertices)
    kind: str = ""
