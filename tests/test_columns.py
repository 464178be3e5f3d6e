"""The pool schema and the canonical columns built from it."""

import json
from importlib.resources import files

import jsonschema
import pytest

from romanasn.columns import canonical_columns, enums, merge_columns, patterns, pool_schema, ranges
from romanasn.errors import PluginError
from romanasn.plugins.types import PoolColumn

REQUIRED = [
    "filename", "program", "execution_plan", "pass", "segment", "observation", "visit",
    "visit_file_group", "visit_file_sequence", "visit_file_activity", "exposure", "visit_id",
    "observation_id", "exposure_type", "detector", "optical_element",
]
OPTIONAL = [
    "instrument", "start_time", "end_time", "ma_table_name", "ma_table_number", "nresultants",
    "ra_ref", "dec_ref", "roll_ref", "s_region", "target", "exposerr", "data_problem",
    "engineering_quality", "asn_candidate", "level", "program_category", "program_subcategory",
]
ROW = {
    "filename": "r0000101001001001001_0001_wfi01_f158_cal.asdf", "program": 1, "execution_plan": 1,
    "pass": 1, "segment": 1, "observation": 1, "visit": 1, "visit_file_group": 1,
    "visit_file_sequence": 1, "visit_file_activity": "01", "exposure": 1,
    "visit_id": "0000101001001001001", "observation_id": "0000101001001001001011010001",
    "exposure_type": "WFI_IMAGE", "detector": "WFI01", "optical_element": "F158",
}


def _by_name():
    return {column.name: column for column in canonical_columns()}


def test_schema_ships_with_the_package():
    text = files("romanasn").joinpath("schemas/pool.schema.json").read_text("utf-8")
    assert json.loads(text) == pool_schema()


def test_schema_is_valid_draft_2020_12():
    assert pool_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(pool_schema())


def test_schema_accepts_a_good_row_and_rejects_bad_ones():
    validator = jsonschema.Draft202012Validator(pool_schema())
    assert not list(validator.iter_errors(ROW))
    for change in ({"program": 18446}, {"visit_file_activity": 1}, {"detector": "WFI19"},
                   {"visit_id": "000010100100100100"}, {"level": 0}):
        assert list(validator.iter_errors(dict(ROW, **change))), change
    assert list(validator.iter_errors({key: value for key, value in ROW.items() if key != "exposure"}))


def test_canonical_columns_required_and_optional():
    columns = canonical_columns()
    assert [c.name for c in columns if c.required] == REQUIRED
    assert [c.name for c in columns if not c.required] == OPTIONAL
    assert pool_schema()["required"] == REQUIRED


def test_canonical_column_types():
    columns = _by_name()
    assert {name for name, c in columns.items() if c.dtype == "int"} == {
        "program", "execution_plan", "pass", "segment", "observation", "visit", "visit_file_group",
        "visit_file_sequence", "exposure", "ma_table_number", "nresultants", "level",
    }
    assert {name for name, c in columns.items() if c.dtype == "float"} == {"ra_ref", "dec_ref", "roll_ref"}
    assert columns["visit_file_activity"].dtype == "str"
    assert columns["data_problem"].dtype == "str"


def test_canonical_columns_say_where_values_come_from():
    columns = _by_name()
    assert columns["filename"].meta == "filename"
    assert columns["program"].meta == "observation.program"
    assert columns["exposure_type"].meta == "exposure.type"
    assert columns["detector"].meta == "instrument.detector"
    assert columns["s_region"].meta == "wcsinfo.s_region"
    assert columns["level"].meta == "model_type"
    assert columns["exposerr"].meta is None
    assert all(column.description for column in canonical_columns())


def test_canonical_columns_are_cached():
    assert canonical_columns() is canonical_columns()


def test_enums():
    values = enums()
    assert set(values) == {"exposure_type", "detector", "optical_element"}
    assert values["detector"] == tuple(f"WFI{n:02d}" for n in range(1, 19))
    assert values["exposure_type"] == (
        "WFI_IMAGE", "WFI_SPECTRAL", "WFI_IM_DARK", "WFI_SP_DARK", "WFI_FLAT", "WFI_LOLO", "WFI_WFSC",
    )
    assert values["optical_element"] == (
        "F062", "F087", "F106", "F129", "F146", "F158", "F184", "F213", "GRISM", "PRISM", "DARK",
        "NOT_CONFIGURED",
    )


def test_ranges_and_patterns():
    assert ranges()["program"] == (1, 18445)
    assert ranges()["visit_file_sequence"] == (1, 5)
    assert ranges()["level"] == (1, 3)
    assert patterns() == {
        "visit_file_activity": "^[0-9]{2}$", "visit_id": "^[0-9]{19}$", "observation_id": "^[0-9]{28}$",
    }


def test_merge_columns_appends_pack_columns():
    tile = PoolColumn(name="tile", dtype="int", meta="pointing.tile")
    merged = merge_columns([tile, PoolColumn(name="tile", dtype="int")])
    assert merged[: len(canonical_columns())] == canonical_columns()
    assert merged[-1] == tile
    assert len(merged) == len(canonical_columns()) + 1


def test_merge_columns_accepts_a_canonical_column_with_its_dtype():
    assert merge_columns([PoolColumn(name="program", dtype="int")]) == canonical_columns()


def test_merge_columns_rejects_another_dtype():
    canonical = "'program': declared as str by a pack, but the canonical column is int"
    with pytest.raises(PluginError, match=canonical):
        merge_columns([PoolColumn(name="program", dtype="str")])
    other = "'tile': declared as float by a pack, but another pack's column is int"
    with pytest.raises(PluginError, match=other):
        merge_columns([PoolColumn(name="tile", dtype="int"), PoolColumn(name="tile", dtype="float")])
