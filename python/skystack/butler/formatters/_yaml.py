# SPDX-License-Identifier: GPL-3.0-or-later
"""`skystack.config.Config` ↔ YAML.

The file starts with a ``# skystack-config: module:Class`` comment naming the config class; on
read that class must be a `Config` subclass (it is imported, never instantiated from arbitrary
code), and the values are applied to its defaults with `Config.from_yaml`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import Formatter, FormatterError

__all__ = ["ConfigFormatter"]

_PREFIX = "# skystack-config: "


class ConfigFormatter(Formatter):
    """`Config` (any subclass) ↔ YAML with the class' import path in a first-line comment."""

    extension: ClassVar[str] = ".yaml"

    def write(self, obj: Any, path: Path) -> None:
        cls = type(obj)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(f"{_PREFIX}{cls.__module__}:{cls.__qualname__}\n")
            stream.write(obj.to_yaml())

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.config import Config

        from ..storage_classes import import_object

        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        first, _, body = text.partition("\n")
        if not first.startswith(_PREFIX):
            raise FormatterError(
                path, f"the first line does not name the config class ({_PREFIX}module:Class)"
            )
        class_path = first[len(_PREFIX) :].strip()
        try:
            cls = import_object(class_path)
        except (ImportError, AttributeError) as err:
            raise FormatterError(path, f"config class {class_path} cannot be imported: {err}") from None
        if not (isinstance(cls, type) and issubclass(cls, Config)):
            raise FormatterError(path, f"{class_path} is not a skystack Config class")
        return cls.from_yaml(body, name=str(path))
