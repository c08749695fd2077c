# SPDX-License-Identifier: GPL-3.0-or-later
"""`MaskedImage`: an image, its mask and its variance on one pixel grid.

Arithmetic propagates the variance to first order, treating the pixels of the two operands as
independent:

==========================  ======================================  ===========
operation                   variance                                mask
==========================  ======================================  ===========
``a ± b``                   ``Va + Vb``                             ``Ma | Mb``
``a * b``                   ``b² Va + a² Vb``                       ``Ma | Mb``
``a / b``                   ``Va / b² + a² Vb / b⁴``                ``Ma | Mb``
``a ± s`` (scalar/Image)    ``Va``                                  ``Ma``
``a * s``, ``a / s``        ``s² Va``, ``Va / s²``                  ``Ma``
==========================  ======================================  ===========

An `~skystack.image.Image` operand counts as exact (zero variance), like a scalar that varies
from pixel to pixel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from skystack.geom import Box2I, Point2I

from .image import BoxError, Image
from .mask import Mask

__all__ = ["MaskedImage"]


class MaskedImage:
    """An `Image`, a `Mask` and a variance `Image` sharing one bbox.

    Parameters
    ----------
    image : `Image`
        The pixel values (any supported pixel type).
    mask : `Mask`, optional
        The mask; a zero int32 mask with the default planes if omitted.
    variance : `Image`, optional
        The per-pixel variance, floating point; zeros of the image's float type (float32 for
        integer images) if omitted.

    Raises
    ------
    BoxError
        If the three boxes differ.
    TypeError
        If a component has the wrong class or the variance is not floating point.
    """

    __slots__ = ("_image", "_mask", "_variance")

    def __init__(self, image: Image, mask: Mask | None = None, variance: Image | None = None) -> None:
        if not isinstance(image, Image):
            raise TypeError(f"MaskedImage image must be an Image, got {type(image).__name__}")
        bbox = image.bbox
        if mask is None:
            mask = Mask.from_bbox(bbox)
        elif not isinstance(mask, Mask):
            raise TypeError(f"MaskedImage mask must be a Mask, got {type(mask).__name__}")
        if variance is None:
            vtype = image.dtype if image.dtype.kind == "f" else np.dtype(np.float32)
            variance = Image.from_bbox(bbox, dtype=vtype)
        elif not isinstance(variance, Image):
            raise TypeError(f"MaskedImage variance must be an Image, got {type(variance).__name__}")
        if variance.dtype.kind != "f":
            raise TypeError(
                f"MaskedImage variance must be floating point, got {variance.dtype}; "
                "convert it with variance.astype(numpy.float32)"
            )
        for name, part in (("mask", mask), ("variance", variance)):
            if part.bbox != bbox:
                raise BoxError(f"MaskedImage {name} bbox {part.bbox!r} differs from the image bbox {bbox!r}")
        self._image = image
        self._mask = mask
        self._variance = variance

    @classmethod
    def from_bbox(
        cls,
        bbox: Box2I,
        dtype: npt.DTypeLike = np.float32,
        plane_dict: Mapping[str, int] | None = None,
    ) -> MaskedImage:
        """A zero masked image covering ``bbox`` with image pixel type ``dtype``."""
        image = Image.from_bbox(bbox, dtype=dtype)
        return cls(image, Mask.from_bbox(bbox, plane_dict=plane_dict))

    @classmethod
    def from_arrays(
        cls,
        image: npt.NDArray[Any],
        mask: npt.NDArray[np.integer] | None = None,
        variance: npt.NDArray[np.floating] | None = None,
        xy0: tuple[int, int] = (0, 0),
        plane_dict: Mapping[str, int] | None = None,
    ) -> MaskedImage:
        """Wrap arrays (without copying) as a masked image whose first pixel is at ``xy0``."""
        return cls(
            Image(image, xy0),
            None if mask is None else Mask(mask, xy0, plane_dict),
            None if variance is None else Image(variance, xy0),
        )

    # -- components and geometry -----------------------------------------------------------------
    @property
    def image(self) -> Image:
        return self._image

    @property
    def mask(self) -> Mask:
        return self._mask

    @property
    def variance(self) -> Image:
        return self._variance

    @property
    def bbox(self) -> Box2I:
        return self._image.bbox

    @property
    def xy0(self) -> Point2I:
        return self._image.xy0

    @property
    def width(self) -> int:
        return self._image.width

    @property
    def height(self) -> int:
        return self._image.height

    @property
    def dtype(self) -> np.dtype:
        """The image pixel type."""
        return self._image.dtype

    def subset(self, bbox: Box2I) -> MaskedImage:
        """A view of the pixels in ``bbox`` (parent coordinates); all three planes share memory."""
        return MaskedImage(self._image.subset(bbox), self._mask.subset(bbox), self._variance.subset(bbox))

    def __getitem__(self, bbox: Box2I) -> MaskedImage:
        return self.subset(bbox)

    def __setitem__(self, bbox: Box2I, value: MaskedImage) -> None:
        """Copy image, mask and variance of ``value`` into ``bbox`` (masks are remapped by name)."""
        if not isinstance(value, MaskedImage):
            raise TypeError(
                f"Can only assign a MaskedImage into a MaskedImage box, got {type(value).__name__}"
            )
        target = self.subset(bbox)
        if value.bbox.dimensions != bbox.dimensions:
            raise BoxError(f"Cannot assign a masked image of bbox {value.bbox!r} into box {bbox!r}")
        target._image[bbox] = value._image.array
        mask = value._mask
        if dict(mask.plane_dict) != dict(self._mask.plane_dict):
            for name in mask.count_planes():
                if mask.get_plane(name).any():
                    self._mask.add_plane(name)
            mask = mask.remapped(self._mask.plane_dict)
        target._mask[bbox] = mask.array
        target._variance[bbox] = value._variance.array

    def with_xy0(self, xy0: tuple[int, int]) -> MaskedImage:
        """A view of the same pixels placed at origin ``xy0``."""
        return MaskedImage(self._image.with_xy0(xy0), self._mask.with_xy0(xy0), self._variance.with_xy0(xy0))

    def copy(self) -> MaskedImage:
        """A deep copy (new pixel memory for all three planes)."""
        return MaskedImage(self._image.copy(), self._mask.copy(), self._variance.copy())

    def astype(self, dtype: npt.DTypeLike) -> MaskedImage:
        """A deep copy whose image has pixel type ``dtype`` (variance converted too if float)."""
        dtype = np.dtype(dtype)
        variance = self._variance.astype(dtype) if dtype.kind == "f" else self._variance.copy()
        return MaskedImage(self._image.astype(dtype), self._mask.copy(), variance)

    def __repr__(self) -> str:
        return f"MaskedImage(bbox={self.bbox!r}, dtype={self.dtype})"

    # -- arithmetic ------------------------------------------------------------------------------
    def _check_bbox(self, other: MaskedImage | Image) -> None:
        if other.bbox != self.bbox:
            raise BoxError(
                f"MaskedImage arithmetic needs equal boxes, got {self.bbox!r} and {other.bbox!r}; "
                "use subset() to align them"
            )

    def _iadd_sub(self, other: Any, sign: int) -> Any:
        op = np.add if sign > 0 else np.subtract
        if isinstance(other, MaskedImage):
            self._check_bbox(other)
            op(self._image.array, other._image.array, out=self._image.array, casting="same_kind")
            np.add(self._variance.array, other._variance.array, out=self._variance.array, casting="same_kind")
            self._mask |= other._mask
        elif isinstance(other, Image):
            self._check_bbox(other)
            op(self._image.array, other.array, out=self._image.array, casting="same_kind")
        elif isinstance(other, int | float | np.number) and not isinstance(other, bool):
            op(self._image.array, other, out=self._image.array, casting="same_kind")
        else:
            return NotImplemented
        return self

    def _iscale(self, other: Any, divide: bool) -> Any:
        a = self._image.array
        va = self._variance.array
        if isinstance(other, MaskedImage):
            self._check_bbox(other)
            b, vb = other._image.array, other._variance.array
            if divide:
                # V = Va / b² + a² Vb / b⁴, computed before a is overwritten.
                inv_b2 = 1.0 / np.square(b, dtype=va.dtype)
                np.multiply(va, inv_b2, out=va, casting="same_kind")
                va += np.square(a, dtype=va.dtype) * vb * np.square(inv_b2)
                np.true_divide(a, b, out=a, casting="same_kind")
            else:
                np.multiply(va, np.square(b, dtype=va.dtype), out=va, casting="same_kind")
                va += np.square(a, dtype=va.dtype) * vb
                np.multiply(a, b, out=a, casting="same_kind")
            self._mask |= other._mask
            return self
        if isinstance(other, Image):
            self._check_bbox(other)
            value: Any = other.array
        elif isinstance(other, int | float | np.number) and not isinstance(other, bool):
            value = other
        else:
            return NotImplemented
        factor = np.square(value, dtype=va.dtype)
        if divide:
            np.true_divide(va, factor, out=va, casting="same_kind")
            np.true_divide(a, value, out=a, casting="same_kind")
        else:
            np.multiply(va, factor, out=va, casting="same_kind")
            np.multiply(a, value, out=a, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> Self:
        return self._iadd_sub(other, +1)

    def __isub__(self, other: Any) -> Self:
        return self._iadd_sub(other, -1)

    def __imul__(self, other: Any) -> Self:
        return self._iscale(other, divide=False)

    def __itruediv__(self, other: Any) -> Self:
        return self._iscale(other, divide=True)

    def _result_for(self, other: Any) -> MaskedImage:
        """A copy promoted to floating point if a float operand meets an integer image."""
        if self.dtype.kind != "f" and (
            isinstance(other, float | np.floating)
            or (isinstance(other, MaskedImage | Image) and other.dtype.kind == "f")
        ):
            return self.astype(np.result_type(self.dtype, np.float32))
        return self.copy()

    def __add__(self, other: Any) -> MaskedImage:
        return self._result_for(other)._iadd_sub(other, +1)

    def __radd__(self, other: Any) -> MaskedImage:
        return self.__add__(other)

    def __sub__(self, other: Any) -> MaskedImage:
        return self._result_for(other)._iadd_sub(other, -1)

    def __rsub__(self, other: Any) -> MaskedImage:
        result = self.__sub__(other)
        if result is NotImplemented:
            return result
        np.negative(result._image.array, out=result._image.array)
        return result

    def __mul__(self, other: Any) -> MaskedImage:
        return self._result_for(other)._iscale(other, divide=False)

    def __rmul__(self, other: Any) -> MaskedImage:
        return self.__mul__(other)

    def __truediv__(self, other: Any) -> MaskedImage:
        if self.dtype.kind != "f":
            return self.astype(np.float64)._iscale(other, divide=True)
        return self.copy()._iscale(other, divide=True)
