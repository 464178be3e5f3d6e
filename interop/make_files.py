"""Write small but real Roman exposure files with roman_datamodels, from a JSON list of specs.

Run in romancal's virtual environment (its roman_datamodels is the one that must read them)::

    python make_files.py SPEC.json OUT_DIR

Each spec gives ``filename``, ``level`` (1: ``ScienceRawModel``, 2: ``ImageModel``, 3:
``MosaicModel``), and for levels 1 and 2 the exposure's ``meta`` values: ``exposure_type``,
``detector``, ``optical_element``, ``ma_table_name``, ``engineering_quality``, ``start_time``,
``observation`` (a mapping of ``meta.observation`` keys), and the pointing: ``ra``, ``dec``,
``roll`` (deg) and ``pixels``. The pointing is a TAN WCS of ``pixels`` square pixels of 0.11
arcsec centred on (ra, dec), its bounding box the array: ``wcsinfo`` (ref values and
``s_region``) comes from it, and a Level 2 file carries it as ``meta.wcs`` with data of that
size: what make-pool reads and what romancal resamples.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import roman_datamodels.datamodels as rdm
from astropy import coordinates
from astropy import units as u
from astropy.modeling import models
from astropy.time import Time
from gwcs import WCS, coordinate_frames

SCALE = 0.11 / 3600  # deg per pixel


def tan_wcs(ra: float, dec: float, roll: float, pixels: int) -> WCS:
    """A TAN projection of ``pixels`` square pixels centred on (ra, dec), turned by ``roll``."""
    t = np.radians(roll)
    matrix = SCALE * np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    centre = (pixels - 1) / 2
    transform = ((models.Shift(-centre) & models.Shift(-centre))
                 | models.AffineTransformation2D(matrix=matrix)
                 | models.Pix2Sky_TAN()
                 | models.RotateNative2Celestial(ra, dec, 180.0))
    detector = coordinate_frames.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    sky = coordinate_frames.CelestialFrame(reference_frame=coordinates.ICRS(), name="world", unit=(u.deg, u.deg))
    wcs = WCS([(detector, transform), (sky, None)])
    wcs.bounding_box = ((-0.5, pixels - 0.5), (-0.5, pixels - 0.5))
    return wcs


def exposure_meta(meta, spec: dict) -> None:
    """Set the exposure's identity (what make-pool reads) on ``meta``."""
    meta.filename = spec["filename"]
    meta.exposure.type = spec["exposure_type"]
    meta.instrument.detector = spec["detector"]
    meta.instrument.optical_element = spec["optical_element"]
    meta.exposure.ma_table_name = spec["ma_table_name"]
    meta.exposure.engineering_quality = spec.get("engineering_quality", "OK")
    meta.exposure.data_problem = None  # the fake data's "?" would flag every exposure degraded
    meta.exposure.start_time = Time(spec["start_time"], format="isot", scale="utc")
    for key, value in spec["observation"].items():
        meta.observation[key] = value


def pointing(meta, spec: dict) -> WCS:
    """Set ``meta.wcsinfo`` (ref values, ``s_region``) from the exposure's WCS, and return the WCS."""
    wcs = tan_wcs(spec["ra"], spec["dec"], spec["roll"], spec["pixels"])
    info = meta.wcsinfo
    info.ra_ref, info.dec_ref, info.roll_ref = spec["ra"], spec["dec"], spec["roll"]
    corners = wcs.footprint(center=False)
    info.s_region = "POLYGON ICRS  " + " ".join(f"{ra:.12f} {dec:.12f}" for ra, dec in corners)
    return wcs


def level1(spec: dict):
    model = rdm.ScienceRawModel.create_fake_data(shape=(2, 8, 8))
    exposure_meta(model.meta, spec)
    pointing(model.meta, spec)
    return model


def level2(spec: dict):
    pixels = spec["pixels"]
    model = rdm.ImageModel.create_fake_data(shape=(pixels, pixels))
    exposure_meta(model.meta, spec)
    model.meta.wcs = pointing(model.meta, spec)
    rng = np.random.default_rng(len(spec["filename"]))
    model.data = rng.normal(1.0, 0.1, (pixels, pixels)).astype(model.data.dtype)
    for name in ("err", "var_poisson", "var_rnoise", "var_flat"):
        if name in model:
            setattr(model, name, np.full((pixels, pixels), 0.01, getattr(model, name).dtype))
    model.dq = np.zeros((pixels, pixels), model.dq.dtype)
    return model


def level3(spec: dict):
    model = rdm.MosaicModel.create_fake_data(shape=(8, 8))
    model.meta.filename = spec["filename"]
    return model


MAKERS = {1: level1, 2: level2, 3: level3}


def main(spec_path: str, out: str) -> int:
    warnings.simplefilter("ignore")
    specs = json.loads(open(spec_path).read())
    for spec in specs:
        MAKERS[spec["level"]](spec).save(f"{out}/{spec['filename']}")
    print(f"wrote {len(specs)} files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
