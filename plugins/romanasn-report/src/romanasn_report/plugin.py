"""Hook implementations of romanasn-report (loaded through the ``romanasn`` entry point).

Light on purpose: the report's code, Arrow and numpy, is imported only when a
page is made.
"""

import logging

from romanasn import Command, Option, UsageError, hookimpl

from romanasn_report import (
    __version__,  # noqa: F401  (names the version when registered by hand)
    command,
    hookspec,
)


@hookimpl
def romanasn_addhooks(pluginmanager):
    """``romanasn_report_sky``: the outlines other packs draw on the sky view."""
    pluginmanager.add_hookspecs(hookspec)


@hookimpl
def romanasn_commands(pluginmanager):
    """``romanasn report``."""
    return [Command("report", command.HELP, configure=lambda parser: command.configure(parser, pluginmanager),
                    run=lambda args: command.run(args, pluginmanager))]


@hookimpl
def romanasn_generate_options():
    """``generate --report``."""
    return [Option("--report", "also write DIR/report.html, the run's web page (as romanasn report DIR --pool POOL, "
                               "without explain's verdicts)", flag=True, generate_only=True)]


@hookimpl
def romanasn_run_files(folder, config, format, engine):
    """With ``--report``, what gathers the page's data as the run writes its files (JSON files, with the
    local engine; the page reads the others once they are written)."""
    if not config.options.get("report"):
        return None
    if folder is None:
        raise UsageError("--report needs a run that writes its associations (not --dry-run)")
    from romanasn_report.report import Collector

    return Collector(folder, gather=format == "json" and engine == "local")


@hookimpl
def romanasn_run_written(outcome, pool, config, inputs, follower, pluginmanager):
    """With ``--report``, write DIR/report.html and say so (unless ``-q``)."""
    if follower is None:
        return
    from romanasn_report.report import run_page

    page = run_page(follower, outcome, pool, config, inputs, pluginmanager)
    if logging.getLogger("romanasn").isEnabledFor(logging.INFO):
        print(f"wrote {page}")
