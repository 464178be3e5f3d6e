"""Members that exist: the member files a run names, checked against the pool and a folder.

A rule names each member after its pool row's file, at the level its
:class:`~romanasn.plugins.types.MemberSpec` asks for (``x_cal.asdf`` -> ``x_uncal.asdf``).
Two checks follow from that, both mode-agnostic:

- :func:`earlier_levels`: members at an earlier level than the file the pool saw (a pool of
  ``_cal`` files and a rule wanting the ``_uncal`` ones): the pool cannot tell whether those
  files exist, so the run says so once per rule.
- :func:`missing_members`: with the folder of the member files, the members derived from pool
  rows that are not there (members a pack makes from other products are not checked).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
from attrs import frozen

from romanasn.errors import RomanasnError, UsageError
from romanasn.naming import member_filename, suffix_level

log = logging.getLogger("romanasn")

__all__ = ["EarlierLevels", "check", "earlier_levels", "missing_members", "pool_members"]


@frozen
class EarlierLevels:
    """A rule whose members are at an earlier level than the pool's files of those exposures."""

    rule: str
    plugin: str
    count: int
    suffix: str
    level: int

    def message(self) -> str:
        """One line: what was seen and what to do."""
        return (f"rule {self.rule} ({self.plugin}): {self.count} member{'s' if self.count != 1 else ''} "
                f"{'are' if self.count != 1 else 'is'} _{self.suffix} (Level {self.level}) files, but the pool "
                f"lists later levels of those exposures; romancal needs the _{self.suffix} files: make the pool "
                f"from them too, or give --member-dir DIR to check that they exist")


def _specs(rule_plan) -> Iterator[tuple[object, np.ndarray]]:
    """(member spec, rows) of a rule plan: its own rows, then each companion's rows (sorted, each once)."""
    rule, groups = rule_plan.rule, rule_plan.groups
    for spec, rows in [(rule.member, groups.rows)] + [(c.member, r) for c, (r, _) in zip(rule.companions, groups.companions)]:
        yield spec, np.unique(np.asarray(rows, dtype=np.int64))


def earlier_levels(plan) -> list[EarlierLevels]:
    """Per rule of ``plan`` (an engine Plan), the members at a level earlier than their row's file."""
    if "level" not in plan.view.table.colnames:
        return []
    levels = np.array([level or 0 for level in plan.view.column("level")], dtype=np.int64)
    found = []
    for rule_plan in plan.plans:
        for spec, rows in _specs(rule_plan):
            wanted = suffix_level(spec.suffix)
            if wanted is None or not len(rows):
                continue
            count = int(np.count_nonzero(levels[rows] > wanted))
            if count:
                plugin = rule_plan.entry.plugin.label
                found.append(EarlierLevels(rule_plan.rule.name, plugin, count, spec.suffix, wanted))
    return found


def pool_members(plan) -> set[str]:
    """The file names of every member ``plan`` derives from pool rows."""
    filenames = plan.view.column("filename")
    names: set[str] = set()
    for rule_plan in plan.plans:
        for spec, rows in _specs(rule_plan):
            names.update(member_filename(filenames[i], spec.suffix) for i in rows.tolist())
    return names


def missing_members(names: set[str], folder: str | os.PathLike) -> list[str]:
    """The names in ``names`` that are not files in ``folder`` (all of them when it is absent), sorted."""
    try:
        present = {entry.name for entry in os.scandir(folder) if entry.is_file()}
    except FileNotFoundError:
        present = set()
    except OSError as exc:
        raise UsageError(f"--member-dir {folder}: cannot list it: {exc.strerror or exc}") from exc
    return sorted(names - present)


def check(plan, member_dir: str | os.PathLike | None, strict: bool = False) -> list[str]:
    """Say what may be missing before a run writes anything; return the missing member files.

    Without ``member_dir``, one warning per rule whose members are at an earlier level than
    the pool's files. With it, the members derived from pool rows that are not in it: a
    warning naming the count and the first few, or with ``strict`` a
    :class:`~romanasn.errors.RomanasnError` (nothing is written).
    """
    if member_dir is None:
        for found in earlier_levels(plan):
            log.warning("%s", found.message())
        return []
    missing = missing_members(pool_members(plan), member_dir)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        where = member_dir if Path(member_dir).is_dir() else f"{member_dir} (no such folder)"
        text = f"{len(missing)} member file{'s' if len(missing) != 1 else ''} not in {where}: {shown}"
        if strict:
            raise RomanasnError(f"{text} (--strict: nothing written)")
        log.warning("%s (--strict makes this an error)", text)
    return missing
