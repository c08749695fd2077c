# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions of the query expression language, each able to show where in the text it went wrong.

Every error carries the expression text and a 0-based character offset when known, and renders as::

    expected ')' after IN list at column 15
      visit IN (1, 2 3
                     ^

so that a user can see the problem without counting characters.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Self

__all__ = [
    "MissingBindParameterError",
    "QueryExpressionError",
    "QuerySyntaxError",
    "QueryTypeError",
    "UnknownIdentifierError",
]

_WINDOW = 60  # characters of context shown either side of the caret in long expressions


def _printable(text: str) -> str:
    """``text`` with control characters (newlines, tabs, NUL ...) shown as spaces, one per character."""
    return "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in text)


def format_context(expression: str, position: int) -> str:
    """Two indented lines: (a window of) ``expression`` and a caret under character ``position``.

    Parameters
    ----------
    expression : `str`
        The full expression text.
    position : `int`
        0-based offset of the offending character; ``len(expression)`` points just past the end.

    Returns
    -------
    context : `str`
        ``"  <text>\\n  <spaces>^"``, with ``...`` marking text cut from either end.
    """
    position = max(0, min(position, len(expression)))
    start = max(0, position - _WINDOW)
    stop = min(len(expression), position + _WINDOW)
    prefix = "..." if start > 0 else ""
    suffix = "..." if stop < len(expression) else ""
    shown = prefix + _printable(expression[start:stop]) + suffix
    caret = " " * (len(prefix) + position - start) + "^"
    return f"  {shown}\n  {caret}"


class QueryExpressionError(ValueError):
    """Base class of all errors raised while parsing or translating a query expression.

    Parameters
    ----------
    message : `str`
        What is wrong and, where possible, how to fix it (without the location).
    expression : `str`, optional
        The expression text, if known.
    position : `int`, optional
        0-based offset in ``expression`` of the offending character, if known.

    Attributes
    ----------
    message, expression, position
        As given; ``column`` is ``position + 1``.
    """

    def __init__(self, message: str, *, expression: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.position = position

    @property
    def column(self) -> int | None:
        """1-based column of the error in the expression, or `None` if unknown."""
        return None if self.position is None else self.position + 1

    def with_context(self, expression: str | None, position: int | None) -> Self:
        """A copy of this error that also shows ``expression`` and, if given, the caret at ``position``.

        Context already present is kept (the innermost location is the most precise).
        """
        new = _rebuild(type(self), self.args, self.__dict__)
        if new.expression is None:
            new.expression = expression
            if new.position is None:
                new.position = position
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the attributes (subclass constructors take other arguments than ``args``),
        # so errors survive pickling between worker processes.
        return (_rebuild, (type(self), self.args, self.__dict__))

    def __str__(self) -> str:
        if self.expression is None:
            return self.message
        if self.position is None:
            return f"{self.message}\n  in expression: {_printable(self.expression)}"
        return (
            f"{self.message} at column {self.position + 1}\n{format_context(self.expression, self.position)}"
        )


def _rebuild(cls: type[QueryExpressionError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An instance of ``cls`` with the given ``args`` and attributes, without calling ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class QuerySyntaxError(QueryExpressionError):
    """The expression text does not follow the grammar (or is nested too deeply)."""


class QueryTypeError(QueryExpressionError, TypeError):
    """The expression is grammatical but combines operands that cannot go together.

    Examples are arithmetic on strings, ``OVERLAPS`` between two numbers, or ``<`` on a region.
    """


class UnknownIdentifierError(QueryExpressionError, LookupError):
    """An identifier in the expression is not known to the column resolver.

    Column resolvers raise this (without expression context); the translator adds the context.

    Parameters
    ----------
    name : `str`
        The identifier as written.
    valid_names : iterable of `str`, optional
        Identifiers that would have been accepted; listed in the message (with close matches first).
    message : `str`, optional
        A replacement for the default message.
    """

    def __init__(
        self,
        name: str,
        valid_names: Iterable[str] = (),
        *,
        message: str | None = None,
        expression: str | None = None,
        position: int | None = None,
    ) -> None:
        self.name = name
        self.valid_names = tuple(sorted(set(valid_names)))
        if message is None:
            message = f"unknown identifier {name!r}"
            close = difflib.get_close_matches(name, self.valid_names, n=3, cutoff=0.6)
            if close:
                message += f" (did you mean {' or '.join(repr(c) for c in close)}?)"
            if self.valid_names:
                message += f"; valid identifiers are: {', '.join(self.valid_names)}"
        super().__init__(message, expression=expression, position=position)


class MissingBindParameterError(QueryExpressionError, LookupError):
    """A bind parameter ``:name`` used in the expression has no value in the ``bind`` mapping.

    Parameters
    ----------
    name : `str`
        The parameter name (without the colon).
    supplied : iterable of `str`
        Names that were supplied, listed in the message.
    """

    def __init__(
        self,
        name: str,
        supplied: Iterable[str] = (),
        *,
        expression: str | None = None,
        position: int | None = None,
    ) -> None:
        self.name = name
        self.supplied = tuple(sorted(supplied))
        given = ", ".join(self.supplied) if self.supplied else "none"
        message = (
            f"no value supplied for bind parameter ':{name}'; pass bind={{{name!r}: ...}} (supplied: {given})"
        )
        super().__init__(message, expression=expression, position=position)
