"""Association files: records <-> mapping, the schema, reading and writing in three formats."""

import copy
import io
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from romanasn import asnfile
from romanasn.errors import AsnError
from romanasn.records import SOME_DEGRADED, Association, Member, Product, Provenance

DATA = Path(__file__).parent / "data" / "romancal"
ROMANCAL_FILES = sorted(DATA.glob("*_asn.json")) + [DATA / "asn_level2.json"]
FORMATS = list(asnfile.EXTENSIONS)

SKYCELL = {
    "name": "225p90x49y67",
    "pixel_scale": 1.5277777777777777e-05,
    "ra_projection_center": 225.0,
    "dec_projection_center": 90.0,
    "x0_projection": 7299.5,
    "y0_projection": -79100.5,
    "ra_center": 228.3657197782,
    "dec_center": 88.7513616876,
    "nx": 5000,
    "ny": 5000,
    "orientat": -3.365719795227051,
    "orientat_projection_center": 180.0,
}


def cal(exposure: int, detector: str = "wfi01") -> str:
    return f"r0000101001001001001_{exposure:04d}_{detector}_f158_cal.asdf"


def make_asn(**changes) -> Association:
    members = [
        Member(cal(1), extra={"group_id": "r0000101001001001001_0001", "tweakreg_catalog": "c.ecsv"}),
        Member(cal(2), exposerr="guide star lost"),
        Member(cal(3)),
    ]
    asn = Association(
        products=[Product("r00001_p_v01001001001001_225p90x49y67_f158", members)],
        asn_type="image",
        asn_rule="Asn_SkycellImage",
        asn_pool="r00001_20250101t000000_pool.csv",
        program="00001",
        target="225p90x49y67",
        code_version="0.1.0",
        degraded_status=SOME_DEGRADED,
        data_release_id="p",
        skycell_wcs_info=SKYCELL,
        extra={"psf_match_reference_filter": "f184"},
        provenance=Provenance("Asn_SkycellImage", "romanasn-wfi", "0.1.0", "0.1.0"),
    )
    return asn.evolve(**changes)


def dig(d, keys):
    for key in keys:
        d = d[key]
    return d


def write_json(tmp_path: Path, d, name: str = "bad_asn.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(d, indent=4))
    return path


# --- the schema and romancal's files -------------------------------------------------------


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(asnfile.schema())


@pytest.mark.parametrize("path", ROMANCAL_FILES, ids=lambda p: p.name)
def test_romancal_files_load_and_validate(path):
    raw = json.loads(path.read_text())
    assert asnfile.load_asn_dict(path) == raw
    d = asnfile.to_dict(asnfile.load_asn(path))
    assert {k: d[k] for k in raw} == raw  # every key kept; missing ones take the defaults


def test_written_associations_pass_romancals_schema():
    romancal_schema = json.loads((DATA / "asn_schema_jw_level3.json").read_text())
    jsonschema.Draft4Validator(romancal_schema).validate(asnfile.to_dict(make_asn()))


# --- records <-> mapping -------------------------------------------------------------------


def test_json_key_order_is_romancals():
    asn = make_asn(extra={"zeta": 1, "psf_match_reference_filter": "f184"})
    d = json.loads(asnfile.dumps(asn, "json"))
    extra = ["psf_match_reference_filter", "zeta"]
    assert list(d) == [*asnfile.TOP_KEYS, *extra, "romanasn", "products"]
    members = d["products"][0]["members"]
    assert list(members[0]) == ["expname", "exptype", "group_id", "tweakreg_catalog"]
    assert list(members[1]) == ["expname", "exptype", "exposerr"]
    assert list(d["romanasn"]) == ["rule", "plugin", "plugin_version", "kernel_version"]


def test_json_layout_matches_romancals_files():
    text = asnfile.dumps(make_asn(), "json").decode()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=4) + "\n"
    assert '\n    "products": [\n        {\n            "name": ' in text


def test_no_romanasn_key_without_provenance():
    assert "romanasn" not in asnfile.to_dict(make_asn(provenance=None))


