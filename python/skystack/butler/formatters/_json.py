# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON formatters: plain dicts, task metadata, `Box2I` and registered persistable objects.

Persistable objects (PSFs, WCSs, PhotoCalibs, backgrounds, skymaps ...) are written with
`skystack.utils.persist.dump_persistable`, so a file names the registered class that rebuilds
it and nothing is pickled or executed on read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import Formatter, FormatterError

__all__ = ["Box2IFormatter", "PersistableFormatter", "StructuredDataDictFormatter", "TaskMetadataFormatter"]


def _load_text(path: Path) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _parse(path: Path, text: bytes) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatterError(path, f"not valid JSON (truncated or corrupt?): {err}") from None


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


class StructuredDataDictFormatter(Formatter):
    """`dict` ↔ JSON (numpy arrays and scalars and registered persistables are encoded).

    The standard-library JSON encoder is used for plain data; only dicts holding numpy values go
    through `skystack.utils.persist.dumps_json` (which imports numpy).
    """

    extension: ClassVar[str] = ".json"

    def write(self, obj: Any, path: Path) -> None:
        try:
            text = json.dumps(obj, separators=(",", ":"))
        except TypeError:
            from skystack.utils.persist import dumps_json

            text = dumps_json(obj)
        _write_text(path, text)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        text = _load_text(path)
        if b'"__ndarray__"' in text:
            from skystack.utils.persist import loads_json

            try:
                return loads_json(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise FormatterError(path, f"not valid JSON (truncated or corrupt?): {err}") from None
        data = _parse(path, text)
        if not isinstance(data, dict):
            raise FormatterError(path, f"holds a JSON {type(data).__name__}, not an object (dict)")
        return data


class TaskMetadataFormatter(Formatter):
    """`skystack.task.TaskMetadata` ↔ JSON."""

    extension: ClassVar[str] = ".json"

    def write(self, obj: Any, path: Path) -> None:
        _write_text(path, obj.to_json())

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.task.metadata import TaskMetadata

        text = _load_text(path)
        _parse(path, text)
        return TaskMetadata.from_json(text)


class Box2IFormatter(Formatter):
    """`skystack.geom.Box2I` ↔ JSON."""

    extension: ClassVar[str] = ".json"

    def write(self, obj: Any, path: Path) -> None:
        _write_text(path, json.dumps(obj.to_dict()))

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.geom import Box2I

        data = _parse(path, _load_text(path))
        try:
            return Box2I.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            raise FormatterError(path, f"not a Box2I: {err}") from None


class PersistableFormatter(Formatter):
    """Registered persistable objects ↔ JSON (`dump_persistable` / `load_persistable`)."""

    extension: ClassVar[str] = ".json"

    def write(self, obj: Any, path: Path) -> None:
        from skystack.utils.persist import dump_persistable, dumps_json

        _write_text(path, dumps_json(dump_persistable(obj)))

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.utils.persist import PersistenceError, load_persistable, loads_json

        text = _load_text(path)
        try:
            data = loads_json(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise FormatterError(path, f"not valid JSON (truncated or corrupt?): {err}") from None
        try:
            return load_persistable(data, expected=self.storage_class.get_python_type())
        except PersistenceError as err:
            raise FormatterError(path, str(err)) from None
