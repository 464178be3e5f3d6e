"""Incremental generation from a database pool: only the programs changed since the last run are re-planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from romanasn import generate, incremental
from romanasn.engine import LANE_ENV
from romanasn.cli import main
from romanasn.errors import AsnError, RuleError
from romanasn.output import SHARD_PREFIX, Manifest
from romanasn.plugins.manager import get_plugin_manager
from romanasn.plugins.types import MemberSpec, Rule, RunConfig
from romanasn.plugins import hookimpl
from romanasn.pooldb import PoolDB
from romanasn.testing import exposure_rows, manager_with, pool_table

EXTRA = {"ma_table_name": "IMG_16", "ma_table_number": 16, "nresultants": 6,
         "program_category": "GI", "program_subcategory": "HLWA"}
VISITS = {1: "0000101001001001001", 2: "0000201001001001001", 3: "0000301001001001001"}


def rows(program: int, exposures, detectors=(1, 2)) -> list[dict]:
    return [row for exposure in exposures
            for row in exposure_rows(VISITS[program], exposure, detectors=detectors, **EXTRA)]


def put(target: str, new: list[dict], gone: list[str] = ()) -> None:
    db = PoolDB(target)
    with db.writing() as writer:
        writer.put(new)
        writer.delete(gone)
        writer.log_changes()
    db.close()


def manifest(out: Path) -> dict:
    return json.loads((out / "romanasn-run.json").read_text())


def entries(out: Path) -> dict:
    """The folder's manifest entries, every shard loaded."""
    return Manifest.load(out).files


def stamps(out: Path, pattern: str = "*_asn.json") -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob(pattern)}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_update_replans_only_changed_programs_keeps_ids_and_rewrites_only_changed_files(
        backend, tmp_path, request, capsys):
    db = str(tmp_path / "pool.sqlite") if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    out = tmp_path / "asn"
    put(db, rows(1, [1, 2]) + rows(2, [1]) + rows(3, [1]))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    before, first, old = stamps(out), manifest(out), entries(out)
    assert first["pool_seq"] == 3 and first["manifest"]["shards"] == {"00001": 9, "00002": 6, "00003": 6}
    shards = stamps(out, SHARD_PREFIX + "*")
    put(db, rows(2, [2, 3]))  # two more exposures of program 2
    capsys.readouterr()
    assert main(["generate", db, "-o", str(out), "--update"]) == 0
    said = capsys.readouterr().out
    after, second, new = stamps(out), manifest(out), entries(out)
    assert second["pool_seq"] == 4 and second["update"]["programs"] == ["00002"]
    assert second["pool_rows"] == 6  # only the rows of the groups the new rows fall in were read
    touched = {name for name in after if after[name] != before.get(name)}
    assert touched and all(new[name].program == "00002" for name in touched)
    assert {name.split("+")[0] for name, stamp in stamps(out, SHARD_PREFIX + "*").items()
            if shards.get(name) != stamp} == {SHARD_PREFIX + "00002"}
    assert "unchanged programs kept" in said
    assert all(new[name].asn_id == entry.asn_id for name, entry in old.items())
    assert len({entry.asn_id for entry in new.values()}) == len(new)  # new ones count on from the highest
    # what a full run from the grown pool makes, association for association
    assert main(["generate", db, "-o", str(tmp_path / "full"), "-q"]) == 0
    assert main(["diff", str(out), str(tmp_path / "full"), "-q"]) == 0
    assert main(["generate", db, "-o", str(out), "--update", "-q"]) == 0
    assert stamps(out) == after and manifest(out)["update"]["programs"] == []


