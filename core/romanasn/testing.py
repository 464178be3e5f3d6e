"""Helpers for testing rule packs, following the three tiers of plugin tests.

1. Logic: :func:`manager_with` builds a plugin manager that loads nothing
   from the environment and registers only the modules given, so a pack's
   rules run beside the kernel alone::

       from romanasn import generate
       from romanasn.testing import manager_with
       from romanasn_wfi_imaging import plugin

       result = generate(pool, plugin_manager=manager_with(plugin))

2. Discovery: put a fake distribution (a ``*.dist-info`` folder and a
   module) on ``sys.path`` with ``monkeypatch.syspath_prepend``.

Pools for such tests: :func:`exposure_rows` makes the rows of one exposure
(one per detector, every required column filled in consistently) and
:func:`pool_table` turns rows into a table that :func:`romanasn.generate`
takes, or that :func:`romanasn.write_pool` writes for :func:`romanasn.read_pool`.
:func:`make_exposure` writes a row's real ASDF exposure file (with
roman_datamodels), for ``make-pool`` and ``watch``.

A database pool on PostgreSQL: :func:`postgresql_server` starts a server of
Debian's ``postgresql`` package in a temporary folder for the tests (and the
benchmarks) and stops it after.

3. Packaging: :func:`build_wheel` once per test session, :func:`install_target`
   into a temporary folder, then :func:`run_romanasn` with that folder on
   ``PYTHONPATH`` to see the pack as an installed distribution. A
   distribution found earlier on the path hides one of the same name
   installed later (for example an editable install of the same pack), so
   the wheel's own entry points are the ones tested. These steps run pip and
   a build backend: mark such tests ``@pytest.mark.slow``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Mapping

from romanasn.plugins.manager import PluginManager, get_plugin_manager

__all__ = ["build_wheel", "exposure_rows", "install_target", "make_exposure", "manager_with", "pool_table",
           "postgresql_server", "NoServer",
           "run_romanasn", "tan_wcs"]


def manager_with(*plugins: ModuleType | object | tuple[object, str]) -> PluginManager:
    """A plugin manager with autoload off and only ``plugins`` registered.

    Each plugin is a module (or any object with hook implementations),
    registered under its ``__name__``, or a ``(plugin, name)`` pair to choose
    the name, e.g. ``(plugin, "romanasn-wfi-imaging")`` to match the name an
    installed pack gets. The kernel's defaults are always registered first.
    """
    pairs = [plugin if isinstance(plugin, tuple) else (plugin, getattr(plugin, "__name__", None) or type(plugin).__name__)
             for plugin in plugins]
    return get_plugin_manager(autoload=False, plugins=pairs)


def exposure_rows(
    visit_id: str,
    exposure: int,
    exposure_type: str = "WFI_IMAGE",
    optical_element: str = "F158",
    *,
    detectors: Iterable[int] = range(1, 19),
    suffix: str = "uncal",
    visit_file_group: int = 1,
    visit_file_sequence: int = 1,
    visit_file_activity: str = "01",
    **columns: Any,
) -> list[dict[str, Any]]:
    """The pool rows of one exposure, one per detector, as dicts.

    Program, execution plan, pass, segment, observation and visit are read
    from the 19-digit ``visit_id``; the observation id and the file name
    (``r<visit_id>_<eeee>_wfiNN_<element>_<suffix>.asdf``) are made from the
    arguments. ``columns`` are further columns, the same in every row
    (``ma_table_name="IMG_16"``, ``engineering_quality="SUSPECT"``, ...).
    """
    if len(visit_id) != 19 or not visit_id.isdigit():
        raise ValueError(f"a visit id has 19 digits, got {visit_id!r}")
    parts = {"program": visit_id[0:5], "execution_plan": visit_id[5:7], "pass": visit_id[7:10],
             "segment": visit_id[10:13], "observation": visit_id[13:16], "visit": visit_id[16:19]}
    observation_id = (f"{visit_id}{visit_file_group:02d}{visit_file_sequence:d}"
                      f"{visit_file_activity}{exposure:04d}")
    rows = []
    for number in detectors:
        detector = f"WFI{number:02d}"
        rows.append({
            "filename": f"r{visit_id}_{exposure:04d}_{detector.lower()}_{optical_element.lower()}_{suffix}.asdf",
            **{name: int(value) for name, value in parts.items()},
            "visit_file_group": visit_file_group,
            "visit_file_sequence": visit_file_sequence,
            "visit_file_activity": visit_file_activity,
            "exposure": exposure,
            "visit_id": visit_id,
            "observation_id": observation_id,
            "exposure_type": exposure_type,
            "detector": detector,
            "optical_element": optical_element,
            **columns,
        })
    return rows


def pool_table(rows: Iterable[Mapping[str, Any]]) -> Any:
    """An astropy table of ``rows`` (dicts), columns in order of first appearance.

    A value missing from a row, or None, is ``""`` in a text column and
    masked in a numeric or boolean one, as :func:`romanasn.read_pool` gives
    them.
    """
    from astropy.table import Column, MaskedColumn, Table

    rows = list(rows)
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        present = [value for value in values if value is not None]
        if all(isinstance(value, str) for value in present):
            columns.append(Column(["" if value is None else value for value in values], name=name, dtype=str))
        elif len(present) == len(values):
            columns.append(Column(values, name=name))
        else:
            fill = type(present[0])()
            columns.append(MaskedColumn([fill if value is None else value for value in values],
                                        name=name, mask=[value is None for value in values]))
    return Table(columns)


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit status {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done


def build_wheel(project_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Build the wheel of the project in ``project_dir`` into ``out_dir``; return its path.

    Uses ``python -m build --wheel --no-isolation`` when ``build`` is
    installed, else ``pip wheel --no-deps --no-build-isolation``; either way
    the build backend (hatchling for romanasn's packs) must be installed in
    the running environment, and nothing is downloaded.
    """
    project, out = Path(project_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("*.whl"))
    try:
        import build  # noqa: F401

        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(project)]
    except ImportError:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                   "--no-index", "--wheel-dir", str(out), str(project)]
    _run(command, f"building the wheel of {project}")
    made = sorted(set(out.glob("*.whl")) - before) or sorted(out.glob("*.whl"))
    if len(made) != 1:
        raise RuntimeError(f"expected one wheel from {project} in {out}, found {[p.name for p in made]}")
    return made[0]


