"""Associations to validated file bytes, fast.

:class:`Encoder` makes the bytes of each association file, JSON exactly as
:func:`romanasn.asnfile.dumps` makes it, after checking the association
against the association schema. The schema is split along its plain objects
and arrays once, so that an association of plain values (the engine's) is
checked and written in one pass: the top-level text around ``asn_id``, the
same for every association of one rule, program and target, is made and
checked once, and each member costs a length check and a few joins. Anything
else takes a slower lane that checks key by key and says what is wrong. This
is what lets a run encode a million files in seconds rather than minutes.
"""

from __future__ import annotations

import math
import os
import re
from json.encoder import encode_basestring_ascii as _string
from typing import Any, Mapping

from attrs import evolve

from romanasn import asnfile
from romanasn.errors import AsnError
from romanasn.records import Association, Member, Product, Provenance

__all__ = ["Encoder", "encode_json", "extension"]


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
        # By path from the root ("[]" for an array's items): the plain objects' (required keys, check
        # of each key), the plain arrays' minItems, and the leaves' compiled checks.
        self.objects: dict[tuple, tuple[frozenset, dict]] = {}
        self.arrays: dict[tuple, int] = {}
        self.leaves: dict[tuple, Any] = {}
        self.strings: dict[tuple, int] = {}  # leaves that take any text of at least so many characters
        self.patterns: dict[tuple, Any] = {}  # leaves that take the texts a regular expression finds
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
        compiled = self.leaves[path] = asnfile._compile(node, self.schema)
        if not keys - _ANNOTATIONS:
            self.strings[path] = 0
            return _anything
        least = node.get("minLength", 0)
        if node.get("type") == "string" and keys - _ANNOTATIONS <= {"type", "minLength"} and type(least) is int:
            self.strings[path] = least
            return _string_check(compiled, least)
        if node.get("type") == "string" and keys - _ANNOTATIONS == {"type", "pattern"} and isinstance(node["pattern"], str):
            self.patterns[path] = re.compile(node["pattern"]).search
        return self._leaf(compiled, node)

    def _object(self, node: Mapping, path: tuple) -> Any:
        required = frozenset(node.get("required", ()))
        properties = {name: self._node(sub, path + (name,)) for name, sub in node.get("properties", {}).items()}
        if not path:
            self.root = (required, properties)
        self.objects[path] = (required, properties)

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
        self.arrays[path] = least

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


def _anything(value: Any) -> bool:
    """The check of a node that constrains nothing."""
    return True


def _string_check(compiled: Any, least: int) -> Any:
    """The check of a node ``{"type": "string", "minLength": least}``: a length, for a str."""

    def check(value: Any) -> bool:
        if type(value) is str:
            return len(value) >= least
        return compiled(value)

    return check


def extension(format: str) -> str:
    """The file extension of association files in ``format`` (``.json``, ``.yaml``, ``.asdf``)."""
    if format not in asnfile.EXTENSIONS:
        raise AsnError(f"unknown association format {format!r}; use one of {', '.join(asnfile.EXTENSIONS)}")
    return asnfile.EXTENSIONS[format][len("_asn"):]


