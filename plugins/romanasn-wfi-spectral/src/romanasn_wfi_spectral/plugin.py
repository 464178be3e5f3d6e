"""Hook implementations of romanasn-wfi-spectral (loaded through the ``romanasn`` entry point)."""

from romanasn import hookimpl

from romanasn_wfi_spectral import __version__  # noqa: F401  (names the version when registered by hand)
from romanasn_wfi_spectral.rules import RULES


@hookimpl
def romanasn_rules():
    """The WFI spectral rules: exposure with direct images, visit, pass and full-program."""
    return list(RULES)
