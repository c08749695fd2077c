# SPDX-License-Identifier: GPL-3.0-or-later
"""Replace footprints by noise so each source is measured alone (Rubin's ``NoiseReplacer``), in layers.

`NoiseReplacer` keeps a working copy of the image in which the pixels of *every* footprint hold
noise. `NoiseReplacer.insert` puts back the own pixels of chosen sources — the stored values of a
`~skystack.image.HeavyFootprint` (a deblended child), the original image values for a plain
footprint — and `NoiseReplacer.remove` puts the noise back. Each footprint pixel gets one fixed
noise value for the whole run (drawn once from a seeded generator), so the result does not
depend on the measurement order and is reproducible.

Noise: ``"measure"`` draws from a Gaussian with the sigma-clipped mean and standard deviation of
the image pixels outside all footprints (and without ``BAD``, ``SAT``, ``NO_DATA``, ``EDGE`` or
``DETECTED`` set); ``"variance"`` draws each pixel from a Gaussian of mean ``offset`` and that
pixel's variance-plane value (which includes the source's own photon noise where it is bright).

`assign_layers` splits the sources into layers that can be inserted together: two sources share a
layer only if each footprint's bounding box, grown by ``margin`` pixels, misses the other's box,
so a plugin reading at most ``margin`` pixels around a source sees only that source and noise.
Greedy colouring over a grid of cells (numba), so the number of layers follows the local crowding,
not the number of sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numba
import numpy as np

from skystack.algorithms.statistics import sigma_clipped_stats

from .footprint_spans import FootprintSpans

__all__ = ["NoiseReplacer", "assign_layers"]

_EXCLUDED_PLANES = ("BAD", "SAT", "NO_DATA", "EDGE", "DETECTED")
_MAX_SAMPLE = 250_000


class NoiseReplacer:
    """A working image with all footprints replaced by noise, and per-source insertion.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-d image (not modified: the working image is a copy).
    spans : `FootprintSpans`
        The footprints of all sources.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.
    variance : `numpy.ndarray`, optional
        Variance plane (needed for ``source="variance"``).
    mask : `numpy.ndarray`, optional
        Integer mask plane (``source="measure"`` skips flagged pixels when measuring the noise).
    plane_dict : mapping, optional
        Mask plane name → bit.
    source : {"measure", "variance"}
        Where the noise level comes from (see the module docstring).
    offset : `float`
        Mean of the noise for ``source="variance"``.
    seed : `int`
        Seed of the noise generator.

    Raises
    ------
    ValueError
        For ``source="variance"`` without a variance plane, or an unknown source.
    """

    def __init__(
        self,
        image: np.ndarray,
        spans: FootprintSpans,
        *,
        xy0: tuple[int, int] = (0, 0),
        variance: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        plane_dict: Mapping[str, int] | None = None,
        source: Literal["measure", "variance"] = "measure",
        offset: float = 0.0,
        seed: int = 0,
    ) -> None:
        if source not in ("measure", "variance"):
            raise ValueError(f"noise source must be 'measure' or 'variance', got {source!r}")
        if source == "variance" and variance is None:
            raise ValueError(
                "noise source 'variance' needs the variance plane; pass variance= or use 'measure'"
            )
        self._work = np.array(image, order="C", copy=True)
        ny, nx = self._work.shape
        owner, ys, xs = spans.pixels()
        rows, cols = ys - xy0[1], xs - xy0[0]
        inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
        flat = (rows * nx + cols)[inside]
        self._flat = flat
        own = self._work.ravel()[flat].astype(np.float64)
        if spans.heavy_values is not None:
            heavy = spans.heavy_values[inside]
            use = ~np.isnan(heavy)
            own[use] = heavy[use]
        self._own = own
        rng = np.random.default_rng(seed)
        work_flat = self._work.ravel()
        if source == "variance":
            sigma = np.sqrt(np.clip(np.asarray(variance).ravel()[flat], 0.0, None))
            noise = offset + sigma * rng.standard_normal(flat.size)
        else:
            mean, std = self._measure_noise(image, flat, mask, plane_dict)
            noise = mean + std * rng.standard_normal(flat.size)
        # A pixel shared by several footprints keeps one value (the last written); read it back.
        work_flat[flat] = noise
        self._noise = work_flat[flat].astype(np.float64)
        counts = np.bincount(owner[inside], minlength=spans.n_sources).astype(np.int64)
        self._counts = counts
        self._starts = np.cumsum(counts) - counts

    @staticmethod
    def _measure_noise(
        image: np.ndarray,
        footprint_pixels: np.ndarray,
        mask: np.ndarray | None,
        plane_dict: Mapping[str, int] | None,
    ) -> tuple[float, float]:
        """Clipped mean and scatter of a regular sample of the pixels outside all footprints."""
        size = image.size
        in_footprint = np.zeros(size, dtype=bool)
        in_footprint[footprint_pixels] = True
        step = max(1, size // _MAX_SAMPLE)
        index = np.arange(step // 2, size, step)
        index = index[~in_footprint[index]]
        if mask is not None and plane_dict is not None:
            bits = 0
            for name in _EXCLUDED_PLANES:
                if name in plane_dict:
                    bits |= 1 << int(plane_dict[name])
            if bits:
                words = np.asarray(mask).ravel()[index].astype(np.int64)
                index = index[(words & bits) == 0]
        stats = sigma_clipped_stats(image.ravel()[index])
        if not (np.isfinite(stats.mean) and np.isfinite(stats.stddev)):
            raise ValueError(
                "cannot measure the replacement noise: no usable pixel outside the footprints; "
                "use noise_source='variance'"
            )
        return float(stats.mean), float(stats.stddev)

    @property
    def image(self) -> np.ndarray:
        """The working image (footprints replaced by noise except the inserted sources)."""
        return self._work

    def _index(self, rows: np.ndarray) -> np.ndarray:
        lengths = self._counts[rows]
        starts = self._starts[rows]
        total = int(lengths.sum())
        return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths - starts, lengths)

    def insert(self, rows: np.ndarray) -> None:
        """Put back the own pixel values of the sources at ``rows`` (whose footprints must not overlap)."""
        idx = self._index(np.asarray(rows, dtype=np.int64))
        self._work.ravel()[self._flat[idx]] = self._own[idx]

    def remove(self, rows: np.ndarray) -> None:
        """Replace the pixels of the sources at ``rows`` by their noise again."""
        idx = self._index(np.asarray(rows, dtype=np.int64))
        self._work.ravel()[self._flat[idx]] = self._noise[idx]


@numba.njit(cache=True, nogil=True)
def _greedy(
    boxes: np.ndarray,
    margin: int,
    cell: int,
    gx0: int,
    gy0: int,
    ncx: int,
    ncy: int,
    cell_start: np.ndarray,
    members: np.ndarray,
    colors: np.ndarray,
) -> None:  # pragma: no cover - numba
    m = boxes.shape[0]
    used = np.full(m + 1, -1, dtype=np.int64)
    for i in range(m):
        ax0 = boxes[i, 0] - margin
        ay0 = boxes[i, 1] - margin
        ax1 = boxes[i, 2] + margin
        ay1 = boxes[i, 3] + margin
        c0 = max((ax0 - gx0) // cell, 0)
        c1 = min((ax1 - gx0) // cell, ncx - 1)
        r0 = max((ay0 - gy0) // cell, 0)
        r1 = min((ay1 - gy0) // cell, ncy - 1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                cid = r * ncx + c
                for k in range(cell_start[cid], cell_start[cid + 1]):
                    j = members[k]
                    if j >= i:
                        continue
                    if boxes[j, 0] > ax1 or boxes[j, 2] < ax0 or boxes[j, 1] > ay1 or boxes[j, 3] < ay0:
                        continue
                    used[colors[j]] = i
        color = 0
        while used[color] == i:
            color += 1
        colors[i] = color


def assign_layers(bbox: np.ndarray, margin: int) -> np.ndarray:
    """Layer number of each source such that sources of one layer are ``margin`` apart.

    Parameters
    ----------
    bbox : `numpy.ndarray`
        ``(n, 4)`` int ``min_x, min_y, max_x, max_y`` per footprint (``min > max``: empty).
    margin : `int`
        Required clearance in pixels between one footprint's box and another's.

    Returns
    -------
    layers : `numpy.ndarray`
        int64 per source, from 0; empty footprints are put in layer 0.
    """
    boxes_all = np.asarray(bbox, dtype=np.int64)
    n = boxes_all.shape[0]
    layers = np.zeros(n, dtype=np.int64)
    valid = boxes_all[:, 0] <= boxes_all[:, 2]
    if not valid.any():
        return layers
    boxes = np.ascontiguousarray(boxes_all[valid])
    margin = int(max(margin, 0))
    cell = max(32, 2 * margin)
    gx0 = int(boxes[:, 0].min())
    gy0 = int(boxes[:, 1].min())
    ncx = int((boxes[:, 2].max() - gx0) // cell) + 1
    ncy = int((boxes[:, 3].max() - gy0) // cell) + 1
    cx0 = (boxes[:, 0] - gx0) // cell
    cx1 = (boxes[:, 2] - gx0) // cell
    cy0 = (boxes[:, 1] - gy0) // cell
    cy1 = (boxes[:, 3] - gy0) // cell
    wide = cx1 - cx0 + 1
    count = wide * (cy1 - cy0 + 1)
    owner = np.repeat(np.arange(boxes.shape[0], dtype=np.int64), count)
    local = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    cells = (cy0[owner] + local // wide[owner]) * ncx + cx0[owner] + local % wide[owner]
    order = np.argsort(cells, kind="stable")
    members = owner[order]
    cell_start = np.concatenate([[0], np.cumsum(np.bincount(cells, minlength=ncx * ncy))]).astype(np.int64)
    colors = np.zeros(boxes.shape[0], dtype=np.int64)
    _greedy(boxes, margin, cell, gx0, gy0, ncx, ncy, cell_start, members, colors)
    layers[valid] = colors
    return layers