def test_from_dict_keeps_unknown_keys_in_extra():
    d = asnfile.to_dict(make_asn())
    d["visit_id"] = "0000101001001001001"
    d["products"][0]["members"][2]["asn_candidate"] = "[('o001', 'observation')]"
    asn = asnfile.from_dict(d)
    assert asn.extra == {"psf_match_reference_filter": "f184", "visit_id": "0000101001001001001"}
    assert asn.members[2].extra == {"asn_candidate": "[('o001', 'observation')]"}
    assert asnfile.to_dict(asn) == d | {"products": d["products"]}


def test_extra_keys_may_not_shadow_fields():
    with pytest.raises(AsnError, match="asn_id"):
        asnfile.to_dict(make_asn(extra={"asn_id": "a9"}))
    bad_member = Member(cal(1), extra={"exptype": "background"})
    with pytest.raises(AsnError, match=cal(1)):
        asnfile.to_dict(make_asn(products=[Product("p", [bad_member])]))


def test_values_become_plain_json_data():
    asn = make_asn(extra={"counts": (np.int64(3), np.float32(0.5)), "flag": True})
    d = asnfile.to_dict(asn)
    assert d["counts"] == [3, 0.5] and type(d["counts"][0]) is int and type(d["counts"][1]) is float
    with pytest.raises(AsnError, match=r"\$\.when: a object is not allowed"):
        asnfile.to_dict(make_asn(extra={"when": object()}))


# --- validation ----------------------------------------------------------------------------


def invalid_documents():
    """(document, JSON path of its problem) pairs, each one change away from a valid one."""
    good = asnfile.to_dict(make_asn())

    def changed(edit):
        d = copy.deepcopy(good)
        edit(d)
        return d

    member = "$.products[0].members[1]"
    m1 = ("products", 0, "members", 1)
    return [
        (changed(lambda d: d.update(products=[])), "$.products"),
        (changed(lambda d: d.pop("products")), "$"),
        (changed(lambda d: d["products"][0].update(members=[])), "$.products[0].members"),
        (changed(lambda d: d["products"][0].pop("name")), "$.products[0]"),
        (changed(lambda d: dig(d, m1).update(exptype="")), f"{member}.exptype"),
        (changed(lambda d: dig(d, m1).pop("expname")), member),
        (changed(lambda d: dig(d, m1).update(exposerr=None)), f"{member}.exposerr"),
        (changed(lambda d: dig(d, m1).update(group_id=7)), f"{member}.group_id"),
        (changed(lambda d: d["products"][0].update(members=("x",))), "$.products[0].members"),
        (changed(lambda d: d["skycell_wcs_info"].pop("nx")), "$.skycell_wcs_info"),
        (changed(lambda d: d["skycell_wcs_info"].update(nx="5000")), "$.skycell_wcs_info.nx"),
        (changed(lambda d: d["skycell_wcs_info"].update(ny=True)), "$.skycell_wcs_info.ny"),
        (changed(lambda d: d.update(skycell_wcs_info="None")), "$.skycell_wcs_info"),
        (changed(lambda d: d.update(asn_id="o001")), "$.asn_id"),
        (changed(lambda d: d.update(target=5)), "$.target"),
        (changed(lambda d: d.update(program=1)), "$.program"),
        (changed(lambda d: d.update(psf_match_reference_filter=[])), "$.psf_match_reference_filter"),
        (changed(lambda d: d["romanasn"].pop("plugin")), "$.romanasn"),
        (changed(lambda d: d["romanasn"].update(seed=1)), "$.romanasn"),
        ([good], "$"),
    ]


def valid_documents():
    base = asnfile.to_dict(make_asn())
    numbers = copy.deepcopy(base)
    numbers["skycell_wcs_info"].update(nx=np.int64(5000), ny=5000.0, pixel_scale=np.float32(1e-5))
    plain = asnfile.to_dict(make_asn(skycell_wcs_info="none", target=None, provenance=None))
    romancal = [json.loads(path.read_text()) for path in ROMANCAL_FILES]
    minimal = {"products": [{"name": "p", "members": [{"expname": "a", "exptype": "b"}]}]}
    return [base, numbers, plain, minimal, *romancal]


