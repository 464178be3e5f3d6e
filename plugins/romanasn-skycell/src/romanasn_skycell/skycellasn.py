"""``romanasn skycell-asn``: romancal's ``skycell_asn``, drop-in, straight from Level 2 files.

``romanasn skycell-asn FILES -o ROOT --product-type visit|pass|daily|full`` reads
the files' headers (as ``make-pool`` does), runs the pack's skycell rule of that
grouping on the sky map, and writes what romancal 1.1.0's ``skycell_asn`` writes:
one ``ROOT_<drid>_<grouping>_<skycell>_<filter>_asn.json`` per skycell and
filter, the members as the files were given, ``target`` the skycell's name and
``skycell_wcs_info`` its WCS. Two differences, both deliberate: the product
name is the association file's name without its folder (romancal keeps ROOT's
folder in it), and ``asn_rule``, ``asn_id`` and ``constraints`` say which rule
made the association, as ``generate`` does.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path
from typing import Sequence

import attrs

import romanasn
from romanasn import UsageError

log = logging.getLogger("romanasn.skycell")

PRODUCT_TYPES = ("visit", "pass", "daily", "full")
BASE_RULE = "DMS_ELPP_Base"
DEFAULT_ID = "o999"


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of romancal's ``skycell_asn``, and ``--skymap``."""
    parser.epilog = ("examples:\n  romanasn skycell-asn l2/*_cal.asdf -o asn/r00001 --product-type visit --skymap skymap.asdf\n"
                     "  SKYMAP_PATH=skymap.asdf romanasn skycell-asn *_cal.asdf -o r00001 --product-type full")
    parser.add_argument("files", nargs="+", metavar="FILE", help="Level 2 (_cal) files, written as given")
    parser.add_argument("-o", "--output-file-root", dest="root", required=True, metavar="ROOT",
                        help="start of each association file's name, folder included (e.g. out/r00001)")
    parser.add_argument("--product-type", default="visit", type=str.lower, choices=PRODUCT_TYPES,
                        help="one association per skycell and filter of each visit, pass, day or program "
                             "(default: visit)")
    parser.add_argument("--data-release-id", default="p", help="data release id (default: p)")
    parser.add_argument("--skymap", metavar="PATH",
                        help="SKYCELLS sky map (ASDF) (default: ROMANASN_SKYMAP or SKYMAP_PATH)")
    deprecated = parser.add_argument_group("accepted for romancal's skycell_asn, deprecated there, ignored")
    deprecated.add_argument("-f", "--format", default="json", help="association format (only json)")
    deprecated.add_argument("-r", "--rule", default=BASE_RULE, help=f"the rule (only {BASE_RULE})")
    deprecated.add_argument("-i", "--id", dest="acid", default=DEFAULT_ID, metavar="ID",
                            help=f"association candidate id (default: {DEFAULT_ID})")


def skycell_asn(files: Sequence[str], root: str, product_type: str = "visit", *,
                data_release_id: str = "p", skymap: str | None = None) -> list[Path]:
    """Write romancal's skycell associations of ``files``; return the paths written."""
    from romanasn_skycell.skymap import skymap_path

    path = skymap_path(skymap)
    if path is None:
        raise UsageError("give --skymap (or set ROMANASN_SKYMAP or SKYMAP_PATH): the sky map to place files on")
    given = {Path(f).name: f for f in files}
    pm = romanasn.get_plugin_manager(allow=["romanasn-skycell"])
    pool = _pool(files, pm)
    config = romanasn.RunConfig(pool_name="none", data_release_id=data_release_id, options={"skymap": str(path)})
    result = romanasn.generate(pool, config=config, rules=[f"skycell_{product_type}"], plugin_manager=pm)
    folder, prefix = os.path.split(root)
    written = []
    for association in result.associations:
        association = _as_romancal(association, prefix, given)
        target = Path(folder or ".") / f"{association.product_name}_asn.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(romanasn.write_asn(association, target, overwrite=True))
    return written


def _pool(files: Sequence[str], pm) -> object:
    """The pool of ``files``, read from their headers."""
    from romanasn.makepool import make_pool

    columns = [found.item for found in pm.pool_columns()]
    with tempfile.TemporaryDirectory(prefix="romanasn-skycell-asn-") as work:
        pool_path = Path(work) / "pool.ecsv"
        make_pool(files, pool_path, columns=columns, progress=False)
        return romanasn.read_pool(pool_path, columns=columns)


def _as_romancal(association, prefix: str, given: dict[str, str]):
    """The product named ``prefix_...`` as romancal names it, members as the files were given."""
    _, rest = association.product_name.split("_", 1)
    members = tuple(attrs.evolve(m, expname=given.get(m.expname, m.expname)) for m in association.members)
    return association.evolve(products=(romanasn.Product(f"{prefix}_{rest}", members),))


def run(args: argparse.Namespace) -> int:
    """Write the associations; warn about the options romancal deprecated."""
    if args.format != "json":
        log.warning("-f %s ignored: romancal reads JSON associations only", args.format)
    if args.rule != BASE_RULE:
        log.warning("--rule %s ignored: romancal's skycell_asn never supported other rules", args.rule)
    if args.acid != DEFAULT_ID:
        log.warning("--id %s ignored: romancal's skycell_asn never supported association candidate ids", args.acid)
    written = skycell_asn(args.files, args.root, args.product_type, data_release_id=args.data_release_id,
                          skymap=args.skymap)
    for path in written:
        log.debug("wrote %s", path)
    print(f"wrote {len(written)} {args.product_type} skycell association{'s' if len(written) != 1 else ''}"
          f" ({args.root}_*_asn.json)")
    return 0
