# SPDX-License-Identifier: GPL-3.0-or-later
"""Serial-overscan level of one amplifier: a constant or a function of the row.

Each estimator takes the overscan pixels of one raw segment (``rows × n_overscan`` in readout
order) and returns the bias level of every row (a 1-d float64 array of length ``rows``), which the
caller subtracts from that row of the amplifier's data:

- `overscan_constant`: one level for the whole amplifier (median, or sigma-clipped mean);
- `overscan_per_row`: an independent level per row (sigma-clipped mean of the row's overscan
  pixels): follows row-to-row bias jitter exactly, at the cost of ``σ_read / √n_overscan`` of
  noise per row;
- `overscan_poly_rows`: a Legendre polynomial in the row index fitted (with clipping) to the
  per-row levels — smooth drifts along the columns, no added row noise;
- `overscan_spline_rows`: a cubic smoothing spline through the per-row levels, binned by
  ``bin_rows`` rows — smooth but more flexible than a low-order polynomial.

The clipped statistics are vectorised over rows: the median and the MAD of each row define the
clip window, then the mean of the kept values is taken with masked sums (no Python row loop).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import make_smoothing_spline

from skystack.algorithms.statistics import MAD_TO_SIGMA

__all__ = [
    "clipped_row_means",
    "overscan_constant",
    "overscan_per_row",
    "overscan_poly_rows",
    "overscan_spline_rows",
]


def _check(overscan: np.ndarray) -> np.ndarray:
    data = np.asarray(overscan)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(
            f"overscan must be a non-empty 2-d array (rows, overscan columns), got shape {data.shape}; "
            "check the amplifier's raw_serial_overscan_bbox"
        )
    return data


def clipped_row_means(overscan: np.ndarray, n_sigma: float = 3.0) -> np.ndarray:
    """Per-row mean of ``overscan`` after clipping values beyond ``n_sigma`` robust sigma of the median.

    Parameters
    ----------
    overscan : `numpy.ndarray`
        ``(rows, columns)`` overscan pixels.
    n_sigma : `float`
        Clip half-width in units of the amplifier's robust sigma, ``1.4826 × MAD`` of all values
        about their row medians (a floor of 0.5 ADU keeps digitised, noiseless data from
        clipping everything but the median).

    Returns
    -------
    levels : `numpy.ndarray`
        ``(rows,)`` float64 levels.
    """
    data = _check(overscan).astype(np.float64, copy=False)
    med = np.median(data, axis=1, keepdims=True)
    # one sigma for the whole amplifier: per-row MADs of ~30 digitised values are too noisy to clip on
    sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(data - med))), 0.5)
    keep = np.abs(data - med) <= n_sigma * sigma
    return np.sum(np.where(keep, data, 0.0), axis=1) / np.sum(keep, axis=1)


def overscan_constant(overscan: np.ndarray, statistic: str = "median", n_sigma: float = 3.0) -> np.ndarray:
    """One overscan level for every row.

    Parameters
    ----------
    overscan : `numpy.ndarray`
        ``(rows, columns)`` overscan pixels.
    statistic : {"median", "mean_clipped"}
        The median of all pixels, or their mean after ``n_sigma`` clipping about the median.
    n_sigma : `float`
        Clip half-width for ``mean_clipped`` (robust sigma units).

    Returns
    -------
    levels : `numpy.ndarray`
        ``(rows,)`` float64, all equal.

    Raises
    ------
    ValueError
        If ``statistic`` is unknown or ``overscan`` is empty.
    """
    data = _check(overscan)
    if statistic == "median":
        level = float(np.median(data))
    elif statistic == "mean_clipped":
        level = float(clipped_row_means(data.reshape(1, -1), n_sigma)[0])
    else:
        raise ValueError(f"overscan statistic {statistic!r} is unknown; use 'median' or 'mean_clipped'")
    return np.full(data.shape[0], level)


def overscan_per_row(overscan: np.ndarray, n_sigma: float = 3.0) -> np.ndarray:
    """Independent clipped-mean level per row (see `clipped_row_means`)."""
    return clipped_row_means(overscan, n_sigma)


def overscan_poly_rows(
    overscan: np.ndarray, order: int = 1, n_sigma: float = 3.0, n_iter: int = 3
) -> np.ndarray:
    """Legendre polynomial of degree ``order`` in the row index fitted to the per-row levels.

    Rows whose level is more than ``n_sigma`` robust sigma from the fit are rejected and the fit
    repeated, ``n_iter`` times at most.

    Raises
    ------
    ValueError
        If ``order`` is negative or not smaller than the number of rows.
    """
    rows = clipped_row_means(overscan, n_sigma)
    n = rows.size
    if order < 0 or order >= n:
        raise ValueError(f"overscan polynomial order {order} must be in [0, {n - 1}] for {n} rows")
    t = np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    keep = np.ones(n, dtype=bool)
    coeffs = np.polynomial.legendre.legfit(t, rows, order)
    for _ in range(n_iter):
        resid = rows - np.polynomial.legendre.legval(t, coeffs)
        sigma = MAD_TO_SIGMA * np.median(np.abs(resid[keep])) or 1.0
        new = np.abs(resid) <= n_sigma * max(sigma, 1e-3)
        if new.sum() <= order or np.array_equal(new, keep):
            break
        keep = new
        coeffs = np.polynomial.legendre.legfit(t[keep], rows[keep], order)
    return np.polynomial.legendre.legval(t, coeffs)


def overscan_spline_rows(overscan: np.ndarray, bin_rows: int = 16, n_sigma: float = 3.0) -> np.ndarray:
    """Cubic smoothing spline (GCV-chosen smoothing) through per-row levels binned by ``bin_rows``.

    Raises
    ------
    ValueError
        If ``bin_rows`` < 1 or there are fewer than 5 bins (use ``poly_rows`` then).
    """
    rows = clipped_row_means(overscan, n_sigma)
    if bin_rows < 1:
        raise ValueError(f"overscan spline bin_rows must be >= 1, got {bin_rows}")
    n_bins = rows.size // bin_rows
    if n_bins < 5:
        raise ValueError(
            f"overscan spline needs >= 5 bins of {bin_rows} rows, the amplifier has {rows.size} rows; "
            "lower bin_rows or use the 'poly_rows' estimator"
        )
    used = rows[: n_bins * bin_rows].reshape(n_bins, bin_rows)
    centres = np.arange(n_bins) * bin_rows + (bin_rows - 1) / 2.0
    spline = make_smoothing_spline(centres, np.median(used, axis=1))
    return np.asarray(spline(np.arange(rows.size, dtype=float)))
