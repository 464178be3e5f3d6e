"""End to end: the three WFI packs on examples/pool.ecsv and on romancal's legacy pools,
and the skycell pack on examples/pool.ecsv with examples/skymap.asdf (as ``make run``).

The expected associations are written down from the pool's design (see
examples/make_example_pool.py and examples/README.md), not copied from the
output. The packs must be installed (``make setup`` installs them editable);
the allow list keeps any other installed pack out of these runs.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from romanasn import RunConfig, generate, get_plugin_manager, read_pool, strip_level
from romanasn.testing import run_romanasn

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "pool.ecsv"
LEGACY = Path(__file__).parent / "data"  # romancal's own pools, copied from its tests

PACKS = {
    "romanasn-wfi-imaging": ["wfi_image_exposure", "wfi_image_fov", "wfi_image_full", "wfi_image_pass",
                             "wfi_image_visit"],
    "romanasn-wfi-spectral": ["wfi_spec_exposure", "wfi_spec_full", "wfi_spec_pass", "wfi_spec_visit"],
    "romanasn-wfi-calibration": ["wfi_dark", "wfi_flat", "wfi_lolo", "wfi_wfsc"],
}
ONLY_THE_PACKS = {"ROMANASN_PLUGINS": ",".join(PACKS)}

# -- the pool's design -------------------------------------------------------------

P1V1 = "0000101001001001001"  # program 1, execution plan 1, pass 1, visit 1
P1V2 = "0000101001001001002"  # program 1, pass 1, visit 2
P1P2 = "0000101002001001001"  # program 1, pass 2, visit 1
P2V1 = "0000201001001001001"  # program 2, pass 1, visit 1
DARKS, FLATS = "0000201001001002001", "0000201001001003001"
WFSC, LOLO = "0000201001001004001", "0000201001001005001"
DETECTORS = range(1, 19)

IMAGES = [(P1V1, 1, "F158"), (P1V1, 2, "F158"), (P1V1, 3, "F087"), (P1V2, 1, "F158"), (P1V2, 2, "F158"),
          (P1P2, 1, "F158"), (P1P2, 2, "F213"), (P2V1, 1, "F087"), (P2V1, 2, "F087")]
SPECTRA = [(P1V2, 3, "GRISM"), (P1P2, 3, "GRISM"), (P1P2, 4, "PRISM"), (P2V1, 3, "PRISM")]
DEGRADED = (P1V1, 2, "F158")  # engineering_quality SUSPECT


def files(exposures, suffix="cal", detectors=DETECTORS):
    """The file names of ``exposures`` ((visit, exposure, element) triples), all detectors."""
    return {f"r{v}_{e:04d}_wfi{d:02d}_{el.lower()}_{suffix}.asdf" for v, e, el in exposures for d in detectors}


def expected():
    """{rule: {product name: (asn_type, {(member file, exptype)})}}, from the design alone."""
    def science(exposures, suffix="cal", detectors=DETECTORS):
        return {(name, "science") for name in files(exposures, suffix, detectors)}

    rules = {}
    rules["wfi_image_exposure"] = {  # 9 imaging exposures x 18 detectors = 162
        f"r{v}_{e:04d}_wfi{d:02d}_{el.lower()}": ("image2", science([(v, e, el)], "uncal", [d]))
        for v, e, el in IMAGES for d in DETECTORS}
    rules["wfi_image_fov"] = {  # one per imaging exposure: 9, each 18 members
        f"r{v}_{e:04d}_wfi_{el.lower()}": ("fov", science([(v, e, el)])) for v, e, el in IMAGES}
    rules["wfi_image_visit"] = {
        "r00001_p_v01001001001001_f158": ("image3", science([(P1V1, 1, "F158"), (P1V1, 2, "F158")])),  # 36
        "r00001_p_v01001001001001_f087": ("image3", science([(P1V1, 3, "F087")])),  # 18
        "r00001_p_v01001001001002_f158": ("image3", science([(P1V2, 1, "F158"), (P1V2, 2, "F158")])),  # 36
        "r00001_p_v01002001001001_f158": ("image3", science([(P1P2, 1, "F158")])),  # 18
        "r00001_p_v01002001001001_f213": ("image3", science([(P1P2, 2, "F213")])),  # 18
        "r00002_p_v01001001001001_f087": ("image3", science([(P2V1, 1, "F087"), (P2V1, 2, "F087")])),  # 36
    }
    rules["wfi_image_pass"] = {
        # program 1, pass 1, F158: 4 exposures x 18 detectors = 72 members
        "r00001_p_p01001_f158": ("image3", science([(P1V1, 1, "F158"), (P1V1, 2, "F158"),
                                                    (P1V2, 1, "F158"), (P1V2, 2, "F158")])),
        "r00001_p_p01001_f087": ("image3", science([(P1V1, 3, "F087")])),
        "r00001_p_p01002_f158": ("image3", science([(P1P2, 1, "F158")])),
        "r00001_p_p01002_f213": ("image3", science([(P1P2, 2, "F213")])),
        "r00002_p_p01001_f087": ("image3", science([(P2V1, 1, "F087"), (P2V1, 2, "F087")])),
    }
    rules["wfi_image_full"] = {
        # program 1, F158: 5 exposures x 18 = 90 members
        "r00001_p_full_f158": ("image3", science([(P1V1, 1, "F158"), (P1V1, 2, "F158"), (P1V2, 1, "F158"),
                                                  (P1V2, 2, "F158"), (P1P2, 1, "F158")])),
        "r00001_p_full_f087": ("image3", science([(P1V1, 3, "F087")])),
        "r00001_p_full_f213": ("image3", science([(P1P2, 2, "F213")])),
        "r00002_p_full_f087": ("image3", science([(P2V1, 1, "F087"), (P2V1, 2, "F087")])),
    }
    direct = {P1V2: [(P1V2, 1, "F158"), (P1V2, 2, "F158")], P1P2: [(P1P2, 1, "F158"), (P1P2, 2, "F213")],
              P2V1: [(P2V1, 1, "F087"), (P2V1, 2, "F087")]}
    rules["wfi_spec_exposure"] = {  # 4 spectral exposures x 18 = 72, each with its visit's 2 direct images
        f"r{v}_{e:04d}_wfi{d:02d}_{el.lower()}": (
            "spec2", science([(v, e, el)], "uncal", [d])
            | {(name, "direct_image") for name in files(direct[v], "cal", [d])})
        for v, e, el in SPECTRA for d in DETECTORS}
    rules["wfi_spec_visit"] = {
        "r00001_p_v01001001001002_grism": ("spec3", science([(P1V2, 3, "GRISM")])),
        "r00001_p_v01002001001001_grism": ("spec3", science([(P1P2, 3, "GRISM")])),
        "r00001_p_v01002001001001_prism": ("spec3", science([(P1P2, 4, "PRISM")])),
        "r00002_p_v01001001001001_prism": ("spec3", science([(P2V1, 3, "PRISM")])),
    }
    rules["wfi_spec_pass"] = {
        "r00001_p_p01001_grism": ("spec3", science([(P1V2, 3, "GRISM")])),
        "r00001_p_p01002_grism": ("spec3", science([(P1P2, 3, "GRISM")])),
        "r00001_p_p01002_prism": ("spec3", science([(P1P2, 4, "PRISM")])),
        "r00002_p_p01001_prism": ("spec3", science([(P2V1, 3, "PRISM")])),
    }
    rules["wfi_spec_full"] = {
        "r00001_p_full_grism": ("spec3", science([(P1V2, 3, "GRISM"), (P1P2, 3, "GRISM")])),  # 36
        "r00001_p_full_prism": ("spec3", science([(P1P2, 4, "PRISM")])),
        "r00002_p_full_prism": ("spec3", science([(P2V1, 3, "PRISM")])),
    }
    rules["wfi_dark"] = {}  # per detector: im_dark IMG_16 (2 exposures), im_dark IMG_8, sp_dark SPEC_12: 54
    for kind, table, exposures in (("im_dark", "img_16", [1, 2]), ("im_dark", "img_8", [3]),
                                   ("sp_dark", "spec_12", [4])):
        for d in DETECTORS:
            rules["wfi_dark"][f"r00002_p_{kind}_wfi{d:02d}_{table}"] = (
                "dark", science([(DARKS, e, "DARK") for e in exposures], "uncal", [d]))
    rules["wfi_flat"] = {}  # per detector: F158 (2 exposures), F087: 36
    for element, exposures in (("F158", [1, 2]), ("F087", [3])):
        for d in DETECTORS:
            rules["wfi_flat"][f"r00002_p_flat_wfi{d:02d}_{element.lower()}"] = (
                "flat", science([(FLATS, e, element) for e in exposures], "uncal", [d]))
    rules["wfi_wfsc"] = {  # 2 exposures x 18 = 36
        "r00002_p_wfsc_v01001001004001": ("wfsc", science([(WFSC, 1, "F158"), (WFSC, 2, "F158")], "uncal"))}
    rules["wfi_lolo"] = {"r00002_p_lolo_v01001001005001": ("lolo", science([(LOLO, 1, "F158")], "uncal"))}
    return rules


EXPECTED_COUNTS = {"wfi_image_exposure": 162, "wfi_image_fov": 9, "wfi_image_visit": 6, "wfi_image_pass": 5,
                   "wfi_image_full": 4, "wfi_spec_exposure": 72, "wfi_spec_visit": 4, "wfi_spec_pass": 4,
                   "wfi_spec_full": 3, "wfi_dark": 54, "wfi_flat": 36, "wfi_wfsc": 1, "wfi_lolo": 1}
NO_MA_TABLE = files([(DARKS, 5, "DARK")], "uncal")


def run(pool, **options):
    pm = get_plugin_manager(allow=list(PACKS))
    return generate(pool, config=RunConfig(pool_name="pool", options=options), plugin_manager=pm)


def made(result):
    return {rule: {a.product_name: (a.asn_type, {(m.expname, m.exptype) for m in a.members})
                   for a in result.associations if a.asn_rule == rule}
            for rule in {a.asn_rule for a in result.associations}}


@pytest.fixture(scope="module")
def pool():
    return read_pool(EXAMPLE)


@pytest.fixture(scope="module")
def result(pool):
    return run(pool)


# -- the pool -------------------------------------------------------------------------


def test_the_committed_pool_is_what_the_script_makes(tmp_path):
    script = ROOT / "examples" / "make_example_pool.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "pool.ecsv")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pool.ecsv").read_bytes() == EXAMPLE.read_bytes()


def test_the_pool_has_the_designed_rows(pool):
    assert len(pool) == 24 * 18
    assert sorted(set(pool["program"])) == [1, 2]
    assert set(pool["optical_element"]) == {"F158", "F087", "F213", "GRISM", "PRISM", "DARK"}
    pointed = pool[pool["s_region"] != ""]
    # every imaging exposure (9 x 18 rows), and nothing else, points at the sky
    assert len(pointed) == len(IMAGES) * 18 and set(pointed["exposure_type"]) == {"WFI_IMAGE"}
    assert set(pointed["visit_id"]) == {v for v, _, _ in IMAGES}
    assert not pointed["ra_ref"].mask.any() and all(pointed["start_time"])
    # near RA 2, Dec 86.4: inside the example sky map (its region: RA 345.9-18.1, Dec 85.4-87.4)
    assert all(85.6 < dec < 87.2 for dec in pointed["dec_ref"])
    assert all(abs((ra - 2 + 180) % 360 - 180) < 12 for ra in pointed["ra_ref"])


# -- the associations ------------------------------------------------------------------


def test_each_rule_gives_the_designed_associations(result):
    assert made(result) == expected()
    assert result.counts == EXPECTED_COUNTS
    assert len(result.associations) == 361


def test_every_association_is_named_and_provenanced_by_its_pack(result):
    owner = {rule: pack for pack, rules in PACKS.items() for rule in rules}
    for association in result.associations:
        assert association.provenance.plugin == owner[association.asn_rule]
        assert association.program == ("00001" if association.product_name.startswith("r00001") else "00002")


def test_the_dark_without_ma_table_is_vetoed_and_left_over(result):
    assert {v.filename for v in result.vetoes} == NO_MA_TABLE
    assert {(v.rule, v.plugin) for v in result.vetoes} == {("wfi_dark", "romanasn-wfi-calibration 0.1.0")}
    assert set(result.orphans) == NO_MA_TABLE


def test_the_degraded_exposure_is_flagged_where_it_is_a_member(result):
    degraded_members = files([DEGRADED], "uncal") | files([DEGRADED], "cal")
    flagged = {a.product_name for a in result.associations
               if a.degraded_status.startswith("One or more members are degraded")}
    assert flagged == ({f"r{P1V1}_0002_wfi{d:02d}_f158" for d in DETECTORS}
                       | {f"r{P1V1}_0002_wfi_f158", "r00001_p_v01001001001001_f158", "r00001_p_p01001_f158",
                          "r00001_p_full_f158"})
    for association in result.associations:
        for member in association.members:
            assert member.degraded == (member.expname in degraded_members)
            if member.degraded:
                assert member.exposerr == "engineering_quality: SUSPECT"


def test_drop_degraded_vetoes_exactly_the_rows_the_kernel_flags(pool, result):
    flagged = {strip_level(m.expname) for a in result.associations for m in a.members if m.degraded}
    dropped = run(pool, drop_degraded=True)
    by_option = [v for v in dropped.vetoes if "--drop-degraded" in v.reason]
    assert {strip_level(v.filename) for v in by_option} == flagged
    assert sorted({v.rule for v in by_option}) == ["wfi_image_exposure", "wfi_image_fov", "wfi_image_full",
                                                   "wfi_image_pass", "wfi_image_visit"]
    assert len(by_option) == 5 * 18
    counts = dict(EXPECTED_COUNTS, wfi_image_exposure=144, wfi_image_fov=8)
    assert dropped.counts == counts
    sizes = {a.product_name: len(a.members) for a in dropped.associations}
    assert (sizes["r00001_p_v01001001001001_f158"], sizes["r00001_p_p01001_f158"],
            sizes["r00001_p_full_f158"]) == (18, 54, 72)
    assert not any(a.degraded_status.startswith("One or more") for a in dropped.associations)


# -- the skycell pack with the example sky map (make run) ------------------------------

SKYMAP = ROOT / "examples" / "skymap.asdf"
#: Skycells each imaging visit meets per filter (both dithered exposures together), counted
#: apart from the pack: footprints and skycell corners in one gnomonic plane, a
#: separating-axis test. A field of 0.83 x 0.46 deg meets about 12 x 7.5 skycells (0.073 deg apart).
VISIT_CELLS = {(P1V1, "F158"): 90, (P1V1, "F087"): 89, (P1V2, "F158"): 89, (P1P2, "F158"): 87,
               (P1P2, "F213"): 88, (P2V1, "F087"): 85}
#: F158 skycells that visits 1 and 2 of pass 1 share (their fields overlap by 0.075 deg: 2 rows
#: of skycells), and that pass 2 (the first field again, turned) shares with pass 1.
SHARED_P1V1_P1V2, SHARED_PASS2_PASS1 = 23, 81
SKYCELL_COUNTS = {
    "skycell_visit": sum(VISIT_CELLS.values()),  # 528
    "skycell_pass": sum(VISIT_CELLS.values()) - SHARED_P1V1_P1V2,  # 505
    "skycell_daily": sum(VISIT_CELLS.values()) - SHARED_P1V1_P1V2,  # 505: one segment a pass
    "skycell_full": sum(VISIT_CELLS.values()) - SHARED_P1V1_P1V2 - SHARED_PASS2_PASS1,  # 424
    "skycell_multiband": 352 + 329 + 329 + 248,  # 1258: visit, pass, daily, full (filters merged)
}


@pytest.fixture(scope="module")
def skycell_result(pool):
    pytest.importorskip("romanasn_skycell")
    pm = get_plugin_manager(allow=[*PACKS, "romanasn-skycell"])
    return generate(pool, config=RunConfig(pool_name="pool", options={"skymap": str(SKYMAP)}), plugin_manager=pm)


def skycells(result, rule):
    """{(program, grouping code, element or None): {skycell}} of one skycell rule's associations."""
    found = {}
    for association in result.associations:
        if association.asn_rule == rule:
            program, _, code, skycell, *element = association.product_name.split("_")
            assert (skycell, program[1:]) == (association.target, association.program)
            found.setdefault((int(program[1:]), code, *(element or [None])), set()).add(skycell)
    return found