def test_an_updates_written_observer_sees_each_file_it_wrote_with_its_association(tmp_path):
    """A pack observing written files is told of each file an update added or changed, with the
    association it holds (built when asked for), and of no other."""
    import types

    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    put(db, rows(1, [1, 2]) + rows(2, [1]))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    put(db, rows(2, [2]))
    seen = []
    watcher = types.ModuleType("watcher")
    watcher.romanasn_association_written = hookimpl(
        lambda association, path: seen.append((path, association.asn_id, association.product_name)))
    pm, config = get_plugin_manager(plugins=[(watcher, "watcher")]), RunConfig(pool_name="pool")
    outcome = incremental.update(db, out, plugin_manager=pm, config=config)
    assert outcome.added and outcome.changed
    assert sorted(path.name for path, _, _ in seen) == sorted(outcome.added + outcome.changed)
    for path, asn_id, product in seen:
        held = json.loads(path.read_bytes())
        assert (held["asn_id"], held["products"][0]["name"]) == (asn_id, product)
    assert len(outcome.result.associations) == len(outcome.files)
    seen.clear()
    put(db, [dict(row, nresultants=7) for row in rows(2, [2])])  # a column no association holds
    outcome = incremental.update(db, out, plugin_manager=pm, config=config)
    assert outcome.unchanged and not outcome.added + outcome.changed and seen == []


def test_an_update_reads_of_a_full_runs_report_only_its_end(tmp_path, monkeypatch):
    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    put(db, rows(1, [1, 2]) + rows(2, [1]))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    report = manifest(out)
    names = list(report)
    tail = {name: report[name] for name in names[names.index("pool_seq"):]}
    assert "files" not in tail and tail["manifest"]["version"] == 2
    monkeypatch.setattr(incremental, "_TAIL", 97)  # the end read in many pieces, the key cut between two
    assert incremental.last_report(out) == tail
    assert incremental.last_report(tmp_path) is None  # no report
    assert main(["generate", db, "-o", str(tmp_path / "from_file"), "-q"]) == 0
    (tmp_path / "from_file" / "romanasn-run.json").write_text(json.dumps({"files": []}, indent=2))
    assert incremental.last_report(tmp_path / "from_file") is None  # no pool_seq: not from a database


def test_a_program_whose_rows_went_is_stale_then_pruned(tmp_path):
    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    put(db, rows(1, [1]) + rows(2, [1]))
    main(["generate", db, "-o", str(out), "-q"])
    programs = {name: entry.program for name, entry in entries(out).items()}
    put(db, [], gone=[row["filename"] for row in rows(2, [1])])
    main(["generate", db, "-o", str(out), "--update", "-q"])
    gone = {name for name, program in programs.items() if program == "00002"}
    assert set(manifest(out)["update"]["stale"]) == gone
    main(["generate", db, "-o", str(out), "--update", "--prune", "-q"])
    assert not gone & {p.name for p in out.iterdir()} and {p.name for p in out.glob("*_asn.json")}
    assert manifest(out)["manifest"]["shards"] == {"00001": 6} and not (out / (SHARD_PREFIX + "00002")).exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_change_of_most_of_its_programs_rows_replans_those_programs_whole(backend, tmp_path, request):
    """Rows of a new program (a burst into a new program) are all of its rows: :func:`update`
    leaves them to the whole-program way, which re-plans only that program and keeps every id.
    Two exposures more in a program of twelve rows go the groups' way (the folder is small beside
    them, the program is not), and so does a new program's one exposure when the folder (which the
    whole-program way lists) is large beside it. After each, the folder is what a full run writes."""
    db = str(tmp_path / "pool.sqlite") if backend == "sqlite" else request.getfixturevalue("postgresql_url")
    out, pm, config = tmp_path / "asn", get_plugin_manager(), RunConfig(pool_name=Path(db).stem)  # as generate does

    def as_a_full_run_writes(step: str) -> None:
        assert main(["generate", db, "-o", str(tmp_path / step), "-q"]) == 0
        assert main(["diff", str(out), str(tmp_path / step), "-q"]) == 0

    put(db, rows(1, range(1, 7)))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    assert len(entries(out)) <= 4 * incremental._LISTED
    put(db, rows(1, [7, 8]))  # four rows: the folder holds at most ten associations per row
    outcome = incremental.update(db, out, plugin_manager=pm, config=config)
    assert outcome is not None and len(outcome.added) == 6  # the exposures' two detectors and their fovs
    as_a_full_run_writes("full1")
    before, old = stamps(out), entries(out)
    put(db, rows(2, [1, 2]))
    assert incremental.update(db, out, plugin_manager=pm, config=config) is None
    assert main(["generate", db, "-o", str(out), "--update", "-q"]) == 0
    report, new = manifest(out), entries(out)
    assert report["update"]["programs"] == ["00002"] and report["pool_rows"] == 4
    assert {name for name, stamp in stamps(out).items() if before.get(name) != stamp} \
        == {name for name, entry in new.items() if entry.program == "00002"}
    assert all(new[name].asn_id == entry.asn_id for name, entry in old.items())
    as_a_full_run_writes("full2")
    assert len(entries(out)) > 2 * incremental._LISTED
    put(db, rows(3, [1]))  # two rows, all of program 3's
    outcome = incremental.update(db, out, plugin_manager=pm, config=config)
    assert outcome is not None and {entries(out)[name].program for name in outcome.added} == {"00003"}
    as_a_full_run_writes("full3")


