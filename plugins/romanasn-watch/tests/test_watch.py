"""romanasn watch: real ASDF files land in a folder; the pool, the association files and the events follow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("roman_datamodels")

from romanasn import read_pool  # noqa: E402
from romanasn.cli import main  # noqa: E402
from romanasn.testing import exposure_rows, make_exposure  # noqa: E402

EXTRA = {"ma_table_name": "IMG_16", "ma_table_number": 16, "nresultants": 6,
         "program_category": "GI", "program_subcategory": "HLWA"}
VISITS = ("0000101001001001001", "0000201001001001001")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> list[Path]:
    """Twelve L2 files made once: three exposures of two detectors in each of two programs."""
    folder = tmp_path_factory.mktemp("made")
    return sorted(make_exposure(folder, row) for visit in VISITS for exposure in (1, 2, 3)
                  for row in exposure_rows(visit, exposure, detectors=(1, 2), **EXTRA))


def land(files, landing: Path) -> None:
    """Copy each file in under a temporary name, then rename it into place (as a transfer does)."""
    for path in files:
        temporary = landing / f".{path.name}.part"
        temporary.write_bytes(path.read_bytes())
        os.replace(temporary, landing / path.name)


class Watcher:
    """A ``romanasn watch`` process and what it printed."""

    def __init__(self, tmp: Path, *more: str, db: str | None = None, stdout: bool = False) -> None:
        self.landing, self.out, self.events = tmp / "landing", tmp / "asn", tmp / "ev"
        self.db = db or str(tmp / "pool.sqlite")
        self.landing.mkdir(exist_ok=True)
        self.more = more
        self.stdout = stdout  # the events on stdout, sent to the file (>>), rather than --events
        self.process = None

    def start(self) -> "Watcher":
        """Start the process and wait until it says it is watching (a signal before that stops its start-up)."""
        where = [] if self.stdout else ["--events", str(self.events)]
        with open(self.events, "ab") as stdout:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "romanasn", "watch", str(self.landing), "--pool-db", str(self.db),
                 "-o", str(self.out), *where, "--settle", "0.2", *self.more],
                stdout=stdout if self.stdout else None, stderr=subprocess.PIPE, text=True)
        self.said: list[str] = []
        ready = threading.Event()

        def drain(stream, said=self.said):
            for line in stream:
                said.append(line)
                if "watching " in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, args=(self.process.stderr,), daemon=True).start()
        assert ready.wait(60), "the watch did not start within 60 s"
        return self

    def lines(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines()]

    def wait(self, done, timeout: float = 60) -> list[dict]:
        """The events once ``done(events)`` holds (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.lines()
            if done(events):
                return events
            assert self.process.poll() is None, "".join(self.said)
            time.sleep(0.1)
        raise AssertionError(f"timed out; events so far: {self.lines()}")

    def stop(self, sig=signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(30)

    def finish(self, files) -> int:
        """Wait until every one of ``files`` has its Level 2 association added, a second more (nothing
        else comes), then stop; the exit status (the watch is killed if the wait failed)."""
        try:
            self.wait(lambda e: {Path(x["file"]).name for x in e if x["event"] == "added"}
                      >= {p.name.replace("_cal.asdf", "_asn.json") for p in files})
            time.sleep(1)
            return self.stop()
        finally:
            if self.process.poll() is None:
                self.process.kill()


def added(files) -> int:
    """The events the first landing of ``files`` (all of one program) makes: L2s, fovs, visit, pass, full."""
    exposures = {path.name.split("_")[1] for path in files}
    return len(files) + len(exposures) + 3


def check_final(tmp: Path, watcher: Watcher, files) -> list[dict]:
    """The pool holds every file, the folder is what generate makes of it, and every event is there once."""
    assert sorted(read_pool(watcher.db)["filename"]) == sorted(p.name for p in files)
    assert main(["generate", watcher.db, "-o", str(tmp / "full"), "-q"]) == 0
    assert main(["diff", str(watcher.out), str(tmp / "full"), "-q"]) == 0
    assert main(["validate", str(watcher.out), "-q"]) == 0  # the files and the run report, events and all
    events = watcher.lines()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    keys = [(e["run"], e["event"], e["file"]) for e in events]
    assert len(set(keys)) == len(keys), "an event was printed twice"
    written = {p.name for p in watcher.out.glob("*_asn.json")}
    assert {Path(e["file"]).name for e in events if e["event"] == "added"} == written
    return events


def test_files_landing_get_their_associations_and_one_event_each(made, tmp_path, pool_db):
    first = [p for p in made if VISITS[0] in p.name and "_0001_" in p.name]
    watcher = Watcher(tmp_path, db=pool_db).start()
    try:
        started = time.monotonic()
        land(first, watcher.landing)
        events = watcher.wait(lambda e: len(e) >= added(first))
        level2 = {e["product"] for e in events if e["rule"] == "wfi_image_exposure"}
        assert level2 == {p.name.replace("_cal.asdf", "") for p in first}
        assert time.monotonic() - started < 30
        more = [p for p in made if VISITS[0] in p.name and "_0002_" in p.name]
        land(more, watcher.landing)
        events = watcher.wait(lambda e: any(x["event"] == "changed" for x in e))
        changed = {e["rule"] for e in events if e["event"] == "changed"}
        assert changed == {"wfi_image_visit", "wfi_image_pass", "wfi_image_full"}
        assert watcher.stop() == 0
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
    check_final(tmp_path, watcher, first + more)


def test_a_restart_mid_burst_and_a_kill_lose_and_repeat_nothing(made, tmp_path):
    watcher = Watcher(tmp_path).start()
    try:
        land(made[:5], watcher.landing)
        watcher.wait(lambda e: len(e) >= 1)
        watcher.stop()  # SIGTERM in the middle of the burst
        land(made[5:8], watcher.landing)  # files land while no watch runs
        watcher.start()
        land(made[8:10], watcher.landing)
        watcher.wait(lambda e: len(e) >= 1 + added(made[:1]))
        assert watcher.stop(signal.SIGKILL) == -signal.SIGKILL
        land(made[10:], watcher.landing)
        watcher.start()
    except BaseException:
        watcher.process.kill()
        raise
    assert watcher.finish(made) == 0
    check_final(tmp_path, watcher, made)


def test_polling_finds_files_too_and_a_bad_file_waits_for_its_next_change(made, tmp_path):
    watcher = Watcher(tmp_path, "--poll", "0.2").start()
    try:
        broken = watcher.landing / made[0].name
        broken.write_bytes(made[0].read_bytes()[:2000])  # cut short: not readable yet
        land(made[1:2], watcher.landing)
        watcher.wait(lambda e: any(made[1].name.replace("_cal.asdf", "") == x["product"] for x in e))
        assert made[0].name.replace("_cal.asdf", "") not in {x["product"] for x in watcher.lines()}
        land(made[:1], watcher.landing)  # the whole file now
        watcher.wait(lambda e: any(made[0].name.replace("_cal.asdf", "") == x["product"] for x in e))
        assert watcher.stop(signal.SIGINT) == 0
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
    check_final(tmp_path, watcher, made[:2])


def test_a_torn_last_line_is_taken_off_and_not_counted(tmp_path):
    from romanasn_watch.watch import _already_written

    events = tmp_path / "ev"
    events.write_text('{"seq":1,"run":"a"}\n{"seq":2,"run":"b"}\n{"seq":3,"run":"b"}\n{"seq":4,"ru')
    with open(events, "a") as stream:
        assert _already_written(stream, 2, "b") == 2
        assert _already_written(stream, 4, "b") == 0
    assert events.read_text().endswith('"b"}\n')


@pytest.mark.slow
@pytest.mark.parametrize("pause, stdout", [(0.4, False), (0.8, True), (1.2, False), (1.6, True)])
def test_kills_at_any_moment_of_a_burst_lose_and_repeat_nothing(made, tmp_path, pause, stdout):
    """Also with the events on stdout sent to a file (read back at the restart as --events FILE is)."""
    watcher = Watcher(tmp_path, stdout=stdout)
    for start in range(0, 12, 3):
        watcher.start()
        land(made[start:start + 3], watcher.landing)
        time.sleep(pause)
        watcher.stop(signal.SIGKILL)
    watcher.start()
    assert watcher.finish(made) == 0
    check_final(tmp_path, watcher, made)


def test_a_file_removed_from_the_landing_folder_takes_its_row_and_associations_with_it(made, tmp_path):
    files = [p for p in made if VISITS[0] in p.name]  # three exposures of two detectors
    watcher = Watcher(tmp_path).start()
    try:
        land(files, watcher.landing)
        watcher.wait(lambda e: len(e) >= added(files))
        (watcher.landing / files[0].name).unlink()
        events = watcher.wait(lambda e: any(x["event"] == "removed" for x in e))
        removed = [x for x in events if x["event"] == "removed"]
        assert [x["product"] for x in removed] == [files[0].name.replace("_cal.asdf", "")]
        assert not Path(removed[0]["file"]).exists()
        watcher.wait(lambda e: {"wfi_image_visit", "wfi_image_fov"} <= {x["rule"] for x in e if x["event"] == "changed"})
        assert watcher.stop() == 0
        (watcher.landing / files[1].name).unlink()  # while no watch runs
        watcher.start()
        watcher.wait(lambda e: sum(x["event"] == "removed" for x in e) >= 3)  # its L2 and its exposure's fov
        time.sleep(1)
        assert watcher.stop() == 0
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
    assert sorted(read_pool(watcher.db)["filename"]) == sorted(p.name for p in files[2:])
    assert main(["generate", watcher.db, "-o", str(tmp_path / "full"), "-q"]) == 0
    assert main(["diff", str(watcher.out), str(tmp_path / "full"), "-q"]) == 0
    events = watcher.lines()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("jobs", [1, 2])
def test_headers_read_as_files_come_are_read_again_when_the_file_changed_since(made, tmp_path, jobs):
    """With one job the early read is done at once, so that a file changed behind the watch's
    back (same size and time) shows that an unchanged file is not read again."""
    import io

    from romanasn import RunConfig
    from romanasn.plugins.manager import get_plugin_manager
    from romanasn_watch.watch import Watch

    pm = get_plugin_manager()
    landing = tmp_path / "landing"
    landing.mkdir()
    watch = Watch(landing, tmp_path / "pool.sqlite", tmp_path / "asn", plugin_manager=pm,
                  config=RunConfig(pool_name="pool"), events=io.StringIO(), jobs=jobs,
                  columns=[found.item for found in pm.pool_columns()])
    growing, landed = landing / made[0].name, landing / made[1].name
    growing.write_bytes(made[0].read_bytes()[:2000])  # still being copied when first read
    landed.write_bytes(made[1].read_bytes())
    watch.start()
    try:
        watch.read_early([str(growing), str(landed)])
        growing.write_bytes(made[0].read_bytes())  # whole now: read again
        if jobs == 1:
            kept = landed.stat()
            landed.write_bytes(b"\0" * kept.st_size)  # unreadable, but of the same size and time
            os.utime(landed, ns=(kept.st_atime_ns, kept.st_mtime_ns))
        watch.ingest([str(growing), str(landed)])
    finally:
        watch.readers.close()
        watch.db.close()
    assert sorted(read_pool(str(tmp_path / "pool.sqlite"))["filename"]) == sorted(p.name for p in made[:2])
