"""The plugin system: markers, hook specifications, records and the manager.

``NAME`` is at once the pluggy project name, the hook prefix, the entry-point
group that rule packs register under and the environment-variable prefix.
"""

import pluggy

NAME = "romanasn"

#: Marker for hook implementations in rule packs: ``@hookimpl def romanasn_rules(): ...``
hookimpl = pluggy.HookimplMarker(NAME)

#: Marker for the kernel's hook specifications (private to the kernel).
_hookspec = pluggy.HookspecMarker(NAME)

__all__ = ["NAME", "hookimpl"]
