"""romanasn-wfi-imaging: association rules for WFI imaging exposures (WFI_IMAGE).

The rules are in :mod:`romanasn_wfi_imaging.rules`; :mod:`romanasn_wfi_imaging.plugin`
holds the hook implementations that romanasn loads through the entry point.
"""

__version__ = "0.1.0"
