# SPDX-License-Identifier: GPL-3.0-or-later
"""Pixel images with an origin: `ImageBase` (shared box logic) and `Image` (arithmetic).

An image wraps a 2-D numpy array (indexed ``[y, x]``) whose first pixel sits at ``xy0`` in the
parent coordinate system, so that the image covers the integer box
``Box2I.from_shape(array.shape, xy0)``. All positions and boxes passed to an image are in these
parent coordinates (the Rubin ``PARENT`` convention). Sub-images made with `ImageBase.subset` or
``image[box]`` are views that share memory with their parent and keep parent coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeAlias

import numpy as np
import numpy.typing as npt

from skystack.geom import Box2I, Point2I

__all__ = ["PIXEL_DTYPES", "BoxError", "Image", "ImageBase"]

#: Pixel types accepted by `Image` (numpy dtypes; native byte order is used for storage).
PIXEL_DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(t)
    for t in (
        np.float32,
        np.float64,
        np.int8,
        np.uint8,
        np.int16,
        np.uint16,
        np.int32,
        np.uint32,
        np.int64,
        np.uint64,
    )
)

Scalar: TypeAlias = int | float | np.number


class BoxError(ValueError):
    """Raised when a box is not contained in an image, or two images' boxes differ."""


def _as_point(xy0: tuple[int, int]) -> Point2I:
    try:
        x0, y0 = xy0
    except (TypeError, ValueError):
        raise TypeError(f"xy0 must be an (x, y) pair of integers, got {xy0!r}") from None
    for value in (x0, y0):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"xy0 must be an (x, y) pair of integers, got {xy0!r}")
    return Point2I(int(x0), int(y0))


def _native(array: np.ndarray) -> np.ndarray:
    """``array`` itself if it is in native byte order, else a native-order copy."""
    if array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


class ImageBase:
    """Common behaviour of `Image` and `~skystack.image.Mask`: an array with an origin.

    Parameters
    ----------
    array : `numpy.ndarray`
        A 2-D array; it is wrapped without a copy (unless it is not in native byte order, in
        which case a native-order copy is made once).
    xy0 : `tuple` [`int`, `int`], optional
        Parent coordinates ``(x, y)`` of ``array[0, 0]``.

    Raises
    ------
    TypeError
        If ``array`` is not 2-D or has an unsupported dtype, or ``xy0`` is not integer.
    """

    __slots__ = ("_array", "_xy0")

    _array: np.ndarray
    _xy0: Point2I

    def __init__(self, array: npt.NDArray[Any], xy0: tuple[int, int] = (0, 0)) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"{type(self).__name__} wraps a numpy array, got {type(array).__name__}; "
                "pass numpy.asarray(...) or use from_bbox()"
            )
        if array.ndim != 2:
            raise TypeError(f"{type(self).__name__} needs a 2-D array, got shape {array.shape}")
        array = _native(array)
        self._check_dtype(array.dtype)
        self._array = array
        self._xy0 = _as_point(xy0)

    @classmethod
    def _check_dtype(cls, dtype: np.dtype) -> None:
        if dtype not in PIXEL_DTYPES:
            allowed = ", ".join(str(d) for d in PIXEL_DTYPES)
            raise TypeError(f"{cls.__name__} pixel type {dtype} is not supported; use one of {allowed}")

    def _new_like(self, array: np.ndarray, xy0: Point2I) -> Self:
        """A new object of this class on ``array`` carrying this object's extra state."""
        return type(self)(array, xy0)

    # -- geometry --------------------------------------------------------------------------------
    @property
    def array(self) -> np.ndarray:
        """The pixel array itself (``[y, x]``, no copy); writing to it changes the image."""
        return self._array

    @property
    def xy0(self) -> Point2I:
        """Parent coordinates of the first pixel, ``array[0, 0]``."""
        return self._xy0

    @property
    def bbox(self) -> Box2I:
        """The box of pixels covered, in parent coordinates."""
        return Box2I.from_shape(self._array.shape, self._xy0)

    @property
    def width(self) -> int:
        return int(self._array.shape[1])

    @property
    def height(self) -> int:
        return int(self._array.shape[0])

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    # -- sub-images ------------------------------------------------------------------------------
    def _slices(self, bbox: Box2I) -> tuple[slice, slice]:
        if not isinstance(bbox, Box2I):
            raise TypeError(f"{type(self).__name__} sub-images are selected by a Box2I, got {bbox!r}")
        if bbox.is_empty or not self.bbox.contains_box(bbox):
            raise BoxError(
                f"Box {bbox!r} is not inside the {type(self).__name__}'s bbox {self.bbox!r} "
                "(boxes are in parent coordinates; intersect with image.bbox first)"
            )
        return bbox.slices(self._xy0)

    def subset(self, bbox: Box2I) -> Self:
        """A view of the pixels in ``bbox`` (parent coordinates), sharing memory.

        Raises
        ------
        BoxError
            If ``bbox`` is empty or not contained in `bbox`.
        """
        return self._new_like(self._array[self._slices(bbox)], bbox.xy0)

    def __getitem__(self, bbox: Box2I) -> Self:
        return self.subset(bbox)

    def __setitem__(self, bbox: Box2I, value: Any) -> None:
        """Assign pixels in ``bbox`` from an image of that bbox, an array of its shape or a scalar."""
        target = self._array[self._slices(bbox)]
        if isinstance(value, ImageBase):
            if value.bbox.dimensions != bbox.dimensions:
                raise BoxError(f"Cannot assign an image of bbox {value.bbox!r} into box {bbox!r}")
            value = value.array
        np.copyto(target, value, casting="same_kind")

    def with_xy0(self, xy0: tuple[int, int]) -> Self:
        """A view of the same pixels placed at a different origin ``xy0``."""
        return self._new_like(self._array, _as_point(xy0))

    def copy(self) -> Self:
        """A deep copy (new pixel memory)."""
        return self._new_like(self._array.copy(), self._xy0)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self._array, dtype=dtype, copy=True)
        return self._array if dtype is None else self._array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bbox={self.bbox!r}, dtype={self.dtype})"