def _compiled_verdict(document):
    """jsonschema-rs's verdict, None for a document of values JSON does not hold (numpy
    numbers: validate asks jsonschema about those)."""
    try:
        json.dumps(document)
    except TypeError:
        return None
    return asnfile._compiled().is_valid(document)


@pytest.mark.parametrize("document", valid_documents())
def test_the_compiled_schema_and_jsonschema_agree_on_valid(document):
    assert _compiled_verdict(document) in (True, None)
    assert asnfile.schema_validator().is_valid(document)
    asnfile.validate(document)


@pytest.mark.parametrize(("document", "where"), invalid_documents())
def test_the_compiled_schema_and_jsonschema_agree_on_invalid(document, where):
    assert _compiled_verdict(document) in (False, None)
    assert not asnfile.schema_validator().is_valid(document)
    with pytest.raises(AsnError) as error:
        asnfile.validate(document, "r00001_f158_asn.json")
    assert str(error.value).startswith("r00001_f158_asn.json: invalid association: ")
    assert f"at {where}: " in str(error.value)


def test_valid_documents_never_reach_jsonschema(monkeypatch):
    monkeypatch.setattr(asnfile, "schema_validator", lambda *name: pytest.fail("jsonschema called"))
    asnfile.validate(asnfile.to_dict(make_asn()))


def test_validate_reports_several_problems():
    d = asnfile.to_dict(make_asn())
    d["asn_id"] = "c1000"
    d["products"][0]["members"][0]["exptype"] = ""
    with pytest.raises(AsnError) as error:
        asnfile.validate(d, "x_asn.json")
    assert "at $.asn_id: " in str(error.value)
    assert "at $.products[0].members[0].exptype: '' should be non-empty" in str(error.value)


@pytest.mark.parametrize(("document", "where"), invalid_documents()[:6])
def test_invalid_files_are_rejected_naming_file_and_path(tmp_path, document, where):
    path = write_json(tmp_path, document)
    with pytest.raises(AsnError) as error:
        asnfile.load_asn(path)
    assert str(error.value).startswith(f"{path}: invalid association: ")
    assert f"at {where}: " in str(error.value)
    assert asnfile.load_asn_dict(path, validate=False) == document


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path, fmt):
    asn = make_asn()
    path = asnfile.write_asn(asn, tmp_path / f"r00001_f158{asnfile.EXTENSIONS[fmt]}")
    assert asnfile.load_asn(path) == asn
    with open(path, "rb") as f:
        assert asnfile.load_asn(f) == asn
    assert asnfile.load_asn(io.BytesIO(path.read_bytes())) == asn  # no name: format sniffed


@pytest.mark.parametrize("fmt", FORMATS)
def test_dumps_is_deterministic(tmp_path, fmt):
    first = asnfile.write_asn(make_asn(), tmp_path / "a", format=fmt)
    again = make_asn(extra={"psf_match_reference_filter": "f184"})  # equal, built separately
    second = asnfile.write_asn(again, tmp_path / "b", format=fmt)
    assert first.read_bytes() == second.read_bytes() == asnfile.dumps(make_asn(), fmt)


def test_yaml_keeps_key_order_in_block_style():
    text = asnfile.dumps(make_asn(), "yaml").decode()
    assert text.startswith("asn_type: image\nasn_rule: Asn_SkycellImage\nversion_id: null\n")
    assert "products:\n- name: r00001_p_v01001001001001_225p90x49y67_f158\n  members:\n" in text
    assert "{" not in text


def test_asdf_holds_the_plain_association_at_the_top_level(tmp_path):
    path = asnfile.write_asn(make_asn(), tmp_path / "r00001_f158_asn.asdf")
    assert path.read_bytes().startswith(b"#ASDF")
    assert asnfile.load_asn_dict(path) == asnfile.to_dict(make_asn())


