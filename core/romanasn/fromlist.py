"""``romanasn from-list``: romancal's ``asn_from_list``, drop-in.

One association from an explicit list of files. Every argument of romancal
1.1.0's ``asn_from_list`` is accepted with the same meaning, so a script can
switch from ``asn_from_list ARGS`` to ``romanasn from-list ARGS``; the options
romancal deprecated (``--rule``, ``--ruledefs``, ``--id``) are warned about and
ignored, as romancal does. Unlike romancal, an unsafe product name is refused
and the file is written all at once, validated against the schema.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import PurePath
from typing import Any, Sequence

import attrs

from romanasn import asnfile
from romanasn._version import __version__
from romanasn.errors import UsageError
from romanasn.naming import unsafe_reason
from romanasn.records import NO_TARGET, Association, Member, Product, degraded_status

log = logging.getLogger("romanasn.fromlist")

__all__ = ["catalog_name", "configure", "from_list", "run"]

BASE_RULE = "DMS_ELPP_Base"
DEFAULT_ID = "o999"
#: The file-name suffixes romancal 1.1.0 knows (``romancal.lib.suffix``): the last one of a file
#: name is replaced to name its catalog; a name ending in another word keeps it.
ROMANCAL_SUFFIXES = frozenset("""
    assign_wcs assignwcs assignwcsstep ca cal cat coadd crf dark dark_current dark_decay darkcurrent
    darkcurrentstep darkdecaystep dq_init dqinit dqinitstep flat flatfieldstep fluxstep linearity
    linearitystep median multibandcatalogstep outlier_detection outlierdetectionstep phot photom
    photomstep ramp rampfit rampfitstep rate refpix refpixstep resamplestep saturation saturationstep
    segm skymatch skymatchstep sourcecatalogstep tweakregstep uncal wfi18_transient wfi18transientstep
""".split())


def catalog_name(expname: str) -> str:
    """The source catalog romancal's ``--_tweakreg-catalogs`` names for a member.

    ``data/x_cal.asdf`` -> ``data/x_cat.parquet``: the known suffix replaced by ``cat``
    (appended when there is none), in the member's folder.
    """
    path = PurePath(expname)
    stem = path.stem
    for suffix in sorted(ROMANCAL_SUFFIXES, key=len, reverse=True):
        if stem.endswith("_" + suffix) and len(stem) > len(suffix) + 1:
            stem = stem[: -len(suffix) - 1]
            break
    return str(path.with_name(f"{stem}_cat.parquet"))


def from_list(files: Sequence[str], product_name: str, *, exptype: str = "science",
              tweakreg_catalogs: bool | Sequence[str] = False, **top: Any) -> Association:
    """One association of ``files``, named ``product_name``; ``top`` sets top-level keys.

    ``tweakreg_catalogs`` is True for romancal's derived catalog names
    (:func:`catalog_name`) or one catalog per file. A product name that is
    not a safe file name is a :class:`~romanasn.errors.UsageError`.
    """
    reason = unsafe_reason(product_name)
    if reason:
        raise UsageError(f"--product-name {product_name!r} cannot name a product: {reason}")
    if not files:
        raise UsageError("give at least one file")
    catalogs = _catalogs(files, tweakreg_catalogs)
    members = tuple(Member(f, exptype, extra={"tweakreg_catalog": c} if c else {})
                    for f, c in zip(files, catalogs))
    known = {field.name for field in attrs.fields(Association)}
    given = {k: v for k, v in top.items() if v is not None}
    extra = {k: v for k, v in given.items() if k not in known}
    return Association(products=(Product(product_name, members),), code_version=__version__,
                       degraded_status=degraded_status(members), extra=extra,
                       **{k: v for k, v in given.items() if k in known})


def _catalogs(files: Sequence[str], tweakreg_catalogs: bool | Sequence[str]) -> list[str | None]:
    if tweakreg_catalogs is True:
        return [catalog_name(f) for f in files]
    if not tweakreg_catalogs:
        return [None] * len(files)
    if len(tweakreg_catalogs) != len(files):
        raise UsageError(f"{len(tweakreg_catalogs)} tweakreg catalogs for {len(files)} files")
    return list(tweakreg_catalogs)


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of romancal's ``asn_from_list``, and romanasn's own."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="the member files, written as given (paths relative to the association's folder)")
    parser.add_argument("-o", "--output-file", "--output", dest="output", required=True, metavar="ASN",
                        help="the association file to write (replaced when it exists, as romancal does)")
    parser.add_argument("--product-name", required=True, help="the product name (a file name, no folder)")
    parser.add_argument("-t", "--target", default=NO_TARGET,
                        help="the target: a skycell name, or None for no skycell (default: None)")
    parser.add_argument("--data-release-id", default="p", help="data release id (default: p)")
    parser.add_argument("--psf-match-reference-filter", default=None, metavar="FILTER",
                        help="reference filter for PSF matching, for romancal's multiband catalog step")
    parser.add_argument("--_tweakreg-catalogs", "--tweakreg-catalogs", dest="tweakreg_catalogs",
                        action="store_true",
                        help="name each member's source catalog after it (x_cal.asdf -> x_cat.parquet)")
    parser.add_argument("--exptype", default="science", help="exptype of every member (default: science)")
    parser.add_argument("--asn-type", default="None", help="asn_type to record (default: None)")
    deprecated = parser.add_argument_group("accepted for romancal's asn_from_list, deprecated there, ignored")
    deprecated.add_argument("-r", "--rule", default=BASE_RULE, help=f"the rule (only {BASE_RULE})")
    deprecated.add_argument("--ruledefs", action="append", metavar="FILE", help="rule definition files")
    deprecated.add_argument("-i", "--id", dest="acid", default=DEFAULT_ID, metavar="ID",
                            help=f"the association candidate id (default: {DEFAULT_ID})")
    parser.add_argument("--overwrite", action="store_true",
                        help="accepted for older scripts: the file is always replaced, as romancal does")


def _warn_deprecated(args: argparse.Namespace) -> None:
    if args.rule != BASE_RULE:
        log.warning("--rule %s ignored: romancal's asn_from_list never supported other rules than %s",
                    args.rule, BASE_RULE)
    if args.ruledefs:
        log.warning("--ruledefs ignored: romancal's asn_from_list never supported it")
    if args.acid != DEFAULT_ID:
        log.warning("--id %s ignored: romancal's asn_from_list never supported association candidate ids",
                    args.acid)


def run(args: argparse.Namespace, pm: Any) -> int:
    """Write the association the arguments describe."""
    _warn_deprecated(args)
    association = from_list(
        args.files, args.product_name, exptype=args.exptype, tweakreg_catalogs=args.tweakreg_catalogs,
        target=args.target, data_release_id=args.data_release_id, asn_type=args.asn_type,
        psf_match_reference_filter=args.psf_match_reference_filter,
    )
    path = asnfile.write_asn(association, args.output, overwrite=True)
    if not args.quiet:
        print(f"wrote {path}")
    return 0
