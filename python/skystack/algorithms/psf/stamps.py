# SPDX-License-Identifier: GPL-3.0-or-later
"""Star stamps: extraction around positions (numba), local background, sub-pixel shifts.

Conventions are those of `skystack.image.psf.base`: positions are 0-based parent pixels with pixel
centres at integers; a stamp of odd side ``size`` around position ``(x, y)`` is centred on the
nearest pixel ``(floor(x + 0.5), floor(y + 0.5))`` and ``stamp[n, j, i]`` is parent pixel
``(ix - size // 2 + i, iy - size // 2 + j)``.

Sub-pixel shifts use the band-limited (periodic sinc) interpolation of
`skystack.image.psf.base.sinc_matrix`, applied separably to a batch of stamps as two batched
matrix products, so a shift costs ``2 n size³`` multiply-adds and no Python loop per stamp.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import numpy.typing as npt

from ...image.psf.base import sinc_matrix

__all__ = ["extract_stamps", "nearest_pixel", "ring_background", "shift_stamps"]


def nearest_pixel(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel ``(floor(x + 0.5), floor(y + 0.5))`` nearest to each position (int64 arrays)."""
    ix = np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.int64)
    iy = np.floor(np.asarray(y, dtype=float) + 0.5).astype(np.int64)
    return ix, iy


@numba.njit(cache=True, nogil=True)
def _extract(
    image: np.ndarray, ix: np.ndarray, iy: np.ndarray, half: int, fill: float, out: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    ny, nx = image.shape
    size = 2 * half + 1
    inside = np.ones(ix.size, dtype=np.bool_)
    for n in range(ix.size):
        x0 = ix[n] - half
        y0 = iy[n] - half
        if x0 >= 0 and y0 >= 0 and x0 + size <= nx and y0 + size <= ny:
            for j in range(size):
                for i in range(size):
                    out[n, j, i] = image[y0 + j, x0 + i]
        else:
            inside[n] = False
            for j in range(size):
                yy = y0 + j
                for i in range(size):
                    xx = x0 + i
                    if 0 <= yy < ny and 0 <= xx < nx:
                        out[n, j, i] = image[yy, xx]
                    else:
                        out[n, j, i] = fill
    return inside


def extract_stamps(
    image: np.ndarray,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    size: int,
    xy0: tuple[int, int] = (0, 0),
    fill: float = np.nan,
) -> tuple[np.ndarray, np.ndarray]:
    """Copy square stamps centred on the pixels nearest to positions.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image (any real dtype; stamps are float64).
    x, y : array_like
        1-D positions in parent pixels.
    size : `int`
        Odd side length of the stamps.
    xy0 : `tuple` [`int`, `int`], optional
        Parent position of ``image[0, 0]``.
    fill : `float`, optional
        Value of stamp pixels that fall off the image.

    Returns
    -------
    stamps : `numpy.ndarray`
        ``(n, size, size)`` float64 stamps.
    inside : `numpy.ndarray`
        Boolean ``(n,)``: whether the whole stamp lies on the image.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D, ``size`` is not an odd integer >= 1, or ``x`` and ``y`` differ in
        length.
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"extract_stamps: image must be 2-D, got shape {img.shape}")
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1 or size % 2 == 0:
        raise ValueError(f"extract_stamps: size must be an odd positive integer (pixels), got {size!r}")
    ix, iy = nearest_pixel(x, y)
    if ix.ndim != 1 or ix.shape != iy.shape:
        raise ValueError(
            f"extract_stamps: x and y must be 1-D of equal length, got {ix.shape} and {iy.shape}"
        )
    if img.dtype != np.float64 and img.dtype != np.float32:
        img = img.astype(np.float64)
    out = np.empty((ix.size, int(size), int(size)), dtype=np.float64)
    inside = _extract(img, ix - int(xy0[0]), iy - int(xy0[1]), int(size) // 2, float(fill), out)
    return out, inside


def ring_background(stamps: np.ndarray, width: int = 2) -> np.ndarray:
    """Median of each stamp's outer ring of ``width`` pixels: a local background per stamp.

    Parameters
    ----------
    stamps : `numpy.ndarray`
        ``(n, size, size)`` stamps.
    width : `int`, optional
        Ring width in pixels (``1 <= width < size / 2``).

    Returns
    -------
    background : `numpy.ndarray`
        ``(n,)`` medians (NaN pixels ignored; NaN if a ring has no finite pixel).

    Raises
    ------
    ValueError
        If ``width`` does not leave an inner region.
    """
    size = stamps.shape[-1]
    if not 1 <= int(width) < size / 2:
        raise ValueError(
            f"ring_background: width must be in [1, {size / 2}) for {size}-pixel stamps, got {width}"
        )
    index = np.arange(size)
    edge = (index < width) | (index >= size - width)
    ring = edge[:, None] | edge[None, :]
    values = stamps[:, ring]
    if np.isnan(values).any():
        with warnings.catch_warnings():  # an all-NaN ring gives NaN, as documented
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(np.nanmedian(values, axis=1))
    return np.asarray(np.median(values, axis=1))


def _shift_matrices(offsets: np.ndarray, shift: np.ndarray, size: int) -> np.ndarray:
    """``(n, size, size)`` sinc matrices sampling each stamp at ``offsets + shift_n``."""
    positions = (offsets[None, :] + shift[:, None]).ravel()
    return sinc_matrix(positions, size, size // 2).reshape(shift.size, size, size)


def shift_stamps(
    stamps: np.ndarray, dx: npt.ArrayLike, dy: npt.ArrayLike, squared: bool = False
) -> np.ndarray:
    """Resample stamps at their pixel centres plus ``(dx_n, dy_n)`` (sinc interpolation).

    ``out[n, v, u] = stamps[n]`` interpolated at ``(u + dx_n, v + dy_n)`` (stamp indices). Shifting by
    the star's offset from the central pixel therefore centres it; shifting a centred model by
    minus that offset puts the model where the star is.

    Parameters
    ----------
    stamps : `numpy.ndarray`
        ``(n, size, size)`` stamps, ``size`` odd.
    dx, dy : array_like
        ``(n,)`` shifts in pixels.
    squared : `bool`, optional
        Use the squared interpolation weights: propagates the variance of independent pixels.

    Returns
    -------
    shifted : `numpy.ndarray`
        ``(n, size, size)`` float64 array.
    """
    n, size = stamps.shape[0], stamps.shape[-1]
    offsets = np.arange(size, dtype=float) - size // 2
    wx = _shift_matrices(offsets, np.broadcast_to(np.asarray(dx, dtype=float), (n,)), size)
    wy = _shift_matrices(offsets, np.broadcast_to(np.asarray(dy, dtype=float), (n,)), size)
    if squared:
        wx *= wx
        wy *= wy
    return np.matmul(np.matmul(wy, stamps), wx.transpose(0, 2, 1))
