# SPDX-License-Identifier: GPL-3.0-or-later
"""A generic instrument for single-detector frames whose FITS headers carry a celestial WCS.

`GenericInstrument.from_fits` reads one frame and builds a one-detector, one-amplifier camera
from its header (size, ``GAIN``/``EGAIN``, ``RDNOISE``, ``SATURATE``, pixel scale from the WCS);
`GenericTranslator` turns the header into an `~skystack.instruments.translator.ObservationInfo`
(boresight = the WCS position of the image centre, ``DATE-OBS`` + ``EXPTIME``). Frames without a
celestial WCS are refused with an error that says so: such frames need a real instrument class.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS, FITSFixedWarning

from skystack.geom import Box2I, SkyWcs

from .base import Amplifier, Camera, Detector, Filter, Instrument
from .translator import HeaderTranslator, ObservationInfo, TranslationError

__all__ = ["GenericInstrument", "GenericTranslator", "find_image_hdu"]

_SINGLE_BANDS = set("ugrizyUBVRIJHK")


def _filter_band(physical_filter: str) -> str:
    """The band of a filter name: a single-letter name or first word (DECam's ``r DECam SDSS
    c0002 ...``) maps to that letter; other names are kept."""
    name = physical_filter.strip()
    first = name.split()[0] if name else ""
    if len(first) == 1 and first in _SINGLE_BANDS:
        return first
    return name or "unknown"


#: Image-type keyword values of common acquisition software (MaxIm DL, IRAF, ESO ...) → the
#: observation types of the ``exposure`` records (``define-visits`` groups the ``science`` ones).
_OBSERVATION_TYPES = {
    "light": "science",
    "light frame": "science",
    "object": "science",
    "science": "science",
    "bias": "bias",
    "bias frame": "bias",
    "zero": "bias",
    "dark": "dark",
    "dark frame": "dark",
    "flat": "flat",
    "flat frame": "flat",
    "flat field": "flat",
    "flatfield": "flat",
    "dome flat": "flat",
    "sky flat": "flat",
    "twilight flat": "flat",
}


def _observation_type(header: fits.Header) -> str:
    """``IMAGETYP`` (or ``OBSTYPE``) as an observation type; unknown values are kept, lower-cased."""
    value = str(header.get("IMAGETYP", header.get("OBSTYPE", "science"))).strip().lower()
    return _OBSERVATION_TYPES.get(value, value or "science")


def find_image_hdu(hdus: fits.HDUList, filename: str) -> tuple[int, SkyWcs]:
    """Index of the first 2-D image HDU with a celestial WCS, and that WCS.

    Raises
    ------
    TranslationError
        If the file holds no 2-D image, or no image HDU has a celestial WCS (the message says
        the generic instrument needs one and suggests writing an instrument class).
    """
    saw_image = False
    for index, hdu in enumerate(hdus):
        if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) or hdu.header.get("NAXIS", 0) != 2:
            continue
        saw_image = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                celestial = WCS(hdu.header).has_celestial
            except Exception:
                celestial = False
        if celestial:
            return index, SkyWcs.from_fits_header(hdu.header)
    if not saw_image:
        raise TranslationError(f"{filename}: no 2-D image HDU; the generic instrument reads image frames")
    raise TranslationError(
        f"{filename}: no image HDU has a celestial WCS (CTYPE1/2 = RA---xxx/DEC--xxx); the generic "
        "instrument needs one to place the frame on the sky. Solve the frame first (e.g. "
        "astrometry.net) or write an Instrument class for this camera."
    )


class GenericTranslator(HeaderTranslator):
    """Translate the header of a single frame with a WCS (``DATE-OBS``, ``EXPTIME``, ``FILTER``)."""

    def can_translate(self, header: fits.Header) -> bool:
        """True when the header has ``DATE-OBS`` and a celestial WCS."""
        if "DATE-OBS" not in header:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                return bool(WCS(header).has_celestial)
            except Exception:
                return False

    def to_observation_info(self, header: fits.Header, filename: str = "<header>") -> ObservationInfo:
        """Translate the header of the frame's image HDU.

        The exposure id is the ``DATE-OBS`` start time as the integer ``YYYYMMDDhhmmss``; the
        boresight is the WCS position of the image centre; the rotation angle is the position
        angle of the image +y axis; ``IMAGETYP`` values such as ``LIGHT`` or ``object`` are
        observation type ``science`` (``Bias Frame``/``zero`` → ``bias``, ...).

        Raises
        ------
        TranslationError
            If ``DATE-OBS`` or the exposure time is missing or invalid, or there is no celestial WCS.
        """
        date = self.require(header, "DATE-OBS", filename)
        try:
            begin = Time(date, scale="utc")
        except ValueError:
            raise TranslationError(f"{filename}: DATE-OBS={date!r} is not an ISO date") from None
        key = next((k for k in ("EXPTIME", "EXPOSURE", "ITIME") if k in header), "EXPTIME")
        exptime = self.require(header, key, filename, float)
        try:
            wcs = SkyWcs.from_fits_header(header)
        except Exception as err:
            raise TranslationError(f"{filename}: no usable celestial WCS in the header ({err})") from None
        nx, ny = int(header["NAXIS1"]), int(header["NAXIS2"])
        center = wcs.pixel_to_sky_point((nx - 1) / 2.0, (ny - 1) / 2.0)
        up = wcs.pixel_to_sky_point((nx - 1) / 2.0, (ny - 1) / 2.0 + 1.0)
        rotation = center.position_angle_to(up).degrees
        physical_filter = str(header.get("FILTER", "unknown")).strip() or "unknown"
        airmass = float(header.get("AIRMASS", math.nan))
        stamp = re.sub(r"\D", "", begin.isot)[:14]
        tai_begin = begin.tai
        end = tai_begin + TimeDelta(exptime, format="sec")
        return ObservationInfo(
            instrument=self.instrument.name,
            exposure_id=int(stamp),
            obs_id=Path(filename).name,
            group=stamp,
            snap=0,
            observation_type=_observation_type(header),
            datetime_begin=tai_begin.isot,
            datetime_end=end.isot,
            exposure_time=exptime,
            dark_time=float(header.get("DARKTIME", exptime)),
            physical_filter=physical_filter,
            band=_filter_band(physical_filter),
            boresight_ra=center.ra_deg,
            boresight_dec=center.dec_deg,
            rotation_angle=float(rotation) % 360.0,
            airmass=airmass,
            detector_id=0,
            detector_name="0",
            day_obs=int(stamp[:8]),
            seq_num=int(stamp[8:]),
        )


class GenericInstrument(Instrument):
    """A single-detector camera built from one frame's header; see the module docstring.

    Use `from_fits`; the constructor takes the already-built camera.
    """

    translator_class = GenericTranslator
    config_folder = "generic"

    def __init__(self, camera: Camera, header: fits.Header, hdu_index: int) -> None:
        self._given_camera = camera
        self.header = header
        self.hdu_index = hdu_index
        super().__init__()

    def load_camera(self) -> Camera:
        """The camera built by `from_fits`."""
        return self._given_camera

    @classmethod
    def from_fits(cls, path: str | Path, name: str | None = None) -> GenericInstrument:
        """Build the instrument of the frame at ``path``.

        Parameters
        ----------
        path : `str` or `~pathlib.Path`
            A FITS file (optionally gzipped) holding a 2-D image with a celestial WCS.
        name : `str`, optional
            Instrument name; default ``INSTRUME`` or ``TELESCOP`` from the header, else ``Generic``.

        Raises
        ------
        TranslationError
            If the file has no 2-D image with a celestial WCS (see `find_image_hdu`).
        OSError
            If the file cannot be read as FITS.
        """
        filename = str(path)
        with fits.open(path) as hdus:
            index, wcs = find_image_hdu(hdus, filename)
            header = hdus[index].header.copy()
            primary = hdus[0].header
            for key in ("DATE-OBS", "EXPTIME", "FILTER", "INSTRUME", "TELESCOP", "AIRMASS"):
                if key not in header and key in primary:
                    header[key] = primary[key]
        ny, nx = int(header["NAXIS2"]), int(header["NAXIS1"])
        pixel_size_mm = float(header.get("XPIXSZ", 10.0)) / 1000.0
        scale_arcsec = wcs.pixel_scale((nx - 1) / 2.0, (ny - 1) / 2.0).arcseconds
        gain = float(header.get("GAIN", header.get("EGAIN", 1.0)))
        saturation = float(header.get("SATURATE", 2 ** min(int(header.get("BITPIX", 16)), 16) - 1))
        if int(header.get("BITPIX", 16)) < 0 and "SATURATE" not in header:
            saturation = float(np.finfo(np.float32).max)
        amp = Amplifier(
            name="A",
            bbox=Box2I(0, 0, nx, ny),
            gain=gain,
            read_noise=float(header.get("RDNOISE", header.get("READNOIS", 0.0))),
            saturation=saturation,
            bias_level=0.0,
            serial_overscan=0,
        )
        det = Detector(
            id=0,
            name="0",
            serial=str(header.get("CCD-ID", header.get("DETECTOR", "0"))),
            bbox=Box2I(0, 0, nx, ny),
            pixel_size=pixel_size_mm,
            position=(0.0, 0.0),
            rotation=0.0,
            amplifiers=(amp,),
            crosstalk=np.zeros((1, 1)),
        )
        physical_filter = str(header.get("FILTER", "unknown")).strip() or "unknown"
        inst_name = (
            name or str(header.get("INSTRUME", header.get("TELESCOP", "Generic"))).strip() or "Generic"
        )
        camera = Camera(
            name=inst_name,
            plate_scale=scale_arcsec / pixel_size_mm,
            radial_distortion=0.0,
            filters=(Filter(physical_filter, _filter_band(physical_filter), math.nan),),
            detectors=(det,),
        )
        return cls(camera, header, index)

    def observation_info(self) -> ObservationInfo:
        """The translated header of the frame this instrument was built from."""
        return GenericTranslator(self).to_observation_info(self.header, self.name)

    def wcs(self) -> SkyWcs:
        """The frame's WCS."""
        return SkyWcs.from_fits_header(self.header)

    def read_image(self, path: str | Path) -> np.ndarray[Any, Any]:
        """The image data of the frame's image HDU (as stored, no conversion)."""
        with fits.open(path) as hdus:
            return np.asarray(hdus[self.hdu_index].data)
