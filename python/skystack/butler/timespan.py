# SPDX-License-Identifier: GPL-3.0-or-later
"""Half-open time intervals ``[begin, end)`` with unbounded ends, stored as int64 TAI nanoseconds.

Times are held as integer nanoseconds since 1970-01-01T00:00:00 TAI, the representation the
registry stores, so comparisons are exact and cheap; astropy is imported only to convert to or
from `astropy.time.Time`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astropy.time import Time

__all__ = ["TIMESPAN_MAX", "TIMESPAN_MIN", "Timespan", "nsec_to_time", "time_to_nsec"]

TIMESPAN_MIN = -(2**63)
"""Stored value of an unbounded begin."""
TIMESPAN_MAX = 2**63 - 1
"""Stored value of an unbounded end."""

_NS_PER_DAY = 86_400_000_000_000
_EPOCH_JD = Fraction(4881175, 2)  # 2440587.5: 1970-01-01T00:00:00 TAI as a TAI Julian date


def time_to_nsec(time: Time) -> int:
    """Integer TAI nanoseconds since 1970-01-01T00:00:00 TAI of a scalar astropy `~astropy.time.Time`.

    The conversion uses astropy's two-double Julian date with exact rational arithmetic, so no
    precision is lost (a single float of nanoseconds since 1970 would be off by up to ~100 ns);
    ``time_to_nsec(nsec_to_time(n)) == n`` for every int64 ``n``.

    Raises
    ------
    TypeError
        If ``time`` is not a scalar `~astropy.time.Time`.
    ValueError
        If the time is outside the int64 range (years 1677 to 2262).
    """
    from astropy.time import Time

    if not isinstance(time, Time) or not time.isscalar:
        raise TypeError(f"time_to_nsec needs a scalar astropy.time.Time, got {type(time).__name__}")
    tai = time.tai
    days = Fraction(float(tai.jd1)) + Fraction(float(tai.jd2)) - _EPOCH_JD
    ns = round(days * _NS_PER_DAY)
    if not TIMESPAN_MIN <= ns <= TIMESPAN_MAX:
        raise ValueError(
            f"time {tai.isot} TAI is outside the range representable as int64 TAI nanoseconds "
            "since 1970 (1677-09-21 to 2262-04-11)"
        )
    return ns


def nsec_to_time(nsec: int) -> Time:
    """The astropy `~astropy.time.Time` (TAI scale) of integer TAI nanoseconds since 1970."""
    from astropy.time import Time

    days, rem = divmod(int(nsec), _NS_PER_DAY)
    # 2440587.5 + days is exact in a double; rem / _NS_PER_DAY is within 1e-16 day (~0.01 ns).
    return Time(float(_EPOCH_JD) + days, rem / _NS_PER_DAY, format="jd", scale="tai")


class Timespan:
    """A half-open interval of time ``[begin, end)``; `None` at either end means unbounded.

    Parameters
    ----------
    begin, end : `astropy.time.Time` or `None`
        Inclusive start and exclusive end. ``begin == end`` gives an empty timespan.

    Raises
    ------
    ValueError
        If ``end`` is before ``begin``.
    TypeError
        If a bound is neither `None` nor a scalar `~astropy.time.Time`.

    Notes
    -----
    Use `Timespan.from_nsec` to build one from stored integers without astropy.
    """

    __slots__ = ("_begin", "_end")

    def __init__(self, begin: Time | None, end: Time | None) -> None:
        b = TIMESPAN_MIN if begin is None else time_to_nsec(begin)
        e = TIMESPAN_MAX if end is None else time_to_nsec(end)
        self._set(b, e)

    def _set(self, begin: int, end: int) -> None:
        if end < begin:
            raise ValueError(
                f"Timespan end ({nsec_to_time(end).isot} TAI) is before its begin "
                f"({nsec_to_time(begin).isot} TAI); swap them"
            )
        self._begin = begin
        self._end = end

    @classmethod
    def from_nsec(cls, begin: int | None, end: int | None) -> Timespan:
        """A timespan from integer TAI nanoseconds since 1970 (`None`: unbounded)."""
        span = cls.__new__(cls)
        span._set(TIMESPAN_MIN if begin is None else int(begin), TIMESPAN_MAX if end is None else int(end))
        return span

    @classmethod
    def make_empty(cls) -> Timespan:
        """An empty timespan (overlaps nothing)."""
        return cls.from_nsec(0, 0)

    @property
    def begin(self) -> Time | None:
        """Inclusive start (TAI), or `None` if unbounded."""
        return None if self._begin == TIMESPAN_MIN else nsec_to_time(self._begin)

    @property
    def end(self) -> Time | None:
        """Exclusive end (TAI), or `None` if unbounded."""
        return None if self._end == TIMESPAN_MAX else nsec_to_time(self._end)

    @property
    def begin_nsec(self) -> int:
        """Stored start: TAI ns since 1970, `TIMESPAN_MIN` if unbounded."""
        return self._begin

    @property
    def end_nsec(self) -> int:
        """Stored end: TAI ns since 1970, `TIMESPAN_MAX` if unbounded."""
        return self._end

    @property
    def is_empty(self) -> bool:
        """Whether the timespan contains no time at all."""
        return self._begin >= self._end

    def overlaps(self, other: Timespan) -> bool:
        """Whether the two timespans share some time (empty timespans overlap nothing)."""
        return (
            self._begin < other._end and other._begin < self._end and not self.is_empty and not other.is_empty
        )

    def contains(self, other: Timespan | Time) -> bool:
        """Whether ``other`` (a timespan or a time) lies entirely within this timespan."""
        if isinstance(other, Timespan):
            if other.is_empty:
                return True
            return self._begin <= other._begin and other._end <= self._end
        t = time_to_nsec(other)
        return self._begin <= t < self._end

    def intersection(self, *others: Timespan) -> Timespan:
        """The time common to this and all ``others`` (possibly empty)."""
        begin = max([self._begin, *(o._begin for o in others)])
        end = min([self._end, *(o._end for o in others)])
        return Timespan.from_nsec(begin, max(begin, end))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Timespan):
            if self.is_empty and other.is_empty:
                return True
            return self._begin == other._begin and self._end == other._end
        return NotImplemented

    def __hash__(self) -> int:
        return hash((0, 0)) if self.is_empty else hash((self._begin, self._end))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Timespan.from_nsec, (self._begin, self._end))

    def __repr__(self) -> str:
        if self.is_empty:
            return "Timespan(empty)"
        b = "-inf" if self._begin == TIMESPAN_MIN else nsec_to_time(self._begin).isot
        e = "+inf" if self._end == TIMESPAN_MAX else nsec_to_time(self._end).isot
        return f"Timespan([{b}, {e}) TAI)"
