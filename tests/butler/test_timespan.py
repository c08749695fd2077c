# SPDX-License-Identifier: GPL-3.0-or-later
"""Timespan: half-open TAI intervals stored as int64 nanoseconds."""

from __future__ import annotations

import pickle

import astropy.units as u
import pytest
from astropy.time import Time

from skystack.butler import Timespan
from skystack.butler.timespan import TIMESPAN_MAX, TIMESPAN_MIN, nsec_to_time, time_to_nsec

T0 = Time("2024-03-01T12:00:00", scale="tai")


def test_epoch_and_round_trip_are_nanosecond_exact() -> None:
    assert time_to_nsec(Time("1970-01-01T00:00:00", scale="tai")) == 0
    # One day and one nanosecond after the epoch.
    t = Time("1970-01-02T00:00:00.000000001", scale="tai", precision=9)
    assert time_to_nsec(t) == 86_400_000_000_001
    ns = time_to_nsec(T0) + 123
    assert time_to_nsec(nsec_to_time(ns)) == ns


def test_utc_times_convert_to_tai() -> None:
    utc = Time("2024-03-01T12:00:00", scale="utc")
    # TAI - UTC = 37 s since 2017.
    assert time_to_nsec(utc) - time_to_nsec(Time("2024-03-01T12:00:00", scale="tai")) == 37_000_000_000


def test_overlaps_is_half_open() -> None:
    a = Timespan(T0, T0 + 1 * u.h)
    b = Timespan(T0 + 1 * u.h, T0 + 2 * u.h)
    c = Timespan(T0 + 30 * u.min, T0 + 90 * u.min)
    assert not a.overlaps(b) and not b.overlaps(a)
    assert a.overlaps(c) and c.overlaps(b)
    assert a.intersection(c) == Timespan(T0 + 30 * u.min, T0 + 1 * u.h)
    assert a.intersection(b).is_empty


def test_unbounded_and_contains() -> None:
    everything = Timespan(None, None)
    assert everything.begin is None and everything.end is None
    assert everything.begin_nsec == TIMESPAN_MIN and everything.end_nsec == TIMESPAN_MAX
    after = Timespan(T0, None)
    assert after.contains(T0) and after.contains(T0 + 200 * u.year)
    assert not after.contains(T0 - 1 * u.s)
    assert everything.contains(after) and not after.contains(everything)
    span = Timespan(T0, T0 + 1 * u.h)
    assert not span.contains(T0 + 1 * u.h)  # end is exclusive
    assert abs((span.end - span.begin).to_value(u.s) - 3600) < 1e-6


def test_empty_timespan_overlaps_nothing() -> None:
    empty = Timespan(T0, T0)
    assert empty.is_empty and empty == Timespan.make_empty()
    assert not empty.overlaps(Timespan(None, None))


def test_end_before_begin_is_an_error() -> None:
    with pytest.raises(ValueError, match="end .* is before its begin"):
        Timespan(T0 + 1 * u.s, T0)


def test_bad_bound_type() -> None:
    with pytest.raises(TypeError, match="scalar astropy.time.Time"):
        Timespan("2024-01-01", None)  # type: ignore[arg-type]


def test_hash_equality_pickle() -> None:
    a = Timespan(T0, T0 + 1 * u.h)
    b = Timespan.from_nsec(a.begin_nsec, a.end_nsec)
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    assert "2024-03-01T12:00:00.000" in repr(a)


def test_out_of_range_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="outside the range representable as int64"):
        Timespan(Time("2300-01-01", scale="tai"), None)
