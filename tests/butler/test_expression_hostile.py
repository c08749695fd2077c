# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile query strings: nothing the user writes may reach the SQL text, on SQLite or PostgreSQL."""

from __future__ import annotations

import pickle
import re

import pytest
import sqlalchemy
from _expression_fixtures import TABLE, ToyResolver, expected, make_engine, select_visits
from sqlalchemy.dialects import postgresql, sqlite

from skystack.butler.queries.expression import (
    QueryExpressionError,
    QuerySyntaxError,
    UnknownIdentifierError,
    parse_expression,
    to_sqlalchemy,
)

DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.psycopg.dialect()}


@pytest.fixture(scope="module")
def engine() -> sqlalchemy.Engine:
    return make_engine()


def _flatten(values: object) -> list[object]:
    out: list[object] = []
    for v in values if isinstance(values, list) else [values]:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


# Expressions with user text that would be dangerous if pasted into SQL; (expression, user values).
HOSTILE = [
    ("band = 'r' OR '1'='1'", ["r", "1", "1"]),
    ("band = 'a'' OR 1=1 --'", ["a' OR 1=1 --"]),
    ("band = 'x\\'; DROP TABLE exposure; --'", ["x'; DROP TABLE exposure; --"]),
    ('band = "\\"); DELETE FROM exposure; --"', ['"); DELETE FROM exposure; --']),
    ("band IN ('g', 'r) OR (1=1', 'i')", ["g", "r) OR (1=1", "i"]),
    ("band GLOB '*'' UNION SELECT * FROM sqlite_master --'", ["%' UNION SELECT % FROM sqlite\\_master --"]),
    ("band = 'été ✓ 😀 日本'", ["été ✓ 😀 日本"]),
    ("band = 'nul\\0byte'", ["nul\0byte"]),
    ("band = '/* comment */ 1'", ["/* comment */ 1"]),
    ("visit = 12345678901 AND exposure_time > 98765.4321", [12345678901, 98765.4321]),
]


@pytest.mark.parametrize(("text", "values"), HOSTILE)
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_user_text_only_in_parameters(text: str, values: list[object], dialect: str) -> None:
    clause = to_sqlalchemy(text, ToyResolver())
    compiled = clause.compile(dialect=DIALECTS[dialect])
    sql = str(compiled)
    params = _flatten(list(compiled.params.values()))
    for value in values:
        if dialect == "sqlite" and "GLOB" in text:
            continue  # the SQLite rendering uses the GLOB form of the pattern, checked below
        assert value in params
    for value in values:
        if isinstance(value, str) and len(value) > 1:
            assert value not in sql, f"user text {value!r} reached the SQL: {sql}"
    # Nothing but identifiers, operators and placeholders: no quotes besides the ESCAPE character.
    assert re.sub(r"ESCAPE '\\'", "", sql).count("'") == 0
    for word in ("DROP", "DELETE", "UNION", "--", "/*"):
        assert word not in sql


def test_sqlite_glob_pattern_is_a_parameter() -> None:
    compiled = to_sqlalchemy("band GLOB '*'' UNION SELECT * FROM x --'", ToyResolver()).compile(
        dialect=DIALECTS["sqlite"]
    )
    assert list(compiled.params.values()) == ["*' UNION SELECT * FROM x --"]
    literal_star = to_sqlalchemy("band GLOB 'a\\\\*[?'", ToyResolver()).compile(dialect=DIALECTS["sqlite"])
    assert list(literal_star.params.values()) == ["a[*][[]?"]
    assert "UNION" not in str(compiled)


def test_tautology_is_a_bound_comparison_that_bypasses_nothing(engine: sqlalchemy.Engine) -> None:
    # Legal: the user's OR '1'='1' is a comparison of two bound strings, true for every row, and
    # the table is intact afterwards.
    assert select_visits(engine, "band = 'r' OR '1'='1'") == list(range(1, 21))
    assert select_visits(engine, "band = 'r' AND '1'='2'") == []
    assert select_visits(engine, "band = 'r' AND ('1'='1')") == expected(lambda r: r.band == "r")


def test_quoted_payloads_are_just_strings(engine: sqlalchemy.Engine) -> None:
    assert select_visits(engine, "band = 'a'' OR 1=1 --'") == [13]
    assert select_visits(engine, "band = 'x\\'; DROP TABLE exposure; --'") == []
    assert select_visits(engine, "band = 'été✓'") == [14]
    assert select_visits(engine, "band = 'a\\0b'") == [15]
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(TABLE)).scalar() == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("visit = 1; DROP TABLE x", "unexpected character ';'"),
        ("visit = 1 /* c */", "expected a value"),
        ("visit = 1 UNION SELECT 1", "expected AND, OR or the end of the expression, found identifier UNION"),
        ("visit = 1\x00 OR 1=1", "unexpected character U+0000"),
        ("visit = `x`", "unexpected character '`'"),
        ("visit = $1", "unexpected character '$'"),
        ("visit = ?", "unexpected character '?'"),
        ("visit = @x", "unexpected character '@'"),
        ("vísit = 1", "unexpected character 'í' (identifiers are ASCII"),
        ("visit = 1 OR ' ", "unterminated string"),
        ("visit = 1 \u202e OR 1=1", "unexpected character U+202E"),
    ],
)
def test_hostile_syntax_is_rejected(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        to_sqlalchemy(text, ToyResolver())
    assert message in str(info.value)
    assert "^" in str(info.value).splitlines()[-1]


def test_sql_comment_is_not_a_comment() -> None:
    # "--" is two minus signs: the rest is parsed as an expression, never skipped.
    with pytest.raises(UnknownIdentifierError, match="unknown identifier 'comment'"):
        to_sqlalchemy("visit = 1 -- comment", ToyResolver())


def test_identifier_text_never_reaches_sql() -> None:
    # Identifiers are only looked up; an unknown one is an error, never a column name in SQL.
    with pytest.raises(UnknownIdentifierError, match="unknown identifier 'sqlite_master'"):
        to_sqlalchemy("sqlite_master = 1", ToyResolver())


def test_huge_inputs(engine: sqlalchemy.Engine) -> None:
    or_chain = " OR ".join(f"visit = {i}" for i in range(3000))
    assert select_visits(engine, or_chain) == list(range(1, 21))
    in_list = "visit IN (" + ", ".join(str(i) for i in range(0, 20000, 2)) + ")"
    assert select_visits(engine, in_list) == list(range(2, 21, 2))
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_expression("(" * 100000 + "visit = 1" + ")" * 100000)
    long_string = "x" * 1_000_000
    assert select_visits(engine, f"band = '{long_string}'") == []


def test_errors_survive_pickling() -> None:
    with pytest.raises(QueryExpressionError) as info:
        to_sqlalchemy("visit = 1 AND bnd = 'r'", ToyResolver())
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is UnknownIdentifierError
    assert str(copy) == str(info.value)
    assert copy.name == "bnd" and copy.position == 14
