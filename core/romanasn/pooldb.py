"""Pools in a database: an SQLite file, or a PostgreSQL server, through SQLAlchemy Core.

A database pool is the table ``pool``: the pool's columns (the schema's and
those packs declare) typed as the schema says, a primary key on
``filename``, and indexes on ``program``, on ``(observation_id, detector)``
and on the other columns rules group by. Beside it ``pool_changes`` logs,
for every transaction that changed rows, the programs whose rows changed
under an increasing sequence number: a later run re-plans only the programs
changed since the sequence number it last saw (:meth:`PoolDB.changes`).
``pool_history`` logs, under the same numbers, each row changed: its file
name and the row as it was before (NULL for a new row), so that a later run
can re-plan only the groups the changed rows fall in, and see the pool as it
was (:meth:`PoolDB.touched`, :meth:`PoolDB.cells` with ``as_of``).

Writers take the pool's write lock for their whole transaction (SQLite's
``BEGIN IMMEDIATE``, a PostgreSQL transaction-level advisory lock), so
concurrent writers are serialized and never lose a row, and the change log's
order is the order of commits. Readers see one consistent snapshot (rows and
change sequence together) and never wait for writers (SQLite runs in WAL
mode).

Reading goes through :func:`romanasn.pool.read_pool`: the cells are handed
to the same checks as a file's, with the same messages; the source is named
as given and rows are numbered in file-name order (the order
``romanasn pool export`` writes them).

``target`` is a file name (an SQLite file, made when first written) or a URL:
``sqlite:///pool.sqlite``, ``postgresql://user@host/db`` (driven by psycopg 3).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from romanasn.columns import merge_columns
from romanasn.errors import PoolError, UsageError
from romanasn.plugins.types import PoolColumn

__all__ = ["PoolDB", "Writer", "copy", "database_url", "group_columns", "hidden", "insert", "is_database",
           "table_rows", "SCHEMES"]

#: The URL schemes of the databases a pool may live in.
SCHEMES = ("sqlite", "postgresql")
POOL_TABLE = "pool"
CHANGES_TABLE = "pool_changes"
HISTORY_TABLE = "pool_history"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TYPES = {"str": sa.Text, "int": sa.BigInteger, "float": sa.Double, "bool": sa.Boolean}
_KINDS = ((sa.Boolean, "bool"), (sa.Integer, "int"), (sa.Float, "float"), (sa.Numeric, "float"))
_LOCK_KEY = 0x726F6D616E61736E  # "romanasn": the pool's PostgreSQL advisory lock
_CHUNK = 5000  # values in one IN (...) list (each statement is a round trip to a server)
_TERMS = 500  # (a = x AND b = y) terms in one OR
_COPY_ROWS = 1000  # rows from which PostgreSQL is given them by COPY
_ANALYZE_ROWS = 10_000  # rows changed in a transaction from which the planner's statistics are renewed
_ENGINES: dict[str, sa.Engine] = {}  # a process's engine for each database: its dialect set up once


def is_database(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a database pool: a URL (``sqlite:///``, ``postgresql://``; another
    scheme is refused when opened), or an SQLite file."""
    text = os.fspath(source)
    if "://" in text:
        return True
    if not os.path.isfile(text):  # a FIFO or a device is not opened here (it could block)
        return False
    try:
        with open(text, "rb") as stream:
            return stream.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def database_url(target: str | os.PathLike) -> sa.URL:
    """The SQLAlchemy URL of ``target`` (a file name is an SQLite file; ``postgresql`` uses psycopg 3)."""
    text = os.fspath(target)
    if "://" not in text:
        return sa.URL.create("sqlite", database=text)
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"{text}: not a database URL ({exc})") from exc
    backend = url.get_backend_name()
    if backend not in SCHEMES:
        raise UsageError(f"{hidden(text)}: unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def hidden(text: str) -> str:
    """``text`` as shown in messages: a URL without its password."""
    if "://" not in text:
        return text
    with contextlib.suppress(sa.exc.ArgumentError):
        return sa.make_url(text).render_as_string(hide_password=True)
    return text


class PoolDB:
    """A pool in a database (see the module's docstring).

    ``columns`` are the columns packs declare; ``index`` more keys (tuples
    of columns) to index, such as :func:`group_columns`. Nothing is made
    until written to.
    """

    def __init__(self, target: str | os.PathLike, columns: Iterable[PoolColumn] = (),
                 index: Iterable[tuple[str, ...]] = ()) -> None:
        self.label = hidden(os.fspath(target))
        self.url = database_url(target)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        if self.sqlite and self.url.database and not os.path.isdir(os.path.dirname(self.url.database) or "."):
            raise UsageError(f"{self.label}: no folder {os.path.dirname(self.url.database)}")
        self.known = merge_columns(columns)
        self.index = _widest([("program",), ("observation_id", "detector"), *map(tuple, index)])
        key = self.url.render_as_string(hide_password=False)
        if key not in _ENGINES:
            _ENGINES[key] = self._engine()
        self.engine = _ENGINES[key]
        self.metadata = sa.MetaData()
        self._read_table: sa.Table | None = None  # the pool table as read (_reflect)
        self.changes_table = sa.Table(
            CHANGES_TABLE, self.metadata,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("program", sa.BigInteger, nullable=True),
            sqlite_autoincrement=True,
        )
        self.history_table = sa.Table(
            HISTORY_TABLE, self.metadata,
            sa.Column("seq", sa.BigInteger, nullable=False, index=True),
            sa.Column("filename", sa.Text, nullable=False),
            sa.Column("old", sa.Text, nullable=True),  # the row before the change, as JSON; NULL: none
        )

    def _engine(self) -> sa.Engine:
        """A new engine opening a connection for each transaction (none is kept between them)."""
        try:
            engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        except ImportError as exc:
            raise UsageError(f"{self.label}: the database driver cannot be imported ({exc});"
                             " for PostgreSQL: pip install 'romanasn[postgresql]'") from exc
        if self.sqlite:
            @sa.event.listens_for(engine, "connect")
            def _connect(connection, record):  # transactions are begun by hand, below
                connection.isolation_level = None
                connection.execute("PRAGMA busy_timeout = 600000")
                _set_wal(connection)
                connection.execute("PRAGMA synchronous = NORMAL")

            @sa.event.listens_for(engine, "begin")
            def _begin(connection):
                connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))
        return engine

    def close(self) -> None:
        """Let the database connections go."""
        self.engine.dispose()

    # -- transactions ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection seeing one snapshot of the pool (rolled back at the end)."""
        with self._connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ") if not self.sqlite else conn
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def writing(self) -> Iterator["Writer"]:
        """A transaction holding the pool's write lock: committed when the block ends, rolled back
        (nothing written) when it raises."""
        with self._connect() as conn:
            if self.sqlite:
                conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                if not self.sqlite:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
                yield Writer(self, conn, self._ensure(conn))

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:  # cannot connect, not a database, a failing statement
            raise PoolError(f"{self.label}: {_reason(exc)}") from exc

    # -- the table ---------------------------------------------------------------------------------

    def _ensure(self, conn: sa.Connection) -> sa.Table:
        """The pool table, made or given the columns it lacks; its indexes; the change log (the
        catalog asked once for the tables and once for the columns: each question is a round trip)."""
        self._read_table = None
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        columns = inspector.get_columns(POOL_TABLE) if POOL_TABLE in tables else []
        present = {c["name"] for c in columns}
        added = [column for column in self.known if column.name not in present]
        table = sa.Table(POOL_TABLE, sa.MetaData(), *(sa.Column(c["name"], c["type"]) for c in columns),
                         *(_column(column) for column in added))
        if not columns:
            table.create(conn)
        else:
            for column in added:
                kind = _TYPES[column.dtype]().compile(dialect=conn.dialect)
                conn.exec_driver_sql(f'ALTER TABLE {POOL_TABLE} ADD COLUMN "{column.name}" {kind}')
        have = {index["name"] for index in inspector.get_indexes(POOL_TABLE)} if columns else set()
        for log in (self.changes_table, self.history_table):
            if log.name not in tables:
                log.create(conn)
        keys = {f"ix_pool_{'_'.join(key)}"[:60]: key for key in self.index if set(key) <= set(table.c.keys())}
        missing = keys.keys() - have
        for name in missing:
            sa.Index(name, *(table.c[column] for column in keys[name])).create(conn)
        if missing:
            _analyze(conn)
        return table

    def _reflect(self, conn: sa.Connection) -> sa.Table:
        """The pool table's columns, as the database has them (read once: a whole reflection of a
        PostgreSQL table takes dozens of queries)."""
        if self._read_table is None:
            inspector = sa.inspect(conn)
            if not inspector.has_table(POOL_TABLE):
                raise PoolError(f"{self.label}: no pool here (no table {POOL_TABLE!r}); make one with"
                                " make-pool --pool-db or romanasn pool import")
            self._read_table = sa.Table(POOL_TABLE, sa.MetaData(), *(
                sa.Column(column["name"], column["type"]) for column in inspector.get_columns(POOL_TABLE)))
        return self._read_table

    # -- reading -----------------------------------------------------------------------------------

    def cells(self, programs: Iterable[int] | None = None, since: int | None = None,
              filenames: Iterable[str] | None = None, as_of: int | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, str], int, set | None]:
        """The pool's rows (of ``programs`` only, or of the programs changed after change number
        ``since``, or of ``filenames``, when given) as text cells, in file-name order; with
        ``as_of``, the rows as they were at that change number (from ``pool_history``).

        Returns an Arrow text column per column (empty text for NULL), the dtype of
        each column (``int``, ``float``, ``bool`` or ``str``), the change
        sequence number the rows reflect, and the programs read (None: all).
        """
        with self.reading() as conn:
            table = self._reflect(conn)
            query = sa.select(table).order_by(table.c.filename)
            if since is not None:
                programs = self._changed(conn, since)
            if programs is not None:
                query = query.where(table.c.program.in_(sorted(set(programs))))
            if filenames is None:
                rows = conn.execute(query).fetchall()
            else:
                rows = [row for chunk in _chunks(sorted(set(filenames)))
                        for row in conn.execute(query.where(among(conn, table.c.filename, chunk))).all()]
            if as_of is not None:
                rows = self._as_of(conn, table, rows, as_of, filenames)
            seq = self.seq(conn)
        kinds = {column.name: _kind(column.type) for column in table.columns}
        values = list(zip(*rows)) if rows else [() for _ in table.columns]
        cells = {name: _text(column, kinds[name]) for name, column in zip(table.c.keys(), values)}
        return cells, kinds, seq, None if programs is None else set(programs)

    def _as_of(self, conn: sa.Connection, table: sa.Table, rows: list, seq: int,
               filenames: Iterable[str] | None) -> list[tuple]:
        """``rows`` (current, in file-name order) as they were at change number ``seq``."""
        before = self.touched(conn, seq) or {}
        wanted = None if filenames is None else set(filenames)
        names = table.c.keys()
        kept = [tuple(row) for row in rows if row.filename not in before]
        kept += [tuple(old.get(name) for name in names) for filename, old in before.items()
                 if old is not None and (wanted is None or filename in wanted)]
        at = names.index("filename")
        return sorted(kept, key=lambda row: row[at])

    def column_names(self, conn: sa.Connection) -> list[str]:
        """The pool table's columns."""
        return list(self._reflect(conn).c.keys())

    def touched(self, conn: sa.Connection, since: int) -> dict[str, dict | None] | None:
        """The rows changed after change number ``since``: file name -> the row as it was then
        (None: it was not in the pool); None when the database keeps no history."""
        if not sa.inspect(conn).has_table(HISTORY_TABLE):
            return None
        history = self.history_table
        query = sa.select(history.c.filename, history.c.old).where(history.c.seq > since).order_by(history.c.seq)
        found: dict[str, dict | None] = {}
        for filename, old in conn.execute(query).all():
            if filename not in found:
                found[filename] = None if old is None else json.loads(old)
        return found

    def matching(self, conn: sa.Connection, keys: Mapping[tuple[str, ...], set[tuple]],
                 columns: Sequence[str], unchanged_since: int | None = None) -> list[Sequence[Any]]:
        """The rows (their values in ``columns``, in that order; ``filename`` among them) whose values
        in some key's columns are one of its value tuples (``keys``: columns -> value tuples),
        through the indexes on those columns; with ``unchanged_since``, only those not changed
        after that change number."""
        table = self._reflect(conn)
        select = sa.select(*(table.c[name] for name in columns))
        if unchanged_since is not None:
            history = self.history_table
            changed = sa.select(history.c.filename).where(history.c.seq > unchanged_since)
            select = select.where(table.c.filename.not_in(changed))
        found: dict[str, Any] = {}
        at = list(columns).index("filename")
        for names, values in keys.items():
            if len(names) == 1 and None not in values:
                clauses = [among(conn, table.c[names[0]], [v[0] for v in chunk])
                           for chunk in _chunks(sorted(values, key=str))]
            else:  # an OR of ANDs: each term searched through the index on the key's columns
                terms = [sa.and_(*(_null(table.c[n]) if x is None else table.c[n] == x for n, x in zip(names, v)))
                         for v in sorted(values, key=str)]
                clauses = [sa.or_(*terms[start:start + _TERMS]) for start in range(0, len(terms), _TERMS)]
            for clause in clauses:
                found.update((row[at], row) for row in conn.execute(select.where(clause)).all())
        return list(found.values())

    def names(self, filenames: Iterable[str] | None = None) -> set[str]:
        """The file names in the pool (of those in ``filenames``, when given)."""
        with self.reading() as conn:
            if not sa.inspect(conn).has_table(POOL_TABLE):
                return set()
            table = self._reflect(conn)
            if filenames is None:
                return set(conn.execute(sa.select(table.c.filename)).scalars())
            return {name for chunk in _chunks(sorted(set(filenames)))
                    for name in conn.execute(sa.select(table.c.filename).where(among(conn, table.c.filename, chunk))).scalars()}

    def changes(self, since: int) -> tuple[set[int | None], int]:
        """The programs whose rows changed after change number ``since``, and the last change number."""
        with self.reading() as conn:
            return self._changed(conn, since), self.seq(conn)

    def _changed(self, conn: sa.Connection, since: int) -> set[int | None]:
        if not sa.inspect(conn).has_table(CHANGES_TABLE):
            return set()
        changes = self.changes_table
        return set(conn.execute(sa.select(changes.c.program).where(changes.c.seq > since).distinct()).scalars())

    def program_rows(self, conn: sa.Connection, since: int, limit: int) -> int:
        """The rows of the programs changed after change number ``since``, counted up to ``limit``."""
        programs = sorted(self._changed(conn, since))  # the pool's program column holds no NULL
        if not programs:
            return 0
        table = self._reflect(conn)
        rows = sa.select(sa.literal(1)).select_from(table).where(among(conn, table.c.program, programs)).limit(limit)
        return int(conn.execute(sa.select(sa.func.count()).select_from(rows.subquery())).scalar())

    def seq(self, conn: sa.Connection) -> int:
        """The last change number."""
        if not sa.inspect(conn).has_table(CHANGES_TABLE):
            return 0
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(self.changes_table.c.seq), 0))).scalar())


