# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated detectors for the astrometry tests and benchmark: sources, references and both WCSs.

A scene is one detector of a SimCam camera at a random boresight and rotation. The true WCS is
the simulator's (`skystack.sim.survey.detector_wcs` with the camera's radial distortion); the
approximate WCS is the telescope's (no distortion) at a pointing and rotation perturbed as the
simulator's survey does (``pointing_error`` arcsec RMS per axis, ``rotation_error`` degrees RMS)
or by given amounts. Stars follow a power-law luminosity function; references are the stars
brighter than ``ref_mag_limit`` with ``ref_position_error_mas`` errors; sources are the unsaturated
stars brighter than ``source_mag_limit`` on the detector, with centroid noise
``hypot(0.01, 1.7 / SNR)`` pixels, plus galaxies that have no reference. Reference fluxes carry a
colour scatter, so the brightness order of the two lists differs as between two bands.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from skystack.geom import Box2I
from skystack.geom.wcs import SkyWcs
from skystack.instruments import Camera
from skystack.instruments.simcam import get_simcam
from skystack.sim.survey import detector_wcs

__all__ = ["AstrometryScene", "make_scene"]


@dataclass
class AstrometryScene:
    """One simulated detector; ``source_ref[i]`` is the reference index of source ``i`` (-1: none)."""

    bbox: Box2I
    true_wcs: SkyWcs
    approx_wcs: SkyWcs
    source_x: np.ndarray
    source_y: np.ndarray
    source_true_x: np.ndarray
    source_true_y: np.ndarray
    source_flux: np.ndarray
    source_mag: np.ndarray
    source_sigma: np.ndarray
    source_ref: np.ndarray
    ref_ra: np.ndarray
    ref_dec: np.ndarray
    ref_true_ra: np.ndarray
    ref_true_dec: np.ndarray
    ref_flux: np.ndarray

    @property
    def n_common(self) -> int:
        """Sources that have a reference star (the best any matcher can do)."""
        return int(np.count_nonzero(self.source_ref >= 0))


@functools.lru_cache(maxsize=4)
def _camera(name: str) -> Camera:
    return get_simcam(name).camera


def _luminosity_function(rng: np.random.Generator, n: int, m_min: float, m_max: float) -> np.ndarray:
    slope = 0.3
    lo, hi = 10.0 ** (slope * m_min), 10.0 ** (slope * m_max)
    return np.log10(lo + rng.uniform(size=n) * (hi - lo)) / slope