def test_an_update_from_a_file_pool_still_replans_everything(tmp_path):
    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    put(db, rows(1, [1]))
    main(["pool", "export", str(tmp_path / "pool.ecsv"), "--pool-db", db, "-q"])
    main(["generate", str(tmp_path / "pool.ecsv"), "-o", str(out), "-q"])
    assert "pool_seq" not in manifest(out)
    main(["generate", db, "-o", str(out), "--update", "-q"])
    assert manifest(out)["pool_seq"] == 1 and "programs" not in manifest(out)["update"]


class _OneRule:
    """A pack of one Level 3 rule of ``_cal`` members grouped by ``key``, named by ``name(group)``."""

    def __init__(self, rule: str, key: str, name) -> None:
        self.rule = Rule(name=rule, asn_type="image3", level=3, group_by=(key,),
                         member=MemberSpec(exptype="science", suffix="cal"),
                         product_name=lambda group, config: name(group))

    @hookimpl
    def romanasn_rules(self):
        return [self.rule]


def test_a_rule_making_an_association_across_programs_fails_naming_it():
    crossing = _OneRule("by_detector", "detector", lambda group: f"r_{group.key['detector'].lower()}")
    pm = manager_with((crossing, "romanasn-crossing"))  # every image of a detector, whatever its program
    with pytest.raises(RuleError, match=r"rule 'by_detector' of plugin romanasn-crossing .* across programs 1, 2"):
        generate(pool_table(rows(1, [1]) + rows(2, [1])), plugin_manager=pm)
    assert len(generate(pool_table(rows(1, [1, 2])), plugin_manager=pm).associations) == 2


def test_a_rule_naming_a_group_other_than_by_its_key_fails_naming_it():
    counting = _OneRule("by_first", "visit_id", lambda group: f"r_{group.first('exposure')}")
    pm = manager_with((counting, "romanasn-counting"))  # a visit's mosaic named by its first exposure
    with pytest.raises(RuleError, match=r"rule 'by_first' of plugin romanasn-counting .*names the group"
                                        r" .* 'r_1', but 'r_2' from its last row alone"):
        generate(pool_table(rows(1, [1, 2], detectors=(1,))), plugin_manager=pm)
    assert len(generate(pool_table(rows(1, [1], detectors=(1, 2))), plugin_manager=pm).associations) == 1


def test_no_shipped_rule_crosses_a_program():
    from romanasn.testing import exposure_rows as make

    pool = pool_table([row for program, visit in VISITS.items() for exposure in (1, 2)
                       for kind, element in (("WFI_IMAGE", "F158"), ("WFI_SPECTRAL", "GRISM"), ("WFI_IM_DARK", "DARK"))
                       for row in make(visit, exposure, kind, element, detectors=(1, 2), **EXTRA)])
    result = generate(pool)  # every installed pack; the kernel check fails a crossing rule
    assert result.associations and {a.program for a in result.associations} == {"00001", "00002", "00003"}


def _exposures(rng, program: int, count: int) -> list[list[dict]]:
    """``count`` random exposures of ``program``: imaging in two filters, spectra, darks, on two visits."""
    made = []
    for number in rng.sample(range(1, 9999), count):
        visit = f"{program:05d}01001001001{rng.choice([1, 2]):03d}"
        kind, element = rng.choice([("WFI_IMAGE", "F158"), ("WFI_IMAGE", "F062"), ("WFI_SPECTRAL", "GRISM"),
                                    ("WFI_IM_DARK", "DARK")])
        made.append(exposure_rows(visit, number, kind, element,
                                  detectors=sorted(rng.sample(range(1, 5), 2)), **EXTRA))
    return made