class Writer:
    """The pool table inside one write transaction (from :meth:`PoolDB.writing`)."""

    def __init__(self, db: PoolDB, conn: sa.Connection, table: sa.Table) -> None:
        self.db, self.conn, self.table = db, conn, table
        self.programs: set[int | None] = set()
        self.history: dict[str, dict | None] = {}  # file name -> the row before this transaction
        self.columns = [name for name in table.c.keys()]

    def rows(self, column: str, values: Iterable[Any]) -> list[dict[str, Any]]:
        """The rows whose ``column`` is one of ``values``, as dicts."""
        select = sa.select(self.table)
        return [dict(row._mapping) for chunk in _chunks(sorted(set(values)))
                for row in self.conn.execute(select.where(among(self.conn, self.table.c[column], chunk)))]

    def put(self, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """Insert ``rows``, or update the rows of the same file name that differ; return (inserted,
        updated). The rows go in by :func:`insert`."""
        if not rows:
            return 0, 0
        names, at = self.columns, self.columns.index("filename")
        values = [tuple(map(row.get, names)) for row in rows]
        old = {row["filename"]: row for row in self.rows("filename", (value[at] for value in values))}
        changed = [value for value in values if value[at] not in old or old[value[at]] != dict(zip(names, value))]
        if not changed:
            return 0, 0
        program = names.index("program")
        self.programs.update(value[program] for value in changed)
        self.programs.update(old[value[at]]["program"] for value in changed if value[at] in old)
        for value in changed:
            self.history.setdefault(value[at], old.get(value[at]))
        insert(self.conn, self.table, changed, key="filename")
        updated = sum(value[at] in old for value in changed)
        return len(changed) - updated, updated

    def delete(self, filenames: Iterable[str]) -> int:
        """Remove the rows of ``filenames``; return how many there were."""
        gone = self.rows("filename", filenames)
        self.programs.update(row["program"] for row in gone)
        for row in gone:
            self.history.setdefault(row["filename"], row)
        for chunk in _chunks([row["filename"] for row in gone]):
            self.conn.execute(sa.delete(self.table).where(among(self.conn, self.table.c.filename, chunk)))
        return len(gone)

    def count(self) -> int:
        """The rows in the pool."""
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar())

    def log_changes(self) -> int:
        """Record the programs changed in this transaction; return the last change number."""
        if self.programs:
            self.conn.execute(sa.insert(self.db.changes_table),
                              [{"program": program} for program in sorted(self.programs, key=str)])
            self.programs = set()
        seq = self.db.seq(self.conn)
        if self.history:
            rows = [(seq, name, None if old is None else json.dumps(old)) for name, old in self.history.items()]
            insert(self.conn, self.db.history_table, rows)
            if len(rows) >= _ANALYZE_ROWS:
                _analyze(self.conn)
            self.history = {}
        return seq


