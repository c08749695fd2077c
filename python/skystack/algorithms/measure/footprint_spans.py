# SPDX-License-Identifier: GPL-3.0-or-later
"""The spans of many footprints in one table, for vectorised per-source pixel work.

Measurement works on all sources at once, so the footprints of a catalog (a list of
`skystack.image.Footprint` / `HeavyFootprint`, one per row) are flattened once into
concatenated span arrays with the row that owns each span, and, for heavy footprints, their
concatenated pixel values. Numba kernels then loop over spans (or pixels) instead of Python
looping over footprints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skystack.image.footprint import Footprint, HeavyFootprint

__all__ = ["FootprintSpans"]


@dataclass(frozen=True)
class FootprintSpans:
    """Concatenated spans of ``n_sources`` footprints.

    Attributes
    ----------
    y, x0, x1 : `numpy.ndarray`
        int64 span rows and first/last columns (inclusive), parent pixel coordinates, grouped
        by owner in row order.
    owner : `numpy.ndarray`
        int64 row (source index) of each span.
    n_sources : `int`
        Number of footprints (rows), including empty ones.
    bbox : `numpy.ndarray`
        ``(n_sources, 4)`` int64 ``min_x, min_y, max_x, max_y`` of each footprint (an empty
        footprint has ``min > max``).
    heavy_values : `numpy.ndarray` or None
        float64 value of every footprint pixel, in the order of `pixels`: the stored values of
        heavy footprints, NaN for the pixels of plain ones; None when no footprint is heavy.
    is_heavy : `numpy.ndarray`
        bool per row.
    """

    y: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    owner: np.ndarray
    n_sources: int
    bbox: np.ndarray
    is_heavy: np.ndarray
    heavy_values: np.ndarray | None

    @classmethod
    def from_footprints(cls, footprints: Sequence[Footprint]) -> FootprintSpans:
        """Flatten a sequence of footprints (one per source).

        Raises
        ------
        TypeError
            If an element is not a `skystack.image.Footprint`.
        """
        fps = list(footprints)
        for k, fp in enumerate(fps):
            if not isinstance(fp, Footprint):
                raise TypeError(
                    f"footprints[{k}] is a {type(fp).__name__}, not a skystack.image.Footprint; "
                    "give one Footprint (or HeavyFootprint) per source"
                )
        n = len(fps)
        counts = np.array([fp.span_y.size for fp in fps], dtype=np.int64)
        if n and counts.sum():
            y = np.concatenate([fp.span_y for fp in fps]).astype(np.int64)
            x0 = np.concatenate([fp.span_x0 for fp in fps]).astype(np.int64)
            x1 = np.concatenate([fp.span_x1 for fp in fps]).astype(np.int64)
        else:
            y = x0 = x1 = np.empty(0, dtype=np.int64)
        owner = np.repeat(np.arange(n, dtype=np.int64), counts)
        bbox = np.empty((n, 4), dtype=np.int64)
        bbox[:, 0:2] = np.iinfo(np.int64).max // 4
        bbox[:, 2:4] = -(np.iinfo(np.int64).max // 4)
        if y.size:
            np.minimum.at(bbox[:, 0], owner, x0)
            np.minimum.at(bbox[:, 1], owner, y)
            np.maximum.at(bbox[:, 2], owner, x1)
            np.maximum.at(bbox[:, 3], owner, y)
        is_heavy = np.array([isinstance(fp, HeavyFootprint) for fp in fps], dtype=bool)
        heavy_values = None
        if is_heavy.any():
            parts = [
                np.asarray(fp.image_values, dtype=np.float64)
                if isinstance(fp, HeavyFootprint)
                else np.full(fp.area, np.nan)
                for fp in fps
            ]
            heavy_values = np.concatenate(parts)
        return cls(y, x0, x1, owner, n, bbox, is_heavy, heavy_values)

    def subset(self, rows: np.ndarray) -> FootprintSpans:
        """The footprints of ``rows`` only (renumbered ``0 … len(rows) − 1``; no heavy values)."""
        rows = np.asarray(rows, dtype=np.int64)
        new_index = np.full(self.n_sources, -1, dtype=np.int64)
        new_index[rows] = np.arange(rows.size, dtype=np.int64)
        keep = new_index[self.owner] >= 0
        owner = new_index[self.owner[keep]]
        order = np.argsort(owner, kind="stable")
        return FootprintSpans(
            self.y[keep][order],
            self.x0[keep][order],
            self.x1[keep][order],
            owner[order],
            int(rows.size),
            self.bbox[rows],
            self.is_heavy[rows],
            None,
        )

    @property
    def n_pixels(self) -> np.ndarray:
        """Number of pixels of each footprint (int64 per row)."""
        return np.bincount(self.owner, weights=self.x1 - self.x0 + 1, minlength=self.n_sources).astype(
            np.int64
        )

    def pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pixels as ``(owner, y, x)`` int64 arrays, in span order (vectorised expansion)."""
        lengths = self.x1 - self.x0 + 1
        total = int(lengths.sum())
        offsets = np.cumsum(lengths) - lengths
        xs = np.arange(total, dtype=np.int64) - np.repeat(offsets - self.x0, lengths)
        return np.repeat(self.owner, lengths), np.repeat(self.y, lengths), xs
