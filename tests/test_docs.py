"""The documentation: it builds with no warning, and documents every hook, command, column and public name."""

import functools
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import romanasn
import romanasn.testing
import romanasn_newpack as newpack
from romanasn.columns import canonical_columns
from romanasn.plugins import hookspec

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NAME = "romanasn"


def hooks():
    """The hook specifications, by name."""
    return {name: value for name, value in vars(hookspec).items()
            if name.startswith(f"{NAME}_") and callable(value) and hasattr(value, f"{NAME}_spec")}


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The documentation built into a temporary folder with warnings as errors; page name -> HTML."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    out = tmp_path_factory.mktemp("html")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROMANASN_")}
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / ".doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, f"the documentation does not build cleanly:\n{done.stdout}\n{done.stderr}"
    return {p.relative_to(out).with_suffix("").as_posix(): p.read_text("utf-8") for p in out.rglob("*.html")}


# -- the build ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_page_the_issue_asks_for_is_built(html):
    wanted = {"index", "associations", "quickstart", "pool", "asn-files", "cli", "hooks", "api", "authoring",
              "gallery", "troubleshooting", "packs/index", "packs/wfi-imaging", "packs/wfi-spectral",
              "packs/wfi-calibration", "packs/skycell", "dask"}
    assert wanted <= set(html)


@pytest.mark.slow
def test_the_dask_page_is_in_the_table_of_contents(html):
    assert 'href="dask.html"' in html["index"]
    assert "--engine" in html["dask"] and "--scheduler" in html["dask"]


@pytest.mark.slow
def test_every_hook_is_documented_on_the_hooks_page(html):
    page = html["hooks"]
    missing = [name for name in hooks() if f'id="romanasn.plugins.hookspec.{name}"' not in page]
    assert not missing, f"hooks missing from the hooks page: {missing}"
    assert 'id="romanasn_report.hookspec.romanasn_report_sky"' in page  # a hook a pack adds


@pytest.mark.slow
def test_every_public_name_is_on_the_api_page(html):
    page = html["api"]
    missing = [name for name in romanasn.__all__ if f'id="romanasn.{name}"' not in page]
    missing += [name for name in romanasn.testing.__all__ if f'id="romanasn.testing.{name}"' not in page]
    assert not missing, f"public names missing from the API page: {missing}"


