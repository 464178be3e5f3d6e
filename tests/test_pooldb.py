"""Pools in a database (SQLite and PostgreSQL): make-pool, generate, export and import, checks, writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("roman_datamodels")

from romanasn import read_pool, write_pool  # noqa: E402
from romanasn.cli import main  # noqa: E402
from romanasn.errors import PoolError, UsageError  # noqa: E402
from romanasn.pooldb import PoolDB, is_database, table_rows  # noqa: E402
from romanasn.testing import exposure_rows, make_exposure, pool_table  # noqa: E402

VISIT = "0000101001001001001"
OTHER = "0000201001001001001"
EXTRA = {"ma_table_name": "IMG_16", "ma_table_number": 16, "nresultants": 6,
         "program_category": "GI", "program_subcategory": "HLWA"}


def rows(visit: str, exposure: int, detectors=(1, 2)) -> list[dict]:
    return exposure_rows(visit, exposure, detectors=detectors, **EXTRA)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """Real L2 files: two exposures of program 1, one of program 2 (two detectors each)."""
    folder = tmp_path_factory.mktemp("landing")
    for row in rows(VISIT, 1) + rows(VISIT, 2) + rows(OTHER, 1):
        make_exposure(folder, row)
    return folder


def test_a_database_pool_holds_what_the_file_pool_holds_byte_for_byte(landing, pool_db, tmp_path):
    assert main(["make-pool", str(landing), "-o", str(tmp_path / "pool.ecsv"), "-q"]) == 0
    assert main(["make-pool", str(landing), "--pool-db", pool_db, "-q"]) == 0
    assert is_database(pool_db)
    assert main(["pool", "export", str(tmp_path / "out.ecsv"), "--pool-db", pool_db, "-q"]) == 0
    assert (tmp_path / "out.ecsv").read_bytes() == (tmp_path / "pool.ecsv").read_bytes()
    table = read_pool(pool_db)
    assert table.meta["romanasn"]["format"] == "database" and table.meta["romanasn"]["seq"] == 2  # a change per program
    assert len(read_pool(pool_db, programs=[2])) == 2


def test_generate_and_explain_read_a_database_as_a_file(landing, tmp_path, capsys):
    db = tmp_path / "pool.sqlite"
    main(["make-pool", str(landing), "--pool-db", str(db), "-q"])
    main(["pool", "export", str(tmp_path / "pool.ecsv"), "--pool-db", f"sqlite:///{db}", "-q"])
    assert main(["generate", str(db), "-o", str(tmp_path / "a"), "-q"]) == 0
    assert main(["generate", str(tmp_path / "pool.ecsv"), "-o", str(tmp_path / "b"), "-q"]) == 0
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "-q"]) == 0
    name = sorted(p.name for p in landing.iterdir())[0]
    capsys.readouterr()
    assert main(["explain", f"sqlite:///{db}", name]) == 0
    from_db = capsys.readouterr().out
    assert main(["explain", str(tmp_path / "pool.ecsv"), name]) == 0
    assert capsys.readouterr().out.replace(str(tmp_path / "pool.ecsv"), "P") == from_db.replace(f"sqlite:///{db}", "P")


def test_import_then_export_gives_the_file_back(tmp_path, pool_db):
    source = tmp_path / "pool.ecsv"
    write_pool(pool_table(rows(VISIT, 1) + rows(OTHER, 3)), source)
    canonical = read_pool(source)  # every column, in the schema's order
    canonical.meta = {}
    write_pool(canonical, source)
    assert main(["pool", "import", str(source), "--pool-db", pool_db, "-q"]) == 0
    assert main(["pool", "export", str(tmp_path / "back.ecsv"), "--pool-db", pool_db, "-q"]) == 0
    assert (tmp_path / "back.ecsv").read_bytes() == source.read_bytes()
    assert main(["pool", "export", str(tmp_path / "back.ecsv"), "--pool-db", pool_db, "-q"]) == 2  # exists


def test_bad_rows_in_a_database_get_a_files_messages(tmp_path, pool_db):
    good = rows(VISIT, 1, detectors=(1, 2, 3))
    bad = [dict(good[0], program=99999), dict(good[1], exposure_type="WFI_BOGUS"), dict(good[2], filename="a/b")]
    db = PoolDB(pool_db)
    with db.writing() as writer:
        writer.put(bad)
    db.close()
    write_pool(pool_table(sorted(bad, key=lambda r: r["filename"])), tmp_path / "bad.ecsv")
    with pytest.raises(PoolError) as from_file:
        read_pool(tmp_path / "bad.ecsv")
    with pytest.raises(PoolError) as from_db:
        read_pool(pool_db)
    lines = str(from_db.value).splitlines()
    assert len(lines) >= 3 and all(line.startswith(f"{pool_db}: row ") for line in lines)
    assert str(from_db.value).replace(pool_db, "P") == str(from_file.value).replace(str(tmp_path / "bad.ecsv"), "P")


def test_an_empty_or_missing_pool_is_a_clear_error(tmp_path):
    with pytest.raises(PoolError, match="no pool here"):
        read_pool(f"sqlite:///{tmp_path / 'none.sqlite'}")
    with pytest.raises(UsageError, match="unsupported database 'mysql'"):
        read_pool("mysql://u:secret@host/db")
    with pytest.raises(PoolError, match=r"^postgresql://u:\*\*\*@127.0.0.1:1/db: .*") as error:
        read_pool("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in str(error.value) and "\n" not in str(error.value)


def test_a_higher_level_replaces_a_row_and_a_changed_file_updates_it(landing, tmp_path, pool_db):
    low = tmp_path / "low"
    low.mkdir()
    one = rows(OTHER, 5, detectors=(1,))[0]
    make_exposure(low, one, level=1)
    main(["make-pool", str(low), "--pool-db", pool_db, "-q"])
    db = PoolDB(pool_db)
    _, first = db.changes(0)
    make_exposure(low, one, level=2)
    assert main(["make-pool", str(low), "--pool-db", pool_db, "-q"]) == 0
    table = read_pool(pool_db)
    assert [name.endswith("_cal.asdf") for name in table["filename"]] == [True]
    programs, seq = db.changes(first)
    assert programs == {2} and seq == first + 1
    assert db.changes(seq) == (set(), seq)
    assert main(["make-pool", str(low), "--pool-db", pool_db, "-q"]) == 0  # nothing changed: nothing logged
    assert db.changes(seq) == (set(), seq)
    db.close()


def test_a_failing_batch_writes_nothing(tmp_path, pool_db):
    db = PoolDB(pool_db)
    with db.writing() as writer:
        writer.put(rows(VISIT, 1))
        writer.log_changes()
    with pytest.raises(RuntimeError), db.writing() as writer:
        writer.put(rows(VISIT, 2))
        writer.delete([rows(VISIT, 1)[0]["filename"]])
        writer.log_changes()
        raise RuntimeError("killed in the middle")
    assert len(read_pool(pool_db)) == 2 and db.changes(0)[1] == 1
    db.close()


def _write_batches(target: str, visit: str, start, count: int) -> None:
    start.wait()
    db = PoolDB(target)
    for exposure in range(1, count + 1):
        with db.writing() as writer:
            writer.put(rows(visit, exposure))
            writer.log_changes()
    db.close()


def test_concurrent_writers_never_lose_rows(tmp_path, pool_db):
    PoolDB(pool_db).writing().__enter__  # noqa: B018  (the table is made by the first writer)
    context = multiprocessing.get_context("fork")
    start = context.Event()
    writers = [context.Process(target=_write_batches, args=(pool_db, visit, start, 15))
               for visit in (VISIT, OTHER, "0000301001001001001")]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    table = read_pool(pool_db)
    assert len(table) == 3 * 15 * 2
    db = PoolDB(pool_db)
    assert db.changes(0) == ({1, 2, 3}, 45)
    with db.reading() as conn:
        seqs = conn.execute(sa.text("SELECT seq FROM pool_changes ORDER BY seq")).scalars().all()
    assert seqs == list(range(1, 46))
    db.close()


def test_table_rows_turn_masked_and_empty_cells_into_none():
    table = pool_table([dict(rows(VISIT, 1, detectors=(1,))[0], exposerr=None)])
    (row,) = table_rows(table)
    assert row["exposerr"] is None and row["program"] == 1 and isinstance(row["program"], int)


def test_many_rows_go_in_by_copy_and_update_only_what_differs(pool_db, tmp_path):
    """2,000 rows (PostgreSQL: COPY through a temporary table), then again with 3 changed: the
    pool, the change log and the history say the same as row by row."""
    many = [row for exposure in range(1, 113) for row in exposure_rows(VISIT, exposure, detectors=range(1, 19),
                                                                     **EXTRA)][:2000]
    db = PoolDB(pool_db)
    with db.writing() as writer:
        assert writer.put(many) == (2000, 0)
        first = writer.log_changes()
    again = [dict(row, optical_element="F213") if k in (5, 700, 1999) else row for k, row in enumerate(many)]
    with db.writing() as writer:
        assert writer.put(again) == (0, 3)
        second = writer.log_changes()
    with db.reading() as conn:
        touched = db.touched(conn, first)
    db.close()
    assert second > first and set(touched) == {many[k]["filename"] for k in (5, 700, 1999)}
    assert all(touched[many[k]["filename"]]["optical_element"] == "F158" for k in (5, 700, 1999))
    table = read_pool(pool_db)
    assert len(table) == 2000 and sorted(table[table["optical_element"] == "F213"]["filename"]) == sorted(
        many[k]["filename"] for k in (5, 700, 1999))
    assert read_pool(pool_db, as_of=first, filenames=touched)["optical_element"].tolist() == ["F158"] * 3


def test_rows_are_found_read_and_removed_by_thousands_of_file_names(pool_db, monkeypatch):
    """Lists of file names longer than one statement takes (IN lists on SQLite, one array on
    PostgreSQL, in chunks) find, read and remove exactly the rows named, and no other."""
    import romanasn.pooldb as pooldb

    monkeypatch.setattr(pooldb, "_CHUNK", 700)  # several chunks of each list
    many = [row for exposure in range(1, 1001) for row in rows(VISIT, exposure)]
    db = PoolDB(pool_db)
    with db.writing() as writer:
        writer.put(many)
        writer.log_changes()
    wanted = {row["filename"] for row in many[::3]} | {"r9999_not_in_the_pool_cal.asdf"}
    assert db.names(wanted) == wanted - {"r9999_not_in_the_pool_cal.asdf"}
    assert set(read_pool(pool_db, filenames=wanted)["filename"]) == wanted - {"r9999_not_in_the_pool_cal.asdf"}
    with db.reading() as conn:
        found = db.matching(conn, {("filename",): {(name,) for name in wanted}}, ["filename"])
    assert {row[0] for row in found} == wanted - {"r9999_not_in_the_pool_cal.asdf"}
    with db.writing() as writer:
        writer.delete(sorted(wanted))
        writer.log_changes()
    db.close()
    assert set(read_pool(pool_db)["filename"]) == {row["filename"] for row in many} - wanted


def test_a_failing_first_batch_leaves_no_tables_behind(pool_db):
    db = PoolDB(pool_db)
    with pytest.raises(RuntimeError), db.writing() as writer:
        writer.put(rows(VISIT, 1))
        writer.log_changes()
        raise RuntimeError("killed in the middle")
    assert db.changes(0) == (set(), 0)  # the change log made and rolled back is not taken to be there
    with pytest.raises(PoolError, match="no pool here"):
        db.cells()
    db.close()


def test_a_write_asks_the_database_few_questions(pool_db):
    db = PoolDB(pool_db)
    assert PoolDB(pool_db).engine is db.engine  # one engine per database: its dialect set up once
    with db.writing() as writer:
        writer.put(rows(VISIT, 1))
        writer.log_changes()
    statements = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.writing() as writer:
            writer.put(rows(VISIT, 2))
            writer.log_changes()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) <= 13, statements  # 24 to 27 when each reflected the table whole
    db.close()


def test_a_value_another_tool_wrote_into_a_sqlite_column_of_numbers_is_a_rows_error(tmp_path):
    """SQLite keeps text put into an integer column (by its own shell, say): the pool's reading
    names the row and column, and a good column of the same kind still reads."""
    import sqlite3

    target = str(tmp_path / "pool.sqlite")
    good = rows(VISIT, 1, detectors=(1, 2, 3))
    db = PoolDB(target)
    with db.writing() as writer:
        writer.put(good)
    db.close()
    assert list(read_pool(target)["exposure"]) == [1, 1, 1]
    with sqlite3.connect(target) as conn:
        conn.execute("UPDATE pool SET exposure = 'one' WHERE filename = ?", (good[1]["filename"],))
    with pytest.raises(PoolError) as failed:
        read_pool(target)
    assert str(failed.value).startswith(f"{target}: row 2, column 'exposure':")
    assert "'one'" in str(failed.value)
