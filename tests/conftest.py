"""Shared fixtures: the example run and an older one (for ``romanasn report``), headless Chromium and Firefox.

The browser tests use Debian's Chromium (``apt-get install chromium``) through
Playwright for Python, and Debian's Firefox ESR (``apt-get install firefox-esr``)
over WebDriver BiDi through puppeteer-core (``tests/firefox/``, installed by
``make test`` when npm is found), never a browser a driver downloads. When one
is missing its tests are skipped, and the summary of the test run says so in one
line (unless ``ROMANASN_REQUIRE_BROWSER`` is set, as ``.ci/run`` does: then they fail).

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
import shutil
from pathlib import Path

import pytest

from romanasn import folder
from romanasn.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_POOL = ROOT / "examples" / "pool.ecsv"
EXAMPLE_SKYMAP = ROOT / "examples" / "skymap.asdf"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

FULL_DISK = ROOT / "tests" / "data" / "full_disk"

_browser_skipped: dict[str, str] = {}  # browser -> why its tests could not run
FIREFOX_CHECK = ROOT / "tests" / "firefox"


def chromium_path() -> str | None:
    """The system Chromium: ``ROMANASN_CHROMIUM``, else ``chromium`` on the PATH, else None."""
    given = os.environ.get("ROMANASN_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _generate(out: Path, pool: Path) -> Path:
    """``make run``'s command, from the repository's root (so the run report names examples/...)."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        pool_name = os.path.relpath(pool, ROOT) if pool.is_relative_to(ROOT) else str(pool)
        status = main(["generate", pool_name, "-o", str(out), "-q", "--skymap", "examples/skymap.asdf"])
    finally:
        os.chdir(here)
    assert status == 0
    return out


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    """``make run``'s output: examples/pool.ecsv with every shipped pack and the example sky map."""
    return _generate(tmp_path_factory.mktemp("runs") / "2027-03-02", EXAMPLE_POOL)


@pytest.fixture(scope="session")
def older_pool(tmp_path_factory) -> Path:
    """The example pool with one detector file less and one file more (a fourth exposure, later dropped)."""
    from romanasn import read_pool, write_pool

    table = read_pool(EXAMPLE_POOL)
    names = [str(n) for n in table["filename"]]
    table.add_row(table[names.index("r0000101001001001001_0002_wfi18_f158_uncal.asdf")])
    table["filename"][-1] = "r0000101001001001001_0004_wfi18_f158_uncal.asdf"
    table["exposure"][-1] = 4
    table["observation_id"][-1] = "0000101001001001001011010004"
    table.remove_row(names.index("r0000101001001001001_0001_wfi01_f158_uncal.asdf"))
    path = tmp_path_factory.mktemp("older") / "pool.ecsv"  # the same asn_pool as the example run
    write_pool(table, path)
    return path


@pytest.fixture(scope="session")
def older_run(tmp_path_factory, older_pool) -> Path:
    """The older pool's run: the example run differs from it by added, removed and changed associations."""
    return _generate(tmp_path_factory.mktemp("older_runs") / "2027-03-01", older_pool)


@pytest.fixture(scope="session")
def chromium():
    """A headless system Chromium driven by Playwright (the test is skipped when either is missing)."""
    path = chromium_path()
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright for Python is not installed (pip install playwright)"
    if reason is None and path is None:
        reason = "no Chromium found (apt-get install chromium, or set ROMANASN_CHROMIUM)"
    _browser_missing("Chromium", reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _browser_missing(browser: str, reason: str | None) -> None:
    """Skip (fail under ``ROMANASN_REQUIRE_BROWSER``) a test of ``browser`` that cannot run, noting why."""
    if reason and os.environ.get("ROMANASN_REQUIRE_BROWSER"):  # .ci/run: they must run
        pytest.fail(f"ROMANASN_REQUIRE_BROWSER is set but the {browser} tests cannot run: {reason}")
    if reason:
        _browser_skipped.setdefault(browser, reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def firefox() -> list[str]:
    """The command that checks a report page in Debian's headless Firefox (``tests/firefox/report_check.mjs``
    run by Node.js with the Firefox found: ``ROMANASN_FIREFOX``, else ``firefox-esr`` or ``firefox`` on the PATH)."""
    given = os.environ.get("ROMANASN_FIREFOX")
    path = (given if given and Path(given).is_file() else None) if given else (
        shutil.which("firefox-esr") or shutil.which("firefox"))
    node = shutil.which("node")
    reason = None
    if path is None:
        reason = "no Firefox found (apt-get install firefox-esr, or set ROMANASN_FIREFOX)"
    elif node is None:
        reason = "no Node.js found to drive Firefox (apt-get install nodejs npm)"
    elif not (FIREFOX_CHECK / "node_modules" / "puppeteer-core").is_dir():
        reason = f"puppeteer-core is not installed (npm ci --prefix {FIREFOX_CHECK.relative_to(ROOT)})"
    _browser_missing("Firefox", reason)
    return [node, str(FIREFOX_CHECK / "report_check.mjs"), path]


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
    """One plain line when the browser tests, or the PostgreSQL tests, could not run."""
    for browser, reason in _browser_skipped.items():
        terminalreporter.write_line(f"{browser} tests: could not run: {reason}")
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
