"""romancal's side of the interop check: open, borrow and resample what romanasn wrote.

Run in romancal's virtual environment, with ``SKYMAP_PATH`` naming the sky map romanasn used::

    python check_romancal.py RESULTS.json [ASN_FILE...] [--resample ASN_FILE ...]

1. ``--resample``: runs ``ResampleStep`` with its default settings on each association
   named (CRDS parameter look-ups off) and checks the product it writes beside it opens as a
   ``MosaicModel``.
2. Then, for every association file: ``romancal.associations.load_asn``, then
   ``ModelLibrary`` borrowing (and returning) every member model.

Writes ``{file: {"load": "ok" | error, "run": "ok" | error | null, ...}}`` to RESULTS.json
and prints one line per failure. Exit status 0 even when files fail: the caller judges.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"


def load(path: Path) -> dict:
    """load_asn, then ModelLibrary borrowing every model."""
    from romancal.associations import load_asn
    from romancal.datamodels.library import ModelLibrary

    with open(path) as stream:
        asn = load_asn(stream)
    library = ModelLibrary(path)
    types = []
    with library:
        for index, model in enumerate(library):
            types.append(type(model).__name__)
            library.shelve(model, index, modify=False)
    return {"members": len(asn["products"][0]["members"]), "models": len(types), "types": sorted(set(types))}


def resample(path: Path) -> dict:
    """ResampleStep with default settings; the product it writes, opened again."""
    import roman_datamodels.datamodels as rdm
    from romancal.resample import ResampleStep

    before = set(path.parent.glob("*.asdf"))
    ResampleStep.call(str(path), output_dir=str(path.parent), save_results=True)
    written = sorted(set(path.parent.glob("*.asdf")) - before)
    if not written:
        raise RuntimeError("ResampleStep wrote no product")
    with rdm.open(written[0]) as product:
        shape = tuple(product.data.shape)
        kind = type(product).__name__
        skycell = str(product.meta.wcsinfo.get("skycell_name", ""))
    return {"product": written[0].name, "model": kind, "shape": shape, "skycell_name": skycell}


def attempt(function, path: Path) -> dict:
    try:
        return {"status": "ok", **function(path)}
    except Exception as exc:  # every failure is a result to report, not a crash of the check
        return {"status": _error(exc)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--resample", nargs="*", type=Path, default=[])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"  # romancal reads only "true"-like words
    import romancal

    results = {"romancal": romancal.__version__, "files": {}}
    for path in args.resample:
        results["files"].setdefault(str(path), {})["run"] = attempt(resample, path)
    for path in args.files:
        results["files"].setdefault(str(path), {})["load"] = attempt(load, path)
    args.results.write_text(json.dumps(results, indent=1))
    for name, outcome in results["files"].items():
        for step, result in outcome.items():
            if result["status"] != "ok":
                print(f"{name}: {step}: {result['status']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
