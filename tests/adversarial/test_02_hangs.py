"""#16.2: inputs that used to hang a run or eat every byte of memory end it at once, with an
error naming the file: a journal that is a dangling link, a "billion laughs" association, a FIFO
named like an exposure, ``/dev/zero`` given as a pool or an association."""

import os

import pytest

LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]) + "\n"


@pytest.fixture
def zero(tmp_path):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    return link


def test_a_journal_that_is_a_dangling_link_is_refused(run, pool, tmp_path):
    out = tmp_path / "D"
    out.mkdir()
    (out / ".romanasn-journal").symlink_to("/nonexistent")
    status, _, err = run("generate", pool, "-o", out, "-q")
    assert status == 1 and ".romanasn-journal is a symbolic link: not a journal romanasn wrote" in err


@pytest.mark.parametrize("ext", [".yaml", ".asdf"])
def test_a_billion_laughs_association_is_refused_as_it_is_read(run, tmp_path, ext):
    path = tmp_path / f"laughs_asn{ext}"
    head = "#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n--- !core/asdf-1.1.0\n" if ext == ".asdf" else ""
    path.write_text(head + LAUGHS + ("...\n" if head else ""))
    status, _, err = run("validate", path)
    assert status == 1 and "YAML aliases that expand" in err and str(path) in err


@pytest.mark.parametrize("command", [["generate", "{}", "-o", "out"], ["validate", "{}"],
                                     ["explain", "{}", "x_cal.asdf"]])
def test_a_device_or_a_fifo_given_as_input_is_refused(run, tmp_path, zero, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in (zero, fifo):
        status, _, err = run(*[part.format(path) for part in command])
        assert status == 1 and f"{path}: cannot read" in err and "not a regular file" in err


def test_a_fifo_named_like_an_exposure_is_a_bad_file(run, tmp_path, exposure):
    exposure(tmp_path, 1, 1)
    os.mkfifo(tmp_path / "r0000101001001001001_0002_wfi01_f158_cal.asdf")
    status, _, err = run("make-pool", tmp_path, "-o", tmp_path / "pool.ecsv")
    assert status == 1 and "_0002_wfi01_f158_cal.asdf: cannot open: not a regular file" in err
    status, _, err = run("make-pool", tmp_path, "-o", tmp_path / "pool.ecsv", "--skip-bad", "-q")
    assert status == 0
