"""romanasn: association generator for the Nancy Grace Roman Space Telescope.

The kernel owns the pool, the engine, the association files and the command
line; rule packs, installed as plugins, say how exposures associate. Nothing
is loaded at import time: :func:`get_plugin_manager` builds a manager when
asked, and :func:`generate` builds one with every installed pack by default.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. They are imported when first asked for (``romanasn.X``,
# ``from romanasn import X``): importing the package alone loads neither numpy, astropy
# nor the rest, so a command starts fast.
_LAZY = {
    "__version__": "romanasn._version",
    "load_asn": "romanasn.asnfile", "write_asn": "romanasn.asnfile",
    "Result": "romanasn.engine", "generate": "romanasn.engine",
    **dict.fromkeys(["AsnError", "PluginError", "PoolError", "RomanasnError", "RuleError", "UsageError"],
                    "romanasn.errors"),
    **dict.fromkeys(["daily_code", "focal_plane_name", "grouping_code", "level3_name", "member_filename",
                     "name_token", "pass_code", "program_id", "strip_level", "visit_code"], "romanasn.naming"),
    "grouping_rules": "romanasn.grouping",
    "write_result": "romanasn.output",
    "NAME": "romanasn.plugins", "hookimpl": "romanasn.plugins",
    "get_plugin_manager": "romanasn.plugins.manager",
    **dict.fromkeys(["Command", "Companion", "Constraint", "Group", "MemberSpec", "Option", "PoolColumn", "Rule",
                     "RunConfig", "isin"], "romanasn.plugins.types"),
    "degraded_reasons": "romanasn.products",
    "read_pool": "romanasn.pool", "read_pools": "romanasn.pool", "write_pool": "romanasn.pool",
    **dict.fromkeys(["Association", "Member", "Product", "Provenance"], "romanasn.records"),
}
__all__ = list(_LAZY)  # every public name, each imported when first asked for


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name.startswith("__"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:  # a submodule not imported yet, as ``import romanasn`` used to make them all attributes
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:
    from romanasn._version import __version__
    from romanasn.asnfile import load_asn, write_asn
    from romanasn.engine import Result, generate
    from romanasn.errors import AsnError, PluginError, PoolError, RomanasnError, RuleError, UsageError
    from romanasn.naming import (
        daily_code,
        focal_plane_name,
        grouping_code,
        level3_name,
        member_filename,
        name_token,
        pass_code,
        program_id,
        strip_level,
        visit_code,
    )
    from romanasn.output import write_result
    from romanasn.plugins import NAME, hookimpl
    from romanasn.plugins.manager import get_plugin_manager
    from romanasn.plugins.types import (
        Command,
        Companion,
        Constraint,
        Group,
        MemberSpec,
        Option,
        PoolColumn,
        Rule,
        RunConfig,
        isin,
    )
    from romanasn.products import degraded_reasons
    from romanasn.pool import read_pool, read_pools, write_pool
    from romanasn.records import Association, Member, Product, Provenance
