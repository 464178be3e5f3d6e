"""The installed kernel's version."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("romanasn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
