"""The documentation: it builds with no warning, and documents every hook, command, column and public name."""

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
from romanasn import newpack
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
              "packs/wfi-calibration", "packs/skycell"}
    if (DOCS / "dask.md").exists():
        wanted.add("dask")
    assert wanted <= set(html)


@pytest.mark.slow
def test_every_hook_is_documented_on_the_hooks_page(html):
    page = html["hooks"]
    missing = [name for name in hooks() if f'id="romanasn.plugins.hookspec.{name}"' not in page]
    assert not missing, f"hooks missing from the hooks page: {missing}"


@pytest.mark.slow
def test_every_public_name_is_on_the_api_page(html):
    page = html["api"]
    missing = [name for name in romanasn.__all__ if f'id="romanasn.{name}"' not in page]
    missing += [name for name in romanasn.testing.__all__ if f'id="romanasn.testing.{name}"' not in page]
    assert not missing, f"public names missing from the API page: {missing}"


@pytest.mark.slow
def test_every_command_is_on_the_cli_page(html):
    from romanasn.cli import build_parser
    from romanasn.plugins.manager import get_plugin_manager

    parser = build_parser(get_plugin_manager(autoload=False))
    (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    page = html["cli"]
    missing = [name for name in subparsers.choices if f'id="romanasn-{name}"' not in page]
    assert not missing, f"commands missing from the CLI page: {missing}"
    for option in ("--dry-run", "--data-release-id", "--member-dir"):
        assert f"<span class=\"pre\">{option}</span>" in page


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
def test_the_gallery_draws_the_rule_chart_and_says_why_it_skips_others(tmp_path):
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(DOCS / "gallery.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = {e["file"]: e for e in json.loads((tmp_path / "manifest.json").read_text())}
    assert set(manifest) == {"associations-per-rule.png", "skycell-footprints.png", "benchmark-scaling.png"}
    assert manifest["associations-per-rule.png"]["drawn"]
    for name, entry in manifest.items():
        if entry["drawn"]:
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert entry["note"] and f"skipped {name}" in done.stdout


def test_the_benchmark_picture_reads_results_in_each_documented_shape(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(DOCS))
    try:
        import gallery
    finally:
        sys.path.remove(str(DOCS))
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(gallery, "RESULTS", results)
    skipped = gallery.benchmark_scaling(tmp_path)
    assert not skipped["drawn"] and "no benchmark results" in skipped["note"]
    (results / "romanasn.json").write_text(json.dumps(
        {"tool": "romanasn", "results": [{"rows": 1000, "seconds": 0.01}, {"rows": 10000, "rows_per_second": 90000}]}))
    (results / "romancal.json").write_text(json.dumps(
        [{"tool": "romancal", "version": "1.0.3", "rows": 100, "seconds": 2.0},
         {"tool": "romancal", "version": "1.0.3", "rows": 1000, "seconds": None}]))
    assert set(gallery._series(results / "romancal.json")) == {"romancal 1.0.3"}
    drawn = gallery.benchmark_scaling(tmp_path)
    assert drawn["drawn"] and "1 run that did not finish" in drawn["caption"]
    assert (tmp_path / "benchmark-scaling.png").read_bytes()[:4] == b"\x89PNG"
