"""The rule packs shipped in this repository, as the documentation and the gallery see them.

A shipped pack is a folder ``plugins/<dist>/`` with a ``pyproject.toml`` that
declares an entry point in the group ``romanasn``. Its hooks module is
imported by that entry point's value, so the pack must be installed (``make
setup`` installs every pack in editable mode). Runs over the example pool
load each pack by hand, beside the kernel alone: what is installed elsewhere
in the environment never changes the documentation.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
EXAMPLE_POOL = REPO / "examples" / "pool.ecsv"
GROUP = "romanasn"


@dataclass
class Pack:
    """One shipped pack: where it lives, what its pyproject says, and its hooks module."""

    dist: str
    folder: Path
    description: str
    entry_point: str
    module: ModuleType | None = None
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The installed version, or the module's ``__version__``."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.dist)
        except PackageNotFoundError:
            return str(getattr(self.module, "__version__", "unknown"))

    @property
    def pair(self) -> tuple[ModuleType, str]:
        """``(module, dist)``, as :func:`romanasn.testing.manager_with` takes it."""
        if self.module is None:
            raise RuntimeError(f"pack {self.dist} could not be imported: {self.error}")
        return self.module, self.dist


def _example_options(dist: str) -> dict[str, Any]:
    """Options a pack needs to run on the example pool: the example sky map, first found of
    ``examples/skymap*.asdf``, ``tests/data/**/skymap*.asdf``, ``plugins/*/tests/data/**/skymap*.asdf``."""
    places = ("examples/skymap*.asdf", "tests/data/**/skymap*.asdf", "plugins/*/tests/data/**/skymap*.asdf")
    found = [path for pattern in places for path in sorted(REPO.glob(pattern))]
    return {"skymap": str(found[0])} if found else {}


@functools.cache
def shipped_packs() -> tuple[Pack, ...]:
    """Every pack under ``plugins/``, by distribution name; unimportable ones carry ``error``."""
    packs = []
    for pyproject in sorted(PLUGINS.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text("utf-8")).get("project", {})
        entry_points = project.get("entry-points", {}).get(GROUP, {})
        dist = project.get("name", pyproject.parent.name)
        if dist not in entry_points:
            continue
        pack = Pack(dist=dist, folder=pyproject.parent, description=project.get("description", ""),
                    entry_point=entry_points[dist], options=_example_options(dist))
        try:
            pack.module = importlib.import_module(pack.entry_point)
        except Exception as exc:  # reported on the pack's page, not fatal
            pack.error = f"{type(exc).__name__}: {exc}"
        packs.append(pack)
    return tuple(packs)


def pack(dist: str) -> Pack | None:
    """The shipped pack of this distribution name, or None."""
    return next((p for p in shipped_packs() if p.dist == dist), None)


def importable_packs() -> list[Pack]:
    """The shipped packs that import."""
    return [p for p in shipped_packs() if p.module is not None]


def manager(packs: list[Pack] | None = None, extra: tuple = ()) -> Any:
    """A plugin manager with the kernel and ``packs`` (default: every importable shipped pack)."""
    from romanasn.testing import manager_with

    chosen = importable_packs() if packs is None else packs
    return manager_with(*[p.pair for p in chosen], *extra)


def run_example(packs: list[Pack] | None = None) -> Any:
    """``generate`` over ``examples/pool.ecsv`` with ``packs``; returns the :class:`romanasn.Result`."""
    return _run_example(tuple(p.dist for p in (importable_packs() if packs is None else packs)))


@functools.cache
def _run_example(dists: tuple[str, ...]) -> Any:
    from romanasn import RunConfig, generate, read_pool

    chosen = [pack(d) for d in dists]
    pm = manager(chosen)
    options: dict[str, Any] = {}
    for p in chosen:
        options.update(p.options)
    known = {found.item.dest for found in pm.generate_options()}
    config = RunConfig(pool_name=EXAMPLE_POOL.stem, options={k: v for k, v in options.items() if k in known})
    pool = read_pool(EXAMPLE_POOL, columns=[found.item for found in pm.pool_columns()])
    quiet = logging.getLogger("romanasn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return generate(pool, config=config, plugin_manager=pm)
    finally:
        quiet.setLevel(level)
