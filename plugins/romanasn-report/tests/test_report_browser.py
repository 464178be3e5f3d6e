"""The report of the example run in a real browser: headless Chromium (Debian's) driven by Playwright.

Skipped, with one line in the test summary, when Chromium or Playwright is
missing (``.ci/run`` installs Chromium). The screenshots are written to
``ROMANASN_GALLERY`` when it names a folder (``make docs`` sets it to
docs/_static/gallery), else to the test's temporary folder.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from romanasn.cli import main
from romanasn.diff import diff_dirs

ROOT = Path(__file__).resolve().parents[3]
MEMBER = "r0000101001001001001_0001_wfi01_f158_cal.asdf"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report_page(example_run, older_run, tmp_path_factory):
    """``romanasn report 2027-03-02 --pool ... --skymap ... --against 2027-03-01``, run beside both folders."""
    runs = tmp_path_factory.mktemp("days")
    shutil.copytree(older_run, runs / older_run.name)
    shutil.copytree(example_run, runs / example_run.name)
    here = os.getcwd()
    os.chdir(runs)
    try:
        status = main(["report", example_run.name, "--pool", str(ROOT / "examples" / "pool.ecsv"),
                       "--skymap", str(ROOT / "examples" / "skymap.asdf"), "--against", older_run.name, "-q"])
    finally:
        os.chdir(here)
    assert status == 0
    return runs / example_run.name / "report.html"


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("ROMANASN_GALLERY") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name):
        path = folder / name
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        return path

    return shot


@pytest.fixture
def opened(chromium, report_page):
    """The report open in a new page; console errors and page errors are collected in ``page.errors``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith("file://") else errors.append(
        f"network request: {request.url}"))
    page.goto(report_page.as_uri())
    page.wait_for_function("window.RomanasnReport && window.RomanasnReport.ready")
    page.errors = errors
    yield page
    context.close()


def rows_shown(page):
    page.wait_for_function("!document.getElementById('status').textContent.startsWith('filtering')")
    return page.eval_on_selector_all("#table tbody tr", "rows => rows.map(r => r.children[5].textContent)")


def test_the_page_opens_without_errors_and_summarises_the_run(opened, example_run, shots):
    run = json.loads((example_run / "romanasn-run.json").read_text())
    text = opened.inner_text("#summary")
    assert f"{run['associations']:,}" in text and "romanasn-skycell" in text and "rows in no association" in text
    opened.wait_for_function("document.querySelectorAll('#table tbody tr').length > 0")
    shots(opened, "report-summary.png")
    assert opened.errors == []


def test_a_member_file_name_finds_every_association_it_is_in(opened, example_run, shots):
    opened.click("#tab-associations")
    opened.fill("#f-member", MEMBER)
    opened.wait_for_function("document.getElementById('status').textContent.includes('hold')")
    files = rows_shown(opened)
    on_disk = sorted(p.name for p in example_run.glob("*_asn.json") if MEMBER in p.read_text())
    assert sorted(files) == on_disk and len(files) > 3
    assert f"{len(on_disk)} of" in opened.inner_text("#status")
    shots(opened, "report-member-filter.png")
    opened.click("#table th button[data-sort='members']")  # sorted by members, then the other way
    opened.click("#table th button[data-sort='members']")
    opened.wait_for_function("document.querySelector('#table th:nth-child(5)').getAttribute('aria-sort') === 'descending'")
    counts = opened.eval_on_selector_all("#table tbody tr", "rows => rows.map(r => Number(r.children[4].textContent))")
    assert counts == sorted(counts, reverse=True) and len(counts) == len(on_disk)
    opened.select_option("#f-rule", "skycell_full")  # filters combine
    opened.wait_for_function(f"document.querySelectorAll('#table tbody tr').length < {len(on_disk)}")
    assert sorted(rows_shown(opened)) == [f for f in on_disk if f.startswith("r00001_p_full_002p")]
    assert opened.errors == []


def test_opening_an_association_shows_its_members_json_and_verdicts(opened, example_run, shots):
    opened.click("#tab-associations")
    opened.fill("#f-product", "r00001_p_v01001001001001_f158")
    opened.wait_for_function("document.querySelectorAll('#table tbody tr').length === 1")
    opened.click("#table tbody tr .open")
    opened.wait_for_selector("#detail:not([hidden])")
    on_disk = json.loads((example_run / "r00001_p_v01001001001001_f158_asn.json").read_text())
    names = opened.eval_on_selector_all("#members tbody tr", "rows => rows.map(r => r.children[0].textContent)")
    assert names == [m["expname"] for m in on_disk["products"][0]["members"]]
    assert json.loads(opened.text_content("#detail-json")) == on_disk
    opened.click(f"#members button[aria-label='explain {names[0]}']")
    opened.wait_for_selector("#verdicts .verdict")
    verdicts = opened.inner_text("#verdicts")
    assert "wfi_image_visit" in verdicts and "joined" in verdicts and "r00001_p_v01001001001001_f158" in verdicts
    shots(opened, "report-verdicts.png")
    opened.evaluate("document.getElementById('detail').scrollIntoView()")
    shots(opened, "report-association.png")
    opened.keyboard.press("Escape")
    assert opened.is_hidden("#detail")
    assert opened.errors == []


