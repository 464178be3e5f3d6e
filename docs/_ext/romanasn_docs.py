"""Sphinx directives that write romanasn's reference pages from the code itself.

Every table here is read from the thing it describes, at build time, so the
documentation cannot drift from the code:

- ``romanasn-cli``: every subcommand and option, from the parser that
  ``romanasn`` builds (``romanasn.cli.build_parser``), and what each shipped
  pack adds to it.
- ``romanasn-hooks``: every hook specification, from
  ``romanasn.plugins.hookspec`` (its docstring through autodoc).
- ``romanasn-api``: every name in ``romanasn.__all__``, grouped.
- ``romanasn-columns`` / ``romanasn-legacy-columns`` / ``romanasn-pool-example``:
  the canonical pool columns from ``schemas/pool.schema.json``.
- ``romanasn-schema``: the properties of one object of ``schemas/asn.schema.json``.
- ``romanasn-pack``: one shipped pack, its rules and the products they make
  from ``examples/pool.ecsv``; ``romanasn-pack-example``: the file of one
  association a rule makes from it.
- ``romanasn-output``: a command run in-process, and what it prints.
- ``romanasn-newpack-tree`` / ``romanasn-newpack-file``: the skeleton
  ``romanasn new-pack`` writes.
- ``romanasn-gallery``: the pictures ``docs/gallery.py`` drew.

Pages that should read well as plain Markdown too (the quick start, the
author's guide) hold their command outputs and files themselves, each block
after a ``<!-- output: ... -->``, ``<!-- newpack-file: ... -->`` or
``<!-- include: ... -->`` marker; the build warns when a block is no longer
what the code gives, and ``python docs/_ext/romanasn_docs.py --refresh PAGE.md``
writes the blocks anew.

The directives write reStructuredText; use them in ``.rst`` pages or inside
``{eval-rst}`` blocks of Markdown pages.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import logging
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes

sys.path.insert(0, str(Path(__file__).parent))

import romanasn_packs as packs  # noqa: E402

GALLERY = Path(__file__).resolve().parents[1] / "_static" / "gallery"
NEWPACK_NAME = "my-survey"
_TEMPORARY: list[str] = []  # folders made while building, removed when the build ends


def _temporary_folder() -> str:
    folder = tempfile.mkdtemp(prefix="romanasn-docs-")
    _TEMPORARY.append(folder)
    return folder


def _remove_temporary(app: Sphinx, exception: Exception | None) -> None:
    import shutil

    while _TEMPORARY:
        shutil.rmtree(_TEMPORARY.pop(), ignore_errors=True)


# -- reStructuredText helpers ---------------------------------------------------


def esc(text: Any) -> str:
    """Text safe to put in reStructuredText as it is."""
    out = str(text).replace("\\", "\\\\")
    for char in "*`|_":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def lit(text: Any) -> str:
    """Inline literal text (``text``); nothing when empty."""
    text = str(text)
    return f"``{text}``" if text else ""


def table(header: list[str], rows: Iterable[list[str]], widths: list[int] | None = None) -> list[str]:
    """A list-table; cells are reStructuredText already."""
    rows = list(rows)
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header] + rows:
        for i, cell in enumerate(row):
            lines.append((("   * - " if i == 0 else "     - ") + cell).rstrip())
    lines.append("")
    return lines


def heading(text: str, char: str) -> list[str]:
    """A section title underlined with ``char``."""
    return [text, char * max(len(text), 4), ""]


def literal_block(text: str, language: str = "text") -> list[str]:
    """A code block."""
    lines = [f".. code-block:: {language}", ""]
    lines += ["   " + line if line else "" for line in text.rstrip("\n").splitlines()]
    return lines + [""]


class Generated(SphinxDirective):
    """A directive whose body is reStructuredText made by :meth:`rst`."""

    has_content = False

    def rst(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        lines = self.rst()
        content = StringList(lines, source=f"<{self.name} in {self.env.docname}>")
        return list(nested_parse_to_nodes(self.state, content, allow_section_headings=True))


# -- the command line ---------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of every subcommand, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=88)


def _usage(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = _formatter
    return parser.format_usage().strip()


#: Options every subcommand has; documented once, with the top-level parser.
COMMON = {"-v", "--verbose", "-q", "--quiet", "--log"}


def _argument_rows(parser: argparse.ArgumentParser, common: bool = True) -> list[list[str]]:
    formatter = _formatter(parser.prog)
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if not common and COMMON.intersection(action.option_strings):
            continue
        if action.option_strings:
            names = ", ".join(lit(o) for o in action.option_strings)
        else:
            names = lit(action.metavar or action.dest)
        if action.choices:
            value = " | ".join(lit(c) for c in action.choices)
        elif action.nargs == 0:
            value = "switch"
        elif action.option_strings:
            value = lit(action.metavar or action.dest.upper())
        else:
            value = {"+": "one or more", "*": "any number", "?": "optional"}.get(action.nargs, "one")
        if isinstance(action, argparse._AppendAction):
            value += " (repeatable)"
        default = action.default
        shown = lit(default) if default not in (None, False, argparse.SUPPRESS, "==SUPPRESS==") else ""
        help_text = formatter._expand_help(action) if action.help else ""
        if action.required and action.option_strings:
            help_text = "required; " + help_text
        rows.append([names, value, shown, esc(help_text)])
    return rows


def _arguments(parser: argparse.ArgumentParser, common: bool = True) -> list[str]:
    rows = _argument_rows(parser, common)
    if not rows:
        return ["No arguments of its own.", ""] if not common else ["No arguments.", ""]
    return table(["argument", "takes", "default", "what it does"], rows, [22, 18, 10, 50])


def _command(name: str, help_text: str, parser: argparse.ArgumentParser, char: str) -> list[str]:
    """A section for one command: what it does, its usage, its arguments, then its own subcommands."""
    lines = heading(name, char)
    if help_text:
        lines += [esc(help_text[:1].upper() + help_text[1:]) + ".", ""]
    if parser.description and parser.description.rstrip(".") != help_text.rstrip("."):
        lines += [esc(parser.description), ""]
    lines += literal_block(_usage(parser))
    lines += _arguments(parser, common=False)
    if parser.epilog:
        lines += literal_block(parser.epilog)
    levels = "-~^'\"+"
    deeper = levels[min(levels.index(char) + 1, len(levels) - 1)]
    for sub_name, sub_help, sub in _subcommands(parser):
        lines += _command(f"{name} {sub_name}", sub_help, sub, deeper)
    return lines


class CliDirective(Generated):
    """Every ``romanasn`` subcommand with its usage and arguments, then what the shipped packs add."""

    def rst(self) -> list[str]:
        from romanasn.cli import build_parser
        from romanasn.plugins.manager import get_plugin_manager

        parser = build_parser(get_plugin_manager(autoload=False))
        lines = heading("Options of every command", "-")
        lines += literal_block(_usage(parser))
        lines += [
            "These go before the subcommand; ``-v``, ``-q``, ``--log`` and ``-p no:NAME`` may also",
            "follow it.", "",
        ]
        lines += _arguments(parser)
        lines += ["Every subcommand also takes ``-v``, ``-q`` and ``--log FILE``, as above.", ""]
        for name, help_text, sub in _subcommands(parser):
            lines += _command(f"romanasn {name}", help_text, sub, "-")
        lines += heading("What the shipped packs add", "-")
        lines += [
            "Packs add options to ``romanasn generate`` (hook :py:func:`~romanasn.plugins.hookspec.romanasn_generate_options`)",
            "and subcommands of their own (hook :py:func:`~romanasn.plugins.hookspec.romanasn_commands`).",
            "They appear in ``romanasn --help`` only while the pack is installed.", "",
        ]
        added = False
        for pack in packs.importable_packs():
            pm = packs.manager([pack])
            options = [f.item for f in pm.generate_options()]
            commands = [f.item for f in pm.commands()]
            if not options and not commands:
                continue
            added = True
            lines += heading(f"Added by {pack.dist}", "~")
            if options:
                rows = [[lit(o.name), "switch" if o.flag else lit(o.metavar or o.dest.upper()),
                         ", ".join(lit(e) for e in o.env) or "", esc(o.help)] for o in options]
                lines += ["Options of ``romanasn generate``:", ""]
                lines += table(["option", "takes", "environment", "what it does"], rows, [22, 14, 18, 46])
            for command in commands:
                sub = argparse.ArgumentParser(prog=f"romanasn {command.name}", formatter_class=_formatter)
                command.configure(sub)
                lines += _command(f"romanasn {command.name}", command.help, sub, "^")
        if not added:
            lines += ["None of the shipped packs adds options or commands.", ""]
        return lines


# -- hooks ----------------------------------------------------------------------------


def hook_names() -> list[str]:
    """The hook specifications of ``romanasn.plugins.hookspec``, in source order."""
    from romanasn.plugins import NAME, hookspec

    marker = f"{NAME}_spec"
    return [name for name, value in vars(hookspec).items()
            if name.startswith(f"{NAME}_") and callable(value) and hasattr(value, marker)]


def _implements(module: Any, hook: str) -> bool:
    function = getattr(module, hook, None)
    return function is not None and hasattr(function, "romanasn_impl")


class HooksDirective(Generated):
    """A summary table of the hooks, then each hook's specification."""

    def rst(self) -> list[str]:
        from romanasn.plugins import hookspec
        from romanasn.plugins import defaults

        names = hook_names()
        shipped = packs.importable_packs()
        rows = []
        for name in names:
            function = getattr(hookspec, name)
            opts = getattr(function, "romanasn_spec")
            calls = "first answer" if opts.get("firstresult") else "every plugin"
            summary = (inspect.getdoc(function) or "").split("\n\n")[0].replace("\n", " ")
            rows.append([f":py:func:`~romanasn.plugins.hookspec.{name}`", calls, summary])
        lines = table(["hook", "calls", "what for"], rows, [30, 14, 56])
        for name in names:
            function = getattr(hookspec, name)
            opts = getattr(function, "romanasn_spec")
            lines += heading(f"``{name}``", "-")
            kind = ("*firstresult*: the kernel calls the plugins one at a time and stops at the first "
                    "that does not return None." if opts.get("firstresult") else
                    "The kernel calls every plugin that implements it.")
            lines += [kind, ""]
            users = [f"``{p.dist}``" for p in shipped if _implements(p.module, name)]
            if _implements(defaults, name):
                users.insert(0, "the kernel's default (``romanasn.plugins.defaults``, called last)")
            lines += ["Implemented by: " + (", ".join(users) if users else "no shipped pack yet") + ".", ""]
            lines += [f".. autofunction:: romanasn.plugins.hookspec.{name}", ""]
        return lines


