"""Associations to validated file bytes.

:class:`Encoder` makes the bytes of an association record's file (the object
lane), JSON exactly as :func:`romanasn.asnfile.dumps` makes it, after
validating it against ``schemas/asn.schema.json``; :func:`check_file` validates
the bytes of a file the columnar lane made. Both validate with the schema
compiled by jsonschema-rs (see :func:`romanasn.asnfile.validate`).
"""

from __future__ import annotations

import math
import os
from json.encoder import encode_basestring_ascii as _string
from typing import Any

import orjson

from attrs import evolve

from romanasn import asnfile
from romanasn.errors import AsnError
from romanasn.records import Association, Product

__all__ = ["Encoder", "check_file", "encode_json", "extension"]


# -- JSON as json.dumps(..., indent=N) writes it ------------------------------------------------


def encode_json(value: Any, indent: int = 4, level: int = 0) -> str:
    """``json.dumps(value, indent=indent)``, byte for byte, nested at ``level``; faster.

    The standard library uses its pure-Python encoder when asked to indent;
    this one joins strings and encodes text with the C helper.
    """
    kind = type(value)
    if kind is str:
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + " " * (indent * (level + 1))
        items = [inner + _key(k) + ": " + encode_json(v, indent, level + 1) for k, v in value.items()]
        return "{" + ",".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = "\n" + " " * (indent * (level + 1))
        return "[" + ",".join(inner + encode_json(v, indent, level + 1) for v in value) + "\n" + " " * (indent * level) + "]"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class NotJSON(ValueError):
    """A value JSON cannot hold (NaN, an infinity), met while encoding."""


def _float(value: float) -> str:
    if value != value or math.isinf(value):
        raise NotJSON(f"{value!r} is not a JSON number (NaN and infinities are not JSON)")
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return _string(int.__repr__(key))
    if isinstance(key, float):
        return _string(_float(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


# -- associations to checked bytes --------------------------------------------------------------


def extension(format: str) -> str:
    """The file extension of association files in ``format`` (``.json``, ``.yaml``, ``.asdf``)."""
    if format not in asnfile.EXTENSIONS:
        raise AsnError(f"unknown association format {format!r}; use one of {', '.join(asnfile.EXTENSIONS)}")
    return asnfile.EXTENSIONS[format][len("_asn"):]


def check_file(data: bytes | memoryview, source: str) -> None:
    """Validate the bytes of a JSON association file; AsnError naming ``source`` when invalid."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise AsnError(f"{source}: not JSON: {exc}") from exc
    asnfile.validate(document, source)


class Encoder:
    """Turns association records into validated file bytes.

    JSON files are made as :func:`romanasn.asnfile.dumps` makes them, byte
    for byte; YAML and ASDF files through :mod:`romanasn.asnfile`. Every
    association is validated against ``schemas/asn.schema.json`` before it is
    encoded; ``member_prefix`` is put before every member name.
    """

    def __init__(self, format: str = "json", member_prefix: str | None = None) -> None:
        extension(format)
        self.format = format
        self.prefix = member_prefix

    def encode(self, association: Association, source: str) -> bytes:
        """The file bytes of ``association``; AsnError naming ``source`` when it is invalid."""
        association = self._relocated(association)
        try:
            data = asnfile.to_dict(association)
        except AsnError as exc:
            raise AsnError(f"{source}: {exc}") from exc
        asnfile.validate(data, source)
        if self.format != "json":
            return asnfile.dumps(association, self.format)
        try:
            return (encode_json(data, 4) + "\n").encode("utf-8")
        except NotJSON as exc:
            raise AsnError(f"{source}: {exc}") from exc

    def _relocated(self, association: Association) -> Association:
        if self.prefix is None:
            return association
        products = tuple(
            Product(p.name, tuple(evolve(m, expname=os.path.join(self.prefix, m.expname)) for m in p.members))
            for p in association.products
        )
        return evolve(association, products=products)
