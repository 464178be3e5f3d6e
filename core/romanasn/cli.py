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

from romanasn import asnfile, columns, engine, output, pool
from romanasn._version import __version__
from romanasn.errors import RomanasnError, UsageError
from romanasn.plugins.manager import PluginManager, get_plugin_manager
from romanasn.plugins.types import RunConfig

log = logging.getLogger("romanasn")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() picks the status."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


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
        argv, blocked = split_plugin_args(argv)
        pm = get_plugin_manager(block=blocked)
        parser = build_parser(pm)
        args = parser.parse_args(argv)
        _configure_logging(args)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.run(args, pm) or 0)
    except RomanasnError as exc:
        print(f"romanasn: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("romanasn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (`romanasn rules | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file or folder the run needs cannot be read or written
        print(f"romanasn: error: {exc}", file=sys.stderr)
        return 1


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", handlers=handlers, force=True)


def build_parser(pm: PluginManager) -> argparse.ArgumentParser:
    """The parser, with the subcommands and options the plugins add."""
    parser = _Parser(prog="romanasn", description="Association generator for the Roman Space Telescope.")
    parser.add_argument("--version", action="version", version=f"romanasn {__version__}")
    parser.add_argument("-p", dest="_blocked", metavar="no:NAME", action="append",
                        help="block the plugin distribution NAME (before it is imported)")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_generate(sub, pm)
    _add_plugins(sub)
    _add_rules(sub)
    _add_columns(sub)
    _add_validate(sub)
    _add_from_list(sub)
    _add_make_pool(sub)
    _add_explain(sub, pm)
    _add_diff(sub)
    _add_new_pack(sub)
    for found in pm.commands():
        command = found.item
        if command.name in sub.choices:
            raise RomanasnError(f"plugin {found.plugin.label} adds command {command.name!r}, which exists")
        cmd = sub.add_parser(command.name, help=command.help, description=command.help)
        _common(cmd)
        command.configure(cmd)
        cmd.set_defaults(run=lambda args, pm, _c=command: _c.run(args))
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS if parser.prog != "romanasn" else None
    parser.add_argument("-v", "--verbose", action="store_true", default=default or False,
                        help="say more (debug messages)")
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
    p.add_argument("--dry-run", action="store_true", help="make the associations but write nothing")
    p.add_argument("--format", choices=sorted(asnfile.EXTENSIONS), default="json",
                   help="json (default): what romancal reads. yaml and asdf hold the same content for other "
                        "tools; romancal reads JSON associations only")
    p.add_argument("--program", type=int, action="append", metavar="N", help="only rows of program N (repeatable)")
    p.add_argument("--rules", action="append", metavar="NAMES", help="only these rules (comma-separated)")
    p.add_argument("--skip-rules", action="append", metavar="NAMES", help="not these rules (comma-separated)")
    p.add_argument("--version-id", default=None, help="the version_id of every association")
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
                   help="with --update, remove the files of associations the pool no longer makes")
    p.add_argument("--keep-going", action="store_true",
                   help="when a rule fails, leave it out, let the other rules finish, and exit 1 naming it")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local (default), or dask: plan and encode on a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask, a running dask.distributed scheduler (default: a local cluster)")
    group = p.add_argument_group("options added by plugins")
    for found in pm.generate_options():
        option = found.item
        kwargs: dict[str, Any] = {"help": f"{option.help} [{found.plugin.name}]", "dest": option.dest}
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(metavar=option.metavar, default=None)
        group.add_argument(option.name, **kwargs)
    p.set_defaults(run=_generate, _pack_options=[f.item for f in pm.generate_options()])


def _names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _pack_options(args: argparse.Namespace) -> dict[str, Any]:
    values = {}
    for option in args._pack_options:
        value = getattr(args, option.dest)
        if value in (None, False):
            value = next((os.environ[e] for e in option.env if os.environ.get(e)), option.default)
        values[option.dest] = value
    return values


def _generate(args: argparse.Namespace, pm: PluginManager) -> int:
    if not args.dry_run and not args.output_dir:
        raise UsageError("generate needs -o DIR (or --dry-run)")
    pm.check()
    extra = [f.item for f in pm.pool_columns()]
    table = pool.read_pools(args.pools, columns=extra)
    if args.program:
        table = table[_isin(table["program"], args.program)]
    config = RunConfig(
        data_release_id=args.data_release_id,
        version_id=args.version_id,
        pool_name=Path(args.pools[0]).stem,
        options=_pack_options(args),
    )
    written = []
    if args.dry_run:
        result = engine.generate(table, config=config, rules=_names(args.rules),
                                 skip_rules=_names(args.skip_rules) or (), plugin_manager=pm,
                                 keep_going=args.keep_going)
    else:  # each association is written as it is finished
        outcome = output.generate_to(table, args.output_dir, plugin_manager=pm, config=config,
                                     rules=_names(args.rules), skip_rules=_names(args.skip_rules) or (),
                                     format=args.format, overwrite=args.overwrite, update=args.update,
                                     prune=args.prune, member_dir=args.member_dir, inputs=args.pools,
                                     engine=args.engine, scheduler=args.scheduler, keep_going=args.keep_going,
                                     progress=False if args.quiet else None, strict=args.strict)
        result, written = outcome.result, outcome.written
        if args.update and not args.quiet:
            print(output.update_summary(outcome))
    if args.orphans:
        from romanasn import explain

        explain.write_orphans(result.orphans, args.orphans)
    _print_summary(result, args, written)
    for failed in result.failed:
        print(f"romanasn: error: rule {failed.rule!r} of plugin {failed.plugin} {failed.version} left out "
              f"(the other rules finished): {failed.error}", file=sys.stderr)
    return 1 if result.failed else 0


def _isin(column: Any, values: list[int]) -> Any:
    import numpy as np

    return np.isin(np.asarray(column), values)


def _print_summary(result: engine.Result, args: argparse.Namespace, written: list[Path]) -> None:
    if args.quiet:
        return
    width = max([len(n) for n in result.counts] + [4])
    print(f"{result.pool_rows} pool rows, {len(result.associations)} associations")
    for name, count in sorted(result.counts.items()):
        print(f"  {name:<{width}}  {count}")
    for skipped in result.skipped:
        print(f"  {skipped.rule:<{width}}  skipped ({skipped.reason})")
    for failed in result.failed:
        print(f"  {failed.rule:<{width}}  FAILED (see below)")
    if result.vetoes:
        print(f"{len(result.vetoes)} memberships vetoed (see {output.RUN_REPORT})")
    print(f"{len(result.orphans)} rows in no association")
    if written:
        print(f"wrote {len(written)} association files to {args.output_dir}")
    elif args.dry_run:
        print("dry run: nothing written")


# -- plugins, rules, columns ----------------------------------------------------


def _add_plugins(sub: Any) -> None:
    p = sub.add_parser("plugins", help="list the installed rule packs")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_plugins)


def plugin_table(pm: PluginManager) -> list[dict[str, Any]]:
    """Every plugin: name, version, status, hooks, rules (and error when failed)."""
    rules_by_plugin: dict[str, list[str]] = {}
    if not any(i.status == "failed" for i in pm.plugin_infos()):
        for entry in pm.rules():
            rules_by_plugin.setdefault(entry.plugin.name, []).append(entry.name)
    rows = []
    for info in pm.plugin_infos():
        row = {"name": info.name, "version": info.version, "status": info.status,
               "hooks": pm.hooks_of(info.name), "rules": rules_by_plugin.get(info.name, [])}
        if info.error:
            row["error"] = info.error
        rows.append(row)
    return rows


def _plugins(args: argparse.Namespace, pm: PluginManager) -> int:
    rows = plugin_table(pm)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']} {row['version']}  {row['status']}  rules: {', '.join(row['rules']) or '-'}")
            if "error" in row:
                print(f"    {row['error']}")
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def _add_rules(sub: Any) -> None:
    p = sub.add_parser("rules", help="list the installed rules")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_rules)


def _rules(args: argparse.Namespace, pm: PluginManager) -> int:
    pm.check()
    rows = [{"name": e.name, "plugin": e.plugin.name, "asn_type": e.rule.asn_type,
             "level": e.rule.level, "summary": e.rule.summary} for e in pm.rules()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table([[r["name"], r["asn_type"], f"L{r['level']}", r["plugin"], r["summary"]] for r in rows])
    return 0


def _print_table(rows: list[list[str]]) -> None:
    """Print ``rows`` in columns as wide as their widest cell (the last column as it is)."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]))


def _add_columns(sub: Any) -> None:
    p = sub.add_parser("columns", help="list the pool columns (canonical and those packs add)")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_columns)


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
        _print_table([[r["name"], r["dtype"], "required" if r["required"] else "optional", r["plugin"],
                       r["description"]] for r in rows])
    return 0


# -- validate, from-list ---------------------------------------------------------


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check association files against the schema")
    _common(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=_validate)


def _validate(args: argparse.Namespace, pm: PluginManager) -> int:
    bad = 0
    for name in args.files:
        try:
            asnfile.load_asn(name)
        except RomanasnError as exc:
            bad += 1
            print(f"{name}: invalid: {exc}", file=sys.stderr)
        else:
            if not args.quiet:
                print(f"{name}: valid")
    return 1 if bad else 0


def _add_from_list(sub: Any) -> None:
    from romanasn import fromlist

    p = sub.add_parser("from-list", help="one association from an explicit list of files (romancal's asn_from_list)",
                       description="Make one association from the files given. Every argument of romancal's"
                                   " asn_from_list works here with the same meaning.",
                       epilog="example: romanasn from-list -o mosaic_asn.json --product-name my_mosaic *_cal.asdf")
    _common(p)
    fromlist.configure(p)
    p.set_defaults(run=fromlist.run)


# -- make-pool -----------------------------------------------------------------------


def _add_make_pool(sub: Any) -> None:
    from romanasn import makepool

    p = sub.add_parser("make-pool", help="make a pool from exposure files (reads only their YAML headers)",
                       description="Read roman.meta from the YAML header of each ASDF exposure file and"
                                   " write the pool that generate reads.")
    _common(p)
    makepool.configure(p)
    p.set_defaults(run=makepool.run)


# -- new-pack ------------------------------------------------------------------------


def _add_new_pack(sub: Any) -> None:
    from romanasn import newpack

    p = sub.add_parser("new-pack", help="write the skeleton of a rule pack, ready to install and test",
                       description="Write a rule pack's skeleton (pyproject with the entry point, a rule,"
                                   " a naming override, tests) into DIR/romanasn-NAME.")
    _common(p)
    newpack.configure(p)
    p.set_defaults(run=newpack.run)


# -- explain, diff ----------------------------------------------------------------------


def _add_explain(sub: Any, pm: PluginManager) -> None:
    from romanasn import explain

    p = sub.add_parser("explain", help="say why one exposure is, or is not, in each association",
                       description="For one exposure of the pool, each rule's verdict: not selected (by"
                                   " which condition), vetoed (by which constraint and plugin), or the"
                                   " keys it got and the associations it joined.")
    _common(p)
    explain.configure(p, pm)
    p.set_defaults(run=explain.run)


def _add_diff(sub: Any) -> None:
    from romanasn import diff

    p = sub.add_parser("diff", help="compare two folders of association files by content",
                       description="Compare two sets of association files by product name: associations"
                                   " added and removed, members gained and lost. Exit status 0 when"
                                   " equal, 3 when they differ.")
    _common(p)
    diff.configure(p)
    p.set_defaults(run=diff.run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
