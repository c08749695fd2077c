# SPDX-License-Identifier: GPL-3.0-or-later
"""Footprints: sets of pixels stored as spans, with their peaks (the afw Footprint/SpanSet/Peak roles).

A `Footprint` is a set of pixels stored as *spans* — runs ``(y, x0, x1)`` of consecutive pixels
on one row, inclusive of both ends, sorted by ``(y, x0)``, never overlapping or touching — plus a
table of peaks (``id``, ``x``, ``y``, ``value``). Pixel coordinates are absolute (parent-image)
coordinates; arrays are indexed ``[y - y0, x - x0]`` given their ``xy0``.

`skystack.image.footprint_set.FootprintSet` finds 8-connected regions above a threshold and their peaks.
A `HeavyFootprint` also carries the image (and optionally mask and variance) values of its pixels,
as used for deblended children.

Everything is vectorised: spans are made from masks by run-length encoding with numpy, pixels are
addressed through span → index expansion, and growing/shrinking uses exact distance transforms
(`scipy.ndimage.distance_transform_edt` for discs, chessboard `distance_transform_cdt` for squares),
whose cost does not depend on the radius.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from skystack.geom import Box2I, Point2D
from skystack.utils.persist import decode_array, register_persistable

__all__ = ["PEAK_DTYPE", "Footprint", "HeavyFootprint", "Peak"]

#: Structured dtype of a footprint's peak table.
PEAK_DTYPE = np.dtype([("id", "<i8"), ("x", "<i4"), ("y", "<i4"), ("value", "<f8")])
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True, slots=True)
class Peak:
    """One peak (local extremum) of a footprint: integer pixel position, pixel value and id."""

    x: int
    y: int
    value: float
    id: int = 0


# -- span helpers ---------------------------------------------------------------------------------
def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of equal non-zero values along rows: (row, first col, last col), row-major."""
    if labels.dtype == bool:
        fg = labels
        start = fg.copy()
        start[:, 1:] &= ~fg[:, :-1]
        end = fg.copy()
        end[:, :-1] &= ~fg[:, 1:]
    else:
        fg = labels != 0
        start = fg.copy()
        start[:, 1:] &= labels[:, 1:] != labels[:, :-1]
        end = fg.copy()
        end[:, :-1] &= labels[:, :-1] != labels[:, 1:]
    sy, sx = np.nonzero(start)
    _, ex = np.nonzero(end)
    return sy.astype(np.int32), sx.astype(np.int32), ex.astype(np.int32)


