# SPDX-License-Identifier: GPL-3.0-or-later
"""Robust location and scale of pixel values: iterative sigma clipping and the MAD estimator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RobustStats", "mad_stats", "sigma_clipped_stats"]

# Ratio of the standard deviation to the median absolute deviation for a Gaussian.
MAD_TO_SIGMA = 1.482602218505602


@dataclass(frozen=True, slots=True)
class RobustStats:
    """Location and scale of a set of values.

    Attributes
    ----------
    mean : `float`
        Mean of the values kept.
    median : `float`
        Median of the values kept.
    stddev : `float`
        Standard deviation of the values kept (sigma-clipping), or the Gaussian-equivalent
        scale from the median absolute deviation (MAD estimator).
    n_used : `int`
        Number of values kept.
    n_iter : `int`
        Clipping iterations done (0 for the MAD estimator).
    """

    mean: float
    median: float
    stddev: float
    n_used: int
    n_iter: int


def _good_values(data: npt.ArrayLike, mask: npt.ArrayLike | None) -> np.ndarray:
    values = np.asarray(data)
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != values.shape:
            raise ValueError(f"mask shape {m.shape} does not match data shape {values.shape}")
        values = values[m == 0] if m.dtype != bool else values[~m]
    else:
        values = values.ravel()
    return values[np.isfinite(values)]


def sigma_clipped_stats(
    data: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    n_sigma: float = 3.0,
    max_iter: int = 5,
) -> RobustStats:
    """Mean, median and standard deviation after iterative clipping about the median.

    Parameters
    ----------
    data : array_like
        Values (any shape); non-finite values are ignored.
    mask : array_like, optional
        Same shape as ``data``; non-zero (or True) marks values to ignore.
    n_sigma : `float`
        Values further than ``n_sigma`` standard deviations from the median are rejected.
    max_iter : `int`
        Maximum number of clipping iterations; stops early when nothing more is rejected.

    Returns
    -------
    stats : `RobustStats`
        NaNs and ``n_used == 0`` when no value is usable.
    """
    if n_sigma <= 0:
        raise ValueError(f"n_sigma must be positive, got {n_sigma}")
    values = _good_values(data, mask).astype(np.float64, copy=False)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        if values.size == 0:
            break
        median = float(np.median(values))
        std = float(values.std())
        keep = np.abs(values - median) <= n_sigma * std
        if keep.all():
            break
        values = values[keep]
    if values.size == 0:
        return RobustStats(np.nan, np.nan, np.nan, 0, n_iter)
    return RobustStats(
        float(values.mean()), float(np.median(values)), float(values.std()), values.size, n_iter
    )


def mad_stats(data: npt.ArrayLike, mask: npt.ArrayLike | None = None) -> RobustStats:
    """Median and the Gaussian-equivalent scale ``1.4826 × MAD`` of the usable values."""
    values = _good_values(data, mask).astype(np.float64, copy=False)
    if values.size == 0:
        return RobustStats(np.nan, np.nan, np.nan, 0, 0)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return RobustStats(float(values.mean()), median, MAD_TO_SIGMA * mad, values.size, 0)
