"""The hook this pack adds for other packs (through ``romanasn_addhooks``).

A pack implements it with ``@hookimpl(optionalhook=True)``, so that it loads
whether or not romanasn-report is installed::

    @hookimpl(optionalhook=True)
    def romanasn_report_sky(footprints, config):
        return [SkyOutline("a field", [(10.0, 1.0), (11.0, 1.0), (11.0, 2.0)], "field")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pluggy

from romanasn.plugins import NAME

if TYPE_CHECKING:
    from romanasn.plugins.types import RunConfig

    from romanasn_report import SkyOutline

_hookspec = pluggy.HookspecMarker(NAME)


@_hookspec
def romanasn_report_sky(footprints: Sequence[Sequence[tuple[float, float]]], config: RunConfig) -> Sequence[SkyOutline] | None:
    """Outlines to draw beside the footprints on the sky view of ``romanasn report``.

    :param footprints: the footprint of each pool row that is a member of a
        Level 3 association, as (RA, Dec) vertices in degrees.
    :param config: the options of the run being reported (``romanasn report``
        takes the options packs add to ``generate``, such as ``--skymap``).
    :return: :class:`~romanasn_report.SkyOutline` records (say, the
        skycells the footprints touch), or None.

    Called for every plugin, once per page with a sky view; not firstresult.

    .. versionadded:: 0.1
    """
