"""The installed kernel's version.

Read from the installed distribution's ``METADATA``, found on ``sys.path`` the way
``importlib.metadata`` finds it; ``importlib.metadata`` itself (a tenth of a second to
import) is asked only when no ``romanasn-*.dist-info`` folder is there.
"""

import os
import sys


def _from_dist_info() -> str | None:
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not (name.startswith("romanasn-") and name.endswith(".dist-info")):
                continue
            try:
                with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as stream:
                    for line in stream:
                        if line.startswith("Name:") and line[5:].strip().lower() != "romanasn":
                            break
                        if line.startswith("Version:"):
                            return line[8:].strip()
                        if line == "\n":  # the headers end here
                            break
            except OSError:
                continue
    return None


def _version() -> str:
    found = _from_dist_info()
    if found:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("romanasn")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


__version__ = _version()
