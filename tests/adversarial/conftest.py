"""Shared set-up of the adversarial suite (issue #16): a small pool, the command line run in this
process or in a child, and the fake packs of ``tests/data/dists``."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from romanasn.cli import main

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def pool(tmp_path):
    """A copy of the canonical six-row pool."""
    return Path(shutil.copy(DATA / "pool_canonical.csv", tmp_path / "pool.csv"))


@pytest.fixture
def run(capsys):
    """``run(*args)``: the command line in this process; returns (status, stdout, stderr)."""
    def run(*args):
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err
    return run


@pytest.fixture
def spawn():
    """``spawn(*args)``: the command line in a child process (``Popen``), for signals and races."""
    return _spawn


def _spawn(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "romanasn", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def snapshot():
    """``snapshot(folder)``: every entry of ``folder`` (hidden ones too) with the bytes of the files."""
    return _snapshot


def _snapshot(folder):
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in sorted(Path(folder).iterdir())}


@pytest.fixture
def hostile(monkeypatch):
    """The fake hostile pack alone; call with ``WHAT:MODE`` (see its module) to set the fault."""
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.syspath_prepend(str(DATA / "dists" / "hostile"))
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-hostile")
    monkeypatch.setenv("ROMANASN_FAKE_HOSTILE", "")
    monkeypatch.delitem(sys.modules, "fake_hostile", raising=False)  # imported afresh, as a new process would
    return lambda fault: monkeypatch.setenv("ROMANASN_FAKE_HOSTILE", fault)


VISIT = "0000101001001001001"


@pytest.fixture
def exposure():
    """``exposure(folder, number, detector, **meta)``: a Level 2 exposure file (an ASDF header as
    romancal writes it, no arrays); ``meta`` sets ``group.name`` values as YAML text."""
    return _exposure


def _exposure(folder, number, detector, name=None, **meta):
    values = {"exposure.type": "WFI_IMAGE", "instrument.detector": f"WFI{detector:02d}",
              "instrument.optical_element": "F158", **{k.replace("__", "."): v for k, v in meta.items()}}
    observation = dict(program=1, execution_plan=1, **{"pass": 1}, segment=1, observation=1, visit=1,
                       visit_file_group=1, visit_file_sequence=1, visit_file_activity="'01'", exposure=number,
                       visit_id=f"'{VISIT}'", observation_id=f"'{VISIT}01101{number:04d}'")
    values.update({f"observation.{key}": value for key, value in observation.items()})
    groups: dict[str, list[str]] = {}
    for key, value in values.items():
        group, field = key.split(".")
        groups.setdefault(group, []).append(f"      {field}: {value}")
    lines = ["#ASDF 1.0.0", "#ASDF_STANDARD 1.5.0", "%YAML 1.1", "%TAG ! tag:stsci.edu:asdf/",
             "--- !core/asdf-1.1.0", "roman: !<asdf://stsci.edu/datamodels/roman/tags/wfi_image-1.1.0>",
             "  meta:", "    model_type: ImageModel"]
    for group, items in groups.items():
        lines += [f"    {group}:"] + items
    path = Path(folder) / (name or f"r{VISIT}_{number:04d}_wfi{detector:02d}_f158_cal.asdf")
    path.write_text("\n".join(lines) + "\n...\n")
    return path