def _docs_packs():
    """docs/_ext/romanasn_packs.py, which finds the shipped packs as the documentation does."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import romanasn_packs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return romanasn_packs


@pytest.mark.slow
def test_every_command_is_on_the_cli_page(html):
    """The kernel's commands and options, and those of every shipped pack (the report's among them)."""
    from romanasn.cli import build_parser

    shipped = [pack.dist for pack in _docs_packs().importable_packs()]
    assert {"romanasn-report", "romanasn-watch", "romanasn-newpack"} <= set(shipped)
    parser = build_parser(_docs_packs().manager())  # the kernel's commands and the shipped packs'
    (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    page = html["cli"]
    missing = [name for name in subparsers.choices if f'id="romanasn-{name}"' not in page]
    assert not missing, f"commands missing from the CLI page: {missing}"
    options = {option for sub in subparsers.choices.values() for action in sub._actions
               for option in action.option_strings if option not in ("-h", "--help")}
    assert {"--update", "--prune", "--engine", "--scheduler", "--orphans", "--skip-bad", "--settle", "--report",
            "--against", "--skymap"} <= options
    missing = sorted(option for option in options if f'<span class="pre">{option}</span>' not in page)
    assert not missing, f"options missing from the CLI page: {missing}"


@pytest.mark.slow
def test_every_canonical_column_and_association_key_is_documented(html):
    columns = [c.name for c in canonical_columns() if f'<span class="pre">{c.name}</span>' not in html["pool"]]
    assert not columns, f"pool columns missing from the pool page: {columns}"
    schema = json.loads((ROOT / "schemas" / "asn.schema.json").read_text())
    keys = list(schema["properties"]) + [k for d in schema["$defs"].values() for k in d.get("properties", {})]
    missing = [k for k in keys if f'<span class="pre">{k}</span>' not in html["asn-files"]]
    assert not missing, f"association keys missing from the association file page: {missing}"


@pytest.mark.slow
def test_each_shipped_pack_page_lists_its_rules_and_example_products(html):
    page = html["packs/wfi-imaging"]
    for rule in ("wfi_image_exposure", "wfi_image_fov", "wfi_image_visit", "wfi_image_pass", "wfi_image_full"):
        assert f'<span class="pre">{rule}</span>' in page
    assert "r00001_p_full_f158" in page
    assert "direct_image" in html["packs/wfi-spectral"]
    assert "--drop-degraded" in html["packs/wfi-calibration"]


@pytest.mark.slow
def test_every_rule_of_every_shipped_pack_is_on_its_page(html):
    romanasn_packs = _docs_packs()
    shipped = {pack.dist: pack for pack in romanasn_packs.importable_packs()
               if hasattr(pack.module, "romanasn_rules")}  # the rule packs (not the report, watch or new-pack)
    assert {"romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration",
            "romanasn-skycell"} <= set(shipped)
    for dist, pack in shipped.items():
        page = html[f"packs/{dist.removeprefix('romanasn-')}"]
        rules = [entry.name for entry in romanasn_packs.manager([pack]).rules()]
        assert rules, dist
        missing = [rule for rule in rules if f'<span class="pre">{rule}</span>' not in page]
        assert not missing, f"rules of {dist} missing from its page: {missing}"
        made = {}
        for association in romanasn_packs.run_example([pack]).associations:
            made.setdefault(association.asn_rule, association.product_name)
        assert made, f"{dist} makes nothing from the example pool"
        shown = [name for name in made.values() if f'<span class="pre">{name}</span>' not in page]
        assert not shown, f"example products of {dist} missing from its page: {shown}"


@pytest.mark.slow
def test_the_guide_shows_commands_run_with_the_skeleton_installed(html):
    page = html["authoring"]
    assert "my_survey_detector_stack" in page and "my_survey_visit_stack" in page
    assert "memberships vetoed" in page


# -- docstrings (fast: no build) ------------------------------------------------------------------


def test_every_hook_documents_its_arguments_and_result():
    for name, function in hooks().items():
        doc = inspect.getdoc(function) or ""
        assert doc.strip(), f"hook {name} has no docstring"
        for argument in inspect.signature(function).parameters:
            assert f":param {argument}:" in doc, f"hook {name} does not document its argument {argument}"
        assert ":return:" in doc, f"hook {name} does not say what it returns"
        assert "versionadded" in doc, f"hook {name} does not say when it was added"


def _own_doc(value):
    """The docstring written for ``value`` itself (not inherited from a base class)."""
    doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
    return (doc or "").strip()


@pytest.mark.parametrize("module", [romanasn, romanasn.testing, newpack], ids=lambda m: m.__name__)
def test_every_public_function_and_class_has_a_docstring(module):
    missing = []
    for name in module.__all__:
        value = getattr(module, name)
        if (inspect.isfunction(value) or inspect.isclass(value)) and not _own_doc(value):
            missing.append(name)
    assert not missing, f"{module.__name__}: public names without a docstring: {missing}"


#: Public names of the kernel still without a docstring, in files the documentation work does not own.
#: Each is (module, name); the test fails once one is documented, so that it is taken off this list.
UNDOCUMENTED: set[tuple[str, str]] = set()


def _kernel_modules():
    """Every public module of the kernel package (none of whose dotted parts starts with ``_``)."""
    import importlib
    import pkgutil

    yield romanasn
    for info in pkgutil.walk_packages(romanasn.__path__, "romanasn."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def _members(cls):
    """The public methods and properties a class defines itself: (name, what holds their docstring)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod)):
            yield name, value.__func__
        elif inspect.isfunction(value) or isinstance(value, (property, functools.cached_property)):
            yield name, value