# -- the Python API -------------------------------------------------------------------

API_GROUPS: list[tuple[str, str, list[str]]] = [
    ("Pools", "Read, check and write pools (:doc:`pool`).",
     ["read_pool", "read_pools", "write_pool"]),
    ("Making associations", "Run rules over a pool, with the packs a plugin manager holds.",
     ["generate", "Result", "RunConfig", "get_plugin_manager", "write_result"]),
    ("Association records and files", "The records ``generate`` returns and the files they are written to "
     "(:doc:`asn-files`).",
     ["Association", "Product", "Member", "Provenance", "load_asn", "write_asn"]),
    ("Writing rules", "What a pack's hooks return (:doc:`authoring`, :doc:`hooks`).",
     ["hookimpl", "NAME", "Rule", "Group", "MemberSpec", "Companion", "Constraint", "isin",
      "PoolColumn", "Option", "Command", "degraded_reasons"]),
    ("Names", "Pieces of Roman file and product names, for rules' ``product_name`` functions.",
     ["level3_name", "grouping_code", "visit_code", "pass_code", "daily_code", "program_id",
      "name_token", "member_filename", "strip_level", "focal_plane_name"]),
    ("Errors", "Every error names the file, row, column or plugin at fault. ``romanasn`` exits with "
     "the error's ``exit_status``.",
     ["RomanasnError", "PoolError", "AsnError", "PluginError", "RuleError", "UsageError"]),
]