def group_columns(pm: Any) -> list[tuple[str, ...]]:
    """The keys (tuples of pool columns) the rules of ``pm`` group by or join companions on, to index."""
    names = {column.name for column in merge_columns(found.item for found in pm.pool_columns())}
    keys = {tuple(name for name in entry.rule.group_by if name in names) for entry in pm.rules()}
    keys |= {companion.on for entry in pm.rules() for companion in entry.rule.companions}  # joins
    return sorted(key for key in keys if key and key != ("filename",))


def among(conn: sa.Connection, column: sa.ColumnElement, values: Sequence[Any]) -> sa.ColumnElement:
    """The condition that ``column`` is one of ``values``: ``IN (...)``, or on PostgreSQL
    ``= ANY(array)``, one parameter (an IN list of thousands of values is compiled, and parsed by
    the driver, as thousands of parameters)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _analyze(conn: sa.Connection) -> None:
    """Give the query planner fresh statistics of the pool, so that it searches a key through the
    index on all its columns (SQLite samples at most 1,000 rows of each index)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
    conn.exec_driver_sql(f"ANALYZE {POOL_TABLE}")


def insert(conn: sa.Connection, table: sa.Table, rows: Sequence[Sequence[Any]], key: str | None = None) -> None:
    """``rows`` (each the values of ``table``'s columns, in order) into ``table``, those whose
    ``key`` is there already updated, with no per-row work in SQLAlchemy: straight through the
    driver, or, for many rows on PostgreSQL, by COPY (into a temporary table first when there
    is a ``key``)."""
    if not rows:
        return
    names = table.c.keys()
    if conn.dialect.name == "sqlite" or len(rows) < _COPY_ROWS:
        marks = ", ".join(["?" if conn.dialect.name == "sqlite" else "%s"] * len(names))
        conn.exec_driver_sql(_upsert(conn, table, f"VALUES ({marks})", key), rows)
    elif key is None:
        copy(conn, table.name, names, rows)
    else:  # the temporary table emptied after use: another insert in the transaction takes it again
        incoming = f"{table.name}_incoming"
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {incoming} (LIKE {table.name}) ON COMMIT DROP")
        copy(conn, incoming, names, rows)
        conn.exec_driver_sql(_upsert(conn, table, f"SELECT {_list(conn, names)} FROM {incoming}", key))
        conn.exec_driver_sql(f"TRUNCATE {incoming}")


