# SPDX-License-Identifier: GPL-3.0-or-later
"""Integer and floating-point points, extents and boxes in pixel coordinates.

Conventions (as in the Rubin stack): pixel ``(x, y)`` has its centre at integer coordinates;
an image of shape ``(height, width)`` whose first pixel is at ``xy0`` covers the integer box
``[x0, x0 + width - 1] × [y0, y0 + height - 1]`` (inclusive) and the floating-point box
``[x0 - 0.5, x0 + width - 0.5) × …`` of pixel edges. Arrays are indexed ``[y, x]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["Box2D", "Box2I", "Extent2I", "Point2D", "Point2I"]


class Point2I(NamedTuple):
    """An integer pixel position."""

    x: int
    y: int


class Point2D(NamedTuple):
    """A floating-point pixel position."""

    x: float
    y: float


class Extent2I(NamedTuple):
    """An integer size in pixels (width along x, height along y)."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Box2I:
    """An integer box of pixels, inclusive of both corners; may be empty.

    Parameters
    ----------
    min_x, min_y : `int`
        First column and row.
    width, height : `int`
        Size in pixels; zero or negative sizes make an empty box (stored as 0).

    Notes
    -----
    Build one with `from_corners` (inclusive maxima) or `from_shape` (an array shape and its
    ``xy0``); index arrays with `slices`.
    """

    min_x: int
    min_y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("min_x", "min_y", "width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"Box2I.{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.width <= 0 or self.height <= 0:
            object.__setattr__(self, "width", 0)
            object.__setattr__(self, "height", 0)

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_corners(cls, min_x: int, min_y: int, max_x: int, max_y: int) -> Box2I:
        """Build from inclusive corner pixels."""
        return cls(min_x, min_y, max_x - min_x + 1, max_y - min_y + 1)

    @classmethod
    def from_shape(cls, shape: tuple[int, ...], xy0: tuple[int, int] = (0, 0)) -> Box2I:
        """Build the box of an array of ``shape`` (rows, columns) whose first pixel is ``xy0``."""
        return cls(int(xy0[0]), int(xy0[1]), int(shape[-1]), int(shape[-2]))

    @classmethod
    def empty(cls) -> Box2I:
        """The empty box."""
        return cls(0, 0, 0, 0)

    # -- properties ------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return self.width == 0

    @property
    def max_x(self) -> int:
        """Last column (inclusive)."""
        return self.min_x + self.width - 1

    @property
    def max_y(self) -> int:
        """Last row (inclusive)."""
        return self.min_y + self.height - 1

    @property
    def end_x(self) -> int:
        """One past the last column."""
        return self.min_x + self.width

    @property
    def end_y(self) -> int:
        """One past the last row."""
        return self.min_y + self.height

    @property
    def min(self) -> Point2I:
        return Point2I(self.min_x, self.min_y)

    @property
    def max(self) -> Point2I:
        return Point2I(self.max_x, self.max_y)

    @property
    def xy0(self) -> Point2I:
        """Same as `min`: the position of the first pixel."""
        return self.min

    @property
    def dimensions(self) -> Extent2I:
        return Extent2I(self.width, self.height)

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape ``(height, width)``."""
        return (self.height, self.width)

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def center(self) -> Point2D:
        return Point2D(self.min_x + 0.5 * (self.width - 1), self.min_y + 0.5 * (self.height - 1))

    # -- predicates ------------------------------------------------------------------------------
    def contains(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Whether pixel positions (rounded to the nearest pixel) lie in the box; vectorised."""
        xi = np.floor(np.asarray(x, dtype=float) + 0.5)
        yi = np.floor(np.asarray(y, dtype=float) + 0.5)
        result = (xi >= self.min_x) & (xi <= self.max_x) & (yi >= self.min_y) & (yi <= self.max_y)
        return bool(result) if np.ndim(result) == 0 else result

    def contains_box(self, other: Box2I) -> bool:
        if other.is_empty:
            return True
        return (
            other.min_x >= self.min_x
            and other.min_y >= self.min_y
            and other.max_x <= self.max_x
            and other.max_y <= self.max_y
        )

    def overlaps(self, other: Box2I) -> bool:
        return not self.intersection(other).is_empty

    # -- operations ------------------------------------------------------------------------------
    def intersection(self, other: Box2I) -> Box2I:
        if self.is_empty or other.is_empty:
            return Box2I.empty()
        x0, y0 = max(self.min_x, other.min_x), max(self.min_y, other.min_y)
        x1, y1 = min(self.max_x, other.max_x), min(self.max_y, other.max_y)
        if x1 < x0 or y1 < y0:
            return Box2I.empty()
        return Box2I.from_corners(x0, y0, x1, y1)

    def union(self, other: Box2I) -> Box2I:
        """Smallest box containing both."""
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Box2I.from_corners(
            min(self.min_x, other.min_x),
            min(self.min_y, other.min_y),
            max(self.max_x, other.max_x),
            max(self.max_y, other.max_y),
        )

    def grown(self, nx: int, ny: int | None = None) -> Box2I:
        """A box grown by ``nx`` columns and ``ny`` (default ``nx``) rows on each side."""
        ny = nx if ny is None else ny
        if self.is_empty:
            return self
        return Box2I(self.min_x - nx, self.min_y - ny, self.width + 2 * nx, self.height + 2 * ny)

    def shifted(self, dx: int, dy: int) -> Box2I:
        if self.is_empty:
            return self
        return Box2I(self.min_x + dx, self.min_y + dy, self.width, self.height)

    def slices(self, xy0: tuple[int, int] = (0, 0)) -> tuple[slice, slice]:
        """``(rows, columns)`` slices selecting this box from an array whose first pixel is ``xy0``."""
        ox, oy = int(xy0[0]), int(xy0[1])
        return (
            slice(self.min_y - oy, self.min_y - oy + self.height),
            slice(self.min_x - ox, self.min_x - ox + self.width),
        )

    def corners(self) -> np.ndarray:
        """The four corner pixel centres, ``(4, 2)`` array of ``(x, y)`` counter-clockwise."""
        return np.array(
            [
                [self.min_x, self.min_y],
                [self.max_x, self.min_y],
                [self.max_x, self.max_y],
                [self.min_x, self.max_y],
            ],
            dtype=float,
        )

    def to_box2d(self) -> Box2D:
        """The floating-point box of pixel edges."""
        if self.is_empty:
            return Box2D.empty()
        return Box2D(self.min_x - 0.5, self.min_y - 0.5, self.max_x + 0.5, self.max_y + 0.5)

    def to_dict(self) -> dict[str, int]:
        return {"min_x": self.min_x, "min_y": self.min_y, "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Box2I:
        return cls(int(data["min_x"]), int(data["min_y"]), int(data["width"]), int(data["height"]))

    def __repr__(self) -> str:
        if self.is_empty:
            return "Box2I.empty()"
        return f"Box2I(min_x={self.min_x}, min_y={self.min_y}, width={self.width}, height={self.height})"


@dataclass(frozen=True, slots=True)
class Box2D:
    """A floating-point box ``[min_x, max_x] × [min_y, max_y]``; empty if a max is below its min."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    def __post_init__(self) -> None:
        for name in ("min_x", "min_y", "max_x", "max_y"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def empty(cls) -> Box2D:
        return cls(np.inf, np.inf, -np.inf, -np.inf)

    @classmethod
    def from_points(cls, x: npt.ArrayLike, y: npt.ArrayLike) -> Box2D:
        """Smallest box containing all points."""
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if xa.size == 0:
            return cls.empty()
        return cls(float(xa.min()), float(ya.min()), float(xa.max()), float(ya.max()))

    @property
    def is_empty(self) -> bool:
        return not (self.max_x >= self.min_x and self.max_y >= self.min_y)

    @property
    def width(self) -> float:
        return 0.0 if self.is_empty else self.max_x - self.min_x

    @property
    def height(self) -> float:
        return 0.0 if self.is_empty else self.max_y - self.min_y

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> Point2D:
        return Point2D(0.5 * (self.min_x + self.max_x), 0.5 * (self.min_y + self.max_y))

    def contains(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Whether points lie in the box (edges included); vectorised."""
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        result = (xa >= self.min_x) & (xa <= self.max_x) & (ya >= self.min_y) & (ya <= self.max_y)
        return bool(result) if np.ndim(result) == 0 else result

    def overlaps(self, other: Box2D) -> bool:
        return not self.intersection(other).is_empty

    def intersection(self, other: Box2D) -> Box2D:
        box = Box2D(
            max(self.min_x, other.min_x),
            max(self.min_y, other.min_y),
            min(self.max_x, other.max_x),
            min(self.max_y, other.max_y),
        )
        return Box2D.empty() if box.is_empty else box

    def union(self, other: Box2D) -> Box2D:
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Box2D(
            min(self.min_x, other.min_x),
            min(self.min_y, other.min_y),
            max(self.max_x, other.max_x),
            max(self.max_y, other.max_y),
        )

    def grown(self, dx: float, dy: float | None = None) -> Box2D:
        dy = dx if dy is None else dy
        if self.is_empty:
            return self
        return Box2D(self.min_x - dx, self.min_y - dy, self.max_x + dx, self.max_y + dy)

    def to_box2i_inner(self) -> Box2I:
        """Largest integer box whose pixels lie wholly inside this box."""
        if self.is_empty:
            return Box2I.empty()
        x0, y0 = int(np.ceil(self.min_x + 0.5)), int(np.ceil(self.min_y + 0.5))
        x1, y1 = int(np.floor(self.max_x - 0.5)), int(np.floor(self.max_y - 0.5))
        return Box2I.from_corners(x0, y0, x1, y1)

    def to_box2i_outer(self) -> Box2I:
        """Smallest integer box whose pixels cover this box."""
        if self.is_empty:
            return Box2I.empty()
        x0, y0 = int(np.floor(self.min_x + 0.5)), int(np.floor(self.min_y + 0.5))
        x1, y1 = int(np.ceil(self.max_x - 0.5)), int(np.ceil(self.max_y - 0.5))
        return Box2I.from_corners(x0, y0, x1, y1)

    def corners(self) -> np.ndarray:
        """The four corners, ``(4, 2)`` array of ``(x, y)`` counter-clockwise."""
        return np.array(
            [
                [self.min_x, self.min_y],
                [self.max_x, self.min_y],
                [self.max_x, self.max_y],
                [self.min_x, self.max_y],
            ]
        )

    def to_dict(self) -> dict[str, float]:
        return {"min_x": self.min_x, "min_y": self.min_y, "max_x": self.max_x, "max_y": self.max_y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Box2D:
        return cls(data["min_x"], data["min_y"], data["max_x"], data["max_y"])
