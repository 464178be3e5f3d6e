"""Compare romanasn-skycell with romancal 1.1.0's ``skycell_asn`` on the same files and sky map.

Usage (from the repository root, with romanasn and this pack installed)::

    .venv/bin/python plugins/romanasn-skycell/scripts/compare_romancal.py [--venv DIR] [--work DIR]
        [--skymap MAP] [--footprints]

1. Makes (if missing) a virtual environment with romancal==1.1.0 (default
   /tmp/romancal-venv).
2. In that environment, writes small but real Level 2 files
   (``ImageModel``, 8x8 pixels) whose WCS is a TAN projection over a full
   4088x4088 detector (bounding box), with ``wcsinfo.s_region`` and
   ``ra_ref/dec_ref/roll_ref`` from the same WCS: six 18-detector exposures
   of program 1 near the north pole, across RA 0 and the polar cap's border
   (four overlapping visits, two passes, two filters), on romancal's own sky
   map subset by default.
3. Makes the pool with ``romanasn make-pool`` and runs ``romanasn generate
   --skymap MAP --rules skycell_visit,skycell_pass,skycell_full``.
4. Runs romancal's ``skycell_asn`` (visit, pass, full) on the files with
   ``SKYMAP_PATH=MAP`` (in one process; romancal matches every file again
   for each grouping, so the file index is computed once and reused, which
   changes nothing in its result).
5. Compares, per grouping: the product names (so the skycells and filters),
   the member set of each, ``target``, ``asn_type``, ``program``,
   ``data_release_id`` and every ``skycell_wcs_info`` value (exactly), and
   prints the counts and any difference. Exit status 0 when all agree.

``--footprints`` also compares the skycells of 200 random footprints (around
the pole, across RA 0, along region edges) from romancal's
``find_skycell_matches`` with the pack's, and rewrites
``tests/data/romancal_matches.json`` (slow: romancal needs about a second
per footprint).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACK = HERE.parent
DEFAULT_MAP = PACK / "tests" / "data" / "skymap_subset.asdf"
ROMANCAL = "romancal==1.1.0"

#: (visit id, exposure, filter, RA, Dec, roll) of the exposures compared: visits that overlap, so the
#: pass and full associations merge members of several visits
EXPOSURES = [
    ("0000101001001001001", 1, "F158", 2.0, 86.4, 30.0),      # pass 1, segment 1: across RA 0
    ("0000101001001001001", 2, "F158", 2.01, 86.41, 30.0),
    ("0000101001001001001", 3, "F087", 2.0, 86.4, 30.0),
    ("0000101001002001001", 1, "F158", 1.5, 86.6, 60.0),      # pass 1, segment 2: overlaps visit 1
    ("0000101002001001001", 1, "F158", 0.5, 86.7, 120.0),     # pass 2: overlaps both
    ("0000101002001001002", 1, "F158", 359.9, 88.05, 200.0),  # pass 2: across the polar cap's border
]
GROUPINGS = ("visit", "pass", "full")

# -- code run inside the romancal environment ------------------------------------------------

MAKE_FILES = textwrap.dedent('''
    import json, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from astropy import coordinates, units as u
    from astropy.modeling import models
    from gwcs import WCS, coordinate_frames
    import roman_datamodels.datamodels as rdm

    SIZE, SCALE = 4088, 0.11 / 3600
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    for f in spec:
        t = np.radians(f["roll"])
        matrix = SCALE * np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
        centre = (SIZE - 1) / 2
        transform = ((models.Shift(-centre) & models.Shift(-centre))
                     | models.AffineTransformation2D(matrix=matrix)
                     | models.Pix2Sky_TAN()
                     | models.RotateNative2Celestial(f["ra"], f["dec"], 180.0))
        detector = coordinate_frames.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
        sky = coordinate_frames.CelestialFrame(reference_frame=coordinates.ICRS(), name="world", unit=(u.deg, u.deg))
        wcs = WCS([(detector, transform), (sky, None)])
        wcs.bounding_box = ((-0.5, SIZE - 0.5), (-0.5, SIZE - 0.5))
        corners = wcs.footprint(center=False)
        model = rdm.ImageModel.create_fake_data(shape=(8, 8))
        meta = model.meta
        meta.filename = f["filename"]
        meta.wcs = wcs
        meta.exposure.type = "WFI_IMAGE"
        meta.instrument.detector = f["detector"]
        meta.instrument.optical_element = f["optical_element"]
        for key, value in f["observation"].items():
            meta.observation[key] = value
        meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = f["ra"], f["dec"], f["roll"]
        meta.wcsinfo.s_region = "POLYGON ICRS  " + " ".join(f"{ra:.12f} {dec:.12f}" for ra, dec in corners)
        model.save(f"{out}/{f['filename']}")
''')

RUN_SKYCELL_ASN = textwrap.dedent('''
    import functools, os, sys, warnings
    warnings.simplefilter("ignore")
    import romancal
    import romancal.associations.skycell_asn as sa
    assert romancal.__version__.startswith("1.1.0"), romancal.__version__
    # romancal matches every file again for each grouping: reuse the index (same input, same result)
    original = sa._create_intersecting_skycell_index
    cached = functools.lru_cache(maxsize=None)(lambda files: original(list(files)))
    sa._create_intersecting_skycell_index = lambda files: cached(tuple(files))
    files = sys.argv[2:]
    for grouping in ("visit", "pass", "full"):
        os.makedirs(os.path.join(sys.argv[1], grouping), exist_ok=True)
        sa.skycell_asn(files, os.path.join(sys.argv[1], grouping, "r00001"), grouping, "p")
''')

MATCH_FOOTPRINTS = textwrap.dedent('''
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import romancal.skycell.match as sm
    import romancal.skycell.skymap as sc
    skymap = sc.SkyMap(sys.argv[2])
    found = []
    for s in json.load(open(sys.argv[1])):
        vertices = np.array(s.split()[2:], float).reshape(-1, 2)
        matches = sorted(sm.find_skycell_matches([tuple(v) for v in vertices], skymap=skymap))
        found.append([str(n) for n in skymap.model.skycells["name"][matches]])
    json.dump(found, open(sys.argv[3], "w"))
''')


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    ok = python.exists() and subprocess.run(
        [str(python), "-c", "import romancal, sys; sys.exit(romancal.__version__ != '1.1.0')"],
        capture_output=True).returncode == 0
    if not ok:
        print(f"making {venv} with {ROMANCAL} (a few minutes) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", ROMANCAL], check=True)
    return python


def run_in(python: Path, code: str, *args: str, env: dict | None = None) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        environment = dict(os.environ)
        environment.update(env or {})
        done = subprocess.run([str(python), f.name, *map(str, args)], capture_output=True, text=True, env=environment)
        if done.returncode != 0:
            raise SystemExit(f"romancal environment step failed:\n{done.stdout}\n{done.stderr}")
    finally:
        os.unlink(f.name)


def file_spec() -> list[dict]:
    from romanasn_skycell.testing import detector_polygons

    spec = []
    for visit_id, exposure, element, ra, dec, roll in EXPOSURES:
        centres, _ = detector_polygons(ra, dec, roll)
        observation = {
            "visit_id": visit_id, "program": int(visit_id[0:5]), "execution_plan": int(visit_id[5:7]),
            "pass": int(visit_id[7:10]), "segment": int(visit_id[10:13]), "observation": int(visit_id[13:16]),
            "visit": int(visit_id[16:19]), "visit_file_group": 1, "visit_file_sequence": 1,
            "visit_file_activity": "01", "exposure": exposure,
            "observation_id": f"{visit_id}01101{exposure:04d}",
        }
        for number in range(1, 19):
            spec.append({
                "filename": f"r{visit_id}_{exposure:04d}_wfi{number:02d}_{element.lower()}_cal.asdf",
                "detector": f"WFI{number:02d}", "optical_element": element,
                "ra": float(centres[number - 1, 0]), "dec": float(centres[number - 1, 1]),
                # the detector's own roll: the focal plane's roll, to within the layout's approximation
                "roll": roll, "observation": observation,
            })
    return spec


def romancal_results(folder: Path) -> dict[str, dict[str, dict]]:
    found = {}
    for grouping in GROUPINGS:
        found[grouping] = {}
        for path in sorted((folder / grouping).glob("*_asn.json")):
            asn = json.loads(path.read_text())
            # romancal puts the output root, folder included, in the product name
            found[grouping][Path(asn["products"][0]["name"]).name] = asn
    return found


def romanasn_results(folder: Path) -> dict[str, dict[str, dict]]:
    found = {g: {} for g in GROUPINGS}
    for path in sorted(folder.glob("*_asn.json")):
        asn = json.loads(path.read_text())
        grouping = asn["asn_rule"].replace("skycell_", "")
        if grouping in found:
            found[grouping][asn["products"][0]["name"]] = asn
    return found


def compare(theirs: dict, ours: dict) -> int:
    problems = 0
    for grouping in GROUPINGS:
        a, b = theirs[grouping], ours[grouping]
        only_theirs, only_ours = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        members = 0
        for name in sorted(set(a) & set(b)):
            x, y = a[name], b[name]
            mx = {Path(m["expname"]).name for m in x["products"][0]["members"]}
            my = {Path(m["expname"]).name for m in y["products"][0]["members"]}
            members += len(mx)
            checks = {
                "members": (sorted(mx), sorted(my)),
                "skycell_wcs_info": (x["skycell_wcs_info"], y["skycell_wcs_info"]),
                "target": (x["target"], y["target"]),
                "asn_type": (x["asn_type"], y["asn_type"]),
                "program": (x["program"], y["program"]),
                "data_release_id": (x["data_release_id"], y["data_release_id"]),
            }
            for what, (left, right) in checks.items():
                if left != right:
                    problems += 1
                    print(f"  {grouping} {name}: {what} differs:\n    romancal {left}\n    romanasn {right}")
        skycells = {asn["target"] for asn in a.values()}
        print(f"{grouping}: romancal {len(a)} associations, romanasn {len(b)}; {len(skycells)} skycells; "
              f"{members} memberships compared; only romancal: {len(only_theirs)}, only romanasn: {len(only_ours)}")
        for name in only_theirs:
            print(f"  only in romancal: {name}")
        for name in only_ours:
            print(f"  only in romanasn: {name}")
        problems += len(only_theirs) + len(only_ours)
    return problems


def random_footprints(n: int = 200, seed: int = 1) -> list[str]:
    """Quadrilaterals around the pole, across RA 0, along the subset's region edges."""
    from romanasn_skycell import sphere
    from romanasn_skycell.footprints import s_region_text

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        kind = k % 5
        if kind == 0:
            ra, dec = rng.uniform(0, 360), rng.uniform(88.0, 89.99)
        elif kind == 1:
            ra, dec = rng.uniform(-25, 25) % 360, rng.uniform(84.4, 88.4)
        elif kind == 2:
            ra, dec = rng.uniform(-25, 25) % 360, rng.uniform(88.1, 88.35)
        elif kind == 3:
            ra, dec = (rng.choice([337.5, 22.5]) + rng.uniform(-1, 1)) % 360, rng.uniform(84.5, 88.3)
        else:
            ra, dec = rng.uniform(-3, 3) % 360, rng.uniform(84.4, 85.2)
        size, roll = rng.uniform(0.02, 0.3), rng.uniform(0, 360)
        plane = sphere.Tangent(ra, dec, roll, 1.0)
        h = size / 2
        corners = np.array([[-h, -h], [h, -h * rng.uniform(0.5, 1.5)], [h, h], [-h * rng.uniform(0.5, 1.5), h]])
        r, d = plane.deproject_radec(corners)
        out.append(s_region_text(np.stack((r, d), axis=1)))
    return out


