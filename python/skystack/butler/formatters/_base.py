# SPDX-License-Identifier: GPL-3.0-or-later
"""The `Formatter` interface."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..storage_classes import StorageClass

__all__ = ["Formatter", "FormatterError"]


class FormatterError(OSError):
    """A file cannot be read as the dataset it should hold (corrupt, truncated, wrong kind).

    The message names the file and what is wrong.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = str(path)
        self.reason = reason


class Formatter(abc.ABC):
    """Writes objects of one storage class to files and reads them back.

    Parameters
    ----------
    storage_class : `StorageClass`
        The storage class this formatter serves (its components and parameters).

    Notes
    -----
    `write` writes exactly the path it is given (the datastore passes a temporary name in the
    destination folder and renames it afterwards). `read` checks nothing about the component and
    parameters beyond what it needs: the datastore validates them against the storage class first.
    Subclasses may override `read_component`; the default reads the whole object and returns its
    attribute of that name.
    """

    extension: ClassVar[str] = ""
    """File-name extension, with its dot (``".fits"``)."""

    def __init__(self, storage_class: StorageClass) -> None:
        self.storage_class = storage_class

    @property
    def name(self) -> str:
        """Import path of this formatter class (stored in the datastore records)."""
        cls = type(self)
        return f"{cls.__module__}:{cls.__qualname__}"

    @abc.abstractmethod
    def write(self, obj: Any, path: Path) -> None:
        """Write ``obj`` to ``path`` (its folder exists; an existing file is replaced)."""

    @abc.abstractmethod
    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        """Read the object (or the part selected by ``parameters``) from ``path``.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        FormatterError
            If the file is not a valid file of this storage class.
        """

    def read_component(self, path: Path, component: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """Read one component; by default the attribute ``component`` of the whole object."""
        return getattr(self.read(path, parameters), component)
