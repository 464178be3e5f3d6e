"""Check association files and run reports: ``romanasn validate PATH...``.

A path may be a file or a folder; folders are searched recursively for
association files (``*_asn.json``, ``*_asn.yaml``, ``*_asn.asdf``) and run
reports (``romanasn-run.json``), leaving out hidden files and folders (a
run's staging area). Association files are checked against
``schemas/asn.schema.json``, run reports against ``schemas/run.schema.json``.
One line per bad file, then a summary line; exit status 1 when any is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from romanasn import asnfile
from romanasn.errors import AsnError, RomanasnError
from romanasn.output import RUN_REPORT

_SUFFIXES = tuple(asnfile.EXTENSIONS.values())


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``validate``'s arguments to ``parser``."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="association files, run reports, or folders searched recursively for them")


def run(args: argparse.Namespace, pm: Any = None) -> int:
    """``romanasn validate``: one line per bad file and a summary; 1 when any file is bad."""
    checked = bad = 0
    for path in files_to_check(args.paths):
        checked += 1
        problem = check_file(path)
        if problem:
            bad += 1
            print(problem, file=sys.stderr)
        elif args.verbose:
            print(f"{path}: valid")
    if not args.quiet:
        print(summary(checked, bad))
    return 1 if bad else 0


def summary(checked: int, bad: int) -> str:
    """``3,581 files: 3,580 valid, 1 invalid``."""
    files = "1 file" if checked == 1 else f"{checked:,} files"
    return f"{files}: {checked - bad:,} valid" + (f", {bad:,} invalid" if bad else "")


def files_to_check(paths: Iterable[str]) -> Iterator[Path]:
    """Each file given, and the association files and run reports under each folder given.

    A folder holding none of them is an error: validating nothing would pass.
    """
    for name in paths:
        path = Path(name)
        if not path.is_dir():
            yield path
            continue
        found = sorted(p for p in path.rglob("*") if _wanted(p, path))
        if not found:
            raise AsnError(f"{path}: no association file (*_asn.json, *_asn.yaml, *_asn.asdf) "
                           f"or {RUN_REPORT} in this folder or below")
        yield from found


def _wanted(path: Path, top: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(top).parts)
    return not hidden and (path.name == RUN_REPORT or path.name.endswith(_SUFFIXES)) and path.is_file()


def check_file(path: Path) -> str | None:
    """The one-line problem with ``path`` (naming it), or None when it is valid."""
    try:
        if path.name == RUN_REPORT:
            check_run_report(path)
        else:
            asnfile.load_asn(path)
    except RomanasnError as exc:
        message = str(exc)
        return message if message.startswith(str(path)) else f"{path}: {message}"
    return None


def check_run_report(path: Path) -> None:
    """Raise :class:`AsnError` when ``path`` is not a run report that ``run.schema.json`` accepts."""
    import jsonschema.exceptions

    try:
        report = json.loads(path.read_bytes())
    except OSError as exc:
        raise AsnError(f"{path}: cannot read run report: {exc.strerror}") from exc
    except ValueError as exc:
        raise AsnError(f"{path}: invalid run report: not JSON ({exc})") from exc
    error = jsonschema.exceptions.best_match(asnfile.schema_validator("run").iter_errors(report))
    if error is not None:
        raise AsnError(f"{path}: invalid run report: at {error.json_path}: {error.message[:200]}")
