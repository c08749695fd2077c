# SPDX-License-Identifier: GPL-3.0-or-later
"""Adaptive moments against elliptical Gaussians of known moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from measure_sim import add_gaussian, grid_positions, noisy
from scipy.special import erf

from skystack.algorithms.measure import (
    MOMENTS_EDGE,
    MOMENTS_SHIFT,
    MOMENTS_UNCONVERGED,
    adaptive_moments,
)


def elliptical_field(seed: int, flux: float = 1e5) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x, y = grid_positions(rng, 9, 34.0, 24.0)
    n = x.size
    xx = rng.uniform(2.0, 9.0, n)
    yy = rng.uniform(2.0, 9.0, n)
    xy = rng.uniform(-0.6, 0.6, n) * np.sqrt(xx * yy)
    model = np.zeros((320, 320))
    for k in range(n):
        add_gaussian(model, x[k], y[k], flux, xx[k], yy[k], xy[k], half=16)
    return model, {"x": x, "y": y, "xx": xx, "yy": yy, "xy": xy}


def test_noiseless_elliptical_gaussians_are_recovered() -> None:
    model, t = elliptical_field(1)
    res = adaptive_moments(model, np.round(t["x"]), np.round(t["y"]), initial_xx=3.0, initial_yy=3.0)
    assert not res.flag.any()
    np.testing.assert_allclose(res.xx, t["xx"], rtol=1e-5)
    np.testing.assert_allclose(res.yy, t["yy"], rtol=1e-5)
    assert np.all(np.abs(res.xy - t["xy"]) < 1e-5 * np.sqrt(t["xx"] * t["yy"]))
    np.testing.assert_allclose(res.x, t["x"], atol=1e-5)
    np.testing.assert_allclose(res.flux, 1e5, rtol=1e-5)
    assert np.all(res.n_iter < 20)


def test_noisy_moments_within_one_percent_and_error_pulls() -> None:
    model, t = elliptical_field(2)
    rng = np.random.default_rng(22)
    pulls: dict[str, list[np.ndarray]] = {"xx": [], "yy": [], "xy": [], "flux": []}
    for _ in range(10):
        image, variance = noisy(rng, model, sky=20.0)
        res = adaptive_moments(image, t["x"], t["y"], variance=variance, initial_xx=4.0, initial_yy=4.0)
        assert not res.flag.any()
        assert np.median(np.abs(res.xx / t["xx"] - 1)) < 0.01
        assert np.median(np.abs(res.yy / t["yy"] - 1)) < 0.01
        for name in ("xx", "yy", "xy"):
            pulls[name].append((getattr(res, name) - t[name]) / getattr(res, f"{name}_err"))
        pulls["flux"].append((res.flux - 1e5) / res.flux_err)
    for name, values in pulls.items():
        p = np.concatenate(values)
        assert 0.85 < p.std() < 1.15, name
        assert abs(p.mean()) < 0.15, name


def test_pixel_integrated_gaussian_adds_a_twelfth() -> None:
    sigma, x0, y0 = 1.8, 20.3, 19.6
    e = np.arange(41) - 0.5
    cx = np.diff(0.5 * erf((e - x0) / (math.sqrt(2) * sigma)))
    cy = np.diff(0.5 * erf((e - y0) / (math.sqrt(2) * sigma)))
    image = np.outer(cy, cx)
    res = adaptive_moments(image, 20, 20)
    assert res.xx[0] == pytest.approx(sigma**2 + 1 / 12, rel=1e-3)
    assert res.yy[0] == pytest.approx(sigma**2 + 1 / 12, rel=1e-3)


def test_flags_for_empty_shifted_and_edge_sources() -> None:
    image = np.zeros((80, 80))
    add_gaussian(image, 40.0, 40.0, 1e4, 4.0, 4.0)
    add_gaussian(image, 2.0, 60.0, 1e4, 4.0, 4.0)
    res = adaptive_moments(image, [15.0, 36.5, 2.0], [15.0, 40.0, 60.0], max_shift=2.0)
    assert res.flag[0] & MOMENTS_UNCONVERGED and np.isnan(res.xx[0])
    assert res.flag[1] & MOMENTS_SHIFT
    assert res.x[1] == 36.5  # reset to the start and held there
    assert res.flag[2] & MOMENTS_EDGE
    assert res.yy[2] == pytest.approx(4.0, rel=0.05)  # xx is biased by the cut, hence the flag


def test_masked_pixels_are_left_out() -> None:
    image = np.zeros((60, 60))
    add_gaussian(image, 30.2, 29.7, 1e4, 5.0, 3.0, 1.0)
    clean = adaptive_moments(image, 30, 30)
    image[33, 25] += 500.0  # a cosmic ray in the wing
    mask = np.zeros(image.shape, dtype=np.int16)
    mask[33, 25] = 8
    hit = adaptive_moments(image, 30, 30)
    masked = adaptive_moments(image, 30, 30, mask=mask, bad_mask_bits=8)
    assert abs(hit.xx[0] - 5.0) > 0.02
    assert masked.xx[0] == pytest.approx(clean.xx[0], rel=1e-4)


def test_bad_initial_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive-definite"):
        adaptive_moments(np.zeros((10, 10)), 5, 5, initial_xx=1.0, initial_yy=1.0, initial_xy=2.0)
