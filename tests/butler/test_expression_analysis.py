# SPDX-License-Identifier: GPL-3.0-or-later
"""Time encoding and the helpers that inspect expressions (identifiers, spatial/temporal constraints)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import lsst.sphgeom as sphgeom
import pytest
from astropy.time import Time

from skystack.butler.queries.expression import (
    MissingBindParameterError,
    QueryTypeError,
    parse_expression,
    parse_time_literal,
    referenced_identifiers,
    spatial_constraints,
    spatial_joins,
    temporal_constraints,
)
from skystack.butler.timespan import nsec_to_time, time_to_nsec


def test_time_encoding_epoch_and_astropy_agreement() -> None:
    assert time_to_nsec(Time("1970-01-01T00:00:00", scale="tai")) == 0
    # 1970-01-01T00:00:00 UTC was 1970-01-01T00:00:08 TAI (astropy's pre-1972 UTC model adds
    # a fraction of a microsecond on top; compare loosely).
    assert time_to_nsec(Time("1970-01-01T00:00:00", scale="utc")) == pytest.approx(8_000_082_000, abs=1000)
    for text in ["2024-01-01T00:00:00.123456789", "1999-12-31T23:59:59.999999999", "2262-04-10T00:00:00"]:
        t = Time(text, scale="tai")
        ns = time_to_nsec(t)
        assert abs(ns - float(t.unix_tai) * 1e9) < 1e3  # astropy's unix_tai, to its float precision
        assert ns % 10**9 == int(text[-9:]) if "." in text else ns % 10**9 == 0
    # 2024-01-01 TAI is exactly 19723 days after the epoch.
    assert time_to_nsec(Time("2024-01-01", scale="tai")) == 19723 * 86400 * 10**9
    # Leap seconds: UTC and TAI differ by 37 s in 2024.
    assert (
        time_to_nsec(Time("2024-01-01", scale="tai")) - time_to_nsec(Time("2024-01-01", scale="utc"))
        == -37 * 10**9
    )


def test_time_round_trip_is_exact() -> None:
    rng = random.Random(12345)
    values = [rng.randrange(-(2**63), 2**63) for _ in range(500)] + [0, 1, -1, 2**63 - 1, -(2**63)]
    for ns in values:
        assert time_to_nsec(nsec_to_time(ns)) == ns
    t = nsec_to_time(1_704_067_200_123_456_789)
    assert t.scale == "tai"
    t.precision = 9
    assert t.isot == "2024-01-01T00:00:00.123456789"


def test_time_encoding_errors() -> None:
    with pytest.raises(TypeError, match="time_to_nsec needs a scalar astropy.time.Time, got str"):
        time_to_nsec("2024-01-01")
    with pytest.raises(TypeError, match="got Time"):
        time_to_nsec(Time(["2024-01-01", "2024-01-02"], scale="tai"))
    with pytest.raises(
        ValueError, match="outside the range representable as int64 TAI nanoseconds since 1970"
    ):
        time_to_nsec(Time("2300-01-01", scale="tai"))


def test_time_literal_forms() -> None:
    base = time_to_nsec(Time("2024-01-01T00:00:00", scale="tai"))
    assert parse_time_literal("2024-01-01") == base
    assert parse_time_literal("2024-01-01 00:00") == base
    assert parse_time_literal("2024-01-01T00:00:00.000000001") == base + 1
    assert parse_time_literal("60310.0") == base  # MJD of 2024-01-01
    assert parse_time_literal("60310.000000011574074074") == base + 1_000_000  # 1 ms, exact decimal
    assert parse_time_literal("60310/utc") == base + 37 * 10**9
    assert parse_time_literal(" 2024-01-01T00:00:00 / TT ") == base - 32_184_000_000
    with pytest.raises(ValueError, match="unknown time scale 'xyz'"):
        parse_time_literal("2024-01-01/xyz")
    with pytest.raises(ValueError, match="cannot read 'last tuesday' as a time"):
        parse_time_literal("last tuesday")
    with pytest.raises(ValueError, match="invalid date or time '2024-02-30'"):
        parse_time_literal("2024-02-30")


def test_referenced_identifiers() -> None:
    expr = parse_expression(
        "instrument = 'HSC' AND visit IN (1..5, :v) AND exposure.timespan OVERLAPS T'60000' "
        "AND visit_detector_region.region OVERLAPS CIRCLE(1, 2, 3) "
        "AND NOT (band GLOB 'x' OR detector IS NULL)"
    )
    assert referenced_identifiers(expr) == {
        "instrument",
        "visit",
        "exposure.timespan",
        "visit_detector_region.region",
        "band",
        "detector",
    }
    assert referenced_identifiers(parse_expression("1 = 1")) == frozenset()


def test_spatial_constraints_and_required_flag() -> None:
    bound = sphgeom.Circle(
        sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(5, 5)), sphgeom.Angle.fromDegrees(1)
    )
    expr = parse_expression(
        "visit_detector_region.region OVERLAPS CIRCLE(10, 20, 0.5) AND (POINT(1, 2) OVERLAPS patch.region) "
        "AND (tract.region OVERLAPS :r OR visit = 1) AND NOT patch.region OVERLAPS BOX(0, 0, 1, 1) "
        "AND visit_detector_region.region OVERLAPS patch.region"
    )
    found = spatial_constraints(expr, {"r": bound})
    assert [(c.identifier, type(c.region).__name__, c.required) for c in found] == [
        ("visit_detector_region.region", "Circle", True),
        ("patch.region", "Circle", True),
        ("tract.region", "Circle", False),
        ("patch.region", "Box", False),
    ]
    first = found[0].region
    assert isinstance(first, sphgeom.Circle)
    assert first.getOpeningAngle().asDegrees() == pytest.approx(0.5)
    assert found[1].region.contains(sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(1, 2)))
    assert found[2].region is bound
    assert spatial_joins(expr) == (("visit_detector_region.region", "patch.region"),)
    # A bind that is not a region (e.g. a time) is not a spatial constraint.
    assert spatial_constraints(parse_expression("ts OVERLAPS :t"), {"t": Time.now()}) == ()


def test_spatial_constraint_errors() -> None:
    with pytest.raises(MissingBindParameterError, match="':r'") as info:
        spatial_constraints(parse_expression("patch.region OVERLAPS :r"))
    assert str(info.value).splitlines()[-1] == "  " + " " * 22 + "^"
    with pytest.raises(QueryTypeError, match="CIRCLE radius must be within"):
        spatial_constraints(parse_expression("patch.region OVERLAPS CIRCLE(1, 2, 200)"))


def test_temporal_constraints() -> None:
    @dataclass
    class Span:
        begin_nsec: int
        end_nsec: int

    t1 = parse_time_literal("2024-01-01")
    t2 = parse_time_literal("2024-02-01")
    expr = parse_expression(
        "exposure.timespan OVERLAPS (T'2024-01-01', T'2024-02-01') AND visit.timespan < T'2024-01-01' "
        "AND T'2024-02-01' < exposure.timespan AND (visit.timespan OVERLAPS :span OR visit = 3) "
        "AND exposure.timespan OVERLAPS (NULL, T'2024-02-01') AND calib.timespan > :t AND visit < 5"
    )
    found = temporal_constraints(expr, {"span": Span(5, 10), "t": nsec_to_time(t2)})
    assert [(c.identifier, c.relation, c.begin_ns, c.end_ns, c.required) for c in found] == [
        ("exposure.timespan", "overlaps", t1, t2, True),
        ("visit.timespan", "before", t1, t1 + 1, True),
        ("exposure.timespan", "after", t2, t2 + 1, True),
        ("visit.timespan", "overlaps", 5, 10, False),
        ("exposure.timespan", "overlaps", None, t2, True),
        ("calib.timespan", "after", t2, t2 + 1, True),
    ]
    with pytest.raises(MissingBindParameterError, match="':t'"):
        temporal_constraints(parse_expression("calib.timespan OVERLAPS :t"))


def test_time_literal_fast_path_matches_astropy() -> None:
    rng = random.Random(7)
    for _ in range(200):
        year = rng.randrange(1700, 2260)
        text = (
            f"{year:04d}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**9):09d}"
        )
        assert parse_time_literal(text) == time_to_nsec(Time(text, scale="tai")), text
        mjd = f"{rng.uniform(-40000, 100000):.6f}"
        # astropy reads the MJD through one double (~1 us at these dates); ours is exact decimal.
        assert (
            abs(parse_time_literal(mjd) - time_to_nsec(Time(float(mjd), format="mjd", scale="tai"))) < 2_000
        )
