# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated survey: visits with dithers, rotations, bands and observing conditions, and the
true and telescope-reported WCS of every detector.

WCS model: a detector pixel maps to the focal plane through the camera geometry, the focal plane
to a field angle through the plate scale, the field angle ``θ`` is distorted to ``θ (1 + k θ²)``
(``k`` = the camera's ``radial_distortion``, θ in degrees) and projected (TAN) about the
boresight with the visit's rotation angle (position angle of focal-plane +y). That distortion is
exactly a cubic TAN-SIP term with ``CRPIX`` on the optical axis, so the true WCS is exact, not a fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from astropy.time import Time
from astropy.wcs import WCS, Sip

from skystack.geom import Angle, SkyWcs, make_cd_matrix
from skystack.instruments import Camera, Detector

from .config import SimulatorConfig

__all__ = ["SimVisit", "detector_wcs", "make_survey", "psf_fwhm_pixels"]

_SKY_COLOR = {"u": 2.2, "g": 1.0, "r": 0.0, "i": -0.7, "z": -1.5, "y": -2.0}


@dataclass(frozen=True, slots=True)
class SimVisit:
    """One visit: true pointing, reported pointing and conditions (angles in degrees).

    ``zero_point`` is the magnitude giving one electron per second for this visit (extinction and
    transparency included); ``sky_level`` is the sky in electrons per pixel per snap.
    """

    visit_id: int
    exposure_ids: tuple[int, ...]
    seq_nums: tuple[int, ...]
    day_obs: int
    band: str
    physical_filter: str
    mjd: float
    exposure_time: float
    ra: float
    dec: float
    rotation: float
    reported_ra: float
    reported_dec: float
    reported_rotation: float
    airmass: float
    seeing: float
    transparency: float
    sky_mag: float
    zero_point: float
    sky_level: float

    def snap_mjd(self, snap: int) -> float:
        """TAI MJD of the start of snap ``snap`` (snaps follow each other with 2 s of readout)."""
        return self.mjd + snap * (self.exposure_time + 2.0) / 86400.0

    def to_dict(self) -> dict[str, object]:
        """Plain values."""
        return asdict(self)


def make_survey(config: SimulatorConfig, camera: Camera) -> list[SimVisit]:
    """Draw the visits of the survey (deterministic for ``config.seed``)."""
    s = config.survey
    rng = np.random.default_rng([config.seed, 7002])
    n = s.n_visits
    pixel_area = (camera.plate_scale * camera.detectors[0].pixel_size) ** 2
    nights = np.sort(rng.uniform(0.0, s.survey_days, n)).astype(int)
    visits = []
    seq = 0
    last_day = -1
    for k in range(n):  # one small record per visit
        band = s.bands[k % len(s.bands)]
        flt = camera.filter_for_band(band)
        mjd = s.start_mjd + nights[k] + (k % 20) * (s.exposure_time * s.snaps + 10.0) / 86400.0
        day_obs = int(Time(s.start_mjd + nights[k], format="mjd", scale="tai").datetime.strftime("%Y%m%d"))
        if nights[k] != last_day:
            seq, last_day = 0, nights[k]
        seq_nums = tuple(seq + 1 + i for i in range(s.snaps))
        seq += s.snaps
        exp_ids = tuple(day_obs * 100000 + q for q in seq_nums)
        ra = s.ra + rng.normal(0, s.dither) / math.cos(math.radians(s.dec))
        dec = s.dec + rng.normal(0, s.dither)
        rot = float(rng.normal(0, s.rotation_sigma)) % 360.0
        airmass = float(rng.uniform(1.0, s.airmass_max))
        seeing = float(rng.uniform(s.seeing_min, s.seeing_max)) * airmass**0.6
        transparency = float(rng.uniform(s.transparency_min, 1.0))
        zp = config.zero_points[band] - config.extinction[band] * airmass + 2.5 * math.log10(transparency)
        sky_mag = float(rng.uniform(s.sky_mag_min, s.sky_mag_max)) + _SKY_COLOR.get(band, 0.0)
        sky_level = 10 ** (-0.4 * (sky_mag - zp)) * pixel_area * s.exposure_time
        visits.append(
            SimVisit(
                visit_id=exp_ids[0],
                exposure_ids=exp_ids,
                seq_nums=seq_nums,
                day_obs=day_obs,
                band=band,
                physical_filter=flt.physical_filter,
                mjd=float(mjd),
                exposure_time=s.exposure_time,
                ra=float(ra) % 360.0,
                dec=float(dec),
                rotation=rot,
                reported_ra=(
                    float(ra) + rng.normal(0, s.pointing_error / 3600.0) / math.cos(math.radians(dec))
                )
                % 360.0,
                reported_dec=float(dec) + rng.normal(0, s.pointing_error / 3600.0),
                reported_rotation=(rot + rng.normal(0, s.rotation_error)) % 360.0,
                airmass=airmass,
                seeing=seeing,
                transparency=transparency,
                sky_mag=sky_mag,
                zero_point=zp,
                sky_level=float(sky_level),
            )
        )
    return visits


def detector_wcs(
    camera: Camera, detector: Detector, ra: float, dec: float, rotation: float, distortion: bool = True
) -> SkyWcs:
    """The WCS of ``detector`` for a boresight ``(ra, dec)`` and rotation angle (degrees).

    With ``distortion`` the camera's radial distortion is included as an exact cubic SIP term.
    """
    scale = camera.plate_scale * detector.pixel_size  # arcsec per pixel
    t = math.radians(detector.rotation)
    yaw = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    cd = make_cd_matrix(Angle.from_degrees(scale / 3600.0), Angle.from_degrees(rotation)) @ yaw
    ox, oy = detector.focal_plane_to_pixel(0.0, 0.0)  # optical axis in detector pixels
    w = WCS(naxis=2)
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [float(ox) + 1.0, float(oy) + 1.0]
    w.wcs.cd = cd
    k = camera.radial_distortion
    if distortion and k != 0.0:
        w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
        c = k * (scale / 3600.0) ** 2
        a = np.zeros((4, 4))
        b = np.zeros((4, 4))
        a[3, 0] = a[1, 2] = c  # f(d) = k s² |d|² d
        b[2, 1] = b[0, 3] = c
        w.sip = Sip(a, b, None, None, w.wcs.crpix)
    else:
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.set()
    return SkyWcs(w)


def psf_fwhm_pixels(
    config: SimulatorConfig, camera: Camera, detector: Detector, visit: SimVisit, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """PSF FWHM (pixels) at detector positions: the seeing grows as ``1 + v (r / r_field)²``."""
    fx, fy = detector.pixel_to_focal_plane(x, y)
    r2 = (fx * fx + fy * fy) / camera.field_radius**2
    scale = camera.plate_scale * detector.pixel_size
    return np.asarray(visit.seeing / scale * (1.0 + config.survey.psf_field_variation * r2))
