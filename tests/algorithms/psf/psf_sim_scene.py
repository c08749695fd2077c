# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated star fields for the PSF tests and benchmark (rendered by `skystack.sim.render`).

The field follows the simulator (`skystack.sim.survey.psf_fwhm_pixels`): Moffat stars of
``beta = 3.5`` whose FWHM grows as ``fwhm0 (1 + v (r / r_field)²)`` with the distance ``r`` from the
optical axis. The detector is one quadrant of a 2×2 mosaic, the axis at its lower-left corner
(just outside it) and ``r_field`` the distance to the opposite corner, so the FWHM varies by ``v``
(8 %) across the detector with both linear and quadratic terms. Stars are pixel-integrated by the
simulator's renderer; the scene adds a flat sky, Poisson and read noise.

Truth: the *effective* PSF (the Moffat integrated over a pixel — what the image samples and what
a `~skystack.image.psf.PixelPsf` models) has a FWHM 1–4 % larger than the Moffat's; `true_fwhm`
returns the effective one, found by root finding on the pixel-integrated profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from skystack.algorithms.psf import adaptive_moments, extract_stamps, ring_background
from skystack.sim.render import moffat_alpha, render_point_sources, render_sersic_galaxies

__all__ = ["BETA", "Catalog", "StarField", "make_star_field", "measure_catalog", "moffat_fwhm", "true_fwhm"]

BETA = 3.5
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_GL_X, _GL_W = 0.5 * _GL_X, 0.5 * _GL_W


