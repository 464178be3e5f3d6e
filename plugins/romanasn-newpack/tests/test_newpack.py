"""``romanasn new-pack``: names, the files written, and a skeleton that installs with pip and passes its tests."""

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import romanasn_newpack as newpack
from romanasn.cli import main
from romanasn.errors import RomanasnError, UsageError
from romanasn.testing import build_wheel

PACK = Path(__file__).resolve().parents[1]
ROOT = PACK.parents[1]
GUIDE = ROOT / "docs" / "guide"
FILES = [
    "README.md",
    "pyproject.toml",
    "src/romanasn_my_survey/__init__.py",
    "src/romanasn_my_survey/plugin.py",
    "src/romanasn_my_survey/rules.py",
    "tests/test_installed.py",
    "tests/test_rules.py",
]


def clean_env(**extra):
    """The environment without the variables that would change which packs or paths a child sees."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROMANASN_", "PYTHONPATH", "PIP_"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


def run(command, cwd=None, env=None, what=""):
    """Run ``command``; fail the test with its output when it fails."""
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{what or command} failed:\n{done.stdout}\n{done.stderr}"
    return done


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["my-survey", "romanasn-my-survey", "My_Survey", "my.survey", " my--survey "])
def test_names_are_normalised_as_packaging_does(given):
    assert newpack.pack_names(given) == newpack.PackNames(
        short="my-survey", dist="romanasn-my-survey", package="romanasn_my_survey", prefix="my_survey")


@pytest.mark.parametrize("given", ["", "romanasn", "romanasn-", "2mass", "my survey", "my/survey", "-x", "héllo"])
def test_names_that_cannot_be_a_pack_are_refused(given):
    with pytest.raises(UsageError, match="cannot name a pack"):
        newpack.pack_names(given)


# -- rendering and writing -----------------------------------------------------------------


def test_the_skeleton_has_a_pyproject_a_rule_a_naming_override_and_tests():
    files = newpack.render("my-survey")
    assert list(files) == FILES
    assert not [path for path, text in files.items() if "{{" in text or "}}" in text]
    pyproject = files["pyproject.toml"]
    assert '[project.entry-points.romanasn]\nromanasn-my-survey = "romanasn_my_survey.plugin"' in pyproject
    assert 'name = "romanasn-my-survey"' in pyproject and '"romanasn>=' in pyproject
    assert 'name=f"{PREFIX}_detector_stack"' in files["src/romanasn_my_survey/rules.py"]
    plugin = files["src/romanasn_my_survey/plugin.py"]
    assert "def romanasn_rules()" in plugin and "def romanasn_file_stem(association)" in plugin
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")


def test_write_pack_writes_every_file_and_never_overwrites(tmp_path):
    root = newpack.write_pack("my-survey", tmp_path)
    assert root == tmp_path / "romanasn-my-survey"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == FILES
    with pytest.raises(RomanasnError, match="exists and is not an empty folder"):
        newpack.write_pack("my-survey", tmp_path)
    (tmp_path / "empty" / "romanasn-other").mkdir(parents=True)
    assert newpack.write_pack("other", tmp_path / "empty").is_dir()


def test_the_command_writes_the_pack_and_says_what_to_do_next(tmp_path, capsys):
    assert main(["new-pack", "deep-fields", "-o", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert (tmp_path / "romanasn-deep-fields" / "src" / "romanasn_deep_fields" / "plugin.py").is_file()
    assert 'python -m pip install -e ".[test]"' in said and "deep_fields_detector_stack" in said
    assert main(["new-pack", "deep-fields", "-o", str(tmp_path)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["new-pack", "9lives", "-o", str(tmp_path)]) == 2


def test_the_skeletons_module_loads_and_its_rule_runs(tmp_path):
    from romanasn import generate
    from romanasn.testing import exposure_rows, manager_with, pool_table

    root = newpack.write_pack("loaded-here", tmp_path)
    sys.path.insert(0, str(root / "src"))
    try:
        spec = importlib.util.find_spec("romanasn_loaded_here.plugin")
        plugin = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plugin)
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m.startswith("romanasn_loaded_here")]:
            del sys.modules[name]
    rows = exposure_rows("0000401001001001001", 1, detectors=[1, 2])
    result = generate(pool_table(rows), plugin_manager=manager_with((plugin, "romanasn-loaded-here")))
    assert result.file_stems == ("r00004_p_full_f158_wfi01_loaded_here_asn", "r00004_p_full_f158_wfi02_loaded_here_asn")


# -- the skeleton's own tests, and the author's guide ---------------------------------------------


@pytest.mark.slow
def test_the_skeleton_with_every_step_of_the_guide_passes_its_tests(tmp_path):
    sys.path.insert(0, str(GUIDE))
    try:
        import steps
    finally:
        sys.path.remove(str(GUIDE))
    root = newpack.write_pack("my-survey", tmp_path)
    steps.apply(root)
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/test_installed.py"],
               cwd=root, env=clean_env(PYTHONPATH=str(root / "src")), what="the pack's tests")
    assert "8 passed" in done.stdout, done.stdout


# -- installed with pip in a virtual environment of its own -----------------------------------------


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """The kernel's wheel and this pack's, built from this checkout."""
    out = tmp_path_factory.mktemp("wheels")
    return build_wheel(ROOT, out / "kernel"), build_wheel(PACK, out / "newpack")


@pytest.mark.slow
def test_the_wheel_ships_the_templates(wheels):
    with zipfile.ZipFile(wheels[1]) as wheel:
        names = set(wheel.namelist())
    templates = {n for n in names if n.startswith("romanasn_newpack/templates/")}
    assert {"romanasn_newpack/templates/pyproject.toml.tmpl",
            "romanasn_newpack/templates/src/__package__/plugin.py.tmpl",
            "romanasn_newpack/templates/tests/test_rules.py.tmpl"} <= templates
    assert len(templates) == len(FILES)
    with zipfile.ZipFile(wheels[0]) as wheel:
        assert not [n for n in wheel.namelist() if "templates" in n], "the kernel's wheel ships no templates"


@pytest.mark.slow
def test_a_new_pack_installs_with_pip_and_passes_its_own_tests(wheels, tmp_path):
    """A fresh venv gets the kernel's and this pack's wheels; new-pack runs from it; pip installs the pack;
    its tests pass.

    The venv finds the kernel's dependencies (and pytest, hatchling) in this
    environment through a ``.pth`` line, but not this environment's
    installs of romanasn and its packs: ``.pth`` files of a folder added that
    way are not run, so editable installs stay out of sight.
    """
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], what="making the venv")
    python = venv / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    here = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(purelib) / "_romanasn_test_deps.pth").write_text("\n".join(here) + "\n")
    pip = [python, "-m", "pip", "install", "--quiet", "--no-index"]
    run(pip + ["--no-deps", *wheels], what="installing the kernel's and romanasn-newpack's wheels")
    found = run([python, "-c", "import romanasn; print(romanasn.__file__)"]).stdout.strip()
    assert Path(found).is_relative_to(venv), f"the venv imports romanasn from {found}"

    run([python, "-m", "romanasn", "new-pack", "my-survey", "-o", tmp_path], what="romanasn new-pack")
    pack = tmp_path / "romanasn-my-survey"
    run(pip + ["--no-build-isolation", pack], what="pip install of the new pack")

    tests = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=pack, what="the pack's own tests")
    assert "8 passed" in tests.stdout, tests.stdout

    listed = run([python, "-m", "romanasn", "rules", "--json"], what="romanasn rules --json",
                 env=clean_env(ROMANASN_PLUGINS="romanasn-my-survey"))
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["plugin"], r["asn_type"], r["level"]) for r in rows] == [
        ("my_survey_detector_stack", "romanasn-my-survey", "image3", 3)]
