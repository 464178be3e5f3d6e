"""File and product names: level suffixes, ids, and the safety of names."""

from __future__ import annotations

import re
import string
from typing import Any, Callable, Mapping, Sequence

from romanasn.errors import RuleError

_SUFFIXED = re.compile(r"^(?P<stem>.+)_(?P<suffix>[A-Za-z0-9]+)(?P<ext>\.[A-Za-z0-9]+)$")
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
NAME_BYTES = 200  # the longest name: room for a suffix and extension within a file system's 255 bytes


def member_filename(filename: str, suffix: str | None) -> str:
    """The file name of the same exposure at the level ``suffix`` names.

    ``member_filename("r..._wfi01_f158_uncal.asdf", "cal")`` gives
    ``"r..._wfi01_f158_cal.asdf"``; a None suffix keeps the name as it is.
    """
    if suffix is None:
        return filename
    match = _SUFFIXED.match(filename)
    if match is None:
        stem, ext = (filename.rsplit(".", 1) + [""])[:2]
        return f"{stem}_{suffix}.{ext}" if ext else f"{stem}_{suffix}"
    return f"{match['stem']}_{suffix}{match['ext']}"


def strip_level(filename: str) -> str:
    """A file name without its level suffix and extension: ``x_cal.asdf`` -> ``x``."""
    match = _SUFFIXED.match(filename)
    return match["stem"] if match else filename.rsplit(".", 1)[0]


