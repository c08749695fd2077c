# SPDX-License-Identifier: GPL-3.0-or-later
"""The weighted, scatter-aware, clipped least squares behind the photometric fits."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.algorithms.photocal import clipped_linear_fit


def test_intrinsic_scatter_is_recovered() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.uniform(-1, 1, n)
    err = rng.uniform(0.005, 0.02, n)
    y = 0.3 + 0.1 * x + rng.normal(0, 1, n) * np.sqrt(err**2 + 0.02**2)
    fit = clipped_linear_fit(np.stack([np.ones(n), x], axis=1), y, err)
    assert fit.intrinsic_scatter == pytest.approx(0.02, rel=0.05)
    assert np.all(np.abs(fit.coefficients - [0.3, 0.1]) <= 4 * np.sqrt(np.diag(fit.covariance)))
    assert fit.n_used > 0.99 * n


def test_no_scatter_when_errors_explain_the_data() -> None:
    rng = np.random.default_rng(2)
    err = np.full(500, 0.01)
    y = 1.0 + rng.normal(0, 0.01, 500)
    fit = clipped_linear_fit(np.ones((500, 1)), y, err)
    assert fit.intrinsic_scatter < 0.003
    assert fit.coefficients[0] == pytest.approx(1.0, abs=4 * 0.01 / np.sqrt(500))
    assert fit.covariance[0, 0] == pytest.approx((0.01**2 + fit.intrinsic_scatter**2) / fit.n_used, rel=1e-6)


def test_gross_outliers_are_clipped() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.01, 300)
    y[:30] += rng.uniform(0.2, 1.0, 30)  # 10 % far outliers on one side
    fit = clipped_linear_fit(np.ones((300, 1)), y, np.full(300, 0.01))
    assert not fit.used[:30].any()
    assert abs(fit.coefficients[0]) < 0.003


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        clipped_linear_fit(np.ones((2, 2)), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="errors positive"):
        clipped_linear_fit(np.ones((5, 1)), np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="design must be"):
        clipped_linear_fit(np.ones(5), np.ones(5), np.ones(5))
