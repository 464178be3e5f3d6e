"""Fixtures of the skycell pack's tests: the real sky map subset, local maps, a plugin manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from romanasn.testing import manager_with
from romanasn_skycell import plugin
from romanasn_skycell.makemap import write_skymap

DATA = Path(__file__).parent / "data"
#: romancal's sky map subset: the north polar cap and the region below it (RA 337.5-22.5, across RA 0).
SUBSET = DATA / "skymap_subset.asdf"


@pytest.fixture(scope="session")
def subset_map() -> Path:
    return SUBSET


@pytest.fixture(scope="session")
def south_map(tmp_path_factory) -> Path:
    """A local map around RA 150, Dec -30, radius 2 (negative Dec; several regions)."""
    path = tmp_path_factory.mktemp("maps") / "south.asdf"
    write_skymap(path, 150.0, -30.0, 2.0)
    return path


@pytest.fixture(scope="session")
def pm():
    """Only the kernel and this pack, registered under the distribution's name."""
    return manager_with((plugin, "romanasn-skycell"))
