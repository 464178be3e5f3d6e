"""Compare two sets of association files by content: ``romanasn diff DIR_A DIR_B``.

An operator runs ``generate`` twice over the same pool, say with the
deployed and a new version of a pack, and asks what changed. Files are read
as association files (JSON, YAML or ASDF, validated; the run report and
hidden files are skipped) and matched by product name, never by file name or
``asn_id``. The result lists the associations added and removed and, for
those in both sets, the members gained, lost or altered and the top-level
keys that differ.

Some keys change on every release without changing the science: ``asn_id``
(numbering follows product names, so one new association renumbers the
rest), ``code_version`` and the versions in the ``romanasn`` provenance
object. They are ignored unless asked for (``--all-fields``); ``--ignore``
leaves out more.

Exit status: 0 when the sets are equal, 3 when they differ, 1 when a
folder or file cannot be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs
from attrs import field, frozen

from romanasn import asnfile
from romanasn.errors import AsnError

log = logging.getLogger("romanasn.diff")

#: Exit status when the two sets differ.
DIFFER = 3

#: Keys ignored unless ``--all-fields``: they change with every release, not with the science.
VOLATILE = ("asn_id", "code_version", "romanasn.plugin_version", "romanasn.kernel_version")

#: The endings of association files; the prefix of a run's staging folder (an unfinished run).
SUFFIXES = (".json", ".yaml", ".yml", ".asdf")
STAGING = ".romanasn-staging-"


@frozen
class Changed:
    """An association in both sets whose content differs.

    ``fields`` maps each differing top-level key (``romanasn.<name>`` for the
    provenance object) to its (A, B) values; ``gained`` and ``lost`` are the
    member mappings only in B or only in A; ``altered`` pairs the A and B
    mappings of members in both whose other keys (exptype, exposerr, ...)
    differ. With several products, members are matched within their product.
    """

    product: str
    file_a: str
    file_b: str
    fields: Mapping[str, tuple[Any, Any]] = field(factory=dict)
    gained: tuple[Mapping[str, Any], ...] = ()
    lost: tuple[Mapping[str, Any], ...] = ()
    altered: tuple[tuple[Mapping[str, Any], Mapping[str, Any]], ...] = ()


@frozen
class Summary:
    """One side's association, as listed when it is added or removed."""

    product: str
    file: str
    asn_rule: Any
    asn_type: Any
    members: int


@frozen
class Diff:
    """The differences between two sets of association files."""

    dir_a: str
    dir_b: str
    added: tuple[Summary, ...]
    removed: tuple[Summary, ...]
    changed: tuple[Changed, ...]
    same: int
    ignored: tuple[str, ...]

    @property
    def equal(self) -> bool:
        """True when nothing was added, removed or changed (the compared keys only)."""
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        """The differences as plain JSON data."""
        return {
            "a": self.dir_a,
            "b": self.dir_b,
            "equal": self.equal,
            "ignored": list(self.ignored),
            "added": [attrs.asdict(s) for s in self.added],
            "removed": [attrs.asdict(s) for s in self.removed],
            "changed": [
                {
                    "product": c.product,
                    "file_a": c.file_a,
                    "file_b": c.file_b,
                    "fields": {k: {"a": a, "b": b} for k, (a, b) in c.fields.items()},
                    "gained": [dict(m) for m in c.gained],
                    "lost": [dict(m) for m in c.lost],
                    "altered": [{"a": dict(a), "b": dict(b)} for a, b in c.altered],
                }
                for c in self.changed
            ],
            "same": self.same,
        }


# -- reading a set ------------------------------------------------------------------


@frozen
class _Entry:
    key: str
    path: Path
    data: Mapping[str, Any]


