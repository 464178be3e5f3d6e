"""romanasn-watch: ``romanasn watch``, associations kept up to date as exposure files land.

:mod:`romanasn_watch.plugin` adds the command through the ``romanasn_commands``
hook; :mod:`romanasn_watch.watch` is the watch itself.
"""

__version__ = "0.1.0"
