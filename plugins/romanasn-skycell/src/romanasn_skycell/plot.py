"""A picture of a skycell association: the skycell and its members' footprints (``romanasn plot``).

Everything is drawn in the gnomonic plane at the skycell's centre, east to
the left and north up as on the sky, in degrees from the centre; a
great-circle edge is a straight line there, so the drawing is true near the
poles and across RA 0 alike. The skycell's outline (border included) is
solid, its core (without the overlap border) dashed; a member's footprint is
its pool row's ``s_region``, or the approximate detector square (dotted)
when the pool has only its reference point.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from romanasn import UsageError, load_asn, read_pool, strip_level
from romanasn.words import count

from romanasn_skycell import footprints, sphere

#: Border pixels assumed when no sky map says otherwise (the official value).
DEFAULT_BORDER = 100


def skycell_outline(info: dict[str, Any], inset: float = 0.0) -> np.ndarray:
    """The (4, 3) unit vectors of a skycell's corners from its ``skycell_wcs_info``, ``inset`` pixels in."""
    tangent = sphere.Tangent(info["ra_projection_center"], info["dec_projection_center"],
                             info.get("orientat_projection_center", 0.0), info["pixel_scale"])
    low = np.array([-info["x0_projection"] - 0.5 + inset, -info["y0_projection"] - 0.5 + inset])
    nx, ny = info["nx"] - 2 * inset, info["ny"] - 2 * inset
    corners = low + np.array([[0, 0], [nx, 0], [nx, ny], [0, ny]], dtype=float)
    return tangent.deproject(corners)


def _wcs_info(association: Any, skymap: str | None) -> tuple[dict[str, Any], int]:
    from romanasn_skycell.rules import RULES
    from romanasn_skycell.skymap import SkyMapError, open_skymap, skymap_path

    info = association.skycell_wcs_info
    if not isinstance(info, dict) and association.asn_rule not in {rule.name for rule in RULES}:
        raise UsageError(f"{association.product_name} (rule {association.asn_rule}) has no skycell: romanasn plot"
                         f" draws the associations of the skycell rules ({', '.join(r.name for r in RULES)})")
    path = skymap_path(skymap)
    border = DEFAULT_BORDER
    sky = None
    if path:
        try:
            sky = open_skymap(path)
        except SkyMapError as exc:
            raise UsageError(f"--skymap: {exc}") from exc
        border = sky.border
    if isinstance(info, dict):
        return info, border
    if sky is None or not association.target:
        raise UsageError("the association has no skycell_wcs_info; give --skymap to find its skycell by name")
    try:
        return sky.wcs_info(sky.index_of(association.target)), border
    except KeyError as exc:
        raise UsageError(str(exc)) from exc


