"""Hook implementations of romanasn-newpack (loaded through the ``romanasn`` entry point)."""

from romanasn import Command, hookimpl

from romanasn_newpack import __version__, skeleton  # noqa: F401  (__version__ names the pack when registered by hand)


@hookimpl
def romanasn_commands():
    """``romanasn new-pack``."""
    return [Command("new-pack", "write the skeleton of a rule pack, ready to install and test",
                    skeleton.configure, skeleton.run)]
