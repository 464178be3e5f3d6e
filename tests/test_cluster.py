"""``--engine dask``: the pool partitioned by program on a Dask cluster, output byte-identical;
make-pool reading headers on the workers, the pool byte-identical."""

import io
import re
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

from romanasn import RunConfig, cluster, get_plugin_manager, makepool, output, read_pool, write_pool  # noqa: E402
from romanasn.cli import main  # noqa: E402
from romanasn.errors import PluginError, RomanasnError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mission_pool import mission_pool  # noqa: E402

PACKS = ["romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as made, \
            Client(made):
        yield made.scheduler_address


@pytest.fixture(scope="module")
def pm():
    manager = get_plugin_manager(allow=PACKS)
    manager.check()
    return manager


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_the_dask_engine_writes_the_same_bytes_as_the_local_one(pm, scheduler, tmp_path):
    pool = mission_pool(2500)
    assert len(set(pool["program"])) > 3
    config = RunConfig(pool_name="pool", options={"drop_degraded": True})  # vetoes too
    local = output.generate_to(pool, tmp_path / "local", plugin_manager=pm, config=config)
    dask = output.generate_to(pool, tmp_path / "dask", plugin_manager=pm, config=config,
                              engine="dask", scheduler=scheduler)
    assert local.files == dask.files
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")  # the run report too


def test_updates_on_the_cluster_keep_ids_as_the_local_engine_does(pm, scheduler, tmp_path):
    config = RunConfig(pool_name="pool")
    for folder, engine in (("local", "local"), ("dask", "dask")):
        out = tmp_path / folder
        output.generate_to(mission_pool(800), out, plugin_manager=pm, config=config)
        output.generate_to(mission_pool(1300), out, plugin_manager=pm, config=config, update=True,
                           engine=engine, scheduler=scheduler)
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")


def test_the_command_line_runs_on_a_scheduler(scheduler, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", ",".join(PACKS))
    pool = tmp_path / "pool.ecsv"
    write_pool(mission_pool(700), pool)
    assert main(["generate", str(pool), "-o", str(tmp_path / "local"), "-q"]) == 0
    assert main(["generate", str(pool), "-o", str(tmp_path / "dask"), "-q", "--engine", "dask",
                 "--scheduler", scheduler]) == 0
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")


def test_partitions_hold_whole_programs_and_balance_rows():
    programs = np.repeat([5, 1, 2, 3, 4], [50, 10, 20, 30, 40])
    parts = cluster.partitions(programs, 2)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(programs)))
    assert [set(programs[p].tolist()) for p in parts] == [{5, 2, 1}, {4, 3}]  # largest first, to the lighter
    for part in parts:
        assert np.all(np.diff(part) > 0)  # rows keep their order
    assert sorted(len(p) for p in parts) == [70, 80]
    assert len(cluster.partitions(programs, 10)) == 5


def test_a_worker_with_other_packs_is_an_error_naming_them(pm):
    entry_points, objects, versions = cluster.manager_spec(pm)
    assert sorted(entry_points) == sorted(PACKS) and not objects
    wrong = dict(versions, **{"romanasn-wfi-imaging": "0.0.1"})
    with pytest.raises(PluginError, match="romanasn-wfi-imaging 0.0.1"):
        cluster._manager((entry_points, objects, wrong))


def test_headers_are_read_on_the_workers_in_order(scheduler, monkeypatch, tmp_path):
    from romanasn import PoolColumn, makepool

    def row(path, fields):
        if path.name == "bad.asdf":
            raise makepool.BadFile("no roman.meta")
        return {"filename": path.name, "absolute": path.is_absolute(), "fields": len(fields)}

    monkeypatch.setattr(makepool, "_row", row)  # the workers are threads of this process
    columns = [PoolColumn("filename", "str"), PoolColumn("absolute", "bool"), PoolColumn("fields", "int")]
    paths = [f"f{i:03d}.asdf" for i in range(7)] + [tmp_path / "bad.asdf"]
    got = list(cluster.read_rows(paths, columns, makepool._read_block, scheduler=scheduler, block=3))
    assert [path for path, _, _ in got] == paths  # as given; the workers get absolute paths
    assert got[0][1] == {"filename": "f000.asdf", "absolute": True, "fields": 3} and got[0][2] is None
    assert got[-1][1:] == (None, "no roman.meta")
    assert [path for path, _, _ in cluster.read_rows(paths, columns, makepool._read_block, scheduler=scheduler)] == paths


def test_packs_naming_files_themselves_run_on_the_cluster_too(scheduler, tmp_path):
    from romanasn import hookimpl

    stems = __import__("types").ModuleType("stems")
    stems.romanasn_file_stem = hookimpl(
        lambda association: f"{association.product_name}_{association.asn_rule}_asn"
        if association.asn_rule.endswith("visit") else None)
    pm = get_plugin_manager(allow=PACKS, plugins=[(stems, "stems")])  # the workers are threads here
    pool = mission_pool(1200)
    config = RunConfig(pool_name="pool")
    output.generate_to(pool, tmp_path / "local", plugin_manager=pm, config=config)
    output.generate_to(pool, tmp_path / "dask", plugin_manager=pm, config=config, engine="dask",
                       scheduler=scheduler)
    local = _files(tmp_path / "local")
    assert any(name.endswith("_wfi_image_visit_asn.json") for name in local)
    assert local == _files(tmp_path / "dask")


# -- make-pool on a cluster ------------------------------------------------------------------------


