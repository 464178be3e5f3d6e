"""Hook specifications: every extension point of romanasn.

A rule pack implements some of these in a light ``<package>/plugin.py``
module, marking each function with :data:`romanasn.hookimpl`, and registers
that module under the entry-point group ``romanasn``, the entry point named
after the distribution::

    [project.entry-points.romanasn]
    romanasn-wfi-imaging = "romanasn_wfi_imaging.plugin"

An implementation may accept any subset of a hook's arguments, so arguments
added later never break existing packs. The kernel calls hooks one
implementation at a time and names the plugin (distribution and version) in
any error, including exceptions raised inside an implementation.

Hooks marked *firstresult* stop at the first implementation that returns
something other than None; the kernel's own implementation is ``trylast``, so
a pack answers only for what it owns (say, the rules it contributed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from romanasn.plugins import _hookspec

if TYPE_CHECKING:
    from pathlib import Path


    from romanasn.plugins.types import (
        Command,
        Constraint,
        Group,
        Option,
        PoolColumn,
        Rule,
        RunConfig,
    )
    from romanasn.records import Association


# -- rules and matching ------------------------------------------------------


@_hookspec
def romanasn_rules() -> Sequence[Rule]:
    """Return the association rules this pack contributes.

    :return: a sequence of :class:`~romanasn.plugins.types.Rule` records.
        Rule names must be unique across all installed packs; a duplicate is
        an error naming both distributions. A rule's associations must never
        cross a program (checked on every run: a rule that breaks it fails).

    Called once per plugin manager, for every plugin.

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_match_constraints(rule: Rule, config: RunConfig) -> Sequence[Constraint] | None:
    """Add constraints to another pack's rule, or veto its members.

    :param rule: a rule about to run (from any pack).
    :param config: the run's configuration.
    :return: constraints to apply to the rows that ``rule`` selected, or None.
        Rows failing a constraint are left out of the rule's associations
        and recorded as vetoed, with the constraint's ``reason`` and the name
        of the plugin that returned it.

    Called once per rule and run, for every plugin.

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_finalize(associations: Sequence[Association], config: RunConfig) -> Sequence[Association] | None:
    """Merge, drop or amend associations after matching.

    :param associations: every association made so far, in product-name
        order, without ``asn_id``\\ s (they are assigned afterwards).
    :param config: the run's configuration.
    :return: the new list of associations, or None to leave it unchanged.

    Plugins are called in turn, each seeing the previous one's result. A pack
    declaring its rules (:func:`romanasn_hook_scope`) sees only their
    associations, and must return associations of those rules alone.

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_hook_scope() -> Sequence[str] | None:
    """Name the rules this pack's per-association hooks serve.

    The per-association hooks are :func:`romanasn_build_associations`,
    :func:`romanasn_file_stem` and :func:`romanasn_finalize`. The kernel
    calls a pack's implementations of them only for the associations of the
    rules named here (any pack's), and makes every other rule's associations
    as columns, much faster (the *columnar lane*).

    :return: the names of the rules (an empty list: none), or None (the
        default, as when the hook is not implemented): every rule, so a run
        makes every association through the hooks. A name that no installed
        pack defines is an error naming this pack.

    Called once per plugin manager, for every plugin; not firstresult.

    .. versionadded:: 0.1
    """


# -- naming -------------------------------------------------------------------


@_hookspec(firstresult=True)
def romanasn_product_names(rule: Rule, groups: Sequence[Group], config: RunConfig) -> Sequence[str] | None:
    """Name the products of one rule's associations.

    :param rule: the rule whose groups are named.
    :param groups: the groups of rows that become associations, in a stable
        order.
    :param config: the run's configuration.
    :return: one product name per group, or None to let another plugin (in
        the end the kernel, which calls ``rule.product_name``) answer.

    firstresult: stops at the first non-None result.

    .. versionadded:: 0.1
    """


@_hookspec(firstresult=True)
def romanasn_file_stem(association: Association, config: RunConfig) -> str | None:
    """Name the file an association is written to, without its extension.

    :param association: the finished association.
    :param config: the run's configuration.
    :return: the file stem (the kernel appends ``.json``, ``.yaml`` or
        ``.asdf``), or None. The kernel's default is
        ``<product name>_asn``. A stem must be a bare file name: no folder,
        no ``..``, no control characters.

    firstresult: stops at the first non-None result. Called for the
    associations of the rules in the pack's scope (:func:`romanasn_hook_scope`).

    .. versionadded:: 0.1
    """


# -- product generation -------------------------------------------------------


