# SPDX-License-Identifier: GPL-3.0-or-later
"""Combination of two snaps of a visit with rejection of cosmic rays and artifacts between them.

Two snaps of the same pointing should agree within their noise. Where they differ by more than
``n_sigma × sqrt(var_a + var_b)`` the higher one holds a cosmic ray (or another transient
artifact): the pixel is replaced by twice the *lower* snap (with four times its variance) and
flagged. Elsewhere the sum is taken. The result is the total over both snaps (electrons for the
summed exposure time).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["combine_snaps"]


def combine_snaps(
    image_a: np.ndarray,
    variance_a: np.ndarray,
    image_b: np.ndarray,
    variance_b: np.ndarray,
    n_sigma: float = 5.0,
    grow: int = 1,
) -> np.ndarray:
    """Sum snap B into snap A in place, rejecting pixels where the snaps disagree.

    Parameters
    ----------
    image_a, variance_a : `numpy.ndarray`
        First snap and its variance; overwritten by the combination.
    image_b, variance_b : `numpy.ndarray`
        Second snap and its variance (unchanged).
    n_sigma : `float`
        Rejection threshold on ``|a - b| / sqrt(var_a + var_b)``.
    grow : `int`
        Rejected pixels are grown by this many pixels (square) to catch the faint wings of a track;
        grown pixels are replaced only where the higher snap is still above the lower one.

    Returns
    -------
    rejected : `numpy.ndarray`
        Boolean mask of replaced pixels (flag them ``CR``).

    Raises
    ------
    ValueError
        If the shapes differ or ``n_sigma`` is not positive.
    """
    shapes = {image_a.shape, variance_a.shape, image_b.shape, variance_b.shape}
    if len(shapes) != 1:
        raise ValueError(f"combine_snaps: snaps and variances must have one shape, got {sorted(shapes)}")
    if not n_sigma > 0:
        raise ValueError(f"combine_snaps: n_sigma must be > 0, got {n_sigma}")
    diff = image_a - image_b
    sigma = np.sqrt(variance_a + variance_b)
    rejected = np.abs(diff) > n_sigma * sigma
    if grow > 0 and rejected.any():
        near = ndimage.binary_dilation(rejected, structure=np.ones((2 * grow + 1, 2 * grow + 1), dtype=bool))
        rejected |= near & (np.abs(diff) > 2.0 * sigma)
    a_high = rejected & (diff > 0)
    b_high = rejected & ~a_high
    image_a += image_b
    variance_a += variance_b
    image_a[a_high] = 2.0 * image_b[a_high]
    variance_a[a_high] = 4.0 * variance_b[a_high]
    # where B is high, A (its pre-sum value) is image_a - image_b now
    image_a[b_high] = 2.0 * (image_a[b_high] - image_b[b_high])
    variance_a[b_high] = 4.0 * (variance_a[b_high] - variance_b[b_high])
    return rejected
