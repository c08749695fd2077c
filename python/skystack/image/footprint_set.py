# SPDX-License-Identifier: GPL-3.0-or-later
"""`FootprintSet`: the footprints of all above-threshold regions of an image, with their peaks.

Detection builds one with `FootprintSet.from_threshold` (connected components with 8-connectivity
and local-maximum peaks); sets convert to and from label images, grow (merging footprints that
come to touch) and merge (e.g. positive with negative detections).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from skystack.geom import Box2I

from .footprint import _EIGHT, PEAK_DTYPE, Footprint, _clip, _expand, _runs

__all__ = ["FootprintSet"]


class FootprintSet:
    """A list of footprints detected in one region (an image bbox).

    Parameters
    ----------
    footprints : iterable of `Footprint`
        The footprints.
    region : `Box2I`
        The bbox of the image they were found in (used to clip grown footprints).
    """

    def __init__(self, footprints: Iterable[Footprint], region: Box2I) -> None:
        self._footprints = list(footprints)
        self._region = region

    @property
    def footprints(self) -> list[Footprint]:
        """The footprints (the list itself; it may be modified)."""
        return self._footprints

    @property
    def region(self) -> Box2I:
        return self._region

    def __len__(self) -> int:
        return len(self._footprints)

    def __iter__(self) -> Iterator[Footprint]:
        return iter(self._footprints)

    def __getitem__(self, index: int) -> Footprint:
        return self._footprints[index]

    def __repr__(self) -> str:
        return f"FootprintSet({len(self)} footprints, region={self._region!r})"

    @property
    def num_peaks(self) -> int:
        """Total number of peaks."""
        return sum(len(fp.peaks) for fp in self._footprints)

    @classmethod
    def from_threshold(
        cls,
        array: np.ndarray,
        threshold: float,
        xy0: tuple[int, int] = (0, 0),
        min_pixels: int = 1,
        negative: bool = False,
        find_peaks: bool = True,
    ) -> FootprintSet:
        """Connected regions (8-connectivity) of pixels at or above ``threshold``, with their peaks.

        Parameters
        ----------
        array : `numpy.ndarray`
            2-d image; NaN pixels are never detected. It is not copied for positive detection.
        threshold : `float`
            Pixels with ``array >= threshold`` are detected (``array <= -threshold`` if ``negative``).
        xy0 : `tuple` of `int`, optional
            Position of ``array[0, 0]``.
        min_pixels : `int`, optional
            Footprints with fewer pixels are dropped.
        negative : `bool`, optional
            Detect negative regions (e.g. in difference images); peaks are then local minima and
            are ordered most negative first.
        find_peaks : `bool`, optional
            Find peaks: local maxima (of ``±array``) over the 3x3 neighbourhood within each
            footprint, one per plateau of equal values, ordered by value (brightest first), with
            ids 1, 2, … over the whole set.

        Raises
        ------
        ValueError
            If ``array`` is not 2-d.
        """
        arr = np.asarray(array)
        if arr.ndim != 2:
            raise ValueError(f"FootprintSet.from_threshold needs a 2-d array, got shape {arr.shape}")
        work = -arr if negative else arr
        region = Box2I.from_shape(arr.shape, xy0)
        with np.errstate(invalid="ignore"):
            detected = work >= threshold
        labels, count = ndimage.label(detected, structure=_EIGHT)
        if min_pixels > 1 and count:
            sizes = np.bincount(labels.ravel(), minlength=count + 1)
            keep = sizes >= min_pixels
            keep[0] = False
            remap = np.zeros(count + 1, dtype=labels.dtype)
            remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=labels.dtype)
            labels = remap[labels]
            count = int(keep.sum())
            detected = labels > 0
        peaks = _find_peaks(work, arr, detected, labels, xy0) if find_peaks and count else None
        return cls(_footprints_from_labels(labels, count, xy0, peaks), region)

    @classmethod
    def from_label_image(cls, labels: npt.ArrayLike, xy0: tuple[int, int] = (0, 0)) -> FootprintSet:
        """One footprint per positive label (in increasing label order), no peaks.

        Footprint ``i`` of the result holds the pixels labelled with the ``i``-th distinct
        positive value (pixels need not be connected). Zero and negative labels are background.
        """
        lab = np.asarray(labels)
        if lab.ndim != 2 or lab.dtype.kind not in "iu":
            raise ValueError(f"Label image must be a 2-d integer array, got {lab.dtype} of shape {lab.shape}")
        lab = np.where(lab > 0, lab, 0)
        values, dense = np.unique(lab, return_inverse=True)
        dense = dense.reshape(lab.shape)
        if values.size and values[0] != 0:
            dense = dense + 1
        count = int(values.size - (1 if values.size and values[0] == 0 else 0))
        return cls(_footprints_from_labels(dense, count, xy0, None), Box2I.from_shape(lab.shape, xy0))

    def to_label_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.int32) -> np.ndarray:
        """An integer image over ``bbox`` (default `region`): 0 for background, ``i + 1`` on the
        pixels of footprint ``i`` (later footprints win where they overlap)."""
        box = self._region if bbox is None else bbox
        out = np.zeros(box.shape, dtype=dtype)
        if not self._footprints:
            return out
        y, x0, x1, lab = _concat_spans(self._footprints)
        ys, xs = _expand(*_clip(y, x0, x1, box))
        keep = (y >= box.min_y) & (y <= box.max_y) & (np.minimum(x1, box.max_x) >= np.maximum(x0, box.min_x))
        lengths = np.minimum(x1[keep], box.max_x).astype(np.int64) - np.maximum(x0[keep], box.min_x) + 1
        out[ys - box.min_y, xs - box.min_x] = np.repeat(lab[keep], lengths)
        return out

    def grown(self, radius: int, shape: str = "circle") -> FootprintSet:
        """Grow every footprint by ``radius`` (see `Footprint.dilated`), clip to the region, and
        merge footprints that then overlap or touch (8-connectivity). Peaks are kept, in the order
        of the original footprints."""
        grown = [fp.dilated(radius, shape) for fp in self._footprints]
        return _union(grown, self._region, 0.0)

    def merged(self, other: FootprintSet, peak_radius: float = 0.0) -> FootprintSet:
        """The union of two sets (e.g. positive and negative detections): overlapping or touching
        footprints become one, keeping the peaks of both except those of ``other`` within
        ``peak_radius`` of a peak already kept."""
        return _union(self._footprints + other._footprints, self._region.union(other._region), peak_radius)


def _concat_spans(footprints: Sequence[Footprint]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y = np.concatenate([fp._y for fp in footprints])
    x0 = np.concatenate([fp._x0 for fp in footprints])
    x1 = np.concatenate([fp._x1 for fp in footprints])
    lab = np.repeat(np.arange(1, len(footprints) + 1), [fp._y.size for fp in footprints])
    return y, x0, x1, lab


def _footprints_from_labels(
    labels: np.ndarray, count: int, xy0: tuple[int, int], peaks: np.ndarray | None
) -> list[Footprint]:
    """Footprints for labels ``1..count`` of a dense label image; ``peaks`` must carry a label order."""
    if count == 0:
        return []
    y, x0, x1 = _runs(labels)
    lab = labels[y, x0]
    order = np.argsort(lab, kind="stable")  # keeps (y, x0) order within a label
    y = y[order] + np.int32(xy0[1])
    x0 = x0[order] + np.int32(xy0[0])
    x1 = x1[order] + np.int32(xy0[0])
    bounds = np.searchsorted(lab[order], np.arange(1, count + 2))
    if peaks is not None:
        peak_bounds = np.searchsorted(peaks["_label"], np.arange(1, count + 2))
        table = np.zeros(len(peaks), dtype=PEAK_DTYPE)
        for name in PEAK_DTYPE.names or ():
            table[name] = peaks[name]
    out = []
    for i in range(count):
        sl = slice(bounds[i], bounds[i + 1])
        fp_peaks = None if peaks is None else table[peak_bounds[i] : peak_bounds[i + 1]].copy()
        out.append(Footprint._from_normalized(y[sl], x0[sl], x1[sl], fp_peaks))
    return out


def _find_peaks(
    work: np.ndarray, values: np.ndarray, detected: np.ndarray, labels: np.ndarray, xy0: tuple[int, int]
) -> np.ndarray:
    """Local maxima of ``work`` inside detections, one per plateau, sorted by (label, -value)."""
    source = np.where(np.isnan(work), -np.inf, work) if np.isnan(np.sum(work[detected])) else work
    filtered = ndimage.maximum_filter(source, size=3, mode="nearest")
    is_peak = detected & (source == filtered)
    py, px = np.nonzero(is_peak)
    plateau, _ = ndimage.label(is_peak, structure=_EIGHT)
    _, first = np.unique(plateau[py, px], return_index=True)
    py, px = py[first], px[first]
    lab = labels[py, px]
    order = np.lexsort((-work[py, px], lab))
    py, px, lab = py[order], px[order], lab[order]
    out = np.zeros(py.size, dtype=[*PEAK_DTYPE.descr, ("_label", "<i8")])
    out["x"], out["y"], out["_label"] = px + int(xy0[0]), py + int(xy0[1]), lab
    out["value"] = values[py, px]
    # ids: brightest first within each footprint, footprints in label order
    out["id"] = np.arange(1, py.size + 1)
    return out


def _union(footprints: list[Footprint], region: Box2I, peak_radius: float) -> FootprintSet:
    if not footprints:
        return FootprintSet([], region)
    y, x0, x1, _ = _concat_spans(footprints)
    canvas = np.zeros(region.shape, dtype=bool)
    ys, xs = _expand(*_clip(y, x0, x1, region))
    canvas[ys - region.min_y, xs - region.min_x] = True
    labels, count = ndimage.label(canvas, structure=_EIGHT)
    merged = _footprints_from_labels(labels, count, region.xy0, None)
    all_peaks = np.concatenate([fp.peaks for fp in footprints])
    if len(all_peaks):
        inside = np.asarray(region.contains(all_peaks["x"], all_peaks["y"]), dtype=bool)
        all_peaks = all_peaks[inside]
        owner = labels[all_peaks["y"] - region.min_y, all_peaks["x"] - region.min_x]
        order = np.argsort(owner, kind="stable")
        all_peaks, owner = all_peaks[order], owner[order]
        bounds = np.searchsorted(owner, np.arange(1, count + 2))
        for i, fp in enumerate(merged):
            group = all_peaks[bounds[i] : bounds[i + 1]]
            fp._peaks = _dedupe_peaks(group, peak_radius) if len(group) > 1 else group.copy()
    return FootprintSet(merged, region)


def _dedupe_peaks(peaks: np.ndarray, radius: float) -> np.ndarray:
    """Drop each peak within ``radius`` of an earlier kept one (order preserved)."""
    dist = np.hypot(
        peaks["x"][:, None].astype(float) - peaks["x"][None, :],
        peaks["y"][:, None].astype(float) - peaks["y"][None, :],
    )
    close = np.triu(dist <= radius, k=1)  # close[i, j]: j later than i and near it
    keep = np.ones(len(peaks), dtype=bool)
    for j in np.flatnonzero(close.any(axis=0)):  # only peaks that have an earlier neighbour
        if np.any(close[:j, j] & keep[:j]):
            keep[j] = False
    return peaks[keep]
