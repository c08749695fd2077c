# SPDX-License-Identifier: GPL-3.0-or-later
"""Weighted linear least squares with an intrinsic scatter and iterative sigma clipping.

The photometric fits of this package (zero point, colour term, aperture corrections) share one
estimator: values ``y_i`` with errors ``sigma_i`` are modelled as ``design @ c`` plus Gaussian
noise of variance ``sigma_i² + s²``, where the intrinsic scatter ``s >= 0`` absorbs what the
errors leave out (flat-field residuals, PSF variation, under-estimated errors) and is set so that
the reduced chi-square of the kept points is 1 (0 when the errors already explain the scatter).
Points further than ``n_sigma`` total standard deviations from the model are rejected; the fit
starts from a robust median/MAD estimate so that gross outliers (variables, blends, cosmic rays)
cannot drag the first solution, and rejected points come back if the model moves towards them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from skystack.algorithms.statistics import MAD_TO_SIGMA

__all__ = ["ClippedFit", "clipped_linear_fit"]


@dataclass(frozen=True)
class ClippedFit:
    """The result of `clipped_linear_fit`.

    Attributes
    ----------
    coefficients : `numpy.ndarray`
        Fitted coefficients, one per design column.
    covariance : `numpy.ndarray`
        Their covariance, from the weights ``1 / (sigma_i² + s²)`` of the kept points.
    intrinsic_scatter : `float`
        The scatter ``s`` added in quadrature to the errors.
    residuals : `numpy.ndarray`
        ``values - design @ coefficients`` for every point.
    used : `numpy.ndarray`
        Boolean mask of the points kept.
    chi2 : `float`
        Chi-square of the kept points with the errors alone (without ``s``).
    n_iter : `int`
        Clipping iterations done.
    """

    coefficients: np.ndarray
    covariance: np.ndarray
    intrinsic_scatter: float
    residuals: np.ndarray
    used: np.ndarray
    chi2: float
    n_iter: int

    @property
    def n_used(self) -> int:
        """Number of points kept."""
        return int(self.used.sum())


def _weighted_solve(design: np.ndarray, values: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = 1.0 / var
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.pinv(normal)
    return cov @ (design.T @ (values * w)), cov


def _intrinsic_scatter(resid: np.ndarray, err2: np.ndarray, dof: int) -> float:
    """``s`` with ``sum(r² / (sigma² + s²)) = dof`` (0 if the errors alone give chi2 <= dof)."""
    if dof <= 0 or float(np.sum(resid**2 / err2)) <= dof:
        return 0.0
    upper = math.sqrt(float(np.sum(resid**2)) / dof)
    return float(brentq(lambda s: float(np.sum(resid**2 / (err2 + s * s))) - dof, 0.0, upper, xtol=1e-12))


def clipped_linear_fit(
    design: np.ndarray,
    values: np.ndarray,
    errors: np.ndarray,
    n_sigma: float = 3.0,
    max_iter: int = 10,
    fit_scatter: bool = True,
) -> ClippedFit:
    """Fit ``values ≈ design @ c`` with errors, an intrinsic scatter and sigma clipping.

    Parameters
    ----------
    design : `numpy.ndarray`
        ``(n, k)`` design matrix (finite).
    values, errors : `numpy.ndarray`
        ``(n,)`` values and their 1-sigma errors (finite, errors positive).
    n_sigma : `float`
        Rejection limit in units of ``sqrt(sigma_i² + s²)``.
    max_iter : `int`
        Most clipping iterations.
    fit_scatter : `bool`
        Fit the intrinsic scatter ``s`` (else ``s = 0``).

    Returns
    -------
    fit : `ClippedFit`

    Raises
    ------
    ValueError
        If the shapes disagree, there are fewer points than ``k + 1``, or an input is not finite
        (errors must be positive).
    """
    a = np.asarray(design, dtype=float)
    y = np.asarray(values, dtype=float)
    e = np.asarray(errors, dtype=float)
    if a.ndim != 2 or y.shape != (a.shape[0],) or e.shape != y.shape:
        raise ValueError(
            f"clipped_linear_fit: design must be (n, k) with values and errors (n,), got {a.shape}, "
            f"{y.shape}, {e.shape}"
        )
    n, k = a.shape
    if n < k + 1:
        raise ValueError(f"clipped_linear_fit: {n} points cannot fit {k} coefficients with a scatter")
    if not (np.isfinite(a).all() and np.isfinite(y).all() and np.isfinite(e).all() and np.all(e > 0)):
        raise ValueError("clipped_linear_fit: design, values and errors must be finite and errors positive")
    err2 = e * e
    # Robust start: least squares on the points within 5 MAD-sigma of the median (an M-estimate
    # proxy), so that the first clipping window is set by the bulk of the data.
    med = float(np.median(y))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(y - med)))
    used = np.abs(y - med) <= 5.0 * max(mad, float(np.median(e)))
    if used.sum() < k + 1:
        used = np.ones(n, dtype=bool)
    scatter = 0.0
    coeffs = np.zeros(k)
    cov = np.zeros((k, k))
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        for _ in range(3):  # the scatter and the solution depend on each other; converge quickly
            coeffs, cov = _weighted_solve(a[used], y[used], err2[used] + scatter**2)
            resid_used = y[used] - a[used] @ coeffs
            new_scatter = (
                _intrinsic_scatter(resid_used, err2[used], int(used.sum()) - k) if fit_scatter else 0.0
            )
            converged = abs(new_scatter - scatter) <= 1e-6 * max(new_scatter, 1e-12)
            scatter = new_scatter
            if converged:
                break
        resid = y - a @ coeffs
        new_used = np.abs(resid) <= n_sigma * np.sqrt(err2 + scatter**2)
        if new_used.sum() < k + 1 or np.array_equal(new_used, used):
            break
        used = new_used
    coeffs, cov = _weighted_solve(a[used], y[used], err2[used] + scatter**2)
    resid = y - a @ coeffs
    return ClippedFit(
        coefficients=coeffs,
        covariance=cov,
        intrinsic_scatter=scatter,
        residuals=resid,
        used=used,
        chi2=float(np.sum(resid[used] ** 2 / err2[used])),
        n_iter=n_iter,
    )
