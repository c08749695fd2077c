# SPDX-License-Identifier: GPL-3.0-or-later
"""Source identifiers that are unique across exposures (the afw ``IdFactory`` role).

Bit layout of a 64-bit signed source id made by an `IdFactory` with ``counter_bits = c``::

    bit 63        : always 0 (ids are positive int64)
    bits 62 … c   : the exposure id (at most 63 - c bits)
    bits c-1 … 0  : a per-exposure counter, starting at 1

so ``id = (exposure_id << c) | counter``. With the default ``c = 32`` an exposure may hold
4 294 967 295 sources and exposure ids may use 31 bits. Id 0 is never produced; it means "no
parent" in the ``parent`` column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skystack.utils.persist import register_persistable

__all__ = ["IdFactory"]


@register_persistable("IdFactory")
class IdFactory:
    """Hands out unique source ids with an exposure id in the high bits.

    Parameters
    ----------
    exposure_id : `int`, optional
        Id of the exposure (or any other id space) stored in the high bits; 0 for none.
    counter_bits : `int`, optional
        Number of low bits for the per-exposure counter (1 to 63).
    start : `int`, optional
        Last counter value already used; the next id has counter ``start + 1``.

    Raises
    ------
    ValueError
        If ``counter_bits`` is out of range or ``exposure_id`` does not fit in ``63 - counter_bits``
        bits.
    """

    def __init__(self, exposure_id: int = 0, counter_bits: int = 32, start: int = 0) -> None:
        if not 1 <= counter_bits <= 63:
            raise ValueError(f"IdFactory counter_bits must be in 1..63, got {counter_bits}")
        exposure_bits = 63 - counter_bits
        if exposure_id < 0 or exposure_id >= (1 << exposure_bits):
            raise ValueError(
                f"IdFactory exposure_id {exposure_id} does not fit in {exposure_bits} bits "
                f"(counter_bits={counter_bits}); use fewer counter bits or a smaller exposure id"
            )
        if start < 0 or start >= (1 << counter_bits):
            raise ValueError(f"IdFactory start {start} must be in [0, 2**{counter_bits})")
        self._exposure_id = int(exposure_id)
        self._counter_bits = int(counter_bits)
        self._last = int(start)

    @property
    def exposure_id(self) -> int:
        return self._exposure_id

    @property
    def counter_bits(self) -> int:
        return self._counter_bits

    @property
    def last_counter(self) -> int:
        """The counter of the most recently issued id (0 if none)."""
        return self._last

    def next_ids(self, count: int) -> np.ndarray:
        """``count`` new consecutive ids as an int64 array.

        Raises
        ------
        OverflowError
            If the counter would exceed ``counter_bits`` bits.
        """
        if count < 0:
            raise ValueError(f"Cannot make {count} ids")
        limit = (1 << self._counter_bits) - 1
        if self._last + count > limit:
            raise OverflowError(
                f"IdFactory for exposure {self._exposure_id} would exceed its {self._counter_bits}-bit "
                f"counter ({limit} ids); use more counter_bits"
            )
        counters = np.arange(self._last + 1, self._last + count + 1, dtype=np.int64)
        self._last += count
        return counters | np.int64(self._exposure_id << self._counter_bits)

    def next_id(self) -> int:
        """One new id."""
        return int(self.next_ids(1)[0])

    def notify(self, used_id: int) -> None:
        """Record that ``used_id`` (of this exposure) is taken, so later ids are larger.

        Raises
        ------
        ValueError
            If ``used_id`` belongs to another exposure.
        """
        exposure, counter = self.split(np.asarray([used_id], dtype=np.int64))
        if int(exposure[0]) != self._exposure_id:
            raise ValueError(f"Id {used_id} belongs to exposure {int(exposure[0])}, not {self._exposure_id}")
        self._last = max(self._last, int(counter[0]))

    def split(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split ids into ``(exposure_id, counter)`` arrays (vectorised)."""
        arr = np.asarray(ids, dtype=np.int64)
        mask = np.int64((1 << self._counter_bits) - 1)
        return arr >> np.int64(self._counter_bits), arr & mask

    def to_dict(self) -> dict[str, Any]:
        return {"exposure_id": self._exposure_id, "counter_bits": self._counter_bits, "start": self._last}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdFactory:
        return cls(int(data["exposure_id"]), int(data["counter_bits"]), int(data["start"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdFactory):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"IdFactory(exposure_id={self._exposure_id}, counter_bits={self._counter_bits}, "
            f"start={self._last})"
        )
