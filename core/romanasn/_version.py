"""The installed kernel's version, from ``importlib.metadata``.

Every command imports ``importlib.metadata`` anyway (the plugin manager finds the packs
through its entry points), and asking it costs what reading the ``METADATA`` by hand did
(``benchmarks/results/libraries.txt``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("romanasn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
