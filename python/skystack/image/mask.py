# SPDX-License-Identifier: GPL-3.0-or-later
"""Integer bit-mask images with named planes (the afw ``Mask`` role).

Each named plane (``"BAD"``, ``"SAT"``, ``"DETECTED"`` …) owns one bit of the integer pixels. The
name → bit dictionary belongs to the mask and travels with it: sub-images share it with their
parent (they share the pixels, so they must agree on what the bits mean), copies and masks built
with `Mask.from_bbox(..., plane_dict=other.plane_dict)` get their own copy, and the FITS writer
stores it in the header as ``MP_<NAME> = bit`` cards (as afw does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from skystack.geom import Box2I, Point2I

from .image import BoxError, ImageBase

__all__ = ["DEFAULT_MASK_PLANES", "Mask", "MaskPlaneError", "default_plane_dict"]

#: The planes every new mask starts with, in bit order (as in afw).
DEFAULT_MASK_PLANES: tuple[str, ...] = (
    "BAD",
    "SAT",
    "INTRP",
    "CR",
    "EDGE",
    "DETECTED",
    "DETECTED_NEGATIVE",
    "SUSPECT",
    "NO_DATA",
    "CROSSTALK",
    "STREAK",
    "UNMASKEDNAN",
)

_MASK_DTYPES = tuple(np.dtype(t) for t in (np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64))
_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class MaskPlaneError(LookupError):
    """Raised for an unknown, invalid or conflicting mask-plane name, or when bits run out."""


def default_plane_dict() -> dict[str, int]:
    """A new dictionary of the `DEFAULT_MASK_PLANES` with bits 0, 1, 2, …"""
    return {name: bit for bit, name in enumerate(DEFAULT_MASK_PLANES)}


def _validate_plane_dict(planes: Mapping[str, int], nbits: int) -> dict[str, int]:
    result: dict[str, int] = {}
    for name, bit in planes.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise MaskPlaneError(
                f"Mask plane name {name!r} is invalid; use upper-case letters, digits and '_' "
                "starting with a letter (it becomes the FITS keyword MP_<NAME>)"
            )
        if isinstance(bit, bool) or not isinstance(bit, int | np.integer) or not 0 <= int(bit) < nbits:
            raise MaskPlaneError(
                f"Mask plane {name!r} has bit {bit!r}; bits must be integers in [0, {nbits})"
            )
        result[name] = int(bit)
    if len(set(result.values())) != len(result):
        raise MaskPlaneError(f"Mask plane dictionary {result} gives the same bit to two planes")
    return result


class Mask(ImageBase):
    """An integer image whose bits are named mask planes.

    Parameters
    ----------
    array : `numpy.ndarray`
        2-D integer array (int16/uint16/int32/uint32/int64/uint64), wrapped without a copy.
    xy0 : `tuple` [`int`, `int`], optional
        Parent coordinates of ``array[0, 0]``.
    plane_dict : `~collections.abc.Mapping` [`str`, `int`], optional
        Plane name → bit. Defaults to `default_plane_dict`. It is copied.

    Raises
    ------
    TypeError
        If the array is not a 2-D integer array.
    MaskPlaneError
        If a plane name is not upper-case ``[A-Z][A-Z0-9_]*``, a bit does not fit the pixel
        type, or two planes share a bit.

    Notes
    -----
    Bitwise ``|``, ``&`` and their in-place forms work with integers and with masks of the same
    bbox. Combining masks with different plane dictionaries remaps the other mask's bits by plane
    name (planes unknown to this mask are added to it); a plane that cannot be given a bit raises
    `MaskPlaneError`. Bits set in the other mask that belong to no named plane raise too, since
    their meaning cannot be carried over.
    """

    __slots__ = ("_planes",)

    _planes: dict[str, int]

    def __init__(
        self,
        array: npt.NDArray[np.integer],
        xy0: tuple[int, int] = (0, 0),
        plane_dict: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(array, xy0)
        planes = default_plane_dict() if plane_dict is None else plane_dict
        self._planes = _validate_plane_dict(planes, self.nbits)

    @classmethod
    def _check_dtype(cls, dtype: np.dtype) -> None:
        if dtype not in _MASK_DTYPES:
            allowed = ", ".join(str(d) for d in _MASK_DTYPES)
            raise TypeError(f"Mask pixel type {dtype} is not supported; use one of {allowed} (default int32)")

    @classmethod
    def from_bbox(
        cls,
        bbox: Box2I,
        dtype: npt.DTypeLike = np.int32,
        plane_dict: Mapping[str, int] | None = None,
    ) -> Mask:
        """A new all-zero mask covering ``bbox`` (``plane_dict`` defaults to the default planes)."""
        if bbox.is_empty:
            raise BoxError("Cannot make a mask of an empty bbox")
        return cls(np.zeros(bbox.shape, dtype=np.dtype(dtype)), bbox.xy0, plane_dict)

    def _new_like(self, array: np.ndarray, xy0: Point2I) -> Self:
        new = type(self)(array, xy0, self._planes)
        if np.shares_memory(array, self._array):
            new._planes = self._planes  # views share pixels, hence the meaning of the bits
        return new

    # -- plane dictionary ------------------------------------------------------------------------
    @property
    def nbits(self) -> int:
        """Number of bits available for planes (the pixel type's width; sign bit included)."""
        return int(self.dtype.itemsize * 8)

    @property
    def plane_dict(self) -> Mapping[str, int]:
        """Read-only live view of the plane name → bit dictionary."""
        return MappingProxyType(self._planes)

    def add_plane(self, name: str) -> int:
        """Add a plane (if not yet defined) and return its bit.

        The lowest free bit is used. The dictionary is shared with views of this mask.

        Raises
        ------
        MaskPlaneError
            If ``name`` is invalid or all bits of the pixel type are in use.
        """
        if name in self._planes:
            return self._planes[name]
        _validate_plane_dict({name: 0}, self.nbits)
        used = set(self._planes.values())
        free = [bit for bit in range(self.nbits) if bit not in used]
        if not free:
            raise MaskPlaneError(
                f"Cannot add mask plane {name!r}: all {self.nbits} bits of the {self.dtype} mask are "
                "used; remove a plane or use a wider pixel type (e.g. int64)"
            )
        self._planes[name] = free[0]
        return free[0]

    def remove_plane(self, name: str) -> None:
        """Clear a plane's bit in every pixel and remove it from the dictionary."""
        bit = self.get_plane_bit(name)
        self._array &= ~self._value(1 << bit)
        del self._planes[name]

    def get_plane_bit(self, name: str) -> int:
        """The bit number of plane ``name``.

        Raises
        ------
        MaskPlaneError
            If the plane is not defined; the message lists the defined planes.
        """
        try:
            return self._planes[name]
        except KeyError:
            known = ", ".join(sorted(self._planes)) or "(none)"
            raise MaskPlaneError(
                f"Mask plane {name!r} is not defined; defined planes: {known}. "
                "Add it with mask.add_plane(name)"
            ) from None

    def get_plane_bitmask(self, *names: str) -> int:
        """The integer with the bits of all planes ``names`` set (0 if no name is given)."""
        value = 0
        for name in names:
            value |= 1 << self.get_plane_bit(name)
        return value

    # -- per-pixel plane access ------------------------------------------------------------------
    def _value(self, bits: int) -> Any:
        """The python integer ``bits`` as a scalar of the pixel type (wrapping into the sign bit)."""
        return np.array(bits, dtype=np.uint64).astype(self._array.dtype)[()]

    def _bitmask_value(self, *names: str) -> Any:
        return self._value(self.get_plane_bitmask(*names))

    def get_plane(self, name: str) -> np.ndarray:
        """Boolean array, True where plane ``name`` is set."""
        return (self._array & self._bitmask_value(name)) != 0

    def any_plane(self, *names: str) -> np.ndarray:
        """Boolean array, True where any of the planes ``names`` is set."""
        return (self._array & self._bitmask_value(*names)) != 0

    def set_plane(self, name: str, where: npt.ArrayLike) -> None:
        """Set plane ``name`` where the boolean array ``where`` (shape of the mask) is True."""
        self._array[self._selection(where)] |= self._bitmask_value(name)

    def clear_plane(self, name: str, where: npt.ArrayLike | None = None) -> None:
        """Clear plane ``name`` where ``where`` is True (everywhere if ``where`` is None)."""
        value = ~self._bitmask_value(name)
        if where is None:
            self._array &= value
        else:
            self._array[self._selection(where)] &= value

    def _selection(self, where: npt.ArrayLike) -> np.ndarray:
        selection = np.asarray(where)
        if selection.dtype != np.bool_ or selection.shape != self._array.shape:
            raise ValueError(
                f"Mask plane selections must be boolean arrays of the mask's shape {self._array.shape}, "
                f"got dtype {selection.dtype} and shape {selection.shape}"
            )
        return selection

    # -- combining masks -------------------------------------------------------------------------
    def remapped(self, plane_dict: Mapping[str, int]) -> Mask:
        """A copy whose bits follow ``plane_dict`` (the same planes set in the same pixels).

        Raises
        ------
        MaskPlaneError
            If a plane with set bits is missing from ``plane_dict``, or bits are set that belong
            to no named plane.
        """
        target = _validate_plane_dict(plane_dict, self.nbits)
        out = np.zeros_like(self._array)
        named = 0
        for name, bit in self._planes.items():
            value = self._value(1 << bit)
            named |= 1 << bit
            present = (self._array & value) != 0
            if name not in target:
                if present.any():
                    raise MaskPlaneError(
                        f"Mask plane {name!r} is set in some pixels but not defined in the target "
                        f"dictionary {dict(target)}; add it there first"
                    )
                continue
            out[present] |= self._value(1 << target[name])
        stray = self._array & ~self._value(named)
        if stray.any():
            bits = int(np.bitwise_or.reduce(stray, axis=None)) & ((1 << self.nbits) - 1)
            raise MaskPlaneError(
                f"Mask has bits set (bitmask {bits:#x}) that "
                "belong to no named plane, so they cannot be remapped; name them with add_plane()"
            )
        return Mask(out, self._xy0, target)

    def _operand(self, other: Any) -> Any:
        if isinstance(other, Mask):
            if other.bbox != self.bbox:
                raise BoxError(
                    f"Mask operations need equal boxes, got {self.bbox!r} and {other.bbox!r}; "
                    "use subset() to align them"
                )
            if other._planes != self._planes:
                for name, bit in other._planes.items():
                    if np.any(other._array & other._value(1 << bit)):
                        self.add_plane(name)
                other = other.remapped(self._planes)
            return other.array
        if isinstance(other, int | np.integer) and not isinstance(other, bool):
            return self._value(int(other))
        return NotImplemented

    def __ior__(self, other: Any) -> Self:
        value = self._operand(other)
        if value is NotImplemented:
            return NotImplemented
        np.bitwise_or(self._array, value, out=self._array, casting="same_kind")
        return self

    def __iand__(self, other: Any) -> Self:
        value = self._operand(other)
        if value is NotImplemented:
            return NotImplemented
        np.bitwise_and(self._array, value, out=self._array, casting="same_kind")
        return self

    def __or__(self, other: Any) -> Mask:
        result = self.copy()
        return result.__ior__(other)

    def __and__(self, other: Any) -> Mask:
        result = self.copy()
        return result.__iand__(other)

    def __eq__(self, other: object) -> bool:
        """Masks are equal if they have the same bbox, plane dictionary and pixels."""
        if not isinstance(other, Mask):
            return NotImplemented
        return (
            self.bbox == other.bbox
            and self._planes == other._planes
            and bool(np.array_equal(self._array, other._array))
        )

    __hash__ = None  # type: ignore[assignment]

    def count_planes(self) -> dict[str, int]:
        """Plane name → number of pixels where it is set, in bit order."""
        return {
            name: int(np.count_nonzero(self._array & self._value(1 << bit)))
            for name, bit in sorted(self._planes.items(), key=lambda item: item[1])
        }