def _documented(cls, name, value):
    """A doc of its own, or (for an override) the doc of the method it overrides."""
    if (getattr(value, "__doc__", None) or "").strip():
        return True
    return any((getattr(vars(base).get(name), "__doc__", None) or "").strip() for base in cls.__mro__[1:])


def test_every_public_name_of_the_kernel_has_a_docstring():
    """Every public module, module-level function and class of ``romanasn``, and every public method and
    property of its public classes, says what it is (``UNDOCUMENTED`` lists the known exceptions)."""
    missing = set()
    for module in _kernel_modules():
        if not (module.__doc__ or "").strip():
            missing.add((module.__name__, "(module)"))
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if not (inspect.isroutine(value) or inspect.isclass(value)):
                continue
            if not _own_doc(value):
                missing.add((module.__name__, name))
            if inspect.isclass(value):
                missing |= {(module.__name__, f"{name}.{member}") for member, found in _members(value)
                            if not _documented(value, member, found)}
    assert not missing - UNDOCUMENTED, f"public names without a docstring: {sorted(missing - UNDOCUMENTED)}"
    assert not UNDOCUMENTED - missing, f"documented now, remove from UNDOCUMENTED: {sorted(UNDOCUMENTED - missing)}"


# -- the quick start and the gallery ---------------------------------------------------------------


