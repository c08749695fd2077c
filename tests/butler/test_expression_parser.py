# SPDX-License-Identifier: GPL-3.0-or-later
"""Lexer and parser of the query expression language: trees, printing, precedence and every error."""

from __future__ import annotations

import pytest
from astropy.time import Time

from skystack.butler.queries.expression import (
    MAX_DEPTH,
    MAX_NESTING,
    BinaryOp,
    BindParameter,
    BooleanLiteral,
    BoxLiteral,
    CircleLiteral,
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
    QuerySyntaxError,
    RangeLiteral,
    StringLiteral,
    TimeLiteral,
    TokenKind,
    TupleNode,
    UnaryOp,
    iter_nodes,
    parse_expression,
    tokenize,
    tree_depth,
)
from skystack.butler.timespan import time_to_nsec

ROUND_TRIP = [
    "visit = 42",
    "instrument = 'HSC' AND visit IN (1..10, 20..30:2, 99) AND detector != 5",
    "exposure.exposure_time >= 30.5 OR NOT (band = 'r' AND detector < 3)",
    "a OR b AND NOT c OR d",
    "visit IN (:visits, 7) AND band NOT IN ('g', \"r\")",
    "band GLOB 'HSC-*' AND physical_filter NOT GLOB 'x?y'",
    "note IS NULL OR note IS NOT NULL",
    "exposure.timespan OVERLAPS (T'2024-01-01T00:00:00', T'60400.5/utc')",
    "exposure.timespan OVERLAPS (NULL, T'2024-01-01 12:30')",
    "visit.timespan < T'2024-06-01' AND visit.timespan > T'60000'",
    "visit_detector_region.region OVERLAPS POINT(150.1, -2.5)",
    "region OVERLAPS CIRCLE(10, 20, 0.5) OR region OVERLAPS BOX(1, 2, 3, 4)",
    "region OVERLAPS POLYGON(0, 0, 10, 0, 10, 10, 0, 10)",
    "visit_detector_region.region OVERLAPS patch.region",
    "-visit * (detector + 2) - 3 / 4 % 5 > +1.5e-3",
    "((visit = 1))",
    "flag = TRUE OR flag = FALSE",
    "visit IN (-5..-1, -3)",
    "band = 'it''s' OR band = 'back\\\\slash' OR band = 'tab\\there'",
    "NOT NOT visit = 1",
    "a - (b - c) = a - b - c",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(text: str) -> None:
    first = parse_expression(text)
    printed = str(first)
    second = parse_expression(printed)
    assert second == first
    assert str(second) == printed  # printing is canonical: a fixed point after one pass


def test_canonical_printing() -> None:
    assert (
        str(parse_expression("visit   in(1 ..5:2)and  BAND glob 'x'"))
        == "visit IN (1..5:2) AND BAND GLOB 'x'"
    )
    assert str(parse_expression("a <> 1")) == "a != 1"
    assert str(parse_expression("t > t'2024-01-01'")) == "t > T'2024-01-01'"


def test_tree_shapes() -> None:
    root = parse_expression("instrument = 'HSC' AND visit IN (1..10:3, :more) OR x IS NOT NULL").root
    assert root == LogicalOp(
        "OR",
        (
            LogicalOp(
                "AND",
                (
                    BinaryOp("=", Identifier("instrument"), StringLiteral("HSC")),
                    IsIn(Identifier("visit"), (RangeLiteral(1, 10, 3), BindParameter("more"))),
                ),
            ),
            IsNull(Identifier("x"), negated=True),
        ),
    )
    assert root.position == 0
    and_node = root.children()[0]
    isin = and_node.children()[1]
    assert isin.position == parse_expression("instrument = 'HSC' AND visit").text.index("visit")
    region = parse_expression("r OVERLAPS polygon(1, 2, 3, 4, 5, 6)").root
    assert isinstance(region, Overlaps) and isinstance(region.rhs, PolygonLiteral)
    assert [n.value for n in region.rhs.coordinates] == [1, 2, 3, 4, 5, 6]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a OR b AND c",
            LogicalOp("OR", (Identifier("a"), LogicalOp("AND", (Identifier("b"), Identifier("c"))))),
        ),
        (
            "NOT a = 1 AND b = 2",
            LogicalOp(
                "AND",
                (
                    UnaryOp("NOT", BinaryOp("=", Identifier("a"), NumericLiteral(1))),
                    BinaryOp("=", Identifier("b"), NumericLiteral(2)),
                ),
            ),
        ),
        ("1 + 2 * 3", BinaryOp("+", NumericLiteral(1), BinaryOp("*", NumericLiteral(2), NumericLiteral(3)))),
        ("a - b - c", BinaryOp("-", BinaryOp("-", Identifier("a"), Identifier("b")), Identifier("c"))),
        ("-a * b", BinaryOp("*", UnaryOp("-", Identifier("a")), Identifier("b"))),
        ("a % 2 = 0", BinaryOp("=", BinaryOp("%", Identifier("a"), NumericLiteral(2)), NumericLiteral(0))),
        (
            "NOT a OR b",
            LogicalOp("OR", (UnaryOp("NOT", Identifier("a")), Identifier("b"))),
        ),
        ("a + 1 IN (2)", IsIn(BinaryOp("+", Identifier("a"), NumericLiteral(1)), (NumericLiteral(2),))),
    ],
)
def test_precedence(text: str, expected: Node) -> None:
    assert parse_expression(text).root == expected


