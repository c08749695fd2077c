# SPDX-License-Identifier: GPL-3.0-or-later
"""Stamp extraction, local background, sinc shifts, adaptive moments and PSF star fits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skystack.algorithms.psf import (
    adaptive_moments,
    extract_stamps,
    fit_psf_stars,
    model_stamps,
    ring_background,
    shift_stamps,
)
from skystack.geom.box import Box2I
from skystack.image.psf import GaussianPsf, PixelPsf
from skystack.sim.render import moffat_stamp, render_point_sources


def _gaussian(size: int, x0: float, y0: float, sxx: float, syy: float, sxy: float = 0.0) -> np.ndarray:
    """Elliptical Gaussian of covariance [[sxx, sxy], [sxy, syy]] centred at (x0, y0), point-sampled."""
    u = np.arange(size)[None, :] - x0
    v = np.arange(size)[:, None] - y0
    inv = np.linalg.inv(np.array([[sxx, sxy], [sxy, syy]]))
    return np.exp(-0.5 * (inv[0, 0] * u * u + 2 * inv[0, 1] * u * v + inv[1, 1] * v * v))


def test_extract_stamps_matches_slices_and_flags_edges() -> None:
    image = np.arange(60 * 50, dtype=float).reshape(60, 50)
    stamps, inside = extract_stamps(image, [10.4, 2.0, 48.6], [20.5, 30.0, 58.0], 5)
    assert stamps.shape == (3, 5, 5)
    np.testing.assert_array_equal(stamps[0], image[19:24, 8:13])  # nearest pixel (10, 21)
    assert inside.tolist() == [True, True, False]
    # Nearest pixel (49, 58): the stamp covers x 47..51, y 56..60 and the image ends at (49, 59).
    assert np.isnan(stamps[2, 4, :]).all() and np.isnan(stamps[2, :, 3:]).all()
    np.testing.assert_array_equal(stamps[2, :4, :3], image[56:60, 47:50])
    # A parent origin: positions are parent pixels.
    shifted, _ = extract_stamps(image, [110.4], [220.5], 5, xy0=(100, 200))
    np.testing.assert_array_equal(shifted[0], stamps[0])
    with pytest.raises(ValueError, match="odd positive integer"):
        extract_stamps(image, [1.0], [1.0], 4)
    with pytest.raises(ValueError, match="2-D"):
        extract_stamps(image[0], [1.0], [1.0], 3)


def test_ring_background_ignores_the_star() -> None:
    stamps = 7.0 + 1e4 * _gaussian(25, 12, 12, 4.0, 4.0)[None]
    assert ring_background(stamps, 2)[0] == pytest.approx(7.0, abs=1e-3)
    stamps[0, 0, :] = np.nan
    assert ring_background(stamps, 2)[0] == pytest.approx(7.0, abs=1e-3)
    with pytest.raises(ValueError, match="width"):
        ring_background(stamps, 13)


def test_shift_stamps_recentres_a_gaussian() -> None:
    dx, dy = np.array([0.3, -0.45]), np.array([-0.2, 0.5])
    stamps = np.stack([_gaussian(31, 15 + a, 15 + b, 4.0, 4.0) for a, b in zip(dx, dy, strict=True)])
    centred = shift_stamps(stamps, dx, dy)
    truth = _gaussian(31, 15, 15, 4.0, 4.0)
    assert np.max(np.abs(centred - truth[None])) < 1e-6
    # Squared weights propagate a constant variance unchanged (the weights' squares sum to 1).
    var = shift_stamps(np.ones((2, 31, 31)), dx, dy, squared=True)
    np.testing.assert_allclose(var[:, 10:21, 10:21], 1.0, atol=0.05)


def test_adaptive_moments_of_gaussians() -> None:
    # Elliptical Gaussian: the deconvolved adaptive moments are its covariance.
    stamp = _gaussian(41, 20.3, 19.6, 5.0, 3.0, 1.2)
    m = adaptive_moments(stamp[None], sigma0=1.0)
    assert m.converged[0]
    assert m.x[0] == pytest.approx(20.3, abs=1e-4) and m.y[0] == pytest.approx(19.6, abs=1e-4)
    assert m.ixx[0] == pytest.approx(5.0, rel=1e-3)
    assert m.iyy[0] == pytest.approx(3.0, rel=1e-3)
    assert m.ixy[0] == pytest.approx(1.2, rel=1e-3)
    assert m.determinant_radius[0] == pytest.approx((5.0 * 3.0 - 1.44) ** 0.25, rel=1e-3)
    # A Moffat's windowed centroid is unbiased (symmetric profile).
    moffat, x0, y0 = moffat_stamp(100.37, 200.81, 4.0, 3.5, half=15)
    mm = adaptive_moments(moffat[None])
    assert x0 + mm.x[0] == pytest.approx(100.37, abs=1e-3) and y0 + mm.y[0] == pytest.approx(200.81, abs=1e-3)
    # Empty stamps do not converge.
    assert not adaptive_moments(np.zeros((1, 11, 11))).converged[0]
    with pytest.raises(ValueError, match="sigma0"):
        adaptive_moments(stamp[None], sigma0=0.0)


def test_model_stamps_derivatives_match_finite_differences() -> None:
    psf = PixelPsf(GaussianPsf(1.8, 21).compute_kernel_image()[None], 0)
    x, y = np.array([50.2, 60.7]), np.array([40.9, 30.4])
    centers = (np.array([50, 61]), np.array([41, 30]))
    model, d_dx, d_dy = model_stamps(psf, x, y, 21, derivatives=True, centers=centers)
    assert d_dx is not None and d_dy is not None
    np.testing.assert_allclose(model.sum(axis=(1, 2)), 1.0)
    h = 1e-5
    fd_x = (
        model_stamps(psf, x + h, y, 21, centers=centers)[0]
        - model_stamps(psf, x - h, y, 21, centers=centers)[0]
    ) / (2 * h)
    fd_y = (
        model_stamps(psf, x, y + h, 21, centers=centers)[0]
        - model_stamps(psf, x, y - h, 21, centers=centers)[0]
    ) / (2 * h)
    np.testing.assert_allclose(d_dx, fd_x, atol=1e-7)
    np.testing.assert_allclose(d_dy, fd_y, atol=1e-7)
    # The model sits where asked: its centroid is (x, y).
    offsets = np.arange(21) - 10
    cx = centers[0] + np.einsum("nji,i->n", model, offsets)
    np.testing.assert_allclose(cx, x, atol=2e-3)


def test_fit_psf_stars_with_the_true_psf_gives_chi2_of_one() -> None:
    """Stars rendered with a Moffat, fitted with that (pixel-integrated) Moffat: χ²/dof ≈ 1, unbiased."""
    rng = np.random.default_rng(4)
    fwhm, beta, n = 4.0, 3.5, 60
    gx, gy = np.meshgrid(np.arange(8), np.arange(8))
    x = 30 + 45 * gx.ravel()[:n] + rng.uniform(-0.5, 0.5, n)
    y = 30 + 45 * gy.ravel()[:n] + rng.uniform(-0.5, 0.5, n)
    flux = rng.uniform(2e4, 3e5, n)
    truth = np.zeros((380, 380))
    render_point_sources(truth, x, y, flux, np.full(n, fwhm), beta)
    sky, read_noise = 800.0, 5.0
    variance = truth + sky + read_noise**2
    image = rng.normal(truth, np.sqrt(variance)) + 3.0  # a small residual background
    kernel, _, _ = moffat_stamp(0.0, 0.0, fwhm, beta, half=14)
    psf = PixelPsf(kernel[None], 0)
    fits = fit_psf_stars(psf, image, variance, x + 0.3, y - 0.3)
    assert fits.ok.all()
    dof = int(fits.dof[0])
    assert dof == 29 * 29 - 4
    chi2 = fits.chi2_per_dof
    assert abs(np.mean(chi2) - 1.0) < 4 * math.sqrt(2.0 / (dof * n))
    assert np.max(chi2) < 1.0 + 5 * math.sqrt(2.0 / dof)
    # Centres: scatter at the photon-noise level, no bias.
    dx = fits.x - x
    assert abs(np.mean(dx)) < 0.01 and np.std(dx) < 0.03
    assert np.abs(fits.background - 3.0).max() < 3.0
    # The stamp holds ~99.3 % of a beta = 3.5 Moffat's light; fluxes agree with that to the noise.
    inside = 1.0 - (1 + (14.0 / (fwhm / (2 * math.sqrt(2 ** (1 / beta) - 1)))) ** 2) ** (1 - beta)
    np.testing.assert_allclose(fits.flux / (flux * inside), 1.0, atol=0.02)
    # A fixed background (the ring median) instead of a fitted one: one parameter fewer.
    fixed = fit_psf_stars(psf, image, variance, x, y, fit_background=False)
    # (its noise is ~3.4 e- over 108 ring pixels, plus up to 3 e- of the brightest stars' wings)
    assert (fixed.dof == dof + 1).all() and np.abs(fixed.background - 3.0).max() < 12.0
    assert abs(np.mean(fixed.chi2_per_dof) - 1.0) < 0.02
    # Core-only fit and validation.
    core = fit_psf_stars(psf, image, variance, x, y, radius=6.0)
    assert (
        core.dof == np.count_nonzero((np.arange(29) - 14)[:, None] ** 2 + (np.arange(29) - 14) ** 2 <= 36) - 4
    ).all()
    off = fit_psf_stars(psf, image, variance, [2.0], [2.0])
    assert not off.ok[0] and np.isnan(off.chi2_per_dof[0])
    with pytest.raises(ValueError, match="bbox"):
        fit_psf_stars(psf, image, variance, x, y, bbox=Box2I(0, 0, 10, 10))
    with pytest.raises(ValueError, match="odd integer"):
        fit_psf_stars(psf, image, variance, x, y, size=20)
