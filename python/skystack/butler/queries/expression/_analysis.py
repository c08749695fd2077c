# SPDX-License-Identifier: GPL-3.0-or-later
"""Questions the query system asks of an expression before translating it.

`referenced_identifiers` tells it which dimensions to join; `spatial_constraints`,
`spatial_joins` and `temporal_constraints` pull out region and time literals so that it can
pre-filter (e.g. turn a region into HEALPix pixel ranges, or a time range into a calibration
lookup). Each constraint says whether it is *required*: reached from the top of the expression
through ``AND`` and parentheses only, so every matching row must satisfy it (one under ``OR`` or
``NOT`` is not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import lsst.sphgeom as sphgeom
from astropy.time import Time

from skystack.butler.timespan import time_to_nsec

from ._errors import MissingBindParameterError, QueryExpressionError
from ._nodes import (
    BinaryOp,
    BindParameter,
    Expression,
    Identifier,
    LogicalOp,
    Node,
    NullLiteral,
    Overlaps,
    Parenthesized,
    RegionLiteral,
    TimeLiteral,
    TupleNode,
    iter_nodes,
)
from ._regions import region_from_literal

__all__ = [
    "SpatialConstraint",
    "TemporalConstraint",
    "referenced_identifiers",
    "spatial_constraints",
    "spatial_joins",
    "temporal_constraints",
]


@dataclass(frozen=True)
class SpatialConstraint:
    """``identifier OVERLAPS <region literal or bind>`` found in an expression.

    Attributes
    ----------
    identifier : `str`
        The region identifier as written (e.g. ``visit_detector_region.region``).
    region : `lsst.sphgeom.Region`
        The literal region.
    required : `bool`
        Whether every row matching the whole expression satisfies this constraint.
    """

    identifier: str
    region: sphgeom.Region
    required: bool


@dataclass(frozen=True)
class TemporalConstraint:
    """A comparison of an identifier with a time or time range found in an expression.

    Attributes
    ----------
    identifier : `str`
        The identifier as written (usually a timespan such as ``exposure.timespan``).
    relation : {"overlaps", "before", "after"}
        ``identifier OVERLAPS t``, ``identifier < t`` (before) or ``identifier > t`` (after).
    begin_ns, end_ns : `int` or `None`
        The literal as a half-open interval of TAI nanoseconds (`None`: unbounded); an instant
        ``t`` is ``[t, t + 1)``.
    required : `bool`
        Whether every row matching the whole expression satisfies this constraint.
    """

    identifier: str
    relation: Literal["overlaps", "before", "after"]
    begin_ns: int | None
    end_ns: int | None
    required: bool


def _root(expression: Expression | Node) -> Node:
    return expression.root if isinstance(expression, Expression) else expression


def _required_nodes(root: Node) -> set[int]:
    """``id()`` of nodes reached from ``root`` through AND and parentheses only."""
    required = set()
    stack = [root]
    while stack:
        node = stack.pop()
        required.add(id(node))
        if isinstance(node, Parenthesized):
            stack.append(node.expr)
        elif isinstance(node, LogicalOp) and node.op == "AND":
            stack.extend(node.operands)
    return required


def _unwrap(node: Node) -> Node:
    while isinstance(node, Parenthesized):
        node = node.expr
    return node


def _bind_value(node: BindParameter, bind: Mapping[str, Any] | None) -> Any:
    if bind is None or node.name not in bind:
        raise MissingBindParameterError(node.name, bind or {}, position=node.position)
    return bind[node.name]


def referenced_identifiers(expression: Expression | Node) -> frozenset[str]:
    """The identifiers used in an expression, as written (``{"visit", "exposure.timespan"}``)."""
    return frozenset(n.name for n in iter_nodes(_root(expression)) if isinstance(n, Identifier))


def spatial_constraints(
    expression: Expression | Node, bind: Mapping[str, Any] | None = None
) -> tuple[SpatialConstraint, ...]:
    """The ``identifier OVERLAPS region`` constraints of an expression, in source order.

    Parameters
    ----------
    expression : `Expression` or `Node`
        The parsed expression.
    bind : mapping, optional
        Bind values; a bind on the other side of ``OVERLAPS`` counts if it holds a
        `lsst.sphgeom.Region` (and is skipped otherwise).

    Raises
    ------
    QueryTypeError
        If a region literal is invalid.
    MissingBindParameterError
        If a region argument or an ``OVERLAPS`` operand is an unsupplied bind parameter.
    """
    root = _root(expression)
    required = _required_nodes(root)
    found = []
    for node in iter_nodes(root):
        if not isinstance(node, Overlaps):
            continue
        sides = (_unwrap(node.lhs), _unwrap(node.rhs))
        for ident, other in (sides, sides[::-1]):
            if not isinstance(ident, Identifier):
                continue
            region: sphgeom.Region | None = None
            try:
                if isinstance(other, RegionLiteral):
                    region = region_from_literal(other, bind)
                elif isinstance(other, BindParameter):
                    value = _bind_value(other, bind)
                    region = value if isinstance(value, sphgeom.Region) else None
            except QueryExpressionError as err:
                if isinstance(expression, Expression):
                    raise err.with_context(expression.text, err.position) from None
                raise
            if region is not None:
                found.append(SpatialConstraint(ident.name, region, id(node) in required))
    return tuple(found)


def spatial_joins(expression: Expression | Node) -> tuple[tuple[str, str], ...]:
    """``(a, b)`` for each ``a OVERLAPS b`` between two identifiers (a spatial or temporal join)."""
    joins = []
    for node in iter_nodes(_root(expression)):
        if isinstance(node, Overlaps):
            lhs, rhs = _unwrap(node.lhs), _unwrap(node.rhs)
            if isinstance(lhs, Identifier) and isinstance(rhs, Identifier):
                joins.append((lhs.name, rhs.name))
    return tuple(joins)


def _time_interval(node: Node, bind: Mapping[str, Any] | None) -> tuple[int | None, int | None] | None:
    """The half-open interval of a time literal, time range or time-valued bind; `None` otherwise."""
    node = _unwrap(node)
    if isinstance(node, TimeLiteral):
        return node.tai_ns, node.tai_ns + 1
    if isinstance(node, BindParameter):
        value = _bind_value(node, bind)
        if isinstance(value, Time) and value.isscalar:
            ns = time_to_nsec(value)
            return ns, ns + 1
        if hasattr(value, "begin_nsec") and hasattr(value, "end_nsec"):
            return int(value.begin_nsec), int(value.end_nsec)
        return None
    if isinstance(node, TupleNode) and len(node.items) == 2:
        bounds: list[int | None] = []
        for item in node.items:
            item = _unwrap(item)
            if isinstance(item, NullLiteral):
                bounds.append(None)
            elif isinstance(item, TimeLiteral):
                bounds.append(item.tai_ns)
            else:
                return None
        return bounds[0], bounds[1]
    return None


def temporal_constraints(
    expression: Expression | Node, bind: Mapping[str, Any] | None = None
) -> tuple[TemporalConstraint, ...]:
    """The comparisons of identifiers with time literals, time ranges or time binds, in source order.

    ``ts OVERLAPS <time>`` gives ``"overlaps"``; ``ts < <time>`` gives ``"before"`` and
    ``ts > <time>`` ``"after"`` (with the sides swapped when the identifier is on the right).
    Which identifiers are timespans is the resolver's business; filter by name as needed.

    Raises
    ------
    MissingBindParameterError
        If the time side is a bind parameter not in ``bind``.
    """
    root = _root(expression)
    required = _required_nodes(root)
    found = []
    for node in iter_nodes(root):
        if isinstance(node, Overlaps):
            relations = ("overlaps", "overlaps")
        elif isinstance(node, BinaryOp) and node.op in ("<", ">"):
            relations = ("before", "after") if node.op == "<" else ("after", "before")
        else:
            continue
        lhs, rhs = _unwrap(node.lhs), _unwrap(node.rhs)
        for ident, other, relation in ((lhs, rhs, relations[0]), (rhs, lhs, relations[1])):
            if not isinstance(ident, Identifier):
                continue
            try:
                interval = _time_interval(other, bind)
            except QueryExpressionError as err:
                if isinstance(expression, Expression):
                    raise err.with_context(expression.text, err.position) from None
                raise
            if interval is not None:
                found.append(
                    TemporalConstraint(ident.name, relation, interval[0], interval[1], id(node) in required)  # type: ignore[arg-type]
                )
    return tuple(found)
