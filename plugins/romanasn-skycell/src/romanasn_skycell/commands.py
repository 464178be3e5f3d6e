"""The pack's subcommands: ``romanasn skymap``, ``plot``, ``multiband`` and ``skycell-asn``.

Each command imports what it needs when it runs, so ``romanasn --help``
stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from romanasn import Command, UsageError
from romanasn.words import count as plural


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


# -- romanasn skymap ------------------------------------------------------------------------


def _configure_skymap(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  romanasn skymap make --ra 270 --dec 66 --radius 1 -o skymap.asdf\n"
                     "  romanasn skymap info skymap.asdf\n  romanasn skymap find skymap.asdf --ra 270.1 --dec 65.5")
    sub = parser.add_subparsers(dest="skymap_command", metavar="ACTION",
                                help="make, info or find; romanasn skymap ACTION --help says more")
    make = sub.add_parser("make", help="write a local sky map covering a circle on the sky",
                          description="Write a sky map in the official SKYCELLS format and geometry (TAN "
                                      "projections, 0.055 arcsec pixels, 5000-pixel skycells, 100-pixel "
                                      "border) covering the circle RADIUS degrees around RA, DEC. Its "
                                      "skycell names are local, not official.")
    make.add_argument("--ra", type=_float, required=True, help="centre RA (deg)")
    make.add_argument("--dec", type=_float, required=True, help="centre Dec (deg)")
    make.add_argument("--radius", type=_float, required=True, help="radius (deg, at most 15)")
    make.add_argument("-o", "--output", required=True, metavar="MAP", help="the map file to write (.asdf)")
    make.add_argument("--overwrite", action="store_true", help="replace an existing file")
    info = sub.add_parser("info", help="summarise a sky map")
    info.add_argument("map", metavar="MAP", help="SKYCELLS sky map (ASDF)")
    info.add_argument("--json", action="store_true", help="print JSON")
    find = sub.add_parser("find", help="the skycells holding a point of the sky")
    find.add_argument("map", metavar="MAP", help="SKYCELLS sky map (ASDF)")
    find.add_argument("--ra", type=_float, required=True, help="RA (deg)")
    find.add_argument("--dec", type=_float, required=True, help="Dec (deg)")
    find.add_argument("--json", action="store_true", help="print JSON (the skycell_wcs_info of each)")
    parser.set_defaults(_skymap_parser=parser)


def _run_skymap(args: argparse.Namespace) -> int:
    from romanasn_skycell.skymap import SkyMapError, open_skymap

    action = getattr(args, "skymap_command", None)
    if action is None:
        args._skymap_parser.print_help()
        return 2
    if action == "make":
        from romanasn_skycell.makemap import write_skymap

        try:
            summary = write_skymap(args.output, args.ra, args.dec, args.radius, overwrite=args.overwrite)
        except (ValueError, FileExistsError) as exc:
            raise UsageError(str(exc)) from exc
        print(f"wrote {summary['path']}: {summary['regions']} projection regions, {summary['skycells']} "
              f"skycells (local names such as {summary['first']}, not official ones)")
        return 0
    try:
        skymap = open_skymap(args.map)
    except SkyMapError as exc:
        raise UsageError(str(exc)) from exc
    if action == "info":
        regions = skymap.regions
        summary = {
            "path": str(skymap.path), "regions": len(regions), "skycells": skymap.n_skycells,
            "nxy_skycell": skymap.nxy, "skycell_border_pixels": skymap.border,
            "pixel_scale_arcsec": skymap.pixel_scale_arcsec,
            "dec_range": [float(regions["dec_min"].min()), float(regions["dec_max"].max())] if len(regions) else None,
            "description": str(skymap.meta.get("description", "")),
        }
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            for key, value in summary.items():
                print(f"{key}: {value}")
        return 0
    from romanasn_skycell import sphere

    cells = skymap.match_one(sphere.unit_vectors([args.ra], [args.dec]))
    infos = [skymap.wcs_info(cell) for cell in cells]
    if args.json:
        print(json.dumps(infos, indent=2))
    elif not infos:
        print(f"no skycell of {skymap.path} holds RA {args.ra}, Dec {args.dec}")
    else:
        for info in infos:
            print(f"{info['name']}  centre RA {info['ra_center']:.6f} Dec {info['dec_center']:.6f}")
    return 0


# -- romanasn plot --------------------------------------------------------------------------


def _configure_plot(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  romanasn plot asn/r00001_p_v0000101001001001001_270p65x50y51_f158_asn.json"
                     " --pool pool.ecsv -o visit.png\n"
                     "  romanasn plot asn/r00001_p_full_f158_asn.json --pool pool.ecsv --skymap skymap.asdf -o full.png")
    parser.add_argument("asn", metavar="ASN", help="an association file (a skycell one, or any other with --skymap)")
    parser.add_argument("--pool", required=True, metavar="POOL", help="the pool its members came from")
    parser.add_argument("-o", "--output", required=True, metavar="PNG", help="the picture to write")
    parser.add_argument("--skymap", metavar="PATH",
                        help="sky map, for associations without skycell_wcs_info (default: "
                             "ROMANASN_SKYMAP or SKYMAP_PATH)")


def _run_plot(args: argparse.Namespace) -> int:
    from romanasn_skycell.plot import plot_association

    written = plot_association(args.asn, args.pool, args.output, skymap=args.skymap)
    print(f"wrote {written}")
    return 0


# -- romanasn multiband ---------------------------------------------------------------------


def _configure_multiband(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  romanasn multiband 'mosaics/*_coadd.asdf' -o asn/\n"
                     "  romanasn multiband mosaics/*_coadd.asdf --psf-match-reference-filter f158 --dry-run")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="per-filter skycell mosaics, r<PPPPP>_<drid>_<grouping>_<skycell>_<el>_coadd.asdf "
                             "(a single quoted pattern with * or ? is expanded)")
    parser.add_argument("-o", "--output-dir", default=".", metavar="DIR", help="folder for the associations")
    parser.add_argument("--psf-match-reference-filter", metavar="FILTER",
                        help="filter for PSF matching, written as psf_match_reference_filter")
    parser.add_argument("--skymap", metavar="PATH",
                        help="sky map to fill skycell_wcs_info (default: ROMANASN_SKYMAP or SKYMAP_PATH, if set)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing association files")
    parser.add_argument("--dry-run", action="store_true", help="print what would be written")


def _run_multiband(args: argparse.Namespace) -> int:
    from romanasn_skycell.multiband import write_multiband

    written = write_multiband(args.files, args.output_dir, psf_match_reference_filter=args.psf_match_reference_filter,
                              skymap=args.skymap, overwrite=args.overwrite, dry_run=args.dry_run)
    for path, count in written:
        print(f"{'would write' if args.dry_run else 'wrote'} {path} ({plural(count, 'member')})")
    if not written:
        print("no multiband association: no file name was a skycell mosaic", file=sys.stderr)
        return 1
    return 0


# -- romanasn skycell-asn -------------------------------------------------------------------


def _configure_skycell_asn(parser: argparse.ArgumentParser) -> None:
    from romanasn_skycell.skycellasn import configure

    configure(parser)


def _run_skycell_asn(args: argparse.Namespace) -> int:
    from romanasn_skycell.skycellasn import run

    return run(args)


COMMANDS: tuple[Command, ...] = (
    Command("skymap", "make, summarise or search a skycell sky map", _configure_skymap, _run_skymap),
    Command("plot", "draw a skycell association: the skycell and its members' footprints (PNG)",
            _configure_plot, _run_plot),
    Command("multiband", "multiband associations from skycell mosaic (_coadd.asdf) file names",
            _configure_multiband, _run_multiband),
    Command("skycell-asn", "skycell associations straight from Level 2 files (romancal's skycell_asn)",
            _configure_skycell_asn, _run_skycell_asn),
)