def test_keywords_are_case_insensitive() -> None:
    lower = parse_expression("visit in (1) and not band glob 'x' or y is not null")
    upper = parse_expression("VISIT IN (1) AND NOT BAND GLOB 'x' OR Y IS NOT NULL")
    assert str(lower) == "visit IN (1) AND NOT band GLOB 'x' OR y IS NOT NULL"
    assert type(lower.root) is type(upper.root)


def test_literals() -> None:
    def rhs(text: str) -> Node:
        root = parse_expression(f"x = {text}").root
        assert isinstance(root, BinaryOp)
        return root.rhs

    assert rhs("'it\\'s'") == StringLiteral("it's")
    assert rhs("'it''s'") == StringLiteral("it's")
    assert rhs('"say ""hi"""') == StringLiteral('say "hi"')
    assert rhs("\"two '' quotes\"") == StringLiteral("two '' quotes")  # only the own quote doubles
    assert rhs("'a\\nb\\\\'") == StringLiteral("a\nb\\")
    assert rhs("'été ✓'") == StringLiteral("été ✓")
    assert rhs("1.5e3") == NumericLiteral(1500.0)
    assert rhs(".25") == NumericLiteral(0.25)
    assert rhs("7") == NumericLiteral(7) and isinstance(rhs("7").value, int)  # type: ignore[attr-defined]
    assert rhs("true") == BooleanLiteral(True)
    assert rhs("False") == BooleanLiteral(False)
    assert rhs("null") == NullLiteral()
    assert rhs(":my_value") == BindParameter("my_value")
    iso = rhs("T'2024-01-01T00:00:00.5'")
    assert isinstance(iso, TimeLiteral)
    assert iso.tai_ns == time_to_nsec(Time("2024-01-01T00:00:00.5", scale="tai"))
    assert rhs("T'2024-01-01T00:00:00.5'") == rhs('t"2024-01-01 00:00:00.5"')
    mjd = rhs("T'60000.25'")
    assert mjd == TimeLiteral(time_to_nsec(Time(60000.25, format="mjd", scale="tai")))
    utc = rhs("T'2024-01-01T00:00:00/utc'")
    assert utc.tai_ns - rhs("T'2024-01-01T00:00:00'").tai_ns == 37 * 10**9  # type: ignore[attr-defined]
    assert rhs("visit.day_obs") == Identifier("visit.day_obs")
    tup = parse_expression("ts OVERLAPS (T'2024-01-01', NULL)").root
    assert isinstance(tup, Overlaps) and isinstance(tup.rhs, TupleNode) and tup.rhs.items[1] == NullLiteral()


def test_region_and_range_nodes() -> None:
    assert parse_expression("r OVERLAPS point(1, -2)").root == Overlaps(
        Identifier("r"), PointLiteral(NumericLiteral(1), UnaryOp("-", NumericLiteral(2)))
    )
    circle = parse_expression("r OVERLAPS CIRCLE(1, 2, :rad)").root
    assert isinstance(circle, Overlaps) and circle.rhs == CircleLiteral(
        NumericLiteral(1), NumericLiteral(2), BindParameter("rad")
    )
    box = parse_expression("r OVERLAPS Box(1, 2, 3, 4)").root
    assert isinstance(box, Overlaps) and isinstance(box.rhs, BoxLiteral)
    # A region keyword not followed by '(' is an ordinary identifier.
    assert parse_expression("point = 3").root == BinaryOp("=", Identifier("point"), NumericLiteral(3))
    ranges = parse_expression("v IN (1..10, -4..-2:2, 5)").root
    assert isinstance(ranges, IsIn)
    assert ranges.items == (RangeLiteral(1, 10), RangeLiteral(-4, -2, 2), NumericLiteral(5))
    assert str(RangeLiteral(1, 9, 4)) == "1..9:4"


