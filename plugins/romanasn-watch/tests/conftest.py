"""The watch's database pools: an SQLite file, then a database on a PostgreSQL server started for the
session (Debian's ``postgresql`` package, through :func:`romanasn.testing.postgresql_server`)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def postgresql_database():
    """A function making a new database on the session's server, returning its URL (skips without one)."""
    import psycopg
    from romanasn.testing import NoServer, postgresql_server

    try:
        with postgresql_server() as (host, port, user):
            made = []

            def database() -> str:
                made.append(f"watch{len(made)}")
                with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {made[-1]}")
                return f"postgresql://{user}@{host}:{port}/{made[-1]}"

            yield database
    except NoServer as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def pool_db(request, tmp_path):
    """A database pool to write: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "pool.sqlite")
    return request.getfixturevalue("postgresql_database")()