def test_every_imaging_exposure_is_placed_on_skycells(skycell_result):
    result = skycell_result
    assert not [v for v in result.vetoes if v.rule.startswith("skycell")]
    counts = dict(result.counts)
    assert {rule: counts.pop(rule) for rule in SKYCELL_COUNTS} == SKYCELL_COUNTS
    assert counts == EXPECTED_COUNTS
    assert len(result.associations) == 361 + 3220
    by_visit = [a for a in result.associations if a.asn_rule == "skycell_visit"]
    assert {m.expname for a in by_visit for m in a.members} == files(IMAGES)
    for association in by_visit:  # members: the visit's exposures in the product's filter
        code, element = association.product_name.split("_")[2], association.product_name.rsplit("_", 1)[1]
        assert {m.expname for m in association.members} <= files(
            [(v, e, el) for v, e, el in IMAGES if "v" + v[5:] == code and el.lower() == element])


def test_skycells_of_passes_days_and_programs_are_the_unions_of_their_visits(skycell_result):
    visits = skycells(skycell_result, "skycell_visit")
    cells = {(v, el): visits[int(v[:5]), "v" + v[5:], el.lower()] for v, el in VISIT_CELLS}
    assert {key: len(found) for key, found in cells.items()} == VISIT_CELLS and len(visits) == len(VISIT_CELLS)
    pass1 = cells[P1V1, "F158"] | cells[P1V2, "F158"]
    assert len(cells[P1V1, "F158"] & cells[P1V2, "F158"]) == SHARED_P1V1_P1V2
    assert len(pass1 & cells[P1P2, "F158"]) == SHARED_PASS2_PASS1
    passes = {(1, "p01001", "f158"): pass1, (1, "p01001", "f087"): cells[P1V1, "F087"],
              (1, "p01002", "f158"): cells[P1P2, "F158"], (1, "p01002", "f213"): cells[P1P2, "F213"],
              (2, "p01001", "f087"): cells[P2V1, "F087"]}
    assert skycells(skycell_result, "skycell_pass") == passes
    days = {(program, "d" + code[1:] + "001", element): found for (program, code, element), found in passes.items()}
    assert skycells(skycell_result, "skycell_daily") == days
    full = {(1, "full", "f158"): pass1 | cells[P1P2, "F158"], (1, "full", "f087"): cells[P1V1, "F087"],
            (1, "full", "f213"): cells[P1P2, "F213"], (2, "full", "f087"): cells[P2V1, "F087"]}
    assert skycells(skycell_result, "skycell_full") == full
    multiband = {}  # one a grouping and skycell, whatever the filters
    for groups in (visits, passes, days, full):
        for (program, code, _), found in groups.items():
            multiband.setdefault((program, code, None), set()).update(found)
    assert skycells(skycell_result, "skycell_multiband") == multiband
    per_grouping = [sum(len(found) for (_, code, _), found in multiband.items() if code[0] == letter)
                    for letter in "vpdf"]
    assert per_grouping == [352, 329, 329, 248]