def make_scene(
    seed: int,
    *,
    camera: str = "SimCamBench",
    detector: int | None = None,
    n_refs: float = 500.0,
    pointing_error: float = 3.0,
    rotation_error: float = 0.2,
    offset_arcsec: tuple[float, float] | None = None,
    rotation_offset_deg: float | None = None,
    scale_error: float = 0.0,
    ref_position_error_mas: float = 5.0,
    ref_mag_limit: float = 20.5,
    source_mag_limit: float = 22.5,
    saturation_mag: float = 16.0,
    galaxy_fraction: float = 0.25,
    colour_scatter: float = 0.3,
) -> AstrometryScene:
    """Draw a scene with about ``n_refs`` reference stars on the detector (more around it)."""
    rng = np.random.default_rng([seed, 4242])
    cam = _camera(camera)
    det = cam.detectors[int(rng.integers(len(cam.detectors))) if detector is None else detector]
    ra0 = 150.0 + rng.uniform(-1, 1)
    dec0 = rng.uniform(-60.0, 60.0)
    rot = rng.uniform(0.0, 360.0)
    true_wcs = detector_wcs(cam, det, ra0, dec0, rot, True)
    if offset_arcsec is None:
        d_ra, d_dec = rng.normal(0.0, pointing_error, 2)
    else:
        d_ra, d_dec = offset_arcsec
    d_rot = rng.normal(0.0, rotation_error) if rotation_offset_deg is None else rotation_offset_deg
    approx = detector_wcs(
        cam,
        det,
        ra0 + d_ra / 3600.0 / math.cos(math.radians(dec0)),
        dec0 + d_dec / 3600.0,
        rot + d_rot,
        False,
    )
    if scale_error:
        w = approx.astropy_wcs.deepcopy()
        w.wcs.cd = w.wcs.cd * (1.0 + scale_error)
        approx = SkyWcs(w)

    bbox = det.bbox
    pad = 600.0  # pixels: more than the largest offsets tested
    width, height = bbox.width + 2 * pad, bbox.height + 2 * pad
    f_ref = (10 ** (0.3 * ref_mag_limit) - 10**4.2) / (10 ** (0.3 * source_mag_limit) - 10**4.2)
    n_stars = int(rng.poisson(n_refs / f_ref * width * height / bbox.area))
    px = rng.uniform(bbox.min_x - pad, bbox.max_x + pad, n_stars)
    py = rng.uniform(bbox.min_y - pad, bbox.max_y + pad, n_stars)
    mag = _luminosity_function(rng, n_stars, 14.0, source_mag_limit)
    true_ra, true_dec = true_wcs.pixel_to_sky(px, py)

    is_ref = mag < ref_mag_limit
    ref_ids = np.flatnonzero(is_ref)
    err = ref_position_error_mas / 3.6e6
    ref_ra = true_ra[is_ref] + rng.normal(0, err, ref_ids.size) / np.cos(np.radians(true_dec[is_ref]))
    ref_dec = true_dec[is_ref] + rng.normal(0, err, ref_ids.size)
    ref_flux = 10 ** (-0.4 * (mag[is_ref] + rng.normal(0, colour_scatter, ref_ids.size) - 31.4))
    ref_of_star = np.full(n_stars, -1)
    ref_of_star[ref_ids] = np.arange(ref_ids.size)

    on_det = bbox.to_box2d().contains(px, py) & (mag >= saturation_mag)
    star_ids = np.flatnonzero(on_det)
    n_gal = int(rng.poisson(galaxy_fraction * star_ids.size))
    gx = rng.uniform(bbox.min_x - 0.5, bbox.max_x + 0.5, n_gal)
    gy = rng.uniform(bbox.min_y - 0.5, bbox.max_y + 0.5, n_gal)
    gmag = rng.uniform(18.0, source_mag_limit, n_gal)
    s_true_x = np.concatenate([px[star_ids], gx])
    s_true_y = np.concatenate([py[star_ids], gy])
    s_mag = np.concatenate([mag[star_ids], gmag])
    snr = 5.0 * 10 ** (-0.4 * (s_mag - 24.0))
    sigma = np.hypot(0.01, 1.7 / snr)
    sigma[star_ids.size :] = np.hypot(sigma[star_ids.size :], 0.1)  # galaxies: extended, noisier
    s_ref = np.concatenate([ref_of_star[star_ids], np.full(n_gal, -1)])
    order = rng.permutation(s_mag.size)
    s_true_x, s_true_y, s_mag, sigma, s_ref = (a[order] for a in (s_true_x, s_true_y, s_mag, sigma, s_ref))
    return AstrometryScene(
        bbox=bbox,
        true_wcs=true_wcs,
        approx_wcs=approx,
        source_x=s_true_x + rng.normal(0, 1, s_mag.size) * sigma,
        source_y=s_true_y + rng.normal(0, 1, s_mag.size) * sigma,
        source_true_x=s_true_x,
        source_true_y=s_true_y,
        source_flux=10 ** (-0.4 * (s_mag - 31.4)) * (1 + rng.normal(0, 1, s_mag.size) / snr),
        source_mag=s_mag,
        source_sigma=sigma,
        source_ref=s_ref,
        ref_ra=np.mod(ref_ra, 360.0),
        ref_dec=ref_dec,
        ref_true_ra=true_ra[is_ref],
        ref_true_dec=true_dec[is_ref],
        ref_flux=ref_flux,
    )
