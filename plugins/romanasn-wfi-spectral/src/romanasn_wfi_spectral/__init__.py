"""romanasn-wfi-spectral: association rules for WFI grism and prism exposures (WFI_SPECTRAL).

The rules are in :mod:`romanasn_wfi_spectral.rules`; :mod:`romanasn_wfi_spectral.plugin`
holds the hook implementations that romanasn loads through the entry point.
"""

__version__ = "0.1.0"
