# SPDX-License-Identifier: GPL-3.0-or-later
"""Recursive-descent parser of the query expression language.

Grammar (keywords are case-insensitive; binding from loosest to tightest)::

    expression  := or_expr
    or_expr     := and_expr ("OR" and_expr)*
    and_expr    := not_expr ("AND" not_expr)*
    not_expr    := "NOT"* predicate
    predicate   := sum [ compare_op sum
                       | ["NOT"] "IN" "(" in_item ("," in_item)* ")"
                       | ["NOT"] "GLOB" (string | bind)
                       | "IS" ["NOT"] "NULL"
                       | "OVERLAPS" sum ]
    compare_op  := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    in_item     := sum | integer ".." integer [":" integer]
    sum         := product (("+" | "-") product)*
    product     := unary (("*" | "/" | "%") unary)*
    unary       := ("-" | "+")* primary
    primary     := number | string | time | bind | "TRUE" | "FALSE" | "NULL" | identifier
                 | region "(" sum ("," sum)* ")" | "(" expression ")" | "(" expression ("," expression)+ ")"
    region      := "POINT" | "CIRCLE" | "POLYGON" | "BOX"
    time        := T'2024-01-01T00:00:00' | T'60000.5' | T'...'/scale   (MJD and ISO, TAI unless /scale)

Comparisons do not chain (``a < b < c`` is an error: combine with ``AND``). Nesting is limited
(`MAX_NESTING` levels of parentheses, `MAX_DEPTH` levels of tree) so that hostile input gives a
`QuerySyntaxError` rather than a `RecursionError`.
"""

from __future__ import annotations

from collections.abc import Callable

from ._errors import QuerySyntaxError
from ._lexer import Token, TokenKind, iter_tokens
from ._nodes import (
    COMPARISON_OPERATORS,
    BinaryOp,
    BindParameter,
    BooleanLiteral,
    BoxLiteral,
    CircleLiteral,
    Expression,
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
    StringLiteral,
    TimeLiteral,
    TupleNode,
    UnaryOp,
    tree_depth,
)
from ._time import parse_time_literal

__all__ = ["MAX_DEPTH", "MAX_NESTING", "parse_expression"]

MAX_NESTING = 40
"""Most levels of parentheses (including IN lists and region arguments) an expression may nest."""
MAX_DEPTH = 100
"""Most levels a syntax tree may have (chains of NOT, unary minus or arithmetic count too)."""

_REGION_ARITY: dict[str, tuple[int, str]] = {
    "POINT": (2, "POINT(ra, dec)"),
    "CIRCLE": (3, "CIRCLE(ra, dec, radius)"),
    "BOX": (4, "BOX(ra, dec, width, height)"),
    "POLYGON": (-1, "POLYGON(ra1, dec1, ra2, dec2, ra3, dec3, ...)"),
}


def parse_expression(text: str) -> Expression:
    """Parse a query expression such as ``"instrument = 'HSC' AND visit IN (1..10)"``.

    Parameters
    ----------
    text : `str`
        The expression.

    Returns
    -------
    expression : `Expression`
        The syntax tree (``.root``) with the text it came from (``.text``).

    Raises
    ------
    QuerySyntaxError
        If the text is empty, does not follow the grammar, has an invalid literal, or nests more
        deeply than `MAX_NESTING` parentheses / `MAX_DEPTH` tree levels. The message shows the
        expression with a caret under the offending position.
    TypeError
        If ``text`` is not a `str`.
    """
    if not isinstance(text, str):
        raise TypeError(f"a query expression must be a str, got {type(text).__name__}")
    return _Parser(text).parse()


def _int_value(node: Node) -> int | None:
    """The value of an integer literal, possibly negated; `None` for anything else."""
    sign = 1
    while isinstance(node, UnaryOp) and node.op in ("-", "+"):
        sign = -sign if node.op == "-" else sign
        node = node.operand
    if isinstance(node, NumericLiteral) and isinstance(node.value, int):
        return sign * node.value
    return None