DATA_DOCS = {
    "NAME": "``\"romanasn\"``: at once the pluggy project name, the prefix of every hook, the "
            "entry-point group packs register under and the prefix of the environment variables.",
    "hookimpl": "The marker of hook implementations: ``@hookimpl def romanasn_rules(): ...``. "
                "``@hookimpl(tryfirst=True)`` and the other pluggy options work too.",
    "__version__": "The installed kernel's version.",
}


def _api_entry(name: str) -> list[str]:
    import romanasn

    value = getattr(romanasn, name)
    if inspect.isclass(value):
        extra = ["   :show-inheritance:"] if issubclass(value, BaseException) else ["   :members:"]
        return [f".. autoclass:: romanasn.{name}", *extra, ""]
    if inspect.isfunction(value):
        return [f".. autofunction:: romanasn.{name}", ""]
    text = DATA_DOCS.get(name, "")
    return [f".. py:data:: {name}", "", f"   {text}", ""]


class ApiDirective(Generated):
    """Every name of ``romanasn.__all__``, grouped, then the modules packs test with."""

    def rst(self) -> list[str]:
        import romanasn

        public = list(romanasn.__all__)
        lines = [".. py:module:: romanasn", ""]
        seen: set[str] = set()
        groups = list(API_GROUPS)
        rest = [n for n in public if n not in {m for _, _, ms in groups for m in ms}]
        if rest:
            groups.append(("Other names", "", rest))
        for title, intro, members in groups:
            members = [m for m in members if m in public and m not in seen]
            if not members:
                continue
            lines += heading(title, "-")
            lines += [intro, ""] if intro else []
            for name in members:
                seen.add(name)
                lines += _api_entry(name)
        lines += heading("Testing packs: ``romanasn.testing``", "-")
        lines += [".. automodule:: romanasn.testing", "   :members:", ""]
        lines += heading("Pack skeletons: ``romanasn_newpack`` (the romanasn-newpack pack)", "-")
        lines += [".. automodule:: romanasn_newpack.skeleton", "   :members: pack_names, render, write_pack, PackNames",
                  ""]
        return lines


