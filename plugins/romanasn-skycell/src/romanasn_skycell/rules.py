"""The skycell rules: one association per grouping, skycell and filter, and multiband ones.

- ``skycell_visit``, ``skycell_pass``, ``skycell_daily``, ``skycell_full``
  (``asn_type`` ``image``, as romancal's ``skycell_asn`` writes): the Level 2
  (``_cal``) files of the WFI_IMAGE exposures of one visit, pass, day
  (segment) or program that meet one skycell, per optical element. Product
  ``r<PPPPP>_<drid>_<grouping>_<skycell>_<el>``; ``target`` is the skycell's
  name and ``skycell_wcs_info`` its WCS, from the sky map.
- ``skycell_multiband`` (``multiband``): for each grouping (all four) and
  skycell, the per-filter mosaics (``..._<el>_coadd.asdf``) those rules'
  products become; product ``r<PPPPP>_<drid>_<grouping>_<skycell>``.

A row is placed on the sky by its footprint (:mod:`romanasn_skycell.footprints`)
and on skycells by :meth:`romanasn_skycell.skymap.SkyMap.match`, once per pool
and sky map; every rule reuses the placement.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Iterable, Sequence

import numpy as np
import romanasn
from romanasn import (
    Association,
    Constraint,
    Group,
    Member,
    MemberSpec,
    Product,
    Rule,
    RunConfig,
    UsageError,
    grouping_code,
    isin,
    level3_name,
    member_filename,
    program_id,
)
from romanasn.grouping import GROUPING_SCOPES
from romanasn.naming import GROUPING_COLUMNS

from romanasn_skycell import footprints
from romanasn_skycell.skymap import SkyMap, SkyMapError, open_skymap

log = logging.getLogger("romanasn.skycell")

EXPOSURE_TYPE = "WFI_IMAGE"
GROUPINGS = ("visit", "pass", "daily", "full")
MULTIBAND = "skycell_multiband"
#: The ``generate`` options (``config.options`` keys) the rules read.
SKYMAP_OPTION = "skymap"
PSF_OPTION = "psf_match_reference_filter"
#: The top-level key that lists members placed by an approximate footprint.
APPROXIMATE_KEY = "approximate_footprints"


# -- placing rows on skycells, once per pool and map ----------------------------------------


class Placement:
    """Where the rows of one pool fall on the skycells of one sky map."""

    def __init__(self, skymap: SkyMap) -> None:
        self.skymap = skymap
        self.cells: dict[int, list[int]] = {}
        self.source: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.by_name: dict[str, int] = {}
        self.approximated = 0
        self._wcs: dict[str, dict[str, Any]] = {}

    def place(self, table: Any, rows: np.ndarray) -> None:
        """Place the ``rows`` not placed yet."""
        todo = np.array([i for i in rows.tolist() if i not in self.source], dtype=np.int64)
        if not len(todo):
            return
        vertices, sources = footprints.row_footprints(table, todo)
        placed = [k for k, v in enumerate(vertices) if v is not None]
        which, cells = self.skymap.match_radec([vertices[k] for k in placed])
        for i, source in zip(todo.tolist(), sources):
            self.source[i] = source
            self.cells[i] = []
        rows_of = np.asarray(placed, dtype=np.int64)
        for k, cell in zip(todo[rows_of[which]].tolist(), cells.tolist()):
            self.cells[k].append(cell)
        for cell in set(cells.tolist()) - set(self.names):
            name = self.skymap.name(cell)
            self.names[cell] = name
            self.by_name[name] = cell
        approximated = sources.count(footprints.SOURCE_APPROXIMATE)
        self.approximated += approximated
        if approximated:
            log.info("%d of %d rows placed on skycells by an approximate footprint (no s_region)",
                     approximated, len(todo))

    def wcs_info(self, name: str) -> dict[str, Any]:
        """The ``skycell_wcs_info`` of skycell ``name`` (a fresh copy each time)."""
        if name not in self._wcs:
            self._wcs[name] = self.skymap.wcs_info(self.by_name[name])
        return dict(self._wcs[name])

    def skycell_names(self, row: int) -> list[str]:
        return [self.names[cell] for cell in self.cells.get(row, ())]


_PLACEMENTS: dict[tuple[int, str], tuple[weakref.ref, Placement]] = {}


def skymap_for(config: RunConfig) -> SkyMap:
    path = config.option(SKYMAP_OPTION)
    if not path:
        raise UsageError("the skycell rules need a sky map: --skymap PATH, ROMANASN_SKYMAP or SKYMAP_PATH")
    try:
        return open_skymap(path)
    except SkyMapError as exc:
        raise UsageError(f"--skymap: {exc}") from exc


def placement(table: Any, config: RunConfig) -> Placement:
    """The placement of ``table``'s rows on the run's sky map (shared by all rules of a run)."""
    key = (id(table), str(config.option(SKYMAP_OPTION)))
    found = _PLACEMENTS.get(key)
    if found is None or found[0]() is not table:
        for stale in [k for k, (ref, _) in _PLACEMENTS.items() if ref() is None]:
            del _PLACEMENTS[stale]
        found = (weakref.ref(table), Placement(skymap_for(config)))
        _PLACEMENTS[key] = found
    return found[1]


# -- constraints --------------------------------------------------------------------------


def _has_footprint(table: Any) -> np.ndarray:
    return footprints.has_footprint(table)


def _not_level3(table: Any) -> np.ndarray:
    if "level" not in table.colnames:
        return np.ones(len(table), dtype=bool)
    return np.asarray(np.ma.filled(table["level"], 0)).astype(str) != "3"


SELECT = (
    isin("exposure_type", EXPOSURE_TYPE),
    Constraint("level is not 3", _not_level3, "a Level 3 product, not an exposure"),
)
def _has_element(table: Any) -> np.ndarray:
    if "optical_element" not in table.colnames:
        return np.zeros(len(table), dtype=bool)
    values = np.char.strip(np.asarray(np.ma.filled(table["optical_element"], "")).astype(str))
    return values != ""


HAS_ELEMENT = Constraint("has an optical element", _has_element,
                         "no optical_element: no filter to name the mosaic by")
HAS_FOOTPRINT = Constraint(
    "has a footprint (s_region, or ra_ref and dec_ref)",
    _has_footprint,
    "no s_region and no ra_ref/dec_ref: cannot be placed on skycells",
)


# -- the per-filter rules -----------------------------------------------------------------


def _columns(table: Any, names: Sequence[str]) -> list[list]:
    return [table[name].tolist() for name in names]


def _grouping_keys(grouping: str):
    columns = GROUPING_COLUMNS[grouping] + ("optical_element",)

    def keys(table: Any, rows: np.ndarray, config: RunConfig) -> Iterable[tuple[int, tuple]]:
        where = placement(table, config)
        where.place(table, rows)
        values = _columns(table, columns)
        *grouping_values, elements = values
        for i in rows.tolist():
            head = tuple(column[i] for column in grouping_values)
            for name in where.skycell_names(i):
                yield i, head + (name, elements[i])

    return keys


def _element(value: Any) -> str:
    return str(value).strip().lower()


def _product_name(grouping: str):
    def product_name(group: Group, config: RunConfig) -> str:
        key = group.key
        code = grouping_code(grouping, key)
        return level3_name(key["program"], config.data_release_id, f"{code}_{key['skycell']}",
                           key["optical_element"])

    return product_name


def skycell_extras(group: Group, config: RunConfig) -> dict[str, Any]:
    """``target``, ``skycell_wcs_info`` and ``program``; and the members placed approximately, if any."""
    where = placement(group.view.table, config)
    name = group.key["skycell"]
    extras: dict[str, Any] = {
        "target": name,
        "skycell_wcs_info": where.wcs_info(name),
        "program": program_id(group.key["program"]),
    }
    if not where.approximated:
        return extras
    filenames = group.view.column("filename")
    approximate = sorted({member_filename(filenames[i], "cal") for i in group.rows
                          if where.source.get(i) == footprints.SOURCE_APPROXIMATE})
    if approximate:
        extras[APPROXIMATE_KEY] = {"members": approximate, "footprint": footprints.APPROXIMATION}
    return extras


def grouping_rule(grouping: str) -> Rule:
    scope = GROUPING_SCOPES[grouping]
    return Rule(
        name=f"skycell_{grouping}",
        asn_type="image",
        level=3,
        select=SELECT,
        constraints=(HAS_ELEMENT, HAS_FOOTPRINT),
        group_by=GROUPING_COLUMNS[grouping] + ("skycell", "optical_element"),
        keys=_grouping_keys(grouping),
        member=MemberSpec("science", "cal"),
        product_name=_product_name(grouping),
        extras=skycell_extras,
        needs=(SKYMAP_OPTION,),
        summary=f"WFI_IMAGE exposures of one {scope} meeting one skycell, per optical element",
    )


# -- multiband ----------------------------------------------------------------------------


def _multiband_keys(table: Any, rows: np.ndarray, config: RunConfig) -> Iterable[tuple[int, tuple]]:
    where = placement(table, config)
    where.place(table, rows)
    needed = sorted({c for g in GROUPINGS for c in GROUPING_COLUMNS[g]})
    values = dict(zip(needed, _columns(table, needed)))
    for i in rows.tolist():
        names = where.skycell_names(i)
        if not names:
            continue
        row = {column: values[column][i] for column in needed}
        codes = [(g, grouping_code(g, row)) for g in GROUPINGS]
        for name in names:
            for grouping, code in codes:
                yield i, (grouping, code, row["program"], name)


def multiband_name(group: Group, config: RunConfig) -> str:
    key = group.key
    return level3_name(key["program"], config.data_release_id, f"{key['grouping_code']}_{key['skycell']}")


def build_multiband(rule: Rule, groups: Sequence[Group], names: Sequence[str], config: RunConfig) -> list[Association]:
    """One association per group: the group's filters' coadd products as members."""
    reference = config.option(PSF_OPTION)
    constraints = (f"{EXPOSURE_TYPE} exposures with a footprint; grouped by grouping, program and skycell; "
                   "members: the per-filter skycell mosaics (_coadd.asdf)")
    built = []
    for group, name in zip(groups, names):
        elements = sorted({_element(e) for e in group.values("optical_element")})
        members = tuple(Member(f"{name}_{element}_coadd.asdf", "science") for element in elements)
        extras = skycell_extras(group, config)
        extra = {key: value for key, value in extras.items() if key == APPROXIMATE_KEY}
        if reference:
            extra["psf_match_reference_filter"] = _element(reference).upper()  # romancal's case
        built.append(Association(
            products=(Product(name, members),),
            asn_type="multiband",
            asn_rule=rule.name,
            asn_pool=config.pool_name,
            program=extras["program"],
            target=extras["target"],
            version_id=config.version_id,
            code_version=romanasn.__version__,
            constraints=constraints,
            data_release_id=config.data_release_id,
            skycell_wcs_info=extras["skycell_wcs_info"],
            extra=extra,
        ))
    return built


MULTIBAND_RULE = Rule(
    name=MULTIBAND,
    asn_type="multiband",
    level=3,
    select=SELECT,
    constraints=(HAS_ELEMENT, HAS_FOOTPRINT),
    group_by=("grouping", "grouping_code", "program", "skycell"),
    keys=_multiband_keys,
    member=MemberSpec("science", None),
    product_name=multiband_name,
    needs=(SKYMAP_OPTION,),
    summary="per visit, pass, day and program and skycell: the per-filter skycell mosaics (_coadd.asdf)",
)

RULES: tuple[Rule, ...] = tuple(grouping_rule(g) for g in GROUPINGS) + (MULTIBAND_RULE,)
