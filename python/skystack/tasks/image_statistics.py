# SPDX-License-Identifier: GPL-3.0-or-later
"""`ImageStatisticsTask`: robust sky level and noise of an image, with a selectable estimator.

A small, complete example of the Task pattern: the estimator is a subtask chosen by config
(``estimator.name = "clipped"`` or ``"mad"``), each with its own config.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skystack.algorithms.statistics import RobustStats, mad_stats, sigma_clipped_stats
from skystack.config import Config, SubtaskSelection, field, subtask_field
from skystack.task import Struct, Task, timed

__all__ = [
    "ClippedStatsConfig",
    "ClippedStatsTask",
    "ImageStatisticsConfig",
    "ImageStatisticsTask",
    "MadStatsConfig",
    "MadStatsTask",
]


class ClippedStatsConfig(Config):
    """Config of `ClippedStatsTask`."""

    n_sigma: float = field(3.0, doc="Clip values further than this many sigma from the median.", gt=0)
    max_iter: int = field(5, doc="Maximum number of clipping iterations.", ge=1, le=100)


class ClippedStatsTask(Task):
    """Iterative sigma-clipped mean and standard deviation."""

    ConfigClass = ClippedStatsConfig
    default_name = "clipped"
    config: ClippedStatsConfig

    @timed
    def run(self, values: np.ndarray, mask: np.ndarray | None = None) -> Struct:
        stats = sigma_clipped_stats(values, mask, self.config.n_sigma, self.config.max_iter)
        self.metadata["n_iter"] = stats.n_iter
        return Struct(stats=stats)


class MadStatsConfig(Config):
    """Config of `MadStatsTask` (the estimator has no parameter beyond the mask handling)."""

    use_mean: bool = field(False, doc="Report the mean instead of the median as the location.")


class MadStatsTask(Task):
    """Median and 1.4826 × median absolute deviation."""

    ConfigClass = MadStatsConfig
    default_name = "mad"
    config: MadStatsConfig

    @timed
    def run(self, values: np.ndarray, mask: np.ndarray | None = None) -> Struct:
        stats = mad_stats(values, mask)
        if self.config.use_mean:
            stats = RobustStats(stats.mean, stats.mean, stats.stddev, stats.n_used, 0)
        return Struct(stats=stats)


class ImageStatisticsConfig(Config):
    """Config of `ImageStatisticsTask`."""

    estimator: SubtaskSelection = subtask_field(
        choices={"clipped": ClippedStatsTask, "mad": MadStatsTask},
        default="clipped",
        doc="Estimator of the sky level and noise.",
    )
    bad_mask_bits: int = field(
        0,
        doc="Bitmask of mask-plane bits whose pixels are ignored (0: use every finite pixel).",
        ge=0,
    )
    border: int = field(0, doc="Ignore this many pixels along each edge.", ge=0)


class ImageStatisticsTask(Task):
    """Robust sky level and noise of an image.

    ``run`` takes a numpy array, or any object with an ``array`` attribute (an `Image`), or a
    masked image with ``image``/``mask`` attributes; returns ``Struct(level, noise, n_used)``.
    """

    ConfigClass = ImageStatisticsConfig
    default_name = "image_statistics"
    config: ImageStatisticsConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.make_subtask("estimator")

    @timed
    def run(self, image: Any, mask: np.ndarray | None = None) -> Struct:
        values, mask_array = _arrays_of(image, mask)
        if values.ndim != 2:
            raise ValueError(f"ImageStatisticsTask needs a 2-D image, got shape {values.shape}")
        b = self.config.border
        if b:
            if 2 * b >= min(values.shape):
                raise ValueError(f"border={b} leaves no pixel of a {values.shape} image")
            values = values[b:-b, b:-b]
            mask_array = None if mask_array is None else mask_array[b:-b, b:-b]
        ignore = None
        if mask_array is not None:
            bits = self.config.bad_mask_bits
            ignore = (mask_array & bits) != 0 if bits else None
        stats: RobustStats = self.estimator.run(values, ignore).stats  # type: ignore[attr-defined]
        self.log.info(
            "level %.4g, noise %.4g from %d pixels (%s)",
            stats.median,
            stats.stddev,
            stats.n_used,
            self.config.estimator.name,
        )
        self.metadata["level"] = stats.median
        self.metadata["noise"] = stats.stddev
        self.metadata["n_used"] = stats.n_used
        return Struct(level=stats.median, noise=stats.stddev, n_used=stats.n_used, stats=stats)


def _arrays_of(image: Any, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    if hasattr(image, "image") and hasattr(image, "mask"):  # a MaskedImage or Exposure
        values = np.asarray(image.image.array)
        mask = np.asarray(image.mask.array) if mask is None else mask
    elif hasattr(image, "array"):
        values = np.asarray(image.array)
    else:
        values = np.asarray(image)
    return values, (None if mask is None else np.asarray(mask))