@pytest.mark.parametrize("seed, lane", [(1, "columns"), (2, "columns"), (3, "object")])
def test_updates_of_random_changes_write_what_a_full_run_writes(seed, lane, tmp_path, monkeypatch):
    """Additions alone (some degraded: the groups' files are patched), then additions, rows
    moved between groups and removals, in random batches: after each ``--update --prune`` the
    folder holds what a full run from the pool writes, file for file, and every association
    keeps its asn_id; the same when every rule takes the object lane (``ROMANASN_LANE``)."""
    import random

    from romanasn import incremental

    monkeypatch.setenv(LANE_ENV, lane)
    spliced, splice = [], incremental._spliced
    monkeypatch.setattr(incremental, "_spliced", lambda *args: spliced.append(args[2]) or splice(*args))
    rng = random.Random(seed)
    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    pool = {row["filename"]: row for exposure in (_exposures(rng, p, 6) for p in (1, 2, 3)) for rows in exposure
            for row in rows}
    put(db, list(pool.values()))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    patched = 0
    for step in range(6):
        ids = {name: entry.asn_id for name, entry in entries(out).items()}
        new = [row for rows in _exposures(rng, rng.choice([1, 2, 3]), 2) for row in rows]
        new = [dict(row, engineering_quality="SUSPECT") if rng.random() < 0.2 else row for row in new]
        moved, gone = [], []
        if step % 2:
            moved = [dict(row, optical_element="F213") for row in rng.sample(sorted(pool.values(), key=str), 3)
                     if row["exposure_type"] == "WFI_IMAGE"]
            gone = [name for name in rng.sample(sorted(pool), 3) if name not in {row["filename"] for row in moved}]
        put(db, new + moved, gone)
        pool.update((row["filename"], row) for row in new + moved)
        for name in gone:
            pool.pop(name, None)
        spliced.clear()
        assert main(["generate", db, "-o", str(out), "--update", "--prune", "-q"]) == 0
        assert not (spliced and step % 2)  # only additions alone are patched in
        patched += bool(spliced)
        assert manifest(out)["pool_rows"] < len(pool)  # the groups touched, not every program's rows
        full = tmp_path / f"full{step}"
        assert main(["generate", db, "-o", str(full), "-q"]) == 0
        assert {p.name for p in out.glob("*_asn.json")} == {p.name for p in full.glob("*_asn.json")}
        assert main(["diff", str(out), str(full), "-q"]) == 0
        for path in out.glob("*_asn.json"):  # the same bytes but for the asn_id
            kept = json.loads(path.read_bytes())
            assert dict(kept, asn_id="") == dict(json.loads((full / path.name).read_bytes()), asn_id="")
        now = entries(out)
        assert set(now) == {p.name for p in out.glob("*_asn.json")}
        assert all(now[name].asn_id == asn_id for name, asn_id in ids.items() if name in now)
        assert len({entry.asn_id for entry in now.values()}) == len(now)
        assert all(json.loads((out / name).read_text())["asn_id"] == entry.asn_id for name, entry in now.items())
    assert patched  # the groups' files patched in at least one of the steps adding rows alone


def test_a_rule_another_packs_hooks_serve_is_not_patched():
    """An update splices members into the files of a rule only when no pack's build, file-stem or
    finalize hook serves it: a pack scoped to another pack's rule, or not scoped at all, stops it."""
    import types

    from romanasn.plugins.manager import get_plugin_manager

    scoped = types.ModuleType("scoped")
    scoped.romanasn_hook_scope = hookimpl(lambda: ["wfi_image_visit"])
    scoped.romanasn_finalize = hookimpl(lambda associations: None)
    unscoped = types.ModuleType("unscoped")
    unscoped.romanasn_file_stem = hookimpl(lambda association: None)
    packs = ["romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration"]
    pm = get_plugin_manager(allow=packs + ["scoped"], plugins=[(scoped, "scoped")])
    assert pm.serving("wfi_image_visit") and not pm.serving("wfi_image_full")
    pm = get_plugin_manager(allow=packs + ["unscoped"], plugins=[(unscoped, "unscoped")])
    assert pm.serving("wfi_image_full")
    assert not get_plugin_manager(allow=packs).serving("wfi_image_visit")