def test_tokenize_positions() -> None:
    tokens = tokenize("visit IN (1..5:2) AND :b")
    kinds = [t.kind for t in tokens]
    assert kinds == [
        TokenKind.IDENTIFIER,
        TokenKind.KEYWORD,
        TokenKind.LPAREN,
        TokenKind.INTEGER,
        TokenKind.DOTDOT,
        TokenKind.INTEGER,
        TokenKind.COLON,
        TokenKind.INTEGER,
        TokenKind.RPAREN,
        TokenKind.KEYWORD,
        TokenKind.BIND,
        TokenKind.END,
    ]
    assert [t.position for t in tokens] == [0, 6, 9, 10, 11, 13, 14, 15, 16, 18, 22, 24]
    assert tokens[10].value == "b"


ERRORS = [
    ("visit IN (1, 2 3", "expected ',' or ')' after IN list item, found integer 3", 15),
    ("visit = ", "unexpected end of expression; expected a value", 8),
    ("(visit = 1", "expected ')' to close the '(' at column 1, found end of expression", 10),
    ("visit = 1)", "unmatched ')'", 9),
    ("visit = 'abc", "unterminated string: missing closing '", 8),
    ("visit = 1 2", "expected AND, OR or the end of the expression, found integer 2", 10),
    ("a < b < c", "comparisons cannot be chained; combine them with AND", 6),
    ("visit IN ()", "empty IN list", 10),
    ("visit IN 1", "expected '(' after IN, found integer 1", 9),
    ("visit IN (1.5..3)", "a range must start with an integer literal", 10),
    ("visit IN (1..x)", "a range must end with an integer literal", 13),
    ("visit IN (1..5:0)", "expected a positive integer stride after ':' in range, found integer 0", 15),
    ("band GLOB 5", "expected a quoted pattern or a bind parameter after GLOB, found integer 5", 10),
    ("x IS 5", "expected NULL after IS, found integer 5", 5),
    ("x IS NOT 5", "expected NULL after IS NOT", 9),
    ("x NOT 5", "expected IN or GLOB after NOT, found integer 5", 6),
    ("t > T'2024-13-01'", "invalid time literal T'2024-13-01'", 4),
    ("t > T'yesterday'", "cannot read 'yesterday' as a time", 4),
    ("t > T'2024-01-01/xyz'", "unknown time scale 'xyz'", 4),
    ("r OVERLAPS CIRCLE(1, 2)", "CIRCLE takes 3 arguments, got 2; write CIRCLE(ra, dec, radius)", 11),
    ("r OVERLAPS POINT(1, 2, 3)", "POINT takes 2 arguments, got 3", 11),
    ("r OVERLAPS POLYGON(1, 2, 3, 4)", "POLYGON needs an even number of coordinates for at least three", 11),
    ("r OVERLAPS POLYGON(1, 2, 3, 4, 5, 6, 7)", "POLYGON needs an even number", 11),
    ("r OVERLAPS BOX(1, 2, 3 4)", "expected ',' or ')' in BOX arguments, found integer 4", 23),
    ("", "empty expression", 0),
    ("   \n ", "empty expression", 0),
    ("visit = 99999999999999999999", "integer 99999999999999999999 does not fit in 64 bits", 8),
    ("visit = 1e999", "too large for a 64-bit float", 8),
    ("visit = 12abc", "invalid number '12a'", 8),
    ("vïsit = 1", "unexpected character 'ï' (identifiers are ASCII; quote text as a string)", 1),
    ("visit = 1\x00", "unexpected character U+0000", 9),
    ("visit = 1; DROP TABLE x", "unexpected character ';'", 9),
    ("band = 'a\\q'", "unknown escape '\\q' in string", 9),
    (
        "in = 1",
        "expected a value (identifier, number, string, time, bind parameter or '('), found keyword IN",
        0,
    ),
    ("visit = (1, 2", "expected ',' or ')' to close the tuple opened at column 9", 13),
    ("visit = 1 AND", "unexpected end of expression", 13),
    ("visit = :", "expected a value (identifier, number, string, time, bind parameter or '('), found ':'", 8),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS)
def test_syntax_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_expression(text)
    err = info.value
    assert message in err.message
    assert err.position == position
    assert err.column == position + 1
    assert err.expression == text
    rendered = str(err).splitlines()
    assert rendered[0].endswith(f"at column {position + 1}")
    # The caret sits under the offending character (two spaces of indent on both lines).
    assert rendered[-1] == "  " + " " * position + "^"
    assert rendered[-2].startswith("  ")


