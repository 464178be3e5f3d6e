"""``--engine dask``: the pool partitioned by program on a Dask cluster, output byte-identical."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

from romanasn import RunConfig, cluster, get_plugin_manager, output, write_pool  # noqa: E402
from romanasn.cli import main  # noqa: E402
from romanasn.errors import PluginError  # noqa: E402

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
    from romanasn import makepool

    def read_row(path, columns):
        if path.endswith("bad.asdf"):
            raise makepool.BadFile("no roman.meta")
        return {"filename": os.path.basename(path), "columns": len(columns)}

    monkeypatch.setattr(makepool, "read_row", read_row)  # the workers are threads of this process
    paths = [str(tmp_path / f"f{i:03d}.asdf") for i in range(7)] + [str(tmp_path / "bad.asdf")]
    got = list(cluster.read_rows(paths, ["a", "b"], scheduler=scheduler, block=3))
    assert [path for path, _, _ in got] == paths
    assert got[0][1] == {"filename": "f000.asdf", "columns": 2}
    assert got[-1][1:] == (None, "no roman.meta")


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
