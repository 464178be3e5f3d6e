"""The ``romanasn report`` command: its arguments, and the run that writes the page.

Light on purpose (``romanasn --help`` builds every command's parser): the
report's code, Arrow and numpy, is imported when the command runs.
"""

from __future__ import annotations

import argparse

from romanasn.explain import add_pack_options, pack_option_values
from romanasn.plugins.manager import PluginManager

HELP = "write a web page of a run: summary, associations, sky, changes"
DESCRIPTION = ("Write a static web page of a folder of associations, opened from disk with no server: the"
               " run's summary, a table of the associations to filter and open, with --pool their footprints"
               " on the sky and explain's verdicts, with --against what changed since an older run.")
EXAMPLES = ("examples:\n  romanasn report out/\n"
            "  romanasn report out/ --pool pool.ecsv --skymap skymap.asdf --against yesterday/ -o out.html")
#: The page's name in DIR when no ``-o`` is given.
DEFAULT_PAGE = "report.html"


def configure(parser: argparse.ArgumentParser, pm: PluginManager) -> None:
    """Add ``report``'s arguments, and the ``generate`` options packs add, to ``parser``."""
    parser.description, parser.epilog = DESCRIPTION, EXAMPLES
    parser.add_argument("folder", metavar="DIR", help="the folder of association files (a run's output)")
    parser.add_argument("-o", "--output", metavar="PAGE",
                        help=f"the page to write (default: DIR/{DEFAULT_PAGE}); its data go beside it, in NAME_data/ "
                             "for NAME.html")
    parser.add_argument("--pool", action="append", metavar="POOL",
                        help="the pool the run was made from: draws the sky, gives explain's verdicts (repeatable)")
    parser.add_argument("--against", metavar="OLD_DIR",
                        help="an older run's folder: show what changed, as romanasn diff OLD_DIR DIR finds it")
    add_pack_options(parser, pm, "options added by plugins (as for generate; default: the run's)")


def run(args: argparse.Namespace, pm: PluginManager) -> int:
    """``romanasn report``: write the page and say where it is."""
    from romanasn.pool import read_pools

    from romanasn_report.report import write_report

    table = None
    if args.pool:
        pm.check()
        table = read_pools(args.pool, columns=[f.item for f in pm.pool_columns()])
    page = write_report(args.folder, args.output, plugin_manager=pm, pool=table,
                        options=pack_option_values(args), against=args.against)
    if not args.quiet:
        print(f"wrote {page} (open it in a browser; its data are in {page.stem}_data/ beside it)")
    return 0