def test_error_window_for_long_expressions() -> None:
    text = " AND ".join(f"visit != {i}" for i in range(200)) + " AND visit IN (1 2)"
    with pytest.raises(QuerySyntaxError) as info:
        parse_expression(text)
    err = info.value
    assert err.position == len(text) - 2
    context, caret = str(err).splitlines()[-2:]
    assert context.startswith("  ...") and len(context) < 140
    assert context[caret.index("^")] == "2"


def test_non_string_input() -> None:
    with pytest.raises(TypeError, match="a query expression must be a str, got int"):
        parse_expression(42)  # type: ignore[arg-type]


def test_nesting_limits() -> None:
    ok = "(" * MAX_NESTING + "visit = 1" + ")" * MAX_NESTING
    assert tree_depth(parse_expression(ok).root) > MAX_NESTING
    for hostile in [
        "(" * 5000 + "visit = 1" + ")" * 5000,
        "visit IN (" + "(" * 100 + "1",
        "r OVERLAPS " + "POINT(" * 100,
    ]:
        with pytest.raises(QuerySyntaxError, match="nested too deeply"):
            parse_expression(hostile)
    for deep_chain in ["NOT " * 5000 + "flag", "visit = 1" + " + 1" * 5000, "visit = " + "-" * 5000 + "1"]:
        with pytest.raises(QuerySyntaxError, match=f"more than {MAX_DEPTH} levels"):
            parse_expression(deep_chain)


def test_long_flat_expressions_are_fine() -> None:
    text = " OR ".join(f"visit = {i}" for i in range(5000))
    root = parse_expression(text).root
    assert isinstance(root, LogicalOp) and len(root.operands) == 5000
    assert tree_depth(root) == 3
    in_list = parse_expression("visit IN (" + ", ".join(str(i) for i in range(10000)) + ")").root
    assert isinstance(in_list, IsIn) and len(in_list.items) == 10000


def test_printing_nodes_built_in_code_adds_parentheses() -> None:
    one, two, three = NumericLiteral(1), NumericLiteral(2), NumericLiteral(3)
    product = BinaryOp("*", BinaryOp("+", one, two), three)
    assert str(product) == "(1 + 2) * 3"
    assert str(BinaryOp("-", one, BinaryOp("-", two, three))) == "1 - (2 - 3)"
    a_or_b = LogicalOp("OR", (Identifier("a"), Identifier("b")))
    assert str(LogicalOp("AND", (a_or_b, Identifier("c")))) == "(a OR b) AND c"
    assert str(UnaryOp("NOT", a_or_b)) == "NOT (a OR b)"
    assert str(UnaryOp("-", BinaryOp("+", one, two))) == "-(1 + 2)"
    assert str(Glob(Identifier("b"), StringLiteral("x'y"))) == "b GLOB 'x\\'y'"
    # Printing then parsing gives the same meaning (the parse keeps the parentheses it needed).
    reparsed = parse_expression(str(product)).root
    assert reparsed == BinaryOp("*", Parenthesized(BinaryOp("+", one, two)), three)
    ns = time_to_nsec(Time("2024-02-29T12:34:56.123456789", scale="tai"))
    assert parse_expression(f"t > {TimeLiteral(ns)}").root == BinaryOp(">", Identifier("t"), TimeLiteral(ns))


class _BindNames(ExpressionVisitor[set[str]]):
    """A complete visitor: collects bind-parameter names by visiting every node."""

    def _children(self, node: Node) -> set[str]:
        out: set[str] = set()
        for child in node.children():
            out |= self.visit(child)
        return out

    def visit_bind_parameter(self, node: BindParameter) -> set[str]:
        return {node.name}

    visit_identifier = visit_numeric_literal = visit_string_literal = _children
    visit_boolean_literal = visit_null_literal = visit_time_literal = _children
    visit_range_literal = visit_unary_op = visit_binary_op = visit_logical_op = _children
    visit_is_in = visit_glob = visit_is_null = visit_overlaps = visit_tuple = _children
    visit_point = visit_circle = visit_polygon = visit_box = visit_parenthesized = _children


def test_visitor_dispatch() -> None:
    tree = parse_expression(
        "v IN (:a, 1) AND (b GLOB :pat OR r OVERLAPS CIRCLE(:ra, 2, 3)) AND ts OVERLAPS (:t0, T'60000')"
    )
    assert _BindNames().visit(tree.root) == {"a", "pat", "ra", "t0"}
    assert {type(n).__name__ for n in iter_nodes(tree.root)} >= {"IsIn", "Glob", "Overlaps", "TupleNode"}

    class Incomplete(ExpressionVisitor[int]):
        def visit_identifier(self, node: Identifier) -> int:
            return 1

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
