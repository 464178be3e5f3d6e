"""The ``romanasn`` command line.

Exit status: 0 on success, 1 on bad input or a failing plugin, 2 on usage
errors. ``-p no:NAME`` (before or after the subcommand) blocks the pack whose
distribution is NAME before it is imported.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from attrs import frozen

from romanasn import asnfile, columns, diff, engine, explain, fromlist, interrupt, makepool, output, pool, validate
from romanasn._version import __version__
from romanasn.errors import RomanasnError, UsageError
from romanasn.plugins.manager import PluginManager, failure, get_plugin_manager
from romanasn.plugins.types import RunConfig
from romanasn.words import count, did_you_mean

log = logging.getLogger("romanasn")
#: The run summaries commands print, also sent to ``--log FILE``.
summary_log = logging.getLogger("romanasn.summary")
summary_log.propagate = False


#: Examples shown at the end of each command's ``--help`` (and on the documentation's CLI page).
EXAMPLES = {
    "romanasn": """\
examples:
  romanasn generate pool.ecsv -o asn/        every installed rule over a pool
  romanasn rules                             the rules, and the options some need
  romanasn COMMAND --help                    one command's options and examples

environment:
  ROMANASN_PLUGINS=a,b                       load only these packs (-p no:NAME blocks one)
  ROMANASN_DISABLE_PLUGIN_AUTOLOAD=1         load no pack (0, or unset: load them)""",
    "generate": """\
examples:
  romanasn generate pool.ecsv -o asn/
  romanasn generate pool.ecsv -o asn/ --rules 'wfi_image_*' --skip-rules wfi_image_full
  romanasn generate pool.ecsv --dry-run -v               list the files it would write
  romanasn generate grown_pool.ecsv -o asn/ --update --prune

asn_id: each run numbers its associations a3001, a3002, ... in product-name
order over the rules it runs, so an association's id depends on what else the
run makes (another --rules, --program or pool gives other ids). --update keeps
the id of every association the folder's romanasn-run.json already lists.""",
    "plugins": "examples:\n  romanasn plugins\n  romanasn -p no:romanasn-skycell plugins --json",
    "rules": "examples:\n  romanasn rules\n  romanasn rules --json",
    "columns": "examples:\n  romanasn columns\n  romanasn columns --json",
    "validate": "examples:\n  romanasn validate asn/                 every association file and run report below asn/\n"
                "  romanasn validate asn/r00001_p_full_f158_asn.json",
    "make-pool": "examples:\n  romanasn make-pool /data/l2/ -o pool.ecsv --jobs 2\n"
                 "  romanasn make-pool /data/l2/ -o pool.ecsv --update --skip-bad",
    "pool": "examples:\n  romanasn pool export pool.ecsv --pool-db pool.sqlite\n"
            "  romanasn pool import pool.ecsv --pool-db postgresql://ingest@dbhost/roman",
    "from-list": "examples:\n  romanasn from-list -o mosaic_asn.json --product-name my_mosaic *_cal.asdf\n"
                 "  romanasn from-list -o l3_asn.json --product-name r00001_p_full_f158 -t None"
                 " --_tweakreg-catalogs *_cal.asdf",
    "explain": "examples:\n  romanasn explain pool.ecsv r0000101001001001001_0001_wfi01_f158_cal.asdf\n"
               "  romanasn explain pool.ecsv FILE --rule wfi_image_visit --json",
    "diff": "examples:\n  romanasn diff old/ new/\n  romanasn diff old/ new/ --json --ignore target",
}


#: Commands and options of the packs shipped beside the kernel, named when one is not loaded.
PACKED = {"report": "romanasn-report", "--report": "romanasn-report", "watch": "romanasn-watch",
          "new-pack": "romanasn-newpack"}


def _packed(word: str) -> str:
    """Where ``word``, an unknown command or option, comes from, when it is a shipped pack's."""
    pack = PACKED.get(word)
    return pack and (f": it comes with the pack {pack}, which is not loaded (pip install {pack};"
                     f" in a clone of romanasn, pip install plugins/{pack})")


