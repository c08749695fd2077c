# SPDX-License-Identifier: GPL-3.0-or-later
"""TE1/TE2: ellipticity residual correlations of constructed fields with known correlation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from skystack.qa import (
    SrdMetricsConfig,
    angular_separation,
    compute_srd_metrics,
    ellipticity_from_moments,
    residual_correlation,
)

Maker = Callable[..., dict[str, np.ndarray]]
ARCMIN = math.pi / (180 * 60)


def test_ellipticity_from_moments() -> None:
    e1, e2 = ellipticity_from_moments(
        np.array([2.0, 1.0, 3.0, 0.0]), np.array([1.0, 1.0, 3.0, 0.0]), np.array([0.0, 0.5, -1.5, 0.0])
    )
    np.testing.assert_allclose(e1[:3], [1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(e2[:3], [0.0, 0.5, -0.5])
    assert np.isnan(e1[3]) and np.isnan(e2[3])


def _with_shapes(
    table: dict[str, np.ndarray], e1: np.ndarray, e2: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """Add PSF moments of random ellipticity and star moments whose residual is (e1, e2)."""
    rng = np.random.default_rng(seed)
    n = len(table["psf_mag"])
    trace_psf = rng.uniform(6, 10, n)
    p1, p2 = rng.normal(0, 0.05, (2, n))
    trace_star = trace_psf * rng.uniform(1.0, 1.1, n)
    s1, s2 = p1 + e1, p2 + e2
    return {
        **table,
        "ixx_psf": trace_psf / 2 * (1 + p1),
        "iyy_psf": trace_psf / 2 * (1 - p1),
        "ixy_psf": trace_psf / 2 * p2,
        "ixx": trace_star / 2 * (1 + s1),
        "iyy": trace_star / 2 * (1 - s1),
        "ixy": trace_star / 2 * s2,
    }


def test_residual_correlation_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    n = 400
    ra, dec = np.deg2rad(rng.uniform(0, 0.5, n)), np.deg2rad(rng.uniform(0, 0.5, n))
    e1, e2 = rng.normal(0.01, 0.02, (2, n))
    i, j = np.triu_indices(n, k=1)
    sep = angular_separation(ra[i], dec[i], ra[j], dec[j])
    prod = e1[i] * e1[j] + e2[i] * e2[j]
    for lo, hi in ((0.0, 1.0), (5.0, 20.0), (2.0, 3.0)):
        sel = (sep > lo * ARCMIN) & (sep <= hi * ARCMIN)
        xi, n_pairs = residual_correlation(ra, dec, e1, e2, lo * ARCMIN, hi * ARCMIN)
        assert n_pairs == int(sel.sum()) > 20
        assert xi == pytest.approx(prod[sel].mean(), rel=1e-9)


def test_residual_correlation_without_pairs_is_nan() -> None:
    xi, n = residual_correlation(
        np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.ones(2), np.ones(2), 0.0, ARCMIN
    )
    assert math.isnan(xi) and n == 0
    assert math.isnan(residual_correlation(np.zeros(1), np.zeros(1), np.ones(1), np.ones(1), 0.0, 1.0)[0])


def test_constant_residual_gives_its_squared_modulus(make_table: Maker) -> None:
    table = make_table(n_stars=2500, n_visits=3, half_size_deg=0.5, seed=1)
    n = len(table["psf_mag"])
    e = (0.01, -0.005)
    result = compute_srd_metrics(_with_shapes(table, np.full(n, e[0]), np.full(n, e[1]), seed=2))
    for name in ("TE1", "TE2"):
        te = result.get(name, "r")
        assert te.value == pytest.approx(e[0] ** 2 + e[1] ** 2, rel=1e-9)
        assert te.n_objects == 2500 and te.n_pairs > 1000 and te.unit == ""
        assert te.passed_minimum is False  # 1.25e-4 is far above the SRD levels
    assert result.notes == ()


def test_per_visit_correlated_field_median_and_mean(make_table: Maker) -> None:
    """Residual = a per-visit constant c_v + independent noise: the expected ξ of visit v is |c_v|²."""
    n_stars, n_visits = 2000, 5
    table = make_table(n_stars=n_stars, n_visits=n_visits, half_size_deg=0.5, seed=3)
    rng = np.random.default_rng(4)
    c = rng.normal(0, 0.01, (n_visits, 2))
    visit = table["visit"] - table["visit"].min()
    noise = rng.normal(0, 0.002, (2, visit.size))
    shaped = _with_shapes(table, c[visit, 0] + noise[0], c[visit, 1] + noise[1], seed=5)
    per_visit = (c**2).sum(axis=1)
    median = compute_srd_metrics(shaped)
    mean = compute_srd_metrics(shaped, config=SrdMetricsConfig(te_statistic="mean"))
    for name in ("TE1", "TE2"):
        assert median.get(name, "r").value == pytest.approx(np.median(per_visit), rel=0.05, abs=2e-6)
        assert mean.get(name, "r").value == pytest.approx(per_visit.mean(), rel=0.05, abs=2e-6)


def test_uncorrelated_noise_averages_out(
    make_table: Maker, concat: Callable[..., dict[str, np.ndarray]]
) -> None:
    table = make_table(n_stars=2000, n_visits=4, half_size_deg=0.5, seed=6)
    n = len(table["psf_mag"])
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 0.001, (2, n))
    stars = _with_shapes(table, noise[0], noise[1], seed=8)
    # strongly correlated residuals of galaxies and faint stars: excluded by the cuts
    galaxies = _with_shapes(
        make_table(
            n_stars=1000, n_visits=4, half_size_deg=0.5, extendedness=1.0, seed=9, first_object_id=10**6
        ),
        np.full(4000, 0.05),
        np.full(4000, 0.05),
        seed=10,
    )
    te = compute_srd_metrics(concat(stars, galaxies))
    # pure noise: sd of the pair mean is about sigma^2 / sqrt(pairs per visit) ~ 2e-8
    assert abs(te.get("TE1", "r").value) < 2e-7
    assert abs(te.get("TE2", "r").value) < 2e-8
    assert te.get("TE1", "r").n_objects == 2000


def test_no_shape_columns_is_reported(make_table: Maker) -> None:
    result = compute_srd_metrics(make_table(n_stars=30, n_visits=3))
    assert "TE1/TE2 not computed" in result.notes[0]
    assert not [m for m in result if m.name.startswith("TE")]


def test_too_few_stars_for_te_is_nan_with_reason(make_table: Maker) -> None:
    table = make_table(n_stars=5, n_visits=3, half_size_deg=2.0, seed=1)
    n = len(table["psf_mag"])
    result = compute_srd_metrics(_with_shapes(table, np.zeros(n), np.zeros(n), seed=0))
    te1 = result.get("TE1", "r")
    assert math.isnan(te1.value) and "no visit has >= 1 star pairs at 0'-1'" in te1.reason
