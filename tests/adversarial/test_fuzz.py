"""Fuzz targets of issue #16 (hypothesis, a fixed small budget): hostile pools, journals and
association files.

- A pool of any text is read, or refused with a ``PoolError``; never another exception.
- A journal and moves of any content are recovered, or refused with an ``AsnError``; nothing
  outside the folder is touched either way, and a recovered folder holds no journal.
- An association file of any JSON or YAML is loaded, or refused with an ``AsnError``.
"""

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from romanasn import load_asn, read_pool
from romanasn.errors import AsnError, PoolError
from romanasn.folder import JOURNAL, recover

SETTINGS = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

HEADER = ("filename,program,execution_plan,pass,segment,observation,visit,visit_file_group,visit_file_sequence,"
          "visit_file_activity,exposure,visit_id,observation_id,exposure_type,detector,optical_element")
ROW = "r0000101001001001001_0001_wfi01_f158_cal.asdf,1,1,1,1,1,1,1,1,01,1,0000101001001001001," \
      "0000101001001001001011010001,WFI_IMAGE,WFI01,F158"
HOSTILE_TEXT = st.lists(st.sampled_from(list(',|"#\r\n \t\x00%-.:/\\é\u200fx1\'') + ["ECSV", "&a", "*a", "x" * 2000]),
                        max_size=30).map("".join)
NAMES = st.one_of(st.sampled_from(["a_asn.json", "../victim/v.txt", "/tmp/x", ".", "..", "", ".romanasn-journal",
                                   ".romanasn-staging-y", "x" * 300, "a/b", "name\nwith", "keep.txt"]),
                  st.text(max_size=20))


@st.composite
def pools(draw):
    """Pool text: the canonical header and a row, cut, spliced and salted with hostile text."""
    lines = [HEADER, ROW]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from([ROW, HEADER, "# %ECSV 1.0", "# ---", "# delimiter: '||'", ""])))
    text = "\n".join(lines)
    for _ in range(draw(st.integers(0, 3))):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(HOSTILE_TEXT) + text[cut + draw(st.integers(0, 5)):]
    return text


@SETTINGS
@given(pools())
def test_any_pool_is_read_or_refused_with_a_pool_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pool.csv"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            read_pool(path)
        except PoolError:
            pass


@st.composite
def journals(draw):
    """A journal's lines and the moves of its staging folder (or none)."""
    staging = draw(st.sampled_from([".romanasn-staging-x", "../outside", ".romanasn-staging-x/..", "x"]))
    lines = [f"staging {staging}"] + draw(st.lists(st.one_of(
        NAMES.map(lambda name: "+" + name), st.sampled_from(["commit", "undo", "created", "garbage"])), max_size=6))
    moves = draw(st.one_of(st.none(), st.fixed_dictionaries({"replace": st.lists(NAMES, max_size=3),
                                                             "remove": st.lists(NAMES, max_size=3)}),
                           st.sampled_from(["[]", "{", '{"replace": 5, "remove": []}'])))
    return "\n".join(lines) + "\n", moves


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@SETTINGS
@given(journals())
def test_any_journal_is_recovered_or_refused_and_nothing_outside_is_touched(journal):
    text, moves = journal
    with tempfile.TemporaryDirectory() as base:
        base = Path(base)
        victim, out = base / "victim", base / "deep" / "out"
        victim.mkdir()
        (victim / "v.txt").write_text("victim")
        out.mkdir(parents=True)
        (out / "keep.txt").write_text("keep")
        (out / "a_asn.json").write_text("{}")
        (out / ".romanasn-staging-x").mkdir()
        (out / ".romanasn-staging-x" / "a_asn.json").write_text("staged")
        if moves is not None:
            data = moves if isinstance(moves, str) else json.dumps(moves)
            (out / ".romanasn-staging-x" / ".moves.json").write_text(data)
        (out / JOURNAL).write_text(text)
        outside = _tree(victim), os.listdir(base), os.listdir(base / "deep")
        try:
            recover(out)
        except AsnError as error:
            assert "not a journal romanasn wrote" in str(error)
        else:
            assert not (out / JOURNAL).exists()
        assert (_tree(victim), os.listdir(base), os.listdir(base / "deep")) == outside


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                              st.text(max_size=10)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.sampled_from(["asn_type", "asn_rule", "products",
                                                                             "members", "name", "expname",
                                                                             "exptype", "x"]), inner, max_size=4)),
                    max_leaves=20)


@st.composite
def association_files(draw):
    """(extension, text): JSON of any shape, near-associations, YAML with anchors and aliases."""
    kind = draw(st.sampled_from(["json", "near", "yaml"]))
    if kind == "json":
        return ".json", json.dumps(draw(JSON))
    if kind == "near":
        members = draw(st.lists(st.fixed_dictionaries({"expname": st.text(max_size=8), "exptype": JSON}),
                                max_size=3))
        return ".json", json.dumps({"asn_type": draw(JSON), "asn_rule": "r", "asn_pool": "p",
                                    "products": [{"name": draw(st.text(max_size=8)), "members": members}]})
    depth, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    lines = ["a0: &a0 [lol]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return ".yaml", "\n".join(lines) + "\n" + draw(HOSTILE_TEXT)


@SETTINGS
@given(association_files())
def test_any_association_file_is_loaded_or_refused_with_an_asn_error(file):
    extension, text = file
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x_asn{extension}"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            load_asn(path)
        except AsnError:
            pass
