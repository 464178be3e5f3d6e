"""``romanasn new-pack NAME -o DIR``: the skeleton of a rule pack, ready to install.

The skeleton is rendered from the templates in ``romanasn_newpack/templates``
(shipped in the wheel): a ``pyproject.toml`` with the ``romanasn`` entry point,
a rule, a naming override (``romanasn_file_stem``) and tests. It installs with
pip and passes its own tests as written; the author's guide in the
documentation goes on from there.

Names follow from NAME: ``my-survey`` (or ``romanasn-my-survey``) gives the
distribution ``romanasn-my-survey``, the package ``romanasn_my_survey`` and
the rule-name prefix ``my_survey``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import attrs
from attrs import frozen

from romanasn import RomanasnError, UsageError
from romanasn import __version__ as kernel_version

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = ["DIST_PREFIX", "PackNames", "configure", "pack_names", "render", "run", "templates", "write_pack"]

#: The distribution-name prefix every pack shares (``romanasn-<name>``).
DIST_PREFIX = "romanasn-"

_SHORT = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_PACKAGE_DIR = "__package__"
_SUFFIX = ".tmpl"


@frozen
class PackNames:
    """The names a pack's skeleton uses, all derived from the NAME given.

    ``short`` is NAME normalised (``my-survey``), ``dist`` the distribution
    and entry-point name (``romanasn-my-survey``), ``package`` the import
    package (``romanasn_my_survey``) and ``prefix`` what every rule name
    starts with (``my_survey``).
    """

    short: str
    dist: str
    package: str
    prefix: str


def pack_names(name: str) -> PackNames:
    """The names of a pack called ``name``; a :class:`~romanasn.errors.UsageError` when it cannot be one.

    Case, ``_`` and ``.`` are normalised as packaging does (``My_Survey`` is
    ``my-survey``) and a leading ``romanasn-`` is dropped. What is left must
    start with a letter and hold only letters, digits and single hyphens.
    """
    normal = re.sub(r"[-_.]+", "-", name.strip()).lower()
    short = normal[len(DIST_PREFIX):] if normal.startswith(DIST_PREFIX) else normal
    if not _SHORT.match(short) or short == "romanasn":
        raise UsageError(
            f"new-pack: {name!r} cannot name a pack: use letters, digits and hyphens, "
            "starting with a letter (for example my-survey)"
        )
    prefix = short.replace("-", "_")
    return PackNames(short=short, dist=DIST_PREFIX + short, package="romanasn_" + prefix, prefix=prefix)


def _requirement() -> str:
    """The kernel requirement a new pack declares: this kernel's major.minor release or newer."""
    match = re.match(r"^(\d+)\.(\d+)", kernel_version)
    return f"romanasn>={match[1]}.{match[2]}" if match else "romanasn"


def templates() -> Traversable:
    """The folder of skeleton templates inside this installed package."""
    return resources.files("romanasn_newpack").joinpath("templates")


def _walk(folder: Traversable, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from _walk(entry, parts + (entry.name,))
        elif entry.name.endswith(_SUFFIX):
            yield parts + (entry.name[: -len(_SUFFIX)],), entry


def _fill(text: str, values: dict[str, str], source: str) -> str:
    def replace(match: re.Match) -> str:
        key = match[1]
        if key not in values:
            raise RomanasnError(f"template {source}: unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


def render(name: str) -> dict[str, str]:
    """The skeleton of the pack ``name``: relative POSIX path -> file text, in path order."""
    names = pack_names(name)
    values = {**attrs.asdict(names), "requirement": _requirement()}
    files = {}
    for parts, entry in _walk(templates()):
        path = "/".join(names.package if part == _PACKAGE_DIR else part for part in parts)
        files[path] = _fill(entry.read_text("utf-8"), values, "/".join(parts))
    if not files:
        raise RomanasnError(f"no pack templates found in {templates()}: the romanasn-newpack installation is incomplete")
    return dict(sorted(files.items()))


def write_pack(name: str, out_dir: str | os.PathLike = ".") -> Path:
    """Write the skeleton of the pack ``name`` into ``out_dir/<distribution>/``; return that folder.

    The folder may exist only when empty: nothing is ever overwritten.
    """
    names = pack_names(name)
    files = render(name)
    root = Path(out_dir) / names.dist
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise RomanasnError(f"new-pack: {root} exists and is not an empty folder; choose another -o DIR or name")
    try:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RomanasnError(f"new-pack: cannot write {root}: {exc.strerror or exc}") from exc
    return root


def _installed(dist: str) -> str | None:
    """The version of an installed distribution of this name, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


DESCRIPTION = ("Write a rule pack's skeleton (pyproject with the entry point, a rule, a naming override,"
               " tests) into DIR/romanasn-NAME.")
EXAMPLES = "examples:\n  romanasn new-pack my-survey -o .\n  pip install -e ./romanasn-my-survey"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments, description and examples of ``romanasn new-pack`` to ``parser``."""
    parser.description, parser.epilog = DESCRIPTION, EXAMPLES
    parser.add_argument("name", metavar="NAME",
                        help="the pack's name, e.g. my-survey (the distribution is romanasn-my-survey)")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=".",
                        help="folder to create the pack's folder in (default: the current folder)")


def run(args: argparse.Namespace, pm: Any = None) -> int:
    """Write the skeleton named by ``args.name`` into ``args.output_dir``; print the next steps."""
    names = pack_names(args.name)
    installed = _installed(names.dist)
    root = write_pack(args.name, args.output_dir)
    if installed:
        print(f"romanasn: note: {names.dist} {installed} is installed already; installing this copy takes"
              " its place", file=sys.stderr)
    if not getattr(args, "quiet", False):
        print(f"wrote the pack {names.dist} to {root}/:")
        for relative in render(args.name):
            print(f"  {relative}")
        print("next:")
        print(f"  cd {root}")
        print('  python -m pip install -e ".[test]"')
        print("  python -m pytest")
        print(f"  romanasn rules          # lists {names.prefix}_detector_stack")
    return 0
