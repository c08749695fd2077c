# SPDX-License-Identifier: GPL-3.0-or-later
"""Case-sensitive glob matching as a SQL construct: ``LIKE ... ESCAPE`` in general, ``GLOB`` on SQLite.

SQLite's ``LIKE`` ignores ASCII case while PostgreSQL's does not, so the same user pattern would
match different rows. This construct renders ``LIKE`` with every ``%``, ``_`` and ``\\`` of the
user's text escaped on PostgreSQL (and other dialects), and SQLite's case-sensitive ``GLOB`` with
``*``, ``?`` and ``[`` bracketed there. The pattern is always a bound parameter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["GlobMatch", "glob_to_like", "glob_to_sqlite_glob", "split_glob"]


def split_glob(pattern: str) -> list[tuple[str, str]]:
    """Split a glob into ``("*" | "?" | "text", value)`` pieces; ``\\`` makes the next character literal.

    Raises
    ------
    ValueError
        If the pattern ends with a lone backslash.
    """
    pieces: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise ValueError("glob pattern ends with a lone backslash; write \\\\ for a literal one")
            pieces.append(("text", pattern[i + 1]))
            i += 2
        elif c in "*?":
            pieces.append((c, c))
            i += 1
        else:
            pieces.append(("text", c))
            i += 1
    return pieces


def glob_to_like(pattern: str) -> str:
    """The ``LIKE`` pattern (escape character ``\\``) equivalent to a glob."""
    out = []
    for kind, value in split_glob(pattern):
        if kind == "*":
            out.append("%")
        elif kind == "?":
            out.append("_")
        else:
            out.append("\\" + value if value in "%_\\" else value)
    return "".join(out)


def glob_to_sqlite_glob(pattern: str) -> str:
    """The SQLite ``GLOB`` pattern equivalent to a glob (literal ``* ? [`` in brackets)."""
    out = []
    for kind, value in split_glob(pattern):
        if kind in "*?":
            out.append(kind)
        else:
            out.append(f"[{value}]" if value in "*?[" else value)
    return "".join(out)


class GlobMatch(sqlalchemy.ColumnElement[bool]):
    """``column`` matches a glob ``pattern`` (case-sensitive on every backend).

    Parameters
    ----------
    column : `sqlalchemy.ColumnElement`
        The string expression to test.
    pattern : `str`
        The glob: ``*`` any run of characters, ``?`` one character, ``\\`` escapes the next one.
    """

    inherit_cache = True
    type = sqlalchemy.Boolean()
    _is_implicitly_boolean = True  # a predicate: SQLite must not render it as "... = 1"
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("like_pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: sqlalchemy.ColumnElement[Any], pattern: str) -> None:
        self.column = column
        self.like_pattern = sqlalchemy.literal(glob_to_like(pattern), sqlalchemy.String())
        self.glob_pattern = sqlalchemy.literal(glob_to_sqlite_glob(pattern), sqlalchemy.String())


@compiles(GlobMatch)
def _compile_like(element: GlobMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.like_pattern, escape="\\"), **kw)


@compiles(GlobMatch, "sqlite")
def _compile_sqlite_glob(element: GlobMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.op("GLOB", is_comparison=True)(element.glob_pattern), **kw)