def plot_association(asn: str | os.PathLike, pool: str | os.PathLike, output: str | os.PathLike, *,
                     skymap: str | None = None) -> Path:
    """Draw ``asn``'s skycell and its members' footprints (from ``pool``) into the PNG ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    association = load_asn(asn)
    info, border = _wcs_info(association, skymap)
    table = read_pool(pool)
    by_stem: dict[str, int] = {}
    for i, filename in enumerate(table["filename"].tolist()):
        by_stem.setdefault(strip_level(Path(str(filename)).name), i)
    members = association.members
    rows = [by_stem.get(strip_level(Path(m.expname).name)) for m in members]
    found = np.array([r for r in rows if r is not None], dtype=np.int64)
    polygons, sources = footprints.row_footprints(table, found) if len(found) else ([], [])

    centre = sphere.Tangent(info["ra_center"], info["dec_center"], 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(8, 8.6), dpi=110)
    cell = centre.project(skycell_outline(info))
    core = centre.project(skycell_outline(info, inset=border))
    ax.fill(cell[:, 0], cell[:, 1], color="0.93", zorder=0)
    ax.add_patch(plt.Polygon(cell, closed=True, fill=False, lw=2.2, color="black", zorder=3))
    ax.add_patch(plt.Polygon(core, closed=True, fill=False, lw=1.0, ls="--", color="0.35", zorder=3))

    visits = {}
    if len(found):
        for k, i in enumerate(found.tolist()):
            visits.setdefault(_exposure_label(table, i), []).append(k)
    colours = plt.get_cmap("tab10" if len(visits) <= 10 else "turbo")
    handles = [Line2D([], [], color="black", lw=2.2, label=f"skycell {info['name']}"),
               Line2D([], [], color="0.35", lw=1, ls="--", label=f"core (without the {border}-pixel border)")]
    approximate = 0
    labelled: set[str] = set()
    for n, (label, ks) in enumerate(sorted(visits.items())):
        colour = colours(n / max(len(visits) - 1, 1)) if len(visits) > 10 else colours(n % 10)
        for k in ks:
            vertices = polygons[k]
            if vertices is None:
                continue
            xy = centre.project(sphere.unit_vectors(vertices[:, 0], vertices[:, 1]))
            dotted = sources[k] == footprints.SOURCE_APPROXIMATE
            approximate += dotted
            ax.add_patch(plt.Polygon(xy, closed=True, facecolor=(*colour[:3], 0.12), edgecolor=colour,
                                     lw=1.3, ls=":" if dotted else "-", zorder=2))
            number = _detector(table, int(found[k]))
            if number and number not in labelled and len(found) <= 60:
                labelled.add(number)
                ax.annotate(number, xy.mean(axis=0), color="0.25", fontsize=7, ha="center", va="center", zorder=4)
        handles.append(Line2D([], [], color=colour, lw=1.3, label=f"{label} ({count(len(ks), 'file')})"))
    if approximate:
        handles.append(Line2D([], [], color="0.2", lw=1.3, ls=":", label="approximate footprint (no s_region)"))

    ax.set_aspect("equal")
    lo = np.vstack([cell] + [centre.project(sphere.unit_vectors(p[:, 0], p[:, 1])) for p in polygons
                              if p is not None]).min(axis=0)
    hi = np.vstack([cell] + [centre.project(sphere.unit_vectors(p[:, 0], p[:, 1])) for p in polygons
                              if p is not None]).max(axis=0)
    pad = 0.05 * (hi - lo).max()
    ax.set_xlim(hi[0] + pad, lo[0] - pad)  # east to the left
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_xlabel("east offset from the skycell centre (deg)  \u2190 east")
    ax.set_ylabel("north offset from the skycell centre (deg)  \u2191 north")
    missing = sum(r is None for r in rows)
    ax.set_title(f"{association.product_name}\n{count(len(members), 'member')} (detector numbers inside)"
                 + (f", {missing} not in the pool" if missing else "")
                 + f"; skycell centre RA {info['ra_center']:.5f}, Dec {info['dec_center']:.5f}", fontsize=10)
    ax.grid(True, lw=0.3, color="0.8")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8,
              frameon=False)
    out = Path(output)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def _detector(table: Any, row: int) -> str:
    """The detector of a pool row, as a short label (``WFI07`` -> ``07``)."""
    if "detector" not in table.colnames:
        return ""
    return str(table["detector"][row]).upper().replace("WFI", "")


def _exposure_label(table: Any, row: int) -> str:
    """``visit <id> exp <n> <filter>`` of a pool row, as far as the pool says."""
    parts = []
    if "visit_id" in table.colnames:
        parts.append(f"visit {table['visit_id'][row]}")
    if "exposure" in table.colnames:
        parts.append(f"exp {table['exposure'][row]}")
    if "optical_element" in table.colnames:
        parts.append(str(table["optical_element"][row]))
    return " ".join(parts) or str(table["filename"][row])


def skycell_outlines(footprints: Any, skymap: str | None) -> list[Any]:
    """The skycells of the sky map that ``footprints`` ((RA, Dec) vertices each) touch, as report outlines.

    Empty when no sky map is given (``--skymap``, ``ROMANASN_SKYMAP`` or ``SKYMAP_PATH``).
    """
    from romanasn_report import SkyOutline  # installed: romanasn-report is what asks

    from romanasn_skycell.skymap import SkyMapError, open_skymap, skymap_path

    path = skymap_path(skymap)
    if not path or not len(footprints):
        return []
    try:
        sky = open_skymap(path)
    except SkyMapError as exc:
        raise UsageError(f"--skymap: {exc}") from exc
    _, cells = sky.match_radec([np.asarray(f, dtype=float) for f in footprints])
    outlines = []
    for cell in np.unique(cells).tolist():
        info = sky.wcs_info(cell)
        ra, dec = sphere.radec(skycell_outline(info))
        outlines.append(SkyOutline(info["name"], list(zip(ra.tolist(), dec.tolist())), "skycell"))
    return outlines
