# SPDX-License-Identifier: GPL-3.0-or-later
"""Syntax tree of the query expression language: small frozen dataclasses and a visitor base class.

Every node renders back to the language with `str` (``parse_expression(str(tree))`` gives an equal
tree), knows the offset in the source text where it started (``position``, ignored by ``==``), and
lists its sub-nodes with `Node.children`. `ExpressionVisitor` dispatches on the node type.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from skystack.butler.timespan import nsec_to_time

if TYPE_CHECKING:
    from astropy.time import Time

__all__ = [
    "BinaryOp",
    "BindParameter",
    "BooleanLiteral",
    "BoxLiteral",
    "CircleLiteral",
    "Expression",
    "ExpressionVisitor",
    "Glob",
    "Identifier",
    "IsIn",
    "IsNull",
    "LogicalOp",
    "Node",
    "NullLiteral",
    "NumericLiteral",
    "Overlaps",
    "Parenthesized",
    "PointLiteral",
    "PolygonLiteral",
    "RangeLiteral",
    "RegionLiteral",
    "StringLiteral",
    "TimeLiteral",
    "TupleNode",
    "UnaryOp",
    "iter_nodes",
    "tree_depth",
]

T = TypeVar("T")

COMPARISON_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})
ARITHMETIC_OPERATORS = frozenset({"+", "-", "*", "/", "%"})

# Binding strength used to decide where parentheses are needed when printing.
_PREC_OR, _PREC_AND, _PREC_NOT, _PREC_PREDICATE, _PREC_ADD, _PREC_MUL, _PREC_UNARY, _PREC_ATOM = range(1, 9)


def _wrap(node: Node, minimum: int) -> str:
    """``str(node)``, in parentheses if it binds less tightly than ``minimum``."""
    text = str(node)
    return f"({text})" if node.precedence < minimum else text


def _quote(text: str) -> str:
    """``text`` as a single-quoted string literal of the language."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )
    return f"'{escaped}'"


@dataclass(frozen=True)
class Node(abc.ABC):
    """Base class of syntax-tree nodes.

    Attributes
    ----------
    position : `int`
        0-based offset of the node in the source text (-1 if built in code); not compared by ``==``.
    """

    position: int = field(default=-1, compare=False, repr=False, kw_only=True)

    @property
    def precedence(self) -> int:
        """How tightly the node binds when printed (higher binds tighter)."""
        return _PREC_ATOM

    def children(self) -> tuple[Node, ...]:
        """The direct sub-nodes, in source order."""
        return ()

    @abc.abstractmethod
    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        """Call the ``visitor`` method for this node type and return its result."""


@dataclass(frozen=True)
class Identifier(Node):
    """A column or dimension name, possibly dotted: ``visit``, ``exposure.exposure_time``."""

    name: str

    def __str__(self) -> str:
        return self.name

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_identifier(self)


@dataclass(frozen=True)
class NumericLiteral(Node):
    """An integer or floating-point number (non-negative when parsed; ``-`` is a `UnaryOp`)."""

    value: int | float

    @property
    def precedence(self) -> int:
        return _PREC_UNARY if self.value < 0 else _PREC_ATOM

    def __str__(self) -> str:
        return repr(self.value)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_numeric_literal(self)


@dataclass(frozen=True)
class StringLiteral(Node):
    """A string (quotes and escapes already decoded)."""

    value: str

    def __str__(self) -> str:
        return _quote(self.value)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_string_literal(self)


@dataclass(frozen=True)
class BooleanLiteral(Node):
    """``TRUE`` or ``FALSE``."""

    value: bool

    def __str__(self) -> str:
        return "TRUE" if self.value else "FALSE"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_boolean_literal(self)


@dataclass(frozen=True)
class NullLiteral(Node):
    """``NULL``."""

    def __str__(self) -> str:
        return "NULL"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_null_literal(self)


@dataclass(frozen=True)
class TimeLiteral(Node):
    """A time ``T'2024-01-01T00:00:00'`` or ``T'60000.5'`` (MJD), held as integer TAI nanoseconds.

    Attributes
    ----------
    tai_ns : `int`
        TAI nanoseconds since 1970-01-01T00:00:00 TAI (see `time_to_nsec`); compared by ``==``.
    text : `str`
        The literal's text as written (empty if built in code); used only for printing.
    """

    tai_ns: int
    text: str = field(default="", compare=False)

    @property
    def time(self) -> Time:
        """The literal as an astropy time (TAI scale)."""
        return nsec_to_time(self.tai_ns)

    def __str__(self) -> str:
        text = self.text
        if not text:
            time = self.time
            time.precision = 9
            text = f"{time.isot}/tai"
        return "T" + _quote(text)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_time_literal(self)


@dataclass(frozen=True)
class RangeLiteral(Node):
    """An inclusive integer range ``start..stop`` or ``start..stop:stride``; only valid in ``IN (...)``."""

    start: int
    stop: int
    stride: int = 1

    def __str__(self) -> str:
        text = f"{self.start}..{self.stop}"
        return text if self.stride == 1 else f"{text}:{self.stride}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_range_literal(self)


