# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast uuid5 equals the standard library's for any namespace and name."""

from __future__ import annotations

import uuid

import pytest

from skystack.utils.ids import uuid5


@pytest.mark.parametrize("name", ["", "calexp|instrument='Cam';visit=1|run", "é✓" * 40, "x" * 10_000])
@pytest.mark.parametrize("namespace", [uuid.NAMESPACE_DNS, uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)])
def test_equals_stdlib(namespace: uuid.UUID, name: str) -> None:
    ours, theirs = uuid5(namespace, name), uuid.uuid5(namespace, name)
    assert ours == theirs and ours.version == 5 and ours.variant == uuid.RFC_4122
    assert str(ours) == str(theirs) and hash(ours) == hash(theirs) and ours.bytes == theirs.bytes
