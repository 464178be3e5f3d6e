"""Multiband associations from skycell mosaic file names alone (``romanasn multiband``).

A per-filter skycell mosaic is named
``r<PPPPP>_<drid>_<grouping>_<skycell>_<el>_coadd.asdf``; the files that
share everything but the filter make one association, product
``r<PPPPP>_<drid>_<grouping>_<skycell>`` (multiband products drop the
filter), members the mosaics.
"""

from __future__ import annotations

import glob
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import romanasn
from romanasn import Association, Member, Product, UsageError, program_id, write_asn

COADD = re.compile(
    r"^(?P<product>r(?P<program>[0-9]{5})_(?P<drid>[a-z0-9]+)_(?P<grouping>v[0-9]{14}|p[0-9]{5}|d[0-9]{8}|full|user)"
    r"_(?P<skycell>[0-9]{3}[pm][0-9]{2}x[0-9]{2,}y[0-9]{2,}))_(?P<filter>f[0-9]{3})_coadd\.asdf$"
)


def expand(files: Iterable[str]) -> list[str]:
    """The files, a lone pattern holding ``*`` or ``?`` expanded (sorted)."""
    files = list(files)
    if len(files) == 1 and any(c in files[0] for c in "*?"):
        return sorted(glob.glob(files[0]))
    return files


def multiband_associations(files: Iterable[str], *, psf_match_reference_filter: str | None = None,
                           skymap: str | None = None, relative_to: str | os.PathLike | None = None
                           ) -> tuple[list[Association], list[str]]:
    """The multiband associations of ``files``, and the files that are not skycell mosaics.

    Members are written as the files were given, or relative to
    ``relative_to`` (the folder the association goes to) when set.
    """
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    found: dict[str, re.Match] = {}
    ignored = []
    for file in files:
        match = COADD.match(Path(file).name)
        if match is None:
            ignored.append(file)
            continue
        groups[match["product"]].append((match["filter"], file))
        found[match["product"]] = match
    sky = _open_map(skymap) if groups else None
    associations = []
    for n, product in enumerate(sorted(groups)):
        match = found[product]
        members = []
        for _, file in sorted(groups[product]):
            expname = os.path.relpath(file, relative_to) if relative_to is not None else file
            members.append(Member(expname, "science"))
        extra = {}
        if psf_match_reference_filter:
            extra["psf_match_reference_filter"] = psf_match_reference_filter.strip()  # as given, like romancal
        associations.append(Association(
            products=(Product(product, tuple(members)),),
            asn_type="multiband",
            asn_rule="skycell_multiband",
            asn_id=f"a{3001 + n}",
            program=program_id(match["program"]),
            target=match["skycell"],
            code_version=romanasn.__version__,
            constraints="mosaics of one program, data release, grouping and skycell, by file name",
            data_release_id=match["drid"],
            skycell_wcs_info=_wcs_info(sky, match["skycell"]),
            extra=extra,
        ))
    return associations, ignored


def _open_map(path: str | None):
    from romanasn_skycell.skymap import SkyMapError, open_skymap, skymap_path

    path = skymap_path(path)
    if not path:
        return None
    try:
        return open_skymap(path)
    except SkyMapError as exc:
        raise UsageError(f"--skymap: {exc}") from exc


def _wcs_info(sky, name: str):
    if sky is None:
        return "none"
    try:
        return sky.wcs_info(sky.index_of(name))
    except KeyError:
        return "none"


def write_multiband(files: Iterable[str], out_dir: str | os.PathLike = ".", *,
                    psf_match_reference_filter: str | None = None, skymap: str | None = None,
                    overwrite: bool = False, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Write one ``<product>_asn.json`` per multiband group into ``out_dir``; return (path, members) pairs."""
    import logging

    out = Path(out_dir)
    associations, ignored = multiband_associations(
        expand(files), psf_match_reference_filter=psf_match_reference_filter, skymap=skymap, relative_to=out)
    for file in ignored:
        logging.getLogger("romanasn.skycell").warning("%s: not a skycell mosaic name; left out", file)
    written = []
    if associations and not dry_run:
        out.mkdir(parents=True, exist_ok=True)
    for association in associations:
        path = out / f"{association.product_name}_asn.json"
        if not dry_run:
            try:
                write_asn(association, path, overwrite=overwrite)
            except romanasn.AsnError as exc:
                raise UsageError(str(exc)) from exc
        written.append((path, len(association.members)))
    return written