def test_the_diff_view_shows_what_changed_since_the_older_run(opened, example_run, older_run, shots):
    found = diff_dirs(older_run, example_run)
    opened.click("#tab-associations")
    opened.check("#f-diff")
    opened.wait_for_function("document.getElementById('status').textContent.includes(' of ')")
    rows_shown(opened)
    tags = opened.eval_on_selector_all("#table tbody tr", "rows => rows.map(r => [r.className, r.children[0].textContent])")
    assert {p for c, p in tags if c == "diff-added"} == {s.product for s in found.added}
    assert {p for c, p in tags if c == "diff-removed"} == {s.product for s in found.removed}
    assert {p for c, p in tags if c == "diff-changed"} == {c.product for c in found.changed}
    shots(opened, "report-diff.png")
    changed = found.changed[0]
    opened.click(f"#table tbody tr.diff-changed .open:text-is('{changed.product}')")
    opened.wait_for_selector("#detail:not([hidden])")
    detail = opened.inner_text("#detail-diff")
    assert "changed" in detail and all(m["expname"] in detail for m in changed.gained + changed.lost)
    opened.uncheck("#f-diff")
    opened.wait_for_function(f"document.getElementById('status').textContent === '{len(list(example_run.glob('*_asn.json'))):,} associations'")
    assert opened.errors == []


def test_the_sky_draws_footprints_and_skycells_and_a_click_opens_one(opened, shots):
    opened.click("#tab-sky")
    opened.wait_for_function("document.getElementById('sky-note').textContent.includes('skycells')")
    painted = opened.evaluate("""() => {
        const c = document.getElementById('sky-canvas');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
        return n / (c.width * c.height); }""")
    assert painted > 0.05
    shots(opened, "report-sky.png")
    box = opened.locator("#sky-canvas").bounding_box()
    opened.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    opened.wait_for_selector("#detail:not([hidden])")
    assert opened.is_visible("#associations") and opened.inner_text("#detail-title").startswith("r0000")
    opened.click("#tab-sky")
    opened.focus("#sky-canvas")
    opened.keyboard.press("+")
    opened.keyboard.press("ArrowLeft")
    assert opened.errors == []


def test_keyboard_and_a_narrow_window(chromium, report_page, shots):
    context = chromium.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report_page.as_uri())
    page.wait_for_function("window.RomanasnReport && window.RomanasnReport.ready")
    page.focus("#tab-summary")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#associations") and page.evaluate("document.activeElement.id") == "tab-associations"
    for control in ("#f-rule", "#f-type", "#f-program", "#f-product", "#f-member"):
        label = page.eval_on_selector(control, "c => c.labels.length && c.labels[0].textContent.trim()")
        assert label
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1  # nothing wider than the window
    page.wait_for_function("document.querySelectorAll('#table tbody tr').length > 0")
    shots(page, "report-narrow.png")
    context.close()
    assert errors == []


@pytest.fixture(scope="module")
def chunked_page(example_run, tmp_path_factory):
    """The example run's report cut in small data files, as a large run's is."""
    from romanasn.plugins.manager import get_plugin_manager

    from romanasn_report import report

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "ROWS_CHUNK", 400)
        patch.setattr(report, "JSON_CHUNK", 250)
        patch.setattr(report, "NAMES_CHUNK", 150)
        return report.write_report(example_run, tmp_path_factory.mktemp("chunked") / "chunked.html",
                                   plugin_manager=get_plugin_manager())


def test_a_large_run_is_read_in_parts_as_needed(chromium, chunked_page, example_run):
    page = chromium.new_page()
    errors, loaded = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: loaded.append(request.url.rsplit("/", 1)[-1]))
    page.goto(chunked_page.as_uri())
    page.wait_for_function("window.RomanasnReport && window.RomanasnReport.ready")
    page.wait_for_function("document.querySelectorAll('#table tbody tr').length === 200")
    assert [n for n in loaded if n.endswith(".js")] == ["rows-0000.js"]  # one part of nine opens the page
    page.click("#tab-associations")
    page.select_option("#f-rule", "skycell_pass")
    page.wait_for_function("document.getElementById('status').textContent === '505 of 3,581 associations'")
    page.click("#page-next")
    page.click("#page-next")
    page.wait_for_function("document.getElementById('page-label').textContent === 'page 3 of 3'")
    rules = page.eval_on_selector_all("#table tbody tr", "rows => rows.map(r => r.children[1].textContent)")
    assert rules == ["skycell_pass"] * 105
    page.select_option("#f-rule", "")
    part = "_0001_wfi01_f158_cal"  # not the start of any name: every part of the names is searched
    holding = [p.name for p in example_run.glob("*_asn.json") if part in p.read_text()]
    page.fill("#f-member", part)
    page.wait_for_function(f"document.getElementById('status').textContent.startsWith('{len(holding)} of 3,581')")
    page.fill("#f-member", MEMBER)
    page.wait_for_function(f"document.getElementById('status').textContent.endsWith(' hold {MEMBER}')")
    files = rows_shown(page)
    assert sorted(files) == sorted(p.name for p in example_run.glob("*_asn.json") if MEMBER in p.read_text())
    page.close()
    assert errors == []


def test_the_page_works_in_firefox(firefox, report_page, example_run):
    """The core checks in Debian's Firefox ESR over WebDriver BiDi: no errors, the member filter, an association."""
    import subprocess

    product = "r00001_p_v01001001001001_f158"
    done = subprocess.run(firefox + [report_page.as_uri(), MEMBER, product], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["browser"].startswith("firefox/")
    assert seen["errors"] == [] and seen["requests"] == []
    run = json.loads((example_run / "romanasn-run.json").read_text())
    assert f"{run['associations']:,}" in seen["summary"]
    on_disk = sorted(p.name for p in example_run.glob("*_asn.json") if MEMBER in p.read_text())
    assert sorted(seen["member_files"]) == on_disk and len(on_disk) > 3
    assert seen["member_status"].startswith(f"{len(on_disk)} of")
    asn = json.loads((example_run / f"{product}_asn.json").read_text())
    assert seen["detail_members"] == [m["expname"] for m in asn["products"][0]["members"]]
    assert seen["detail_json"] == asn