def test_members_are_spliced_into_a_groups_file_in_name_order(tmp_path):
    """Members put into a real association file before, between and after its own, and one
    replacing its namesake (degraded): the bytes the encoder writes for them all."""
    import orjson

    from romanasn.encoder import encode_json
    from romanasn.records import NO_DEGRADED, SOME_DEGRADED

    db, out = str(tmp_path / "pool.sqlite"), tmp_path / "asn"
    put(db, rows(1, [2, 4, 6], detectors=(1, 2, 3)))
    assert main(["generate", db, "-o", str(out), "-q"]) == 0
    path = max(out.glob("*_asn.json"), key=lambda p: p.stat().st_size)
    old = path.read_bytes()
    content = orjson.loads(old)
    members = content["products"][0]["members"]
    assert len(members) == 9 and content["degraded_status"] == NO_DEGRADED

    def file(chosen: list[dict], status: str = NO_DEGRADED) -> bytes:
        product = dict(content["products"][0], members=sorted(chosen, key=lambda m: m["expname"]))
        return (encode_json(dict(content, degraded_status=status, products=[product])) + "\n").encode()

    assert file(members) == old
    added = [dict(members[0], expname=name) for name in ("a.asdf", members[4]["expname"] + "x", "z.asdf")]
    assert incremental._spliced(old, file(added), path) == file(members + added)
    replaced = dict(members[4], exposerr="SUSPECT")
    assert incremental._spliced(old, file([replaced], SOME_DEGRADED), path) == \
        file(members[:4] + [replaced] + members[5:], SOME_DEGRADED)
    degraded = file(members[:1] + [dict(members[1], exposerr="SUSPECT")] + members[2:], SOME_DEGRADED)
    assert incremental._spliced(degraded, file([dict(members[4], exptype="science")]), path) == degraded
    with pytest.raises(AsnError, match="not an association of one product"):
        incremental._spliced(old.replace(b'"expname"', b'"name"'), file(added), path)


def test_an_image_added_alone_reaches_the_whole_group_its_joined_spectrum_is_in(tmp_path):
    """A rule grouping spectra by visit, with the visit's images of each detector as companions:
    one image added (nothing else changed) joins an old spectrum, and through it the visit's group
    of every detector's spectra and images, old rows all; the update rewrites that group's file as
    a full run writes it."""
    import types

    from romanasn import Companion, isin, read_pool
    from romanasn.output import generate_to

    spectra = Rule(name="spectra_by_visit", asn_type="spec3", level=3, group_by=("visit_id",),
                   select=[isin("exposure_type", "WFI_SPECTRAL")], member=MemberSpec("science", "cal"),
                   companions=[Companion(select=[isin("exposure_type", "WFI_IMAGE")], on=("visit_id", "detector"),
                                         member=MemberSpec("direct_image", "cal"))],
                   product_name="r{visit_id}_spectra")
    pack = types.ModuleType("visit_spectra")
    pack.romanasn_rules = hookimpl(lambda: [spectra])
    pm = manager_with((pack, "visit-spectra"))
    db, out, full = str(tmp_path / "pool.sqlite"), tmp_path / "asn", tmp_path / "full"
    spectrum = lambda exposure, detector: exposure_rows(VISITS[1], exposure, "WFI_SPECTRAL", "GRISM",  # noqa: E731
                                                         detectors=[detector], **EXTRA)
    image = lambda exposure, detector: exposure_rows(VISITS[1], exposure, detectors=[detector], **EXTRA)  # noqa: E731
    put(db, [*spectrum(1, 1), *spectrum(2, 2), *image(3, 1)])
    generate_to(read_pool(db), out, plugin_manager=pm, config=RunConfig())
    put(db, image(4, 2))
    outcome = incremental.update(db, out, plugin_manager=pm, config=RunConfig())
    assert outcome.changed == ["r0000101001001001001_spectra_asn.json"] and not outcome.added
    generate_to(read_pool(db), full, plugin_manager=pm, config=RunConfig())
    written = json.loads((out / outcome.changed[0]).read_bytes())
    assert written == json.loads((full / outcome.changed[0]).read_bytes())
    assert sorted((m["exptype"], m["expname"][21:25]) for m in written["products"][0]["members"]) == [
        ("direct_image", "0003"), ("direct_image", "0004"), ("science", "0001"), ("science", "0002")]