class Encoder:
    """Turns associations into validated file bytes.

    JSON files are made as :func:`romanasn.asnfile.dumps` makes them, byte
    for byte (see the module's docstring for how); YAML and ASDF files through
    :mod:`romanasn.asnfile`. Every association is validated against
    ``schemas/asn.schema.json`` before it is encoded.
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
        self._heads: dict[tuple, tuple[Any, str, str]] = {}
        self._plan = _FastPlan.of(checker) if format == "json" else None
        if self._plan is not None:
            self._member_text = _member_texts(self._plan, member_prefix)

    def encode(self, association: Association, source: str) -> bytes:
        """The file bytes of ``association``; AsnError naming ``source`` when it is invalid."""
        try:
            if self._plan is not None:
                data = self._fast(association)
                if data is not None:
                    return data
            return self._keyed(association, source)
        except NotJSON as exc:
            raise AsnError(f"{source}: {exc}") from exc

    # The fast lane: an association of plain values (text, None; no top-level extra keys, no
    # WCS mapping, member extras of plain values), checked and written in one pass. Everything
    # above ``asn_id`` and below it up to the products is the same text for the associations of
    # one rule, program and target: made and checked once (in ``_heads``). Anything else, and
    # any association the lane finds invalid, goes to the keyed lane below, which says why.

    def _fast(self, a: Association) -> bytes | None:
        if a.extra:
            return None
        provenance = a.provenance
        key = (a.asn_type, a.asn_rule, a.version_id, a.code_version, a.degraded_status, a.program, a.constraints,
               a.target, a.asn_pool, a.data_release_id, a.skycell_wcs_info, id(provenance))
        try:
            head = self._heads.get(key)
        except TypeError:  # a value that cannot be a key is not plain
            return None
        # The entry holds its provenance, so no other live object has that id.
        if head is None or head[0] is not provenance:
            head = self._head_of(a, key)
            if head is None:
                return None
        plan = self._plan
        asn_id = a.asn_id
        if type(asn_id) is not str or not plan.check_id(asn_id):
            return None
        products = a.products
        if len(products) < plan.least_products or not products:
            return None
        parts = ["{", head[1], '\n    "asn_id": ', _string(asn_id), ",", head[2], '\n    "products": [']
        member = self._member_text
        opening = _PRODUCT_FIRST
        for product in products:
            name, members = product.name, product.members
            if type(name) is not str or not members or len(members) < plan.least_members or not plan.check_name(name):
                return None
            try:
                texts = ",".join(map(member, members))
            except _NotPlain:
                return None
            parts += (opening, _string(name), _PRODUCT_MEMBERS, texts, _PRODUCT_CLOSE)
            opening = _PRODUCT_NEXT
        parts.append("\n    ]\n}\n")
        return "".join(parts).encode("utf-8")

    def _head_of(self, a: Association, key: tuple) -> tuple[Any, str, str] | None:
        """The text of the top-level keys before ``asn_id`` and after it (``romanasn`` included),
        when each is plain and valid; remembered under ``key``."""
        plan = self._plan
        values = key[:-1]
        if any(v is not None and type(v) is not str for v in values):
            return None
        top = {name: getattr(a, name) for name in asnfile.TOP_KEYS}
        provenance = a.provenance
        if provenance is not None:
            fields = (provenance.rule, provenance.plugin, provenance.plugin_version, provenance.kernel_version)
            if any(type(v) is not str for v in fields):
                return None
            top["romanasn"] = dict(zip(("rule", "plugin", "plugin_version", "kernel_version"), fields))
        required, checks = plan.root
        if not required <= top.keys() | {"products"}:
            return None
        for name, value in top.items():
            if name != "asn_id" and name in checks and not checks[name](value):
                return None
        texts = ["\n    " + _string(name) + ": " + encode_json(value, 4, 1) + "," for name, value in top.items()]
        at = list(top).index("asn_id")
        head = (provenance, "".join(texts[:at]), "".join(texts[at + 1:]))
        if len(self._heads) >= _MEMO:
            self._heads.clear()
        self._heads[key] = head
        return head

    # The keyed lane: any association, checked key by key.

    def _keyed(self, association: Association, source: str) -> bytes:
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
            return "".join("\n    " + _key(k) + ": " + encode_json(v, 4, 1) + "," for k, v in top.items())
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
                piece = "\n    " + _key(key) + ": " + encode_json(value, 4, 1) + ","
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
        else:
            data = {"expname": member.expname, "exptype": member.exptype}
            if member.exposerr is not None:
                data["exposerr"] = member.exposerr
        if not self.check_member(data):
            raise AsnError(f"{source}: invalid member {member.expname!r}")
        return encode_json(data, 4, 4)


_MEMBER_OPEN = '{\n                    "expname": '
_MEMBER_START = "\n                " + _MEMBER_OPEN
_MEMBER_EXTRA = ",\n                    "
_MEMBER_FIELDS = frozenset({"expname", "exptype", "exposerr"})
_PRODUCT_FIRST = '\n        {\n            "name": '
_PRODUCT_NEXT = "," + _PRODUCT_FIRST
_PRODUCT_MEMBERS = ',\n            "members": ['
_PRODUCT_CLOSE = "\n            ]\n        }"


def _member_keys(exposerr: Any, extra: Any) -> set[str]:
    keys = {"expname", "exptype", *extra}
    if exposerr is not None:
        keys.add("exposerr")
    return keys


class _NotPlain(Exception):
    """A member the fast lane leaves to the keyed lane (not plain, or not valid)."""


def _member_texts(plan: _FastPlan, prefix: str | None) -> Any:
    """The function giving a member's text; it raises :class:`_NotPlain` for a member that is
    not plain or not valid."""
    checks, required = plan.member[1], plan.member[0]
    check_expname, check_exptype, check_exposerr = plan.check_expname, plan.check_exptype, plan.check_exposerr
    least_expname = plan.least_expname
    required_plain = plan.member_required_plain
    join = os.path.join
    tails: dict[str, str] = {}  # the text after expname of a plain member, by (valid) exptype

    def member_text(m: Member) -> str:
        expname, exptype, exposerr, extra = m.expname, m.exptype, m.exposerr, m.extra
        if prefix is not None:
            expname = join(prefix, expname)
        if type(expname) is not str or type(exptype) is not str:
            raise _NotPlain
        if least_expname is not None:
            if len(expname) < least_expname:
                raise _NotPlain
        elif not check_expname(expname):
            raise _NotPlain
        if exposerr is None and not extra:
            tail = tails.get(exptype)
            if tail is None:
                if not check_exptype(exptype) or not required_plain and not required <= _member_keys(None, ()):
                    raise _NotPlain
                tail = _MEMBER_NEXT + _string(exptype) + _MEMBER_CLOSE
                if len(tails) < 1000:
                    tails[exptype] = tail
            return _MEMBER_START + _string(expname) + tail
        if not check_exptype(exptype):
            raise _NotPlain
        text = _MEMBER_START + _string(expname) + _MEMBER_NEXT + _string(exptype)
        if exposerr is not None:
            if type(exposerr) is not str or not check_exposerr(exposerr):
                raise _NotPlain
            text += _MEMBER_ERR + _string(exposerr)
        if extra:
            names = list(extra)
            for name in names:
                if type(name) is not str or name in _MEMBER_FIELDS:
                    raise _NotPlain
            names.sort()
            for name in names:
                value = extra[name]
                kind = type(value)
                if kind is str:
                    piece = _string(value)
                elif value is None or kind is bool or kind is int or kind is float:
                    piece = encode_json(value)
                else:
                    raise _NotPlain
                check = checks.get(name)
                if check is not None and not check(value):
                    raise _NotPlain
                text += _MEMBER_EXTRA + _string(name) + ": " + piece
        if not required_plain and not required <= _member_keys(exposerr, extra):
            raise _NotPlain
        return text + _MEMBER_CLOSE

    return member_text


class _FastPlan:
    """What the fast lane needs of the schema, when the schema's root, products, product,
    members and member are plain objects and arrays (see :class:`_Checker`)."""

    def __init__(self, checker: _Checker) -> None:
        self.root = checker.objects[()]
        self.least_products = checker.arrays[("products",)]
        self.product = checker.objects[("products", "[]")]
        self.least_members = checker.arrays[("products", "[]", "members")]
        self.member = checker.objects[("products", "[]", "members", "[]")]
        compiled_id = checker.leaves.get(("asn_id",))
        self.check_id = compiled_id if compiled_id is not None and "asn_id" in self.root[1] else _anything
        pattern = checker.patterns.get(("asn_id",))
        if pattern is not None and "asn_id" in self.root[1]:  # for a str, the check is the pattern's search
            self.check_id = pattern
        if "asn_id" in self.root[1] and compiled_id is None:  # asn_id is an object or array: not plain
            raise KeyError("asn_id")
        product_required, product_checks = self.product
        if not product_required <= {"name", "members"}:
            raise KeyError("products[].required")
        self.check_name = product_checks.get("name", _anything)
        member_checks = self.member[1]
        self.check_expname = member_checks.get("expname", _anything)
        self.check_exptype = member_checks.get("exptype", _anything)
        self.check_exposerr = member_checks.get("exposerr", _anything)
        self.member_required_plain = self.member[0] <= {"expname", "exptype"}
        # The least length of the texts expname takes, when that is all its check asks.
        self.least_expname = 0 if "expname" not in member_checks else checker.strings.get(
            ("products", "[]", "members", "[]", "expname"))

    @classmethod
    def of(cls, checker: _Checker) -> _FastPlan | None:
        try:
            return cls(checker)
        except KeyError:  # not plain: every association takes the keyed lane
            return None
_MEMBER_NEXT = ',\n                    "exptype": '
_MEMBER_ERR = ',\n                    "exposerr": '
_MEMBER_CLOSE = "\n                }"