def test_files_without_a_known_extension_are_sniffed(tmp_path):
    for fmt in FORMATS:
        path = tmp_path / f"{fmt}.txt"
        path.write_bytes(asnfile.dumps(make_asn(), fmt))
        assert asnfile.load_asn(path) == make_asn()


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(AsnError, match="'toml'"):
        asnfile.dumps(make_asn(), "toml")
    with pytest.raises(AsnError, match="'toml'"):
        asnfile.write_asn(make_asn(), tmp_path / "x_asn.toml", format="toml")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken_asn.json", b'{"products": [', "cannot read json association"),
        ("broken_asn.yaml", b"products: [unclosed", "cannot read yaml association"),
        ("broken_asn.asdf", b"#ASDF 1.0.0\n%YAML 1.1\n--- [unclosed\n", "cannot read asdf"),
        ("dates_asn.yaml", b"products: []\nwhen: 2025-01-01\n", "date is not allowed"),
        ("list_asn.yaml", b"- products\n", "not of type 'object'"),
        ("empty_asn.json", b"", "cannot read"),
    ],
)
def test_unreadable_files_are_rejected_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AsnError, match=message) as error:
        asnfile.load_asn(path)
    assert str(error.value).startswith(str(path))


@pytest.mark.filterwarnings("ignore::asdf.exceptions.AsdfConversionWarning")
def test_asdf_python_tags_are_not_executed(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil_asn.asdf"
    path.write_bytes(
        b"#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n"
        b"--- !core/asdf-1.1.0\n"
        b"products: !!python/object/apply:os.system ['touch " + bytes(marker) + b"']\n...\n"
    )
    with pytest.raises(AsnError, match=f"^{path}: "):
        asnfile.load_asn(path)
    assert not marker.exists()


def test_not_an_association_without_validation(tmp_path):
    path = write_json(tmp_path, {"products": [{"members": []}]})
    with pytest.raises(AsnError, match=f"^{path}: not an association"):
        asnfile.load_asn(path, validate=False)


def test_missing_file(tmp_path):
    with pytest.raises(AsnError, match="nowhere_asn.json: cannot read association"):
        asnfile.load_asn(tmp_path / "nowhere_asn.json")


# --- writing -------------------------------------------------------------------------------


def test_write_refuses_to_overwrite(tmp_path):
    path = asnfile.write_asn(make_asn(), tmp_path / "r00001_f158_asn.json")
    with pytest.raises(AsnError, match=f"^{path}: association file exists"):
        asnfile.write_asn(make_asn(target="other"), path)
    assert asnfile.load_asn(path).target == "225p90x49y67"
    asnfile.write_asn(make_asn(target="other"), path, overwrite=True)
    assert asnfile.load_asn(path).target == "other"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_validates_first(tmp_path):
    path = tmp_path / "r00001_f158_asn.json"
    with pytest.raises(AsnError, match=r"invalid association: at \$\.asn_id"):
        asnfile.write_asn(make_asn(asn_id="o001"), path)
    assert not list(tmp_path.iterdir())
    asnfile.write_asn(make_asn(asn_id="o001"), path, validate=False)
    assert asnfile.load_asn(path, validate=False).asn_id == "o001"


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def half_then_fail(d, stream):
        stream.write(b'{"asn_type": ')
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(asnfile._ENCODERS, "json", half_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        asnfile.dumps(make_asn(), "json")
    with pytest.raises(RuntimeError, match="disk on fire"):
        asnfile.write_asn(make_asn(), tmp_path / "r00001_f158_asn.json")
    assert not list(tmp_path.iterdir())

    old = tmp_path / "old_asn.json"
    old.write_text("old")
    with pytest.raises(RuntimeError):
        asnfile.write_asn(make_asn(), old, overwrite=True)
    assert old.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["old_asn.json"]


def test_failed_replace_leaves_nothing_behind(tmp_path):
    (tmp_path / "taken_asn.json").mkdir()
    with pytest.raises(AsnError, match="taken_asn.json: cannot write association"):
        asnfile.write_asn(make_asn(), tmp_path / "taken_asn.json", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["taken_asn.json"]


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(AsnError, match="cannot write association"):
        asnfile.write_asn(make_asn(), tmp_path / "no" / "r00001_f158_asn.json")
