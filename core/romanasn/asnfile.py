"""Association files: records to romancal's mapping and back, validation, reading and writing.

JSON is what romancal reads; YAML and ASDF hold the same mapping. ``schemas/asn.schema.json``
is the single source of truth for a valid association: :func:`validate` runs a checker
compiled from that schema (fast) and asks jsonschema only to explain a failure.

asdf, jsonschema and yaml are imported when first needed: a run writing JSON files
that are all valid never imports them.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import numbers
import os
import re
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping

import attrs

from romanasn.errors import AsnError
from romanasn.inputs import open_regular, replacing
from romanasn.records import Association, Member, Product, Provenance

if TYPE_CHECKING:
    import jsonschema

#: File name endings of association files, by format.
#: The run report romanasn.output writes beside the association files of a run.
RUN_REPORT = "romanasn-run.json"
EXTENSIONS = {"json": "_asn.json", "yaml": "_asn.yaml", "asdf": "_asn.asdf"}

#: Top-level keys in the order romancal writes them; extra keys, ``romanasn`` and
#: ``products`` follow.
TOP_KEYS = (
    "asn_type",
    "asn_rule",
    "version_id",
    "code_version",
    "degraded_status",
    "program",
    "constraints",
    "asn_id",
    "target",
    "asn_pool",
    "data_release_id",
    "skycell_wcs_info",
)
_RESERVED = frozenset(TOP_KEYS) | {"romanasn", "products"}
_MEMBER_KEYS = frozenset({"expname", "exptype", "exposerr"})
_ASDF_KEYS = ("asdf_library", "history")  # added by asdf itself, not part of the association
_SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".asdf": "asdf"}
_MAX_ERRORS = 3


# --- records <-> mapping -------------------------------------------------------------------


def to_dict(asn: Association) -> dict:
    """The association as the plain mapping romancal reads, keys in romancal's order."""
    _no_clash(asn.extra, _RESERVED, "$")
    d: dict[str, Any] = {key: getattr(asn, key) for key in TOP_KEYS}
    d["skycell_wcs_info"] = _plain(asn.skycell_wcs_info, "$.skycell_wcs_info")
    for key in sorted(asn.extra):
        d[key] = _plain(asn.extra[key], f"$.{key}")
    if asn.provenance is not None:
        d["romanasn"] = attrs.asdict(asn.provenance)
    d["products"] = [
        {"name": p.name, "members": [_member_dict(m) for m in p.members]} for p in asn.products
    ]
    return d


def _member_dict(member: Member) -> dict:
    d = {"expname": member.expname, "exptype": member.exptype}
    if member.exposerr is not None:
        d["exposerr"] = member.exposerr
    if member.extra:
        _no_clash(member.extra, _MEMBER_KEYS, f"member {member.expname}")
        for key in sorted(member.extra):
            d[key] = _plain(member.extra[key], f"member {member.expname}: {key}")
    return d


def _no_clash(extra: Mapping, reserved: frozenset, where: str) -> None:
    clash = reserved.intersection(extra)
    if clash:
        raise AsnError(f"{where}: extra keys {sorted(clash)} clash with the record's own fields")


def from_dict(d: Mapping) -> Association:
    """The records of an association mapping (one that passes :func:`validate`).

    Missing top-level keys take the record defaults, unknown ones go to ``extra`` and the
    ``romanasn`` object to ``provenance``. Unknown product keys are not kept.
    """
    provenance = d.get("romanasn")
    return Association(
        products=[
            Product(p["name"], [_member(m) for m in p["members"]]) for p in d["products"]
        ],
        extra={k: v for k, v in d.items() if k not in _RESERVED},
        provenance=None if provenance is None else Provenance(**provenance),
        **{key: d[key] for key in TOP_KEYS if key in d},
    )


def _member(m: Mapping) -> Member:
    return Member(
        m["expname"],
        m["exptype"],
        m.get("exposerr"),
        {k: v for k, v in m.items() if k not in _MEMBER_KEYS},
    )


def _plain(value: Any, path: str) -> Any:
    """``value`` as plain JSON data (dict, list, str, int, float, bool, None)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise AsnError(f"{path}: key {key!r} is not a string")
        return {k: _plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise AsnError(f"{path}: a {type(value).__name__} is not allowed in an association")


# --- validation ----------------------------------------------------------------------------


@functools.cache
def schema(name: str = "asn") -> dict:
    """The kernel's JSON Schema ``schemas/<name>.schema.json``: by default the association's,
    ``run`` for the run report; do not modify it."""
    text = resources.files("romanasn").joinpath(f"schemas/{name}.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def schema_validator(name: str = "asn") -> jsonschema.Draft202012Validator:
    """jsonschema's checker of :func:`schema` ``name``, the schema itself checked first."""
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema(name))
    return jsonschema.Draft202012Validator(schema(name))


@functools.cache
def _compiled() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema())


def validate(data: Mapping, source: str = "<association>") -> None:
    """Raise :class:`AsnError` naming ``source`` and the JSON paths of the first problems."""
    try:
        if _compiled().is_valid(data):
            return
    except (ValueError, TypeError):  # a value jsonschema-rs does not take: jsonschema says
        pass
    import jsonschema.exceptions

    errors = itertools.islice(schema_validator().iter_errors(data), _MAX_ERRORS)
    problems = [_describe(jsonschema.exceptions.best_match([e])) for e in errors]
    if problems:
        raise AsnError(f"{source}: invalid association: " + "; ".join(problems))


