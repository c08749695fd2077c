# SPDX-License-Identifier: GPL-3.0-or-later
"""A toy table and column resolver for the expression-language tests (no registry involved)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import lsst.sphgeom as sphgeom
import sqlalchemy
from astropy.time import Time

from skystack.butler.queries.expression import (
    IdentifierKind,
    QueryTypeError,
    UnknownIdentifierError,
    to_sqlalchemy,
)
from skystack.butler.timespan import time_to_nsec

T0 = time_to_nsec(Time("2024-01-01T00:00:00", scale="tai"))
SECOND = 10**9
BANDS = ["g", "r", "i", "HSC-R", "hsc-r", "HSC-I", "a%b", "a_b", "aXb", "a\\b", "a*", "x[1]",
         "a' OR 1=1 --", "été✓", "a\x00b", "r", "z", "HSC-", "y", "r"]  # fmt: skip

METADATA = sqlalchemy.MetaData()
TABLE = sqlalchemy.Table(
    "exposure",
    METADATA,
    sqlalchemy.Column("visit", sqlalchemy.Integer, primary_key=True),
    sqlalchemy.Column("detector", sqlalchemy.Integer),
    sqlalchemy.Column("band", sqlalchemy.String),
    sqlalchemy.Column("exposure_time", sqlalchemy.Float),
    sqlalchemy.Column("flag", sqlalchemy.Boolean),
    sqlalchemy.Column("note", sqlalchemy.String, nullable=True),
    sqlalchemy.Column("begin", sqlalchemy.BigInteger),
    sqlalchemy.Column("end", sqlalchemy.BigInteger),
    sqlalchemy.Column("visit_begin", sqlalchemy.BigInteger),
    sqlalchemy.Column("visit_end", sqlalchemy.BigInteger),
)


@dataclass(frozen=True)
class Row:
    visit: int
    detector: int
    band: str
    exposure_time: float
    flag: bool
    note: str | None
    begin: int
    end: int
    visit_begin: int
    visit_end: int
    ra: float
    dec: float


def make_rows() -> list[Row]:
    """20 rows: visit 1..20, exposures of 30 s every 100 s from T0 (visit 7 has an empty timespan)."""
    rows = []
    for visit in range(1, 21):
        begin = T0 + visit * 100 * SECOND
        end = begin if visit == 7 else begin + 30 * SECOND
        rows.append(
            Row(
                visit=visit,
                detector=visit % 4,
                band=BANDS[visit - 1],
                exposure_time=1.5 * visit,
                flag=visit % 3 == 0,
                note=None if visit % 5 == 0 else f"note {visit}",
                begin=begin,
                end=end,
                visit_begin=T0 + 1000 * SECOND,
                visit_end=T0 + 1250 * SECOND,
                ra=10.0 + visit * 0.1,
                dec=-5.0 + visit * 0.05,
            )
        )
    return rows


ROWS = make_rows()


def unit(ra: float, dec: float) -> sphgeom.UnitVector3d:
    return sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(ra, dec))


@dataclass
class ToyResolver:
    """Resolves the toy table's columns; regions are per-row points tested exactly in Python."""

    overlap_calls: list[tuple[str, sphgeom.Region]] = field(default_factory=list)
    join_calls: list[tuple[str, str]] = field(default_factory=list)

    SCALARS = ("visit", "detector", "band", "exposure_time", "flag", "note")
    TIMESPANS = {"exposure.timespan": ("begin", "end"), "visit.timespan": ("visit_begin", "visit_end")}
    REGIONS = ("visit_detector_region.region", "patch.region", "tract.region")

    def valid_names(self) -> list[str]:
        return [*self.SCALARS, *self.TIMESPANS, *self.REGIONS, "exposure.exposure_time"]

    def identifier_kind(self, name: str) -> IdentifierKind:
        if name in self.SCALARS or name == "exposure.exposure_time":
            return IdentifierKind.SCALAR
        if name in self.TIMESPANS:
            return IdentifierKind.TIMESPAN
        if name in self.REGIONS:
            return IdentifierKind.REGION
        raise UnknownIdentifierError(name, self.valid_names())

    def resolve_column(self, name: str) -> sqlalchemy.ColumnElement[Any]:
        return TABLE.c[name.removeprefix("exposure.")]

    def resolve_timespan(
        self, name: str
    ) -> tuple[sqlalchemy.ColumnElement[int], sqlalchemy.ColumnElement[int]]:
        begin, end = self.TIMESPANS[name]
        return TABLE.c[begin], TABLE.c[end]

    def resolve_region_overlap(self, name: str, region: sphgeom.Region) -> sqlalchemy.ColumnElement[bool]:
        if name == "tract.region":
            raise QueryTypeError("tract regions are not indexed in this toy registry")
        self.overlap_calls.append((name, region))
        inside = [r.visit for r in ROWS if region.contains(unit(r.ra, r.dec))]
        return TABLE.c.visit.in_(inside)

    def resolve_region_join(self, name_a: str, name_b: str) -> sqlalchemy.ColumnElement[bool]:
        self.join_calls.append((name_a, name_b))
        return TABLE.c.detector == 1


def make_engine() -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            TABLE.insert(),
            [{k: v for k, v in vars(r).items() if k not in ("ra", "dec")} for r in ROWS],
        )
    return engine


def select_visits(
    engine: sqlalchemy.Engine,
    expression: str,
    bind: dict[str, Any] | None = None,
    resolver: ToyResolver | None = None,
) -> list[int]:
    """Visits of the rows matching ``expression``, ascending."""
    clause = to_sqlalchemy(expression, resolver or ToyResolver(), bind)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.select(TABLE.c.visit).where(clause).order_by(TABLE.c.visit))
        return [r[0] for r in rows]


def expected(predicate: Any) -> list[int]:
    return [r.visit for r in ROWS if predicate(r)]


def angular_distance_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    cosine = unit(ra1, dec1).dot(unit(ra2, dec2))
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
