# SPDX-License-Identifier: GPL-3.0-or-later
"""Exact aperture photometry against analytic areas, brute-force overlaps and sep."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skystack.algorithms.measure import (
    APERTURE_INVALID,
    APERTURE_MASKED,
    APERTURE_TRUNCATED,
    aperture_flux,
    aperture_fluxes,
    pixel_circle_overlap,
)


def brute_overlap(dx: float, dy: float, r: float, n: int = 50_000) -> float:
    """Overlap of the unit pixel at (dx, dy) with the circle: midpoint rule along x over exact chords."""
    t = dx - 0.5 + (np.arange(n) + 0.5) / n
    half = np.sqrt(np.clip(r * r - t * t, 0, None))
    lo = np.maximum(dy - 0.5, -half)
    hi = np.minimum(dy + 0.5, half)
    return float(np.clip(hi - lo, 0, None).mean())


def test_pixel_overlap_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        r = rng.uniform(0.2, 6.0)
        dx, dy = rng.uniform(-r - 1, r + 1, 2)
        assert pixel_circle_overlap(dx, dy, r) == pytest.approx(brute_overlap(dx, dy, r), abs=1e-7)


def test_overlaps_of_a_grid_sum_to_the_circle_area() -> None:
    for r, cx, cy in [(0.3, 0.1, -0.2), (2.5, 0.37, 0.81), (7.2, -0.5, 0.5), (13.0, 0.0, 0.0)]:
        g = np.arange(-15, 16)
        dx, dy = np.meshgrid(g - cx, g - cy)
        assert pixel_circle_overlap(dx, dy, r).sum() == pytest.approx(math.pi * r * r, rel=1e-12)
    assert pixel_circle_overlap(0.0, 0.0, 0.0) == 0.0
    assert pixel_circle_overlap(0.0, 0.0, 10.0) == 1.0


def test_uniform_image_gives_pi_r_squared() -> None:
    rng = np.random.default_rng(2)
    image = np.full((200, 220), 3.0, dtype=np.float32)
    x = rng.uniform(40, 180, 500)
    y = rng.uniform(40, 160, 500)
    r = rng.uniform(0.5, 30.0, 500)
    res = aperture_flux(image, x, y, r)
    np.testing.assert_allclose(res.flux, 3.0 * math.pi * r**2, rtol=1e-10)
    assert not res.flag.any()
    assert np.all(np.isnan(res.flux_err))


def test_gaussian_enclosed_flux() -> None:
    sigma = 8.0
    x0, y0 = 100.3, 99.6
    yy, xx = np.mgrid[0:201, 0:201]
    image = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2)) / (2 * math.pi * sigma**2)
    radii = np.array([4.0, 8.0, 12.0, 20.0, 40.0])
    res = aperture_fluxes(image, x0, y0, radii)
    np.testing.assert_allclose(res.flux[0], -np.expm1(-(radii**2) / (2 * sigma**2)), atol=5e-4)


def test_multi_radius_equals_single_radius_calls_in_given_order() -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(size=(120, 130))
    variance = rng.uniform(0.5, 2.0, size=image.shape)
    x = rng.uniform(-5, 135, 300)
    y = rng.uniform(-5, 125, 300)
    radii = [6.0, 2.5, 12.0, 0.0, 4.5]
    multi = aperture_fluxes(image, x, y, radii, variance=variance)
    assert multi.flux.shape == (300, 5)
    for k, r in enumerate(radii):
        single = aperture_flux(image, x, y, r, variance=variance)
        np.testing.assert_allclose(multi.flux[:, k], single.flux, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(multi.flux_err[:, k], single.flux_err, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(multi.flag[:, k], single.flag)


def test_variance_propagation_uses_squared_weights() -> None:
    image = np.zeros((60, 60))
    variance = np.full(image.shape, 2.0)
    x, y, r = 30.27, 29.61, 7.3
    res = aperture_flux(image, x, y, r, variance=variance)
    g = np.arange(60)
    dx, dy = np.meshgrid(g - x, g - y)
    w = pixel_circle_overlap(dx, dy, r)
    assert res.flux_err[0] == pytest.approx(math.sqrt(2.0 * np.sum(w * w)), rel=1e-12)


def test_against_sep_sum_circle() -> None:
    sep = pytest.importorskip("sep")
    rng = np.random.default_rng(4)
    image = rng.normal(10.0, 3.0, size=(300, 280))
    variance = rng.uniform(1.0, 4.0, size=image.shape)
    x = rng.uniform(-4, 284, 2000)
    y = rng.uniform(-4, 304, 2000)
    for r in (1.0, 3.0, 4.5, 9.0):
        ours = aperture_flux(image, x, y, r, variance=variance)
        flux, err, flag = sep.sum_circle(image, x, y, r, var=variance, subpix=0)
        valid = (ours.flag & APERTURE_INVALID) == 0
        assert np.all(flux[~valid] == 0)  # sep returns 0 where no pixel is on the image, we return NaN
        # sep agrees to ~1e-7 of the flux (its overlaps lose a few digits at small radii; ours match a
        # brute-force integration to 1e-9, see test_pixel_overlap_matches_brute_force).
        np.testing.assert_allclose(ours.flux[valid], flux[valid], rtol=2e-7, atol=1e-7)
        # sep propagates sum(w V), we sum(w^2 V): equal in the interior, ours smaller on the boundary.
        assert np.all(ours.flux_err[valid] <= err[valid] * (1 + 1e-12))
        # Truncated exactly when the circle crosses the image's outer pixel edges; sep (which rounds
        # toward zero) misses some crossings of the low edges, but flags nothing we do not.
        trunc = (ours.flag & APERTURE_TRUNCATED) != 0
        crosses = (x - r < -0.5) | (y - r < -0.5) | (x + r > 279.5) | (y + r > 299.5)
        np.testing.assert_array_equal(trunc[valid], crosses[valid])
        assert not np.any(((flag & sep.APER_TRUNC) != 0)[valid] & ~trunc[valid])


def test_masked_and_non_finite_pixels_are_left_out_and_flagged() -> None:
    image = np.ones((50, 50))
    mask = np.zeros((50, 50), dtype=np.int32)
    image[25, 27] = 100.0
    mask[25, 27] = 0b100
    image[22, 25] = np.nan
    res = aperture_fluxes(image, 25.0, 25.0, [1.0, 5.0], mask=mask, bad_mask_bits=0b110)
    assert res.flux[0, 0] == pytest.approx(math.pi)
    assert res.flag[0, 0] == 0
    assert res.flux[0, 1] == pytest.approx(25 * math.pi - 2.0)
    assert res.flag[0, 1] == APERTURE_MASKED
    unmasked = aperture_flux(image, 25.0, 25.0, 5.0, mask=mask, bad_mask_bits=0b1)
    assert unmasked.flux[0] == pytest.approx(25 * math.pi - 1.0 + 99.0)


def test_truncated_invalid_and_xy0() -> None:
    image = np.ones((40, 40))
    res = aperture_flux(image, [1.0, 20.0, -30.0, np.nan], [20.0, 20.0, 20.0, 5.0], 4.0)
    assert res.flag[0] == APERTURE_TRUNCATED
    assert res.flux[0] < math.pi * 16
    assert res.flag[1] == 0
    assert res.flag[2] & APERTURE_INVALID and np.isnan(res.flux[2])
    assert res.flag[3] == APERTURE_INVALID and np.isnan(res.flux[3])
    rng = np.random.default_rng(5)
    img = rng.normal(size=(80, 90))
    a = aperture_flux(img, 40.2, 33.7, 6.0)
    b = aperture_flux(img, 40.2 + 1000, 33.7 - 500, 6.0, xy0=(1000, -500))
    assert a.flux[0] == pytest.approx(b.flux[0], rel=1e-12)


def test_bad_inputs_are_refused_with_clear_errors() -> None:
    image = np.zeros((10, 10))
    with pytest.raises(ValueError, match="radius"):
        aperture_flux(image, 5, 5, -1.0)
    with pytest.raises(ValueError, match="one value per source"):
        aperture_flux(image, [5, 6], [5, 6], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="variance shape"):
        aperture_flux(image, 5, 5, 1.0, variance=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="same length"):
        aperture_flux(image, [5, 6], [5], 1.0)
    with pytest.raises(TypeError, match="2-d"):
        aperture_flux(np.zeros(10), 5, 5, 1.0)
    with pytest.raises(ValueError, match="1-d"):
        aperture_fluxes(image, 5, 5, [[1.0]])