class _HelpFormatter(argparse.HelpFormatter):
    """Help that says each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" not in text and default not in (None, False, argparse.SUPPRESS, [])
                and (action.option_strings or action.nargs in ("?", "*"))):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (main() picks the status), says "did you mean",
    and formats help with defaults and examples."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def format_help(self) -> str:
        """argparse's help, then the epilog (examples) with its lines kept."""
        epilog, self.epilog = self.epilog, None
        try:
            text = super().format_help()
        finally:
            self.epilog = epilog
        return text + (f"\n{epilog}\n" if epilog else "")

    def error(self, message: str):
        command = self.prog.removeprefix("romanasn").strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        """Parse, naming the command whose options an unknown one was meant to be."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(getattr(namespace, "command", None))
            options = [o for a in parser._actions for o in a.option_strings]
            word = extras[0]
            if word.startswith("-"):
                option = word.split("=")[0]
                parser.error(f"unknown option {word}{_packed(option) or did_you_mean(option, options)}")
            parser.error(f"unexpected argument{'s' if len(extras) > 1 else ''}: {' '.join(extras)}")
        return namespace

    def _command_parser(self, command: str | None) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return action.choices[command]
        return self

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            what = "command" if isinstance(action, argparse._SubParsersAction) else "value"
            where = "/".join(action.option_strings)
            hint = _packed(str(value)) or did_you_mean(str(value), choices) or f" (choose from {', '.join(choices)})"
            raise argparse.ArgumentError(None, f"{where + ': ' if where else ''}unknown {what} {value!r}{hint}")


def split_plugin_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``-p no:NAME`` / ``-pno:NAME`` out of ``argv``; return (rest, blocked names)."""
    rest, blocked = [], []
    args = iter(argv)
    for arg in args:
        if arg == "-p":
            value = next(args, None)
            if value is None:
                raise UsageError("-p needs a value: -p no:NAME")
        elif arg.startswith("-p") and not arg.startswith("--"):
            value = arg[2:]
        else:
            rest.append(arg)
            continue
        if not value.startswith("no:") or len(value) == 3:
            raise UsageError(f"-p takes no:NAME (block the plugin NAME), got {value!r}")
        blocked.append(value[3:])
    return rest, blocked


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with interrupt.handled():
            argv, blocked = split_plugin_args(argv)
            pm = get_plugin_manager(block=blocked)
            parser = build_parser(pm)
            args = parser.parse_args(argv)
            _configure_logging(args)
            if args.command is None:
                parser.print_help()
                return 2
            return _run(args, pm)
    except RomanasnError as exc:
        print(f"romanasn: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt as exc:
        name = exc.name if isinstance(exc, interrupt.Interrupted) else "Ctrl-C"
        print(f"romanasn: interrupted ({name}): the output folder holds the whole run or none of it",
              file=sys.stderr)
        return exc.status if isinstance(exc, interrupt.Interrupted) else 130
    except BrokenPipeError:  # the reader stopped early (`romanasn rules | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file or folder the run needs cannot be read or written
        print(f"romanasn: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, pm: PluginManager) -> int:
    """Run the command; an exit or an interrupt that plugin code raises is that plugin's failure."""
    try:
        return int(args.run(args, pm) or 0)
    except (SystemExit, KeyboardInterrupt) as exc:
        if not failure(exc):
            raise
        raise pm.blame(exc) from exc


def _configure_logging(args: argparse.Namespace) -> None:
    """romanasn's loggers (``romanasn.*``, the packs' too) at the level ``-q``/``-v`` choose; other libraries' from
    WARNING (INFO with ``-v``), so that their chatter (matplotlib building its font cache) is not a run's output."""
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    summary_log.handlers = [logging.NullHandler()]
    if args.log:
        handlers.append(logging.FileHandler(args.log))
        summary_log.handlers = [handlers[-1]]
    summary_log.setLevel(logging.INFO)
    other = logging.INFO if args.verbose else logging.WARNING
    for handler in handlers:
        handler.addFilter(lambda record: record.name.partition(".")[0] == "romanasn" or record.levelno >= other)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", handlers=handlers, force=True)


def say(text: str) -> None:
    """Print one line of a run's summary, and send it to ``--log FILE``."""
    print(text)
    summary_log.info(text)


def build_parser(pm: PluginManager) -> argparse.ArgumentParser:
    """The parser, with the subcommands and options the plugins add."""
    parser = _Parser(prog="romanasn", description="Association generator for the Roman Space Telescope.",
                     epilog=EXAMPLES["romanasn"])
    parser.add_argument("--version", action="version", version=f"romanasn {__version__}")
    parser.add_argument("-p", dest="_blocked", metavar="no:NAME", action="append",
                        help="block the plugin distribution NAME before it is imported (repeatable; "
                             "env: ROMANASN_PLUGINS=a,b loads only a and b)")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                                help="the task; romanasn COMMAND --help says more")
    _add_generate(sub, pm)
    _add_listing(sub, "plugins", _plugins, "list the installed rule packs",
                 "List the installed rule packs: name, version, status (active, blocked or"
                 " failed, with its error) and rules. Exit status 1 when one failed.",
                 json_help="print JSON (with each pack's hooks)")
    _add_listing(sub, "rules", _rules, "list the installed rules",
                 "List the rules of the active packs: name, asn_type, level, pack, the"
                 " options a rule needs (it is skipped without them) and what it makes.")
    _add_listing(sub, "columns", _columns, "list the pool columns (canonical and those packs add)",
                 "List the pool columns: name, type, required or optional, the pack that"
                 " adds it (romanasn for the canonical ones) and what it holds.")
    for command in _MODULE_COMMANDS:
        _add_module_command(sub, command, pm)
    for found in pm.commands():
        command = found.item
        if command.name in sub.choices:
            raise RomanasnError(f"plugin {found.plugin.label} adds command {command.name!r}, which exists")
        cmd = sub.add_parser(command.name, help=command.help, description=command.help)
        _common(cmd)
        command.configure(cmd)
        cmd.set_defaults(run=lambda args, pm, _c=command: _c.run(args))
    for name, command_parser in sub.choices.items():
        if command_parser.epilog is None:
            command_parser.epilog = EXAMPLES.get(name)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS if parser.prog != "romanasn" else None
    parser.add_argument("-v", "--verbose", action="store_true", default=default or False,
                        help="say more (romanasn's debug messages, and other libraries' information)")
    parser.add_argument("-q", "--quiet", action="store_true", default=default or False,
                        help="say only warnings and errors")
    parser.add_argument("--log", metavar="FILE", default=default, help="also write messages to FILE")


# -- generate -----------------------------------------------------------------


def _add_generate(sub: Any, pm: PluginManager) -> None:
    p = sub.add_parser("generate", help="make associations from pools",
                       description="Run every installed rule over the pools and write the associations.")
    _common(p)
    p.add_argument("pools", nargs="+", metavar="POOL", help="pool files (ECSV, CSV or romancal's |-separated)")
    p.add_argument("-o", "--output-dir", metavar="DIR", help="folder for the association files")
    p.add_argument("--dry-run", action="store_true",
                   help="make the associations, list the files it would write (-v: all of them), write nothing")
    p.add_argument("--format", choices=sorted(asnfile.EXTENSIONS), default="json",
                   help="json (default): what romancal reads. yaml and asdf hold the same content for other "
                        "tools; romancal reads JSON associations only")
    p.add_argument("--program", type=int, action="append", metavar="N",
                   help="only rows of program N (repeatable; a program no row has is an error)")
    p.add_argument("--rules", action="append", metavar="NAMES",
                   help="only these rules: comma-separated names or shell-style patterns ('wfi_image_*')")
    p.add_argument("--skip-rules", action="append", metavar="NAMES",
                   help="not these rules: comma-separated names or shell-style patterns ('skycell_*')")
    p.add_argument("--version-id", default=None, help="the version_id of every association (default: none)")
    p.add_argument("--data-release-id", default="p", help="data release id in product names (default: p)")
    p.add_argument("--overwrite", action="store_true", help="replace existing association files")
    p.add_argument("--orphans", metavar="FILE",
                   help="write the file names of the rows no rule took to FILE, one a line (- for stdout)")
    p.add_argument("--member-dir", metavar="DIR",
                   help="the folder of the member files: members are written as paths from the association to "
                        "DIR, and members made from pool rows that are not in DIR are reported")
    p.add_argument("--strict", action="store_true",
                   help="with --member-dir, a member file missing from DIR is an error (nothing is written)")
    p.add_argument("--update", action="store_true",
                   help="rewrite only the associations that changed since the run recorded in DIR, keeping their ids")
    p.add_argument("--prune", action="store_true",
                   help="with --update, remove the files of associations the pool no longer makes"
                        " (never all of them: see --prune-all)")
    p.add_argument("--prune-all", action="store_true",
                   help="--prune, even when the run makes none of the folder's associations again"
                        " (removes every one of them)")
    p.add_argument("--keep-going", action="store_true",
                   help="when a rule fails, leave it out, let the other rules finish, and exit 1 naming it")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local (default), or dask: plan and encode on a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask, a running dask.distributed scheduler (default: a local cluster)")
    explain.add_pack_options(p, pm, "options added by plugins", sources=True)
    p.set_defaults(run=_generate)


def _names(values: list[str] | None, option: str) -> list[str] | None:
    if values is None:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        raise UsageError(f"{option} {','.join(values)!r} names no rule (leave {option} out to run every rule)")
    return names


def _generate(args: argparse.Namespace, pm: PluginManager) -> int:
    if not args.dry_run and not args.output_dir:
        raise UsageError("generate needs -o DIR (or --dry-run)")
    pm.check()
    if args.orphans:
        explain.check_orphans_path(args.orphans, None if args.dry_run else args.output_dir, args.pools)
    rules, skip_rules = _names(args.rules, "--rules"), _names(args.skip_rules, "--skip-rules") or []
    config = RunConfig(
        data_release_id=args.data_release_id,
        version_id=args.version_id,
        pool_name=Path(args.pools[0]).stem,
        options=explain.pack_option_values(args),
    )
    selected = engine.select_rules(pm.rules(), rules, skip_rules)  # before the pools are read
    engine.check_runnable(selected, config, named=[n for n in rules or () if not engine.is_pattern(n)])
    extra = [f.item for f in pm.pool_columns()]
    folder = None if args.dry_run else Path(args.output_dir)
    followers = pm.run_files(folder, config, args.format, args.engine)
    outcome = None if followers else _incremental(args, pm, config, rules, skip_rules, extra)
    if outcome is not None:  # only the groups the changed rows fall in, re-planned
        if not args.quiet:
            say(output.update_summary(outcome))
        _print_summary(outcome.result, args, outcome.written)
        pm.run_written(folder, outcome, None, config, args.pools, followers)
        return 0
    table = _read_for_run(args, extra)
    if args.program:
        table = _only_programs(table, args.program)
    written = []
    if args.dry_run:
        result = engine.generate(table, config=config, rules=rules, skip_rules=skip_rules, plugin_manager=pm,
                                 keep_going=args.keep_going)
    else:  # each association is written as it is finished
        try:
            outcome = output.generate_to(table, args.output_dir, plugin_manager=pm, config=config,
                                         rules=rules, skip_rules=skip_rules,
                                         format=args.format, overwrite=args.overwrite, update=args.update,
                                         prune=args.prune, prune_all=args.prune_all, member_dir=args.member_dir,
                                         inputs=args.pools, engine=args.engine, scheduler=args.scheduler,
                                         keep_going=args.keep_going, progress=False if args.quiet else None,
                                         strict=args.strict, programs=table.meta.get("romanasn", {}).get("programs"),
                                         on_file=_on_file(followers))
        except BaseException:
            for follower in followers.values():
                if hasattr(follower, "discard"):
                    follower.discard()  # the run left the folder as it was: so do they
            raise
        result, written = outcome.result, outcome.written
        if args.update and not args.quiet:
            say(output.update_summary(outcome))
    if args.orphans:
        explain.write_orphans(result.orphans, args.orphans)
    _print_summary(result, args, written)
    if folder is not None:
        pm.run_written(folder, outcome, table, config, args.pools, followers)
    for failed in result.failed:
        print(f"romanasn: error: rule {failed.rule!r} of plugin {failed.plugin} {failed.version} left out "
              f"(the other rules finished): {failed.error}", file=sys.stderr)
    return 1 if result.failed else 0


def _on_file(followers: dict[str, Any]) -> Any:
    """The one callable a run hands its files to: the plugins' that follow them (None when none does)."""
    calls = list(followers.values())
    if len(calls) < 2:
        return calls[0] if calls else None
    return lambda name, data: [call(name, data) for call in calls]


def _incremental(args: argparse.Namespace, pm: Any, config: RunConfig, rules: Any, skip_rules: Any,
                 extra: list) -> Any:
    """An ``--update`` from one database pool, when nothing asks for the whole pool
    (:mod:`romanasn.incremental`); None otherwise."""
    if not (args.update and args.output_dir and len(args.pools) == 1) or args.dry_run or args.program \
            or args.engine != "local" or args.keep_going or args.member_dir or args.orphans:
        return None
    from romanasn import incremental
    from romanasn.pooldb import is_database

    if not is_database(args.pools[0]):
        return None
    return incremental.update(args.pools[0], args.output_dir, plugin_manager=pm, config=config, rules=rules,
                              skip_rules=skip_rules, format=args.format, prune=args.prune or args.prune_all,
                              inputs=args.pools, columns=extra)


def _read_for_run(args: argparse.Namespace, extra: list) -> Any:
    """The pool; for ``--update`` from one database pool into a folder that recorded the pool's
    change number, only the rows of the programs changed since (``meta["romanasn"]["programs"]``)."""
    if args.update and args.output_dir and len(args.pools) == 1:
        from romanasn.pooldb import is_database

        if is_database(args.pools[0]):
            manifest = output.Manifest.load(Path(args.output_dir), programs=())  # the report alone
            if manifest is not None and manifest.pool_seq is not None:
                return pool.read_pool(args.pools[0], columns=extra, since=manifest.pool_seq)
    return pool.read_pools(args.pools, columns=extra)


def _only_programs(table: Any, programs: list[int]) -> Any:
    """The rows of these programs; a program no row has is an error (a typo would select nothing)."""
    import numpy as np

    column = np.asarray(table["program"])
    present = set(np.unique(column).tolist())
    absent = [p for p in programs if p not in present]
    if absent:
        held = ", ".join(map(str, sorted(present)[:20])) + (", ..." if len(present) > 20 else "")
        raise RomanasnError(f"--program {', '.join(map(str, absent))}: no pool row has "
                            f"{'this program' if len(absent) == 1 else 'these programs'}"
                            f" (the pools hold program{'s' if len(present) != 1 else ''} {held or 'none'})")
    return table[np.isin(column, programs)]


#: Files a dry run lists without ``-v``.
DRY_RUN_SHOWN = 10


def _print_summary(result: engine.Result, args: argparse.Namespace, written: list[Path]) -> None:
    if args.quiet:
        return
    width = max([len(n) for n in result.counts] + [4])
    say(f"{count(result.pool_rows, 'pool row')}, {count(len(result.associations), 'association')}")
    for name, made in sorted(result.counts.items()):
        say(f"  {name:<{width}}  {made}")
    by_reason: dict[str, list[str]] = {}
    for skipped in result.skipped:
        by_reason.setdefault(skipped.reason, []).append(skipped.rule)
    for reason, names in by_reason.items():
        say(f"  skipped ({reason}): {', '.join(names)}")
    for failed in result.failed:
        say(f"  {failed.rule:<{width}}  FAILED (see below)")
    if result.vetoes:
        where = "romanasn explain says why" if args.dry_run else f"see {output.RUN_REPORT}"
        say(f"{count(len(result.vetoes), 'membership')} vetoed ({where})")
    say(f"{count(len(result.orphans), 'row')} in no association")
    if written:
        say(f"wrote {count(len(written), 'association file')} to {args.output_dir}")
    elif args.dry_run:
        _print_dry_run(result, args)


def _print_dry_run(result: engine.Result, args: argparse.Namespace) -> None:
    """The files a dry run would write: the first few, or all with ``-v``."""
    names = [stem + output.extension(args.format) for stem in result.file_stems]
    where = f" to {args.output_dir}" if args.output_dir else ""
    say(f"dry run: would write {count(len(names), 'association file')}{where}"
        f" and {output.RUN_REPORT}; nothing written")
    shown = names if args.verbose else names[:DRY_RUN_SHOWN]
    for name in shown:
        say(f"  {name}")
    if len(shown) < len(names):
        say(f"  ... and {len(names) - len(shown):,} more (-v lists them all)")


# -- plugins, rules, columns ----------------------------------------------------


def _add_listing(sub: Any, name: str, run: Any, help: str, description: str, json_help: str = "print JSON") -> None:
    """Add a command that prints a table, or with ``--json`` the same rows as JSON."""
    p = sub.add_parser(name, help=help, description=description)
    _common(p)
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(run=run)


def plugin_table(pm: PluginManager) -> list[dict[str, Any]]:
    """Every plugin: name, version, status, hooks, rules (and error when failed).

    A pack whose ``romanasn_rules`` fails is marked failed with that error;
    the other packs are listed as usual.
    """
    rows = []
    for info in pm.plugin_infos():
        row = {"name": info.name, "version": info.version, "status": info.status,
               "hooks": pm.hooks_of(info.name), "rules": []}
        error = info.error
        if info.status == "active":
            try:
                row["rules"] = [entry.name for entry in pm.rules_of(info.name)]
            except RomanasnError as exc:
                row["status"], error = "failed", str(exc)
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def _plugins(args: argparse.Namespace, pm: PluginManager) -> int:
    rows = plugin_table(pm)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(["pack", "version", "status", "rules"],
                    [[r["name"], r["version"], r["status"], ", ".join(r["rules"]) or "-"] for r in rows])
        for row in rows:
            if "error" in row:
                print(f"{row['name']}: {row['error']}", file=sys.stderr)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def _rules(args: argparse.Namespace, pm: PluginManager) -> int:
    pm.check()
    rows = [{"name": e.name, "plugin": e.plugin.name, "asn_type": e.rule.asn_type, "level": e.rule.level,
             "needs": ["--" + n.replace("_", "-") for n in e.rule.needs], "summary": e.rule.summary}
            for e in pm.rules()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(["rule", "asn_type", "level", "pack", "needs", "summary"],
                    [[r["name"], r["asn_type"], f"L{r['level']}", r["plugin"], " ".join(r["needs"]) or "-",
                      r["summary"]] for r in rows])
    return 0


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Print a header and ``rows`` in columns as wide as their widest cell (the last column as it is)."""
    rows = [header] + rows
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]).rstrip())


def _columns(args: argparse.Namespace, pm: PluginManager) -> int:
    pm.check()
    found = pm.pool_columns()
    source = {f.item.name: f.plugin.name for f in found}
    rows = [{"name": c.name, "dtype": c.dtype, "required": c.required, "meta": c.meta,
             "plugin": source.get(c.name, "romanasn"), "description": c.description}
            for c in columns.merge_columns(f.item for f in found)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(["column", "type", "required", "pack", "description"],
                    [[r["name"], r["dtype"], "required" if r["required"] else "optional", r["plugin"],
                      r["description"]] for r in rows])
    return 0


# -- the commands a module runs ------------------------------------------------------------


@frozen
class _ModuleCommand:
    """A command whose module adds its arguments (``configure(parser)``, with ``pm`` when
    ``with_pm``) and does the work (``run(args, pm)``)."""

    name: str
    module: Any
    help: str
    description: str
    with_pm: bool = False
    configure: str = "configure"
    run: str = "run"


#: In the order ``romanasn --help`` lists them, after generate, plugins, rules and columns.
_MODULE_COMMANDS = (
    _ModuleCommand(
        "validate", validate, "check association files and run reports against their schemas",
        "Check association files against schemas/asn.schema.json and run reports (romanasn-run.json)"
        " against schemas/run.schema.json; folders are searched recursively. One line per bad file,"
        " then a summary."),
    _ModuleCommand(
        "from-list", fromlist, "one association from an explicit list of files (romancal's asn_from_list)",
        "Make one association from the files given. Every argument of romancal's asn_from_list works"
        " here with the same meaning."),
    _ModuleCommand(
        "make-pool", makepool, "make a pool from exposure files (reads only their YAML headers)",
        "Read roman.meta from the YAML header of each ASDF exposure file and write the pool that"
        " generate reads."),
    _ModuleCommand(
        "pool", makepool, "move a pool between a database and a file (export, import)",
        "export: write a database pool as an ECSV file; import: insert or update"
        " a pool file's rows in a database pool (one transaction). Both check"
        " the rows as generate does.",
        configure="configure_pool", run="run_pool"),
    _ModuleCommand(
        "explain", explain, "say why one exposure is, or is not, in each association",
        "For one exposure of the pool, each rule's verdict: not selected (by which condition), vetoed"
        " (by which constraint and plugin), or the keys it got and the associations it joined.",
        with_pm=True),
    _ModuleCommand(
        "diff", diff, "compare two folders of association files by content",
        "Compare two sets of association files by product name: associations added and removed,"
        " members gained and lost. Exit status 0 when equal, 3 when they differ."),
)


def _add_module_command(sub: Any, command: _ModuleCommand, pm: PluginManager) -> None:
    p = sub.add_parser(command.name, help=command.help, description=command.description)
    _common(p)
    configure = getattr(command.module, command.configure)
    if command.with_pm:
        configure(p, pm)
    else:
        configure(p)
    p.set_defaults(run=getattr(command.module, command.run))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