def _edit(source, target, changes):
    """Copy ``source`` to ``target``, each ``old: new`` replaced (same length: the ASDF blocks stay put)."""
    data = source.read_bytes()
    for old, new in changes.items():
        assert len(old) == len(new) and old in data, old
        data = data.replace(old, new)
    target.write_bytes(data)
    return target


@pytest.fixture(scope="module")
def exposures(tmp_path_factory):
    """Real L2 files made with roman_datamodels: good/ gives 5 rows (and holds a copy), bad/ 3 bad files."""
    pytest.importorskip("roman_datamodels.datamodels")
    from bench_make_pool import make_files

    root = tmp_path_factory.mktemp("exposures")
    good, copies, bad = root / "good", root / "good" / "copies", root / "bad"
    for folder in (good, copies, bad):
        folder.mkdir(parents=True)
    make_files(good, [0, 1, 18])  # exposure 1 on detectors 1 and 2, exposure 2 on detector 1
    (first,) = good.glob("*_0001_wfi01_*_cal.asdf")
    for detector in ("03", "04"):  # exposure 1 on more detectors: the first file's header edited
        _edit(first, good / first.name.replace("wfi01", f"wfi{detector}"), {b"WFI01": f"WFI{detector}".encode()})
    shutil.copy(first, copies / first.name)  # left out: a copy of a file already read
    _edit(first, bad / "enum_cal.asdf", {b"optical_element: F062": b"optical_element: F999"})
    _edit(first, bad / "nan_cal.asdf", {b"ra_ref: 10.14": b"ra_ref: .nan "})
    data = first.read_bytes()
    (bad / "cut_cal.asdf").write_bytes(data[: len(data) // 2])
    return {"good": good, "bad": bad, "first": first}


def _make_pool_both_ways(tmp_path, arguments, dask_options):
    """The pool (and report) made by the command line with each engine, as (local, dask) paths."""
    made = []
    for engine, options in (("local", []), ("dask", ["--engine", "dask", *dask_options])):
        out = tmp_path / engine / "pool.ecsv"
        out.parent.mkdir()
        assert main(["make-pool", *map(str, arguments), "-o", str(out), "-q", *options]) == 0
        made.append(out)
    return made


@pytest.mark.parametrize("format", ["ecsv", "legacy"])
def test_make_pool_on_a_scheduler_writes_the_local_engines_bytes(scheduler, exposures, tmp_path, format):
    local, dask = _make_pool_both_ways(tmp_path, [exposures["good"], exposures["bad"], "--skip-bad",
                                                  "--format", format], ["--scheduler", scheduler])
    assert local.read_bytes() == dask.read_bytes() and len(read_pool(local)) == 5
    report = Path(f"{dask}.skipped.txt").read_text().splitlines()
    assert Path(f"{local}.skipped.txt").read_text().splitlines() == report and len(report) == 5
    reasons = "\n".join(report)
    assert "'F999' is not one of" in reasons and "'nan' is not a finite number" in reasons
    assert "truncated" in reasons and "a copy of" in reasons


def test_make_pool_without_an_address_starts_a_local_cluster(exposures, tmp_path):
    local, dask = _make_pool_both_ways(tmp_path, [exposures["good"]], [])
    assert local.read_bytes() == dask.read_bytes() and len(read_pool(local)) == 5


def test_update_on_a_scheduler_gives_the_local_engines_bytes(scheduler, exposures, tmp_path):
    results = {}
    for engine in ("local", "dask"):
        out = tmp_path / engine / "pool.ecsv"
        out.parent.mkdir()
        makepool.make_pool([exposures["first"]], out, progress=False)
        results[engine] = makepool.make_pool([exposures["good"]], out, update=True, engine=engine,
                                             scheduler=scheduler if engine == "dask" else None, progress=False)
    assert (tmp_path / "local" / "pool.ecsv").read_bytes() == (tmp_path / "dask" / "pool.ecsv").read_bytes()
    assert results["dask"].kept == 2 and results["dask"].new_rows == 4 and results["dask"].rows == 5


def test_progress_is_drawn_with_the_dask_engine(scheduler, exposures, tmp_path):
    stream = io.StringIO()
    result = makepool.make_pool([exposures["good"]], tmp_path / "pool.ecsv", engine="dask", scheduler=scheduler,
                                progress=True, stream=stream)
    assert "6/6 files" in stream.getvalue() and stream.getvalue().endswith("\n")
    assert result.read == 6 and result.rows == 5 and result.seconds > 0


def test_an_unreachable_scheduler_is_a_one_line_error_naming_its_address(exposures, tmp_path, capsys):
    import dask

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{unused.getsockname()[1]}"
    out = tmp_path / "pool.ecsv"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = main(["make-pool", str(exposures["good"]), "-o", str(out), "--engine", "dask",
                       "--scheduler", address])
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("romanasn:")]
    assert status == 1 and line.startswith(f"romanasn: error: cannot reach the Dask scheduler at {address}: ")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_task_is_an_error_naming_the_cluster(scheduler, exposures, tmp_path, monkeypatch):
    def failing(paths, columns):
        raise ModuleNotFoundError("No module named 'romanasn'")

    monkeypatch.setattr(makepool, "_read_block", failing)  # the workers are threads of this process
    expected = f"reading headers on the Dask cluster at {scheduler} failed: ModuleNotFoundError"
    with pytest.raises(RomanasnError, match=re.escape(expected)):
        makepool.make_pool([exposures["good"]], tmp_path / "pool.ecsv", engine="dask", scheduler=scheduler,
                           progress=False)
    assert list(tmp_path.iterdir()) == []
