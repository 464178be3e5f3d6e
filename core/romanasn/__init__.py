"""romanasn: association generator for the Nancy Grace Roman Space Telescope.

The kernel owns the pool, the engine, the association files and the command
line; rule packs, installed as plugins, say how exposures associate. Nothing
is loaded at import time: :func:`get_plugin_manager` builds a manager when
asked, and :func:`generate` builds one with every installed pack by default.
"""

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

__all__ = [
    "NAME", "Association", "AsnError", "Command", "Companion", "Constraint", "Group", "Member",
    "MemberSpec", "Option", "PluginError", "PoolColumn", "PoolError", "Product", "Provenance",
    "Result", "RomanasnError", "Rule", "RuleError", "RunConfig", "UsageError", "__version__",
    "daily_code", "degraded_reasons", "focal_plane_name", "generate", "get_plugin_manager", "grouping_code", "hookimpl",
    "isin", "level3_name", "load_asn", "member_filename", "name_token", "pass_code", "program_id",
    "read_pool", "read_pools", "strip_level", "visit_code", "write_asn", "write_pool", "write_result",
]
