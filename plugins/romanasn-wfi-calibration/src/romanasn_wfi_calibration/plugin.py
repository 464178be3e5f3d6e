"""Hook implementations of romanasn-wfi-calibration (loaded through the ``romanasn`` entry point)."""

from romanasn import Option, PoolColumn, hookimpl

from romanasn_wfi_calibration import __version__  # noqa: F401  (names the version when registered by hand)
from romanasn_wfi_calibration.rules import NOT_DEGRADED, RULES

DROP_DEGRADED = Option(
    name="--drop-degraded",
    help="leave degraded exposures (exposerr, data_problem, engineering_quality) "
         "out of every rule's associations, recording each as a veto",
    flag=True,
)


@hookimpl
def romanasn_rules():
    """The WFI calibration rules: darks, flats, WFSC and LOLO."""
    return list(RULES)


@hookimpl
def romanasn_pool_columns():
    """The MA table name, which darks are grouped by."""
    return [PoolColumn(
        name="ma_table_name",
        dtype="str",
        meta="exposure.ma_table_name",
        description="Name of the multi-accumulation table; darks are grouped by it (rows without one are vetoed).",
    )]


@hookimpl
def romanasn_generate_options():
    """``--drop-degraded``."""
    return [DROP_DEGRADED]


@hookimpl
def romanasn_match_constraints(rule, config):
    """With ``--drop-degraded``, veto degraded rows in every rule, whichever pack made it."""
    if config.option(DROP_DEGRADED.dest):
        return [NOT_DEGRADED]
    return None
