# SPDX-License-Identifier: GPL-3.0-or-later
"""Angles with units: a light value type stored in radians.

`Angle` is an immutable scalar angle with accessors in every common unit, arithmetic, ordering
and wrapping helpers. Unit constants (`RADIANS`, `DEGREES`, `ARCMINUTES`, `ARCSECONDS`,
`MILLIARCSECONDS`) build angles by multiplication, as in the Rubin stack::

    >>> from skystack.geom import DEGREES, ARCSECONDS
    >>> (1.5 * DEGREES + 36.0 * ARCSECONDS).degrees
    1.51

Arrays of angles are plain numpy arrays in degrees or radians elsewhere in the package; this
type is for single values (configuration, pixel scales, separations).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARCMINUTES",
    "ARCSECONDS",
    "DEGREES",
    "MILLIARCSECONDS",
    "RADIANS",
    "Angle",
    "AngleUnit",
]

_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True, slots=True)
class AngleUnit:
    """A unit of angle: its name and its size in radians.

    Multiplying a number by a unit makes an `Angle` (``30.0 * DEGREES``).
    """

    name: str
    radians: float

    def __rmul__(self, value: float) -> Angle:
        if isinstance(value, Angle) or not isinstance(value, int | float):
            try:
                value = float(value)
            except TypeError:
                return NotImplemented
        return Angle(float(value) * self.radians)

    def __repr__(self) -> str:
        return f"AngleUnit({self.name!r})"


RADIANS = AngleUnit("rad", 1.0)
DEGREES = AngleUnit("deg", math.pi / 180.0)
ARCMINUTES = AngleUnit("arcmin", math.pi / (180.0 * 60.0))
ARCSECONDS = AngleUnit("arcsec", math.pi / (180.0 * 3600.0))
MILLIARCSECONDS = AngleUnit("mas", math.pi / (180.0 * 3600.0e3))


@dataclass(frozen=True, slots=True, order=True)
class Angle:
    """An angle, stored in radians.

    Parameters
    ----------
    radians : `float`
        The value in radians. Use `from_degrees`, `from_arcseconds` … or ``value * UNIT`` for
        other units.

    Notes
    -----
    Angles add and subtract with angles, multiply and divide by numbers, and the ratio of two
    angles is a `float`. No wrapping is done implicitly; use `wrap`, `wrap_ctr` or `wrap_near`.
    """

    radians: float

    def __post_init__(self) -> None:
        value = self.radians
        if isinstance(value, Angle):
            raise TypeError("Angle(Angle) is ambiguous; pass the angle itself or angle.radians")
        try:
            object.__setattr__(self, "radians", float(value))
        except (TypeError, ValueError) as err:
            raise TypeError(f"Angle needs a number of radians, got {value!r}") from err

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_degrees(cls, value: float) -> Angle:
        """An angle of ``value`` degrees."""
        return cls(math.radians(value))

    @classmethod
    def from_arcminutes(cls, value: float) -> Angle:
        """An angle of ``value`` arcminutes."""
        return cls(float(value) * ARCMINUTES.radians)

    @classmethod
    def from_arcseconds(cls, value: float) -> Angle:
        """An angle of ``value`` arcseconds."""
        return cls(float(value) * ARCSECONDS.radians)

    @classmethod
    def from_milliarcseconds(cls, value: float) -> Angle:
        """An angle of ``value`` milliarcseconds."""
        return cls(float(value) * MILLIARCSECONDS.radians)

    # -- accessors -------------------------------------------------------------------------------
    @property
    def degrees(self) -> float:
        """The value in degrees."""
        return math.degrees(self.radians)

    @property
    def arcminutes(self) -> float:
        """The value in arcminutes."""
        return self.radians / ARCMINUTES.radians

    @property
    def arcseconds(self) -> float:
        """The value in arcseconds."""
        return self.radians / ARCSECONDS.radians

    @property
    def milliarcseconds(self) -> float:
        """The value in milliarcseconds."""
        return self.radians / MILLIARCSECONDS.radians

    def as_unit(self, unit: AngleUnit) -> float:
        """The value in ``unit`` (e.g. ``angle.as_unit(ARCSECONDS)``)."""
        if not isinstance(unit, AngleUnit):
            raise TypeError(f"as_unit needs an AngleUnit such as DEGREES, got {unit!r}")
        return self.radians / unit.radians

    # -- wrapping --------------------------------------------------------------------------------
    def wrap(self) -> Angle:
        """This angle wrapped into ``[0, 2π)``."""
        value = math.fmod(self.radians, _TWO_PI)
        if value < 0.0:
            value += _TWO_PI
        if value >= _TWO_PI:  # -tiny + 2π rounds to 2π
            value = 0.0
        return Angle(value)

    def wrap_ctr(self) -> Angle:
        """This angle wrapped into ``[-π, π)``."""
        value = self.wrap().radians
        if value >= math.pi:
            value -= _TWO_PI
        return Angle(value)

    def wrap_near(self, reference: Angle) -> Angle:
        """This angle plus a multiple of 2π, within ``[reference - π, reference + π)``."""
        return reference + (self - reference).wrap_ctr()

    def separation(self, other: Angle) -> Angle:
        """The signed difference ``self - other`` wrapped into ``[-π, π)``."""
        return (self - other).wrap_ctr()

    def to_sphgeom(self) -> Any:
        """This angle as an `lsst.sphgeom.Angle`."""
        from lsst import sphgeom

        return sphgeom.Angle(self.radians)

    @classmethod
    def from_sphgeom(cls, angle: Any) -> Angle:
        """Build from an `lsst.sphgeom.Angle` or `lsst.sphgeom.NormalizedAngle`."""
        return cls(float(angle.asRadians()))

    # -- arithmetic ------------------------------------------------------------------------------
    def __add__(self, other: object) -> Angle:
        if not isinstance(other, Angle):
            return NotImplemented
        return Angle(self.radians + other.radians)

    def __sub__(self, other: object) -> Angle:
        if not isinstance(other, Angle):
            return NotImplemented
        return Angle(self.radians - other.radians)

    def __neg__(self) -> Angle:
        return Angle(-self.radians)

    def __pos__(self) -> Angle:
        return self

    def __abs__(self) -> Angle:
        return Angle(abs(self.radians))

    def __mul__(self, other: object) -> Angle:
        if isinstance(other, Angle) or not isinstance(other, numbers.Real):
            return NotImplemented
        return Angle(self.radians * float(other))

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Any:
        if isinstance(other, Angle):
            return self.radians / other.radians
        if not isinstance(other, numbers.Real):
            return NotImplemented
        return Angle(self.radians / float(other))

    def __float__(self) -> float:
        return self.radians

    def __repr__(self) -> str:
        return f"Angle.from_degrees({self.degrees!r})"

    def __str__(self) -> str:
        return f"{self.degrees:.10g} deg"

    def is_close(self, other: Angle, tolerance: Angle) -> bool:
        """Whether the wrapped difference of the two angles is at most ``tolerance``."""
        return abs(self.separation(other).radians) <= tolerance.radians

    def to_dict(self) -> dict[str, float]:
        """``{"radians": value}``."""
        return {"radians": self.radians}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Angle:
        """Inverse of `to_dict`."""
        return cls(float(data["radians"]))
