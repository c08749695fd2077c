# SPDX-License-Identifier: GPL-3.0-or-later
"""Butler queries: the user expression language (`skystack.butler.queries.expression`).

The most used names are re-exported here: `parse_expression`, `to_sqlalchemy`, the
`ColumnResolver` protocol the registry implements, the error classes and the time conversions.
"""

from __future__ import annotations

from .expression import (
    ColumnResolver,
    Expression,
    IdentifierKind,
    MissingBindParameterError,
    QueryExpressionError,
    QuerySyntaxError,
    QueryTypeError,
    SpatialConstraint,
    TemporalConstraint,
    UnknownIdentifierError,
    parse_expression,
    referenced_identifiers,
    spatial_constraints,
    spatial_joins,
    temporal_constraints,
    to_sqlalchemy,
)

__all__ = [
    "ColumnResolver",
    "Expression",
    "IdentifierKind",
    "MissingBindParameterError",
    "QueryExpressionError",
    "QuerySyntaxError",
    "QueryTypeError",
    "SpatialConstraint",
    "TemporalConstraint",
    "UnknownIdentifierError",
    "parse_expression",
    "referenced_identifiers",
    "spatial_constraints",
    "spatial_joins",
    "temporal_constraints",
    "to_sqlalchemy",
]
