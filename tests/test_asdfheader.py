"""The fast ASDF header reader: only the YAML header is read, and it agrees with asdf."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from romanasn import asdfheader, columns
from romanasn.asdfheader import ArrayRef, AsdfTime, HeaderError, load_tree, read_header, read_meta

rdm = pytest.importorskip("roman_datamodels.datamodels")

PATHS = [c.meta for c in columns.canonical_columns() if c.meta]


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    """A small L2 file (arrays inline), an L1 and an L2 file whose arrays are in blocks, made once."""
    from astropy.time import Time

    folder = tmp_path_factory.mktemp("headers")
    made = {}
    for key, model, shape in (("inline", rdm.ImageModel, (8, 8)), ("raw", rdm.ScienceRawModel, (2, 64, 64)),
                              ("blocks", rdm.ImageModel, (64, 64))):
        m = model.create_fake_data(shape=shape)
        m.meta.observation.visit_id = "0000101001001001001"
        m.meta.exposure.start_time = Time(60500.25, format="mjd", scale="utc")
        m.meta.wcsinfo.s_region = "POLYGON ICRS  1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0"
        made[key] = m.save(folder / f"{key}_cal.asdf")
    big = rdm.ImageModel.create_fake_data(shape=(512, 512))
    big.data = np.random.default_rng(1).random((512, 512), dtype=np.float32)
    made["big"] = big.save(folder / "big_cal.asdf", all_array_compression=None)
    return {k: Path(v) for k, v in made.items()}


def test_meta_values_agree_with_roman_datamodels(files):
    for key in ("inline", "raw", "blocks"):
        found = read_meta(files[key], PATHS)
        with rdm.open(files[key]) as model:
            for path in PATHS:
                expected = model.meta
                for part in path.split("."):
                    expected = expected[part]
                value = found.values[path]
                if isinstance(value, AsdfTime):
                    assert value.iso_utc() == expected.utc.isot, path
                else:
                    assert value == expected and type(value) is type(expected), path
    assert found.values["wcsinfo.s_region"] == "POLYGON ICRS  1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0"
    assert found.values["exposure.start_time"].iso_utc() == "2024-07-09T06:00:00.000"


def test_the_cut_gives_what_the_whole_tree_gives(files):
    for path in files.values():
        header = read_header(path)
        wanted = {p.split(".")[0] for p in PATHS}
        assert asdfheader._cut_meta(header, wanted) is not None
        whole = asdfheader._values(asdfheader._full_meta_node(header), PATHS)
        assert read_meta(path, PATHS).values == whole


def test_arrays_are_never_read(files, monkeypatch):
    path = files["big"]
    assert path.stat().st_size > 4_000_000
    read = []
    real_read, real_pread = os.read, os.pread
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    monkeypatch.setattr(os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at))
    found = read_meta(path, PATHS)
    assert found.values["model_type"] == "ImageModel"
    assert sum(read) < 200_000


def test_header_ends_at_the_document_end(files):
    header = read_header(files["blocks"])
    assert header.startswith(b"#ASDF ") and header.rstrip().endswith(b"...")
    assert asdfheader.BLOCK_MAGIC not in header
    assert files["blocks"].read_bytes().startswith(header)


def test_load_tree_turns_tags_into_plain_values(files):
    tree = load_tree(files["blocks"])
    roman = tree["roman"]
    assert isinstance(roman["data"], ArrayRef) and roman["data"].shape == (64, 64)
    assert isinstance(roman["meta"]["exposure"]["start_time"], AsdfTime)
    assert isinstance(roman["meta"]["wcs"], dict)  # a gwcs object, as plain values
    assert tree["asdf_library"]["name"] == "asdf"


def test_python_tags_are_not_executed(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.asdf"
    path.write_text(
        "#ASDF 1.0.0\n%YAML 1.1\n--- \nroman:\n  meta:\n"
        f"    model_type: !!python/object/apply:os.system ['touch {marker}']\n"
        "    filename: !!python/name:os.system ''\n...\n"
    )
    found = read_meta(path, ["model_type", "filename"])
    assert not marker.exists()
    assert found.values["model_type"] == [f"touch {marker}"] and found.values["filename"] == ""


def test_flow_style_and_odd_keys_fall_back_to_the_whole_tree(tmp_path):
    flow = tmp_path / "flow.asdf"
    flow.write_text("#ASDF 1.0.0\n%YAML 1.1\n--- \nroman: {meta: {filename: a.asdf, observation: {program: 7}}}\n...\n")
    assert read_meta(flow, ["filename", "observation.program"]).values == {
        "filename": "a.asdf", "observation.program": 7}
    quoted = tmp_path / "quoted.asdf"
    quoted.write_text("#ASDF 1.0.0\n%YAML 1.1\n--- \nroman:\n  meta:\n    'filename': b.asdf\n"
                      "    observation:\n      program: 8\n...\n")
    assert asdfheader._cut_meta(quoted.read_bytes(), {"filename", "observation"}) is None
    assert read_meta(quoted, ["filename", "observation.program"]).values == {
        "filename": "b.asdf", "observation.program": 8}


def test_missing_values_are_left_out(files):
    found = read_meta(files["inline"], ["observation.no_such_thing", "no.such.path", "filename"])
    assert found.values == {"filename": "inline_cal.asdf"}
    assert found.roman_tag.startswith("asdf://stsci.edu/datamodels/roman/tags/wfi_image-")


@pytest.mark.parametrize("make, message", [
    (lambda p, good: p.write_text("hello"), "not an ASDF file"),
    (lambda p, good: p.write_bytes(good.read_bytes()[:3000]), "truncated: the YAML header has no end"),
    (lambda p, good: p.write_bytes(good.read_bytes()[:-5000]), "truncated"),
    (lambda p, good: p.write_text("#ASDF 1.0.0\n%YAML 1.1\n--- \nother: 1\n...\n"), "no 'roman' node"),
    (lambda p, good: p.write_text("#ASDF 1.0.0\n%YAML 1.1\n--- \nroman: {meta: [1]}\n...\n"), "no 'roman.meta'"),
    (lambda p, good: p.write_text("#ASDF 1.0.0\n%YAML 1.1\n--- \nroman: {meta: {a: [1}\n...\n"), "cannot be parsed"),
    (lambda p, good: p.write_text("#ASDF 1.0.0\n"), "no YAML tree"),
])
def test_bad_files(files, tmp_path, make, message):
    path = tmp_path / "bad.asdf"
    make(path, files["big"])
    with pytest.raises(HeaderError, match=message):
        read_meta(path, PATHS)


def test_a_file_cut_at_a_block_boundary_is_truncated(files, tmp_path):
    data = files["blocks"].read_bytes()
    index = data.rfind(b"#ASDF BLOCK INDEX")
    last = data.rfind(asdfheader.BLOCK_MAGIC, 0, index)
    (tmp_path / "cut.asdf").write_bytes(data[:last])
    with pytest.raises(HeaderError, match="truncated: the tree uses"):
        read_meta(tmp_path / "cut.asdf", PATHS)
    (tmp_path / "noindex.asdf").write_bytes(data[:index])
    assert read_meta(tmp_path / "noindex.asdf", PATHS).values == read_meta(files["blocks"], PATHS).values


def test_times_are_normalised_to_iso_utc():
    assert AsdfTime("2027-03-01T12:00:00").iso_utc() == "2027-03-01T12:00:00.000"
    assert AsdfTime("2027-03-01 12:00:00.5").iso_utc() == "2027-03-01T12:00:00.500"
    assert AsdfTime("2027-03-01T12:00:00.123456").iso_utc() == "2027-03-01T12:00:00.123"
    assert AsdfTime(60500.25, "mjd").iso_utc() == "2024-07-09T06:00:00.000"
    assert AsdfTime("2027-03-01T12:01:09.184", "isot", "tt").iso_utc() == "2027-03-01T12:00:00.000"
    with pytest.raises(ValueError, match="cannot read time"):
        AsdfTime("yesterday").iso_utc()


def test_headers_longer_than_a_read_are_read_whole(files, monkeypatch):
    expected = {key: read_header(path) for key, path in files.items()}
    monkeypatch.setattr(asdfheader, "_CHUNK", 100)
    for key, path in files.items():
        assert read_header(path) == expected[key], key
    assert read_meta(files["inline"], PATHS).values["filename"] == "inline_cal.asdf"
