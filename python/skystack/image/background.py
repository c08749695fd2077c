# SPDX-License-Identifier: GPL-3.0-or-later
"""Binned sky-background models (the afw ``BackgroundMI`` / ``BackgroundList`` roles).

`BackgroundModel.from_image` divides an image into a grid of bins of about ``bin_size`` pixels
(the bins tile the image exactly, as in afw: ``round(width / bin_size)`` bins per row whose
integer edges are spread evenly, so there are no tiny partial bins), computes a robust statistic
of the unmasked, finite pixels of each bin (all bins at once on a bin-gathered array), fills empty
or under-populated bins by interpolating between their neighbours, and stores the grid of values
at the bin centres. `BackgroundModel.get_image` interpolates that grid to full resolution
separably — along x for each bin row, then along y for every column — with an Akima spline by
default (afw's ``AKIMA_SPLINE``), natural cubic spline, modified Akima or linear interpolation;
beyond the outermost bin centres it extrapolates linearly with the spline's end slope, so planes
are reproduced exactly everywhere. With fewer bins than an interpolant needs, the order is reduced
(afw's ``REDUCE_INTERP_ORDER``): 1 bin → constant, 2 → linear.

`BackgroundList` composes several models by summation (e.g. a coarse and a fine pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.interpolate import Akima1DInterpolator, CubicSpline, PPoly, griddata

from ..geom.box import Box2I
from ..utils.persist import (
    decode_array,
    dump_persistable,
    encode_array,
    load_persistable,
    register_persistable,
)
from .binned_statistics import binned_statistics

__all__ = ["BackgroundList", "BackgroundModel", "Interpolation", "Statistic"]

Interpolation = Literal["akima", "makima", "natural_spline", "linear"]
Statistic = Literal["median", "mean_clipped"]
_INTERPOLATIONS = ("akima", "makima", "natural_spline", "linear")
_STATISTICS = ("median", "mean_clipped")


def _decoded(value: Any) -> np.ndarray:
    """An array stored by `encode_array`, or already decoded by `loads_json`."""
    return value if isinstance(value, np.ndarray) else decode_array(value)


def _ppoly(nodes: np.ndarray, values: np.ndarray, kind: str) -> PPoly:
    """Piecewise polynomial through ``values`` (interpolated along axis 0) at ``nodes``."""
    n = nodes.size
    if n == 1:
        # Constant: a degenerate one-piece linear PPoly spanning a unit interval.
        coeffs = np.stack([np.zeros_like(values[0]), values[0]])[:, None]
        return PPoly(coeffs, np.array([nodes[0], nodes[0] + 1.0]), extrapolate=True)
    if n == 2 or kind == "linear":
        slopes = np.diff(values, axis=0) / np.diff(nodes).reshape((-1,) + (1,) * (values.ndim - 1))
        return PPoly(np.stack([slopes, values[:-1]]), nodes, extrapolate=True)
    if kind in ("akima", "makima"):
        return Akima1DInterpolator(nodes, values, axis=0, method=kind, extrapolate=True)
    return CubicSpline(nodes, values, axis=0, bc_type="natural", extrapolate=True)


def _interp_axis0(nodes: np.ndarray, values: np.ndarray, targets: np.ndarray, kind: str) -> np.ndarray:
    """Interpolate ``values`` along axis 0 to sorted ``targets``; linear outside the nodes."""
    poly = _ppoly(nodes, values, kind)
    result = np.asarray(poly(targets))
    if nodes.size == 1:
        return result
    deriv = poly.derivative()
    for end, mask in ((nodes[0], targets < nodes[0]), (nodes[-1], targets > nodes[-1])):
        if np.any(mask):
            result[mask] = poly(end)[None] + np.multiply.outer(targets[mask] - end, deriv(end))
    return result


def _bin_edges(n: int, bin_size: int) -> np.ndarray:
    n_bins = max(1, round(n / bin_size))
    return np.round(np.linspace(0, n, n_bins + 1)).astype(np.intp)


@register_persistable("BackgroundModel")
class BackgroundModel:
    """A smooth background given by values at the centres of a grid of bins.

    Parameters
    ----------
    values : array_like
        ``(n_bins_y, n_bins_x)`` background values at the bin centres; must be finite.
    x_centers, y_centers : array_like
        Strictly increasing parent-pixel coordinates of the bin centres (lengths
        ``n_bins_x`` and ``n_bins_y``).
    bbox : `~skystack.geom.Box2I`
        The image box the model describes (default box of `get_image`).
    interpolation : {"akima", "makima", "natural_spline", "linear"}
        Interpolant between bin centres.

    Raises
    ------
    ValueError
        On shape mismatches, non-finite values, non-increasing centres or an unknown interpolation.
    """

    def __init__(
        self,
        values: npt.ArrayLike,
        x_centers: npt.ArrayLike,
        y_centers: npt.ArrayLike,
        bbox: Box2I,
        interpolation: Interpolation = "akima",
    ) -> None:
        vals = np.array(values, dtype=np.float64)
        xc = np.array(x_centers, dtype=np.float64).ravel()
        yc = np.array(y_centers, dtype=np.float64).ravel()
        if vals.ndim != 2 or vals.shape != (yc.size, xc.size) or vals.size == 0:
            raise ValueError(
                f"BackgroundModel: values shape {vals.shape} must be (len(y_centers), len(x_centers)) = "
                f"({yc.size}, {xc.size}) and non-empty"
            )
        if not np.all(np.isfinite(vals)):
            raise ValueError(
                "BackgroundModel: values must be finite; fill empty bins before building the model"
            )
        for name, c in (("x_centers", xc), ("y_centers", yc)):
            if not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
                raise ValueError(f"BackgroundModel: {name} must be finite and strictly increasing")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"BackgroundModel: unknown interpolation {interpolation!r}; choose one of {_INTERPOLATIONS}"
            )
        if not isinstance(bbox, Box2I) or bbox.is_empty:
            raise ValueError(f"BackgroundModel: bbox must be a non-empty Box2I, got {bbox!r}")
        for arr in (vals, xc, yc):
            arr.setflags(write=False)
        self._values = vals
        self._xc = xc
        self._yc = yc
        self._bbox = bbox
        self._interpolation: Interpolation = interpolation

    # -- construction from pixels ----------------------------------------------------------------
    @classmethod
    def from_image(
        cls,
        image: Any,
        mask: np.ndarray | None = None,
        bin_size: int = 128,
        statistic: Statistic = "mean_clipped",
        bbox: Box2I | None = None,
        interpolation: Interpolation = "akima",
        n_sigma: float = 3.0,
        n_iter: int = 3,
        min_fraction: float = 0.1,
    ) -> BackgroundModel:
        """Estimate a background model from an image.

        Parameters
        ----------
        image : `numpy.ndarray` or image-like
            2-D pixel array, or an object with ``.array`` and ``.bbox`` (an ``Image``); its
            ``bbox`` is used unless ``bbox`` is given.
        mask : `numpy.ndarray`, optional
            Same shape; pixels where it is non-zero (or True) are ignored (e.g. detected sources,
            bad pixels). Non-finite pixels are always ignored.
        bin_size : `int`
            Approximate bin side in pixels (bins tile the image exactly).
        statistic : {"median", "mean_clipped"}
            Per-bin statistic: the median, or the iteratively ``n_sigma``-clipped mean (first pass
            about the median with an interquartile-range sigma, then about the mean; afw's
            ``MEANCLIP``).
        bbox : `~skystack.geom.Box2I`, optional
            Parent box of the array; default ``(0, 0)``-based (or the image's own ``bbox``).
        interpolation : {"akima", "makima", "natural_spline", "linear"}
        n_sigma : `float`
            Clipping threshold for ``"mean_clipped"``.
        n_iter : `int`
            Clipping iterations for ``"mean_clipped"`` (0: plain mean of the usable pixels).
        min_fraction : `float`
            Bins with fewer than this fraction of their pixels usable are treated as empty and
            filled by interpolation from neighbouring bins.

        Returns
        -------
        model : `BackgroundModel`

        Raises
        ------
        ValueError
            For a bad shape, statistic or bin size, or if no bin has enough usable pixels.
        """
        if hasattr(image, "array") and not isinstance(image, np.ndarray):
            bbox = image.bbox if bbox is None else bbox
            array = np.asarray(image.array)
        else:
            array = np.asarray(image)
        if array.ndim != 2 or array.size == 0:
            raise ValueError(
                f"BackgroundModel.from_image: need a non-empty 2-D image, got shape {array.shape}"
            )
        bbox = Box2I.from_shape(array.shape) if bbox is None else bbox
        if bbox.shape != array.shape:
            raise ValueError(
                f"BackgroundModel.from_image: bbox shape {bbox.shape} does not match image shape "
                f"{array.shape}"
            )
        if mask is not None and np.shape(mask) != array.shape:
            raise ValueError(
                f"BackgroundModel.from_image: mask shape {np.shape(mask)} does not match image shape "
                f"{array.shape}"
            )
        if isinstance(bin_size, bool) or not isinstance(bin_size, int | np.integer) or bin_size < 1:
            raise ValueError(
                f"BackgroundModel.from_image: bin_size must be a positive integer, got {bin_size!r}"
            )
        if statistic not in _STATISTICS:
            raise ValueError(
                f"BackgroundModel.from_image: unknown statistic {statistic!r}; choose one of {_STATISTICS}"
            )
        y_edges = _bin_edges(array.shape[0], int(bin_size))
        x_edges = _bin_edges(array.shape[1], int(bin_size))
        values, _ = binned_statistics(
            array,
            y_edges,
            x_edges,
            mask=None if mask is None else np.asarray(mask),
            statistic=statistic,
            n_sigma=float(n_sigma),
            n_iter=int(n_iter),
            min_fraction=float(min_fraction),
        )
        values = cls._fill_empty(values)
        x_centers = bbox.min_x + 0.5 * (x_edges[:-1] + x_edges[1:]) - 0.5
        y_centers = bbox.min_y + 0.5 * (y_edges[:-1] + y_edges[1:]) - 0.5
        return cls(values, x_centers, y_centers, bbox, interpolation)

    @staticmethod
    def _fill_empty(values: np.ndarray) -> np.ndarray:
        empty = ~np.isfinite(values)
        if not np.any(empty):
            return values
        if np.all(empty):
            raise ValueError(
                "BackgroundModel.from_image: no bin has enough unmasked finite pixels; check the mask, "
                "lower min_fraction or use larger bins"
            )
        jj, ii = np.meshgrid(np.arange(values.shape[0]), np.arange(values.shape[1]), indexing="ij")
        points = np.column_stack([jj[~empty], ii[~empty]]).astype(float)
        targets = np.column_stack([jj[empty], ii[empty]]).astype(float)
        filled = np.full(targets.shape[0], np.nan)
        if points.shape[0] >= 3:
            try:
                filled = griddata(points, values[~empty], targets, method="linear")
            except Exception:
                filled = np.full(targets.shape[0], np.nan)
        missing = ~np.isfinite(filled)
        if np.any(missing):
            filled[missing] = griddata(points, values[~empty], targets[missing], method="nearest")
        values[empty] = filled
        return values

    # -- properties ------------------------------------------------------------------------------
    @property
    def values(self) -> np.ndarray:
        """Read-only ``(n_bins_y, n_bins_x)`` values at the bin centres."""
        return self._values

    @property
    def x_centers(self) -> np.ndarray:
        return self._xc

    @property
    def y_centers(self) -> np.ndarray:
        return self._yc

    @property
    def bbox(self) -> Box2I:
        return self._bbox

    @property
    def interpolation(self) -> Interpolation:
        return self._interpolation

    # -- evaluation ------------------------------------------------------------------------------
    def get_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """The background at every pixel centre of ``bbox`` (default: the model's box).

        Returns
        -------
        image : `numpy.ndarray`
            Array of ``bbox.shape`` and ``dtype`` (default float32, like afw images).
        """
        box = self._bbox if bbox is None else bbox
        xs = np.arange(box.min_x, box.end_x, dtype=float)
        ys = np.arange(box.min_y, box.end_y, dtype=float)
        along_x = _interp_axis0(self._xc, self._values.T, xs, self._interpolation)  # (W, n_by)
        image = _interp_axis0(self._yc, np.ascontiguousarray(along_x.T), ys, self._interpolation)  # (H, W)
        return image.astype(dtype, copy=False)

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """The background at scattered parent-pixel positions (same interpolation as `get_image`)."""
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        shape = xa.shape
        xf, yf = xa.ravel(), ya.ravel()
        order = np.argsort(xf, kind="stable")
        along_x = np.empty((xf.size, self._yc.size))
        along_x[order] = _interp_axis0(self._xc, self._values.T, xf[order], self._interpolation)
        # Interpolate each point's column of bin values along y: per-point polynomial pieces.
        columns = np.ascontiguousarray(along_x.T)  # (n_by, N)
        if self._yc.size == 1:
            result = columns[0]
        else:
            poly = _ppoly(self._yc, columns, self._interpolation)
            breaks = poly.x
            idx = np.clip(np.searchsorted(breaks, yf, side="right") - 1, 0, breaks.size - 2)
            inside = (yf >= breaks[0]) & (yf <= breaks[-1])
            t = np.where(inside, yf - breaks[idx], 0.0)
            points = np.arange(yf.size)
            coeffs = poly.c[:, idx, points]  # (k, N)
            result = np.zeros(yf.size)
            for c in coeffs:  # Horner over the (<= 4) polynomial coefficients
                result = result * t + c
            deriv = poly.derivative()
            for end, sel in ((breaks[0], yf < breaks[0]), (breaks[-1], yf > breaks[-1])):
                if np.any(sel):
                    result[sel] = poly(end)[sel] + (yf[sel] - end) * deriv(end)[sel]
        result = result.reshape(shape)
        return float(result) if result.ndim == 0 else result

    # -- persistence and comparison ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "values": encode_array(self._values),
            "x_centers": encode_array(self._xc),
            "y_centers": encode_array(self._yc),
            "bbox": self._bbox.to_dict(),
            "interpolation": self._interpolation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackgroundModel:
        return cls(
            _decoded(data["values"]),
            _decoded(data["x_centers"]),
            _decoded(data["y_centers"]),
            Box2I.from_dict(data["bbox"]),
            data["interpolation"],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackgroundModel):
            return NotImplemented
        return (
            self._bbox == other._bbox
            and self._interpolation == other._interpolation
            and self._values.shape == other._values.shape
            and bool(np.array_equal(self._values, other._values))
            and bool(np.array_equal(self._xc, other._xc))
            and bool(np.array_equal(self._yc, other._yc))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"BackgroundModel(bins={self._values.shape[1]}x{self._values.shape[0]}, bbox={self._bbox!r}, "
            f"interpolation={self._interpolation!r})"
        )


@register_persistable("BackgroundList")
class BackgroundList:
    """An ordered list of background models whose sum is the total background.

    Parameters
    ----------
    models : iterable of `BackgroundModel`, optional
    """

    def __init__(self, models: Iterable[BackgroundModel] = ()) -> None:
        self._models: list[BackgroundModel] = []
        for model in models:
            self.append(model)

    def append(self, model: BackgroundModel) -> None:
        """Add a model to the list."""
        if not isinstance(model, BackgroundModel):
            raise TypeError(f"BackgroundList holds BackgroundModels, got {type(model).__qualname__}")
        self._models.append(model)

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[BackgroundModel]:
        return iter(self._models)

    def __getitem__(self, index: int) -> BackgroundModel:
        return self._models[index]

    @property
    def bbox(self) -> Box2I:
        """The union of the models' boxes."""
        if not self._models:
            raise ValueError("BackgroundList is empty; it has no bbox")
        box = self._models[0].bbox
        for model in self._models[1:]:
            box = box.union(model.bbox)
        return box

    def get_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """Sum of the models' images over ``bbox`` (default: the union of their boxes).

        Raises
        ------
        ValueError
            If the list is empty.
        """
        box = self.bbox if bbox is None else bbox
        total = np.zeros(box.shape, dtype=np.float64)
        for model in self._models:
            total += model.get_image(box, dtype=np.float64)
        return total.astype(dtype, copy=False)

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Sum of the models at scattered positions (0 for an empty list)."""
        total: Any = np.zeros(np.broadcast(np.asarray(x), np.asarray(y)).shape)
        for model in self._models:
            total = total + np.asarray(model.evaluate(x, y))
        return float(total) if np.ndim(total) == 0 else total

    def to_dict(self) -> dict[str, Any]:
        return {"models": [dump_persistable(m) for m in self._models]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackgroundList:
        return cls(load_persistable(m, expected=BackgroundModel) for m in data["models"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackgroundList):
            return NotImplemented
        return self._models == other._models

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BackgroundList({len(self._models)} models)"
