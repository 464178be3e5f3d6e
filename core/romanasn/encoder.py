"""Associations to validated file bytes, fast.

:class:`Encoder` makes the bytes of each association file, JSON exactly as
:func:`romanasn.asnfile.dumps` makes it, after checking the association
against the association schema. A member's text and its check are made once
however many associations hold it, which is what lets a run write a million
files in seconds rather than minutes.
"""

from __future__ import annotations

import math
import os
from json.encoder import encode_basestring_ascii as _string
from typing import Any, Mapping

from attrs import evolve

from romanasn import asnfile
from romanasn.errors import AsnError
from romanasn.records import Association, Member, Product, Provenance

__all__ = ["Encoder", "encode_json"]


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


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
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


_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description"}
_PLAIN_OBJECT = _ANNOTATIONS | {"type", "required", "properties", "additionalProperties"}
_PLAIN_ARRAY = _ANNOTATIONS | {"type", "minItems", "items"}
_MEMO = 50_000


class Checked:
    """Stands, in a mapping being checked, for the members of a product, each already checked."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


class _Checker:
    """The association schema's check, split along the schema: an object checks each of its
    keys alone, an array its length and each item; other nodes are compiled by
    :mod:`romanasn.asnfile` and remember their verdict on each repeated text.

    The same verdicts as ``asnfile.validate`` for the schema's plain objects and arrays
    (``type``, ``required``, ``properties``, ``additionalProperties: true``, ``minItems``,
    ``items``); anything else is checked as a whole. The members of a product may be given
    as :class:`Checked` when each was checked alone by :attr:`member`.
    """

    def __init__(self) -> None:
        self.schema = asnfile.schema()
        self.verdicts: dict[tuple, bool] = {}
        self.member: Any = None
        self.root: tuple[frozenset, dict] | None = None  # (required keys, check of each key) of a plain root
        self.check = self._node(self.schema, ())

    def _resolve(self, node: Mapping) -> Mapping:
        while isinstance(node, Mapping) and "$ref" in node and set(node) <= _ANNOTATIONS | {"$ref"}:
            reference = node["$ref"]
            if not reference.startswith("#/"):
                break
            target: Any = self.schema
            for part in reference[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _node(self, node: Mapping, path: tuple) -> Any:
        node = self._resolve(node)
        keys = set(node)
        if node.get("type") == "object" and keys <= _PLAIN_OBJECT and node.get("additionalProperties", True) is True:
            return self._object(node, path)
        if node.get("type") == "array" and keys <= _PLAIN_ARRAY and "items" in node:
            return self._array(node, path)
        return self._leaf(asnfile._compile(node, self.schema), node)

    def _object(self, node: Mapping, path: tuple) -> Any:
        required = frozenset(node.get("required", ()))
        properties = {name: self._node(sub, path + (name,)) for name, sub in node.get("properties", {}).items()}
        if not path:
            self.root = (required, properties)

        def check(value: Any) -> bool:
            if not isinstance(value, dict) or not required <= value.keys():
                return False
            for key, item in value.items():
                check_item = properties.get(key)
                if check_item is not None and not check_item(item):
                    return False
            return True

        return check

    def _array(self, node: Mapping, path: tuple) -> Any:
        least = node.get("minItems", 0)
        check_item = self._node(node["items"], path + ("[]",))
        if path == ("products", "[]", "members"):
            self.member = check_item

        def check(value: Any) -> bool:
            if type(value) is Checked:
                return value.count >= least
            if not isinstance(value, list) or len(value) < least:
                return False
            for item in value:
                if not check_item(item):
                    return False
            return True

        return check

    def _leaf(self, compiled: Any, node: Mapping) -> Any:
        verdicts, tag = self.verdicts, id(node)

        def check(value: Any) -> bool:
            if type(value) is not str and value is not None:
                return compiled(value)
            memo = (tag, value)
            verdict = verdicts.get(memo)
            if verdict is None:
                verdict = compiled(value)
                if len(verdicts) < _MEMO:
                    verdicts[memo] = verdict
            return verdict

        return check


class Encoder:
    """Turns associations into validated file bytes.

    JSON files are made as :func:`romanasn.asnfile.dumps` makes them, byte
    for byte, each member's text and check done once however many
    associations hold it; YAML and ASDF files through :mod:`romanasn.asnfile`.
    Every association is validated against ``schemas/asn.schema.json``
    before it is encoded.
    """

    def __init__(self, format: str = "json", member_prefix: str | None = None) -> None:
        if format not in asnfile.EXTENSIONS:
            raise AsnError(f"unknown association format {format!r}; use one of {', '.join(asnfile.EXTENSIONS)}")
        self.format = format
        self.prefix = member_prefix
        checker = _Checker()
        self.check, self.check_member, self.root = checker.check, checker.member, checker.root
        self._pieces: dict[tuple[str, Any], str] = {}
        self._provenance: dict[int, tuple[Provenance, dict]] = {}

    def encode(self, association: Association, source: str) -> bytes:
        """The file bytes of ``association``; AsnError naming ``source`` when it is invalid."""
        original = association
        association = self._relocated(association)
        if self.format != "json" or self.check_member is None:
            return self._general(association, source)
        try:
            top = self._top(association)
            texts = [(product.name, [self._member(m, o, source) for m, o in zip(product.members, was.members)])
                     for product, was in zip(association.products, original.products)]
        except AsnError:
            return self._general(association, source)
        # Every member is checked once, alone; the rest around them, key by key when the schema's
        # root is a plain object: each text value's check and text are remembered.
        head = self._head(top, [{"name": name, "members": Checked(len(members))} for name, members in texts])
        if head is None:
            return self._general(association, source)
        products = ",".join(
            '\n        {\n            "name": ' + _string(name) + ',\n            "members": ['
            + ",".join("\n                " + text for text in members) + "\n            ]\n        }"
            for name, members in texts
        )
        return ("{" + head + '\n    "products": [' + products + "\n    ]\n}\n").encode("utf-8")

    def _head(self, top: dict, products: list) -> str | None:
        """The top-level keys' text, or None when the association is not valid."""
        if self.root is None:
            checked = dict(top)
            checked["products"] = products
            if not self.check(checked):
                return None
            return "".join("\n    " + _string(k) + ": " + encode_json(v, 4, 1) + "," for k, v in top.items())
        required, checks = self.root
        if not required <= top.keys() | {"products"}:
            return None
        check = checks.get("products")
        if check is not None and not check(products):
            return None
        pieces, head = self._pieces, []
        for key, value in top.items():
            memo = type(value) is str or value is None
            piece = pieces.get((key, value)) if memo else None
            if piece is None:
                check = checks.get(key)
                if check is not None and not check(value):
                    return None
                piece = "\n    " + _string(key) + ": " + encode_json(value, 4, 1) + ","
                if memo and len(pieces) < _MEMO:
                    pieces[(key, value)] = piece
            head.append(piece)
        return "".join(head)

    def _general(self, association: Association, source: str) -> bytes:
        try:
            data = asnfile.to_dict(association)
        except AsnError as exc:
            raise AsnError(f"{source}: {exc}") from exc
        asnfile.validate(data, source)
        return asnfile.dumps(association, self.format)

    def _relocated(self, association: Association) -> Association:
        if self.prefix is None:
            return association
        products = tuple(
            Product(p.name, tuple(evolve(m, expname=os.path.join(self.prefix, m.expname)) for m in p.members))
            for p in association.products
        )
        return evolve(association, products=products)

    def _top(self, association: Association) -> dict:
        """The top-level mapping without products, as :func:`asnfile.to_dict` makes it."""
        if association.extra or type(association.skycell_wcs_info) is not str:
            whole = asnfile.to_dict(evolve(association, products=()))
            whole.pop("products")
            return whole
        top = {key: getattr(association, key) for key in asnfile.TOP_KEYS}
        provenance = association.provenance
        if provenance is not None:
            found = self._provenance.get(id(provenance))
            if found is None:
                found = (provenance, {"rule": provenance.rule, "plugin": provenance.plugin,
                                      "plugin_version": provenance.plugin_version,
                                      "kernel_version": provenance.kernel_version})
                self._provenance[id(provenance)] = found
            top["romanasn"] = found[1]
        return top

    def _member(self, member: Member, original: Member, source: str) -> str:
        """A member's JSON text, checked against the member schema (key by key, verdicts on
        repeated texts remembered)."""
        if member.extra:
            data = asnfile.to_dict(Association(products=(Product("member", (member,)),)))["products"][0]["members"][0]
            text = encode_json(data, 4, 4)
        else:
            data = {"expname": member.expname, "exptype": member.exptype}
            text = (_MEMBER_OPEN + _string(member.expname) + _MEMBER_NEXT + _string(member.exptype)
                    + ("" if member.exposerr is None else _MEMBER_ERR + _string(member.exposerr)) + _MEMBER_CLOSE)
            if member.exposerr is not None:
                data["exposerr"] = member.exposerr
        if not self.check_member(data):
            raise AsnError(f"{source}: invalid member {member.expname!r}")
        return text


_MEMBER_OPEN = '{\n                    "expname": '
_MEMBER_NEXT = ',\n                    "exptype": '
_MEMBER_ERR = ',\n                    "exposerr": '
_MEMBER_CLOSE = "\n                }"