# -- the command line (make run) -------------------------------------------------------


def test_generate_writes_one_file_per_association(tmp_path):
    out = tmp_path / "out"
    done = run_romanasn("generate", EXAMPLE, "-o", out, "--overwrite", env=ONLY_THE_PACKS)
    assert done.returncode == 0, done.stderr
    names = {f"{name}_asn.json" for products in expected().values() for name in products}
    assert {p.name for p in out.iterdir()} == names | {"romanasn-run.json"}
    fov = json.loads((out / f"r{P1V1}_0001_wfi_f158_asn.json").read_text())
    assert (fov["asn_type"], fov["asn_rule"], fov["asn_pool"], fov["program"]) == (
        "fov", "wfi_image_fov", "pool", "00001")
    report = json.loads((out / "romanasn-run.json").read_text())
    assert report["counts"] == EXPECTED_COUNTS


def test_plugins_lists_the_three_packs():
    done = run_romanasn("plugins", "--json", env=ONLY_THE_PACKS)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    for pack, rules in PACKS.items():
        assert (rows[pack]["status"], rows[pack]["rules"]) == ("active", rules)


@pytest.mark.parametrize("blocked", list(PACKS))
def test_blocking_a_pack_removes_exactly_its_rules(blocked, tmp_path):
    others = sorted(rule for pack, rules in PACKS.items() if pack != blocked for rule in rules)
    done = run_romanasn("-p", f"no:{blocked}", "rules", "--json", env=ONLY_THE_PACKS)
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)] == others
    done = run_romanasn("-p", f"no:{blocked}", "generate", EXAMPLE, "-o", tmp_path / "out", env=ONLY_THE_PACKS)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "romanasn-run.json").read_text())
    assert report["counts"] == {rule: EXPECTED_COUNTS[rule] for rule in others}
    if blocked != "romanasn-wfi-imaging":
        return
    # the spectral pack still finds its direct images without the imaging pack
    spec2 = json.loads((tmp_path / "out" / f"r{P1V2}_0003_wfi09_grism_asn.json").read_text())
    assert {(m["expname"], m["exptype"]) for m in spec2["products"][0]["members"]} == \
        expected()["wfi_spec_exposure"][f"r{P1V2}_0003_wfi09_grism"][1]


