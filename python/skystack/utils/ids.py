# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast name-based (version 5) UUIDs for the millions of deterministic dataset and quantum IDs.

`uuid.uuid5` spends most of its ~3 µs validating arguments in ``UUID.__init__``; this builds the
same UUID (RFC 4122: SHA-1 of namespace bytes + name, version and variant bits set) directly.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["uuid5"]

_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_BITS = (5 << 76) | (0x8000 << 48)
_new = object.__new__
_set = object.__setattr__


def uuid5(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """The same value as ``uuid.uuid5(namespace, name)``, several times faster."""
    digest = hashlib.sha1(namespace.bytes + name.encode("utf-8"), usedforsecurity=False).digest()
    value = (int.from_bytes(digest[:16], "big") & _VERSION_MASK) | _VERSION_BITS
    result = _new(uuid.UUID)
    _set(result, "int", value)
    _set(result, "is_safe", uuid.SafeUUID.unknown)
    return result
