"""The plugin manager: discovery, control, and typed calls into hooks.

Kernel code never calls ``pm.hook.<name>(...)`` itself: it calls the typed
methods of :class:`PluginManager`, which call one implementation at a time,
check what comes back, and name the plugin (distribution and version) in
every error.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Collection, Iterable, Sequence

import attrs
import pluggy
from attrs import frozen

from romanasn import interrupt
from romanasn._version import __version__
from romanasn.errors import PluginError, RuleError, UsageError
from romanasn.naming import unsafe_reason
from romanasn.plugins import NAME, hookspec
from romanasn.plugins.types import Command, Constraint, Option, PoolColumn, Rule
from romanasn.records import Association
from romanasn.words import did_you_mean

KERNEL = NAME
ENV_ALLOW = "ROMANASN_PLUGINS"
ENV_NO_AUTOLOAD = "ROMANASN_DISABLE_PLUGIN_AUTOLOAD"
#: The hooks called per association, which a pack may scope to some rules (``romanasn_hook_scope``).
PER_ASSOCIATION = ("romanasn_build_associations", "romanasn_file_stem", "romanasn_finalize")


def canonical_name(name: str) -> str:
    """A distribution name as packaging normalises it (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@frozen
class PluginInfo:
    """One plugin as the manager sees it.

    ``status`` is ``active``, ``blocked`` (by ``-p no:NAME``, the allow list or
    autoload being off) or ``failed`` (``error`` says why).
    """

    name: str
    version: str
    status: str
    error: str | None = None
    entry_point: str | None = None

    @property
    def label(self) -> str:
        """``name version``, as errors print it."""
        return f"{self.name} {self.version}"


@frozen
class RuleEntry:
    """A rule and the plugin that contributed it."""

    rule: Rule
    plugin: PluginInfo

    @property
    def name(self) -> str:
        """The rule's name, unique across every installed pack."""
        return self.rule.name


@frozen
class Contributed:
    """A record (option, command, constraint) and the plugin it came from."""

    item: Any
    plugin: PluginInfo


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus romanasn's plugin table and typed hook calls."""

    def __init__(self) -> None:
        super().__init__(NAME)
        self.add_hookspecs(hookspec)
        self._infos: dict[str, PluginInfo] = {}
        self._rules: tuple[RuleEntry, ...] | None = None
        self._scopes: dict[str, frozenset[str] | None] | None = None
        self.hook.romanasn_addhooks.call_historic(kwargs={"pluginmanager": self})

    # -- the plugin table ---------------------------------------------------

    def add_plugin(self, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` under ``info.name``, with the hooks it adds (``romanasn_addhooks``);
        a bad hook marks it failed."""
        try:
            self.register(plugin, name=info.name)
        except pluggy.PluginValidationError as exc:
            info = attrs.evolve(info, status="failed", error=f"invalid hook implementation: {exc}")
        except Exception as exc:  # its romanasn_addhooks failed
            self.unregister(name=info.name)
            info = attrs.evolve(info, status="failed", error=f"romanasn_addhooks failed: {describe(exc)}")
        self._infos[info.name] = info
        self._rules = self._scopes = None

    def note_plugin(self, info: PluginInfo) -> None:
        """Record a plugin that was not registered (blocked or failed)."""
        self._infos[info.name] = info

    def plugin_infos(self) -> list[PluginInfo]:
        """Every plugin known, the kernel first, then by name."""
        return sorted(self._infos.values(), key=lambda i: (i.name != KERNEL, i.name))

    def knows(self, name: str) -> bool:
        """Whether a plugin of this name was registered or noted."""
        return name in self._infos

    def hooks_of(self, name: str) -> list[str]:
        """The hooks a registered plugin implements."""
        plugin = self.get_plugin(name)
        if plugin is None:
            return []
        return sorted(caller.name for caller in self.get_hookcallers(plugin) or ())

    def check(self) -> None:
        """Fail when a plugin failed to load or implements an unknown hook."""
        failed = [i for i in self._infos.values() if i.status == "failed"]
        if failed:
            lines = [f"plugin {i.label} failed to load: {i.error}" for i in failed]
            raise PluginError("\n".join(lines))
        try:
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            info = self._infos.get(self.get_name(exc.plugin) or "")
            who = info.label if info else repr(exc.plugin)
            raise PluginError(f"plugin {who}: {exc}") from exc

    def blame(self, exc: BaseException) -> PluginError:
        """The error to raise for ``exc``, which escaped plugin code: names the plugin whose module
        holds the innermost frame of its traceback (when one does)."""
        files = {}
        for name, plugin in self.list_name_plugin():
            module = plugin if isinstance(plugin, ModuleType) else sys.modules.get(type(plugin).__module__)
            path = getattr(module, "__file__", None)
            if name != KERNEL and path and name in self._infos:
                where = Path(path).parent if Path(path).name == "__init__.py" else Path(path)
                files[str(where)] = self._infos[name]
        culprit = None
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            filename = frame.f_code.co_filename
            culprit = next((info for where, info in files.items()
                            if filename == where or filename.startswith(where + os.sep)), culprit)
        who = f"plugin {culprit.label}" if culprit else "a plugin"
        return PluginError(f"{who} stopped the run: {describe(exc)}")

    # -- calling hooks ------------------------------------------------------

    def _implementations(self, hook_name: str, rule: str | None = None) -> list[pluggy.HookImpl]:
        """A hook's implementations in call order (pluggy's LIFO order); with ``rule``, the kernel's
        and those of the packs whose per-association hooks serve it."""
        return [impl for impl in reversed(getattr(self.hook, hook_name).get_hookimpls())
                if rule is None or self.serves(impl.plugin_name, rule)]

    def _call(self, impl: pluggy.HookImpl, hook_name: str, **kwargs: Any) -> Any:
        """Call one implementation with the arguments it asks for."""
        spec = getattr(self.hook, hook_name).spec
        kwargs = {**spec.kwargdefaults, **kwargs}
        args = [kwargs[name] for name in impl.argnames]
        extra = {name: kwargs[name] for name in impl.kwargnames if name in kwargs}
        if impl.plugin_name == KERNEL:  # the engine names the rule's plugin for these
            return impl.function(*args, **extra)
        try:
            return impl.function(*args, **extra)
        except BaseException as exc:
            if not failure(exc):
                raise
            label = self._label(impl)
            exc.add_note(f"raised in hook {hook_name} of plugin {label}")
            raise PluginError(f"plugin {label} failed in {hook_name}: {describe(exc)}") from exc

    def _label(self, impl: pluggy.HookImpl) -> str:
        info = self._infos.get(impl.plugin_name)
        return info.label if info else impl.plugin_name

    def _each(self, hook_name: str, only: str | None = None, serving: str | None = None,
              **kwargs: Any) -> Iterable[tuple[Any, PluginInfo]]:
        """Yield (result, plugin) for every implementation (the plugin ``only``'s alone, when
        given; those serving the rule ``serving``, when given) that returns something."""
        for impl in self._implementations(hook_name, serving):
            if only is not None and impl.plugin_name != only:
                continue
            result = self._call(impl, hook_name, **kwargs)
            if result is not None:
                yield result, self._infos[impl.plugin_name]

    def _first(self, hook_name: str, serving: str | None = None, **kwargs: Any) -> tuple[Any, PluginInfo]:
        """The first non-None result of a firstresult hook (from the packs serving the rule
        ``serving``, when given), and its plugin."""
        for result, info in self._each(hook_name, serving=serving, **kwargs):
            return result, info
        raise PluginError(f"no plugin answered {hook_name}")

    def _records(self, hook_name: str, kind: type, only: str | None = None, **kwargs: Any) -> list[Contributed]:
        """Collect the records of a registration hook (of the plugin ``only`` alone, when given),
        checking their type."""
        found = []
        for result, info in self._each(hook_name, only, **kwargs):
            items = _sequence(result, hook_name, info)
            for item in items:
                if not isinstance(item, kind):
                    raise PluginError(
                        f"plugin {info.label}: {hook_name} returned {type(item).__name__}, "
                        f"expected {kind.__name__}"
                    )
                found.append(Contributed(item, info))
        return found

    def records(self, hook_name: str, kind: type, **kwargs: Any) -> list[Contributed]:
        """Call a hook that returns records (one a plugin adds, :func:`~romanasn.plugins.hookspec.romanasn_addhooks`)
        in every plugin: the records of type ``kind``, each with its plugin (an error names it)."""
        return self._records(hook_name, kind, **kwargs)

    # -- typed hooks ----------------------------------------------------------

    def rules(self) -> tuple[RuleEntry, ...]:
        """Every rule of every active plugin, by name; duplicates are an error."""
        if self._rules is None:
            entries: dict[str, RuleEntry] = {}
            for found in self._records("romanasn_rules", Rule):
                rule, info = found.item, found.plugin
                if rule.name in entries:
                    other = entries[rule.name].plugin
                    raise RuleError(
                        f"rule {rule.name!r} is defined by both plugin {other.label} "
                        f"and plugin {info.label}"
                    )
                entries[rule.name] = RuleEntry(rule, info)
            self._rules = tuple(entries[name] for name in sorted(entries))
        return self._rules

    def rules_of(self, name: str) -> list[RuleEntry]:
        """The rules of the one plugin registered as ``name``, its hook called alone (so a
        failing pack does not hide the others' rules)."""
        found = [RuleEntry(f.item, f.plugin) for f in self._records("romanasn_rules", Rule, only=name)]
        return sorted(found, key=lambda entry: entry.name)

    def hook_scopes(self) -> dict[str, frozenset[str] | None]:
        """The rules each pack implementing a per-association hook (:data:`PER_ASSOCIATION`)
        serves by them, from ``romanasn_hook_scope`` (None: every rule). A name that no pack
        defines as a rule is an error naming the pack that gave it."""
        if self._scopes is None:
            known = [entry.name for entry in self.rules()]
            declared = {}
            for result, info in self._each("romanasn_hook_scope"):
                names = _sequence(result, "romanasn_hook_scope", info)
                for name in names:
                    if name not in known:
                        raise PluginError(f"plugin {info.label}: romanasn_hook_scope names {name!r}, which no "
                                          f"installed pack defines as a rule{did_you_mean(str(name), known)}")
                declared[info.name] = frozenset(names)
            hooked = {impl.plugin_name for hook in PER_ASSOCIATION for impl in getattr(self.hook, hook).get_hookimpls()}
            self._scopes = {name: declared.get(name) for name in sorted(hooked - {KERNEL})}
        return self._scopes

    def serves(self, plugin: str, rule: str) -> bool:
        """Whether the per-association hooks of the plugin named ``plugin`` serve the rule ``rule``
        (the kernel's and an unscoped pack's serve every rule)."""
        scope = self.hook_scopes().get(plugin)
        return scope is None or rule in scope

    def serving(self, rule: str) -> list[str]:
        """The packs whose per-association hooks serve the rule ``rule``."""
        return [plugin for plugin in self.hook_scopes() if self.serves(plugin, rule)]

    def match_constraints(self, rule: Rule, config: Any) -> list[Contributed]:
        """Constraints that plugins add to ``rule``, each with its plugin."""
        return self._records("romanasn_match_constraints", Constraint, rule=rule, config=config)

    def product_names(self, rule: Rule, groups: Sequence[Any], config: Any) -> list[str]:
        """One product name per group, from the first plugin that answers."""
        names, info = self._first("romanasn_product_names", rule=rule, groups=groups, config=config)
        names = _sequence(names, "romanasn_product_names", info)
        if len(names) != len(groups) or not all(isinstance(n, str) and n for n in names):
            raise PluginError(
                f"plugin {info.label}: romanasn_product_names must return one non-empty "
                f"string per group for rule {rule.name!r} ({len(groups)} groups, got {len(names)})"
            )
        return list(names)

    def file_stem(self, association: Association, config: Any) -> str:
        """The file stem of an association, checked to be a bare file name."""
        stem, info = self._first("romanasn_file_stem", association.asn_rule, association=association, config=config)
        if not isinstance(stem, str) or unsafe_reason(stem):
            raise PluginError(
                f"plugin {info.label}: romanasn_file_stem returned {stem!r} for "
                f"{association.product_name!r}, which is not a safe file name"
            )
        return stem

    def build_associations(
        self, rule: Rule, groups: Sequence[Any], names: Sequence[str], config: Any
    ) -> list[Association]:
        """One association per group, from the first plugin serving ``rule`` that answers."""
        built, info = self._first(
            "romanasn_build_associations", rule.name, rule=rule, groups=groups, names=names, config=config
        )
        built = _sequence(built, "romanasn_build_associations", info)
        if len(built) != len(groups) or not all(isinstance(a, Association) and a.asn_rule == rule.name for a in built):
            raise PluginError(
                f"plugin {info.label}: romanasn_build_associations must return one "
                f"Association of rule {rule.name!r} per group"
            )
        return list(built)

    def finalize(self, associations: list[Association], config: Any, rules: Collection[str]) -> list[Association]:
        """Pass the associations (of the rules named in ``rules``) through every plugin's finalize
        hook in turn, each seeing those of the rules it serves and returning associations of
        those rules alone."""
        for impl in self._implementations("romanasn_finalize"):
            given = {rule for rule in rules if self.serves(impl.plugin_name, rule)}
            result = self._call(impl, "romanasn_finalize", config=config,
                                associations=[a for a in associations if a.asn_rule in given])
            if result is None:
                continue
            info = self._infos[impl.plugin_name]
            result = _sequence(result, "romanasn_finalize", info)
            if not all(isinstance(a, Association) and a.asn_rule in given for a in result):
                raise PluginError(f"plugin {info.label}: romanasn_finalize must return Associations, of the "
                                  f"rules whose associations it was given ({', '.join(sorted(given))})")
            associations = [a for a in associations if a.asn_rule not in given] + list(result)
        return associations

    def wants_written(self) -> bool:
        """Whether any plugin observes written associations."""
        return bool(self.hook.romanasn_association_written.get_hookimpls())

    def association_written(self, association: Association, path: Any, config: Any) -> None:
        """Tell every observing plugin that ``association`` was written to ``path``."""
        for _ in self._each("romanasn_association_written", association=association, path=path, config=config):
            pass

    def pool_columns(self) -> list[Contributed]:
        """Pool columns the plugins declare."""
        return self._records("romanasn_pool_columns", PoolColumn)

    def run_files(self, folder: Path | None, config: Any, format: str, engine: str) -> dict[str, Callable]:
        """What follows the files of a run (``romanasn_run_files``), by plugin name; a
        :class:`UsageError` a plugin raises refuses the run as it is."""
        try:
            return {info.name: found for found, info in self._each(
                "romanasn_run_files", folder=folder, config=config, format=format, engine=engine)}
        except PluginError as exc:
            if isinstance(exc.__cause__, UsageError):
                raise exc.__cause__ from None
            raise

    def run_written(self, folder: Path, outcome: Any, pool: Any, config: Any, inputs: Sequence[str],
                    followers: dict[str, Callable]) -> None:
        """Tell every plugin that the run has written ``folder``, each with what followed its files for it."""
        for impl in self._implementations("romanasn_run_written"):
            self._call(impl, "romanasn_run_written", folder=folder, outcome=outcome, pool=pool, config=config,
                       inputs=inputs, follower=followers.get(impl.plugin_name), pluginmanager=self)

    def generate_options(self) -> list[Contributed]:
        """Options plugins add to ``generate``; a name taken twice is an error."""
        return _unique(self._records("romanasn_generate_options", Option), lambda o: o.name, "option")

    def commands(self) -> list[Contributed]:
        """Subcommands plugins add; a name taken twice is an error."""
        return _unique(self._records("romanasn_commands", Command, pluginmanager=self), lambda c: c.name, "command")


def _sequence(result: Any, hook_name: str, info: PluginInfo) -> Sequence[Any]:
    if isinstance(result, (str, bytes)) or not isinstance(result, (list, tuple)):
        raise PluginError(
            f"plugin {info.label}: {hook_name} returned {type(result).__name__}, expected a list"
        )
    return result


def _unique(found: list[Contributed], key: Callable[[Any], str], what: str) -> list[Contributed]:
    seen: dict[str, Contributed] = {}
    for entry in found:
        name = key(entry.item)
        if name in seen:
            raise PluginError(
                f"{what} {name!r} is added by both plugin {seen[name].plugin.label} "
                f"and plugin {entry.plugin.label}"
            )
        seen[name] = entry
    return found


def failure(exc: BaseException) -> bool:
    """Whether ``exc``, escaping plugin code, means the plugin failed: any exception, an exit,
    or an interrupt not made by a signal (see :mod:`romanasn.interrupt`)."""
    return isinstance(exc, (Exception, SystemExit)) or (
        isinstance(exc, KeyboardInterrupt) and not interrupt.by_signal(exc))


def describe(exc: BaseException) -> str:
    """``exc`` in a message: its type and text (``sys.exit(N)`` for an exit)."""
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    names = [canonical_name(v.strip()) for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError(f"{name}={value!r} names no pack: unset it to load every pack, "
                         f"or set {ENV_NO_AUTOLOAD}=1 to load none")
    return names


_YES, _NO = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _env_flag(name: str) -> bool:
    """A yes/no environment variable: 1/true/yes/on, or 0/false/no/off/empty/unset."""
    value = os.environ.get(name, "")
    if value.strip().lower() not in _YES + _NO:
        raise UsageError(f"{name}={value!r}: use 1 (or true, yes, on) or 0 (or false, no, off)")
    return value.strip().lower() in _YES


def installed_packs() -> list[str]:
    """The distribution names of the installed packs (entry-point group ``romanasn``)."""
    return sorted({canonical_name(ep.dist.name if ep.dist else ep.name) for ep in entry_points(group=NAME)})


def _check_blocked(blocked: set[str]) -> None:
    """Fail when ``-p no:NAME`` names no installed pack (a typo would block nothing)."""
    if KERNEL in blocked:
        raise UsageError(f"-p no:{KERNEL}: the kernel cannot be blocked, only packs")
    installed = installed_packs() if blocked else []
    unknown = sorted(blocked - set(installed))
    if unknown:
        name = unknown[0]
        raise UsageError(f"-p no:{name}: no installed pack is named {name!r}"
                         f"{did_you_mean(name, installed) or '; installed: ' + (', '.join(installed) or 'none')}")


def get_plugin_manager(
    *,
    autoload: bool | None = None,
    allow: Iterable[str] | None = None,
    block: Iterable[str] = (),
    plugins: Iterable[tuple[object, str]] = (),
) -> PluginManager:
    """Build a plugin manager with the kernel's defaults and the installed packs.

    :param autoload: load the packs of the entry-point group ``romanasn``;
        None means yes unless ``ROMANASN_DISABLE_PLUGIN_AUTOLOAD`` is 1 (or
        true, yes, on; 0, false, no, off or empty mean no).
    :param allow: distribution names to load (all others are blocked); None
        means every pack, or the list in ``ROMANASN_PLUGINS`` (which must
        name at least one).
    :param block: distribution names never to import (``-p no:NAME``); a name
        that is no installed pack is a :class:`UsageError`.
    :param plugins: extra ``(module_or_object, name)`` pairs to register,
        for tests and embedding.

    Failures to load are recorded, not raised: call :meth:`PluginManager.check`
    before relying on the rules.
    """
    from romanasn.plugins import defaults

    pm = PluginManager()
    pm.add_plugin(defaults, PluginInfo(KERNEL, __version__, "active"))
    if autoload is None:
        autoload = not _env_flag(ENV_NO_AUTOLOAD)
    allowed = [canonical_name(a.strip()) for a in allow] if allow is not None else _env_list(ENV_ALLOW)
    blocked = {canonical_name(b) for b in block}
    _check_blocked(blocked)
    if autoload:
        _load_entry_points(pm, allowed, blocked)
    for plugin, name in plugins:
        pm.add_plugin(plugin, PluginInfo(name, str(getattr(plugin, "__version__", "unknown")), "active"))
    return pm


def _load_entry_points(pm: PluginManager, allowed: list[str] | None, blocked: set[str]) -> None:
    found = sorted(entry_points(group=NAME), key=lambda ep: canonical_name(ep.name))
    for ep in found:
        _load_entry_point(pm, ep, allowed, blocked)
    for name in sorted(set(allowed or ()) - blocked):
        if not pm.knows(name):
            pm.note_plugin(PluginInfo(name, "unknown", "failed", error=(
                f"{ENV_ALLOW} (or allow=) names it, but no such pack is installed"
                f"{did_you_mean(name, [canonical_name(ep.name) for ep in found])}")))


def _load_entry_point(pm: PluginManager, ep: Any, allowed: list[str] | None, blocked: set[str]) -> None:
    """Register one entry point's plugin, or note it as blocked or failed."""
    name = canonical_name(ep.dist.name if ep.dist else ep.name)
    version = ep.dist.version if ep.dist else "unknown"
    info = PluginInfo(name, version, "active", entry_point=ep.value)
    if name in blocked or (allowed is not None and name not in allowed):
        pm.note_plugin(PluginInfo(name, version, "blocked", entry_point=ep.value))
    elif pm.knows(name):
        pm.note_plugin(attrs.evolve(info, status="failed", error=f"a second entry point named {name!r}"))
    else:
        try:
            plugin = ep.load()
        except BaseException as exc:  # any import failure is reported, with the plugin named
            if not failure(exc):
                raise
            pm.note_plugin(attrs.evolve(info, status="failed", error=f"cannot import {ep.value}: {describe(exc)}"))
        else:
            pm.add_plugin(plugin, info)
