# SPDX-License-Identifier: GPL-3.0-or-later
"""Master calibrations: sigma-clipped combination of calibration exposures, and defect finding.

The inputs are calibration exposures already processed by ISR up to the step the master corrects
(`skystack.tasks.isr.IsrTask.make_master_bias` and friends do that): overscan-subtracted,
crosstalk-corrected and linearised images in electrons for a bias; bias-subtracted for a dark;
bias- and dark-subtracted for a flat.

- `combine_clipped`: per-pixel mean of a stack after rejecting values beyond ``n_sigma`` robust
  sigma of the per-pixel median (sigma from the stack when it has ≥ 3 frames, else from the
  given per-pixel noise), vectorised over the stack axis;
- `make_master_bias`: the clipped mean (electrons);
- `make_master_dark`: each frame divided by its dark time, then combined (electrons per second);
- `make_master_flat`: each frame normalised by its own median (illumination changes between
  flats cancel), combined, and the result normalised to mean 1 over the good pixels;
- `find_defects`: hot pixels from a master dark and dead/low-response pixels from a master flat.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skystack.algorithms.statistics import MAD_TO_SIGMA

__all__ = ["combine_clipped", "find_defects", "make_master_bias", "make_master_dark", "make_master_flat"]


def _stack(images: Sequence[np.ndarray], what: str) -> np.ndarray:
    if len(images) == 0:
        raise ValueError(f"{what}: no calibration exposures given; pass at least one processed image")
    shapes = {np.shape(im) for im in images}
    if len(shapes) != 1:
        raise ValueError(
            f"{what}: calibration exposures have different shapes {sorted(shapes)}; use one detector"
        )
    return np.stack([np.asarray(im, dtype=np.float32) for im in images])


def combine_clipped(images: Sequence[np.ndarray], n_sigma: float = 3.0) -> np.ndarray:
    """Per-pixel clipped mean of a stack of equal-shape images.

    With fewer than 3 images there is nothing to clip against and the plain mean is returned.

    Raises
    ------
    ValueError
        If the list is empty or the shapes differ.
    """
    stack = _stack(images, "combine_clipped")
    if stack.shape[0] < 3:
        return stack.mean(axis=0)
    med = np.median(stack, axis=0)
    sigma = MAD_TO_SIGMA * np.median(np.abs(stack - med), axis=0)
    # a stack-wide floor avoids clipping everything where a few frames agree by chance
    sigma = np.maximum(sigma, np.median(sigma))
    keep = np.abs(stack - med) <= n_sigma * sigma
    return (np.where(keep, stack, 0.0).sum(axis=0) / np.maximum(keep.sum(axis=0), 1)).astype(np.float32)


def make_master_bias(images: Sequence[np.ndarray], n_sigma: float = 3.0) -> np.ndarray:
    """Master bias (electrons) from overscan-corrected bias exposures."""
    return combine_clipped(images, n_sigma)


def make_master_dark(
    images: Sequence[np.ndarray], dark_times: Sequence[float], n_sigma: float = 3.0
) -> np.ndarray:
    """Master dark rate (electrons per second) from bias-subtracted dark exposures.

    Raises
    ------
    ValueError
        If the number of dark times differs from the number of images or one is not positive.
    """
    if len(dark_times) != len(images):
        raise ValueError(f"make_master_dark: {len(images)} darks but {len(dark_times)} dark times")
    if any(not t > 0 for t in dark_times):
        raise ValueError(f"make_master_dark: dark times must be > 0 s, got {list(dark_times)}")
    return combine_clipped(
        [np.asarray(im) / np.float32(t) for im, t in zip(images, dark_times, strict=True)], n_sigma
    )


def make_master_flat(
    images: Sequence[np.ndarray], bad: np.ndarray | None = None, n_sigma: float = 3.0
) -> np.ndarray:
    """Master flat (mean 1 over good pixels) from bias- and dark-subtracted flat exposures.

    Parameters
    ----------
    images : sequence of `numpy.ndarray`
        Flat exposures (electrons).
    bad : `numpy.ndarray`, optional
        Pixels excluded from the normalisations (e.g. known defects).
    n_sigma : `float`
        Clipping threshold of the combination.

    Raises
    ------
    ValueError
        If a flat has a non-positive median (not illuminated).
    """
    stack = _stack(images, "make_master_flat")
    good = np.ones(stack.shape[1:], dtype=bool) if bad is None else ~np.asarray(bad, dtype=bool)
    levels = np.array([np.median(im[good]) for im in stack])
    if np.any(~(levels > 0)):
        raise ValueError(
            f"make_master_flat: flat medians {levels.tolist()} must be > 0; are these flats illuminated?"
        )
    stack /= levels[:, None, None].astype(np.float32)
    flat = combine_clipped(list(stack), n_sigma)
    flat /= np.float32(flat[good].mean())
    return flat


def find_defects(
    dark_rate: np.ndarray | None = None,
    flat: np.ndarray | None = None,
    hot_n_sigma: float = 10.0,
    min_hot_rate: float = 1.0,
    low_flat: float = 0.5,
) -> np.ndarray:
    """Defective pixels from a master dark (hot) and a master flat (dead or low response).

    Parameters
    ----------
    dark_rate : `numpy.ndarray`, optional
        Master dark (electrons per second).
    flat : `numpy.ndarray`, optional
        Master flat normalised to 1.
    hot_n_sigma : `float`
        A pixel is hot when its rate exceeds the median by this many robust sigma...
    min_hot_rate : `float`
        ...and by at least this many electrons per second.
    low_flat : `float`
        Flat response below which a pixel is dead.

    Returns
    -------
    defects : `numpy.ndarray`
        Boolean mask.

    Raises
    ------
    ValueError
        If neither calibration is given.
    """
    if dark_rate is None and flat is None:
        raise ValueError("find_defects needs a master dark, a master flat, or both")
    mask: np.ndarray | None = None
    if dark_rate is not None:
        med = float(np.median(dark_rate))
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(dark_rate - med)))
        mask = dark_rate - med > max(hot_n_sigma * sigma, min_hot_rate)
    if flat is not None:
        dead = ~(flat >= low_flat)
        mask = dead if mask is None else mask | dead
    assert mask is not None
    return mask
