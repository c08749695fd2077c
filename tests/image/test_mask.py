# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.mask: named bit planes."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom import Box2I
from skystack.image import DEFAULT_MASK_PLANES, BoxError, Mask, MaskPlaneError, default_plane_dict

BOX = Box2I(5, 7, 6, 4)


def test_default_planes_like_afw() -> None:
    mask = Mask.from_bbox(BOX)
    assert mask.dtype == np.int32 and mask.bbox == BOX and not mask.array.any()
    assert list(mask.plane_dict) == list(DEFAULT_MASK_PLANES)
    assert mask.get_plane_bit("BAD") == 0 and mask.get_plane_bit("SAT") == 1
    assert mask.get_plane_bitmask("BAD", "SAT", "CR") == 0b1011
    assert mask.get_plane_bitmask() == 0
    for name in ("INTRP", "EDGE", "DETECTED", "DETECTED_NEGATIVE", "SUSPECT", "NO_DATA", "STREAK"):
        assert name in mask.plane_dict


def test_set_get_clear_planes() -> None:
    mask = Mask.from_bbox(BOX)
    where = np.zeros(BOX.shape, dtype=bool)
    where[1, 2] = where[3, 0] = True
    mask.set_plane("SAT", where)
    mask.set_plane("CR", np.roll(where, 1, axis=1))
    np.testing.assert_array_equal(mask.get_plane("SAT"), where)
    assert mask.array[1, 2] == 2 and mask.array[1, 3] == 8
    np.testing.assert_array_equal(mask.any_plane("SAT", "CR"), where | np.roll(where, 1, axis=1))
    mask.clear_plane("SAT", np.ones(BOX.shape, dtype=bool))
    assert not mask.get_plane("SAT").any() and mask.get_plane("CR").sum() == 2
    mask.clear_plane("CR")
    assert not mask.array.any()
    with pytest.raises(ValueError, match="boolean arrays of the mask's shape"):
        mask.set_plane("SAT", np.ones((2, 2), dtype=bool))


def test_unknown_and_invalid_planes() -> None:
    mask = Mask.from_bbox(BOX)
    with pytest.raises(MaskPlaneError, match=r"'NOPE' is not defined; defined planes: BAD, CR"):
        mask.get_plane("NOPE")
    with pytest.raises(MaskPlaneError, match="invalid"):
        mask.add_plane("lower")
    with pytest.raises(MaskPlaneError, match="same bit"):
        Mask.from_bbox(BOX, plane_dict={"A": 1, "B": 1})
    with pytest.raises(MaskPlaneError, match=r"bits must be integers in \[0, 16\)"):
        Mask.from_bbox(BOX, dtype=np.int16, plane_dict={"A": 16})
    with pytest.raises(TypeError, match="Mask pixel type float32"):
        Mask(np.zeros((2, 2), dtype=np.float32))


def test_add_plane_uses_lowest_free_bit_and_runs_out() -> None:
    mask = Mask.from_bbox(BOX, dtype=np.int16, plane_dict={"A": 0, "C": 2})
    assert mask.add_plane("B") == 1
    assert mask.add_plane("B") == 1  # idempotent
    assert mask.add_plane("D") == 3
    for i in range(12):
        mask.add_plane(f"P{i}")
    assert len(mask.plane_dict) == 16
    with pytest.raises(MaskPlaneError, match="all 16 bits of the int16 mask are used"):
        mask.add_plane("ONE_TOO_MANY")


def test_sign_bit_plane_works() -> None:
    mask = Mask.from_bbox(BOX, plane_dict={"TOP": 31})
    where = np.zeros(BOX.shape, dtype=bool)
    where[0, 0] = True
    mask.set_plane("TOP", where)
    assert mask.array[0, 0] == np.int32(-(2**31))
    np.testing.assert_array_equal(mask.get_plane("TOP"), where)
    mask.clear_plane("TOP")
    assert mask.array[0, 0] == 0


def test_views_share_the_dictionary_copies_do_not() -> None:
    mask = Mask.from_bbox(BOX)
    sub = mask[Box2I(6, 8, 2, 2)]
    assert np.shares_memory(sub.array, mask.array)
    bit = sub.add_plane("FAKE")
    assert mask.get_plane_bit("FAKE") == bit
    copy = mask.copy()
    copy.add_plane("ONLY_IN_COPY")
    assert "ONLY_IN_COPY" not in mask.plane_dict
    built = Mask.from_bbox(BOX, plane_dict=mask.plane_dict)
    assert built.plane_dict == mask.plane_dict
    built.add_plane("OTHER")
    assert "OTHER" not in mask.plane_dict
    with pytest.raises(TypeError):
        mask.plane_dict["X"] = 3  # type: ignore[index]


def test_remove_plane_clears_bits() -> None:
    mask = Mask.from_bbox(BOX)
    mask.set_plane("CR", np.ones(BOX.shape, dtype=bool))
    mask.set_plane("BAD", np.ones(BOX.shape, dtype=bool))
    mask.remove_plane("CR")
    assert "CR" not in mask.plane_dict and np.all(mask.array == 1)
    assert mask.count_planes()["BAD"] == BOX.area


def test_or_remaps_bits_by_name() -> None:
    ours = Mask.from_bbox(BOX)
    theirs = Mask.from_bbox(BOX, plane_dict={"CR": 0, "GHOST": 1, "BAD": 5})
    where_cr = np.zeros(BOX.shape, dtype=bool)
    where_cr[0, :] = True
    where_ghost = np.zeros(BOX.shape, dtype=bool)
    where_ghost[:, 0] = True
    theirs.set_plane("CR", where_cr)
    theirs.set_plane("GHOST", where_ghost)
    ours |= theirs
    np.testing.assert_array_equal(ours.get_plane("CR"), where_cr)
    np.testing.assert_array_equal(ours.get_plane("GHOST"), where_ghost)
    assert ours.get_plane_bit("GHOST") == len(DEFAULT_MASK_PLANES)
    assert not ours.get_plane("BAD").any()
    union = Mask.from_bbox(BOX) | theirs
    assert union == ours


def test_remap_refuses_unnamed_or_missing_planes() -> None:
    mask = Mask.from_bbox(BOX, plane_dict={"A": 0})
    mask.array[0, 0] = 0b100  # bit 2 has no name
    with pytest.raises(MaskPlaneError, match=r"bitmask 0x4\) that belong to no named plane"):
        mask.remapped(default_plane_dict())
    named = Mask.from_bbox(BOX, plane_dict={"A": 0})
    named.array[0, 0] = 1
    with pytest.raises(MaskPlaneError, match="'A' is set in some pixels but not defined in the target"):
        named.remapped({"B": 0})
    remapped = named.remapped({"B": 0, "A": 9})
    assert remapped.array[0, 0] == 1 << 9
    with pytest.raises(BoxError, match="equal boxes"):
        named |= Mask.from_bbox(Box2I(0, 0, 6, 4))


def test_and_with_integer() -> None:
    mask = Mask(np.array([[3, 5], [6, 7]], dtype=np.int32))
    result = mask & 1
    np.testing.assert_array_equal(result.array, [[1, 1], [0, 1]])
    assert mask.array[0, 0] == 3
