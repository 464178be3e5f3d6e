"""Shared fixtures: a PostgreSQL server and database pools.

``postgresql_server`` starts a cluster of Debian's ``postgresql`` package
(``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``) in a
temporary folder, as the ``postgres`` user when the tests run as root,
listening on 127.0.0.1 at a free port, once per session; ``postgresql_url``
gives each test a database of its own and ``pool_db`` is an SQLite file,
then a PostgreSQL database. When no server can be started the tests that
need one are skipped, and the summary says so in one line.

``full_disk`` makes file making fail as a full disk does (``tests/data/full_disk``).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from pathlib import Path

import pytest

from romanasn import folder

ROOT = Path(__file__).resolve().parents[1]
FULL_DISK = ROOT / "tests" / "data" / "full_disk"


# -- PostgreSQL -------------------------------------------------------------------------------------

_NOT_RUN: list[str] = []  # why the PostgreSQL tests could not run
_NUMBERS = itertools.count(1)


def _skip(reason: str):
    if reason not in _NOT_RUN:
        _NOT_RUN.append(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgresql_server():
    """``(host, port, user)`` of a PostgreSQL server started for the session (skips when none can be)."""
    from romanasn.testing import NoServer, postgresql_server

    try:
        with postgresql_server() as server:
            yield server
    except NoServer as exc:
        _skip(str(exc))


@pytest.fixture
def postgresql_url(postgresql_server):
    """The URL of a new, empty database on the session's PostgreSQL server."""
    import psycopg

    host, port, user = postgresql_server
    name = f"pool{next(_NUMBERS)}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{user}@{host}:{port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def pool_db(request, tmp_path):
    """A database pool to write: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "pool.sqlite")
    return request.getfixturevalue("postgresql_url")


def pytest_terminal_summary(terminalreporter):
    """One plain line when the PostgreSQL tests could not run."""
    for reason in _NOT_RUN:
        terminalreporter.write_line(f"PostgreSQL tests did not run: {reason}")


@pytest.fixture
def full_disk(monkeypatch):
    """Call with ``(calls, part="")``: from then on, file making fails with ENOSPC from the
    ``calls``-th file whose path holds ``part``, in this process and in each process writing files
    (counted in each)."""
    spec = importlib.util.spec_from_file_location("full_disk", FULL_DISK / "sitecustomize.py")
    faults = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(faults)

    def fill(calls: int, part: str = "") -> None:
        monkeypatch.setenv("ROMANASN_TEST_FULL_DISK", f"{calls} {part}")
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FULL_DISK), os.environ.get("PYTHONPATH")])))
        monkeypatch.setattr(folder, "_write_file", faults.failing(folder._write_file, calls, part))

    return fill
