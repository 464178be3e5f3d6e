"""The contract test against the real client: romancal opens and runs what romanasn writes.

Usage (``make interop`` does it all)::

    .venv/bin/python interop/run_interop.py --romancal .venv-romancal/bin/python [--work DIR]

1. In romancal's own environment, writes small but real exposure files with roman_datamodels:
   Level 1 (``_uncal``) files of every exposure and Level 2 (``_cal``) files, with a WCS, of the
   imaging and spectral ones: two programs, three visits, two passes, imaging in two filters,
   grism and prism, darks, flats, WFSC and LOLO, six detectors each, one exposure degraded.
2. With romanasn: ``make-pool``, ``generate`` with every installed pack and the example sky map
   (``--member-dir``: the associations name their members where they are), ``from-list``
   (romancal's ``asn_from_list`` arguments) and ``skycell-asn``.
3. In romancal's environment: ``ResampleStep`` with default settings on one image3 visit and
   one skycell association; then, for every association written, ``load_asn`` and
   ``ModelLibrary`` borrowing every member (the multiband members are the skycell mosaics:
   one made by that resample run, the others written as ``MosaicModel`` files).
4. Prints a table kind -> associations, loaded, run, and exits 1 when any association fails,
   any expected kind is missing, or a run fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SKYMAP = ROOT / "plugins" / "romanasn-skycell" / "tests" / "data" / "skymap_subset.asdf"  # a subset of the official map
PIXELS = 64  # a detector's side in the files written (pixels of 0.11 arcsec)
DETECTORS = 6  # WFI01..WFI06, a 3 x 2 tile
RA, DEC = 2.0, 86.4  # inside the example sky map

P1V1, P1V2, P1P2V1 = "0000101001001001001", "0000101001001001002", "0000101002001001001"
P2DARK, P2FLAT, P2WFSC, P2LOLO = ("0000201001001002001", "0000201001001003001", "0000201001001004001",
                                  "0000201001001005001")
#: (visit id, exposure, exposure type, optical element, MA table, degraded, start)
EXPOSURES = [
    (P1V1, 1, "WFI_IMAGE", "F158", "IMG_16", False, "2027-03-01T12:00:00"),
    (P1V1, 2, "WFI_IMAGE", "F158", "IMG_16", True, "2027-03-01T12:03:00"),
    (P1V1, 3, "WFI_SPECTRAL", "GRISM", "SPEC_12", False, "2027-03-01T12:06:00"),
    (P1V2, 1, "WFI_IMAGE", "F158", "IMG_16", False, "2027-03-01T12:15:00"),
    (P1V2, 2, "WFI_IMAGE", "F087", "IMG_16", False, "2027-03-01T12:18:00"),
    (P1P2V1, 1, "WFI_IMAGE", "F158", "IMG_16", False, "2027-06-01T03:00:00"),
    (P1P2V1, 2, "WFI_SPECTRAL", "PRISM", "SPEC_12", False, "2027-06-01T03:03:00"),
    (P2DARK, 1, "WFI_IM_DARK", "DARK", "IMG_16", False, "2027-04-15T20:30:00"),
    (P2DARK, 2, "WFI_IM_DARK", "DARK", "IMG_16", False, "2027-04-15T20:33:00"),
    (P2DARK, 3, "WFI_SP_DARK", "DARK", "SPEC_12", False, "2027-04-15T20:36:00"),
    (P2FLAT, 1, "WFI_FLAT", "F158", "IMG_8", False, "2027-04-15T21:00:00"),
    (P2FLAT, 2, "WFI_FLAT", "F158", "IMG_8", False, "2027-04-15T21:03:00"),
    (P2WFSC, 1, "WFI_WFSC", "F158", "WFSC_6", False, "2027-04-15T22:00:00"),
    (P2LOLO, 1, "WFI_LOLO", "F158", "LOLO_4", False, "2027-04-15T23:00:00"),
]
#: where each visit points: offset from (RA, DEC) in arcsec (east, north)
VISIT_OFFSETS = {P1V1: (0.0, 0.0), P1V2: (12.0, 6.0), P1P2V1: (-6.0, 3.0)}
POINTED = ("WFI_IMAGE", "WFI_SPECTRAL")
#: the kinds every run must have written: (label, asn_rule)
KINDS = [
    ("image2", "wfi_image_exposure"), ("fov", "wfi_image_fov"),
    ("image3 visit", "wfi_image_visit"), ("image3 pass", "wfi_image_pass"), ("image3 full", "wfi_image_full"),
    ("spec2 + direct images", "wfi_spec_exposure"), ("spec3 visit", "wfi_spec_visit"),
    ("spec3 pass", "wfi_spec_pass"), ("spec3 full", "wfi_spec_full"),
    ("dark", "wfi_dark"), ("flat", "wfi_flat"), ("wfsc", "wfi_wfsc"), ("lolo", "wfi_lolo"),
    ("skycell visit", "skycell_visit"), ("skycell pass", "skycell_pass"), ("skycell daily", "skycell_daily"),
    ("skycell full", "skycell_full"), ("multiband", "skycell_multiband"),
    ("from-list", "from-list"), ("skycell-asn", "skycell-asn"),
]
#: the kinds resampled with romancal's ResampleStep
RESAMPLED = ("wfi_image_visit", "skycell_daily")


def observation(visit_id: str, exposure: int) -> dict:
    """``meta.observation`` of one exposure of a visit."""
    return {
        "visit_id": visit_id, "program": int(visit_id[0:5]), "execution_plan": int(visit_id[5:7]),
        "pass": int(visit_id[7:10]), "segment": int(visit_id[10:13]), "observation": int(visit_id[13:16]),
        "visit": int(visit_id[16:19]), "visit_file_group": 1, "visit_file_sequence": 1,
        "visit_file_activity": "01", "exposure": exposure, "observation_id": f"{visit_id}01101{exposure:04d}",
    }


def pointing(visit_id: str, detector: int, exposure: int) -> dict:
    """The centre of one detector's tile: tiles side by side, each exposure dithered 1 arcsec."""
    east, north = VISIT_OFFSETS.get(visit_id, (30.0, -30.0))
    side = PIXELS * 0.11
    column, row = divmod(detector - 1, 2)
    x = east + (column - 1) * side + (exposure - 1)
    y = north + (row - 0.5) * side
    return {"ra": RA + x / 3600 / math.cos(math.radians(DEC)), "dec": DEC + y / 3600, "roll": 0.0, "pixels": PIXELS}


