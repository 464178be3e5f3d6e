"""The encoder: JSON byte for byte as json.dumps and asnfile.dumps make it, invalid associations named."""

import json

import pytest

from romanasn import AsnError, Association, Member, Product, Provenance, asnfile
from romanasn import encoder as encoder_module


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, False, {"x": [], "y": {}}], "é": "ü\n\"\t\u2028"},
    [], {}, "text", 3, 1e100, -0.0, [[[]]], {"k": {"k": {"k": [1]}}}, {1: "int key", None: 0, False: 1, 2.5: 3},
])
@pytest.mark.parametrize("indent", [2, 4])
def test_encode_json_writes_what_json_dumps_writes(value, indent):
    assert encoder_module.encode_json(value, indent) == json.dumps(value, indent=indent, allow_nan=False)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")], {float("nan"): 1}])
def test_encode_json_refuses_what_is_not_json(value):
    with pytest.raises(ValueError):
        json.dumps(value, allow_nan=False)
    with pytest.raises(encoder_module.NotJSON, match="is not a JSON number"):
        encoder_module.encode_json(value)


def test_the_encoder_writes_what_asnfile_dumps_writes(tmp_path):
    provenance = Provenance("r", "pack", "1.0", "0.1.0")
    members = (Member("a_cal.asdf"), Member("b_cal.asdf", "direct_image", "exposerr: LOST"),
               Member("c_cal.asdf", extra={"asn_candidate": "[('o001', 'observation')]", "group_id": "g1"}))
    associations = [
        Association(products=(Product("p1", members),), asn_id="a3001", provenance=provenance, target="M 31"),
        Association(products=(Product("p2", members[:1]), Product("p3", members[1:])), asn_id="a3002",
                    extra={"psf_match_reference_filter": "F158", "counts": [1, 2.5]}),
        Association(products=(Product("p4", members),), asn_id="a3003", skycell_wcs_info={
            "name": "270p65x48y69", "pixel_scale": 1.5e-05, "ra_projection_center": 270.0,
            "dec_projection_center": 65.0, "x0_projection": 1.0, "y0_projection": 2.0, "ra_center": 270.1,
            "dec_center": 65.1, "nx": 5000, "ny": 5000, "orientat": 0.0, "orientat_projection_center": 0.0}),
    ]
    for prefix in (None, "../exposures"):
        encoder = encoder_module.Encoder("json", prefix)
        for association in associations * 2:  # members checked once, encoded the same again
            expected = asnfile.dumps(encoder._relocated(association), "json")
            assert encoder.encode(association, "x.json") == expected
    for fmt in ("yaml", "asdf"):
        assert encoder_module.Encoder(fmt).encode(associations[0], "x") == asnfile.dumps(associations[0], fmt)


def test_the_encoder_names_the_file_of_an_invalid_association():
    encoder = encoder_module.Encoder("json")
    bad = Association(products=(Product("p", (Member(""),)),), asn_id="a3001")
    with pytest.raises(AsnError, match="x_asn.json: invalid association.*expname"):
        encoder.encode(bad, "x_asn.json")
    with pytest.raises(AsnError, match="x_asn.json: invalid association"):
        encoder.encode(Association(products=(Product("p", (Member("a"),)),), asn_id="3001"), "x_asn.json")
