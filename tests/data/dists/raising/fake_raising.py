"""A fake pack whose rules hook raises."""

from romanasn import hookimpl


@hookimpl
def romanasn_rules():
    raise RuntimeError("the rule table is corrupt")