def file_specs() -> list[dict]:
    """Every exposure file to write: Level 1 of every exposure, Level 2 of the pointed ones."""
    specs = []
    for visit_id, exposure, exposure_type, element, ma_table, degraded, start in EXPOSURES:
        for detector in range(1, DETECTORS + 1):
            stem = f"r{visit_id}_{exposure:04d}_wfi{detector:02d}_{element.lower()}"
            spec = {"exposure_type": exposure_type, "detector": f"WFI{detector:02d}", "optical_element": element,
                    "ma_table_name": ma_table, "start_time": start + ".000",
                    "engineering_quality": "SUSPECT" if degraded else "OK",
                    "observation": observation(visit_id, exposure), **pointing(visit_id, detector, exposure)}
            specs.append({"filename": f"{stem}_uncal.asdf", "level": 1, **spec})
            if exposure_type in POINTED:
                specs.append({"filename": f"{stem}_cal.asdf", "level": 2, **spec})
    return specs


class Interop:
    """One run of the check in a work folder."""

    def __init__(self, romancal: Path, work: Path) -> None:
        self.romancal, self.work = romancal, work
        self.files, self.asn = work / "files", work / "asn"
        self.env = dict(os.environ, SKYMAP_PATH=str(SKYMAP), STPIPE_DISABLE_CRDS_STEPPARS="true",
                        CRDS_PATH=str(work / "crds"), CRDS_SERVER_URL="https://crds.invalid")

    def step(self, what: str, command: list, cwd: Path | None = None) -> None:
        start = time.perf_counter()
        done = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=self.env, cwd=cwd)
        if done.returncode != 0:
            raise SystemExit(f"interop: {what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        print(f"  {what}: {time.perf_counter() - start:.1f} s", flush=True)

    def romanasn(self, what: str, *args, cwd: Path | None = None) -> None:
        self.step(what, [sys.executable, "-m", "romanasn", *args], cwd)

    def in_romancal(self, what: str, script: str, *args) -> None:
        self.step(what, [self.romancal, HERE / script, *args])

    def write_files(self, specs: list[dict], name: str) -> None:
        (self.work / name).write_text(json.dumps(specs))
        self.in_romancal(f"roman_datamodels writes {len(specs)} files", "make_files.py", self.work / name, self.files)

    def associations(self) -> list[Path]:
        return sorted(p for p in self.asn.rglob("*_asn.json"))

    def make(self) -> None:
        self.files.mkdir(parents=True)
        self.write_files(file_specs(), "spec.json")
        pool = self.work / "pool.ecsv"
        self.romanasn("romanasn make-pool", "make-pool", self.files, "-o", pool, "-q")
        self.romanasn("romanasn generate", "generate", pool, "-o", self.asn, "--skymap", SKYMAP,
                      "--member-dir", self.files, "-q")
        self.drop_in("from-list", "asn_from_list", ["-o", "mosaic_asn.json", "--product-name", "mosaic",
                     "--_tweakreg-catalogs", "-t", "None", "--psf-match-reference-filter", "F158", *self.images()])
        self.drop_in("skycell-asn", "skycell_asn", ["-o", "r00001", "--product-type", "visit",
                                                    *self.images()[:3]], ["--skymap", SKYMAP])

    def images(self) -> list[str]:
        """One exposure's imaging files, named from an output folder two levels below the work folder."""
        return sorted(f"../../files/{p.name}" for p in self.files.glob(f"r{P1V1}_0001_*_f158_cal.asdf"))

    def drop_in(self, ours: str, theirs: str, args: list[str], extra: list = ()) -> None:
        """Run romanasn's command and romancal's with the same arguments, each in its own output folder."""
        for who, out in (("romanasn", self.asn / ours), ("romancal", self.work / "romancal" / ours)):
            out.mkdir(parents=True)
            if who == "romanasn":
                self.romanasn(f"romanasn {ours}", ours, *args, *extra, cwd=out)
            else:
                self.step(f"romancal {theirs}", [self.romancal.parent / theirs, *args], cwd=out)

    def kind_of(self, path: Path, asn: dict) -> str:
        return path.parent.name if path.parent != self.asn else asn["asn_rule"]

    def multiband(self) -> None:
        """romanasn multiband and romancal's multiband_asn on the skycell mosaics' names."""
        coadds = sorted({Path(m["expname"]).name for p in self.asn.glob("*_asn.json")
                         for m in json.loads(p.read_text())["products"][0]["members"]
                         if m["expname"].endswith("_coadd.asdf")})
        self.drop_in("multiband", "multiband_asn", ["--psf-match-reference-filter", "F158", *coadds])

    def check(self) -> dict:
        paths = self.associations()
        read = {p: json.loads(p.read_text()) for p in paths}
        picked = {}
        for path, asn in read.items():
            rule = self.kind_of(path, asn)
            if rule in RESAMPLED and rule not in picked:
                picked[rule] = path
        self.in_romancal("romancal ResampleStep", "check_romancal.py", self.work / "resampled.json",
                         "--resample", *picked.values())
        coadds = {m["expname"] for p, a in read.items() if a["asn_rule"] == "skycell_multiband"
                  for m in a["products"][0]["members"]}
        missing = [{"filename": Path(name).name, "level": 3} for name in sorted(coadds)
                   if not (self.asn / name).exists()]
        if missing:
            self.write_files(missing, "coadds.json")
        self.in_romancal(f"romancal opens {len(paths)} associations", "check_romancal.py",
                         self.work / "loaded.json", *paths)
        runs = json.loads((self.work / "resampled.json").read_text())["files"]
        loads = json.loads((self.work / "loaded.json").read_text())
        return {"romancal": loads["romancal"], "read": read, "runs": runs, "loads": loads["files"]}


#: what must agree between romancal's association commands and romanasn's
AGREE = {
    "from-list": ("asn_type", "asn_rule", "target", "program", "data_release_id", "psf_match_reference_filter",
                  "skycell_wcs_info", "members"),
    "skycell-asn": ("asn_type", "target", "program", "data_release_id", "skycell_wcs_info", "members"),
    "multiband": ("data_release_id", "psf_match_reference_filter", "members"),
}


def agreement(interop: Interop) -> int:
    """Compare romanasn's drop-in commands with romancal's: file names and the keys in AGREE."""
    problems = 0
    print()
    for command, keys in AGREE.items():
        ours = {p.name: json.loads(p.read_text()) for p in (interop.asn / command).glob("*_asn.json")}
        theirs = {p.name: json.loads(p.read_text()) for p in (interop.work / "romancal" / command).glob("*_asn.json")}
        differ = [f"only romancal: {n}" for n in sorted(set(theirs) - set(ours))]
        differ += [f"only romanasn: {n}" for n in sorted(set(ours) - set(theirs))]
        for name in sorted(set(ours) & set(theirs)):
            for key in keys:
                a, b = (_value(asn, key) for asn in (ours[name], theirs[name]))
                if a != b:
                    differ.append(f"{name}: {key}: romanasn {a!r}, romancal {b!r}")
        problems += bool(differ) or not ours
        verdict = "agree" if ours and not differ else "DIFFER"
        print(f"romanasn {command:<12} vs romancal: {len(ours)} files, {verdict}")
        for line in differ:
            print(f"  {line}")
    return problems


def _value(asn: dict, key: str):
    if key == "members":
        return [{k: v for k, v in m.items()} for m in asn["products"][0]["members"]]
    return asn.get(key)


def table(interop: Interop, found: dict) -> int:
    """Print kind -> associations, loaded, run; return the number of problems."""
    rows, problems = [], 0
    by_kind: dict[str, list[Path]] = {}
    for path, asn in found["read"].items():
        by_kind.setdefault(interop.kind_of(path, asn), []).append(path)
    print(f"\nromancal {found['romancal']} on what romanasn wrote:\n")
    print(f"{'kind':<24} {'rule':<20} {'files':>5} {'load_asn + ModelLibrary':>24}  ResampleStep")
    for label, rule in KINDS:
        paths = by_kind.get(rule, [])
        loaded = sum(found["loads"][str(p)]["load"]["status"] == "ok" for p in paths)
        runs = [found["runs"][str(p)]["run"] for p in paths if str(p) in found["runs"]]
        run = "-" if not runs else ", ".join("ok " + r["product"] if r["status"] == "ok" else "FAILED" for r in runs)
        bad = not paths or loaded < len(paths) or any(r["status"] != "ok" for r in runs)
        problems += bad
        rows.append(f"{label:<24} {rule:<20} {len(paths):>5} {f'{loaded}/{len(paths)}':>24}  {run}"
                    + ("   <- FAILS" if bad else ""))
    print("\n".join(rows))
    for name, outcome in {**found["loads"], **found["runs"]}.items():
        for step, result in outcome.items():
            if result["status"] != "ok":
                print(f"  {Path(name).name}: {step}: {result['status']}")
    missing = [rule for rule in RESAMPLED if not any(rule == interop.kind_of(Path(p), found["read"][Path(p)])
                                                     for p in found["runs"])]
    problems += len(missing)
    for rule in missing:
        print(f"  no {rule} association was resampled")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--romancal", type=Path, required=True, help="python of romancal's environment")
    parser.add_argument("--work", type=Path,
                        help="work folder, kept (default: a new temporary folder, removed when the check passes)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="romanasn-interop-"))
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"interop: {work} is not empty")
    start = time.perf_counter()
    print(f"interop: work folder {work}", flush=True)
    interop = Interop(args.romancal.absolute(), work)  # absolute, not resolved: a venv python is a link
    interop.make()
    found = interop.check()
    interop.multiband()
    problems = table(interop, found) + agreement(interop)
    verdict = "PASSED" if not problems else f"FAILED ({problems} kinds; files kept in {work})"
    print(f"\ninterop {verdict} in {time.perf_counter() - start:.0f} s")
    if not problems and args.work is None:
        shutil.rmtree(work)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
