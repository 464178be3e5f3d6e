"""A fake pack implementing a misspelled hook."""

from romanasn import hookimpl


@hookimpl
def romanasn_rulez():
    return []
