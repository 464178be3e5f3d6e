"""The small frozen records that hooks exchange with the kernel.

Packs build these; the kernel validates them, stamps their provenance and
never lets a pack set provenance itself.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Hashable, Iterable, Mapping

import numpy as np
from attrs import field, frozen, validators

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _tuple(value: Iterable | None) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def _frozen_mapping(value: Mapping | None) -> Mapping:
    return dict(value or {})


@frozen
class RunConfig:
    """What a run was asked for, passed to every hook that needs it.

    ``options`` holds the values of the ``generate`` options that packs add
    (by their ``dest`` name); ``pool_name`` is the pool file's stem.
    """

    data_release_id: str = "p"
    version_id: str | None = None
    pool_name: str = "none"
    options: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)

    def option(self, name: str, default: Any = None) -> Any:
        """The value of a pack option, or ``default`` when it was not given."""
        value = self.options.get(name)
        return default if value is None else value


@frozen
class Constraint:
    """A vectorised test on pool rows.

    ``test(table)`` returns one boolean per row of the astropy ``table``:
    True where the row satisfies the constraint. ``reason`` says why a row
    that fails it is left out (recorded as a veto when the constraint is not
    part of a rule's selection).
    """

    name: str
    test: Callable[[Any], np.ndarray]
    reason: str = ""


def isin(column: str, *values: Any) -> Constraint:
    """Rows whose ``column`` holds one of ``values``."""
    wanted = list(values)
    return Constraint(
        name=f"{column} in {wanted}",
        test=lambda table: np.isin(np.asarray(table[column]), wanted),
        reason=f"{column} not in {wanted}",
    )


@frozen
class MemberSpec:
    """How a pool row becomes a member.

    ``suffix`` is the level suffix the member file needs (``cal`` turns
    ``x_uncal.asdf`` into ``x_cal.asdf``); None keeps the pool's file name.
    """

    exptype: str = "science"
    suffix: str | None = None


@frozen
class Companion:
    """Rows that join an association because they share values with it.

    Rows passing ``select`` are attached to every association of the rule
    whose rows have the same values in the ``on`` columns (a hash join), as
    members built by ``member``. Example: direct images of the same visit and
    detector added to a spectral exposure.
    """

    select: tuple[Constraint, ...] = field(converter=_tuple)
    on: tuple[str, ...] = field(converter=_tuple)
    member: MemberSpec = MemberSpec(exptype="companion")


class PoolView:
    """Python lists of a pool's columns, made on first use and shared by all rules."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._lists: dict[str, list] = {}
        self._derived: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self.table)

    def column(self, name: str) -> list:
        """The values of column ``name`` as a list (masked values are None)."""
        if name not in self._lists:
            self._lists[name] = self.table[name].tolist()
        return self._lists[name]

    def derived(self, key: Hashable, make: Callable[[Any], Any]) -> Any:
        """A value computed once from the table by ``make`` and cached under ``key``."""
        if key not in self._derived:
            self._derived[key] = make(self.table)
        return self._derived[key]

    def forget(self, unwanted: Callable[[Hashable], bool]) -> None:
        """Let go of the values cached under the keys ``unwanted`` accepts (made again if asked for)."""
        self._derived = {key: value for key, value in self._derived.items() if not unwanted(key)}


@frozen
class Group:
    """The rows of one association of a rule, before it is built.

    ``key`` maps each of the rule's ``group_by`` names to this group's value;
    ``rows`` are indices into the pool; ``companions`` holds, for each of the
    rule's companions, the indices of the rows it joins in. :meth:`values` and
    :meth:`first` read pool columns for the group's rows.
    """

    rule: "Rule"
    key: Mapping[str, Any]
    rows: tuple[int, ...]
    view: PoolView = field(repr=False, eq=False)
    companions: tuple[tuple[int, ...], ...] = ()

    def values(self, column: str) -> list[Any]:
        """The values of ``column`` for this group's rows, in row order."""
        data = self.view.column(column)
        return [data[i] for i in self.rows]

    def first(self, column: str) -> Any:
        """The value of ``column`` in the group's first row."""
        return self.view.column(column)[self.rows[0]]


KeyFunction = Callable[[Any, np.ndarray, RunConfig], Iterable[tuple[int, tuple]]]