def association_files(folder: str | os.PathLike) -> list[str]:
    """The names of the association files in ``folder`` (not in sub-folders), unordered.

    Files ending in ``.json``, ``.yaml``, ``.yml`` or ``.asdf``; hidden files
    and the run report are left out. The folder is read once (its entries say
    which are files: no look-up per file of a million).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AsnError(f"{folder}: not a folder of association files")
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.is_file()) for entry in entries]
    except OSError as exc:
        raise AsnError(f"{folder}: cannot list the folder: {exc.strerror or exc}") from exc
    unfinished = sorted(name for name, _ in found if name.startswith(STAGING))
    if unfinished:
        log.warning("%s: holds %s, left by a run that did not finish (or is still running); "
                    "its association files may not be a complete set", folder, unfinished[0])
    return [name for name, is_file in found if is_file and not name.startswith(".") and name != asnfile.RUN_REPORT
            and os.path.splitext(name)[1].lower() in SUFFIXES]


def load_set(folder: str | os.PathLike) -> dict[str, _Entry]:
    """The associations of ``folder`` by product name (validated mappings).

    Two files naming the same product are told apart by their ``asn_rule``
    (``name [rule]``); if that is not enough, it is an error naming both.
    """
    paths = [Path(folder, name) for name in sorted(association_files(folder))]
    loaded = [(path, asnfile.load_asn_dict(path)) for path in paths]
    by_name: dict[str, list[tuple[Path, Mapping]]] = {}
    for path, data in loaded:
        by_name.setdefault(data["products"][0]["name"], []).append((path, data))
    entries: dict[str, _Entry] = {}
    for name, found in by_name.items():
        for path, data in found:
            key = name if len(found) == 1 else f"{name} [{data.get('asn_rule')}]"
            if key in entries:
                raise AsnError(f"{folder}: {entries[key].path.name} and {path.name} are both "
                               f"the association {key!r}; cannot tell them apart")
            entries[key] = _Entry(key, path, data)
    return entries


# -- comparing ----------------------------------------------------------------------


def diff_dirs(
    dir_a: str | os.PathLike,
    dir_b: str | os.PathLike,
    *,
    all_fields: bool = False,
    ignore: Iterable[str] = (),
) -> Diff:
    """Compare the association files of two folders by content.

    :param all_fields: also compare :data:`VOLATILE` keys (asn_id,
        code_version, provenance versions).
    :param ignore: further top-level keys not to compare (``romanasn.NAME``
        for a key of the provenance object).
    """
    ignored = tuple(dict.fromkeys(([] if all_fields else list(VOLATILE)) + list(ignore)))
    a, b = load_set(dir_a), load_set(dir_b)
    added = tuple(_summary(b[k]) for k in sorted(b.keys() - a.keys()))
    removed = tuple(_summary(a[k]) for k in sorted(a.keys() - b.keys()))
    changed, same = [], 0
    for key in sorted(a.keys() & b.keys()):
        found = compare(a[key], b[key], set(ignored))
        if found is None:
            same += 1
        else:
            changed.append(found)
    return Diff(str(dir_a), str(dir_b), added, removed, tuple(changed), same, ignored)


def _summary(entry: _Entry) -> Summary:
    d = entry.data
    members = sum(len(p["members"]) for p in d["products"])
    return Summary(entry.key, entry.path.name, d.get("asn_rule"), d.get("asn_type"), members)


def compare(a: _Entry, b: _Entry, ignored: set[str]) -> Changed | None:
    """How ``b`` differs from ``a`` (the same association in the two sets), or None."""
    fa, fb = _fields(a.data, ignored), _fields(b.data, ignored)
    fields = {k: (fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)}
    ma, mb = _members(a.data), _members(b.data)
    gained = tuple(mb[k] for k in mb if k not in ma)
    lost = tuple(ma[k] for k in ma if k not in mb)
    altered = tuple((ma[k], mb[k]) for k in ma if k in mb and ma[k] != mb[k])
    if not (fields or gained or lost or altered):
        return None
    return Changed(a.key, a.path.name, b.path.name, fields, gained, lost, altered)


def _fields(data: Mapping[str, Any], ignored: set[str]) -> dict[str, Any]:
    """Top-level keys but ``products``, the provenance object flattened to ``romanasn.NAME``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key == "products":
            continue
        if key == "romanasn" and isinstance(value, Mapping):
            flat.update({f"romanasn.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    names = [p["name"] for p in data["products"]]
    if len(names) > 1:
        flat["products"] = names
    return {k: v for k, v in flat.items() if k not in ignored}


def _members(data: Mapping[str, Any]) -> dict[tuple[str, str, int], Mapping[str, Any]]:
    """Members by (product name, expname, how many times it came before), in file order: a member
    listed twice is two members."""
    single = len(data["products"]) == 1
    found: dict[tuple[str, str, int], Mapping[str, Any]] = {}
    seen: Counter = Counter()
    for product in data["products"]:
        for member in product["members"]:
            shown = member if single else {"product": product["name"], **member}
            name = (product["name"], member["expname"])
            found[(*name, seen[name])] = shown
            seen[name] += 1
    return found


# -- the command ----------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``diff``'s arguments to ``parser``."""
    parser.add_argument("dir_a", metavar="DIR_A", help="the folder of association files to compare from")
    parser.add_argument("dir_b", metavar="DIR_B", help="the folder to compare with")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    parser.add_argument("--all-fields", action="store_true",
                        help="also compare " + ", ".join(VOLATILE))
    parser.add_argument("--ignore", action="append", default=[], metavar="KEY",
                        help="a top-level key not to compare (repeatable, comma-separated; "
                             "romanasn.NAME for a provenance key)")


def run(args: argparse.Namespace, pm: Any = None) -> int:
    """``romanasn diff``: print the differences; 0 when equal, 3 when they differ."""
    ignore = [name.strip() for value in args.ignore for name in value.split(",") if name.strip()]
    found = diff_dirs(args.dir_a, args.dir_b, all_fields=args.all_fields, ignore=ignore)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, default=str))
    elif not getattr(args, "quiet", False):
        print(render(found))
    return 0 if found.equal else DIFFER


def render(found: Diff) -> str:
    """The differences as text: ``+`` added, ``-`` removed, ``~`` changed, then counts."""
    lines = []
    for sign, summaries in (("+", found.added), ("-", found.removed)):
        for s in summaries:
            lines.append(f"{sign} {s.product}  ({s.asn_rule}, {s.members} member{'s' * (s.members != 1)}; {s.file})")
    for c in found.changed:
        counts = [f"+{len(c.gained)}", f"-{len(c.lost)}"] + ([f"~{len(c.altered)}"] if c.altered else [])
        lines.append(f"~ {c.product}  (members {' '.join(counts)})")
        for key, (a, b) in c.fields.items():
            lines.append(f"    {key}: {_shown(a)} -> {_shown(b)}")
        lines += [f"    + {_member(m)}" for m in c.gained]
        lines += [f"    - {_member(m)}" for m in c.lost]
        for a, b in c.altered:
            keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            change = ", ".join(f"{k} {_shown(a.get(k))} -> {_shown(b.get(k))}" for k in keys)
            lines.append(f"    ~ {a['expname']}: {change}")
    what = "equal" if found.equal else "differ"
    lines.append(f"{found.dir_a} and {found.dir_b} {what}: {len(found.added)} added, "
                 f"{len(found.removed)} removed, {len(found.changed)} changed, {found.same} the same")
    return "\n".join(lines)


def _member(m: Mapping[str, Any]) -> str:
    where = f" in {m['product']}" if "product" in m else ""
    return f"{m['expname']} ({m.get('exptype')}){where}"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