def install_target(wheel: str | os.PathLike, target_dir: str | os.PathLike) -> Path:
    """Install ``wheel`` (and none of its dependencies) into the folder ``target_dir``.

    Runs ``pip install --no-deps --no-index --target``; put the folder on
    ``PYTHONPATH`` (``run_romanasn(..., pythonpath=[target])``) to use it.
    """
    target = Path(target_dir)
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--target", str(target), str(wheel)], f"installing {wheel}")
    return target


def run_romanasn(
    *args: str,
    pythonpath: Iterable[str | os.PathLike] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python -m romanasn ARGS`` in a subprocess; never raises on a failing status.

    :param pythonpath: folders put before the current ``PYTHONPATH``.
    :param env: variables set on top of the current environment (for
        example ``{"ROMANASN_PLUGINS": "romanasn-wfi-imaging"}``).
    :return: the completed process, with text ``stdout`` and ``stderr``.
    """
    environment = dict(os.environ)
    environment.update(env or {})
    paths = [str(p) for p in pythonpath]
    if environment.get("PYTHONPATH"):
        paths.append(environment["PYTHONPATH"])
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run([sys.executable, "-m", "romanasn", *map(str, args)],
                          capture_output=True, text=True, env=environment)


def tan_wcs(ra: float, dec: float, roll: float, size: int = 4088, scale: float = 0.11):
    """A gwcs TAN WCS of a full-size detector at (``ra``, ``dec``, ``roll``), and its footprint as an s_region."""
    import numpy as np
    from astropy import coordinates, units as u
    from astropy.modeling import models
    from gwcs import WCS, coordinate_frames as cf

    center = (size - 1) / 2
    transform = ((models.Shift(-center) & models.Shift(-center))
                 | (models.Scale(scale / 3600) & models.Scale(scale / 3600))
                 | models.Rotation2D(roll) | models.Pix2Sky_TAN()
                 | models.RotateNative2Celestial(ra, dec, 180))
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coordinates.ICRS(), name="world", unit=(u.deg, u.deg))
    corners = transform(np.array([0, size - 1, size - 1, 0]), np.array([0, 0, size - 1, size - 1]))
    s_region = "POLYGON ICRS  " + " ".join(f"{r:.9f} {d:.9f}" for r, d in zip(*corners))
    return WCS([(detector, transform), (sky, None)]), s_region


def make_exposure(folder: Path, row: Mapping[str, Any], *, level: int = 2, shape=(8, 8), **save) -> Path:
    """Write a real ASDF exposure file of a pool ``row`` (as :func:`exposure_rows` makes it) into ``folder``.

    Made with roman_datamodels (which the tests need): level 1 (``ScienceRawModel``) or 2
    (``ImageModel``, with a TAN WCS), data of ``shape``, the ``roman.meta`` values of ``row``
    (``_uncal`` becomes ``_cal`` at level 2); ``save`` goes to ``model.save``. Returns its path.
    """
    from astropy import units as u
    from astropy.time import Time
    from roman_datamodels import datamodels as rdm

    if level == 1:
        model = rdm.ScienceRawModel.create_fake_data(shape=(2, *shape))
    else:
        model = rdm.ImageModel.create_fake_data(shape=shape)
    meta = model.meta
    for name in ("program", "execution_plan", "pass", "segment", "observation", "visit",
                 "visit_file_group", "visit_file_sequence", "visit_file_activity", "exposure",
                 "visit_id", "observation_id"):
        meta.observation[name] = row[name]
    meta.exposure.type = row["exposure_type"]
    start = Time("2027-03-01T12:00:00", scale="utc") + row["exposure"] * 200 * u.s
    meta.exposure.start_time = start
    meta.exposure.end_time = start + 139.8 * u.s
    meta.exposure.ma_table_name = row.get("ma_table_name", "IMG_16")
    meta.exposure.ma_table_number = row.get("ma_table_number", 16)
    meta.exposure.nresultants = row.get("nresultants", 6)
    meta.exposure.data_problem = "false"
    meta.exposure.engineering_quality = "OK"
    meta.instrument.detector = row["detector"]
    meta.instrument.optical_element = row["optical_element"]
    meta.program.category = row.get("program_category", "GI")
    meta.program.subcategory = row.get("program_subcategory", "HLWA")
    ra, dec, roll = 80.5 + int(row["detector"][3:]) * 0.12, -69.4, 12.0
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = ra, dec, roll
    wcs, meta.wcsinfo.s_region = tan_wcs(ra, dec, roll)
    if level == 2:
        meta.wcs = wcs
    name = row["filename"].replace("_uncal.", "_uncal." if level == 1 else "_cal.")
    path = folder / name
    model.save(path, **save)
    return path


# -- PostgreSQL -------------------------------------------------------------------------------------


class NoServer(RuntimeError):
    """No PostgreSQL server could be started here (the message says why)."""


@contextlib.contextmanager
def postgresql_server(user: str = "romanasn"):
    """``(host, port, user)`` of a PostgreSQL server of Debian's ``postgresql`` package
    (``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``) started in a temporary folder
    (as the ``postgres`` user when run as root), on 127.0.0.1 at a free port, with ``fsync``
    off; stopped and removed at the end. NoServer when none can be started."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise NoServer("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
    bin_dir = Path(found[-1]).parent
    owner = "postgres" if os.geteuid() == 0 else None
    if owner and not shutil.which("runuser"):
        raise NoServer("running as root without runuser: cannot start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="romanasn-pg-"))
    data, port = root / "data", _free_port()
    if owner:
        shutil.chown(root, owner)
    try:
        subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                                  "-E", "UTF8", "--no-sync"], owner), check=True, capture_output=True, text=True)
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                                  "-o", f"-h 127.0.0.1 -p {port} -k {root} -F", "start"], owner),
                       check=True, capture_output=True, text=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        shutil.rmtree(root, ignore_errors=True)
        raise NoServer(f"the PostgreSQL server would not start: {' '.join(str(detail).split())[:200]}") from exc
    try:
        yield "127.0.0.1", port, user
    finally:
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command
