# SPDX-License-Identifier: GPL-3.0-or-later
"""Translation of a parsed expression into a SQLAlchemy boolean clause.

Every value from the expression (numbers, strings, times, bind values) becomes a bound parameter;
no user text is ever placed in SQL. Identifiers are looked up through a `ColumnResolver`, so the
translator does not depend on the registry's tables.

Semantics
---------
* ``x = NULL`` / ``x != NULL`` mean ``IS NULL`` / ``IS NOT NULL``.
* ``x IN (a, 1..100:2, :list)``: values become one ``IN``; a range of more than
  `SMALL_RANGE` values becomes ``x BETWEEN start AND stop`` (with ``(x - start) % stride = 0``).
* ``x GLOB 'HSC-*'`` is case-sensitive on every backend (see `GlobMatch`).
* Timespans (half-open ``[begin, end)``, begin < end required for any overlap):
  ``ts OVERLAPS T'..'`` (contains the instant), ``ts OVERLAPS (T'a', T'b')`` (shares time with
  ``[a, b)``; ``NULL`` for an unbounded end), ``ts OVERLAPS other_ts``; ``ts < T'..'`` (ends at or
  before), ``ts > T'..'`` (begins after), and the same with a range or another timespan.
* Regions: ``region OVERLAPS POINT/CIRCLE/POLYGON/BOX(...)`` or ``OVERLAPS :region`` (an
  `lsst.sphgeom.Region`) calls `ColumnResolver.resolve_region_overlap`;
  ``a.region OVERLAPS b.region`` calls `ColumnResolver.resolve_region_join`.
* Arithmetic follows the database (integer division of integers).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

import lsst.sphgeom as sphgeom
import numpy as np
import sqlalchemy
from astropy.time import Time
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from skystack.butler.timespan import time_to_nsec

from ._errors import MissingBindParameterError, QueryExpressionError, QueryTypeError
from ._glob import GlobMatch
from ._nodes import (
    ARITHMETIC_OPERATORS,
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
    tree_depth,
)
from ._parser import MAX_DEPTH, parse_expression
from ._regions import region_from_literal
from ._resolver import ColumnResolver, IdentifierKind

__all__ = ["SMALL_RANGE", "to_sqlalchemy"]

SMALL_RANGE = 32
"""Ranges with at most this many values are expanded into the ``IN`` list instead of ``BETWEEN``."""

_CHAIN_CHUNK = 64  # most operands of one AND/OR in the generated SQL before grouping

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_MIRROR = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _Parenthesized(sqlalchemy.ColumnElement[bool]):
    """A boolean clause rendered in parentheses and never merged into the enclosing AND/OR."""

    inherit_cache = True
    type = sqlalchemy.Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: sqlalchemy.ColumnElement[bool]) -> None:
        self.clause = clause


@compiles(_Parenthesized)
def _compile_parenthesized(element: _Parenthesized, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clause, **kw)})"


# -- operand categories produced while translating ----------------------------------------------
@dataclass(frozen=True)
class _Sql:
    expr: sqlalchemy.ColumnElement[Any]
    boolean: bool


@dataclass(frozen=True)
class _Const:
    value: int | float | str | bool | None


@dataclass(frozen=True)
class _TimePoint:
    ns: int


@dataclass(frozen=True)
class _TimeRange:
    begin: int | None
    end: int | None


@dataclass(frozen=True)
class _TimespanColumn:
    name: str
    begin: sqlalchemy.ColumnElement[int]
    end: sqlalchemy.ColumnElement[int]


@dataclass(frozen=True)
class _RegionConst:
    region: sphgeom.Region


@dataclass(frozen=True)
class _RegionColumn:
    name: str


@dataclass(frozen=True)
class _Values:
    items: tuple[_Operand, ...]


_Operand: TypeAlias = (
    _Sql | _Const | _TimePoint | _TimeRange | _TimespanColumn | _RegionConst | _RegionColumn | _Values
)


def _describe(value: _Operand) -> str:
    if isinstance(value, _Const):
        if value.value is None:
            return "NULL"
        return {bool: "a boolean", str: "a string"}.get(type(value.value), "a number")
    if isinstance(value, _Sql):
        return "a condition" if value.boolean else f"a {_sql_kind(value.expr) or 'column'} value"
    return {
        _TimePoint: "a time",
        _TimeRange: "a time range",
        _TimespanColumn: "a timespan",
        _RegionConst: "a region",
        _RegionColumn: "a region",
        _Values: "a list",
    }[type(value)]


def _sql_kind(expr: sqlalchemy.ColumnElement[Any]) -> str | None:
    """``"string"``, ``"number"`` or ``"boolean"`` for typed expressions; `None` when unknown."""
    sql_type = expr.type
    if isinstance(sql_type, sqlalchemy.Boolean):
        return "boolean"
    if isinstance(sql_type, sqlalchemy.String):
        return "string"
    if isinstance(sql_type, sqlalchemy.Integer | sqlalchemy.Numeric | sqlalchemy.Float):
        return "number"
    return None


def _const_kind(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


def _bind_operand(value: Any) -> _Operand | None:
    """Categorise a bind value; `None` if its type is not supported."""
    if value is None or isinstance(value, bool | str):
        return _Const(value)
    if isinstance(value, np.generic) and not isinstance(value, np.datetime64 | np.timedelta64):
        value = value.item()
    if isinstance(value, bool):
        return _Const(value)
    if isinstance(value, numbers.Integral):
        return _Const(int(value))
    if isinstance(value, numbers.Real):
        return _Const(float(value)) if math.isfinite(float(value)) else None
    if isinstance(value, Time):
        return _TimePoint(time_to_nsec(value)) if value.isscalar else None
    if isinstance(value, sphgeom.Region):
        return _RegionConst(value)
    if hasattr(value, "begin_nsec") and hasattr(value, "end_nsec"):  # a Timespan
        return _TimeRange(int(value.begin_nsec), int(value.end_nsec))
    if isinstance(value, list | tuple | set | frozenset | range | np.ndarray):
        items = [_bind_operand(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
        if any(i is None or isinstance(i, _Values) for i in items):
            return None
        return _Values(tuple(i for i in items if i is not None))
    return None


def to_sqlalchemy(
    expression: Expression | Node | str,
    resolver: ColumnResolver,
    bind: Mapping[str, Any] | None = None,
) -> sqlalchemy.ColumnElement[bool]:
    """Translate a query expression into a SQLAlchemy boolean clause for a ``WHERE``.

    Parameters
    ----------
    expression : `Expression`, `Node` or `str`
        A parsed expression (from `parse_expression`), a tree built in code, or text to parse.
    resolver : `ColumnResolver`
        Maps identifiers to columns and implements the spatial hooks.
    bind : mapping of `str` to value, optional
        Values of the bind parameters ``:name``: numbers, strings, booleans, `None`, astropy
        `~astropy.time.Time` (scalars), `lsst.sphgeom.Region`, objects with ``begin_nsec`` and
        ``end_nsec`` (timespans), and lists/tuples/sets/arrays of scalars (inside ``IN`` only).

    Returns
    -------
    clause : `sqlalchemy.ColumnElement` [`bool`]
        The condition; every literal and bind value in it is a bound parameter.

    Raises
    ------
    QuerySyntaxError
        If ``expression`` is text that does not parse, or a tree deeper than `MAX_DEPTH`.
    UnknownIdentifierError
        If the resolver does not know an identifier (with the expression and caret added).
    MissingBindParameterError
        If a bind parameter used in the expression is not in ``bind``.
    QueryTypeError
        If operands cannot be combined (e.g. ``band = 5`` on a string column, ``visit.region < 3``,
        ``NOT visit``) or a region literal is invalid.
    """
    if isinstance(expression, str):
        expression = parse_expression(expression)
    if isinstance(expression, Expression):
        root, text, positioned = expression.root, expression.text, True
    elif isinstance(expression, Node):
        root, text, positioned = expression, str(expression), False
        if tree_depth(root) > MAX_DEPTH:
            raise QueryTypeError(
                f"expression tree is nested too deeply (more than {MAX_DEPTH} levels)", expression=text
            )
    else:
        raise TypeError(f"expected an Expression, Node or str, got {type(expression).__name__}")
    translator = _Translator(text, positioned, resolver, {} if bind is None else bind)
    try:
        result = translator.visit(root)
        return translator.condition(result, root, "the expression")
    except QueryExpressionError as err:
        raise err.with_context(text, err.position if positioned else None) from None


class _Translator(ExpressionVisitor[_Operand]):
    """One translation (holds the resolver, the bind values and an identifier cache)."""

    def __init__(self, text: str, positioned: bool, resolver: ColumnResolver, bind: Mapping[str, Any]):
        self.text = text
        self.positioned = positioned
        self.resolver = resolver
        self.bind = bind
        self.identifiers: dict[str, _Operand] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def fail(self, message: str, node: Node) -> NoReturn:
        raise QueryTypeError(message, position=node.position if node.position >= 0 else None)

    def call_resolver(self, node: Node, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except QueryExpressionError as err:
            raise err.with_context(self.text, node.position if self.positioned else None) from None

    def condition(self, value: _Operand, node: Node, where: str) -> sqlalchemy.ColumnElement[bool]:
        if isinstance(value, _Sql) and value.boolean:
            return value.expr
        if isinstance(value, _Const) and isinstance(value.value, bool):
            return sqlalchemy.true() if value.value else sqlalchemy.false()
        self.fail(
            f"{where} must be a condition (such as a comparison), but {node} is {_describe(value)}", node
        )

    def sql_value(self, value: _Operand, node: Node) -> sqlalchemy.ColumnElement[Any]:
        if isinstance(value, _Sql):
            return value.expr
        if isinstance(value, _Const):
            v = value.value
            if v is None:
                return sqlalchemy.null()
            sql_type: sqlalchemy.types.TypeEngine[Any] = (
                sqlalchemy.Boolean()
                if isinstance(v, bool)
                else sqlalchemy.BigInteger()
                if isinstance(v, int)
                else sqlalchemy.Float()
                if isinstance(v, float)
                else sqlalchemy.String()
            )
            return sqlalchemy.literal(v, sql_type)
        if isinstance(value, _TimePoint):
            return sqlalchemy.literal(value.ns, sqlalchemy.BigInteger())
        self.fail(f"{node} is {_describe(value)} and cannot be used as a value here", node)

    def check_comparable(self, lhs: _Operand, rhs: _Operand, node: Node) -> None:
        kinds = []
        for side in (lhs, rhs):
            if isinstance(side, _Sql):
                kinds.append(None if side.boolean else _sql_kind(side.expr))
            elif isinstance(side, _Const):
                kinds.append(_const_kind(side.value))
            else:
                kinds.append("number")  # instants compare as int64 nanoseconds
        a, b = kinds
        if a is not None and b is not None and a != b and "boolean" not in (a, b):
            self.fail(f"cannot compare {_describe(lhs)} with {_describe(rhs)} in {node}", node)

    # -- leaves ----------------------------------------------------------------------------------
    def visit_identifier(self, node: Identifier) -> _Operand:
        cached = self.identifiers.get(node.name)
        if cached is not None:
            return cached
        kind = self.call_resolver(node, self.resolver.identifier_kind, node.name)
        result: _Operand
        if kind is IdentifierKind.SCALAR:
            column = self.call_resolver(node, self.resolver.resolve_column, node.name)
            result = _Sql(column, _sql_kind(column) == "boolean")
        elif kind is IdentifierKind.TIMESPAN:
            begin, end = self.call_resolver(node, self.resolver.resolve_timespan, node.name)
            result = _TimespanColumn(node.name, begin, end)
        elif kind is IdentifierKind.REGION:
            result = _RegionColumn(node.name)
        else:
            raise TypeError(f"resolver returned {kind!r} for {node.name!r}; expected an IdentifierKind")
        self.identifiers[node.name] = result
        return result

    def visit_numeric_literal(self, node: NumericLiteral) -> _Operand:
        return _Const(node.value)

    def visit_string_literal(self, node: StringLiteral) -> _Operand:
        return _Const(node.value)

    def visit_boolean_literal(self, node: BooleanLiteral) -> _Operand:
        return _Const(node.value)

    def visit_null_literal(self, node: NullLiteral) -> _Operand:
        return _Const(None)

    def visit_time_literal(self, node: TimeLiteral) -> _Operand:
        return _TimePoint(node.tai_ns)

    def visit_range_literal(self, node: RangeLiteral) -> _Operand:
        self.fail(f"the range {node} can only be used inside IN (...)", node)

    def visit_bind_parameter(self, node: BindParameter) -> _Operand:
        if node.name not in self.bind:
            raise MissingBindParameterError(
                node.name, self.bind, position=node.position if node.position >= 0 else None
            )
        value = self.bind[node.name]
        operand = _bind_operand(value)
        if operand is None:
            self.fail(
                f"bind parameter ':{node.name}' has an unsupported value {value!r} of type "
                f"{type(value).__name__}; use a number, string, bool, None, scalar astropy Time, "
                "sphgeom Region, timespan, or a list of scalars",
                node,
            )
        return operand

    def visit_point(self, node: PointLiteral) -> _Operand:
        return self.region(node)

    def visit_circle(self, node: CircleLiteral) -> _Operand:
        return self.region(node)

    def visit_polygon(self, node: PolygonLiteral) -> _Operand:
        return self.region(node)

    def visit_box(self, node: BoxLiteral) -> _Operand:
        return self.region(node)

    def region(self, node: RegionLiteral) -> _Operand:
        return _RegionConst(region_from_literal(node, self.bind))

    def visit_parenthesized(self, node: Parenthesized) -> _Operand:
        return self.visit(node.expr)

    def visit_tuple(self, node: TupleNode) -> _Operand:
        items = [self.visit(i) for i in node.items]
        if len(items) == 2 and all(
            isinstance(i, _TimePoint) or (isinstance(i, _Const) and i.value is None) for i in items
        ):
            return self.time_range(items[0], items[1], node)
        return _Values(tuple(items))

    def time_range(self, first: _Operand, second: _Operand, node: Node) -> _TimeRange:
        begin = first.ns if isinstance(first, _TimePoint) else None
        end = second.ns if isinstance(second, _TimePoint) else None
        if begin is not None and end is not None and end < begin:
            self.fail(f"the time range {node} ends before it begins; swap its bounds", node)
        return _TimeRange(begin, end)

    # -- operators -------------------------------------------------------------------------------
    def visit_logical_op(self, node: LogicalOp) -> _Operand:
        clauses = [self.condition(self.visit(o), o, f"each operand of {node.op}") for o in node.operands]
        combine = sqlalchemy.and_ if node.op == "AND" else sqlalchemy.or_
        # Databases parse "a OR b OR c ..." into a left-deep tree (SQLite stops at depth 1000), so
        # long chains are grouped into a shallow tree of parenthesised chunks.
        while len(clauses) > _CHAIN_CHUNK:
            clauses = [
                _Parenthesized(combine(*clauses[i : i + _CHAIN_CHUNK]))
                for i in range(0, len(clauses), _CHAIN_CHUNK)
            ]
        return _Sql(combine(*clauses), True)

    def visit_unary_op(self, node: UnaryOp) -> _Operand:
        operand = self.visit(node.operand)
        if node.op == "NOT":
            return _Sql(sqlalchemy.not_(self.condition(operand, node.operand, "the operand of NOT")), True)
        if isinstance(operand, _Const) and _const_kind(operand.value) == "number":
            return _Const(-operand.value if node.op == "-" else operand.value)  # type: ignore[operator]
        if isinstance(operand, _Sql) and not operand.boolean and _sql_kind(operand.expr) in ("number", None):
            return _Sql(-operand.expr if node.op == "-" else operand.expr, False)
        self.fail(f"unary {node.op} needs a number, but {node.operand} is {_describe(operand)}", node)

    def visit_binary_op(self, node: BinaryOp) -> _Operand:
        lhs = self.visit(node.lhs)
        rhs = self.visit(node.rhs)
        if node.op in ARITHMETIC_OPERATORS:
            for side, sub in ((lhs, node.lhs), (rhs, node.rhs)):
                numeric = (isinstance(side, _Const) and _const_kind(side.value) == "number") or (
                    isinstance(side, _Sql) and not side.boolean and _sql_kind(side.expr) in ("number", None)
                )
                if not numeric:
                    self.fail(f"'{node.op}' needs numbers, but {sub} is {_describe(side)}", sub)
            return _Sql(
                _ARITHMETIC[node.op](self.sql_value(lhs, node.lhs), self.sql_value(rhs, node.rhs)), False
            )
        return self.compare(node.op, lhs, rhs, node)

    def compare(self, op: str, lhs: _Operand, rhs: _Operand, node: BinaryOp) -> _Operand:
        if isinstance(rhs, _TimespanColumn) and not isinstance(lhs, _TimespanColumn):
            return self.compare(_MIRROR[op], rhs, lhs, node)
        if isinstance(lhs, _TimespanColumn):
            return self.compare_timespan(op, lhs, rhs, node)
        for side in (lhs, rhs):
            if isinstance(side, _RegionConst | _RegionColumn | _TimeRange | _Values):
                self.fail(f"{_describe(side)} cannot be compared with '{op}'; {_hint(side)}", node)
        rhs_null = isinstance(rhs, _Const) and rhs.value is None
        if rhs_null or (isinstance(lhs, _Const) and lhs.value is None):
            other, other_node = (lhs, node.lhs) if rhs_null else (rhs, node.rhs)
            if op not in ("=", "!="):
                self.fail(f"NULL can only be compared with = or != (meaning IS [NOT] NULL), not '{op}'", node)
            value = self.sql_value(other, other_node)
            return _Sql(value.is_(None) if op == "=" else value.is_not(None), True)
        self.check_comparable(lhs, rhs, node)
        return _Sql(_COMPARE[op](self.sql_value(lhs, node.lhs), self.sql_value(rhs, node.rhs)), True)

    def compare_timespan(self, op: str, span: _TimespanColumn, other: _Operand, node: Node) -> _Operand:
        if op not in ("<", ">"):
            self.fail(
                f"timespans support '<' (ends before), '>' (begins after) and OVERLAPS, not '{op}'", node
            )
        if isinstance(other, _Values) and len(other.items) == 2:
            other = self.time_range(other.items[0], other.items[1], node)
        if isinstance(other, _TimePoint):
            begin: int | None = other.ns
            end: int | None = other.ns + 1
        elif isinstance(other, _TimeRange):
            begin, end = other.begin, other.end
        elif isinstance(other, _TimespanColumn):
            if op == "<":
                return _Sql(span.end <= other.begin, True)
            return _Sql(span.begin >= other.end, True)
        else:
            self.fail(
                "a timespan can only be compared with a time, a time range or a timespan, "
                f"not {_describe(other)}",
                node,
            )
        if op == "<":  # ends at or before the other begins
            if begin is None:
                return _Sql(sqlalchemy.false(), True)
            return _Sql(span.end <= sqlalchemy.literal(begin, sqlalchemy.BigInteger()), True)
        if end is None:
            return _Sql(sqlalchemy.false(), True)
        return _Sql(span.begin >= sqlalchemy.literal(end, sqlalchemy.BigInteger()), True)

    def visit_is_in(self, node: IsIn) -> _Operand:
        lhs = self.visit(node.lhs)
        if not isinstance(lhs, _Sql | _Const | _TimePoint) or (isinstance(lhs, _Sql) and lhs.boolean):
            self.fail(f"IN needs a column or value on its left, but {node.lhs} is {_describe(lhs)}", node.lhs)
        column = self.sql_value(lhs, node.lhs)
        values: list[Any] = []
        alternatives: list[sqlalchemy.ColumnElement[bool]] = []
        for item in node.items:
            if isinstance(item, RangeLiteral):
                self.check_comparable(lhs, _Const(0), node)
                count = 0 if item.stop < item.start else (item.stop - item.start) // item.stride + 1
                if count <= SMALL_RANGE:
                    values.extend(range(item.start, item.stop + 1, item.stride))
                else:
                    start = sqlalchemy.literal(item.start, sqlalchemy.BigInteger())
                    stop = sqlalchemy.literal(item.stop, sqlalchemy.BigInteger())
                    in_range: sqlalchemy.ColumnElement[bool] = column.between(start, stop)
                    if item.stride != 1:
                        stride = sqlalchemy.literal(item.stride, sqlalchemy.BigInteger())
                        in_range = sqlalchemy.and_(in_range, (column - start) % stride == 0)
                    alternatives.append(in_range)
                continue
            operand = self.visit(item)
            members = operand.items if isinstance(operand, _Values) else (operand,)
            for member in members:
                if isinstance(member, _Const) and member.value is None:
                    self.fail("NULL cannot be in an IN list; use IS NULL", item)
                if isinstance(member, _Const | _TimePoint):
                    self.check_comparable(lhs, member, node)
                    values.append(member.ns if isinstance(member, _TimePoint) else member.value)
                elif isinstance(member, _Sql) and not member.boolean:
                    self.check_comparable(lhs, member, node)
                    alternatives.append(column == member.expr)
                else:
                    self.fail(f"IN list items must be values, but {item} is {_describe(member)}", item)
        if values:
            alternatives.insert(0, column.in_(values))
        either = sqlalchemy.or_(*alternatives) if alternatives else sqlalchemy.false()
        return _Sql(sqlalchemy.not_(either) if node.negated else either, True)

    def visit_glob(self, node: Glob) -> _Operand:
        lhs = self.visit(node.lhs)
        if not isinstance(lhs, _Sql) or lhs.boolean or _sql_kind(lhs.expr) not in ("string", None):
            self.fail(f"GLOB needs a string column on its left, but {node.lhs} is {_describe(lhs)}", node.lhs)
        pattern = self.visit(node.pattern)
        if not isinstance(pattern, _Const) or not isinstance(pattern.value, str):
            self.fail(
                f"a GLOB pattern must be a string, but {node.pattern} is {_describe(pattern)}", node.pattern
            )
        try:
            clause: sqlalchemy.ColumnElement[bool] = GlobMatch(lhs.expr, pattern.value)
        except ValueError as err:
            self.fail(str(err), node.pattern)
        return _Sql(sqlalchemy.not_(clause) if node.negated else clause, True)

    def visit_is_null(self, node: IsNull) -> _Operand:
        operand = self.visit(node.operand)
        if not isinstance(operand, _Sql) or operand.boolean:
            self.fail(f"IS NULL needs a column, but {node.operand} is {_describe(operand)}", node.operand)
        return _Sql(operand.expr.is_not(None) if node.negated else operand.expr.is_(None), True)

    def visit_overlaps(self, node: Overlaps) -> _Operand:
        lhs = self.visit(node.lhs)
        rhs = self.visit(node.rhs)
        if not isinstance(lhs, _TimespanColumn | _RegionColumn) and isinstance(
            rhs, _TimespanColumn | _RegionColumn
        ):
            lhs, rhs = rhs, lhs
        if isinstance(lhs, _RegionColumn):
            if isinstance(rhs, _RegionColumn):
                clause = self.call_resolver(node, self.resolver.resolve_region_join, lhs.name, rhs.name)
            elif isinstance(rhs, _RegionConst):
                clause = self.call_resolver(node, self.resolver.resolve_region_overlap, lhs.name, rhs.region)
            else:
                self.fail(f"region {lhs.name} can only overlap a region, not {_describe(rhs)}", node)
            return _Sql(clause, True)
        if isinstance(lhs, _TimespanColumn):
            return _Sql(self.timespan_overlaps(lhs, rhs, node), True)
        self.fail(
            f"OVERLAPS needs a dimension region or timespan on one side, but got {_describe(lhs)} "
            f"and {_describe(rhs)}",
            node,
        )

    def timespan_overlaps(
        self, span: _TimespanColumn, other: _Operand, node: Node
    ) -> sqlalchemy.ColumnElement[bool]:
        if isinstance(other, _Values) and len(other.items) == 2:
            other = self.time_range(other.items[0], other.items[1], node)
        clauses = [span.begin < span.end]
        if isinstance(other, _TimePoint):
            t = sqlalchemy.literal(other.ns, sqlalchemy.BigInteger())
            clauses += [span.begin <= t, span.end > t]
        elif isinstance(other, _TimeRange):
            if other.begin is not None and other.end is not None and other.begin >= other.end:
                return sqlalchemy.false()  # an empty range overlaps nothing
            if other.end is not None:
                clauses.append(span.begin < sqlalchemy.literal(other.end, sqlalchemy.BigInteger()))
            if other.begin is not None:
                clauses.append(span.end > sqlalchemy.literal(other.begin, sqlalchemy.BigInteger()))
        elif isinstance(other, _TimespanColumn):
            clauses += [other.begin < other.end, span.begin < other.end, other.begin < span.end]
        else:
            self.fail(
                f"timespan {span.name} can only overlap a time, a time range or a timespan, "
                f"not {_describe(other)}",
                node,
            )
        return sqlalchemy.and_(*clauses)


def _hint(value: _Operand) -> str:
    if isinstance(value, _RegionConst | _RegionColumn):
        return "use OVERLAPS with regions"
    if isinstance(value, _TimeRange):
        return "use OVERLAPS, or compare a timespan with '<' or '>'"
    return "lists are only allowed inside IN (...)"