def test_the_quick_starts_python_runs(tmp_path, monkeypatch):
    text = (DOCS / "quickstart.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "pool.ecsv", tmp_path / "examples" / "pool.ecsv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-wfi-imaging,romanasn-wfi-spectral,romanasn-wfi-calibration")
    exec(compile(block, "quickstart.md", "exec"), {})
    assert (tmp_path / "out" / "romanasn-run.json").is_file()


@pytest.mark.slow
def test_the_gallery_draws_its_pictures_and_says_why_it_skips_one(tmp_path):
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(DOCS / "gallery.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = {e["file"]: e for e in json.loads((tmp_path / "manifest.json").read_text())}
    shots = {"report-summary.png", "report-member-filter.png", "report-association.png", "report-verdicts.png",
             "report-diff.png", "report-sky.png", "report-narrow.png"}  # the browser tests take them
    assert set(manifest) == {"associations-per-rule.png", "skycell-footprints.png", "benchmark-scaling.png", *shots}
    assert not any(manifest[name]["drawn"] for name in shots)  # none in an empty folder, each with a note
    assert manifest["associations-per-rule.png"]["drawn"] and manifest["benchmark-scaling.png"]["drawn"]
    assert "benchmarks/results/mission.json" in manifest["benchmark-scaling.png"]["caption"]
    for name, entry in manifest.items():
        if entry["drawn"]:
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert entry["note"] and f"skipped {name}" in done.stdout


def _gallery():
    """``docs/gallery.py`` as a module."""
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(DOCS))
    try:
        import gallery
    finally:
        sys.path.remove(str(DOCS))
    return gallery


def _results(path, runs, **more):
    """A results file in the form ``make bench`` writes, with these runs."""
    document = {"tool": "romanasn", "results": runs, "date": "2030-01-02T03:04:05+00:00",
                "machine": {"cores": 8, "python": "3.12.1", "platform": "Linux-test-x86_64"},
                "packs": ["romanasn-wfi-imaging"], **more}
    path.write_text(json.dumps(document))
    return path


def test_the_scaling_plot_is_drawn_from_the_results_files_numbers(tmp_path):
    gallery = _gallery()
    path = _results(tmp_path / "mission.json", [
        {"tool": "romanasn", "rows": 100, "seconds": 0.5},
        {"tool": "romanasn", "rows": 1000, "seconds": 4.0},
        {"tool": "romanasn", "rows": 1000, "seconds": 5.0},  # a slower repeat: the faster run is kept
        {"tool": "romanasn", "rows": 10000, "seconds": 40.0},
        {"tool": "romancal", "version": "1.0.3", "rows": 100, "seconds": 50.0},
        {"tool": "romancal", "version": "1.0.3", "rows": 1000, "seconds": 2000.0},
    ])
    bench = gallery.read_benchmark(path)
    assert bench.reference == "romanasn"
    assert bench.series == {"romanasn": [(100, 0.5), (1000, 4.0), (10000, 40.0)],
                            "romancal 1.0.3": [(100, 50.0), (1000, 2000.0)]}
    assert bench.ratios() == {"romancal 1.0.3": [(100, 100.0), (1000, 500.0)]}

    figure = gallery.plot_benchmark(bench)
    (axes,) = figure.axes
    lines = {line.get_label(): list(zip(line.get_xdata(), line.get_ydata())) for line in axes.get_lines()}
    assert lines["romanasn"] == [(100, 0.5), (1000, 4.0), (10000, 40.0)]
    assert lines["romancal 1.0.3"] == [(100, 50.0), (1000, 2000.0)]
    assert axes.get_xscale() == axes.get_yscale() == "log"
    assert {text.get_text() for text in axes.texts} == {"100× as long", "500× as long"}
    gallery._pyplot().close(figure)

    entry = gallery.benchmark_scaling(tmp_path, path)
    assert entry["drawn"] and (tmp_path / "benchmark-scaling.png").read_bytes()[:4] == b"\x89PNG"
    caption = entry["caption"]
    for said in ("CPU seconds", "romancal 1.0.3 takes 100 times as long at 100 rows", "500 times as long at 1,000",
                 "2030-01-02", "8 cores", "Linux-test-x86_64", "Python 3.12.1", str(path)):
        assert said in caption


def test_the_committed_results_give_both_tools_and_their_ratios():
    gallery = _gallery()
    data = json.loads((ROOT / "benchmarks" / "results" / "mission.json").read_text())
    bench = gallery.read_benchmark(gallery.RESULTS)
    mine = sorted((r["rows"], r["seconds"]) for r in data["results"] if r["tool"] == "romanasn")
    assert bench.series["romanasn"] == [min(g for g in mine if g[0] == rows) for rows in sorted({r for r, _ in mine})]
    theirs = sorted((r["rows"], r["seconds"]) for r in data["results"] if r["tool"] == "romancal")
    assert bench.series["romancal 1.0.3"] == theirs
    assert [rows for rows, _ in bench.ratios()["romancal 1.0.3"]] == [rows for rows, _ in theirs]


@pytest.mark.parametrize("content, says", [
    (None, "does not exist"),
    ("{not json", "cannot be read as JSON"),
    ("[]", "expected a JSON object"),
    (json.dumps({"tool": "romanasn", "results": []}), "expected a JSON object"),
    (json.dumps({"tool": "romanasn", "results": [{"tool": "romanasn", "rows": 10}]}), '"seconds"'),
    (json.dumps({"tool": "romanasn", "results": [{"tool": "romanasn", "rows": -1, "seconds": 1}]}), '"rows"'),
    (json.dumps({"tool": "romanasn", "machine": {"cores": 1},
                 "results": [{"tool": "romanasn", "rows": 10, "seconds": 1}]}), "only romanasn was measured"),
    (json.dumps({"tool": "romanasn", "results": [{"tool": "romanasn", "rows": 10, "seconds": 1},
                                                 {"tool": "romancal", "rows": 10, "seconds": 9}]}), '"machine"'),
], ids=["missing", "not-json", "not-an-object", "no-runs", "no-seconds", "bad-rows", "one-tool", "no-machine"])
def test_a_missing_or_malformed_results_file_stops_the_gallery_naming_it(tmp_path, monkeypatch, capsys, content,
                                                                         says):
    gallery = _gallery()
    path = tmp_path / "mission.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(gallery.GalleryError, match=says) as raised:
        gallery.read_benchmark(path)
    assert str(path) in str(raised.value)
    monkeypatch.setattr(gallery, "RESULTS", path)
    out = tmp_path / "out"
    assert gallery.main(["--out", str(out)]) == 1
    assert f"gallery: error: {path}" in capsys.readouterr().err
    assert not (out / "manifest.json").exists()