# -- pool columns ----------------------------------------------------------------------


def _constraint(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return ", ".join(lit(v) for v in spec["enum"])
    if "minimum" in spec or "maximum" in spec:
        return f"{spec.get('minimum', '')} to {spec.get('maximum', '')}"
    if "pattern" in spec:
        return "matches " + lit(spec["pattern"])
    if "minLength" in spec:
        return "not empty"
    return ""


class ColumnsDirective(Generated):
    """The canonical pool columns: name, type, required, source in ``roman.meta``, allowed values."""

    option_spec = {"required": directives.unchanged}

    def rst(self) -> list[str]:
        from romanasn.columns import canonical_columns, pool_schema

        want = self.options.get("required")
        props = pool_schema()["properties"]
        rows = []
        for column in canonical_columns():
            if want == "yes" and not column.required or want == "no" and column.required:
                continue
            spec = props[column.name]
            rows.append([lit(column.name), column.dtype, lit(column.meta or ""),
                         _constraint(spec), esc(column.description)])
        return table(["column", "type", "from ``roman.meta``", "allowed", "meaning"], rows, [23, 8, 30, 15, 24])


class LegacyColumnsDirective(Generated):
    """romancal's upper-case pool columns and the canonical names they are read as."""

    def rst(self) -> list[str]:
        from romanasn import makepool

        names = getattr(makepool, "LEGACY_NAMES", {})
        rows = [[lit(legacy), lit(canonical)] for canonical, legacy in sorted(names.items(), key=lambda kv: kv[1])]
        return table(["legacy column", "read as"], rows, [30, 30])


class PoolExampleDirective(Generated):
    """The first rows of the example pool, required columns only, as CSV."""

    option_spec = {"rows": directives.positive_int}

    def rst(self) -> list[str]:
        from romanasn import read_pool
        from romanasn.columns import canonical_columns

        count = self.options.get("rows", 2)
        pool = read_pool(packs.EXAMPLE_POOL)
        names = [c.name for c in canonical_columns() if c.required]
        out = io.StringIO()
        out.write(",".join(names) + "\n")
        for row in pool[:count]:
            out.write(",".join(str(row[n]) for n in names) + "\n")
        return literal_block(out.getvalue())


# -- the association file -----------------------------------------------------------------


def _schema_type(spec: dict[str, Any], root: dict[str, Any]) -> str:
    if "$ref" in spec:
        target = spec["$ref"].rsplit("/", 1)[-1]
        return f"object ({lit(target)}, below)"
    if "oneOf" in spec or "anyOf" in spec:
        return " or ".join(_schema_type(s, root) for s in spec.get("oneOf", spec.get("anyOf")))
    if "enum" in spec:
        return " or ".join(lit(json.dumps(v)) for v in spec["enum"])
    kind = spec.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "items" in spec:
        kind = f"array of {_schema_type(spec['items'], root)}"
    notes = []
    if "minItems" in spec:
        notes.append(f"at least {spec['minItems']}")
    if "minLength" in spec:
        notes.append("not empty")
    if "pattern" in spec:
        notes.append("matches " + lit(spec["pattern"]))
    return kind + (f" ({', '.join(notes)})" if notes else "")


class SchemaDirective(Generated):
    """The properties of the association schema's top level, or of one of its ``$defs``."""

    required_arguments = 0
    option_spec = {"part": directives.unchanged}

    def rst(self) -> list[str]:
        from romanasn.asnfile import schema

        root = schema()
        part = self.options.get("part")
        node = root if not part else root["$defs"][part]
        required = set(node.get("required", ()))
        rows = []
        for name, spec in node.get("properties", {}).items():
            rows.append([lit(name), "yes" if name in required else "", _schema_type(spec, root),
                         esc(spec.get("description", ""))])
        lines = []
        if part and node.get("description"):
            lines += [esc(node["description"]), ""]
        lines += table(["key", "required", "type", "meaning"], rows, [24, 11, 27, 38])
        extra = node.get("additionalProperties", True)
        lines += ["Other keys are " + ("allowed." if extra is not False else "not allowed."), ""]
        return lines


# -- shipped packs ---------------------------------------------------------------------------


def _members_text(spec: Any) -> str:
    suffix = f" (``_{spec.suffix}`` files)" if spec.suffix else " (file names as in the pool)"
    return lit(spec.exptype) + suffix


def _constraint_names(constraints: Iterable[Any]) -> str:
    return "; ".join(lit(c.name) for c in constraints) or "every row"


class PackDirective(Generated):
    """One shipped pack: install, hooks, rules, additions, and its products on the example pool."""

    required_arguments = 1
    option_spec = {"example": directives.unchanged, "members": directives.positive_int}

    def rst(self) -> list[str]:
        dist = self.arguments[0]
        pack = packs.pack(dist)
        if pack is None:
            return [".. note::", "",
                    f"   The pack ``{dist}`` is not in ``plugins/`` of this checkout; its rules will",
                    "   be listed here once it is.", ""]
        if pack.module is None:
            return [".. note::", "",
                    f"   The pack ``{dist}`` is in ``plugins/`` but does not import in the environment",
                    f"   that built these pages ({esc(pack.error)}); install it with",
                    f"   ``pip install -e plugins/{pack.folder.name}`` and build again.", ""]
        pm = packs.manager([pack])
        lines = [f"Distribution ``{pack.dist}`` {pack.version}, entry point "
                  f"``{pack.dist} = \"{pack.entry_point}\"`` in the group ``romanasn``. Install it with", ""]
        lines += literal_block(f"pip install -e plugins/{pack.folder.name}", "shell")
        hooks = pm.hooks_of(pack.dist)
        specs = packs.manager().hook  # every shipped pack's: with the hooks packs add (romanasn_addhooks)
        lines += ["Hooks it implements: " + ", ".join(
            f":py:func:`~{getattr(specs, h).spec.namespace.__name__}.{h}`" for h in hooks) + ".", ""]
        lines += [".. rubric:: Rules", ""]
        for entry in pm.rules():
            rule = entry.rule
            members = _members_text(rule.member)
            for companion in rule.companions:
                members += (f"; plus {_members_text(companion.member)} of the rows with "
                            f"{_constraint_names(companion.select)} that share "
                            + ", ".join(lit(c) for c in companion.on))
            per = ", ".join(lit(g) for g in rule.group_by) + (" (from the rule's key function)" if rule.keys else "")
            lines += [f"{lit(rule.name)}: {lit(rule.asn_type)}, Level {rule.level}",
                      f"   {esc(rule.summary[:1].upper() + rule.summary[1:])}." if rule.summary else "   -", "",
                      f"   Selects {_constraint_names(rule.select)}; one association per {per}; members: {members}."]
            if rule.constraints:
                lines.append(f"   Then vetoes the rows that fail: {_constraint_names(rule.constraints)}.")
            if rule.needs:
                lines.append("   Runs only with " + ", ".join(lit("--" + n.replace("_", "-")) for n in rule.needs) + ".")
            lines.append("")
        options = [f.item for f in pm.generate_options()]
        if options:
            lines += [".. rubric:: Options of ``romanasn generate``", ""]
            lines += table(["option", "what it does"], [[lit(o.name), esc(o.help)] for o in options], [25, 75])
        columns = [f.item for f in pm.pool_columns()]
        if columns:
            lines += [".. rubric:: Pool columns it declares", ""]
            lines += table(["column", "type", "from ``roman.meta``", "meaning"],
                           [[lit(c.name), c.dtype, lit(c.meta or ""), esc(c.description)] for c in columns],
                           [20, 8, 26, 46])
        commands = [f.item for f in pm.commands()]
        if commands:
            lines += [".. rubric:: Commands", ""]
            lines += ["; ".join(f"``romanasn {c.name}``: {esc(c.help)}" for c in commands) + " (see :doc:`/cli`).", ""]
        lines += self._example(pack)
        return lines

    def _example(self, pack: packs.Pack) -> list[str]:
        result = packs.run_example([pack])
        lines = [".. rubric:: On the example pool", ""]
        lines += [f"What the pack alone makes from ``examples/pool.ecsv`` ({result.pool_rows} rows), "
                  "with the kernel and no other pack:", ""]
        by_rule: dict[str, list[Any]] = {}
        for association in result.associations:
            by_rule.setdefault(association.asn_rule, []).append(association)
        rows = []
        for entry in result.rules:
            made = by_rule.get(entry.name, [])
            shown = [f"{lit(a.product_name)} ({len(a.members)} member{'s' if len(a.members) != 1 else ''})"
                     for a in made[:3]]
            if len(made) > 3:
                shown.append(f"and {len(made) - 3} more")
            rows.append([lit(entry.name), str(len(made)), "; ".join(shown) or "none"])
        for skipped in result.skipped:
            rows.append([lit(skipped.rule), "skipped", esc(skipped.reason)])
        lines += table(["rule", "associations", "products"], rows, [22, 12, 66])
        if result.vetoes:
            reasons: dict[str, int] = {}
            for veto in result.vetoes:
                reasons[veto.reason] = reasons.get(veto.reason, 0) + 1
            lines += ["Vetoed: " + "; ".join(f"{n} rows, {esc(r)}" for r, n in sorted(reasons.items())) + ".", ""]
        lines += [f"{len(result.orphans)} rows of the pool are in none of its associations "
                  "(the other packs take most of them).", ""]
        example = self.options.get("example")
        chosen = by_rule.get(example or "", []) or [a for made in by_rule.values() for a in made][:1]
        if chosen:
            lines += association_json(chosen[0], self.options.get("members", 3))
        return lines


def association_json(association: Any, keep: int) -> list[str]:
    """An association file as JSON, with at most ``keep`` members, and a line saying which it is."""
    from romanasn import asnfile

    data = asnfile.to_dict(association)
    members = data["products"][0]["members"]
    note = ""
    if len(members) > keep:
        data["products"][0]["members"] = members[:keep]
        note = f" (the first {keep} of its {len(members)} members)"
    lines = [f"The association file of ``{association.product_name}``{note}:", ""]
    return lines + literal_block(json.dumps(data, indent=4), "json")


class PackExampleDirective(Generated):
    """The first association a rule makes from the example pool, with every shipped pack installed."""

    required_arguments = 1
    option_spec = {"members": directives.positive_int}

    def rst(self) -> list[str]:
        rule = self.arguments[0]
        result = packs.run_example()
        made = [a for a in result.associations if a.asn_rule == rule]
        if not made:
            raise self.error(f"no rule {rule!r} made an association from the example pool")
        return association_json(made[0], self.options.get("members", 2))


# -- commands run while building -------------------------------------------------------------


_SKELETONS: dict[str, tuple[Any, str]] = {}


def _skeleton_plugin(steps: int | None) -> tuple[Any, str]:
    """The plugin module of the ``new-pack my-survey`` skeleton, with the guide's first ``steps`` applied.

    The skeleton is written to a temporary folder and its modules are loaded
    under the skeleton's package name, replacing any loaded before, so one
    build can show the pack at several steps of the guide.
    """
    import importlib.util

    import romanasn_newpack as newpack

    key = "all" if steps is None else str(steps)
    if key in _SKELETONS:
        return _SKELETONS[key]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "guide"))
    import steps as guide  # docs/guide/steps.py

    names = newpack.pack_names(NEWPACK_NAME)
    root = newpack.write_pack(NEWPACK_NAME, _temporary_folder())
    guide.apply(root, steps)
    for name in [m for m in sys.modules if m == names.package or m.startswith(names.package + ".")]:
        del sys.modules[name]
    sys.path.insert(0, str(root / "src"))
    try:
        plugin = importlib.import_module(f"{names.package}.plugin")
    finally:
        sys.path.remove(str(root / "src"))
    for name in [m for m in sys.modules if m == names.package or m.startswith(names.package + ".")]:
        del sys.modules[name]  # the module objects stay alive through ``plugin``
    _SKELETONS[key] = (plugin, names.dist)
    return _SKELETONS[key]