class Image(ImageBase):
    """A 2-D pixel image with an origin ``xy0`` (see `ImageBase` for the parameters).

    Arithmetic (``+ - * /`` and the in-place forms) works with scalars and with images of the
    same bbox; operations between images of different boxes raise `BoxError` naming both.
    In-place operations follow numpy's ``same_kind`` casting: adding floats to an integer image
    in place raises `TypeError` (convert first with `astype`).

    Examples
    --------
    >>> import numpy as np
    >>> from skystack.geom import Box2I
    >>> image = Image(np.zeros((100, 200), dtype=np.float32), xy0=(10, 20))
    >>> cutout = image[Box2I(50, 60, 10, 10)]  # a view
    >>> cutout += 1.0
    >>> float(image.array.sum())
    100.0
    """

    __slots__ = ()

    @classmethod
    def from_bbox(cls, bbox: Box2I, dtype: npt.DTypeLike = np.float32, fill: Scalar = 0) -> Image:
        """A new image covering ``bbox`` filled with ``fill``."""
        if bbox.is_empty:
            raise BoxError("Cannot make an image of an empty bbox")
        return cls(np.full(bbox.shape, fill, dtype=np.dtype(dtype)), bbox.xy0)

    def astype(self, dtype: npt.DTypeLike) -> Image:
        """A copy converted to pixel type ``dtype`` (always new memory)."""
        return Image(self._array.astype(np.dtype(dtype), copy=True), self._xy0)

    # -- arithmetic ------------------------------------------------------------------------------
    def _operand(self, other: Any) -> Any:
        if isinstance(other, Image):
            if other.bbox != self.bbox:
                raise BoxError(
                    f"Image arithmetic needs equal boxes, got {self.bbox!r} and {other.bbox!r}; "
                    "use subset() to align them"
                )
            return other.array
        if isinstance(other, int | float | np.number) and not isinstance(other, bool):
            return other
        return NotImplemented

    def _binary(self, other: Any, op: Callable[..., Any], reflected: bool = False) -> Any:
        value = self._operand(other)
        if value is NotImplemented:
            return NotImplemented
        result = op(value, self._array) if reflected else op(self._array, value)
        if result.dtype not in PIXEL_DTYPES:
            result = result.astype(np.float64)
        return Image(result, self._xy0)

    def _inplace(self, other: Any, op: Callable[..., Any]) -> Any:
        value = self._operand(other)
        if value is NotImplemented:
            return NotImplemented
        try:
            op(self._array, value, out=self._array, casting="same_kind")
        except TypeError as err:  # numpy's UFuncTypeError subclasses TypeError
            raise TypeError(
                f"In-place {op.__name__} of {type(other).__name__} into a {self.dtype} image is not "
                f"safe ({err}); convert first with image.astype(numpy.float32)"
            ) from err
        return self

    def __add__(self, other: Any) -> Image:
        return self._binary(other, np.add)

    def __radd__(self, other: Any) -> Image:
        return self._binary(other, np.add, reflected=True)

    def __sub__(self, other: Any) -> Image:
        return self._binary(other, np.subtract)

    def __rsub__(self, other: Any) -> Image:
        return self._binary(other, np.subtract, reflected=True)

    def __mul__(self, other: Any) -> Image:
        return self._binary(other, np.multiply)

    def __rmul__(self, other: Any) -> Image:
        return self._binary(other, np.multiply, reflected=True)

    def __truediv__(self, other: Any) -> Image:
        return self._binary(other, np.true_divide)

    def __rtruediv__(self, other: Any) -> Image:
        return self._binary(other, np.true_divide, reflected=True)

    def __iadd__(self, other: Any) -> Self:
        return self._inplace(other, np.add)

    def __isub__(self, other: Any) -> Self:
        return self._inplace(other, np.subtract)

    def __imul__(self, other: Any) -> Self:
        return self._inplace(other, np.multiply)

    def __itruediv__(self, other: Any) -> Self:
        return self._inplace(other, np.true_divide)

    def __neg__(self) -> Image:
        return Image(np.negative(self._array), self._xy0)
