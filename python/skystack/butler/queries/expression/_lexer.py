# SPDX-License-Identifier: GPL-3.0-or-later
"""Tokenizer of the query expression language.

One left-to-right scan with a single compiled pattern of simple alternatives (no nested
quantifiers, so no input can make it backtrack badly); every token knows its position for error
messages. Tokens are produced lazily so a parser that rejects an input early stops lexing too.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ._errors import QuerySyntaxError

__all__ = ["KEYWORDS", "Token", "TokenKind", "iter_tokens", "tokenize"]


class TokenKind(enum.Enum):
    """Kinds of token."""

    IDENTIFIER = "identifier"
    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "number"
    STRING = "string"
    TIME = "time literal"
    BIND = "bind parameter"
    OPERATOR = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    DOTDOT = "'..'"
    COLON = "':'"
    END = "end of expression"


KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "GLOB", "OVERLAPS"})
"""Reserved words (case-insensitive); they cannot be used as identifiers."""

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    Attributes
    ----------
    kind : `TokenKind`
        What the token is.
    value : `str` or `int` or `float`
        Keyword (upper case), operator, identifier, decoded string, time-literal text, bind name
        (without the colon), or number.
    position : `int`
        0-based offset of the token's first character.
    """

    kind: TokenKind
    value: str | int | float
    position: int

    def describe(self) -> str:
        """A short description for error messages, e.g. ``"keyword AND"`` or ``"')'"``."""
        if self.kind in (TokenKind.KEYWORD, TokenKind.OPERATOR):
            return f"{self.kind.value} {self.value}"
        if self.kind in (TokenKind.IDENTIFIER, TokenKind.INTEGER, TokenKind.FLOAT):
            return f"{self.kind.value} {self.value}"
        if self.kind is TokenKind.STRING:
            return f"string {self.value!r}"
        if self.kind is TokenKind.BIND:
            return f"bind parameter :{self.value}"
        return self.kind.value


def _error(message: str, text: str, position: int) -> QuerySyntaxError:
    return QuerySyntaxError(message, expression=text, position=position)


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\n\r\f\v]+)
    |(?P<time>[Tt](?=['"]))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<number>(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<quote>['"])
    |(?P<bind>:[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op><=|>=|!=|<>|[=<>+\-*/%])
    |(?P<punct>\.\.|[(),:])
    """,
    re.VERBOSE,
)
# String bodies: anything but the quote or a backslash, an escape pair, or a doubled quote.
_STRING_BODY = {
    "'": re.compile(r"(?:[^'\\]|\\.|'')*'", re.DOTALL),
    '"': re.compile(r'(?:[^"\\]|\\.|"")*"', re.DOTALL),
}
_STRING_PIECE = {
    "'": re.compile(r"\\(.)|''", re.DOTALL),
    '"': re.compile(r'\\(.)|""', re.DOTALL),
}
_PUNCT_KIND = {
    "..": TokenKind.DOTDOT,
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    ",": TokenKind.COMMA,
    ":": TokenKind.COLON,
}


def _scan_string(text: str, start: int) -> tuple[str, int]:
    """Decode the quoted string starting at ``text[start]``; return it and the offset after it.

    Backslash escapes (``\\\\ \\' \\" \\n \\t \\r \\0``) and a doubled quote (SQL style) are understood.
    """
    quote = text[start]
    match = _STRING_BODY[quote].match(text, start + 1)
    if match is None:
        raise _error(f"unterminated string: missing closing {quote}", text, start)
    body_start = start + 1
    body = text[body_start : match.end() - 1]

    def decode(piece: re.Match[str]) -> str:
        escaped = piece.group(1)
        if escaped is None:
            return piece.group(0)[0]  # a doubled quote
        value = _ESCAPES.get(escaped)
        if value is None:
            raise _error(
                f"unknown escape '\\{escaped}' in string; use \\\\ for a backslash",
                text,
                body_start + piece.start(),
            )
        return value

    return (
        _STRING_PIECE[quote].sub(decode, body) if ("\\" in body or quote * 2 in body) else body
    ), match.end()


def iter_tokens(text: str) -> Iterator[Token]:
    """Yield the tokens of an expression one at a time, ending with a `TokenKind.END` token.

    Lazy, so that a parser that gives up early (e.g. on too deep nesting) does not lex the rest.

    Raises
    ------
    QuerySyntaxError
        As `tokenize`.
    """
    n = len(text)
    i = 0
    match_token = _TOKEN_RE.match
    while i < n:
        m = match_token(text, i)
        if m is None:
            c = text[i]
            shown = repr(c) if c.isprintable() else f"U+{ord(c):04X}"
            hint = " (identifiers are ASCII; quote text as a string)" if c.isalpha() else ""
            raise _error(f"unexpected character {shown}{hint}", text, i)
        kind = m.lastgroup
        word = m.group()
        if kind == "ws":
            pass
        elif kind == "ident":
            upper = word.upper()
            if upper in KEYWORDS:
                yield Token(TokenKind.KEYWORD, upper, i)
            else:
                yield Token(TokenKind.IDENTIFIER, word, i)
        elif kind == "number":
            end = m.end()
            if end < n and text[end] in _IDENT_CHARS:
                raise _error(f"invalid number {text[i : end + 1]!r}", text, i)
            yield _number(word, text, i)
        elif kind == "op":
            yield Token(TokenKind.OPERATOR, "!=" if word == "<>" else word, i)
        elif kind == "punct":
            yield Token(_PUNCT_KIND[word], word, i)
        elif kind == "bind":
            yield Token(TokenKind.BIND, word[1:], i)
        elif kind == "time":
            value, end = _scan_string(text, i + 1)
            yield Token(TokenKind.TIME, value, i)
            i = end
            continue
        else:  # quote
            value, end = _scan_string(text, i)
            yield Token(TokenKind.STRING, value, i)
            i = end
            continue
        i = m.end()
    yield Token(TokenKind.END, "", n)


def _number(literal: str, text: str, start: int) -> Token:
    if "." in literal or "e" in literal or "E" in literal:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            raise _error(f"number {literal} is too large for a 64-bit float", text, start)
        return Token(TokenKind.FLOAT, value, start)
    number = int(literal)
    if number > _INT64_MAX:
        raise _error(f"integer {literal} does not fit in 64 bits; write it as a float", text, start)
    return Token(TokenKind.INTEGER, number, start)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, ending with a `TokenKind.END` token.

    Parameters
    ----------
    text : `str`
        The expression.

    Returns
    -------
    tokens : `list` [`Token`]
        The tokens in order.

    Raises
    ------
    QuerySyntaxError
        On a character that cannot start a token (including control characters such as NUL and
        non-ASCII letters outside strings), an unterminated string, or a malformed number.
    """
    return list(iter_tokens(text))
