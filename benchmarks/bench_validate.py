"""Checking association files against the schema: which validator, at what cost per file.

Makes the associations of a mission pool (``ROWS`` rows, three WFI packs) as
records, then times, per association, best of ``--repeat``:

- ``Encoder.encode``: check and encode a record (what the object lane does);
- ``check_file``: check the bytes of a file (what the columnar lane does: orjson, then
  the schema compiled by jsonschema-rs), when this romanasn has it;
- the schema compiled by jsonschema-rs, by fastjsonschema (when installed) and
  jsonschema on the mapping alone.

Run it against another romanasn with ``PYTHONPATH=OTHER/core``.

Usage: python benchmarks/bench_validate.py [ROWS] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mission_pool import mission_pool  # noqa: E402

from romanasn import RunConfig, asnfile, encoder, engine, get_plugin_manager  # noqa: E402

PACKS = ["romanasn-wfi-imaging", "romanasn-wfi-spectral", "romanasn-wfi-calibration"]


def best(function, items, repeat: int) -> float:
    """Microseconds per item of ``function`` over ``items``, best of ``repeat``."""
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            function(item)
        walls.append(time.perf_counter() - start)
    return min(walls) / len(items) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="?", default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pm = get_plugin_manager(allow=PACKS)
    result = engine.generate(mission_pool(args.rows), plugin_manager=pm, config=RunConfig(pool_name="pool"))
    associations = list(result.associations)
    mappings = [asnfile.to_dict(a) for a in associations]
    make = encoder.Encoder()
    files = [make.encode(a, "x") for a in associations]
    timed = {"Encoder.encode (check and encode a record)": (lambda a: make.encode(a, "x"), associations)}
    if hasattr(encoder, "check_file"):
        timed["check_file (orjson + jsonschema-rs, the file's bytes)"] = (lambda d: encoder.check_file(d, "x"), files)
    import jsonschema_rs

    compiled = jsonschema_rs.validator_for(asnfile.schema())
    timed["jsonschema-rs, the mapping"] = (compiled.is_valid, mappings)
    try:
        import fastjsonschema
    except ImportError:
        pass
    else:
        timed["fastjsonschema, the mapping"] = (fastjsonschema.compile(asnfile.schema()), mappings)
    timed["jsonschema, the mapping (a tenth)"] = (asnfile.schema_validator().is_valid, mappings[::10])
    members = sum(len(a.members) for a in associations)
    print(f"{len(associations):,} associations ({members:,} members) of {args.rows:,} rows; "
          f"romanasn from {Path(encoder.__file__).parent}; microseconds per association, best of {args.repeat}")
    for name, (function, items) in timed.items():
        print(f"  {name:58s} {best(function, items, args.repeat):8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
