"""A fake pack told of each run: it follows the files as they are written and, once the run is
written, leaves a notice (as a pack notifying a scheduler would), with ``--notify FILE``."""

import json
from pathlib import Path

from romanasn import Option, UsageError, hookimpl


class Follower:
    """The name and size of each file the run hands to its folder."""

    def __init__(self, notice):
        self.notice, self.files = Path(notice), []

    def __call__(self, name, data):
        self.files.append([name, len(data)])

    def discard(self):
        self.notice.with_suffix(".discarded").write_text(json.dumps(self.files))


@hookimpl
def romanasn_generate_options():
    return [Option("--notify", "write a notice of the run to FILE", metavar="FILE", generate_only=True)]


@hookimpl
def romanasn_run_files(folder, config):
    if not config.options.get("notify"):
        return None
    if folder is None:
        raise UsageError("--notify needs a run that writes its associations")
    return Follower(config.options["notify"])


@hookimpl
def romanasn_run_written(folder, outcome, pool, follower):
    if follower is not None:
        follower.notice.write_text(json.dumps({"folder": str(folder), "files": list(outcome.files),
                                               "followed": follower.files, "pool_rows": len(pool)}))
