"""A fake pack that misbehaves on demand, one hook (or rule callable) at a time.

``ROMANASN_FAKE_HOSTILE`` is a comma-separated list of ``WHAT:MODE``:
``WHAT`` is a hook without its ``romanasn_`` prefix (``rules``,
``match_constraints``, ``finalize``, ``product_names``, ``file_stem``,
``build_associations``, ``association_written``, ``pool_columns``,
``generate_options``, ``commands``) or a callable of the pack's rule
(``product_name``, ``constraint``, ``keys``, ``extras``); ``MODE`` is
``raise`` (raise RuntimeError), ``wrong`` (return a value of the wrong type
or shape), ``exit`` / ``exit3`` (``sys.exit(0)`` / ``sys.exit(3)``), ``interrupt``
(raise KeyboardInterrupt), ``long`` (a good value 300 characters longer),
``nan`` (``extras`` only: a NaN value), ``twice`` (``rules`` only: the same rule name twice) or
``failing`` (``match_constraints`` only: add to every rule a constraint
whose test raises). ``import:MODE`` misbehaves while the pack is imported.
Unset, the
pack behaves: one rule, ``hostile_exposure``, one association per WFI_IMAGE
file, and every other hook answers nothing.
"""

import math
import os
import sys

import numpy as np

from romanasn import Constraint, Rule, hookimpl, isin, strip_level

RULE = "hostile_exposure"


def _mode(what):
    for item in os.environ.get("ROMANASN_FAKE_HOSTILE", "").split(","):
        name, _, mode = item.partition(":")
        if name == what:
            return mode or "raise"
    return None


def _act(what, good, wrong):
    mode = _mode(what)
    if mode == "raise":
        raise RuntimeError(f"hostile {what}")
    if mode in ("exit", "exit3"):
        sys.exit(3 if mode == "exit3" else 0)
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "wrong":
        return wrong() if callable(wrong) else wrong
    value = good() if callable(good) else good
    return value + "x" * 300 if mode == "long" else value


_act("import", None, None)


def _name(group, config):
    return _act("product_name", lambda: "hostile_" + strip_level(group.key["filename"]), 42)


def _test(table):
    return _act("constraint", lambda: np.ones(len(table), bool), lambda: np.ones(len(table) + 1, bool))


def _keys(table, rows, config):
    names = table["filename"]
    for i in rows:
        yield int(i), _act("keys", lambda: (str(names[i]),), None)


def _extras(group, config):
    if _mode("extras") == "nan":
        return {"hostile_score": math.nan}
    return _act("extras", {}, "not a mapping")


def _rule():
    return Rule(
        name=RULE,
        asn_type="image2",
        level=2,
        select=[isin("exposure_type", "WFI_IMAGE")],
        group_by=("filename",),
        keys=_keys,
        constraints=[Constraint("hostile check", _test, reason="hostile veto")],
        product_name=_name,
        extras=_extras,
        summary="one association per WFI_IMAGE file, misbehaving on demand",
    )


@hookimpl
def romanasn_rules():
    if _mode("rules") == "twice":
        return [_rule(), _rule()]
    return _act("rules", lambda: [_rule()], "not a list")


def _failing(table):
    raise RuntimeError("hostile veto test")


@hookimpl
def romanasn_match_constraints(rule, config):
    if _mode("match_constraints") == "failing":  # a constraint whose test raises, in every rule
        return [Constraint("hostile veto", _failing, reason="hostile veto")]
    return _act("match_constraints", None, ["not a constraint"])


@hookimpl
def romanasn_finalize(associations, config):
    return _act("finalize", None, "not a list")


@hookimpl
def romanasn_product_names(rule, groups, config):
    if rule.name != RULE:
        return None
    return _act("product_names", None, lambda: [1] * (len(groups) + 1))


@hookimpl
def romanasn_file_stem(association, config):
    if association.asn_rule != RULE:
        return None
    return _act("file_stem", None, "../outside")


@hookimpl
def romanasn_build_associations(rule, groups, names, config):
    if rule.name != RULE:
        return None
    return _act("build_associations", None, ["not an association"])


@hookimpl
def romanasn_association_written(association, path, config):
    _act("association_written", None, None)


@hookimpl
def romanasn_pool_columns():
    return _act("pool_columns", [], ["not a column"])


@hookimpl
def romanasn_generate_options():
    return _act("generate_options", [], ["not an option"])


@hookimpl
def romanasn_commands():
    return _act("commands", [], ["not a command"])
