# Add to src/romanasn_my_survey/plugin.py (the imports go with the others at the top).
import numpy as np

from romanasn import Constraint

#: A detector the survey does not trust yet.
SUSPECT_DETECTOR = "WFI07"

LEAVE_OUT_SUSPECT = Constraint(
    name=f"detector is not {SUSPECT_DETECTOR}",
    test=lambda table: np.asarray(table["detector"]) != SUSPECT_DETECTOR,
    reason=f"{SUSPECT_DETECTOR} is left out of mosaics until my-survey has checked it",
)

#: The association types of imaging mosaics: the imaging pack's and the skycells'.
MOSAICS = {"image3", "image"}


@hookimpl
def romanasn_match_constraints(rule, config):
    """Keep the suspect detector out of every imaging mosaic, whichever pack's rule makes it."""
    if rule.level == 3 and rule.asn_type in MOSAICS:
        return [LEAVE_OUT_SUSPECT]
    return None
