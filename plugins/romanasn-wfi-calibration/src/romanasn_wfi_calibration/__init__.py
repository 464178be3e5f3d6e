"""romanasn-wfi-calibration: association rules for WFI calibration exposures.

Darks, flats, wavefront sensing and control (WFSC) and low-order wavefront
(LOLO) exposures; and the ``generate --drop-degraded`` option, which leaves
degraded exposures out of every pack's rules. The rules are in
:mod:`romanasn_wfi_calibration.rules`; :mod:`romanasn_wfi_calibration.plugin`
holds the hook implementations that romanasn loads through the entry point.
"""

__version__ = "0.1.0"