def _upsert(conn: sa.Connection, table: sa.Table, source: str, key: str | None) -> str:
    """``INSERT INTO table (its columns) source``, updating the rows whose ``key`` is there already."""
    names = table.c.keys()
    quote = conn.dialect.identifier_preparer.quote
    conflict = "" if key is None else f" ON CONFLICT ({quote(key)}) DO UPDATE SET " + ", ".join(
        f"{quote(name)} = excluded.{quote(name)}" for name in names if name != key)
    return f"INSERT INTO {quote(table.name)} ({_list(conn, names)}) {source}{conflict}"


def _list(conn: sa.Connection, names: Iterable[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(name) for name in names)


def copy(conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` (each the values of ``columns``, in order) into the PostgreSQL ``table`` by
    ``COPY ... FROM STDIN`` (psycopg 3)."""
    with conn.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({_list(conn, columns)}) FROM STDIN") as stream:
            for row in rows:
                stream.write_row(row)


def _null(column: sa.Column) -> Any:
    """A column's cell is empty: NULL, or empty text."""
    return sa.or_(column.is_(None), column == "") if _kind(column.type) == "str" else column.is_(None)


def _widest(keys: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """``keys`` less those that start another (the longer key's index serves them)."""
    keys = set(keys)
    return tuple(sorted(key for key in keys if not any(other[:len(key)] == key != other for other in keys)))


def _column(column: PoolColumn) -> sa.Column:
    name = column.name
    return sa.Column(name, _TYPES[column.dtype], primary_key=name == "filename",
                     nullable=not column.required and name != "filename")


def _kind(kind: Any) -> str:
    """``int``, ``float``, ``bool`` or ``str`` for an SQL column type."""
    return next((name for base, name in _KINDS if isinstance(kind, base)), "str")


def _text(values: Sequence[Any], kind: str) -> pa.ChunkedArray:
    """A column's values as the text a pool file would hold (NULL as empty text), an Arrow text
    column: text and integers converted by Arrow, numbers with a fraction and flags by numpy, and
    a column holding a value of another type (SQLite keeps what it is given) value by value, for
    the pool's checks to name."""
    try:
        if kind == "str":
            text = pa.array(values, pa.large_string())
        elif kind == "int":
            text = pa.array(values, pa.int64()).cast(pa.large_string())
        else:
            text = pa.array(_numpy_text(values, kind).astype(object), pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError):
        text = pa.array([None if v is None else str(v) for v in values], pa.large_string())
    return pa.chunked_array([text.fill_null("") if text.null_count else text])


def _numpy_text(values: Sequence[Any], kind: str) -> np.ndarray:
    """The text of a column of numbers with a fraction (``float``) or of flags (``bool``)."""
    if not len(values):
        return np.array([], dtype="U1")
    array = np.array(values, dtype=object)
    null = np.equal(array, None)
    if kind == "bool":
        text = np.where(array.astype(bool), "true", "false")
    else:
        text = np.where(null, 0, array).astype(np.float64).astype(str)
    return np.where(null, "", text) if null.any() else text


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _reason(exc: sa.exc.DBAPIError) -> str:
    """The database's own one-line reason for ``exc``."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return " ".join(text.split()) or type(exc).__name__


# -- export, import --------------------------------------------------------------------------------


def table_rows(table: Any) -> list[dict[str, Any]]:
    """The rows of a pool table as dicts, masked cells and empty text as None."""
    columns = {}
    for name in table.colnames:
        column = table[name]
        values = np.asarray(column).tolist()
        mask = getattr(column, "mask", None)
        if mask is not None and np.any(mask):
            values = [None if m else v for v, m in zip(values, np.asarray(mask).tolist())]
        if column.dtype.kind in "UO":  # text (Python strings from read_pool)
            values = [v or None for v in values]
        columns[name] = values
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def _set_wal(connection, seconds: float = 600.0) -> None:
    """Put an SQLite database in WAL mode. Switching needs the database to itself, and SQLite does
    not wait for that (the busy timeout does not apply), so writers starting together retry."""
    import sqlite3
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