@dataclass
class StarField:
    """A simulated image with its truth."""

    image: np.ndarray  # sky-subtracted, float64
    variance: np.ndarray  # pipeline-style estimate: max(raw, 0) + read_noise²
    true_variance: np.ndarray  # sky + noiseless sources + read_noise²
    x: np.ndarray  # star positions (truth)
    y: np.ndarray
    flux: np.ndarray  # star fluxes (electrons)
    fwhm0: float
    variation: float
    axis: tuple[float, float]
    r_field: float
    galaxies_x: np.ndarray
    galaxies_y: np.ndarray
    galaxies_flux: np.ndarray
    faint_x: np.ndarray
    faint_y: np.ndarray
    faint_flux: np.ndarray
    companion_of: np.ndarray  # index of the bright star each companion sits next to
    companion_x: np.ndarray
    companion_y: np.ndarray
    companion_flux: np.ndarray

    def all_sources(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Positions, fluxes and kinds (0 star, 1 galaxy, 2 faint star, 3 companion) of every source."""
        x = np.concatenate([self.x, self.galaxies_x, self.faint_x, self.companion_x])
        y = np.concatenate([self.y, self.galaxies_y, self.faint_y, self.companion_y])
        flux = np.concatenate([self.flux, self.galaxies_flux, self.faint_flux, self.companion_flux])
        kind = np.repeat(
            [0, 1, 2, 3], [self.x.size, self.galaxies_x.size, self.faint_x.size, self.companion_x.size]
        )
        return x, y, flux, kind

    def moffat_fwhm(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """FWHM (pixels) of the Moffat rendered at ``(x, y)``."""
        return moffat_fwhm(x, y, self.fwhm0, self.variation, self.axis, self.r_field)


def moffat_fwhm(
    x: np.ndarray | float,
    y: np.ndarray | float,
    fwhm0: float,
    variation: float,
    axis: tuple[float, float],
    r_field: float,
) -> np.ndarray:
    """Moffat FWHM (pixels) at detector positions: ``fwhm0 (1 + v (r / r_field)²)``."""
    r2 = (np.asarray(x, dtype=float) - axis[0]) ** 2 + (np.asarray(y, dtype=float) - axis[1]) ** 2
    return np.asarray(fwhm0 * (1.0 + variation * r2 / r_field**2))


def _pixel_integrated(r: float, alpha: float) -> float:
    u = r + _GL_X[:, None]
    v = _GL_X[None, :]
    return float(np.sum(_GL_W[:, None] * _GL_W[None, :] * (1.0 + (u * u + v * v) / alpha**2) ** (-BETA)))


def true_fwhm(fwhm: float) -> float:
    """FWHM (pixels) of the effective PSF: a Moffat of FWHM ``fwhm`` integrated over a pixel."""
    alpha = float(moffat_alpha(fwhm, BETA))
    peak = _pixel_integrated(0.0, alpha)
    return 2.0 * brentq(lambda r: _pixel_integrated(r, alpha) - 0.5 * peak, 0.05, 10.0 * fwhm)


def make_star_field(
    shape: tuple[int, int] = (2048, 2048),
    n_stars: int = 300,
    fwhm0: float = 4.0,
    variation: float = 0.08,
    flux_range: tuple[float, float] = (3e4, 1e6),
    n_galaxies: int = 0,
    n_faint: int = 0,
    n_companions: int = 0,
    sky: float = 1000.0,
    read_noise: float = 5.0,
    min_separation: float = 40.0,
    margin: int = 30,
    seed: int = 5,
) -> StarField:
    """Render isolated Moffat stars (plus optional galaxies and faint stars) with noise.

    Bright stars are placed on a jittered grid so none is within ``min_separation`` pixels of
    another; galaxies and faint stars are placed at random.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    axis = (-0.02 * nx, -0.02 * ny)
    r_field = math.hypot(nx - 1 - axis[0], ny - 1 - axis[1])
    # Jittered grid: cells at least min_separation + jitter apart.
    n_side = math.ceil(math.sqrt(n_stars))
    cell_x = (nx - 2 * margin) / n_side
    cell_y = (ny - 2 * margin) / n_side
    jitter = max(0.0, 0.5 * (min(cell_x, cell_y) - min_separation))
    gx, gy = np.meshgrid(np.arange(n_side), np.arange(n_side))
    cx = margin + (gx.ravel() + 0.5) * cell_x
    cy = margin + (gy.ravel() + 0.5) * cell_y
    pick = rng.choice(cx.size, size=n_stars, replace=False)
    x = cx[pick] + rng.uniform(-jitter, jitter, n_stars)
    y = cy[pick] + rng.uniform(-jitter, jitter, n_stars)
    flux = np.exp(rng.uniform(math.log(flux_range[0]), math.log(flux_range[1]), n_stars))
    image = np.zeros(shape)
    render_point_sources(image, x, y, flux, moffat_fwhm(x, y, fwhm0, variation, axis, r_field), BETA)
    gal_x = rng.uniform(margin, nx - margin, n_galaxies)
    gal_y = rng.uniform(margin, ny - margin, n_galaxies)
    gal_f = np.exp(rng.uniform(math.log(flux_range[0]), math.log(flux_range[1] / 3), n_galaxies))
    if n_galaxies:
        render_sersic_galaxies(
            image,
            gal_x,
            gal_y,
            gal_f,
            rng.uniform(0.7, 2.5, n_galaxies),
            rng.uniform(2.5, 6.0, n_galaxies),
            rng.uniform(0.4, 1.0, n_galaxies),
            rng.uniform(0, math.pi, n_galaxies),
            moffat_fwhm(gal_x, gal_y, fwhm0, variation, axis, r_field),
            BETA,
        )
    fx = rng.uniform(margin, nx - margin, n_faint)
    fy = rng.uniform(margin, ny - margin, n_faint)
    ff = np.exp(rng.uniform(math.log(300.0), math.log(3000.0), n_faint))
    if n_faint:
        render_point_sources(image, fx, fy, ff, moffat_fwhm(fx, fy, fwhm0, variation, axis, r_field), BETA)
    # Companions: a star 1.5-3 FWHM from a bright star, with 20-100 % of its flux.
    host = rng.choice(n_stars, size=n_companions, replace=False)
    angle = rng.uniform(0, 2 * math.pi, n_companions)
    sep = rng.uniform(1.5, 3.0, n_companions) * fwhm0
    kx = x[host] + sep * np.cos(angle)
    ky = y[host] + sep * np.sin(angle)
    kf = flux[host] * rng.uniform(0.2, 1.0, n_companions)
    if n_companions:
        render_point_sources(image, kx, ky, kf, moffat_fwhm(kx, ky, fwhm0, variation, axis, r_field), BETA)
    true_variance = image + sky + read_noise**2
    raw = rng.poisson(image + sky).astype(float) + rng.normal(0.0, read_noise, shape)
    variance = np.maximum(raw, 0.0) + read_noise**2
    raw -= sky
    return StarField(
        image=raw,
        variance=variance,
        true_variance=true_variance,
        x=x,
        y=y,
        flux=flux,
        fwhm0=fwhm0,
        variation=variation,
        axis=axis,
        r_field=r_field,
        galaxies_x=gal_x,
        galaxies_y=gal_y,
        galaxies_flux=gal_f,
        faint_x=fx,
        faint_y=fy,
        faint_flux=ff,
        companion_of=host,
        companion_x=kx,
        companion_y=ky,
        companion_flux=kf,
    )


@dataclass
class Catalog:
    """Measurements of sources, as a detection/measurement step would give them."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    ixx: np.ndarray
    iyy: np.ndarray
    ixy: np.ndarray
    edge: np.ndarray


def measure_catalog(
    image: np.ndarray,
    variance: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    aperture: float = 12.0,
    size: int = 41,
    seed: int = 3,
) -> Catalog:
    """Aperture fluxes and adaptive moments at (jittered, as detected) positions."""
    rng = np.random.default_rng(seed)
    xd = x + rng.normal(0.0, 0.1, x.size)
    yd = y + rng.normal(0.0, 0.1, y.size)
    stamps, inside = extract_stamps(image, xd, yd, size)
    var_st, _ = extract_stamps(variance, xd, yd, size)
    stamps -= ring_background(stamps, 2)[:, None, None]
    offsets = np.arange(size) - size // 2
    ix, iy = np.floor(xd + 0.5), np.floor(yd + 0.5)
    u = offsets[None, None, :] + ix[:, None, None] - xd[:, None, None]
    v = offsets[None, :, None] + iy[:, None, None] - yd[:, None, None]
    in_aperture = u * u + v * v <= aperture**2
    flux = np.nansum(np.where(in_aperture, stamps, 0.0), axis=(1, 2))
    flux_err = np.sqrt(np.nansum(np.where(in_aperture, var_st, 0.0), axis=(1, 2)))
    moments = adaptive_moments(np.nan_to_num(stamps), xd - ix + size // 2, yd - iy + size // 2)
    return Catalog(
        x=ix - size // 2 + moments.x,
        y=iy - size // 2 + moments.y,
        flux=flux,
        flux_err=flux_err,
        ixx=moments.ixx,
        iyy=moments.iyy,
        ixy=moments.ixy,
        edge=~inside,
    )