_validate = validate  # for functions whose ``validate`` argument hides it


def _describe(error: jsonschema.ValidationError) -> str:
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return f"at {error.json_path}: {message}"


# --- formats -------------------------------------------------------------------------------


def _write_json(d: dict, stream: IO[bytes]) -> None:
    try:
        text = json.dumps(d, indent=4, allow_nan=False)
    except ValueError as exc:  # NaN or an infinity
        raise AsnError(f"cannot be written as JSON: {exc}") from exc
    stream.write((text + "\n").encode("utf-8"))


def _write_yaml(d: dict, stream: IO[bytes]) -> None:
    import yaml

    yaml.safe_dump(
        d, stream, sort_keys=False, default_flow_style=False, allow_unicode=True, encoding="utf-8"
    )


def _write_asdf(d: dict, stream: IO[bytes]) -> None:
    # Without history entries the header holds only the asdf version: no dates, so the bytes
    # depend on the association (and the asdf version) alone.
    import asdf

    asdf.AsdfFile(dict(d)).write_to(stream)


def _read_asdf(data: bytes) -> Any:
    import asdf

    with asdf.open(io.BytesIO(data), lazy_load=False) as af:
        return _plain({k: v for k, v in af.tree.items() if k not in _ASDF_KEYS}, "$")


def _read_yaml(data: bytes) -> Any:
    import yaml

    return _plain(yaml.safe_load(data), "$")


_ENCODERS = {"json": _write_json, "yaml": _write_yaml, "asdf": _write_asdf}
_DECODERS = {"json": json.loads, "yaml": _read_yaml, "asdf": _read_asdf}


def _encoder(format: str) -> Callable[[dict, IO[bytes]], None]:
    if format not in _ENCODERS:
        raise AsnError(f"unknown association format {format!r}; use one of {', '.join(_ENCODERS)}")
    return _ENCODERS[format]


def dumps(asn: Association, format: str) -> bytes:
    """The association file's bytes in ``format`` ("json", "yaml" or "asdf"); deterministic."""
    stream = io.BytesIO()
    _encoder(format)(to_dict(asn), stream)
    return stream.getvalue()


def _format_from_name(name: str | os.PathLike) -> str | None:
    return _SUFFIXES.get(Path(name).suffix.lower())


def _sniff(head: bytes) -> str:
    if head.startswith(b"#ASDF"):
        return "asdf"
    return "json" if head.lstrip()[:1] == b"{" else "yaml"


# --- files ---------------------------------------------------------------------------------


def write_asn(
    asn: Association,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    overwrite: bool = False,
    validate: bool = True,
) -> Path:
    """Validate and write the association atomically; the format defaults from the extension
    (JSON when it names none). Refuses to replace an existing file unless ``overwrite``."""
    path = Path(path)
    encode = _encoder(format or _format_from_name(path) or "json")
    if not overwrite and path.exists():
        raise AsnError(f"{path}: association file exists; not overwriting it")
    try:
        d = to_dict(asn)
    except AsnError as e:
        raise AsnError(f"{path}: {e}") from e
    if validate:
        _validate(d, str(path))
    try:
        with replacing(path) as temporary, open(temporary, "xb") as stream:
            encode(d, stream)
    except OSError as e:
        raise AsnError(f"{path}: cannot write association: {e.strerror or e}") from e
    return path


def load_asn_dict(path: str | os.PathLike | IO, validate: bool = True) -> dict:
    """The raw mapping in an association file (path or binary file object), validated."""
    return _load(path, validate)[1]


def load_asn(path_or_fileobj: str | os.PathLike | IO, *, validate: bool = True) -> Association:
    """The association in a JSON, YAML or ASDF file (path or binary file object)."""
    source, d = _load(path_or_fileobj, validate)
    try:
        return from_dict(d)
    except (KeyError, TypeError, AttributeError) as e:
        raise AsnError(f"{source}: not an association: {e!r}") from e


def _load(path_or_fileobj: str | os.PathLike | IO, validate: bool) -> tuple[str, Any]:
    source, data = _read(path_or_fileobj)
    format = _format_from_name(source) or _sniff(data[:1024])
    try:
        if format != "json":  # a YAML tree whose aliases would blow it up is refused before it is built
            from romanasn import asdfheader

            asdfheader.compose_checked(data, "the file")
        d = _DECODERS[format](data)
    except Exception as e:  # any parser failure means the content is not an association
        raise AsnError(f"{source}: cannot read {format} association: {e}") from e
    if validate:
        _validate(d, source)
    return source, d


def _read(path_or_fileobj: str | os.PathLike | IO) -> tuple[str, bytes]:
    if hasattr(path_or_fileobj, "read"):
        data = path_or_fileobj.read()
        source = str(getattr(path_or_fileobj, "name", "<stream>"))
        return source, data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open_regular(path_or_fileobj) as stream:
            return str(path_or_fileobj), stream.read()
    except OSError as e:
        raise AsnError(f"{path_or_fileobj}: cannot read association: {e.strerror}") from e
