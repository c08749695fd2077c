# SPDX-License-Identifier: GPL-3.0-or-later
"""Above-threshold regions as spans: run finding, 8-connected labelling, peaks and growing (numba).

These are the pixel loops behind `skystack.algorithms.detection.detect_sources` and the cosmic-ray
finder. They produce exactly what `skystack.image.footprint_set.FootprintSet.from_threshold` and
`FootprintSet.grown` produce (the same spans, the same peaks, in the same order — the tests check
it), but work span by span in one pass over the image instead of through full-image label,
maximum-filter and per-footprint distance-transform arrays, which makes them about ten times faster
on a 4k×4k detector with ~10⁴ sources.

Spans are ``(y, x0, x1)`` runs of consecutive pixels in one row, inclusive of both ends, in raster
order (by ``y`` then ``x0``). Coordinates here are array indices; `footprints_from_runs` shifts them
by ``xy0``.

Threshold modes (the ``mode`` argument of `threshold_runs`):

- ``MODE_VALUE``: a pixel is above threshold if ``sign·values ≥ threshold``;
- ``MODE_SIGMA``: if ``sign·values ≥ threshold·sqrt(variance)`` (per-pixel noise, ``threshold > 0``;
  pixels whose variance is not positive are never above threshold);
- ``MODE_NONZERO``: if ``values != 0`` (a mask; ``sign`` and ``threshold`` unused).

NaN values (and NaN variances) are never above threshold; a NaN neighbour never stops a pixel from
being a peak.
"""

from __future__ import annotations

import numba
import numpy as np

from skystack.geom import Box2I
from skystack.image.footprint import Footprint
from skystack.image.footprint_set import FootprintSet

__all__ = [
    "MODE_NONZERO",
    "MODE_SIGMA",
    "MODE_VALUE",
    "find_peaks",
    "footprints_from_runs",
    "grow_runs",
    "label_runs",
    "paint_runs",
    "threshold_runs",
]

MODE_VALUE = 0
MODE_SIGMA = 1
MODE_NONZERO = 2


# -- numba kernels --------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _above(
    values: np.ndarray, variance: np.ndarray, mode: int, threshold: float, sign: float, y: int, x: int
) -> bool:  # pragma: no cover
    if mode == MODE_NONZERO:
        return values[y, x] != 0
    v = sign * values[y, x]
    if mode == MODE_VALUE:
        return v >= threshold
    return v >= 0 and v * v >= threshold * threshold * variance[y, x] and variance[y, x] > 0


