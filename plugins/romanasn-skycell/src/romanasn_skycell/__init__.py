"""romanasn-skycell: skycell and multiband Level 3 associations for romanasn.

Roman's Level 3 mosaics lie on a fixed grid of skycells. This pack places
each WFI_IMAGE exposure of a pool on the skycells of a SKYCELLS sky map
(``--skymap``, ``ROMANASN_SKYMAP`` or ``SKYMAP_PATH``) and makes one
association per grouping, skycell and filter, plus multiband ones. The hooks
are in :mod:`romanasn_skycell.plugin`; the geometry in
:mod:`romanasn_skycell.skymap` and :mod:`romanasn_skycell.sphere`.
"""

__version__ = "0.1.0"
