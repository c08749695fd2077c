# SPDX-License-Identifier: GPL-3.0-or-later
"""Evaluation of constant numeric arguments and construction of `lsst.sphgeom` regions from literals."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import lsst.sphgeom as sphgeom

from ._errors import MissingBindParameterError, QueryTypeError
from ._nodes import (
    BinaryOp,
    BindParameter,
    BoxLiteral,
    CircleLiteral,
    Node,
    NumericLiteral,
    Parenthesized,
    PointLiteral,
    PolygonLiteral,
    RegionLiteral,
    UnaryOp,
)

__all__ = ["evaluate_number", "region_from_literal"]


def evaluate_number(node: Node, bind: Mapping[str, Any] | None = None) -> float:
    """The value of a constant numeric expression (numbers, binds, ``+ - * / %``, parentheses).

    Parameters
    ----------
    node : `Node`
        The expression.
    bind : mapping, optional
        Values of bind parameters.

    Returns
    -------
    value : `float`

    Raises
    ------
    QueryTypeError
        If the expression refers to a column, a non-numeric value, or divides by zero.
    MissingBindParameterError
        If a bind parameter has no value.
    """
    bind = {} if bind is None else bind
    # Evaluated with an explicit stack (post-order) so that depth never matters.
    stack: list[tuple[Node, bool]] = [(node, False)]
    values: list[float] = []
    while stack:
        current, expanded = stack.pop()
        if isinstance(current, NumericLiteral):
            values.append(float(current.value))
        elif isinstance(current, BindParameter):
            if current.name not in bind:
                raise MissingBindParameterError(current.name, bind, position=current.position)
            value = bind[current.name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise QueryTypeError(
                    f"bind parameter ':{current.name}' must be a number here, got {type(value).__name__}",
                    position=current.position,
                )
            values.append(float(value))
        elif isinstance(current, Parenthesized):
            stack.append((current.expr, False))
        elif isinstance(current, UnaryOp) and current.op in ("-", "+"):
            if expanded:
                if current.op == "-":
                    values.append(-values.pop())
            else:
                stack.append((current, True))
                stack.append((current.operand, False))
        elif isinstance(current, BinaryOp) and current.op in ("+", "-", "*", "/", "%"):
            if expanded:
                rhs = values.pop()
                lhs = values.pop()
                if current.op in ("/", "%") and rhs == 0:
                    raise QueryTypeError("division by zero in a constant", position=current.position)
                values.append(
                    {
                        "+": lhs + rhs,
                        "-": lhs - rhs,
                        "*": lhs * rhs,
                        "/": lhs / rhs,
                        "%": math.fmod(lhs, rhs),
                    }[current.op]
                )
            else:
                stack.append((current, True))
                stack.append((current.rhs, False))
                stack.append((current.lhs, False))
        else:
            raise QueryTypeError(
                f"expected a constant number, got {current}; region arguments must be numbers or "
                "bind parameters",
                position=current.position,
            )
    return values[0]


def _lon_lat(ra: float, dec: float, node: Node) -> sphgeom.LonLat:
    if not math.isfinite(ra) or not math.isfinite(dec) or not -90.0 <= dec <= 90.0:
        raise QueryTypeError(
            f"invalid sky position (ra={ra}, dec={dec}); dec must be within [-90, 90] degrees",
            position=node.position,
        )
    return sphgeom.LonLat.fromDegrees(ra, dec)


def region_from_literal(node: RegionLiteral, bind: Mapping[str, Any] | None = None) -> sphgeom.Region:
    """The `lsst.sphgeom.Region` described by a region literal (all arguments in degrees).

    ``POINT(ra, dec)`` is a zero-radius `~lsst.sphgeom.Circle` (it contains only that direction),
    ``CIRCLE(ra, dec, r)`` a `~lsst.sphgeom.Circle` of opening angle ``r``, ``POLYGON(...)`` a
    `~lsst.sphgeom.ConvexPolygon` through the vertices, and ``BOX(ra, dec, w, h)`` the
    `~lsst.sphgeom.Box` ``[ra - w/2, ra + w/2] x [dec - h/2, dec + h/2]``.

    Raises
    ------
    QueryTypeError
        If an argument is not a constant number or is out of range (dec outside [-90, 90], radius
        outside [0, 180], box sides not positive), or if the polygon's vertices are not the
        corners of a convex polygon (a concave, repeated or degenerate vertex list).
    """
    args = [evaluate_number(a, bind) for a in node.children()]
    if isinstance(node, PointLiteral):
        center = sphgeom.UnitVector3d(_lon_lat(args[0], args[1], node))
        return sphgeom.Circle(center, sphgeom.Angle(0.0))
    if isinstance(node, CircleLiteral):
        radius = args[2]
        if not 0.0 <= radius <= 180.0:
            raise QueryTypeError(
                f"CIRCLE radius must be within [0, 180] degrees, got {radius}", position=node.position
            )
        center = sphgeom.UnitVector3d(_lon_lat(args[0], args[1], node))
        return sphgeom.Circle(center, sphgeom.Angle.fromDegrees(radius))
    if isinstance(node, BoxLiteral):
        width, height = args[2], args[3]
        if not (0.0 < width <= 360.0 and 0.0 < height <= 180.0):
            raise QueryTypeError(
                f"BOX width must be in (0, 360] and height in (0, 180] degrees, got {width} x {height}",
                position=node.position,
            )
        return sphgeom.Box(
            _lon_lat(args[0], args[1], node),
            sphgeom.Angle.fromDegrees(width / 2.0),
            sphgeom.Angle.fromDegrees(height / 2.0),
        )
    if isinstance(node, PolygonLiteral):
        vertices = [
            sphgeom.UnitVector3d(_lon_lat(args[i], args[i + 1], node)) for i in range(0, len(args), 2)
        ]
        try:
            polygon = sphgeom.ConvexPolygon(vertices)
        except (RuntimeError, ValueError) as err:
            raise QueryTypeError(
                f"POLYGON vertices do not form a convex polygon smaller than a hemisphere ({err})",
                position=node.position,
            ) from None
        if len(polygon.getVertices()) != len(vertices):
            raise QueryTypeError(
                f"POLYGON vertices do not form a convex polygon: {len(vertices)} vertices given but "
                f"their convex hull has {len(polygon.getVertices())} (a vertex is repeated or lies "
                "inside); give the corners of a convex polygon",
                position=node.position,
            )
        return polygon
    raise QueryTypeError(f"unsupported region literal {node}", position=node.position)
