# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated images with known truth for the measurement tests (shared by the test modules).

Stars are the PSF model's own images (`Psf.compute_image`, point-sampled, unit sum) times their
flux, so the PSF flux of a noiseless star is exact; Gaussian sources are point-sampled elliptical
Gaussians normalised analytically. Noise is Gaussian with the *expected* variance ``sky + model``
(independent of the noise draw, so variance-weighted fits are unbiased).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from skystack.image.psf import Psf

__all__ = ["Field", "add_gaussian", "add_psf_star", "grid_positions", "noisy"]


def add_psf_star(image: np.ndarray, psf: Psf, x: float, y: float, flux: float) -> np.ndarray:
    """Add ``flux`` × the PSF image at ``(x, y)`` to ``image`` (in place, clipped); return the stamp."""
    stamp, box = psf.compute_image(x, y)
    ny, nx = image.shape
    x0, y0 = box.min_x, box.min_y
    k = stamp.shape[0]
    ys0, xs0 = max(y0, 0), max(x0, 0)
    ys1, xs1 = min(y0 + k, ny), min(x0 + k, nx)
    if ys1 > ys0 and xs1 > xs0:
        image[ys0:ys1, xs0:xs1] += flux * stamp[ys0 - y0 : ys1 - y0, xs0 - x0 : xs1 - x0]
    return flux * stamp


def add_gaussian(
    image: np.ndarray,
    x: float,
    y: float,
    flux: float,
    xx: float,
    yy: float,
    xy: float = 0.0,
    half: int | None = None,
) -> None:
    """Add a point-sampled elliptical Gaussian of total ``flux`` and moments ``xx, yy, xy`` (in place)."""
    det = xx * yy - xy * xy
    h = half if half is not None else math.ceil(6 * math.sqrt(max(xx, yy))) + 2
    ny, nx = image.shape
    i0, i1 = max(math.floor(x) - h, 0), min(math.floor(x) + h + 1, nx)
    j0, j1 = max(math.floor(y) - h, 0), min(math.floor(y) + h + 1, ny)
    dy, dx = np.mgrid[j0:j1, i0:i1].astype(float)
    dx -= x
    dy -= y
    u = (yy * dx * dx - 2 * xy * dx * dy + xx * dy * dy) / det
    image[j0:j1, i0:i1] += flux * np.exp(-0.5 * u) / (2 * math.pi * math.sqrt(det))


def grid_positions(
    rng: np.random.Generator, n_side: int, spacing: float, margin: float, jitter: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Positions on a square grid with uniform sub-pixel jitter."""
    g = margin + spacing * np.arange(n_side)
    gx, gy = np.meshgrid(g, g)
    x = gx.ravel() + rng.uniform(-jitter, jitter, gx.size)
    y = gy.ravel() + rng.uniform(-jitter, jitter, gy.size)
    return x, y


def noisy(rng: np.random.Generator, model: np.ndarray, sky: float) -> tuple[np.ndarray, np.ndarray]:
    """A noisy realisation of ``model`` (sky-subtracted) and its expected variance ``sky + model``."""
    variance = sky + np.clip(model, 0.0, None)
    return model + rng.standard_normal(model.shape) * np.sqrt(variance), variance


@dataclass
class Field:
    """A simulated sky-subtracted field: model, truth table, noisy image and variance."""

    model: np.ndarray
    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    kind: np.ndarray  # "star" or "galaxy"
    extra: dict[str, np.ndarray] = field(default_factory=dict)
