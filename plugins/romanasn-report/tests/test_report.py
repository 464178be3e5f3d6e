"""``romanasn report DIR``: the web page of a run and the data files beside it (read here as the page reads them)."""

import json
import re
from pathlib import Path

import pytest

from romanasn import read_pool
from romanasn.cli import main
from romanasn.diff import diff_dirs, load_set
from romanasn.explain import explain
from romanasn.plugins.manager import get_plugin_manager

from romanasn_report import report as report_module
from romanasn_report import sky

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_POOL = ROOT / "examples" / "pool.ecsv"
EXAMPLE_SKYMAP = ROOT / "examples" / "skymap.asdf"


def data_files(page: Path) -> dict[str, list]:
    """Every data file beside ``page``, as the page's script receives it: kind -> [arguments of each call]."""
    found: dict[str, list] = {}
    for path in sorted(page.with_name(f"{page.stem}_data").iterdir()):
        text = path.read_text("utf-8")
        if path.name == "members.js":  # one text, a comment of a function
            found["members"] = [[re.fullmatch(r"RomanasnReport\.members\(function \(\) \{/\*\n(.*)\n\*/\}\);\n",
                                              text, re.S).group(1)]]
            continue
        call = re.fullmatch(r"RomanasnReport\.(\w+)\((.*)\);\n", text, re.S)
        assert call, f"{path.name} is not one call of RomanasnReport"
        found.setdefault(call.group(1), []).append(json.loads(f"[{call.group(2)}]"))
    return found


