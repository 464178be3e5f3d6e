"""The kernel's exceptions. Every message names the file, row, column or plugin at fault."""


class RomanasnError(Exception):
    """Base class: bad input or a failing plugin (exit status 1)."""

    exit_status = 1


class PoolError(RomanasnError):
    """A pool cannot be read: names the file, and the row and column at fault."""


class AsnError(RomanasnError):
    """An association file is invalid or cannot be written."""


class PluginError(RomanasnError):
    """A plugin failed to load, raised inside a hook or returned the wrong thing."""


class RuleError(RomanasnError):
    """Rules conflict: duplicate names, colliding products, unknown selections."""


class UsageError(RomanasnError):
    """The command was called wrongly (exit status 2)."""

    exit_status = 2
