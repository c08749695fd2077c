# SPDX-License-Identifier: GPL-3.0-or-later
"""Centroids against simulated sources at known sub-pixel positions."""

from __future__ import annotations

import numpy as np
import pytest
from measure_sim import add_gaussian, add_psf_star, grid_positions, noisy

from skystack.algorithms.measure import (
    CENTROID_EDGE,
    CENTROID_FAILED,
    CENTROID_FALLBACK,
    CENTROID_MOVED,
    CENTROID_NO_PEAK,
    naive_centroid,
    sdss_centroid,
)
from skystack.image.psf import MoffatPsf

SIGMA = 1.7


def gaussian_field(seed: int, flux: float = 2e4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, y = grid_positions(rng, 12, 24.0, 20.0)
    model = np.zeros((300, 300))
    for xi, yi in zip(x, y, strict=True):
        add_gaussian(model, xi, yi, flux, SIGMA**2, SIGMA**2)
    return model, x, y


def test_noiseless_gaussians_have_no_pixel_phase_bias() -> None:
    model, x, y = gaussian_field(1)
    res = sdss_centroid(model, np.round(x), np.round(y), SIGMA)
    assert not res.flag.any()
    assert np.max(np.abs(res.x - x)) < 1e-4
    assert np.max(np.abs(res.y - y)) < 1e-4
    assert np.all(np.isnan(res.x_err))


def test_elliptical_and_moffat_sources_are_unbiased() -> None:
    rng = np.random.default_rng(2)
    x, y = grid_positions(rng, 8, 30.0, 25.0)
    model = np.zeros((270, 270))
    for xi, yi in zip(x, y, strict=True):
        add_gaussian(model, xi, yi, 1e4, 6.0, 2.0, 1.8)  # tilted ellipse
    res = sdss_centroid(model, np.round(x) + 1, np.round(y), 1.5)  # start one pixel off
    assert not res.flag.any()
    assert np.max(np.hypot(res.x - x, res.y - y)) < 1e-3
    psf = MoffatPsf.from_fwhm(3.5, 2.5, size=41)
    model = np.zeros((270, 270))
    for xi, yi in zip(x, y, strict=True):
        add_psf_star(model, psf, xi, yi, 1e4)
    res = sdss_centroid(model, np.round(x), np.round(y), 1.5)
    assert not res.flag.any()
    assert np.max(np.hypot(res.x - x, res.y - y)) < 1e-3


def test_bright_noisy_sources_bias_and_error_pulls() -> None:
    model, x, y = gaussian_field(3)
    rng = np.random.default_rng(33)
    dxs, dys, px, py = [], [], [], []
    for _ in range(8):
        image, variance = noisy(rng, model, sky=100.0)
        res = sdss_centroid(image, np.round(x), np.round(y), SIGMA, variance=variance)
        assert not res.flag.any()
        dxs.append(res.x - x)
        dys.append(res.y - y)
        px.append((res.x - x) / res.x_err)
        py.append((res.y - y) / res.y_err)
        assert np.all(np.isfinite(res.xy_cov))
    dx, dy = np.concatenate(dxs), np.concatenate(dys)
    assert abs(dx.mean()) < 0.01 and abs(dy.mean()) < 0.01
    assert np.max(np.abs(np.concatenate([dx, dy]))) < 0.1
    pulls = np.concatenate(px + py)
    assert 0.9 < pulls.std() < 1.1
    assert abs(pulls.mean()) < 0.1


def test_failures_fall_back_and_are_flagged() -> None:
    image = np.zeros((60, 60))
    add_gaussian(image, 20.3, 30.6, -5e3, 3.0, 3.0)  # negative source: no maximum
    add_gaussian(image, 1.2, 40.0, 5e3, 3.0, 3.0)  # at the edge
    add_gaussian(image, 45.0, 12.0, 5e3, 3.0, 3.0)
    res = sdss_centroid(image, [20.0, 1.0, 41.0, np.nan], [31.0, 40.0, 12.0, 5.0], 1.7)
    assert res.flag[0] & CENTROID_NO_PEAK and res.flag[0] & CENTROID_FAILED
    assert (res.x[0], res.y[0]) == (20.0, 31.0)  # the starting position is kept
    assert res.flag[1] & CENTROID_EDGE
    assert abs(res.x[1] - 1.2) < 0.5  # biased by the truncated smoothing window, hence the flag
    # starting 4 px away: the hill climb reaches the source, more than max_shift away -> fallback
    assert res.flag[2] & CENTROID_MOVED
    assert res.flag[2] & (CENTROID_FALLBACK | CENTROID_FAILED)
    assert res.flag[3] == CENTROID_FAILED and np.isnan(res.x[3])


def test_naive_centroid() -> None:
    image = np.zeros((40, 40))
    add_gaussian(image, 20.0, 15.0, 1e3, 2.0, 2.0)
    add_gaussian(image, 10.3, 30.2, 1e3, 2.0, 2.0)
    variance = np.ones_like(image)
    res = naive_centroid(image, [20.2, 10.0, 5.0], [14.9, 30.0, 5.0], variance=variance)
    assert res.x[0] == pytest.approx(20.0, abs=1e-9) and res.y[0] == pytest.approx(15.0, abs=1e-9)
    box = image[29:32, 9:12]  # the 3x3 first moment (biased toward the centre pixel, as in Rubin)
    assert res.x[1] == pytest.approx(10 + np.sum(box * np.array([-1, 0, 1])[None, :]) / box.sum(), abs=1e-12)
    assert res.y[1] == pytest.approx(30 + np.sum(box * np.array([-1, 0, 1])[:, None]) / box.sum(), abs=1e-12)
    assert np.isfinite(res.x_err[:2]).all()
    assert res.flag[2] & CENTROID_FAILED  # empty sky: no positive sum


def test_bad_sigma_is_refused() -> None:
    with pytest.raises(ValueError, match="sigma"):
        sdss_centroid(np.zeros((10, 10)), 5, 5, 0.0)