@dataclass(frozen=True)
class BindParameter(Node):
    """A named placeholder ``:name`` whose value is supplied at translation."""

    name: str

    def __str__(self) -> str:
        return f":{self.name}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_bind_parameter(self)


@dataclass(frozen=True)
class UnaryOp(Node):
    """``NOT x``, ``-x`` or ``+x``."""

    op: Literal["NOT", "-", "+"]
    operand: Node

    @property
    def precedence(self) -> int:
        return _PREC_NOT if self.op == "NOT" else _PREC_UNARY

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def __str__(self) -> str:
        if self.op == "NOT":
            return f"NOT {_wrap(self.operand, _PREC_NOT)}"
        return f"{self.op}{_wrap(self.operand, _PREC_UNARY)}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_unary_op(self)


@dataclass(frozen=True)
class BinaryOp(Node):
    """A comparison (``= != < <= > >=``) or arithmetic (``+ - * / %``) of two operands."""

    op: str
    lhs: Node
    rhs: Node

    @property
    def precedence(self) -> int:
        if self.op in COMPARISON_OPERATORS:
            return _PREC_PREDICATE
        return _PREC_ADD if self.op in ("+", "-") else _PREC_MUL

    def children(self) -> tuple[Node, ...]:
        return (self.lhs, self.rhs)

    def __str__(self) -> str:
        p = self.precedence
        left_min = p + 1 if p == _PREC_PREDICATE else p  # comparisons do not chain
        return f"{_wrap(self.lhs, left_min)} {self.op} {_wrap(self.rhs, p + 1)}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_binary_op(self)


@dataclass(frozen=True)
class LogicalOp(Node):
    """``a AND b AND ...`` or ``a OR b OR ...``, flattened to one node per chain."""

    op: Literal["AND", "OR"]
    operands: tuple[Node, ...]

    @property
    def precedence(self) -> int:
        return _PREC_AND if self.op == "AND" else _PREC_OR

    def children(self) -> tuple[Node, ...]:
        return self.operands

    def __str__(self) -> str:
        return f" {self.op} ".join(_wrap(o, self.precedence + 1) for o in self.operands)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_logical_op(self)


@dataclass(frozen=True)
class IsIn(Node):
    """``lhs [NOT] IN (item, ...)``; items may be values, `RangeLiteral` or list-valued binds."""

    lhs: Node
    items: tuple[Node, ...]
    negated: bool = False

    @property
    def precedence(self) -> int:
        return _PREC_PREDICATE

    def children(self) -> tuple[Node, ...]:
        return (self.lhs, *self.items)

    def __str__(self) -> str:
        keyword = "NOT IN" if self.negated else "IN"
        items = ", ".join(str(i) for i in self.items)
        return f"{_wrap(self.lhs, _PREC_PREDICATE + 1)} {keyword} ({items})"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_is_in(self)


@dataclass(frozen=True)
class Glob(Node):
    """``lhs [NOT] GLOB pattern``: ``*`` matches any run of characters, ``?`` one; ``\\`` escapes."""

    lhs: Node
    pattern: Node
    negated: bool = False

    @property
    def precedence(self) -> int:
        return _PREC_PREDICATE

    def children(self) -> tuple[Node, ...]:
        return (self.lhs, self.pattern)

    def __str__(self) -> str:
        keyword = "NOT GLOB" if self.negated else "GLOB"
        return f"{_wrap(self.lhs, _PREC_PREDICATE + 1)} {keyword} {_wrap(self.pattern, _PREC_PREDICATE + 1)}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_glob(self)


@dataclass(frozen=True)
class IsNull(Node):
    """``operand IS [NOT] NULL``."""

    operand: Node
    negated: bool = False

    @property
    def precedence(self) -> int:
        return _PREC_PREDICATE

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def __str__(self) -> str:
        return f"{_wrap(self.operand, _PREC_PREDICATE + 1)} IS {'NOT NULL' if self.negated else 'NULL'}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_is_null(self)


@dataclass(frozen=True)
class Overlaps(Node):
    """``lhs OVERLAPS rhs`` between regions (spatial) or timespans/times (temporal)."""

    lhs: Node
    rhs: Node

    @property
    def precedence(self) -> int:
        return _PREC_PREDICATE

    def children(self) -> tuple[Node, ...]:
        return (self.lhs, self.rhs)

    def __str__(self) -> str:
        return f"{_wrap(self.lhs, _PREC_PREDICATE + 1)} OVERLAPS {_wrap(self.rhs, _PREC_PREDICATE + 1)}"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_overlaps(self)


@dataclass(frozen=True)
class TupleNode(Node):
    """``(a, b, ...)``: a parenthesised list of two or more values, e.g. a time range ``(T'...', T'...')``."""

    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items

    def __str__(self) -> str:
        return "(" + ", ".join(str(i) for i in self.items) + ")"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_tuple(self)


