"""#16.12: diff counts a member listed twice, --update
compares content not sizes, a pack's NaN is an error rather than bare ``NaN``, and pool file
names a run cannot use are refused naming the row, and from-list refuses the product names generate refuses."""

import json

import pytest

from romanasn import read_pool
from romanasn.errors import PoolError

VISIT = "0000101001001001001"


def test_diff_tells_a_member_listed_twice_from_one_listed_once(run, pool, tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    assert run("generate", pool, "-o", a, "-q")[0] == 0
    assert run("generate", pool, "-o", b, "-q")[0] == 0
    path = b / "r00001_p_full_f158_asn.json"
    data = json.loads(path.read_text())
    members = data["products"][0]["members"]
    members.append(dict(members[0]))
    path.write_text(json.dumps(data, indent=4))
    status, out, _ = run("diff", a, b)
    assert status == 3 and "~ r00001_p_full_f158" in out and f"+ {members[0]['expname']}" in out


def test_update_rewrites_a_file_edited_in_place_at_the_same_size(run, pool, tmp_path):
    out = tmp_path / "D"
    assert run("generate", pool, "-o", out, "-q")[0] == 0
    path = out / "r00001_p_full_f158_asn.json"
    good = path.read_bytes()
    path.write_bytes(good.replace(b"science", b"SCIENCE", 1))
    status, printed, _ = run("generate", pool, "-o", out, "--update")
    assert status == 0 and "1 changed" in printed
    assert path.read_bytes() == good


def test_a_packs_nan_is_an_error_naming_the_rule_and_pack(run, pool, tmp_path, hostile):
    hostile("extras:nan")
    status, _, err = run("generate", pool, "-o", tmp_path / "D")
    assert status == 1 and not (tmp_path / "D").exists()
    assert "rule 'hostile_exposure' of plugin romanasn-fake-hostile 0.7" in err
    assert "nan is not a JSON number" in err


@pytest.mark.parametrize("name", [" x_cal.asdf", "~x_cal.asdf", ".", "x\u200f_cal.asdf", "-x_cal.asdf",
                                  "$(touch y);x_cal.asdf", "x" * 201])
def test_a_file_name_a_run_cannot_use_is_refused_naming_the_row(tmp_path, name):
    lines = (tmp_path / "pool.csv")
    header = ("filename,program,execution_plan,pass,segment,observation,visit,visit_file_group,visit_file_sequence,"
              "visit_file_activity,exposure,visit_id,observation_id,exposure_type,detector,optical_element")
    row = f",1,1,1,1,1,1,1,1,01,1,{VISIT},{VISIT}011010001,WFI_IMAGE,WFI01,F158"
    lines.write_text(f"{header}\nr{VISIT}_0002_wfi01_f158_cal.asdf{row.replace('0001', '0002')}\n\"{name}\"{row}\n")
    with pytest.raises(PoolError, match=r"row 2, column 'filename': .* is not a bare file name"):
        read_pool(lines)


def test_make_pool_refuses_a_file_name_generate_would_refuse(run, tmp_path, exposure):
    exposure(tmp_path, 1, 1)
    bad = exposure(tmp_path, 2, 1, name="$(touch y);x_cal.asdf")
    status, _, err = run("make-pool", tmp_path, "-o", tmp_path / "pool.ecsv")
    assert status == 1 and f"{bad}: " in err and "is not a bare file name" in err


@pytest.mark.parametrize("name", ["../../x", "x\ny", "a/b"])
def test_from_list_refuses_a_product_name_generate_would_refuse(run, tmp_path, name):
    out = tmp_path / "x_asn.json"
    status, _, err = run("from-list", "-o", out, "--product-name", name, "a_cal.asdf")
    assert status == 2 and "--product-name" in err and not out.exists()
    assert not (tmp_path.parent / "x_asn.json").exists()
