"""Fixtures of the report's tests: the example run and an older one, headless Chromium and Firefox.

The browser tests use Debian's Chromium (``apt-get install chromium``) through
Playwright for Python, and Debian's Firefox ESR (``apt-get install firefox-esr``)
over WebDriver BiDi through puppeteer-core (``tests/firefox/`` of this pack,
installed by ``make test`` when npm is found), never a browser a driver
downloads. When one is missing its tests are skipped, and the summary of the
test run says so in one line (unless ``ROMANASN_REQUIRE_BROWSER`` is set, as
``.ci/run`` does: then they fail).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from romanasn.cli import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_POOL = ROOT / "examples" / "pool.ecsv"
EXAMPLE_SKYMAP = ROOT / "examples" / "skymap.asdf"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

_browser_skipped: dict[str, str] = {}  # browser -> why its tests could not run
FIREFOX_CHECK = Path(__file__).resolve().parent / "firefox"


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


def pytest_terminal_summary(terminalreporter):
    """One plain line when the browser tests could not run."""
    for browser, reason in _browser_skipped.items():
        terminalreporter.write_line(f"{browser} tests: could not run: {reason}")
