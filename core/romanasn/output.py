"""Writing a run's associations into an output folder, all or nothing.

Files are written flat into the folder (which may exist), never outside it,
never over an existing file unless asked. Every file is validated, written to
a staging folder inside the output folder, and only moved into place when all
of them are ready, so a failing run leaves the folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

from attrs import evolve

from romanasn import asnfile
from romanasn._version import __version__
from romanasn.engine import Result
from romanasn.errors import AsnError
from romanasn.plugins.manager import PluginManager
from romanasn.plugins.types import RunConfig
from romanasn.records import Association

RUN_REPORT = "romanasn-run.json"


def write_result(
    result: Result,
    out_dir: str | os.PathLike,
    *,
    plugin_manager: PluginManager,
    config: RunConfig,
    format: str = "json",
    overwrite: bool = False,
    member_dir: str | os.PathLike | None = None,
    inputs: Iterable[str] = (),
) -> list[Path]:
    """Write every association of ``result`` and the run report into ``out_dir``.

    :param format: ``json``, ``yaml`` or ``asdf``.
    :param overwrite: replace existing association files of the same name.
    :param member_dir: where the member files are; member names are then
        written as paths relative to ``out_dir``.
    :return: the paths written, in ``asn_id`` order.
    """
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    targets = [_target(out, stem, format) for stem in result.file_stems]
    if not overwrite:
        _refuse_existing(targets)
    staging = Path(tempfile.mkdtemp(prefix=".romanasn-staging-", dir=out))
    moved: list[Path] = []
    try:
        for association, target in zip(result.associations, targets):
            association = _relocate(association, out, member_dir)
            (staging / target.name).write_bytes(_dump(association, format, target))
        kept = _keep_previous(targets + [out / RUN_REPORT], staging / ".previous")
        for target in targets:
            os.replace(staging / target.name, target)
            moved.append(target)
        _write_report(out / RUN_REPORT, result, plugin_manager, config, format, inputs, targets)
    except BaseException:
        _undo(moved, out if created else None, locals().get("kept", {}))
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if plugin_manager.wants_written():
        for association, target in zip(result.associations, targets):
            plugin_manager.association_written(association, target, config)
    return targets


def _target(out: Path, stem: str, format: str) -> Path:
    target = out / f"{stem}{asnfile.EXTENSIONS[format][len('_asn'):]}"
    if target.resolve().parent != out.resolve():
        raise AsnError(f"association file {target} would be written outside {out}")
    return target


def _refuse_existing(targets: list[Path]) -> None:
    existing = [t for t in targets if t.exists()]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise AsnError(f"{existing[0]} exists{more}; use --overwrite to replace association files")


def _relocate(association: Association, out: Path, member_dir: Any) -> Association:
    """Member names as paths from the association's folder to ``member_dir``."""
    if member_dir is None:
        return association
    prefix = os.path.relpath(Path(member_dir).resolve(), out.resolve())
    products = tuple(
        evolve(p, members=tuple(evolve(m, expname=os.path.join(prefix, m.expname)) for m in p.members))
        for p in association.products
    )
    return evolve(association, products=products)


def _dump(association: Association, format: str, target: Path) -> bytes:
    asnfile.validate(asnfile.to_dict(association), source=str(target))
    return asnfile.dumps(association, format)


def _keep_previous(paths: list[Path], folder: Path) -> dict[Path, Path]:
    """Hard-link (or copy) each existing file about to be replaced, so a failure can restore it."""
    folder.mkdir()
    kept = {}
    for path in paths:
        if path.exists():
            copy = folder / path.name
            try:
                os.link(path, copy)
            except OSError:
                shutil.copy2(path, copy)
            kept[path] = copy
    return kept


def _undo(moved: list[Path], created_dir: Path | None, kept: dict[Path, Path]) -> None:
    """Take back the files moved in, restoring those they replaced."""
    for path in moved:
        path.unlink(missing_ok=True)
    for path, copy in kept.items():
        os.replace(copy, path)
    if created_dir is not None:
        shutil.rmtree(created_dir, ignore_errors=True)


def run_report(
    result: Result, plugin_manager: PluginManager, config: RunConfig, inputs: Iterable[str] = ()
) -> dict[str, Any]:
    """What a run did: inputs, plugins, rules, counts, skipped rules, vetoes, orphans."""
    return {
        "romanasn_version": __version__,
        "inputs": [str(i) for i in inputs],
        "pool_rows": result.pool_rows,
        "data_release_id": config.data_release_id,
        "version_id": config.version_id,
        "options": {k: v for k, v in sorted(config.options.items()) if v is not None},
        "plugins": [
            {"name": i.name, "version": i.version, "status": i.status}
            for i in plugin_manager.plugin_infos()
        ],
        "rules": [
            {"name": e.name, "plugin": e.plugin.name, "version": e.plugin.version,
             "asn_type": e.rule.asn_type, "level": e.rule.level}
            for e in result.rules
        ],
        "skipped_rules": [{"name": s.rule, "plugin": s.plugin, "reason": s.reason} for s in result.skipped],
        "associations": len(result.associations),
        "counts": dict(sorted(result.counts.items())),
        "vetoes": [
            {"rule": v.rule, "filename": v.filename, "reason": v.reason, "plugin": v.plugin}
            for v in result.vetoes
        ],
        "orphans": list(result.orphans),
    }


def _write_report(
    path: Path, result: Result, pm: PluginManager, config: RunConfig, format: str,
    inputs: Iterable[str], targets: list[Path],
) -> None:
    report = run_report(result, pm, config, inputs)
    report["format"] = format
    report["files"] = [t.name for t in targets]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