@frozen
class Rule:
    """An association rule, contributed by a pack through ``romanasn_rules``.

    - ``select``: constraints choosing the rows the rule considers.
    - ``group_by``: the names of the grouping key. Rows with equal values in
      these columns form one association, unless ``keys`` is given.
    - ``keys``: optional ``keys(table, rows, config)`` yielding
      ``(row_index, key_tuple)`` pairs, one row may yield several keys
      (skycells); the tuple matches ``group_by``.
    - ``constraints``: further constraints; selected rows failing one are
      vetoed with its reason.
    - ``member``: how a row becomes a member (exptype, level suffix).
    - ``companions``: rows joined in from outside the selection.
    - ``product_name``: the product name of a group: a template over the
      ``group_by`` columns, computed for every group at once (``"r{program:program}_{drid}_full"``;
      see :func:`romanasn.naming.parse_template`), or a function
      ``product_name(group, config)``, called once per group.
    - ``extras(group, config)``: optional extra top-level keys
      (``target``, ``skycell_wcs_info``, ...).
    - ``needs``: names of ``generate`` options the rule cannot run without;
      when one is missing the rule is skipped with a warning.

    Contract: an association never crosses a program (its rows and
    companions are all of one program), so that a program's associations
    can be made from its rows alone; and a product name follows from the
    group's key (a function naming a group gives the same name for any of
    its rows), so that rows added to a group name its file. The engine fails
    a rule that breaks either, naming the rule and its plugin.
    """

    name: str = field(validator=validators.matches_re(_NAME))
    asn_type: str
    level: int = field(validator=validators.in_((1, 2, 3)))
    product_name: str | Callable[[Group, RunConfig], str] = field()
    select: tuple[Constraint, ...] = field(converter=_tuple, default=())
    group_by: tuple[str, ...] = field(converter=_tuple, default=())
    keys: KeyFunction | None = None
    constraints: tuple[Constraint, ...] = field(converter=_tuple, default=())
    member: MemberSpec = MemberSpec()
    companions: tuple[Companion, ...] = field(converter=_tuple, default=())
    extras: Callable[[Group, RunConfig], Mapping[str, Any]] | None = None
    needs: tuple[str, ...] = field(converter=_tuple, default=())
    summary: str = ""

    @group_by.validator
    def _check_group_by(self, _attribute, value):
        if not value:
            raise ValueError(f"rule {self.name!r}: group_by must name at least one key")

    @product_name.validator
    def _check_product_name(self, _attribute, value):
        if isinstance(value, str):
            from romanasn.naming import parse_template

            try:
                parse_template(value, self.group_by)
            except ValueError as exc:
                raise ValueError(f"rule {self.name!r}: {exc}") from None
        elif not callable(value):
            raise TypeError(f"rule {self.name!r}: product_name must be a template or a function, not {value!r}")


@frozen
class PoolColumn:
    """A pool column: name, type, whether it is required, where it comes from.

    ``dtype`` is one of ``str``, ``int``, ``float``, ``bool``; ``meta`` is the
    dotted path of the value in an exposure's ``roman.meta`` (for
    ``make-pool``), e.g. ``exposure.ma_table_name``.
    """

    name: str = field(validator=validators.matches_re(_NAME))
    dtype: str = field(validator=validators.in_(("str", "int", "float", "bool")))
    required: bool = False
    meta: str | None = None
    description: str = ""


@frozen
class Option:
    """An option a pack adds to ``romanasn generate``.

    ``flag`` makes it a switch (True when given); ``env`` names environment
    variables consulted, in order, when the option is not given.
    ``generate_only`` marks an option about what becomes of a run (``--report``),
    not one the rules read: ``explain`` and ``report`` do not take it.
    """

    name: str = field(validator=validators.matches_re(r"^--[a-z][a-z0-9-]*$"))
    help: str
    metavar: str | None = None
    default: Any = None
    flag: bool = False
    env: tuple[str, ...] = field(converter=_tuple, default=())
    generate_only: bool = False

    @property
    def dest(self) -> str:
        """The option's key in ``RunConfig.options``: ``--drop-degraded`` is ``drop_degraded``."""
        return self.name[2:].replace("-", "_")


@frozen
class Command:
    """A subcommand a pack adds to ``romanasn``.

    ``configure(parser)`` adds its arguments to an ``argparse`` parser;
    ``run(args)`` does the work and returns the exit status. A command that
    runs rules as ``generate`` does takes the plugin manager given to
    ``romanasn_commands`` (the packs loaded, ``-p no:NAME`` applied).
    """

    name: str = field(validator=validators.matches_re(r"^[a-z][a-z0-9-]*$"))
    help: str
    configure: Callable[[Any], None]
    run: Callable[[Any], int]
