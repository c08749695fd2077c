# SPDX-License-Identifier: GPL-3.0-or-later
"""The interface through which the translator finds columns, so that it knows no table layout."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import lsst.sphgeom
    import sqlalchemy

__all__ = ["ColumnResolver", "IdentifierKind"]


class IdentifierKind(enum.Enum):
    """What an identifier in an expression stands for."""

    SCALAR = "scalar"
    """A single column (number, string, boolean, or an instant stored as int64 TAI nanoseconds)."""
    TIMESPAN = "timespan"
    """A half-open time interval stored as two int64 TAI-nanosecond columns ``[begin, end)``."""
    REGION = "region"
    """A sky region, queried only through the resolver's spatial hooks."""


@runtime_checkable
class ColumnResolver(Protocol):
    """What `to_sqlalchemy` needs from the query system (implemented by the registry).

    Every method receives identifiers exactly as written in the expression (``visit``,
    ``exposure.exposure_time``, ``visit.timespan``). A method given a name it does not know raises
    `UnknownIdentifierError` (listing the valid names); the translator adds the expression context.
    Methods may also raise any `QueryExpressionError` subclass (e.g. `QueryTypeError` for a name of
    the wrong kind) and it is passed on the same way.
    """

    def identifier_kind(self, name: str) -> IdentifierKind:
        """Whether ``name`` is a scalar column, a timespan or a region."""
        ...

    def resolve_column(self, name: str) -> sqlalchemy.ColumnElement[Any]:
        """The column (or column expression) for a `IdentifierKind.SCALAR` identifier.

        Its SQLAlchemy type is used to reject mismatched comparisons (a string column against a
        number) and to accept a boolean column as a condition on its own.
        """
        ...

    def resolve_timespan(
        self, name: str
    ) -> tuple[sqlalchemy.ColumnElement[int], sqlalchemy.ColumnElement[int]]:
        """``(begin, end)`` columns of a `IdentifierKind.TIMESPAN` identifier.

        Both hold int64 TAI nanoseconds since 1970 (`time_to_nsec`); the interval is half-open and
        unbounded ends are stored as the extreme int64 values (not NULL).
        """
        ...

    def resolve_region_overlap(
        self, name: str, region: lsst.sphgeom.Region
    ) -> sqlalchemy.ColumnElement[bool]:
        """A condition true for rows whose region ``name`` may overlap ``region``.

        The registry typically joins a HEALPix-pixel index table; an exact sphgeom test can follow
        in Python. ``region`` is built from ``POINT``/``CIRCLE``/``POLYGON``/``BOX`` or a bind value.
        """
        ...

    def resolve_region_join(self, name_a: str, name_b: str) -> sqlalchemy.ColumnElement[bool]:
        """A condition true for row pairs whose regions ``name_a`` and ``name_b`` may overlap."""
        ...
