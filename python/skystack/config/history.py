# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a configuration value came from: sources, history entries and the active-source context."""

from __future__ import annotations

import contextlib
import contextvars
import enum
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ConfigSource", "HistoryEntry", "SourceKind", "config_source", "current_source"]


class SourceKind(enum.Enum):
    """The kinds of places a configuration value can come from, in the order they usually apply."""

    DEFAULT = "default"
    """The default declared on the config class."""

    INSTRUMENT = "instrument"
    """An instrument's override file (``config/<instrument>/<task>.yaml``)."""

    PIPELINE = "pipeline"
    """A pipeline definition's ``config:`` block or ``file:`` entry."""

    FILE = "file"
    """A YAML override file given by the user (``-C label:file.yaml``)."""

    COMMAND_LINE = "command-line"
    """A ``-c label:field=value`` override on the command line."""

    PYTHON = "python"
    """An assignment in Python code."""

    LOADED = "loaded"
    """Read back from a serialized config (YAML/JSON)."""


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """One place configuration values came from.

    Parameters
    ----------
    kind : `SourceKind`
        What kind of place it is.
    location : `str`
        Human-readable location: a file path, ``path:line``, ``"-c"`` or a Python ``file:line``.
    line : `int` or `None`
        Line number within ``location`` when known.
    """

    kind: SourceKind
    location: str = ""
    line: int | None = None

    def at_line(self, line: int | None) -> ConfigSource:
        """The same source, pointing at another line."""
        return ConfigSource(self.kind, self.location, line)

    def __str__(self) -> str:
        where = self.location
        if self.line is not None:
            where = f"{where}, line {self.line}" if where else f"line {self.line}"
        return f"{self.kind.value} {where}" if where else self.kind.value

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "location": self.location, "line": self.line}


DEFAULT_SOURCE = ConfigSource(SourceKind.DEFAULT)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One value a field took, and where it came from."""

    value: Any
    source: ConfigSource

    def __str__(self) -> str:
        return f"{self.value!r:<30} <- {self.source}"


_CURRENT: contextvars.ContextVar[ConfigSource | None] = contextvars.ContextVar(
    "skystack_config_source", default=None
)


@contextlib.contextmanager
def config_source(source: ConfigSource) -> Iterator[ConfigSource]:
    """Context in which every config assignment is recorded as coming from ``source``."""
    token = _CURRENT.set(source)
    try:
        yield source
    finally:
        _CURRENT.reset(token)


_INTERNAL_PREFIXES = ("skystack/config/", "pydantic/", "pydantic_core/")


def current_source() -> ConfigSource:
    """The active source, or the Python code location of the caller outside skystack.config."""
    active = _CURRENT.get()
    if active is not None:
        return active
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename.replace("\\", "/")
        if not any(prefix in filename for prefix in _INTERNAL_PREFIXES):
            return ConfigSource(SourceKind.PYTHON, filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return ConfigSource(SourceKind.PYTHON)
