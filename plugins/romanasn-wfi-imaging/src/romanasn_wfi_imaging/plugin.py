"""Hook implementations of romanasn-wfi-imaging (loaded through the ``romanasn`` entry point)."""

from romanasn import hookimpl

from romanasn_wfi_imaging import __version__  # noqa: F401  (names the version when registered by hand)
from romanasn_wfi_imaging.rules import RULES


@hookimpl
def romanasn_rules():
    """The WFI imaging rules: exposure, FOV, visit, pass and full-program mosaics."""
    return list(RULES)
