# SPDX-License-Identifier: GPL-3.0-or-later
"""The Butler's query expression language (the ``where`` strings of queries and ``pipetask -d``).

A hand-written lexer and recursive-descent parser turn text such as::

    instrument = 'HSC' AND visit IN (100..200:2, :extra) AND band GLOB 'HSC-*'
        AND exposure.timespan OVERLAPS (T'2024-01-01', T'60400.5/utc')
        AND visit_detector_region.region OVERLAPS CIRCLE(150.1, 2.2, 0.5)

into a tree of frozen dataclasses (`parse_expression`), which `to_sqlalchemy` translates into a
SQLAlchemy condition through a `ColumnResolver` supplied by the registry. All values become bound
parameters; nothing the user writes is pasted into SQL. Times are int64 TAI nanoseconds since
1970-01-01T00:00:00 TAI (`skystack.butler.timespan.time_to_nsec`).
"""

from __future__ import annotations

from ._analysis import (
    SpatialConstraint,
    TemporalConstraint,
    referenced_identifiers,
    spatial_constraints,
    spatial_joins,
    temporal_constraints,
)
from ._errors import (
    MissingBindParameterError,
    QueryExpressionError,
    QuerySyntaxError,
    QueryTypeError,
    UnknownIdentifierError,
)
from ._glob import GlobMatch
from ._lexer import KEYWORDS, Token, TokenKind, tokenize
from ._nodes import (
    BinaryOp,
    BindParameter,
    BooleanLiteral,
    BoxLiteral,
    CircleLiteral,
    Expression,
    ExpressionVisitor,
    Glob,
    Identifier,
    IsIn,
    IsNull,
    LogicalOp,
    Node,
    NullLiteral,
    NumericLiteral,
    Overlaps,
    Parenthesized,
    PointLiteral,
    PolygonLiteral,
    RangeLiteral,
    RegionLiteral,
    StringLiteral,
    TimeLiteral,
    TupleNode,
    UnaryOp,
    iter_nodes,
    tree_depth,
)
from ._parser import MAX_DEPTH, MAX_NESTING, parse_expression
from ._regions import evaluate_number, region_from_literal
from ._resolver import ColumnResolver, IdentifierKind
from ._time import parse_time_literal
from ._translator import SMALL_RANGE, to_sqlalchemy

__all__ = [
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_NESTING",
    "SMALL_RANGE",
    "BinaryOp",
    "BindParameter",
    "BooleanLiteral",
    "BoxLiteral",
    "CircleLiteral",
    "ColumnResolver",
    "Expression",
    "ExpressionVisitor",
    "Glob",
    "GlobMatch",
    "Identifier",
    "IdentifierKind",
    "IsIn",
    "IsNull",
    "LogicalOp",
    "MissingBindParameterError",
    "Node",
    "NullLiteral",
    "NumericLiteral",
    "Overlaps",
    "Parenthesized",
    "PointLiteral",
    "PolygonLiteral",
    "QueryExpressionError",
    "QuerySyntaxError",
    "QueryTypeError",
    "RangeLiteral",
    "RegionLiteral",
    "SpatialConstraint",
    "StringLiteral",
    "TemporalConstraint",
    "TimeLiteral",
    "Token",
    "TokenKind",
    "TupleNode",
    "UnaryOp",
    "UnknownIdentifierError",
    "evaluate_number",
    "iter_nodes",
    "parse_expression",
    "parse_time_literal",
    "referenced_identifiers",
    "region_from_literal",
    "spatial_constraints",
    "spatial_joins",
    "temporal_constraints",
    "to_sqlalchemy",
    "tokenize",
    "tree_depth",
]
