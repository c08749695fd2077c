# SPDX-License-Identifier: GPL-3.0-or-later
"""`Struct`: the named results of a Task's ``run`` method."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Struct"]


class Struct:
    """A simple container of named values with attribute access.

    Parameters
    ----------
    **kwargs
        The named values; names must be valid identifiers not starting with an underscore.

    Examples
    --------
    >>> result = Struct(exposure=None, n_sources=3)
    >>> result.n_sources
    3
    >>> sorted(result.get_dict())
    ['exposure', 'n_sources']
    """

    def __init__(self, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            self._check_name(name)
            object.__setattr__(self, name, value)

    @staticmethod
    def _check_name(name: str) -> None:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"Struct field name {name!r} must be an identifier not starting with '_'")

    def __setattr__(self, name: str, value: Any) -> None:
        self._check_name(name)
        object.__setattr__(self, name, value)

    def get_dict(self) -> dict[str, Any]:
        """A new dict of the named values."""
        return dict(vars(self))

    def merge_items(self, other: Struct, *names: str) -> None:
        """Copy the values ``names`` from ``other``; refuses to overwrite an existing name."""
        for name in names:
            if hasattr(self, name):
                raise ValueError(f"Struct already has a value named {name!r}")
            setattr(self, name, getattr(other, name))

    def copy(self) -> Struct:
        """A shallow copy."""
        return Struct(**self.get_dict())

    def __iter__(self) -> Iterator[str]:
        return iter(vars(self))

    def __len__(self) -> int:
        return len(vars(self))

    def __contains__(self, name: object) -> bool:
        return name in vars(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Struct({items})"