@numba.njit(cache=True, nogil=True)
def _grow(arr: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    out = np.empty(max(2 * arr.size, n), dtype=arr.dtype)
    out[: arr.size] = arr
    return out


@numba.njit(cache=True, nogil=True)
def _row_flags(
    values: np.ndarray,
    variance: np.ndarray,
    mode: int,
    threshold: float,
    sign: float,
    y: int,
    flags: np.ndarray,
) -> bool:  # pragma: no cover - numba
    """``flags[x] = 1`` where pixel ``(y, x)`` is above threshold; returns whether any is."""
    nx = values.shape[1]
    row = values[y]
    count = 0
    if mode == MODE_NONZERO:
        for x in range(nx):
            f = row[x] != 0
            flags[x] = f
            count += f
    elif mode == MODE_VALUE:
        for x in range(nx):
            f = sign * row[x] >= threshold
            flags[x] = f
            count += f
    else:
        vrow = variance[y]
        t2 = threshold * threshold
        for x in range(nx):
            v = sign * row[x]
            f = (v >= 0) & (v * v >= t2 * vrow[x]) & (vrow[x] > 0)
            flags[x] = f
            count += f
    return count > 0


@numba.njit(cache=True, nogil=True)
def _threshold_runs(
    values: np.ndarray, variance: np.ndarray, mode: int, threshold: float, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    ny, nx = values.shape
    cap = 1024
    ys = np.empty(cap, dtype=np.int32)
    x0s = np.empty(cap, dtype=np.int32)
    x1s = np.empty(cap, dtype=np.int32)
    flags = np.zeros(nx + 1, dtype=np.uint8)  # flags[nx] stays 0: a sentinel ending the last run
    n = 0
    for y in range(ny):
        if not _row_flags(values, variance, mode, threshold, sign, y, flags):
            continue
        if n + nx // 2 + 1 > ys.size:  # room for the most runs a row can hold
            ys = _grow(ys, n + nx // 2 + 1)
            x0s = _grow(x0s, n + nx // 2 + 1)
            x1s = _grow(x1s, n + nx // 2 + 1)
        x = 0
        while x < nx:
            if flags[x] == 0:
                x += 1
                continue
            start = x
            while flags[x] != 0:
                x += 1
            ys[n] = y
            x0s[n] = start
            x1s[n] = x - 1
            n += 1
    return ys[:n].copy(), x0s[:n].copy(), x1s[:n].copy()


@numba.njit(cache=True, nogil=True)
def _find_root(parent: np.ndarray, i: int) -> int:  # pragma: no cover - numba
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@numba.njit(cache=True, nogil=True)
def _label_runs(
    ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray
) -> tuple[np.ndarray, int]:  # pragma: no cover
    """Component label (1, 2, … in raster order of first pixel) of each span, 8-connectivity."""
    n = ys.size
    parent = np.arange(n)
    prev_start = 0  # first span of the previous row
    prev_end = 0  # one past its last span
    i = 0
    while i < n:
        y = ys[i]
        row_end = i
        while row_end < n and ys[row_end] == y:
            row_end += 1
        if prev_end > prev_start and ys[prev_start] == y - 1:
            a = prev_start
            for b in range(i, row_end):
                # skip previous-row spans ending left of b (with the diagonal allowance)
                while a < prev_end and x1s[a] < x0s[b] - 1:
                    a += 1
                k = a
                while k < prev_end and x0s[k] <= x1s[b] + 1:
                    ra = _find_root(parent, k)
                    rb = _find_root(parent, b)
                    if ra != rb:
                        if ra < rb:
                            parent[rb] = ra
                        else:
                            parent[ra] = rb
                    k += 1
        prev_start = i
        prev_end = row_end
        i = row_end
    labels = np.zeros(n, dtype=np.int32)
    dense = np.zeros(n, dtype=np.int32)
    count = 0
    for i in range(n):
        root = _find_root(parent, i)
        if dense[root] == 0:
            count += 1
            dense[root] = count
        labels[i] = dense[root]
    return labels, count


@numba.njit(cache=True, nogil=True)
def _is_peak(values: np.ndarray, sign: float, y: int, x: int) -> bool:  # pragma: no cover - numba
    ny, nx = values.shape
    v = sign * values[y, x]
    if v != v:  # NaN
        return False
    for dy in range(-1, 2):
        yy = y + dy
        if yy < 0 or yy >= ny:
            continue
        for dx in range(-1, 2):
            xx = x + dx
            if xx < 0 or xx >= nx or (dx == 0 and dy == 0):
                continue
            if sign * values[yy, xx] > v:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _find_peaks(
    values: np.ndarray,
    variance: np.ndarray,
    mode: int,
    threshold: float,
    sign: float,
    ys: np.ndarray,
    x0s: np.ndarray,
    x1s: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Local maxima of ``sign·values`` over 3×3 in the spans, one per plateau (its first pixel in
    raster order); returns their rows, columns and span labels in raster order."""
    nx = values.shape[1]
    cap = 256
    py = np.empty(cap, dtype=np.int32)
    px = np.empty(cap, dtype=np.int32)
    pl = np.empty(cap, dtype=np.int32)
    n = 0
    for s in range(ys.size):
        y = ys[s]
        if n + x1s[s] - x0s[s] + 1 > py.size:  # room for every pixel of the span
            py = _grow(py, n + x1s[s] - x0s[s] + 1)
            px = _grow(px, n + x1s[s] - x0s[s] + 1)
            pl = _grow(pl, n + x1s[s] - x0s[s] + 1)
        for x in range(x0s[s], x1s[s] + 1):
            if not _is_peak(values, sign, y, x):
                continue
            v = values[y, x]
            duplicate = False
            # a plateau keeps its first pixel: drop this one if an earlier detected neighbour
            # (W, NW, N, NE) is an equal-valued peak
            for dy, dx in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
                yy = y + dy
                xx = x + dx
                if yy < 0 or xx < 0 or xx >= nx:
                    continue
                if (
                    values[yy, xx] == v
                    and _above(values, variance, mode, threshold, sign, yy, xx)
                    and _is_peak(values, sign, yy, xx)
                ):
                    duplicate = True
                    break
            if duplicate:
                continue
            py[n] = y
            px[n] = x
            pl[n] = labels[s]
            n += 1
    return py[:n].copy(), px[:n].copy(), pl[:n].copy()


@numba.njit(cache=True, nogil=True)
def _paint_disc(
    canvas: np.ndarray, ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray, radius: int
) -> None:  # pragma: no cover - numba
    """Set every pixel within ``radius`` (Euclidean) of a span pixel to 1."""
    ny, nx = canvas.shape
    half = np.empty(2 * radius + 1, dtype=np.int64)
    for dy in range(-radius, radius + 1):
        half[dy + radius] = int(np.floor(np.sqrt(radius * radius - dy * dy) + 1e-9))
    for s in range(ys.size):
        for dy in range(-radius, radius + 1):
            y = ys[s] + dy
            if y < 0 or y >= ny:
                continue
            w = half[dy + radius]
            lo = max(0, x0s[s] - w)
            hi = min(nx - 1, x1s[s] + w)
            row = canvas[y]
            for x in range(lo, hi + 1):
                row[x] = 1


@numba.njit(cache=True, nogil=True)
def _or_runs(
    mask: np.ndarray, ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray, bits: int
) -> None:  # pragma: no cover
    b = mask.dtype.type(bits)
    for s in range(ys.size):
        row = mask[ys[s]]
        for x in range(x0s[s], x1s[s] + 1):
            row[x] |= b


# -- public wrappers ------------------------------------------------------------------------------
def threshold_runs(
    values: np.ndarray,
    threshold: float = 0.0,
    *,
    mode: int = MODE_VALUE,
    variance: np.ndarray | None = None,
    sign: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans ``(y, x0, x1)`` (int32, raster order) of the pixels above threshold.

    Parameters
    ----------
    values : `numpy.ndarray`
        2-d array (for ``MODE_NONZERO`` any numeric or boolean array).
    threshold : `float`
        Threshold on ``sign·values`` (``MODE_VALUE``) or in units of ``sqrt(variance)``
        (``MODE_SIGMA``).
    mode : `int`
        ``MODE_VALUE``, ``MODE_SIGMA`` or ``MODE_NONZERO`` (see the module docstring).
    variance : `numpy.ndarray`, optional
        Per-pixel variance, required for ``MODE_SIGMA``.
    sign : `float`
        +1 to detect positive, -1 to detect negative regions.

    Raises
    ------
    ValueError
        For a bad mode, a missing or mismatched variance, or a non-positive sigma threshold.
    """
    arr = _check_2d(values, "values")
    var = _check_mode(arr, mode, threshold, variance)
    return _threshold_runs(arr, var, int(mode), float(threshold), float(sign))


def label_runs(ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected component of each span (raster-ordered spans, as from `threshold_runs`).

    Returns
    -------
    labels : `numpy.ndarray`
        int32 label of each span, 1…count, numbered in raster order of each component's first
        pixel (as `scipy.ndimage.label` numbers them).
    count : `int`
        Number of components.
    """
    labels, count = _label_runs(ys, x0s, x1s)
    return labels, int(count)


def find_peaks(
    values: np.ndarray,
    ys: np.ndarray,
    x0s: np.ndarray,
    x1s: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float = 0.0,
    mode: int = MODE_VALUE,
    variance: np.ndarray | None = None,
    sign: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks of the spans: pixels whose ``sign·value`` no 3×3 neighbour exceeds.

    One peak per plateau of equal values (its first pixel in raster order; the threshold
    arguments tell which neighbours belong to the detection). Returns ``(y, x, label)`` int32
    arrays in raster order.
    """
    arr = _check_2d(values, "values")
    var = _check_mode(arr, mode, threshold, variance)
    return _find_peaks(arr, var, int(mode), float(threshold), float(sign), ys, x0s, x1s, labels)


def paint_runs(mask: np.ndarray, ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray, bits: int) -> None:
    """OR the integer ``bits`` into ``mask`` on the span pixels (in place)."""
    if mask.dtype.kind not in "iu":
        raise ValueError(f"paint_runs needs an integer mask, got {mask.dtype}")
    _or_runs(mask, ys, x0s, x1s, int(np.array(bits).astype(mask.dtype)))


def grow_runs(
    shape: tuple[int, int], ys: np.ndarray, x0s: np.ndarray, x1s: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans of the pixels within ``radius`` (Euclidean, as `Footprint.dilated` with "circle") of
    any given span pixel, clipped to an image of ``shape``; raster order, overlaps merged."""
    if radius < 0:
        raise ValueError(f"grow radius must be >= 0, got {radius}")
    canvas = np.zeros(shape, dtype=np.uint8)
    _paint_disc(canvas, ys, x0s, x1s, int(radius))
    return _threshold_runs(canvas, np.zeros((1, 1), np.float32), MODE_NONZERO, 0.0, 1.0)


def footprints_from_runs(
    ys: np.ndarray,
    x0s: np.ndarray,
    x1s: np.ndarray,
    labels: np.ndarray,
    count: int,
    shape: tuple[int, int],
    xy0: tuple[int, int] = (0, 0),
    peaks: np.ndarray | None = None,
    peak_labels: np.ndarray | None = None,
) -> FootprintSet:
    """A `FootprintSet` with one footprint per label ``1…count`` (labels in ``[1, count]``).

    Parameters
    ----------
    ys, x0s, x1s, labels : `numpy.ndarray`
        Raster-ordered, non-touching spans (array indices) and their labels.
    count : `int`
        Number of labels.
    shape : `tuple` of `int`
        The image shape (the set's region is this box at ``xy0``).
    xy0 : `tuple` of `int`
        Parent position of the image's first pixel; spans and peaks are shifted by it.
    peaks : structured array of `PEAK_DTYPE`, optional
        Peaks (in array indices), grouped by ``peak_labels`` in any order; each footprint gets
        its peaks in the order given.
    peak_labels : `numpy.ndarray`, optional
        Label of each peak.
    """
    region = Box2I.from_shape(shape, xy0)
    if count == 0:
        return FootprintSet([], region)
    order = np.argsort(labels, kind="stable")  # keeps raster order within a label
    dx, dy = np.int32(xy0[0]), np.int32(xy0[1])
    y = ys[order] + dy
    x0 = x0s[order] + dx
    x1 = x1s[order] + dx
    bounds = np.searchsorted(labels[order], np.arange(1, count + 2))
    if peaks is not None and peak_labels is not None:
        porder = np.argsort(peak_labels, kind="stable")
        table = peaks[porder].copy()
        table["x"] += dx
        table["y"] += dy
        pbounds = np.searchsorted(peak_labels[porder], np.arange(1, count + 2))
    footprints = []
    for i in range(count):
        sl = slice(bounds[i], bounds[i + 1])
        fp_peaks = None if peaks is None else table[pbounds[i] : pbounds[i + 1]].copy()
        # The spans are already normalised (sorted, disjoint, non-touching maximal runs), so the
        # footprint is built without re-sorting them.
        footprints.append(Footprint._from_normalized(y[sl], x0[sl], x1[sl], fp_peaks))
    return FootprintSet(footprints, region)


# -- checks ---------------------------------------------------------------------------------------
def _check_2d(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {arr.shape}")
    return arr


def _check_mode(arr: np.ndarray, mode: int, threshold: float, variance: np.ndarray | None) -> np.ndarray:
    if mode not in (MODE_VALUE, MODE_SIGMA, MODE_NONZERO):
        raise ValueError(f"threshold mode must be MODE_VALUE, MODE_SIGMA or MODE_NONZERO, got {mode!r}")
    if mode != MODE_SIGMA:  # an unused placeholder, of the values' type to share compiled code
        return np.zeros((1, 1), dtype=arr.dtype if arr.dtype.kind == "f" else np.float32)
    if variance is None or np.shape(variance) != arr.shape:
        raise ValueError(
            f"MODE_SIGMA needs a variance array of the values' shape {arr.shape}, got "
            f"{None if variance is None else np.shape(variance)}"
        )
    if not threshold > 0:
        raise ValueError(f"a threshold in units of sigma must be > 0, got {threshold}")
    return np.ascontiguousarray(variance, dtype=arr.dtype if arr.dtype.kind == "f" else None)