# -- romancal's legacy pools -----------------------------------------------------------


@pytest.mark.parametrize(("name", "exposures"), [("pool_001_candidates.csv", 3), ("pool_002_wfi_image.csv", 2)])
def test_legacy_pools_give_an_18_detector_fov_per_row_and_nothing_crashes(name, exposures):
    result = run(read_pool(LEGACY / name))
    rows = [(f"r0099201005001001001_00101_{e:04d}_wfi", e) for e in range(1, exposures + 1)]
    fovs = {a.product_name: {m.expname for m in a.members}
            for a in result.associations if a.asn_rule == "wfi_image_fov"}
    assert fovs == {product: {f"r0099201005001001001_00101_{e:04d}_wfi{d:02d}_cal.asdf" for d in DETECTORS}
                    for product, e in rows}
    counts = {rule: 0 for rules in PACKS.values() for rule in rules}
    counts.update(wfi_image_exposure=18 * exposures, wfi_image_fov=exposures, wfi_image_visit=1,
                  wfi_image_pass=1, wfi_image_full=1)
    assert result.counts == counts
    assert not result.vetoes and not result.orphans
    assert all(m.extra["asn_candidate"].startswith("[('o00") for a in result.associations for m in a.members)


def test_target_is_the_skycell_name_or_romancals_none(result, skycell_result):
    """romancal resamples onto the skycell named by ``target`` unless it is "None"."""
    skycell_rules = {a.asn_rule for a in skycell_result.associations if a.asn_rule.startswith("skycell_")}
    assert skycell_rules and all(isinstance(a.target, str) for a in skycell_result.associations)
    for association in skycell_result.associations:
        if association.asn_rule in skycell_rules:
            assert association.target == association.skycell_wcs_info["name"]
        else:
            assert association.target == "None"
    assert {a.target for a in result.associations} == {"None"}