def program_id(program: int | str) -> str:
    """The 5-digit program id: ``1`` -> ``"00001"``."""
    return f"{int(program):05d}"


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` cannot be a product or file name, or None when it can."""
    if not name:
        return "it is empty"
    if _UNSAFE.search(name):
        return "it holds a path separator or a control character"
    if ".." in name:
        return "it holds '..'"
    if not (name[0].isalnum() and all(c.isalnum() or c in "_.+-" for c in name)):
        return "only letters, digits and _ . + - may make a file name, starting with a letter or digit"
    if len(name) > NAME_BYTES:
        return f"it is {len(name)} characters long, more than {NAME_BYTES}"
    return None


def check_name(name: str, what: str, rule: str, plugin: str) -> str:
    """Return ``name``, or raise naming the rule and plugin when it is unsafe."""
    reason = unsafe_reason(name)
    if reason:
        raise RuleError(f"rule {rule!r} of plugin {plugin} made the {what} {name!r}: {reason}")
    return name


# -- Roman product names ----------------------------------------------------------
#
# Generic pieces of Roman product names, shared by rule packs. Level 3 names are
# ``r<PPPPP>_<drid>_<grouping>[_<qualifier>...]``, the grouping being one of
# :func:`visit_code`, :func:`pass_code`, :func:`daily_code`, ``full`` or ``user``.

_VISIT_ID = re.compile(r"^[0-9]{19}$")
_DETECTOR = re.compile(r"_wfi([0-9]{2})?(?=_|$)", re.IGNORECASE)
_NOT_TOKEN = re.compile(r"[^a-z0-9_-]+")


def visit_code(visit_id: str) -> str:
    """The visit grouping of a product name: ``v`` and the 14 digits after the program.

    ``visit_code("0000101001001001002")`` gives ``"v01001001001002"``
    (execution plan, pass, segment, observation, visit).
    """
    text = str(visit_id).strip()
    if not _VISIT_ID.match(text):
        raise ValueError(f"a visit id has 19 digits, got {visit_id!r}")
    return "v" + text[5:]


def pass_code(execution_plan: int | str, pass_: int | str) -> str:
    """The pass grouping of a product name: ``p`` and 5 digits, ``pass_code(1, 2)`` -> ``"p01002"``."""
    return f"p{int(execution_plan):02d}{int(pass_):03d}"


def daily_code(execution_plan: int | str, pass_: int | str, segment: int | str) -> str:
    """The daily grouping of a product name: ``d`` and 8 digits, ``daily_code(1, 2, 3)`` -> ``"d01002003"``."""
    return f"d{int(execution_plan):02d}{int(pass_):03d}{int(segment):03d}"


def name_token(value: object) -> str:
    """A pool value as a lower-case piece of a name: ``"F158"`` -> ``"f158"``, ``"IMG 16"`` -> ``"img-16"``.

    Anything but letters, digits, ``_`` and ``-`` becomes ``-``, so a token
    never adds a folder, a dot or a space to a file name.
    """
    token = _NOT_TOKEN.sub("-", str(value).strip().lower()).strip("-")
    if not token:
        raise ValueError(f"{value!r} gives an empty name token")
    return token


def level3_name(
    program: int | str, drid: str, grouping: str, element: object = None, *qualifiers: object
) -> str:
    """A Level 3 product name: ``r<PPPPP>_<drid>_<grouping>[_<element>][_<qualifier>...]``.

    The element and further qualifiers (detector, MA table, ...) go through
    :func:`name_token`; None ones are left out.
    ``level3_name(1, "p", "full", "F158")`` gives ``"r00001_p_full_f158"``;
    ``level3_name(2, "p", "im_dark", "WFI01", "IMG_16")`` gives
    ``"r00002_p_im_dark_wfi01_img_16"``.
    """
    parts = [f"r{program_id(program)}", name_token(drid), grouping]
    parts += [name_token(q) for q in (element, *qualifiers) if q is not None]
    return "_".join(parts)


def focal_plane_name(filename: str, token: str = "wfi") -> str:
    """The name of a whole exposure from one detector's file name.

    The level suffix and extension go (:func:`strip_level`) and the detector
    (``_wfi01``, or a legacy ``_WFI``) becomes ``_<token>``:
    ``"r0000101001001001001_0001_wfi07_f158_cal.asdf"`` gives
    ``"r0000101001001001001_0001_wfi_f158"``. A name with no detector in it
    gets ``_<token>`` appended.
    """
    stem = strip_level(filename)
    named, found = _DETECTOR.subn(f"_{token}", stem, count=1)
    return named if found else f"{stem}_{token}"


#: The pool columns the rows of one Level 3 grouping share (no grouping spans programs).
GROUPING_COLUMNS: dict[str, tuple[str, ...]] = {
    "visit": ("program", "visit_id"),
    "pass": ("program", "execution_plan", "pass"),
    "daily": ("program", "execution_plan", "pass", "segment"),
    "full": ("program",),
}


def grouping_code(grouping: str, values: Mapping[str, Any]) -> str:
    """The grouping part of a Level 3 name, from the grouping's column values.

    ``values`` maps the columns of ``GROUPING_COLUMNS[grouping]`` to their
    values (a group's ``key`` does): ``grouping_code("pass", {"program": 1,
    "execution_plan": 1, "pass": 2})`` gives ``"p01002"``; ``"full"`` gives
    ``"full"``.
    """
    if grouping == "visit":
        return visit_code(values["visit_id"])
    if grouping == "pass":
        return pass_code(values["execution_plan"], values["pass"])
    if grouping == "daily":
        return daily_code(values["execution_plan"], values["pass"], values["segment"])
    if grouping == "full":
        return "full"
    raise ValueError(f"unknown grouping {grouping!r}; known: {', '.join(GROUPING_COLUMNS)}")


#: The processing level of Roman's exposure file suffixes (``x_uncal.asdf`` is Level 1).
SUFFIX_LEVELS = {"uncal": 1, "rate": 2, "cal": 2, "coadd": 3}


def suffix_level(suffix: str | None) -> int | None:
    """The processing level a file-name suffix stands for, or None when it names no level."""
    return SUFFIX_LEVELS.get(suffix) if suffix else None


# -- product name templates ---------------------------------------------------------------------

#: The conversions a product name template may apply to a key value (``{column:conversion}``).
TEMPLATE_CONVERSIONS: dict[str, Callable[[Any], str]] = {
    "token": name_token,
    "program": program_id,
    "visit": visit_code,
    "stem": strip_level,
}
_INTEGER_FORMAT = re.compile(r"^0?[1-9]?d$")


def template_conversion(spec: str | None) -> Callable[[Any], str]:
    """The function a template field's conversion stands for (None: the value as text)."""
    if spec is None:
        return str
    if spec in TEMPLATE_CONVERSIONS:
        return TEMPLATE_CONVERSIONS[spec]
    return lambda value: format(int(value), spec)


def parse_template(text: str, columns: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """The pieces ``(literal, field, conversion)`` of a product name template; ValueError when
    it names a field that is not one of ``columns`` nor ``drid``, or an unknown conversion.

    In a template, ``{column}`` is the group's value of one of the rule's ``group_by`` columns
    as text; ``{column:conversion}`` the value converted: ``token`` (:func:`name_token`),
    ``program`` (:func:`program_id`), ``visit`` (:func:`visit_code`), ``stem``
    (:func:`strip_level`), or an integer format such as ``03d``; ``{drid}`` is the data release
    id as a name token. ``"r{program:program}_{drid}_{visit_id:visit}_{optical_element:token}"``
    gives ``r00001_p_v01001001001002_f158``.
    """
    parts = []
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"product name template {text!r}: {exc}") from None
    for literal, field, spec, conversion in pieces:
        if conversion:
            raise ValueError(f"product name template {text!r}: !{conversion} is not allowed")
        if field is not None and field != "drid" and field not in columns:
            raise ValueError(f"product name template {text!r}: {{{field}}} is neither a group_by column "
                             f"({', '.join(columns)}) nor drid")
        if spec and spec not in TEMPLATE_CONVERSIONS and not _INTEGER_FORMAT.match(spec):
            raise ValueError(f"product name template {text!r}: unknown conversion {spec!r} (known: "
                             f"{', '.join(TEMPLATE_CONVERSIONS)}, or an integer format such as 03d)")
        parts.append((literal, field, spec or None))
    return parts