def command_output(command: str, packs_option: str = "shipped", lines: int | None = None,
                   cwd: str | None = None) -> str:
    """``$ romanasn COMMAND`` and what it prints, run in-process from the repository's root.

    ``packs_option`` is ``shipped``, ``none``, or ``guide N`` (see :class:`OutputDirective`);
    ``cwd="empty"`` runs the command in an empty temporary folder. Raises
    :class:`RuntimeError` when the command fails.
    """
    from romanasn.cli import build_parser

    which = packs_option.split()
    extra = (_skeleton_plugin(int(which[1]) if len(which) > 1 else 0),) if which[0] == "guide" else ()
    pm = packs.manager([] if which[0] == "none" else None, extra)
    parser = build_parser(pm)
    args = parser.parse_args(shlex.split(command))
    out = io.StringIO()
    here = os.getcwd()
    quiet = logging.getLogger("romanasn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    folder = Path(_temporary_folder()) if cwd == "empty" else packs.REPO
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            status = args.run(args, pm)
    finally:
        os.chdir(here)
        quiet.setLevel(level)
    if status:
        raise RuntimeError(f"romanasn {command} exited with status {status}:\n{out.getvalue()}")
    text = out.getvalue().replace(str(packs.REPO) + os.sep, "").replace(str(folder) + os.sep, "")
    shown = text.splitlines()
    if lines and len(shown) > lines:
        shown = shown[:lines] + [f"... ({len(shown) - lines} more lines)"]
    return "\n".join([f"$ romanasn {command}"] + shown) + "\n"


class OutputDirective(Generated):
    """``$ romanasn ARGS`` and what it prints, run in-process from the repository's root.

    ``:packs:`` is ``shipped`` (default), ``none``, or ``guide N``: the
    shipped packs and the ``new-pack my-survey`` skeleton with the first N
    steps of the author's guide applied, as if installed. ``:cwd: empty``
    runs the command in an empty temporary folder instead of the repository.
    """

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"packs": directives.unchanged, "lines": directives.positive_int, "cwd": directives.unchanged}

    def rst(self) -> list[str]:
        try:
            text = command_output(self.arguments[0], self.options.get("packs", "shipped"),
                                  self.options.get("lines"), self.options.get("cwd"))
        except RuntimeError as exc:
            raise self.error(str(exc)) from exc
        return literal_block(text, "text")


