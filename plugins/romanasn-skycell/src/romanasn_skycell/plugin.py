"""Hook implementations of romanasn-skycell (loaded through the ``romanasn`` entry point).

Light on purpose: the sky map code, asdf, lz4 and matplotlib are imported
only when a rule runs or a command is used.
"""

from romanasn import Option, hookimpl

from romanasn_skycell import (
    __version__,  # noqa: F401  (names the version when registered by hand)
    commands,
)
from romanasn_skycell.rules import MULTIBAND, RULES, build_multiband
from romanasn_skycell.skymap import ENV_VARS


@hookimpl
def romanasn_rules():
    """The skycell rules: visit, pass, daily and full-program skycell mosaics per filter, and multiband."""
    return list(RULES)


@hookimpl
def romanasn_generate_options():
    """``--skymap`` (or ROMANASN_SKYMAP / SKYMAP_PATH) and ``--psf-match-reference-filter``."""
    return [
        Option("--skymap", "SKYCELLS sky map (ASDF) for the skycell rules", metavar="PATH", env=ENV_VARS),
        Option("--psf-match-reference-filter", "filter the multiband associations name for PSF matching",
               metavar="FILTER"),
    ]


@hookimpl
def romanasn_commands():
    """``romanasn skymap``, ``romanasn plot`` and ``romanasn multiband``."""
    return list(commands.COMMANDS)


@hookimpl
def romanasn_hook_scope():
    """The build hook below serves the multiband rule alone: every other rule's files are made as columns."""
    return [MULTIBAND]


@hookimpl
def romanasn_build_associations(rule, groups, names, config):
    """Build the multiband associations (members are products, not pool rows)."""
    return build_multiband(rule, groups, names, config)


@hookimpl(optionalhook=True)  # the hook of romanasn-report: this pack loads without it
def romanasn_report_sky(footprints, config):
    """The skycells the footprints touch, on the sky map of the run (``--skymap``), for ``romanasn report``."""
    from romanasn_skycell.plot import skycell_outlines

    return skycell_outlines(footprints, config.options.get("skymap"))
