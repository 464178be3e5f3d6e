"""The pool's columns, read from ``schemas/pool.schema.json``.

The schema is the single source of truth: each property is a canonical
column, its JSON type gives the column's dtype, ``x-meta`` where the value
lives in an exposure's ``roman.meta``, and ``minimum``/``maximum``,
``enum`` and ``pattern`` what :mod:`romanasn.pool` checks.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Iterable

from romanasn.errors import PluginError
from romanasn.plugins.types import PoolColumn

_DTYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@cache
def pool_schema() -> dict[str, Any]:
    """The pool row schema (parsed once; do not modify it)."""
    text = files("romanasn").joinpath("schemas/pool.schema.json").read_text("utf-8")
    return json.loads(text)


def _properties() -> dict[str, dict[str, Any]]:
    return pool_schema()["properties"]


@cache
def canonical_columns() -> tuple[PoolColumn, ...]:
    """The canonical pool columns, required ones first as in the schema."""
    required = set(pool_schema()["required"])
    return tuple(
        PoolColumn(
            name=name,
            dtype=_DTYPES[spec["type"]],
            required=name in required,
            meta=spec.get("x-meta"),
            description=spec.get("description", ""),
        )
        for name, spec in _properties().items()
    )


@cache
def enums() -> dict[str, tuple[str, ...]]:
    """The allowed values of each enumerated column."""
    return {name: tuple(spec["enum"]) for name, spec in _properties().items() if "enum" in spec}


@cache
def ranges() -> dict[str, tuple[int | float, int | float]]:
    """The inclusive ``(minimum, maximum)`` of each bounded column, integer or number."""
    return {
        name: (spec["minimum"], spec["maximum"])
        for name, spec in _properties().items()
        if "minimum" in spec and "maximum" in spec
    }


@cache
def patterns() -> dict[str, str]:
    """The regular expression each patterned string column must match."""
    return {name: spec["pattern"] for name, spec in _properties().items() if "pattern" in spec}


def merge_columns(extra: Iterable[PoolColumn]) -> tuple[PoolColumn, ...]:
    """The canonical columns followed by the pack-declared ``extra`` ones.

    A pack column may repeat a canonical or another pack's column with the
    same dtype (it is listed once); a different dtype is a
    :class:`~romanasn.errors.PluginError`.
    """
    merged = {column.name: column for column in canonical_columns()}
    for column in extra:
        known = merged.setdefault(column.name, column)
        if known.dtype != column.dtype:
            origin = "the canonical" if column.name in _properties() else "another pack's"
            raise PluginError(
                f"pool column {column.name!r}: declared as {column.dtype} by a pack,"
                f" but {origin} column is {known.dtype}"
            )
    return tuple(merged.values())