# -- pages that read well as plain Markdown: blocks written into the page, checked when it builds --------

#: ``<!-- KIND: SPEC -->`` then a fenced block: the block holds what SPEC gives, written into the page so
#: the page reads well as plain Markdown (on GitHub); a build warns when a block is out of date.
SNAPSHOT = re.compile(r"<!-- (output|newpack-file|include): (.*?) -->\n```([\w-]*)\n(.*?)```\n", re.S)
DOCS = Path(__file__).resolve().parents[1]
_LANGUAGES = {".py": "python", ".toml": "toml", ".md": "markdown"}


def snapshot(kind: str, spec: str) -> tuple[str, str]:
    """The language and text of the block a ``<!-- KIND: SPEC -->`` marker stands for.

    ``output: COMMAND | packs=guide 1, lines=4, cwd=empty`` is a command and
    what it prints; ``newpack-file: PATH`` a file of the ``new-pack my-survey``
    skeleton; ``include: PATH`` a file under ``docs/``.
    """
    import romanasn_newpack as newpack

    if kind == "output":
        command, _, options = spec.partition(" | ")
        given = dict(item.strip().split("=", 1) for item in options.split(",") if item.strip())
        lines = int(given["lines"]) if "lines" in given else None
        return "text", command_output(command.strip(), given.get("packs", "shipped"), lines, given.get("cwd"))
    if kind == "newpack-file":
        return _LANGUAGES.get(Path(spec).suffix, "text"), newpack.render(NEWPACK_NAME)[spec]
    return _LANGUAGES.get(Path(spec).suffix, "text"), (DOCS / spec).read_text("utf-8")


