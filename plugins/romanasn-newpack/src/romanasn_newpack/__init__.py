"""romanasn-newpack: ``romanasn new-pack NAME -o DIR``, the skeleton of a rule pack.

The skeleton is made by :mod:`romanasn_newpack.skeleton` from the templates
shipped in this package; :mod:`romanasn_newpack.plugin` adds the command to
``romanasn`` through the entry point.
"""

from romanasn_newpack.skeleton import PackNames, pack_names, render, templates, write_pack

__all__ = ["PackNames", "pack_names", "render", "templates", "write_pack"]

__version__ = "0.1.0"
