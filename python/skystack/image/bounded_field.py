# SPDX-License-Identifier: GPL-3.0-or-later
"""Scalar functions over a pixel box (the afw ``BoundedField`` role).

A `BoundedField` is a smooth scalar function ``f(x, y)`` of parent pixel coordinates, defined
over an integer box. It is what spatially varying calibrations (`PhotoCalib`, aperture
corrections) are made of. Three kinds exist:

- `ConstantBoundedField`: the same value everywhere;
- `ChebyshevBoundedField`: a 2-D Chebyshev series ``sum_ij c[j, i] T_i(x') T_j(y')`` in the
  coordinates ``x', y'`` mapped linearly from the box's pixel *edges* to ``[-1, 1]`` (as afw does);
- `ProductBoundedField`: the product of several fields on the same box.

Every field evaluates vectorised at scattered points (`BoundedField.evaluate`), on every pixel
of a box (`BoundedField.make_image`, separable for Chebyshev fields) and gives its exact mean over
the pixels of its box (`BoundedField.mean`). Fields multiply with scalars and with each other
(``2.0 * field``, ``field_a * field_b``) and are persistable.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.polynomial import chebyshev

from ..geom.box import Box2I
from ..utils.persist import (
    decode_array,
    dump_persistable,
    encode_array,
    load_persistable,
    register_persistable,
)

__all__ = [
    "BoundedField",
    "ChebyshevBoundedField",
    "ConstantBoundedField",
    "ProductBoundedField",
]


def _decoded(value: Any) -> np.ndarray:
    """An array stored by `encode_array`, or already decoded by `loads_json`."""
    return value if isinstance(value, np.ndarray) else decode_array(value)


def _check_bbox(bbox: Box2I, owner: str) -> Box2I:
    if not isinstance(bbox, Box2I):
        raise TypeError(f"{owner}: bbox must be a skystack.geom.Box2I, got {type(bbox).__qualname__}")
    if bbox.is_empty:
        raise ValueError(f"{owner}: bbox is empty; give the pixel box over which the field is defined")
    return bbox


def _as_float_pair(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    try:
        xa, ya = np.broadcast_arrays(xa, ya)
    except ValueError as err:
        raise ValueError(f"x and y must have broadcastable shapes, got {xa.shape} and {ya.shape}") from err
    return xa, ya


def _scalar_or_array(result: np.ndarray) -> Any:
    return float(result) if result.ndim == 0 else result


class BoundedField(abc.ABC):
    """A scalar function of parent pixel position defined over an integer box.

    Subclasses implement `evaluate`, `make_image`, `mean`, `scaled`, `to_dict`/`from_dict` and
    equality. Evaluating outside `bbox` is allowed (the function is simply extended); callers that
    need strictness check ``bbox.contains``.
    """

    @property
    @abc.abstractmethod
    def bbox(self) -> Box2I:
        """The pixel box over which the field is defined."""

    @abc.abstractmethod
    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Evaluate the field at parent pixel positions.

        Parameters
        ----------
        x, y : array_like
            Parent pixel coordinates (pixel centres at integers); broadcast together.

        Returns
        -------
        values : `float` or `numpy.ndarray`
            A float for scalar input, else an array of the broadcast shape.
        """

    @abc.abstractmethod
    def make_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """Evaluate the field at the centre of every pixel of ``bbox`` (default: `bbox`).

        Returns
        -------
        image : `numpy.ndarray`
            Array of shape ``bbox.shape`` (rows, columns), indexed ``[y - min_y, x - min_x]``.
        """

    @abc.abstractmethod
    def mean(self) -> float:
        """The exact mean of the field over the pixel centres of `bbox`."""

    @abc.abstractmethod
    def scaled(self, factor: float) -> BoundedField:
        """Return a new field equal to this one multiplied by ``factor``."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible representation (see `skystack.utils.persist`)."""

    def __mul__(self, other: Any) -> BoundedField:
        if isinstance(other, BoundedField):
            return ProductBoundedField([self, other])
        if isinstance(other, int | float | np.integer | np.floating) and not isinstance(other, bool):
            return self.scaled(float(other))
        return NotImplemented

    def __rmul__(self, other: Any) -> BoundedField:
        return self.__mul__(other)

    def __truediv__(self, other: Any) -> BoundedField:
        if isinstance(other, int | float | np.integer | np.floating) and not isinstance(other, bool):
            if other == 0:
                raise ZeroDivisionError("Cannot divide a BoundedField by zero")
            return self.scaled(1.0 / float(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@register_persistable("ConstantBoundedField")
class ConstantBoundedField(BoundedField):
    """A field with the same value everywhere in its box.

    Parameters
    ----------
    value : `float`
        The constant value.
    bbox : `~skystack.geom.Box2I`
        The box over which the field is defined (must not be empty).
    """

    def __init__(self, value: float, bbox: Box2I) -> None:
        self._value = float(value)
        self._bbox = _check_bbox(bbox, "ConstantBoundedField")

    @property
    def bbox(self) -> Box2I:
        return self._bbox

    @property
    def value(self) -> float:
        """The constant value."""
        return self._value

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        xa, _ = _as_float_pair(x, y)
        return _scalar_or_array(np.full(xa.shape, self._value))

    def make_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        box = self._bbox if bbox is None else bbox
        return np.full(box.shape, self._value, dtype=dtype)

    def mean(self) -> float:
        return self._value

    def scaled(self, factor: float) -> ConstantBoundedField:
        return ConstantBoundedField(self._value * factor, self._bbox)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self._value, "bbox": self._bbox.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConstantBoundedField:
        return cls(float(data["value"]), Box2I.from_dict(data["bbox"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConstantBoundedField):
            return NotImplemented
        return self._value == other._value and self._bbox == other._bbox

    def __repr__(self) -> str:
        return f"ConstantBoundedField({self._value!r}, {self._bbox!r})"


@register_persistable("ChebyshevBoundedField")
class ChebyshevBoundedField(BoundedField):
    """A 2-D Chebyshev polynomial over a box.

    ``f(x, y) = sum_{j, i} coefficients[j, i] * T_i(x') * T_j(y')`` where
    ``x' = 2 (x - (min_x - 0.5)) / width - 1`` and likewise for ``y'``: the pixel edges of the box
    map to ``[-1, 1]`` (the afw convention).

    Parameters
    ----------
    coefficients : array_like
        2-D array of shape ``(order_y + 1, order_x + 1)``, indexed ``[j, i]`` (y order first).
    bbox : `~skystack.geom.Box2I`
        The box over which the field is defined (must not be empty).
    """

    def __init__(self, coefficients: npt.ArrayLike, bbox: Box2I) -> None:
        coeffs = np.array(coefficients, dtype=np.float64)
        if coeffs.ndim != 2 or coeffs.size == 0:
            raise ValueError(
                "ChebyshevBoundedField: coefficients must be a non-empty 2-D array indexed [j_y, i_x], "
                f"got shape {coeffs.shape}"
            )
        if not np.all(np.isfinite(coeffs)):
            raise ValueError("ChebyshevBoundedField: coefficients must all be finite")
        coeffs.setflags(write=False)
        self._coefficients = coeffs
        self._bbox = _check_bbox(bbox, "ChebyshevBoundedField")
        box2d = self._bbox.to_box2d()
        # x' = scale_x * x + offset_x maps [min_x - 0.5, max_x + 0.5] to [-1, 1].
        self._scale_x = 2.0 / box2d.width
        self._offset_x = -1.0 - self._scale_x * box2d.min_x
        self._scale_y = 2.0 / box2d.height
        self._offset_y = -1.0 - self._scale_y * box2d.min_y

    # -- properties ------------------------------------------------------------------------------
    @property
    def bbox(self) -> Box2I:
        return self._bbox

    @property
    def coefficients(self) -> np.ndarray:
        """The (read-only) coefficient array, indexed ``[j_y, i_x]``."""
        return self._coefficients

    @property
    def order_x(self) -> int:
        return self._coefficients.shape[1] - 1

    @property
    def order_y(self) -> int:
        return self._coefficients.shape[0] - 1

    # -- evaluation ------------------------------------------------------------------------------
    def _scaled_x(self, x: np.ndarray) -> np.ndarray:
        return self._scale_x * x + self._offset_x

    def _scaled_y(self, y: np.ndarray) -> np.ndarray:
        return self._scale_y * y + self._offset_y

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        xa, ya = _as_float_pair(x, y)
        # chebval2d's coefficient c[i, j] multiplies T_i(first) T_j(second): pass (x', y') and c.T.
        result = chebyshev.chebval2d(self._scaled_x(xa), self._scaled_y(ya), self._coefficients.T)
        return _scalar_or_array(np.asarray(result, dtype=float))

    def _vander_x(self, box: Box2I) -> np.ndarray:
        xs = np.arange(box.min_x, box.end_x, dtype=float)
        return chebyshev.chebvander(self._scaled_x(xs), self.order_x)

    def _vander_y(self, box: Box2I) -> np.ndarray:
        ys = np.arange(box.min_y, box.end_y, dtype=float)
        return chebyshev.chebvander(self._scaled_y(ys), self.order_y)

    def make_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        box = self._bbox if bbox is None else bbox
        if box.is_empty:
            return np.zeros((0, 0), dtype=dtype)
        # Separable: image[y, x] = sum_ji Ty[y, j] C[j, i] Tx[x, i] = (Ty @ C) @ Tx.T.
        image = (self._vander_y(box) @ self._coefficients) @ self._vander_x(box).T
        return image.astype(dtype, copy=False)

    def mean(self) -> float:
        mean_tx = self._vander_x(self._bbox).mean(axis=0)
        mean_ty = self._vander_y(self._bbox).mean(axis=0)
        return float(mean_ty @ self._coefficients @ mean_tx)

    def scaled(self, factor: float) -> ChebyshevBoundedField:
        return ChebyshevBoundedField(self._coefficients * factor, self._bbox)

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        values: npt.ArrayLike,
        bbox: Box2I,
        order: int,
        weights: npt.ArrayLike | None = None,
        triangular: bool = True,
    ) -> ChebyshevBoundedField:
        """Least-squares fit of a Chebyshev field to values at scattered points.

        Parameters
        ----------
        x, y, values : array_like
            1-D arrays of equal length: positions (parent pixels) and the values there.
        bbox : `~skystack.geom.Box2I`
            Box of the field; it sets the coordinate scaling.
        order : `int`
            Maximum order in each of x and y (``>= 0``).
        weights : array_like, optional
            Per-point weights (inverse variances); default all 1.
        triangular : `bool`
            If True (the afw default) keep only terms with ``i + j <= order``; else the full
            ``(order + 1) x (order + 1)`` set.

        Returns
        -------
        field : `ChebyshevBoundedField`

        Raises
        ------
        ValueError
            If the inputs have different lengths, contain non-finite values, weights are negative,
            or there are fewer points (with positive weight) than free coefficients.
        """
        bbox = _check_bbox(bbox, "ChebyshevBoundedField.fit")
        if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 0:
            raise ValueError(
                f"ChebyshevBoundedField.fit: order must be a non-negative integer, got {order!r}"
            )
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
        va = np.asarray(values, dtype=float).ravel()
        wa = np.ones_like(va) if weights is None else np.asarray(weights, dtype=float).ravel()
        if not (xa.size == ya.size == va.size == wa.size):
            raise ValueError(
                "ChebyshevBoundedField.fit: x, y, values and weights must have the same length, got "
                f"{xa.size}, {ya.size}, {va.size}, {wa.size}"
            )
        if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya)) and np.all(np.isfinite(va))):
            raise ValueError(
                "ChebyshevBoundedField.fit: x, y and values must be finite; drop bad points first"
            )
        if np.any(wa < 0) or not np.all(np.isfinite(wa)):
            raise ValueError("ChebyshevBoundedField.fit: weights must be finite and non-negative")
        order = int(order)
        jj, ii = np.meshgrid(np.arange(order + 1), np.arange(order + 1), indexing="ij")
        keep = (ii + jj <= order) if triangular else np.ones_like(ii, dtype=bool)
        n_terms = int(keep.sum())
        n_used = int(np.count_nonzero(wa > 0))
        if n_used < n_terms:
            raise ValueError(
                f"ChebyshevBoundedField.fit: {n_used} points with positive weight cannot constrain "
                f"{n_terms} coefficients of order {order}; lower the order or give more points"
            )
        proto = cls(np.zeros((order + 1, order + 1)), bbox)
        # chebvander2d(x', y', [ox, oy]) columns are T_i(x') T_j(y') with i slowest: index i*(oy+1)+j.
        design = chebyshev.chebvander2d(proto._scaled_x(xa), proto._scaled_y(ya), [order, order])
        column_keep = keep.T.ravel()  # keep[j, i] -> flattened (i, j) order
        sqrt_w = np.sqrt(wa)
        solution, *_ = np.linalg.lstsq(design[:, column_keep] * sqrt_w[:, None], va * sqrt_w, rcond=None)
        full = np.zeros((order + 1) * (order + 1))
        full[column_keep] = solution
        coefficients = full.reshape(order + 1, order + 1).T  # (i, j) -> [j, i]
        return cls(coefficients, bbox)

    # -- persistence and comparison ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": encode_array(self._coefficients), "bbox": self._bbox.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChebyshevBoundedField:
        return cls(_decoded(data["coefficients"]), Box2I.from_dict(data["bbox"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChebyshevBoundedField):
            return NotImplemented
        return (
            self._bbox == other._bbox
            and self._coefficients.shape == other._coefficients.shape
            and bool(np.array_equal(self._coefficients, other._coefficients))
        )

    def __repr__(self) -> str:
        return f"ChebyshevBoundedField(order_x={self.order_x}, order_y={self.order_y}, bbox={self._bbox!r})"


@register_persistable("ProductBoundedField")
class ProductBoundedField(BoundedField):
    """The pointwise product of several fields defined on the same box.

    Parameters
    ----------
    factors : sequence of `BoundedField`
        At least one field; all must have the same `bbox`. Nested products are flattened.

    Raises
    ------
    ValueError
        If no factors are given or their boxes differ.
    """

    def __init__(self, factors: list[BoundedField] | tuple[BoundedField, ...]) -> None:
        flat: list[BoundedField] = []
        for factor in factors:
            if not isinstance(factor, BoundedField):
                raise TypeError(
                    f"ProductBoundedField: factors must be BoundedFields, got {type(factor).__qualname__}"
                )
            flat.extend(factor.factors if isinstance(factor, ProductBoundedField) else [factor])
        if not flat:
            raise ValueError("ProductBoundedField needs at least one factor")
        bbox = flat[0].bbox
        for factor in flat[1:]:
            if factor.bbox != bbox:
                raise ValueError(
                    f"ProductBoundedField: all factors must share one bbox, got {bbox!r} and {factor.bbox!r}"
                )
        self._factors = tuple(flat)

    @property
    def factors(self) -> tuple[BoundedField, ...]:
        """The factor fields."""
        return self._factors

    @property
    def bbox(self) -> Box2I:
        return self._factors[0].bbox

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        xa, ya = _as_float_pair(x, y)
        result = np.ones(xa.shape)
        for factor in self._factors:
            result = result * np.asarray(factor.evaluate(xa, ya))
        return _scalar_or_array(result)

    def make_image(self, bbox: Box2I | None = None, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        box = self.bbox if bbox is None else bbox
        image = self._factors[0].make_image(box)
        for factor in self._factors[1:]:
            image *= factor.make_image(box)
        return image.astype(dtype, copy=False)

    def mean(self) -> float:
        return float(self.make_image().mean())

    def scaled(self, factor: float) -> ProductBoundedField:
        return ProductBoundedField([self._factors[0].scaled(factor), *self._factors[1:]])

    def to_dict(self) -> dict[str, Any]:
        return {"factors": [dump_persistable(f) for f in self._factors]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductBoundedField:
        return cls([load_persistable(f, expected=BoundedField) for f in data["factors"]])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProductBoundedField):
            return NotImplemented
        return self._factors == other._factors

    def __repr__(self) -> str:
        return f"ProductBoundedField({list(self._factors)!r})"