def refreshed(text: str) -> tuple[str, list[str]]:
    """``text`` with every snapshot block made anew, and the markers whose block changed."""
    stale = []

    def block(match: re.Match) -> str:
        language, body = snapshot(match[1], match[2])
        new = f"<!-- {match[1]}: {match[2]} -->\n```{language}\n{body.rstrip()}\n```\n"
        if new != match[0]:
            stale.append(f"<!-- {match[1]}: {match[2]} -->")
        return new

    return SNAPSHOT.sub(block, text), stale


def _check_snapshots(app: Sphinx, docname: str, source: list[str]) -> None:
    """Warn (an error with -W) when a page's snapshot blocks are not what the code gives now."""
    if "<!-- " not in source[0] or not SNAPSHOT.search(source[0]):
        return
    from sphinx.util import logging as sphinx_logging

    _, stale = refreshed(source[0])
    for marker in stale:
        sphinx_logging.getLogger(__name__).warning(
            f"the block after {marker} is out of date: run python docs/_ext/romanasn_docs.py --refresh "
            f"docs/{docname}.md", location=docname)


def main(argv: list[str] | None = None) -> int:
    """``python docs/_ext/romanasn_docs.py --refresh PAGE.md...``: write each page's snapshot blocks anew."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--refresh", nargs="+", metavar="PAGE", required=True)
    args = parser.parse_args(argv)
    try:
        for page in map(Path, args.refresh):
            text, stale = refreshed(page.read_text("utf-8"))
            page.write_text(text, "utf-8")
            print(f"{page}: {len(stale)} block{'' if len(stale) == 1 else 's'} refreshed")
    finally:
        _remove_temporary(None, None)  # type: ignore[arg-type]
    return 0


# -- the new-pack skeleton -------------------------------------------------------------------


class NewpackTreeDirective(Generated):
    """The files ``romanasn new-pack my-survey`` writes."""

    def rst(self) -> list[str]:
        import romanasn_newpack as newpack

        names = newpack.pack_names(NEWPACK_NAME)
        files = [f"{names.dist}/{path}" for path in newpack.render(NEWPACK_NAME)]
        return literal_block("\n".join(files))


class NewpackFileDirective(Generated):
    """One file of the ``new-pack`` skeleton, as written for ``my-survey``."""

    required_arguments = 1

    def rst(self) -> list[str]:
        import romanasn_newpack as newpack

        path = self.arguments[0]
        files = newpack.render(NEWPACK_NAME)
        if path not in files:
            raise self.error(f"the new-pack skeleton has no file {path!r}; it has {', '.join(files)}")
        language = {".py": "python", ".toml": "toml", ".md": "markdown"}.get(Path(path).suffix, "text")
        return literal_block(files[path], language)


# -- the gallery ---------------------------------------------------------------------------


class GalleryDirective(Generated):
    """The pictures of ``docs/gallery.py``: each drawn one as a figure, the others as a note."""

    def rst(self) -> list[str]:
        manifest = GALLERY / "manifest.json"
        if not manifest.exists():
            return [".. note::", "", "   No pictures yet: run ``python docs/gallery.py`` (``make docs`` does).", ""]
        lines: list[str] = []
        for entry in json.loads(manifest.read_text("utf-8")):
            lines += heading(entry["title"], "-")
            image = GALLERY / entry["file"]
            if entry.get("drawn") and image.exists():
                lines += [f".. figure:: /_static/gallery/{entry['file']}", f"   :alt: {esc(entry['title'])}",
                          "   :width: 100%", "", f"   {esc(entry['caption'])}", ""]
            else:
                lines += [".. note::", "", f"   Not drawn in this build: {esc(entry.get('note', ''))}", ""]
            lines += [esc(entry.get("about", "")), ""] if entry.get("about") else []
        return lines


# -- links to names re-exported by ``romanasn`` ------------------------------------------------


def _public_alias(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``romanasn.<module>.<Name>`` to ``romanasn.<Name>`` when only the latter is documented."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("romanasn.") or target.count(".") < 2:
        return None
    import romanasn

    name = target.rsplit(".", 1)[-1]
    if name not in romanasn.__all__:
        return None
    domain = env.get_domain("py")
    node = node.deepcopy()
    node["reftarget"] = f"romanasn.{name}"
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], f"romanasn.{name}", node, contnode)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    for name, directive in {
        "romanasn-cli": CliDirective,
        "romanasn-hooks": HooksDirective,
        "romanasn-api": ApiDirective,
        "romanasn-columns": ColumnsDirective,
        "romanasn-legacy-columns": LegacyColumnsDirective,
        "romanasn-pool-example": PoolExampleDirective,
        "romanasn-schema": SchemaDirective,
        "romanasn-pack": PackDirective,
        "romanasn-pack-example": PackExampleDirective,
        "romanasn-output": OutputDirective,
        "romanasn-newpack-tree": NewpackTreeDirective,
        "romanasn-newpack-file": NewpackFileDirective,
        "romanasn-gallery": GalleryDirective,
    }.items():
        app.add_directive(name, directive)
    app.connect("missing-reference", _public_alias)
    app.connect("source-read", _check_snapshots)
    app.connect("build-finished", _remove_temporary)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
