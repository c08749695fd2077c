# SPDX-License-Identifier: GPL-3.0-or-later
"""Lossless, code-free persistence of small model objects (PSFs, PhotoCalibs, backgrounds, ...).

A persistable class implements ``to_dict() -> dict`` (JSON-compatible values, numpy arrays
allowed) and ``from_dict(cls, data) -> instance`` and registers itself under a stable type name
with `register_persistable`. `dump_persistable` and `load_persistable` add and read that name,
so that a file can name which class rebuilds an object without pickling or executing anything:
only registered classes can be rebuilt.

Numpy arrays are encoded by `encode_array` as base64 of their raw little-endian bytes with dtype
and shape, so round trips are bit-exact.
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = [
    "Persistable",
    "PersistenceError",
    "decode_array",
    "dump_persistable",
    "dumps_json",
    "encode_array",
    "load_persistable",
    "loads_json",
    "register_persistable",
    "registered_persistables",
]


class PersistenceError(ValueError):
    """Raised when stored data cannot be turned back into an object."""


@runtime_checkable
class Persistable(Protocol):
    """What a persistable class provides."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any: ...


_T = TypeVar("_T")
_REGISTRY: dict[str, type] = {}
# Type names whose classes live in modules not imported yet: name -> "module:Class".
_LAZY: dict[str, str] = {}


def register_persistable(name: str) -> Callable[[type[_T]], type[_T]]:
    """Class decorator registering a persistable class under a stable type name.

    Parameters
    ----------
    name : `str`
        The name written to files; it must never change once data have been written with it.

    Raises
    ------
    ValueError
        If another class is already registered under ``name``.
    """

    def decorator(cls: type[_T]) -> type[_T]:
        previous = _REGISTRY.get(name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            raise ValueError(f"Persistable type name {name!r} is already used by {previous!r}")
        if not (hasattr(cls, "to_dict") and hasattr(cls, "from_dict")):
            raise TypeError(f"{cls.__qualname__} must define to_dict() and from_dict() to be persistable")
        _REGISTRY[name] = cls
        cls._persistable_name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def register_lazy_persistable(name: str, target: str) -> None:
    """Declare that type ``name`` is provided by ``target`` (``"package.module:Class"``).

    The module is imported the first time an object of that type is loaded.
    """
    _LAZY.setdefault(name, target)


def registered_persistables() -> dict[str, type]:
    """Return a copy of the mapping of registered type names to classes."""
    return dict(_REGISTRY)


def dump_persistable(obj: Any) -> dict[str, Any]:
    """Return ``obj.to_dict()`` with its registered type name under the key ``"type"``."""
    name = getattr(type(obj), "_persistable_name", None)
    if name is None or _REGISTRY.get(name) is not type(obj):
        raise PersistenceError(
            f"{type(obj).__qualname__} is not a registered persistable class; "
            "decorate it with @register_persistable('Name')"
        )
    data = obj.to_dict()  # type: ignore[attr-defined]
    if "type" in data:
        raise PersistenceError(f"{type(obj).__qualname__}.to_dict() must not use the reserved key 'type'")
    return {"type": name, **data}


def load_persistable(data: dict[str, Any], expected: type | None = None) -> Any:
    """Rebuild an object written by `dump_persistable`.

    Parameters
    ----------
    data : `dict`
        The stored mapping, with a ``"type"`` key.
    expected : `type`, optional
        If given, the rebuilt object must be an instance of it.

    Raises
    ------
    PersistenceError
        If the type name is missing or unknown, or the object is not of the expected type.
    """
    if not isinstance(data, dict) or "type" not in data:
        raise PersistenceError("Stored object has no 'type' key; it was not written by dump_persistable")
    name = data["type"]
    cls = _REGISTRY.get(name)
    if cls is None and name in _LAZY:
        module_name, _, _attr = _LAZY[name].partition(":")
        importlib.import_module(module_name)
        cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(set(_REGISTRY) | set(_LAZY))) or "(none)"
        raise PersistenceError(f"Unknown persisted type {name!r}; known types: {known}")
    payload = {k: v for k, v in data.items() if k != "type"}
    try:
        obj = cls.from_dict(payload)  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError) as err:
        raise PersistenceError(f"Cannot rebuild a {name!r} from stored data: {err}") from err
    if expected is not None and not isinstance(obj, expected):
        raise PersistenceError(f"Stored object is a {name!r}, expected a {expected.__qualname__}")
    return obj


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """Encode an array as a JSON-compatible dict (bit-exact, little-endian)."""
    arr = np.ascontiguousarray(array)
    dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    arr = arr.astype(dtype, copy=False)
    return {
        "__ndarray__": base64.b64encode(arr.tobytes()).decode("ascii"),
        "dtype": dtype.str,
        "shape": list(arr.shape),
    }


def decode_array(data: dict[str, Any]) -> np.ndarray:
    """Decode an array written by `encode_array` (a new, writeable array)."""
    try:
        raw = base64.b64decode(data["__ndarray__"])
        arr = np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    except (KeyError, ValueError, TypeError) as err:
        raise PersistenceError(f"Corrupt encoded array: {err}") from err
    return arr.copy()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return encode_array(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_dict") and getattr(type(obj), "_persistable_name", None):
        return dump_persistable(obj)
    raise TypeError(f"Object of type {type(obj).__qualname__} is not JSON serializable")


def _hook(obj: dict[str, Any]) -> Any:
    if "__ndarray__" in obj:
        return decode_array(obj)
    return obj


def dumps_json(obj: Any) -> str:
    """Serialize to JSON, encoding numpy arrays/scalars and registered persistables."""
    return json.dumps(obj, default=_default, separators=(",", ":"))


def loads_json(text: str | bytes) -> Any:
    """Parse JSON written by `dumps_json`, decoding arrays (persistables stay dicts)."""
    return json.loads(text, object_hook=_hook)