def compare_footprints(python: Path, skymap: Path, work: Path) -> int:
    from romanasn_skycell.footprints import parse_s_region
    from romanasn_skycell.skymap import SkyMap

    regions = random_footprints()
    (work / "footprints.json").write_text(json.dumps(regions))
    print(f"romancal: matching {len(regions)} footprints (slow) ...", flush=True)
    run_in(python, MATCH_FOOTPRINTS, work / "footprints.json", skymap, work / "romancal_footprints.json")
    theirs = json.loads((work / "romancal_footprints.json").read_text())
    sky = SkyMap(skymap)
    which, cells = sky.match_radec([parse_s_region(s) for s in regions])
    differ = 0
    for k, names in enumerate(theirs):
        mine = sorted(sky.name(c) for c in cells[which == k])
        if mine != sorted(names):
            differ += 1
            print(f"  footprint {k}: romancal {sorted(names)}, romanasn {mine}")
    print(f"footprints: {len(regions)} compared, {sum(map(len, theirs))} skycell matches, {differ} differ")
    if skymap.resolve() == DEFAULT_MAP.resolve() and not differ:
        target = PACK / "tests" / "data" / "romancal_matches.json"
        data = json.loads(target.read_text()) if target.exists() else {"cases": []}
        known = {case["s_region"] for case in data["cases"]}
        data["cases"] += [{"s_region": s, "skycells": sorted(n)} for s, n in zip(regions, theirs) if s not in known]
        target.write_text(json.dumps(data, indent=0))
    return differ


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/romancal-venv"))
    parser.add_argument("--work", type=Path, help="keep the files here (default: a temporary folder)")
    parser.add_argument("--skymap", type=Path, default=DEFAULT_MAP)
    parser.add_argument("--footprints", action="store_true", help="also compare 200 random footprints (slow)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the files and romancal's associations already in --work; rerun romanasn and compare")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-romancal-"))
    work.mkdir(parents=True, exist_ok=True)
    skymap = args.skymap.resolve()
    python = ensure_venv(args.venv)

    files = work / "files"
    files.mkdir(exist_ok=True)
    spec = file_spec()
    reuse = args.reuse and all((work / "romancal" / g).is_dir() for g in GROUPINGS)
    if not reuse:
        (work / "spec.json").write_text(json.dumps(spec))
        print(f"writing {len(spec)} Level 2 files in {files} ...", flush=True)
        run_in(python, MAKE_FILES, work / "spec.json", files)

    romanasn = [sys.executable, "-m", "romanasn"]
    subprocess.run(romanasn + ["make-pool", str(files), "-o", str(work / "pool.ecsv"), "--overwrite", "-q"], check=True)
    subprocess.run(romanasn + ["generate", str(work / "pool.ecsv"), "-o", str(work / "romanasn"), "--overwrite",
                               "-q", "--skymap", str(skymap), "--rules", "skycell_visit,skycell_pass,skycell_full"],
                   check=True)
    if not reuse:
        print(f"romancal: skycell_asn visit, pass, full on {len(spec)} files (about 20 minutes of CPU) ...", flush=True)
        paths = [str(files / f["filename"]) for f in spec]
        run_in(python, RUN_SKYCELL_ASN, work / "romancal", *paths, env={"SKYMAP_PATH": str(skymap)})

    problems = compare(romancal_results(work / "romancal"), romanasn_results(work / "romanasn"))
    if args.footprints:
        problems += compare_footprints(python, skymap, work)
    print("AGREE" if not problems else f"{problems} DIFFERENCES", f"(files in {work})")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
