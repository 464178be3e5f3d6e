"""Hook implementations of romanasn-watch (loaded through the ``romanasn`` entry point): the
``romanasn watch`` command line.

Light on purpose: watchdog, SQLAlchemy and the pool code are imported when the watch starts.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from romanasn import Command, RunConfig, hookimpl
from romanasn.asnfile import EXTENSIONS

from romanasn_watch import __version__  # noqa: F401  (names the version when registered by hand)

log = logging.getLogger("romanasn.watch")

DESCRIPTION = ("Watch LANDING_DIR for new and changed ASDF files, commit their headers to a database pool,"
               " update the associations of the programs that changed in DIR and print one JSON line per"
               " association added, changed or removed. Stops cleanly on Ctrl-C or SIGTERM; a restart resumes"
               " where it stopped.")
EXAMPLES = ("examples:\n  romanasn watch /data/landing --pool-db pool.sqlite -o asn/\n"
            "  romanasn watch /data/landing --pool-db pool.sqlite -o asn/ --events events.jsonl -j 2")


def configure(parser: Any) -> None:
    """Add watch's arguments, description and examples to ``parser``."""
    parser.description, parser.epilog = DESCRIPTION, EXAMPLES
    parser.add_argument("landing", metavar="LANDING_DIR", help="the folder exposure files land in (searched recursively)")
    parser.add_argument("--pool-db", required=True, metavar="DB",
                        help="the database pool: an SQLite file, sqlite:///FILE or postgresql://...")
    parser.add_argument("-o", "--output-dir", required=True, metavar="DIR", help="the folder of association files")
    parser.add_argument("--events", metavar="FILE",
                        help="append the events (one JSON line per association added, changed or removed) to FILE"
                             " instead of printing them")
    parser.add_argument("--format", choices=sorted(EXTENSIONS), default="json",
                        help="association file format (default: json)")
    parser.add_argument("--data-release-id", default="p", help="data release id in product names (default: p)")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="read headers in N processes")
    parser.add_argument("--settle", type=float, default=0.25, metavar="SECONDS",
                        help="start a batch once no file has landed for SECONDS (default: 0.25)")
    parser.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                        help="poll the landing folder every SECONDS instead of using inotify")


def run(args: Any, pm: Any) -> int:
    """``romanasn watch``: watch until SIGINT or SIGTERM."""
    from romanasn_watch.watch import Watch

    pm.check()
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    config = RunConfig(data_release_id=args.data_release_id, pool_name=Path(args.pool_db).stem)  # as generate names it
    events = open(args.events, "a", encoding="utf-8") if args.events else sys.stdout
    try:
        watch = Watch(args.landing, args.pool_db, args.output_dir, plugin_manager=pm, config=config, events=events,
                      format=args.format, columns=[found.item for found in pm.pool_columns()], jobs=args.jobs,
                      settle=args.settle)
        log.info("watching %s (pool %s, associations in %s)", watch.landing, watch.db.label, watch.out)
        try:
            watch.run(stop, poll=args.poll)
        except KeyboardInterrupt:
            pass
    finally:
        if events is not sys.stdout:
            events.close()
    log.info("stopped")
    return 0


@hookimpl
def romanasn_commands(pluginmanager):
    """``romanasn watch``, run with the plugin manager of the command line (the packs loaded, ``-p no:NAME`` applied)."""
    return [Command("watch", "keep associations up to date as exposure files land", configure,
                    lambda args: run(args, pluginmanager))]