@dataclass(frozen=True)
class RegionLiteral(Node):
    """Base class of the sky-region constructors; arguments are numeric expressions in degrees."""

    @property
    def function_name(self) -> str:
        """The constructor keyword, e.g. ``"CIRCLE"``."""
        return type(self).__name__.removesuffix("Literal").upper()

    def __str__(self) -> str:
        return f"{self.function_name}({', '.join(str(a) for a in self.children())})"


@dataclass(frozen=True)
class PointLiteral(RegionLiteral):
    """``POINT(ra, dec)``."""

    ra: Node
    dec: Node

    def children(self) -> tuple[Node, ...]:
        return (self.ra, self.dec)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_point(self)


@dataclass(frozen=True)
class CircleLiteral(RegionLiteral):
    """``CIRCLE(ra, dec, radius)``; the radius is an opening angle in degrees."""

    ra: Node
    dec: Node
    radius: Node

    def children(self) -> tuple[Node, ...]:
        return (self.ra, self.dec, self.radius)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_circle(self)


@dataclass(frozen=True)
class PolygonLiteral(RegionLiteral):
    """``POLYGON(ra1, dec1, ra2, dec2, ra3, dec3, ...)``: a convex polygon of three or more vertices."""

    coordinates: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.coordinates

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_polygon(self)


@dataclass(frozen=True)
class BoxLiteral(RegionLiteral):
    """``BOX(ra, dec, width, height)``: centred on (ra, dec), spanning ``width`` degrees of RA and
    ``height`` degrees of Dec (an RA/Dec rectangle, so its on-sky width shrinks with cos(dec))."""

    ra: Node
    dec: Node
    width: Node
    height: Node

    def children(self) -> tuple[Node, ...]:
        return (self.ra, self.dec, self.width, self.height)

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_box(self)


@dataclass(frozen=True)
class Parenthesized(Node):
    """``(expr)`` as written, kept so that printing reproduces the user's grouping."""

    expr: Node

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)

    def __str__(self) -> str:
        return f"({self.expr})"

    def accept(self, visitor: ExpressionVisitor[T]) -> T:
        return visitor.visit_parenthesized(self)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: the tree and the text it came from (for error messages).

    Attributes
    ----------
    root : `Node`
        The syntax tree.
    text : `str`
        The source text; ``str(expression)`` is the canonical rendering of ``root`` instead.
    """

    root: Node
    text: str = field(compare=False)

    def __str__(self) -> str:
        return str(self.root)


class ExpressionVisitor(abc.ABC, Generic[T]):
    """Base class of tree visitors: one method per node type, dispatched by `visit`."""

    def visit(self, node: Node) -> T:
        """Dispatch ``node`` to the method for its type and return the result."""
        return node.accept(self)

    @abc.abstractmethod
    def visit_identifier(self, node: Identifier) -> T: ...

    @abc.abstractmethod
    def visit_numeric_literal(self, node: NumericLiteral) -> T: ...

    @abc.abstractmethod
    def visit_string_literal(self, node: StringLiteral) -> T: ...

    @abc.abstractmethod
    def visit_boolean_literal(self, node: BooleanLiteral) -> T: ...

    @abc.abstractmethod
    def visit_null_literal(self, node: NullLiteral) -> T: ...

    @abc.abstractmethod
    def visit_time_literal(self, node: TimeLiteral) -> T: ...

    @abc.abstractmethod
    def visit_range_literal(self, node: RangeLiteral) -> T: ...

    @abc.abstractmethod
    def visit_bind_parameter(self, node: BindParameter) -> T: ...

    @abc.abstractmethod
    def visit_unary_op(self, node: UnaryOp) -> T: ...

    @abc.abstractmethod
    def visit_binary_op(self, node: BinaryOp) -> T: ...

    @abc.abstractmethod
    def visit_logical_op(self, node: LogicalOp) -> T: ...

    @abc.abstractmethod
    def visit_is_in(self, node: IsIn) -> T: ...

    @abc.abstractmethod
    def visit_glob(self, node: Glob) -> T: ...

    @abc.abstractmethod
    def visit_is_null(self, node: IsNull) -> T: ...

    @abc.abstractmethod
    def visit_overlaps(self, node: Overlaps) -> T: ...

    @abc.abstractmethod
    def visit_tuple(self, node: TupleNode) -> T: ...

    @abc.abstractmethod
    def visit_point(self, node: PointLiteral) -> T: ...

    @abc.abstractmethod
    def visit_circle(self, node: CircleLiteral) -> T: ...

    @abc.abstractmethod
    def visit_polygon(self, node: PolygonLiteral) -> T: ...

    @abc.abstractmethod
    def visit_box(self, node: BoxLiteral) -> T: ...

    @abc.abstractmethod
    def visit_parenthesized(self, node: Parenthesized) -> T: ...


def iter_nodes(root: Node) -> Iterator[Node]:
    """Every node of the tree under (and including) ``root``, depth first, without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def tree_depth(root: Node) -> int:
    """The number of nodes on the longest path from ``root`` to a leaf, computed without recursion."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children())
    return deepest
