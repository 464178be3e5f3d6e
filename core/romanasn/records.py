"""The association records: Association, Product and Member.

They mirror the JSON that romancal reads (see ``schemas/asn.schema.json``):
an association holds products, a product holds members, a member names one
file (``expname``) and its role (``exptype``). Records are frozen; change one
with :func:`attrs.evolve`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import attrs
from attrs import field, frozen

NO_DEGRADED = "No known degraded exposures in association."
SOME_DEGRADED = (
    "One or more members are degraded; the reason is in each member's exposerr."
)
#: ``target`` of an association on no skycell. romancal reads ``target`` as a skycell name
#: unless it is this string (any case): resampling looks the name up in its sky map.
NO_TARGET = "None"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _mapping(value: Mapping | None) -> Mapping:
    """A private copy of ``value``; every empty mapping is one shared read-only instance."""
    return dict(value) if value else _EMPTY


def _target(value: str | None) -> str:
    """``target`` as romancal reads it: a string, :data:`NO_TARGET` for none (null in older files)."""
    return NO_TARGET if value is None else value


@frozen
class Member:
    """One input file of a product.

    ``exposerr`` is set when the exposure is degraded (the reason); ``extra``
    holds optional member keys such as ``asn_candidate``, ``group_id`` or
    ``tweakreg_catalog``.
    """

    expname: str
    exptype: str = "science"
    exposerr: str | None = None
    extra: Mapping[str, Any] = field(factory=dict, converter=_mapping)

    @property
    def degraded(self) -> bool:
        """True when the member's exposure is degraded (``exposerr`` holds the reason)."""
        return self.exposerr is not None


@frozen
class Product:
    """One output product and the members it is made from."""

    name: str
    members: tuple[Member, ...] = field(converter=tuple)


@frozen
class Provenance:
    """Which rule and plugin made an association (the ``romanasn`` object)."""

    rule: str
    plugin: str
    plugin_version: str
    kernel_version: str


@frozen
class Association:
    """One association: top-level keys as romancal writes them, and products.

    ``extra`` holds further top-level keys a rule adds (for example
    ``psf_match_reference_filter``); ``provenance`` is written as the
    top-level ``romanasn`` object. ``target`` is the skycell's name for an
    association on one skycell, else :data:`NO_TARGET` (romancal's convention).
    """

    products: tuple[Product, ...] = field(converter=tuple)
    asn_type: str = "None"
    asn_rule: str = "DMS_ELPP_Base"
    asn_id: str = "a3001"
    asn_pool: str = "none"
    program: str = "noprogram"
    target: str = field(default=NO_TARGET, converter=_target)
    version_id: str | None = None
    code_version: str = ""
    degraded_status: str = NO_DEGRADED
    constraints: str = "No constraints"
    data_release_id: str = "p"
    skycell_wcs_info: Any = "none"
    extra: Mapping[str, Any] = field(factory=dict, converter=_mapping)
    provenance: Provenance | None = None

    @property
    def members(self) -> tuple[Member, ...]:
        """All members of all products, in order."""
        return tuple(m for p in self.products for m in p.members)

    @property
    def product_name(self) -> str:
        """The first product's name, which names the association."""
        return self.products[0].name

    def evolve(self, **changes: Any) -> "Association":
        """A copy of this association with the fields named in ``changes`` replaced (it is frozen)."""
        return attrs.evolve(self, **changes)


def degraded_status(members: tuple[Member, ...]) -> str:
    """The ``degraded_status`` text for these members."""
    return SOME_DEGRADED if any(m.degraded for m in members) else NO_DEGRADED