@_hookspec(firstresult=True)
def romanasn_build_associations(
    rule: Rule, groups: Sequence[Group], names: Sequence[str], config: RunConfig
) -> Sequence[Association] | None:
    """Build the associations (products and members) of one rule.

    :param rule: the rule.
    :param groups: its groups of rows.
    :param names: the product name of each group.
    :param config: the run's configuration.
    :return: one association of ``rule`` per group, or None to let the kernel build
        them from ``rule.member``, ``rule.companions`` and ``rule.extras``.
        The kernel stamps provenance and ``degraded_status`` afterwards.

    firstresult: stops at the first non-None result. Called for the rules in
    the pack's scope (:func:`romanasn_hook_scope`).

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_association_written(association: Association, path: Path, config: RunConfig) -> None:
    """Observe an association file just written (for example to write artefacts beside it).

    :param association: the association, as written.
    :param path: the file it was written to.
    :param config: the run's configuration.
    :return: nothing; any result is ignored.

    Called for every plugin after each file is written; not called on a dry run.

    .. versionadded:: 0.1
    """


# -- pool ---------------------------------------------------------------------


@_hookspec
def romanasn_pool_columns() -> Sequence[PoolColumn]:
    """Declare the pool columns this pack's rules need.

    :return: :class:`~romanasn.plugins.types.PoolColumn` records (name, type,
        required or not, where ``make-pool`` reads the value in an
        exposure's ``roman.meta``). Canonical columns need not be repeated; a
        column declared with a different type than the kernel's is an error.

    .. versionadded:: 0.1
    """


# -- a run's folder ------------------------------------------------------------


@_hookspec
def romanasn_run_files(folder: Path | None, config: RunConfig, format: str,
                       engine: str) -> Callable[[str, bytes], None] | None:
    """Follow the association files of a ``generate`` run as it writes them.

    :param folder: the output folder (it may not exist yet), or None for a
        dry run, which writes nothing.
    :param config: the run's configuration (``config.options`` holds the
        options packs add to ``generate``).
    :param format: ``json``, ``yaml`` or ``asdf``.
    :param engine: ``local`` or ``dask``.
    :return: a callable, called with the name and the bytes of each
        association file as the run hands it to the folder (or finds it
        unchanged), or None. A run some plugin follows is a whole run
        (``--update`` from a database pool then re-plans every program, not
        only those that changed). When the run fails (the folder is then as
        it was), the callable's ``discard()`` is called, if it has one. It
        receives a million files in a large run: keep it cheap (hand the
        bytes to a thread of one's own).

    Called once per ``generate``, before any file is written, for every
    plugin; not firstresult. Raise :class:`~romanasn.UsageError` to refuse
    the run (exit 2, the message as given), say for an option that needs
    files written.

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_run_written(folder: Path, outcome: Any, pool: Any, config: RunConfig, inputs: Sequence[str],
                         follower: Any, pluginmanager: Any) -> None:
    """Act on a run that has written its folder: notify a scheduler, index the files, write a web page of the run.

    :param folder: the output folder, committed (its ``romanasn-run.json`` written).
    :param outcome: what the run did (:class:`romanasn.output.Outcome`): its
        ``result`` (counts, vetoes, orphans, failed rules), the ``files`` it
        made, and with ``--update`` those ``added``, ``changed`` and ``removed``.
    :param pool: the pool table the run read, or None when it read only the
        rows changed since the folder's last run (an ``--update`` from a
        database pool).
    :param config: the run's configuration.
    :param inputs: the pools given, as named on the command line.
    :param follower: what this plugin's :func:`romanasn_run_files` returned
        for the run (None when nothing).
    :param pluginmanager: the plugin manager, to call hooks.
    :return: nothing; any result is ignored.

    Called for every plugin after the run's summary is printed; not called on
    a dry run or a failed run.

    .. versionadded:: 0.1
    """


# -- plugins adding hooks -------------------------------------------------------


@_hookspec(historic=True)
def romanasn_addhooks(pluginmanager: Any) -> None:
    """Add hook specifications of one's own: extension points for other packs.

    :param pluginmanager: the plugin manager
        (:class:`~romanasn.plugins.manager.PluginManager`); call
        ``pluginmanager.add_hookspecs(module)`` with the module holding the
        specifications (functions named ``romanasn_*`` marked with
        ``pluggy.HookspecMarker("romanasn")``), and call them with
        ``pluginmanager.records(name, kind, ...)``.
    :return: nothing; any result is ignored.

    Called for each plugin as it is registered (historic: those registered
    later too). A pack implementing a hook that another pack specifies marks
    it ``@hookimpl(optionalhook=True)``, so that it loads without that pack;
    any other hook that no specification names is an error of its pack
    (:meth:`~romanasn.plugins.manager.PluginManager.check`).

    .. versionadded:: 0.1
    """


# -- command line -------------------------------------------------------------


@_hookspec
def romanasn_generate_options() -> Sequence[Option]:
    """Add options to ``romanasn generate``.

    :return: :class:`~romanasn.plugins.types.Option` records. Their values
        reach every hook through ``config.options[option.dest]``; a rule
        naming an option in ``needs`` is skipped, with one warning, when the
        option has no value.

    .. versionadded:: 0.1
    """


@_hookspec
def romanasn_commands(pluginmanager: Any) -> Sequence[Command]:
    """Add subcommands to ``romanasn``.

    :param pluginmanager: the plugin manager, for a command that calls hooks
        or takes the options packs add to ``generate``.
    :return: :class:`~romanasn.plugins.types.Command` records. A name already
        taken by the kernel or another pack is an error naming both.

    .. versionadded:: 0.1
    """
