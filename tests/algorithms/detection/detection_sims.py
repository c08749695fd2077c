# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated images for the detection, deblending and cosmic-ray tests (truth known exactly)."""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = [
    "gaussian_psf_stamp",
    "grid_positions",
    "inject_cosmic_rays",
    "psf_snr_flux",
    "render_gaussian_stars",
]


def _integrated_1d(centre: float, sigma: float, first: int, n: int) -> np.ndarray:
    """Fraction of a unit 1-d Gaussian falling in pixels first … first+n-1 (pixel k spans k±0.5)."""
    edges = np.arange(first, first + n + 1) - 0.5
    return np.diff(0.5 * erf((edges - centre) / (np.sqrt(2.0) * sigma)))


def gaussian_psf_stamp(sigma: float, radius: int, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Pixel-integrated unit-flux Gaussian PSF on a (2r+1)² stamp, centred at (r+dx, r+dy)."""
    ex = _integrated_1d(radius + dx, sigma, 0, 2 * radius + 1)
    ey = _integrated_1d(radius + dy, sigma, 0, 2 * radius + 1)
    return np.outer(ey, ex)


def render_gaussian_stars(
    shape: tuple[int, int], x: np.ndarray, y: np.ndarray, flux: np.ndarray, sigma: float
) -> np.ndarray:
    """Noise-free float64 image of pixel-integrated Gaussian stars (flux within 6σ)."""
    image = np.zeros(shape)
    r = int(np.ceil(6 * sigma))
    ny, nx = shape
    for xi, yi, fi in zip(np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(flux), strict=True):
        ix, iy = int(np.floor(xi + 0.5)), int(np.floor(yi + 0.5))
        ex = _integrated_1d(xi, sigma, ix - r, 2 * r + 1)
        ey = _integrated_1d(yi, sigma, iy - r, 2 * r + 1)
        x0, y0 = ix - r, iy - r
        xs = slice(max(x0, 0), min(ix + r + 1, nx))
        ys = slice(max(y0, 0), min(iy + r + 1, ny))
        if xs.start >= xs.stop or ys.start >= ys.stop:
            continue
        stamp = fi * np.outer(ey[ys.start - y0 : ys.stop - y0], ex[xs.start - x0 : xs.stop - x0])
        image[ys, xs] += stamp
    return image


def psf_snr_flux(snr: float, sigma: float, noise: float) -> float:
    """Flux of a point source with optimal (PSF-fit) S/N ``snr`` on white noise ``noise``.

    ``S/N = F·sqrt(ΣP²)/noise`` for the pixel-integrated PSF centred on a pixel.
    """
    stamp = gaussian_psf_stamp(sigma, int(np.ceil(6 * sigma)))
    return float(snr * noise / np.sqrt(np.sum(stamp**2)))


def grid_positions(
    shape: tuple[int, int], spacing: int, rng: np.random.Generator, margin: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Positions on a regular grid with random sub-pixel offsets in [-0.5, 0.5)."""
    gy, gx = np.mgrid[margin : shape[0] - margin : spacing, margin : shape[1] - margin : spacing]
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    return x, y


def inject_cosmic_rays(
    shape: tuple[int, int],
    rng: np.random.Generator,
    n_single: int,
    n_tracks: int,
    amplitude: tuple[float, float],
    avoid: tuple[np.ndarray, np.ndarray] | None = None,
    avoid_radius: float = 0.0,
    margin: int = 5,
) -> np.ndarray:
    """An image of cosmic-ray charge: single-pixel hits and straight one-pixel-wide tracks.

    Tracks run 3–12 pixels in a random direction; each pixel gets an amplitude drawn uniformly
    in ``amplitude``. Hits closer than ``avoid_radius`` to a position of ``avoid`` are not made.
    """
    cr = np.zeros(shape)
    ny, nx = shape
    made = 0
    total = n_single + n_tracks
    while made < total:
        x0 = int(rng.integers(margin, nx - margin))
        y0 = int(rng.integers(margin, ny - margin))
        if avoid is not None and np.any(np.hypot(avoid[0] - x0, avoid[1] - y0) < avoid_radius + 12):
            continue
        if made < n_single:
            xs, ys = np.array([x0]), np.array([y0])
        else:
            length = int(rng.integers(3, 13))
            angle = rng.uniform(0, np.pi)
            t = np.arange(length)
            xs = np.round(x0 + t * np.cos(angle)).astype(int)
            ys = np.round(y0 + t * np.sin(angle)).astype(int)
            keep = (xs >= margin) & (xs < nx - margin) & (ys >= margin) & (ys < ny - margin)
            xs, ys = xs[keep], ys[keep]
        cr[ys, xs] = rng.uniform(*amplitude, xs.size)
        made += 1
    return cr
