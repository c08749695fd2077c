# SPDX-License-Identifier: GPL-3.0-or-later
"""`TaskMetadata`: what a Task records about its run (timings, counts, flags), as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["MetadataValueError", "TaskMetadata"]

_SCALARS = (bool, int, float, str)


class MetadataValueError(TypeError):
    """A value that task metadata cannot hold."""


def _normalize(key: str, value: Any) -> Any:
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, TaskMetadata):
        return value
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return _normalize(key, value.item())  # numpy scalar
    if isinstance(value, Mapping):
        nested = TaskMetadata()
        for k, v in value.items():
            nested[str(k)] = v
        return nested
    if isinstance(value, list | tuple) or (hasattr(value, "tolist") and callable(value.tolist)):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [_normalize(key, v) for v in items]
    raise MetadataValueError(
        f"Task metadata key {key!r}: values must be numbers, strings, booleans, None, lists or "
        f"mappings of those; got {type(value).__qualname__}"
    )


class TaskMetadata:
    """Hierarchical metadata of a task run: a mapping of names to JSON-compatible values.

    Keys are strings without dots; a dotted key (``"timing.run.wall_s"``) addresses nested
    metadata. Values are numbers, strings, booleans, None, lists of those, or nested metadata
    (a mapping given as value becomes nested metadata).
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        head, _, rest = key.partition(".")
        if not head:
            raise KeyError(f"Empty metadata key in {key!r}")
        if rest:
            child = self._data.get(head)
            if not isinstance(child, TaskMetadata):
                child = self._data[head] = TaskMetadata()
            child[rest] = value
        else:
            self._data[head] = _normalize(key, value)

    def __getitem__(self, key: str) -> Any:
        head, _, rest = key.partition(".")
        value = self._data[head]
        if rest:
            if not isinstance(value, TaskMetadata):
                raise KeyError(f"Metadata {head!r} is not nested; cannot look up {key!r}")
            return value[rest]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def add(self, key: str, value: Any) -> None:
        """Append ``value`` to the list at ``key`` (creating it)."""
        current = self.get(key)
        if current is None:
            self[key] = [value]
        elif isinstance(current, list):
            current.append(_normalize(key, value))
        else:
            self[key] = [current, value]

    def names(self) -> list[str]:
        return list(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists."""
        return {k: (v.to_dict() if isinstance(v, TaskMetadata) else v) for k, v in self._data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskMetadata:
        md = cls()
        for key, value in data.items():
            md[key] = value
        return md

    def to_json(self) -> str:
        """JSON text; non-finite floats are written as the strings "NaN", "Infinity"."""
        return json.dumps(_finite(self.to_dict()), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskMetadata:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskMetadata):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TaskMetadata({self.to_dict()!r})"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
