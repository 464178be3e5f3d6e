"""File and product names: level suffixes, ids, and the safety of names."""

from __future__ import annotations

import re

from romanasn.errors import RuleError

_SUFFIXED = re.compile(r"^(?P<stem>.+)_(?P<suffix>[A-Za-z0-9]+)(?P<ext>\.[A-Za-z0-9]+)$")
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


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
    return None


def check_name(name: str, what: str, rule: str, plugin: str) -> str:
    """Return ``name``, or raise naming the rule and plugin when it is unsafe."""
    reason = unsafe_reason(name)
    if reason:
        raise RuleError(f"rule {rule!r} of plugin {plugin} made the {what} {name!r}: {reason}")
    return name