def page_summary(page: Path) -> dict:
    text = page.read_text("utf-8")
    inline = re.search(r'<script id="report-summary" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(inline.group(1))


def table_rows(data: dict[str, list], summary: dict) -> list[dict]:
    """The association table, chunk after chunk, with rule, type and program names filled in."""
    chunks = summary["chunks"]
    rows = []
    for k, columns in sorted(data["rows"]):
        for i in range(len(columns["product"])):
            rows.append({"product": columns["product"][i], "rule": chunks["rules"][columns["rule"][i]],
                         "type": chunks["types"][columns["type"][i]], "members": columns["members"][i],
                         "file": columns["file"][i], "diff": columns["diff"][i], "json": columns["json"][i]})
    return rows


def member_rows(data: dict[str, list], summary: dict) -> dict[str, list[int]]:
    """Each member name (a line of members.js) and the table rows of the associations holding it (names-N.js)."""
    [[text]] = data["members"]
    names = text.split("\n") if text else []
    held = [rows[starts[i]:starts[i + 1]] for k, (starts, rows) in sorted(data["names"]) for i in range(len(starts) - 1)]
    assert len(held) == len(names) and summary["names"] == {"count": len(names), "size": report_module.NAMES_CHUNK}
    return dict(zip(names, held))


@pytest.fixture(scope="module")
def example_report(example_run, tmp_path_factory):
    page = tmp_path_factory.mktemp("page") / "example.html"
    status = main(["report", str(example_run), "-o", str(page), "--pool", str(EXAMPLE_POOL),
                   "--skymap", str(EXAMPLE_SKYMAP), "-q"])
    assert status == 0
    return page


def test_the_table_holds_every_association_file_once(example_run, example_report):
    summary, data = page_summary(example_report), data_files(example_report)
    rows = table_rows(data, summary)
    run = json.loads((example_run / "romanasn-run.json").read_text())
    assert summary["associations"] == run["associations"] == len(rows)
    assert sorted(r["file"] for r in rows) == sorted(run["manifest"]["files"])
    assert {r["name"]: r["count"] for r in summary["rules"]} == run["counts"]
    for row in rows[::97]:
        on_disk = json.loads((example_run / row["file"]).read_text())
        assert row["product"] == on_disk["products"][0]["name"] and row["rule"] == on_disk["asn_rule"]
        assert row["members"] == len(on_disk["products"][0]["members"])


def test_the_detail_files_are_the_association_files(example_run, example_report):
    summary, data = page_summary(example_report), data_files(example_report)
    rows = table_rows(data, summary)
    details = [item for k, items in sorted(data["json"]) for item in items]
    assert len(details) == len(rows) and sorted(r["json"] for r in rows) == list(range(len(rows)))
    for row in rows[::53]:
        assert details[row["json"]] == json.loads((example_run / row["file"]).read_text())


def test_a_member_name_finds_every_association_that_holds_it(example_run, example_report):
    summary, data = page_summary(example_report), data_files(example_report)
    rows = table_rows(data, summary)
    names = member_rows(data, summary)
    member = "r0000101001001001001_0001_wfi01_f158_cal.asdf"
    holding = sorted(rows[r]["file"] for r in names[member])
    on_disk = sorted(p.name for p in example_run.glob("*_asn.json")
                     if member in p.read_text())
    assert holding == on_disk and len(holding) > 3


def test_the_summary_says_what_was_left_out_and_why(example_run, example_report):
    summary = page_summary(example_report)
    run = json.loads((example_run / "romanasn-run.json").read_text())
    assert summary["orphans"] == run["orphans"] and summary["orphan_count"] == len(run["orphans"])
    assert summary["vetoed"] == len(run["vetoes"])
    reasons = {(v["rule"], v["reason"], v["plugin"]) for v in run["vetoes"]}
    assert {(v["rule"], v["reason"], v["plugin"]) for v in summary["vetoes"]} == reasons
    assert [p["name"] for p in summary["plugins"]] == [p["name"] for p in run["plugins"]]


def explained(data: dict[str, list], summary: dict, name: str) -> dict | None:
    """The verdicts the page finds for a file name: its row in the name index, then that row's verdict file."""
    index = {n: r for k, (names, rows) in data["explain"] for n, r in zip(names, rows)}
    assert [names[0] for k, (names, rows) in sorted(data["explain"])] == summary["explained"]["names"]
    if name not in index:
        return None
    chunk = summary["explained"]["chunk"]
    verdicts = dict(data["verdicts"])[index[name] // chunk]
    return verdicts[index[name] % chunk]


def test_verdicts_are_explains(example_report):
    summary, data = page_summary(example_report), data_files(example_report)
    assert summary["explained"]["rows"] == summary["explained"]["pool_rows"] == 432
    assert sum(len(items) for k, items in data["verdicts"]) == 432  # every pool row
    pm = get_plugin_manager()
    from romanasn.plugins.types import RunConfig
    config = RunConfig(data_release_id="p", options={"skymap": str(EXAMPLE_SKYMAP)})
    table = read_pool(EXAMPLE_POOL, columns=[f.item for f in pm.pool_columns()])
    for name in (summary["orphans"][0], str(table["filename"][-1])):
        assert explained(data, summary, name) == explain(table, name, plugin_manager=pm, config=config).to_json()
    member = "r0000101001001001001_0001_wfi01_f158_cal.asdf"  # a member's name finds its pool row's verdicts
    assert explained(data, summary, member)["filename"] == "r0000101001001001001_0001_wfi01_f158_uncal.asdf"
    assert explained(data, summary, "r9999_not_in_the_pool_cal.asdf") is None


@pytest.mark.slow
def test_every_row_of_a_large_pool_is_explained(tmp_path, monkeypatch):
    """Beyond the 2,000 rows a report once stopped at: each row's verdicts, found through split name indexes."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import mission_pool

    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-wfi-imaging,romanasn-wfi-calibration,romanasn-report")
    monkeypatch.setattr(report_module, "NAMES_CHUNK", 700)
    pool, out, page = tmp_path / "pool.ecsv", tmp_path / "asn", tmp_path / "page.html"
    mission_pool.write(2_600, pool)
    assert main(["generate", str(pool), "-o", str(out), "-q"]) == 0
    assert main(["report", str(out), "--pool", str(pool), "-o", str(page), "-q"]) == 0
    summary, data = page_summary(page), data_files(page)
    assert summary["explained"]["rows"] == 2_600 and len(data["explain"]) > 3
    pm = get_plugin_manager()
    table = read_pool(pool, columns=[f.item for f in pm.pool_columns()])
    for row in (0, 2_001, 2_599):
        name = str(table["filename"][row])
        assert explained(data, summary, name) == explain(table, name, plugin_manager=pm).to_json()


def test_the_sky_has_level3_footprints_and_the_skycells(example_report):
    summary, data = page_summary(example_report), data_files(example_report)
    (sky,) = data["sky"][0]
    level3 = {r["name"] for r in summary["rules"] if r["level"] == 3}
    rows = table_rows(data, summary)
    assert sky["footprints"] and {rule for _, rule, _, _ in sky["footprints"]} <= level3
    for row, rule, product, xy in sky["footprints"]:
        assert rows[row]["rule"] == rule and rows[row]["product"] == product and len(xy) >= 6
    skycells = [o for o in sky["outlines"] if o["kind"] == "skycell"]
    assert skycells and all(len(o["xy"]) == 8 for o in skycells)
    named = {r["product"].split("_")[-2] for r in rows if r["rule"] == "skycell_full"}
    assert named <= {o["name"] for o in skycells}  # every skycell an association is on is drawn


def test_against_an_older_run_marks_what_diff_finds(example_run, older_run, tmp_path):
    page = tmp_path / "r.html"
    assert main(["report", str(example_run), "-o", str(page), "--against", str(older_run), "-q"]) == 0
    summary, data = page_summary(page), data_files(page)
    found = diff_dirs(older_run, example_run)
    assert found.added and found.removed and found.changed
    rows = table_rows(data, summary)
    assert {r["product"] for r in rows if r["diff"] == 1} == {s.product for s in found.added}
    assert {r["product"] for r in rows if r["diff"] == 2} == {c.product for c in found.changed}
    (changes,) = data["diff"][0]
    assert [r["product"] for r in changes["removed"]] == [s.product for s in found.removed]
    assert summary["diff"]["changed"] == len(found.changed)
    assert "sky" not in data and "explain" not in data  # no pool given


def test_generate_report_gathers_the_page_as_it_writes_the_files(tmp_path, monkeypatch):
    """``generate --report`` reads no association file back, and its page holds what ``romanasn report`` reads."""
    out = tmp_path / "asn"
    monkeypatch.setattr(report_module, "JSON_CHUNK", 50)

    def no_reading(*args):
        raise AssertionError("generate --report read an association file back")

    with monkeypatch.context() as patch:
        patch.setattr(report_module, "load_association", no_reading)
        assert main(["generate", str(EXAMPLE_POOL), "-o", str(out), "-q", "--report"]) == 0
    assert main(["report", str(out), "-o", str(tmp_path / "read.html"), "-q"]) == 0
    pages = [out / "report.html", tmp_path / "read.html"]
    (gathered, summary), (read, read_summary) = ((data_files(p), page_summary(p)) for p in pages)
    without_json = [[{k: v for k, v in row.items() if k != "json"} for row in table_rows(data, meta)]
                    for data, meta in ((gathered, summary), (read, read_summary))]
    assert without_json[0] == without_json[1]
    assert member_rows(gathered, summary) == member_rows(read, read_summary)
    for key in ("inputs", "plugins", "rules", "types", "programs", "vetoes", "orphans", "options", "pool_rows"):
        assert summary[key] == read_summary[key], key  # the run report given, as the one read
    for data, meta in ((gathered, summary), (read, read_summary)):  # each row's JSON is its file's
        details = [item for k, items in sorted(data["json"]) for item in items]
        for row in table_rows(data, meta):
            assert details[row["json"]] == json.loads((out / row["file"]).read_text())
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".report")) == []


def test_generate_report_writes_the_page_beside_the_run(tmp_path):
    out = tmp_path / "asn"
    assert main(["generate", str(EXAMPLE_POOL), "-o", str(out), "-q", "--rules", "wfi_image_exposure,wfi_image_visit",
                 "--report"]) == 0
    summary = page_summary(out / "report.html")
    assert summary["associations"] == 168 and summary["files"]["sky"] == 1
    assert "explained" not in summary  # explain's verdicts on every row: romanasn report --pool
    assert len(load_set(out)) == 168  # the page and its data are not taken for associations


def test_the_page_is_self_contained(example_report):
    text = example_report.read_text("utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    assert "RomanasnReport" in text and "{{" not in text


def test_data_come_in_chunks(example_run, tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "ROWS_CHUNK", 500)
    monkeypatch.setattr(report_module, "JSON_CHUNK", 300)
    monkeypatch.setattr(report_module, "NAMES_CHUNK", 100)
    page = report_module.write_report(example_run, tmp_path / "p.html", plugin_manager=get_plugin_manager())
    summary, data = page_summary(page), data_files(page)
    assert len(data["rows"]) == 8 and len(data["json"]) == 12 and summary["names"]["size"] == 100
    for k, columns in data["rows"]:
        chunk = summary["chunks"]["rows"][k]
        assert chunk["count"] == len(columns["product"])
        assert chunk["rules"] == [[i, columns["rule"].count(i)] for i in sorted(set(columns["rule"]))]
    names = list(member_rows(data, summary))
    assert names == sorted(set(names)) and len(data["names"]) == -(-len(names) // 100)


def test_a_bad_association_file_is_named_and_the_old_page_kept(example_run, tmp_path):
    folder = tmp_path / "asn"
    folder.mkdir()
    for path in sorted(example_run.glob("*_asn.json"))[:5]:
        (folder / path.name).write_bytes(path.read_bytes())
    page = folder / "report.html"
    assert main(["report", str(folder), "-q"]) == 0
    before = page.read_bytes(), sorted(p.name for p in (folder / "report_data").iterdir())
    (folder / "zz_broken_asn.json").write_text('{"asn_rule": "x", "products": [')
    with pytest.raises(Exception) as error:
        report_module.write_report(folder, plugin_manager=get_plugin_manager())
    assert "zz_broken_asn.json" in str(error.value)
    assert (page.read_bytes(), sorted(p.name for p in (folder / "report_data").iterdir())) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(p.name for p in folder.glob("*.json")),
                                                               "report.html", "report_data"])


def test_command_errors(example_run, tmp_path, capsys):
    assert main(["report", str(example_run), "-o", str(tmp_path / "page.txt")]) == 2
    assert main(["report", str(example_run), "--against", str(example_run)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert "ending in .html" in err and "the folder being reported" in err and "missing" in err
    assert main(["generate", str(EXAMPLE_POOL), "--dry-run", "--report"]) == 2


def test_projection_and_hull():
    import numpy as np

    project = sky.Projection(sky._unit(np.array([0.0, 90.0])))
    east, north = project(np.array([[0.0, 89.0], [90.0, 89.0], [180.0, 89.0]])).T
    assert np.allclose(np.hypot(east, north), 1.0)  # true distances from the pole
    [hull] = sky.hulls(np.array([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 0.5]], dtype=float),
                                 np.array([0, 6]))
    assert hull.tolist() == [[0, 0], [2, 0], [2, 2], [0, 2]]  # counter-clockwise from the lowest leftmost
    assert report_module._script("rows", 3, b"[2]", {"a": "</script>"}) == (
        b'RomanasnReport.rows(3,[2],{"a":"</script>"});\n')


def test_s_regions_are_parsed_as_one_at_a_time():
    import pyarrow as pa

    regions = ["POLYGON ICRS 1 2 3 4 5 6", "  polygon 1 2 3 4 5 6 7 8 ", "POLYGON 1 2 3 4 5", "POLYGON 1 2 3 4 5 91",
               "POLYGON ICRS 1 2 3 nan 5 6", "POLYGON ICRS 1 2 3 x 5 6", "CIRCLE ICRS 1 2 3 4 5", None, "",
               "POLYGON ICRS 1e1 -2.5 3. .4 +5 6E-1"]
    vertices, counts = sky.parse_s_regions(pa.array(regions, pa.string()))
    assert counts.tolist() == [3, 4, 0, 0, 0, 0, 0, 0, 0, 3]
    assert vertices[-3:].tolist() == [[10, -2.5], [3, 0.4], [5, 0.6]]
    assert vertices[3:7].tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_member_names_find_pool_rows_as_strip_level_does():
    import pyarrow as pa

    from romanasn.naming import strip_level

    names = ["r1_0001_wfi01_f158_cal.asdf", "r1_0001_wfi01_f158_uncal.asdf", "x.y_z_rate.fits", "_cal.asdf",
             "plain", "a.b.c", "a__cal.asdf", "r2_0001_wfi02_f158.asdf"]
    assert sky._stems(pa.array(names, pa.large_string())).to_pylist() == [strip_level(n) for n in names]
    pool = pa.array(["r1_0001_wfi01_f158_uncal.asdf", "r2_0001_wfi02_f158_uncal.asdf", "r1_0001_wfi01_f158_x.asdf"])
    rows = sky._pool_rows(pa.array(["r1_0001_wfi01_f158_cal.asdf", "r3_cal.asdf",
                                              "r2_0001_wfi02_f158_rate.asdf"]), pool)
    assert rows.tolist() == [2, -1, 1]  # the last pool row of an exposure, none for an unknown one


def test_hulls_of_many_footprints_are_the_monotone_chains():
    import numpy as np

    rng = np.random.default_rng(7)
    groups = [rng.normal(size=(n, 2)) * rng.uniform(0.1, 50) for n in (3, 4, 17, 500, 5000)]
    groups.append(np.array([[0, 0], [1, 1], [2, 2], [3, 3]] * 30, dtype=float))  # collinear, repeated
    angles = rng.uniform(0, 2 * np.pi, 3000)
    groups.append(np.stack((np.cos(angles), np.sin(angles)), axis=1) * 40)  # every point a corner
    starts = np.cumsum([0] + [len(g) for g in groups])
    found = sky.hulls(np.concatenate(groups), starts)
    for group, hull in zip(groups, found):
        assert np.array_equal(hull, sky._chain(np.round(group, 7)))
    assert found[-2].tolist() == [[0, 0], [3, 3]]


def test_files_arrow_cannot_read_are_read_one_by_one(tmp_path):
    folder = tmp_path / "asn"
    folder.mkdir()
    asn = {"asn_rule": "r", "asn_type": "image3", "program": 5,
           "products": [{"name": "p1", "members": [{"expname": 42}]}, {"name": "p2", "members": []}]}
    (folder / "a_asn.json").write_text(json.dumps(asn, indent=1))
    (folder / "b_asn.json").write_text(json.dumps({**asn, "program": "00005", "products": [{"members": []}]}))
    page = report_module.write_report(folder, plugin_manager=get_plugin_manager())
    rows = table_rows(data_files(page), page_summary(page))
    assert [(r["product"], r["members"]) for r in rows] == [("p1 + p2", 1), ("", 0)]
    assert page_summary(page)["programs"] == {"00005": 1, "5": 1}
    (folder / "c_asn.json").write_text(json.dumps({**asn, "products": [{"name": "p", "members": [{}]}]}))
    with pytest.raises(Exception, match="c_asn.json: not an association file"):
        report_module.write_report(folder, plugin_manager=get_plugin_manager())


def test_generate_report_into_a_folder_with_other_files_lists_them(tmp_path):
    out = tmp_path / "asn"
    out.mkdir()
    kept = {"asn_rule": "older", "asn_type": "image3", "products": [{"name": "older", "members": [{"expname": "x"}]}]}
    (out / "older_asn.json").write_text(json.dumps(kept))
    assert main(["generate", str(EXAMPLE_POOL), "-o", str(out), "-q", "--rules", "wfi_image_visit", "--report"]) == 0
    rows = table_rows(data_files(out / "report.html"), page_summary(out / "report.html"))
    files = sorted(r["file"] for r in rows)
    assert "older_asn.json" in files and files == sorted(p.name for p in out.glob("*_asn.json"))


def test_the_files_are_the_manifests_and_the_folder_is_listed_without_one(tmp_path, capsys):
    """A run's files come from its run report's manifest, by rule then name (the folder is not listed: a
    file put there after the run is not in the page); without a manifest, or when a file it lists is
    gone, the folder is listed, and a warning says so."""
    out = tmp_path / "asn"
    assert main(["generate", str(EXAMPLE_POOL), "-o", str(out), "-q", "--rules", "wfi_image_visit,wfi_image_exposure"]) == 0
    manifest = json.loads((out / "romanasn-run.json").read_text())["manifest"]["files"]
    (out / "aa_other_asn.json").write_bytes((out / next(iter(manifest))).read_bytes())

    def read(folder: Path) -> list[str]:
        capsys.readouterr()
        page = report_module.write_report(folder, tmp_path / "page.html", plugin_manager=get_plugin_manager())
        data, summary = data_files(page), page_summary(page)
        details = [item for k, items in sorted(data["json"]) for item in items]
        assert all(details[r["json"]] == json.loads((folder / r["file"]).read_text()) for r in table_rows(data, summary))
        return [r["file"] for r in sorted(table_rows(data, summary), key=lambda r: r["json"])]

    assert read(out) == sorted(manifest, key=lambda name: (manifest[name][1], name))
    assert capsys.readouterr().err == ""
    (out / sorted(manifest)[3]).unlink()
    on_disk = sorted(p.name for p in out.glob("*_asn.json"))
    assert read(out) == on_disk
    assert "is in the manifest of romanasn-run.json but not in the folder: listing" in capsys.readouterr().err
    (out / "romanasn-run.json").unlink()
    assert read(out) == on_disk and "no usable manifest in romanasn-run.json" in capsys.readouterr().err
