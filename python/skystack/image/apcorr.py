# SPDX-License-Identifier: GPL-3.0-or-later
"""Aperture-correction maps (the afw ``ApCorrMap`` role).

An `ApCorrMap` maps the name of a flux measurement (``"base_PsfFlux_instFlux"``, and optionally its
error ``"base_PsfFlux_instFluxErr"``) to a `~skystack.image.bounded_field.BoundedField` giving the
multiplicative correction from that flux to the reference (large-aperture) flux as a function of
position on the detector: ``corrected = instFlux * ap_corr_map[name].evaluate(x, y)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..utils.persist import dump_persistable, load_persistable, register_persistable
from .bounded_field import BoundedField

__all__ = ["ApCorrMap"]


@register_persistable("ApCorrMap")
class ApCorrMap(MutableMapping[str, BoundedField]):
    """A mapping of flux-algorithm names to spatially varying aperture corrections.

    Parameters
    ----------
    fields : mapping of `str` to `~skystack.image.bounded_field.BoundedField`, optional
        Initial content.

    Notes
    -----
    Keys must be non-empty strings and values `BoundedField` instances; assignment checks both.
    Iteration is in sorted key order, so two maps with the same content compare and serialise
    identically.
    """

    def __init__(self, fields: Mapping[str, BoundedField] | None = None) -> None:
        self._fields: dict[str, BoundedField] = {}
        if fields is not None:
            for name, field in fields.items():
                self[name] = field

    def __getitem__(self, name: str) -> BoundedField:
        try:
            return self._fields[name]
        except KeyError:
            known = ", ".join(sorted(self._fields)) or "(none)"
            raise KeyError(
                f"No aperture correction for {name!r} in this ApCorrMap; it has: {known}"
            ) from None

    def __setitem__(self, name: str, field: BoundedField) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"ApCorrMap keys must be non-empty flux-field names (str), got {name!r}")
        if not isinstance(field, BoundedField):
            raise TypeError(
                f"ApCorrMap[{name!r}] must be a BoundedField, got {type(field).__qualname__}; wrap a "
                "constant correction in ConstantBoundedField(value, bbox)"
            )
        self._fields[name] = field

    def __delitem__(self, name: str) -> None:
        del self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def evaluate(self, name: str, x: npt.ArrayLike, y: npt.ArrayLike) -> Any:
        """Aperture correction for flux ``name`` at parent pixel positions ``(x, y)``."""
        return self[name].evaluate(x, y)

    def apply(
        self, name: str, instflux: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> np.ndarray | float:
        """Return ``instflux`` multiplied by the correction for ``name`` at ``(x, y)``."""
        corrected = np.asarray(instflux, dtype=float) * np.asarray(self.evaluate(name, x, y))
        return float(corrected) if corrected.ndim == 0 else corrected

    def scaled(self, factor: float) -> ApCorrMap:
        """A new map with every correction multiplied by ``factor``."""
        return ApCorrMap({name: field.scaled(factor) for name, field in self._fields.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"fields": {name: dump_persistable(self._fields[name]) for name in sorted(self._fields)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApCorrMap:
        return cls(
            {name: load_persistable(value, expected=BoundedField) for name, value in data["fields"].items()}
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApCorrMap):
            return NotImplemented
        return self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ApCorrMap({sorted(self._fields)!r})"