def _normalize(y: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort spans by (y, x0) and merge overlapping or touching spans of a row (vectorised)."""
    y = np.asarray(y, dtype=np.int64)
    x0 = np.asarray(x0, dtype=np.int64)
    x1 = np.asarray(x1, dtype=np.int64)
    keep = x1 >= x0
    y, x0, x1 = y[keep], x0[keep], x1[keep]
    if y.size == 0:
        e = np.empty(0, dtype=np.int32)
        return e, e.copy(), e.copy()
    order = np.lexsort((x0, y))
    y, x0, x1 = y[order], x0[order], x1[order]
    # Running maximum of x1 within each row: encode (row, x1) so one accumulate never crosses rows.
    xmin = x0.min()
    width = int(x1.max() - xmin) + 2
    row = y - y.min()
    runmax = np.maximum.accumulate(row * width + (x1 - xmin)) - row * width + xmin
    new = np.ones(y.size, dtype=bool)
    new[1:] = (y[1:] != y[:-1]) | (x0[1:] > runmax[:-1] + 1)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], y.size) - 1
    return y[starts].astype(np.int32), x0[starts].astype(np.int32), runmax[ends].astype(np.int32)


def _expand(y: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pixels ``(ys, xs)`` of spans, in span order (vectorised)."""
    lengths = (x1.astype(np.int64) - x0) + 1
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    xs = np.arange(total, dtype=np.int64) - np.repeat(offsets - x0, lengths)
    return np.repeat(y.astype(np.int64), lengths), xs


def _clip(
    y: np.ndarray, x0: np.ndarray, x1: np.ndarray, box: Box2I
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if box.is_empty:
        e = np.empty(0, dtype=np.int32)
        return e, e.copy(), e.copy()
    cx0 = np.maximum(x0, box.min_x)
    cx1 = np.minimum(x1, box.max_x)
    keep = (y >= box.min_y) & (y <= box.max_y) & (cx1 >= cx0)
    return y[keep], cx0[keep].astype(np.int32), cx1[keep].astype(np.int32)


def _structure_distance(mask: np.ndarray, shape: str, inside: bool) -> np.ndarray:
    """Distance from each pixel to the nearest pixel where ``mask`` is ``not inside`` (exact)."""
    target = mask if inside else ~mask
    if shape == "circle":
        return np.asarray(ndimage.distance_transform_edt(target))
    if shape == "square":
        return np.asarray(ndimage.distance_transform_cdt(target, metric="chessboard"))
    raise ValueError(f"Unknown structuring-element shape {shape!r}; use 'circle' or 'square'")


def _empty_peaks() -> np.ndarray:
    return np.zeros(0, dtype=PEAK_DTYPE)


def _as_array(value: Any, dtype: npt.DTypeLike | None = None) -> np.ndarray:
    if isinstance(value, dict) and "__ndarray__" in value:
        value = decode_array(value)
    return np.asarray(value, dtype=dtype)


# -- Footprint ------------------------------------------------------------------------------------
@register_persistable("Footprint")
class Footprint:
    """A set of pixels (spans) with peaks.

    Parameters
    ----------
    y, x0, x1 : array-like of `int`
        Span rows and first/last columns (inclusive). Spans may be unsorted, overlapping or
        touching: they are normalised.
    peaks : structured array of `PEAK_DTYPE`, optional
        The peaks, in the order given.

    Notes
    -----
    Spans are immutable; peaks can be added with `add_peak`. Build footprints from masks with
    `from_mask_array`, from boxes with `from_box`, as discs with `from_circle`.
    """

    def __init__(
        self,
        y: npt.ArrayLike,
        x0: npt.ArrayLike,
        x1: npt.ArrayLike,
        peaks: np.ndarray | None = None,
    ) -> None:
        ya, x0a, x1a = (np.asarray(v).reshape(-1) for v in (y, x0, x1))
        if not (ya.size == x0a.size == x1a.size):
            raise ValueError(f"Span arrays differ in length: y {ya.size}, x0 {x0a.size}, x1 {x1a.size}")
        self._set_spans(*_normalize(ya, x0a, x1a))
        self._peaks = _empty_peaks() if peaks is None else np.array(peaks, dtype=PEAK_DTYPE).reshape(-1)

    def _set_spans(self, y: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> None:
        self._y, self._x0, self._x1 = y, x0, x1
        for a in (y, x0, x1):
            a.flags.writeable = False
        if y.size:
            self._bbox = Box2I.from_corners(int(x0.min()), int(y[0]), int(x1.max()), int(y[-1]))
        else:
            self._bbox = Box2I.empty()

    @classmethod
    def _from_normalized(
        cls, y: np.ndarray, x0: np.ndarray, x1: np.ndarray, peaks: np.ndarray | None = None
    ) -> Footprint:
        out = cls.__new__(cls)
        out._set_spans(y.astype(np.int32, copy=False), x0.astype(np.int32, copy=False), x1.astype(np.int32))
        out._peaks = _empty_peaks() if peaks is None else peaks
        return out

    @classmethod
    def empty(cls) -> Footprint:
        """A footprint with no pixels."""
        e = np.empty(0, dtype=np.int32)
        return cls._from_normalized(e, e.copy(), e.copy())

    @classmethod
    def from_mask_array(cls, mask: npt.ArrayLike, xy0: tuple[int, int] = (0, 0)) -> Footprint:
        """The pixels where a 2-d boolean array is True; ``xy0`` is the position of ``mask[0, 0]``."""
        arr = np.asarray(mask, dtype=bool)
        if arr.ndim != 2:
            raise ValueError(f"Footprint.from_mask_array needs a 2-d array, got shape {arr.shape}")
        y, x0, x1 = _runs(arr)
        return cls._from_normalized(y + np.int32(xy0[1]), x0 + np.int32(xy0[0]), x1 + np.int32(xy0[0]))

    @classmethod
    def from_box(cls, box: Box2I) -> Footprint:
        """All pixels of a box."""
        if box.is_empty:
            return cls.empty()
        y = np.arange(box.min_y, box.end_y, dtype=np.int32)
        return cls._from_normalized(y, np.full_like(y, box.min_x), np.full_like(y, box.max_x))

    @classmethod
    def from_circle(cls, center_x: float, center_y: float, radius: float) -> Footprint:
        """Pixels whose centres lie within ``radius`` of ``(center_x, center_y)`` (inclusive)."""
        if radius < 0:
            raise ValueError(f"Footprint.from_circle radius must be >= 0, got {radius}")
        y = np.arange(np.ceil(center_y - radius), np.floor(center_y + radius) + 1)
        half = np.sqrt(np.maximum(radius**2 - (y - center_y) ** 2, 0.0))
        x0 = np.ceil(center_x - half)
        x1 = np.floor(center_x + half)
        return cls(y.astype(np.int64), x0.astype(np.int64), x1.astype(np.int64))

    # -- properties ------------------------------------------------------------------------------
    @property
    def spans(self) -> np.ndarray:
        """``(n, 3)`` int32 array of ``(y, x0, x1)`` spans (a copy)."""
        return np.stack([self._y, self._x0, self._x1], axis=1)

    @property
    def span_y(self) -> np.ndarray:
        """Row of each span (read-only int32)."""
        return self._y

    @property
    def span_x0(self) -> np.ndarray:
        """First column of each span (read-only int32)."""
        return self._x0

    @property
    def span_x1(self) -> np.ndarray:
        """Last column (inclusive) of each span (read-only int32)."""
        return self._x1

    @property
    def bbox(self) -> Box2I:
        """Smallest box containing all pixels (empty for an empty footprint)."""
        return self._bbox

    @property
    def area(self) -> int:
        """Number of pixels."""
        return int(np.sum(self._x1.astype(np.int64) - self._x0 + 1))

    @property
    def is_empty(self) -> bool:
        return self._y.size == 0

    @property
    def centroid(self) -> Point2D:
        """Unweighted mean pixel position.

        Raises
        ------
        ValueError
            If the footprint is empty.
        """
        if self.is_empty:
            raise ValueError("An empty footprint has no centroid")
        n = (self._x1.astype(np.float64) - self._x0) + 1
        area = n.sum()
        sum_x = np.sum(n * (self._x0.astype(np.float64) + self._x1) / 2)
        return Point2D(float(sum_x / area), float(np.sum(n * self._y) / area))

    @property
    def peaks(self) -> np.ndarray:
        """The peak table (structured array of `PEAK_DTYPE`; modifying it changes the footprint)."""
        return self._peaks

    def get_peak(self, index: int) -> Peak:
        """Peak number ``index`` as a `Peak`."""
        row = self._peaks[index]
        return Peak(int(row["x"]), int(row["y"]), float(row["value"]), int(row["id"]))

    def iter_peaks(self) -> Iterator[Peak]:
        """Iterate over the peaks as `Peak` objects."""
        return (self.get_peak(i) for i in range(len(self._peaks)))

    def add_peak(self, x: int, y: int, value: float, peak_id: int = 0) -> None:
        """Append a peak (it should lie in the footprint; this is not checked)."""
        row = np.array([(peak_id, x, y, value)], dtype=PEAK_DTYPE)
        self._peaks = np.concatenate([self._peaks, row])

    def sort_peaks(self, descending: bool = True) -> None:
        """Order peaks by value (largest first by default; stable)."""
        key = -self._peaks["value"] if descending else self._peaks["value"]
        self._peaks = self._peaks[np.argsort(key, kind="stable")]

    # -- pixels ----------------------------------------------------------------------------------
    def contains(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Whether positions (rounded to the nearest pixel) are footprint pixels; vectorised."""
        xi = np.floor(np.asarray(x, dtype=float) + 0.5)
        yi = np.floor(np.asarray(y, dtype=float) + 0.5)
        result = np.zeros(np.broadcast(xi, yi).shape, dtype=bool)
        if not self.is_empty:
            xi, yi = np.broadcast_arrays(xi, yi)
            box = self._bbox
            inside = (xi >= box.min_x) & (xi <= box.max_x) & (yi >= box.min_y) & (yi <= box.max_y)
            px, py = xi[inside].astype(np.int64), yi[inside].astype(np.int64)
            width = box.width + 1
            keys = (self._y.astype(np.int64) - box.min_y) * width + (self._x0 - box.min_x)
            pos = np.searchsorted(keys, (py - box.min_y) * width + (px - box.min_x), side="right") - 1
            hit = (pos >= 0) & (self._y[pos] == py) & (self._x1[pos] >= px)
            result[inside] = hit
        return bool(result) if result.ndim == 0 else result

    def pixel_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` int64 arrays of every pixel, in span order."""
        ys, xs = _expand(self._y, self._x0, self._x1)
        return xs, ys

    def to_mask_array(self, bbox: Box2I | None = None) -> np.ndarray:
        """A boolean array over ``bbox`` (default: the footprint's bbox), True on footprint pixels."""
        box = self._bbox if bbox is None else bbox
        out = np.zeros(box.shape, dtype=bool)
        ys, xs = _expand(*_clip(self._y, self._x0, self._x1, box))
        out[ys - box.min_y, xs - box.min_x] = True
        return out

    # -- set operations --------------------------------------------------------------------------
    def clipped_to(self, box: Box2I) -> Footprint:
        """The pixels inside ``box``, with the peaks inside it."""
        y, x0, x1 = _clip(self._y, self._x0, self._x1, box)
        keep = box.contains(self._peaks["x"], self._peaks["y"]) if len(self._peaks) else np.zeros(0, bool)
        return type(self)._from_normalized(y, x0, x1, self._peaks[np.asarray(keep, dtype=bool)])

    def shifted(self, dx: int, dy: int) -> Footprint:
        """The footprint translated by ``(dx, dy)`` pixels (peaks too)."""
        peaks = self._peaks.copy()
        peaks["x"] += dx
        peaks["y"] += dy
        return Footprint._from_normalized(
            self._y + np.int32(dy), self._x0 + np.int32(dx), self._x1 + np.int32(dx), peaks
        )

    def intersects(self, other: Footprint) -> bool:
        """Whether the two footprints share at least one pixel."""
        box = self._bbox.intersection(other._bbox)
        if box.is_empty:
            return False
        return bool(np.any(self.to_mask_array(box) & other.to_mask_array(box)))

    def merged(self, other: Footprint, peak_radius: float = 0.0) -> Footprint:
        """The union of two footprints.

        Peaks: this footprint's, then ``other``'s except those within ``peak_radius`` pixels of
        one of this footprint's peaks (so identical peaks are never duplicated).
        """
        y = np.concatenate([self._y, other._y])
        x0 = np.concatenate([self._x0, other._x0])
        x1 = np.concatenate([self._x1, other._x1])
        peaks = _merge_peaks(self._peaks, other._peaks, peak_radius)
        return Footprint._from_normalized(*_normalize(y, x0, x1), peaks)

    def dilated(self, radius: int, shape: str = "circle") -> Footprint:
        """Grow by ``radius`` pixels.

        A pixel is added if some footprint pixel lies within ``radius`` of it: Euclidean distance
        for ``shape="circle"`` (dilation by the disc ``dx² + dy² ≤ r²``), Chebyshev for ``"square"``.
        Peaks are kept.
        """
        radius = _check_radius(radius)
        if radius == 0 or self.is_empty:
            return Footprint._from_normalized(self._y, self._x0, self._x1, self._peaks.copy())
        box = self._bbox.grown(radius)
        dist = _structure_distance(self.to_mask_array(box), shape, inside=False)
        grown = Footprint.from_mask_array(dist <= radius, box.xy0)
        grown._peaks = self._peaks.copy()
        return grown

    def eroded(self, radius: int, shape: str = "circle") -> Footprint:
        """Shrink by ``radius`` pixels: keep pixels whose whole disc (or square) of ``radius`` is inside.

        Peaks that fall outside the result are dropped.
        """
        radius = _check_radius(radius)
        if radius == 0 or self.is_empty:
            return Footprint._from_normalized(self._y, self._x0, self._x1, self._peaks.copy())
        box = self._bbox.grown(1)
        dist = _structure_distance(self.to_mask_array(box), shape, inside=True)
        shrunk = Footprint.from_mask_array(dist > radius, box.xy0)
        if len(self._peaks):
            shrunk._peaks = self._peaks[np.asarray(shrunk.contains(self._peaks["x"], self._peaks["y"]))]
        return shrunk

    # -- comparison and persistence --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Footprint) or type(other) is not type(self):
            return NotImplemented
        return self._spans_equal(other) and np.array_equal(self._peaks, other._peaks, equal_nan=False)

    __hash__ = None  # type: ignore[assignment]

    def _spans_equal(self, other: Footprint) -> bool:
        return (
            np.array_equal(self._y, other._y)
            and np.array_equal(self._x0, other._x0)
            and np.array_equal(self._x1, other._x1)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(area={self.area}, bbox={self._bbox!r}, peaks={len(self._peaks)})"

    def to_dict(self) -> dict[str, Any]:
        """Compact description: ``spans`` as an ``(n, 3)`` int32 array and the peak columns."""
        return {
            "spans": self.spans,
            "peak_id": self._peaks["id"].copy(),
            "peak_x": self._peaks["x"].copy(),
            "peak_y": self._peaks["y"].copy(),
            "peak_value": self._peaks["value"].copy(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Footprint:
        """Rebuild a footprint written by `to_dict` (arrays may be encoded or plain)."""
        spans = _as_array(data["spans"], np.int32).reshape(-1, 3)
        peaks = _peaks_from_dict(data)
        fp = Footprint(spans[:, 0], spans[:, 1], spans[:, 2], peaks)
        return fp


def _peaks_from_dict(data: dict[str, Any]) -> np.ndarray:
    ids = _as_array(data.get("peak_id", []), np.int64)
    peaks = np.zeros(ids.size, dtype=PEAK_DTYPE)
    peaks["id"] = ids
    peaks["x"] = _as_array(data.get("peak_x", []), np.int32)
    peaks["y"] = _as_array(data.get("peak_y", []), np.int32)
    peaks["value"] = _as_array(data.get("peak_value", []), np.float64)
    return peaks


def _check_radius(radius: int) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise ValueError(f"Footprint grow/shrink radius must be a non-negative integer, got {radius!r}")
    return int(radius)


def _merge_peaks(first: np.ndarray, second: np.ndarray, radius: float) -> np.ndarray:
    if len(first) == 0 or len(second) == 0:
        return np.concatenate([first, second])
    dx = second["x"][:, None].astype(float) - first["x"][None, :]
    dy = second["y"][:, None].astype(float) - first["y"][None, :]
    duplicate = np.any(np.hypot(dx, dy) <= radius, axis=1)
    return np.concatenate([first, second[~duplicate]])


# -- HeavyFootprint -------------------------------------------------------------------------------
@register_persistable("HeavyFootprint")
class HeavyFootprint(Footprint):
    """A footprint carrying the image (and optionally mask and variance) values of its pixels.

    Values are 1-d arrays in span order (row by row, left to right), one per pixel. Build one with
    `from_image`; put the values back with `insert_into`, `add_to` or `subtract_from`.

    Parameters
    ----------
    footprint : `Footprint`
        The pixels and peaks (copied by reference; spans are immutable).
    image : array-like
        One value per pixel.
    mask, variance : array-like, optional
        One mask word / variance per pixel.

    Raises
    ------
    ValueError
        If a value array's length differs from the footprint's area.
    """

    def __init__(
        self,
        footprint: Footprint,
        image: npt.ArrayLike,
        mask: npt.ArrayLike | None = None,
        variance: npt.ArrayLike | None = None,
    ) -> None:
        self._set_spans(footprint._y, footprint._x0, footprint._x1)
        self._peaks = footprint._peaks.copy()
        area = self.area
        self._image = self._values("image", image, area)
        self._mask = None if mask is None else self._values("mask", mask, area)
        self._variance = None if variance is None else self._values("variance", variance, area)

    @staticmethod
    def _values(name: str, values: npt.ArrayLike, area: int) -> np.ndarray:
        arr = np.asarray(values).reshape(-1)
        if arr.size != area:
            raise ValueError(
                f"HeavyFootprint {name} has {arr.size} values but the footprint has {area} pixels"
            )
        return arr

    @classmethod
    def from_image(
        cls,
        footprint: Footprint,
        image: np.ndarray,
        xy0: tuple[int, int] = (0, 0),
        mask: np.ndarray | None = None,
        variance: np.ndarray | None = None,
    ) -> HeavyFootprint:
        """Copy the values under ``footprint`` from arrays whose first pixel is at ``xy0``.

        Raises
        ------
        ValueError
            If the footprint is not wholly inside the arrays (clip it with `Footprint.clipped_to`
            first) or the arrays' shapes differ.
        """
        box = Box2I.from_shape(image.shape, xy0)
        if not box.contains_box(footprint.bbox):
            raise ValueError(
                f"Footprint bbox {footprint.bbox!r} is not inside the image bbox {box!r}; "
                "clip it with footprint.clipped_to(bbox) first"
            )
        for name, arr in (("mask", mask), ("variance", variance)):
            if arr is not None and arr.shape != image.shape:
                raise ValueError(
                    f"HeavyFootprint.from_image: {name} shape {arr.shape} != image {image.shape}"
                )
        ys, xs = _expand(footprint._y, footprint._x0, footprint._x1)
        rows, cols = ys - box.min_y, xs - box.min_x
        return cls(
            footprint,
            image[rows, cols],
            None if mask is None else mask[rows, cols],
            None if variance is None else variance[rows, cols],
        )

    @property
    def image_values(self) -> np.ndarray:
        """Image value of each pixel, in span order."""
        return self._image

    @property
    def mask_values(self) -> np.ndarray | None:
        """Mask word of each pixel, or None."""
        return self._mask

    @property
    def variance_values(self) -> np.ndarray | None:
        """Variance of each pixel, or None."""
        return self._variance

    def _targets(
        self, shape: tuple[int, ...], xy0: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, columns (in the array) and value indices of the pixels inside the array."""
        box = Box2I.from_shape(shape, xy0)
        ys, xs = _expand(self._y, self._x0, self._x1)
        if box.contains_box(self._bbox):
            return ys - box.min_y, xs - box.min_x, np.arange(ys.size)
        inside = np.flatnonzero((xs >= box.min_x) & (xs <= box.max_x) & (ys >= box.min_y) & (ys <= box.max_y))
        return ys[inside] - box.min_y, xs[inside] - box.min_x, inside

    def insert_into(
        self,
        image: np.ndarray,
        xy0: tuple[int, int] = (0, 0),
        mask: np.ndarray | None = None,
        variance: np.ndarray | None = None,
    ) -> None:
        """Overwrite the footprint pixels of arrays (first pixel at ``xy0``) with the stored values.

        Pixels outside the arrays are skipped. ``mask``/``variance`` are written only if given and
        stored.
        """
        rows, cols, idx = self._targets(image.shape, xy0)
        image[rows, cols] = self._image[idx]
        if mask is not None and self._mask is not None:
            mask[rows, cols] = self._mask[idx]
        if variance is not None and self._variance is not None:
            variance[rows, cols] = self._variance[idx]

    def add_to(self, image: np.ndarray, xy0: tuple[int, int] = (0, 0)) -> None:
        """Add the stored image values to ``image`` (pixels outside it are skipped)."""
        rows, cols, idx = self._targets(image.shape, xy0)
        image[rows, cols] += self._image[idx]

    def subtract_from(self, image: np.ndarray, xy0: tuple[int, int] = (0, 0)) -> None:
        """Subtract the stored image values from ``image`` (pixels outside it are skipped)."""
        rows, cols, idx = self._targets(image.shape, xy0)
        image[rows, cols] -= self._image[idx]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeavyFootprint):
            return NotImplemented

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            if a is None or b is None:
                return a is b
            return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")

        return (
            self._spans_equal(other)
            and np.array_equal(self._peaks, other._peaks)
            and same(self._image, other._image)
            and same(self._mask, other._mask)
            and same(self._variance, other._variance)
        )

    __hash__ = None

    def to_dict(self) -> dict[str, Any]:
        """`Footprint.to_dict` plus ``image``, ``mask`` and ``variance`` value arrays (None if absent)."""
        data = super().to_dict()
        data.update(image=self._image, mask=self._mask, variance=self._variance)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeavyFootprint:
        """Rebuild a heavy footprint written by `to_dict`."""
        fp = Footprint.from_dict(data)
        mask, variance = data.get("mask"), data.get("variance")
        return cls(
            fp,
            _as_array(data["image"]),
            None if mask is None else _as_array(mask),
            None if variance is None else _as_array(variance),
        )