class _Parser:
    """One parse of one expression (holds the token cursor)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.token_stream = iter_tokens(text)
        self.tokens: list[Token] = []  # lexed so far (lazily, so an early error stops lexing)
        self.index = 0
        self.nesting = 0

    # -- token helpers ---------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token:
        wanted = self.index + offset
        tokens = self.tokens
        if wanted < len(tokens):
            return tokens[wanted]
        while len(tokens) <= wanted:
            if tokens and tokens[-1].kind is TokenKind.END:
                return tokens[-1]
            tokens.append(next(self.token_stream))
        return tokens[wanted]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.value == word and token.kind is TokenKind.KEYWORD

    def error(self, message: str, position: int | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(
            message, expression=self.text, position=self.peek().position if position is None else position
        )

    def expected(self, what: str) -> QuerySyntaxError:
        token = self.peek()
        found = token.describe()
        return self.error(f"expected {what}, found {found}")

    def expect(self, kind: TokenKind, what: str) -> Token:
        if self.peek().kind is not kind:
            raise self.expected(what)
        return self.advance()

    def enter(self, position: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(
                f"expression is nested too deeply (more than {MAX_NESTING} levels of parentheses); "
                "simplify it",
                position,
            )

    # -- grammar ---------------------------------------------------------------------------------
    def parse(self) -> Expression:
        if self.peek().kind is TokenKind.END:
            raise self.error('empty expression; write a condition such as "visit = 42"', 0)
        root = self.parse_or()
        if self.peek().kind is not TokenKind.END:
            token = self.peek()
            if token.kind is TokenKind.RPAREN:
                raise self.error("unmatched ')'")
            raise self.expected("AND, OR or the end of the expression")
        if tree_depth(root) > MAX_DEPTH:
            raise self.error(
                f"expression is nested too deeply (more than {MAX_DEPTH} levels); simplify it", 0
            )
        return Expression(root, self.text)

    def _chain(self, word: str, parse_operand: Callable[[], Node]) -> Node:
        operands = [parse_operand()]
        while self.is_keyword(word):
            self.advance()
            operands.append(parse_operand())
        if len(operands) == 1:
            return operands[0]
        return LogicalOp(word, tuple(operands), position=operands[0].position)  # type: ignore[arg-type]

    def parse_or(self) -> Node:
        return self._chain("OR", self.parse_and)

    def parse_and(self) -> Node:
        return self._chain("AND", self.parse_not)

    def parse_not(self) -> Node:
        positions = []
        while self.is_keyword("NOT"):
            positions.append(self.advance().position)
        node = self.parse_predicate()
        for position in reversed(positions):
            node = UnaryOp("NOT", node, position=position)
        return node

    def parse_predicate(self) -> Node:
        lhs = self.parse_sum()
        token = self.peek()
        position = lhs.position
        node: Node
        if token.kind is TokenKind.OPERATOR and token.value in COMPARISON_OPERATORS:
            self.advance()
            node = BinaryOp(str(token.value), lhs, self.parse_sum(), position=position)
            after = self.peek()
            if after.kind is TokenKind.OPERATOR and after.value in COMPARISON_OPERATORS:
                raise self.error("comparisons cannot be chained; combine them with AND")
            return node
        negated = False
        if self.is_keyword("NOT") and (self.is_keyword("IN", 1) or self.is_keyword("GLOB", 1)):
            self.advance()
            negated = True
        elif self.is_keyword("NOT"):
            self.advance()
            raise self.expected("IN or GLOB after NOT")
        if self.is_keyword("IN"):
            self.advance()
            return IsIn(lhs, self.parse_in_list(), negated, position=position)
        if self.is_keyword("GLOB"):
            self.advance()
            pattern_token = self.peek()
            if pattern_token.kind is TokenKind.STRING:
                pattern: Node = StringLiteral(str(self.advance().value), position=pattern_token.position)
            elif pattern_token.kind is TokenKind.BIND:
                pattern = BindParameter(str(self.advance().value), position=pattern_token.position)
            else:
                raise self.expected("a quoted pattern or a bind parameter after GLOB")
            return Glob(lhs, pattern, negated, position=position)
        if self.is_keyword("IS"):
            self.advance()
            is_not = False
            if self.is_keyword("NOT"):
                self.advance()
                is_not = True
            if not self.is_keyword("NULL"):
                raise self.expected("NULL after IS" if not is_not else "NULL after IS NOT")
            self.advance()
            return IsNull(lhs, is_not, position=position)
        if self.is_keyword("OVERLAPS"):
            self.advance()
            return Overlaps(lhs, self.parse_sum(), position=position)
        return lhs

    def parse_in_list(self) -> tuple[Node, ...]:
        open_token = self.expect(TokenKind.LPAREN, "'(' after IN")
        self.enter(open_token.position)
        if self.peek().kind is TokenKind.RPAREN:
            raise self.error("empty IN list; give at least one value")
        items = [self.parse_in_item()]
        while self.peek().kind is TokenKind.COMMA:
            self.advance()
            items.append(self.parse_in_item())
        if self.peek().kind is not TokenKind.RPAREN:
            raise self.expected("',' or ')' after IN list item")
        self.advance()
        self.nesting -= 1
        return tuple(items)

    def parse_in_item(self) -> Node:
        item = self.parse_sum()
        if self.peek().kind is not TokenKind.DOTDOT:
            return item
        start = _int_value(item)
        if start is None:
            raise self.error("a range must start with an integer literal, e.g. 1..10", item.position)
        self.advance()
        stop_node = self.parse_sum()
        stop = _int_value(stop_node)
        if stop is None:
            raise self.error("a range must end with an integer literal, e.g. 1..10", stop_node.position)
        stride = 1
        if self.peek().kind is TokenKind.COLON:
            self.advance()
            stride_token = self.peek()
            if stride_token.kind is not TokenKind.INTEGER or int(stride_token.value) <= 0:
                raise self.expected("a positive integer stride after ':' in range")
            stride = int(self.advance().value)
        return RangeLiteral(start, stop, stride, position=item.position)

    def parse_sum(self) -> Node:
        node = self.parse_product()
        while self.peek().kind is TokenKind.OPERATOR and self.peek().value in ("+", "-"):
            op = str(self.advance().value)
            node = BinaryOp(op, node, self.parse_product(), position=node.position)
        return node

    def parse_product(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind is TokenKind.OPERATOR and self.peek().value in ("*", "/", "%"):
            op = str(self.advance().value)
            node = BinaryOp(op, node, self.parse_unary(), position=node.position)
        return node

    def parse_unary(self) -> Node:
        signs: list[Token] = []
        while self.peek().kind is TokenKind.OPERATOR and self.peek().value in ("-", "+"):
            signs.append(self.advance())
        node = self.parse_primary()
        for sign in reversed(signs):
            node = UnaryOp("-" if sign.value == "-" else "+", node, position=sign.position)
        return node

    def parse_primary(self) -> Node:
        token = self.peek()
        kind = token.kind
        pos = token.position
        if kind is TokenKind.INTEGER or kind is TokenKind.FLOAT:
            self.advance()
            return NumericLiteral(token.value, position=pos)  # type: ignore[arg-type]
        if kind is TokenKind.STRING:
            self.advance()
            return StringLiteral(str(token.value), position=pos)
        if kind is TokenKind.TIME:
            self.advance()
            try:
                ns = parse_time_literal(str(token.value))
            except ValueError as err:
                raise self.error(f"invalid time literal T'{token.value}': {err}", pos) from None
            return TimeLiteral(ns, str(token.value), position=pos)
        if kind is TokenKind.BIND:
            self.advance()
            return BindParameter(str(token.value), position=pos)
        if kind is TokenKind.KEYWORD and token.value in ("TRUE", "FALSE"):
            self.advance()
            return BooleanLiteral(token.value == "TRUE", position=pos)
        if kind is TokenKind.KEYWORD and token.value == "NULL":
            self.advance()
            return NullLiteral(position=pos)
        if kind is TokenKind.IDENTIFIER:
            self.advance()
            name = str(token.value)
            if name.upper() in _REGION_ARITY and self.peek().kind is TokenKind.LPAREN:
                return self.parse_region(name.upper(), pos)
            return Identifier(name, position=pos)
        if kind is TokenKind.LPAREN:
            self.advance()
            self.enter(pos)
            first = self.parse_or()
            if self.peek().kind is TokenKind.COMMA:
                items = [first]
                while self.peek().kind is TokenKind.COMMA:
                    self.advance()
                    items.append(self.parse_or())
                if self.peek().kind is not TokenKind.RPAREN:
                    raise self.expected(f"',' or ')' to close the tuple opened at column {pos + 1}")
                self.advance()
                self.nesting -= 1
                return TupleNode(tuple(items), position=pos)
            if self.peek().kind is not TokenKind.RPAREN:
                raise self.expected(f"')' to close the '(' at column {pos + 1}")
            self.advance()
            self.nesting -= 1
            return Parenthesized(first, position=pos)
        if kind is TokenKind.END:
            raise self.error("unexpected end of expression; expected a value")
        raise self.expected("a value (identifier, number, string, time, bind parameter or '(')")

    def parse_region(self, name: str, pos: int) -> Node:
        arity, usage = _REGION_ARITY[name]
        open_token = self.advance()
        self.enter(open_token.position)
        args = [self.parse_sum()]
        while self.peek().kind is TokenKind.COMMA:
            self.advance()
            args.append(self.parse_sum())
        if self.peek().kind is not TokenKind.RPAREN:
            raise self.expected(f"',' or ')' in {name} arguments")
        self.advance()
        self.nesting -= 1
        if name == "POLYGON":
            if len(args) < 6 or len(args) % 2:
                raise self.error(
                    f"POLYGON needs an even number of coordinates for at least three vertices, got "
                    f"{len(args)}; write {usage}",
                    pos,
                )
            return PolygonLiteral(tuple(args), position=pos)
        if len(args) != arity:
            raise self.error(f"{name} takes {arity} arguments, got {len(args)}; write {usage}", pos)
        if name == "POINT":
            return PointLiteral(args[0], args[1], position=pos)
        if name == "CIRCLE":
            return CircleLiteral(args[0], args[1], args[2], position=pos)
        return BoxLiteral(args[0], args[1], args[2], args[3], position=pos)
