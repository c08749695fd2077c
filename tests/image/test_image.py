# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.image: Image and its box logic."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom import Box2I, Point2I
from skystack.image import BoxError, Image


def _ramp(dtype: type = np.float32, xy0: tuple[int, int] = (10, 20)) -> Image:
    return Image(np.arange(6 * 8, dtype=dtype).reshape(6, 8), xy0)


def test_geometry_and_no_copy() -> None:
    array = np.zeros((6, 8), dtype=np.float64)
    image = Image(array, (10, 20))
    assert image.array is array
    assert image.xy0 == Point2I(10, 20)
    assert image.bbox == Box2I(10, 20, 8, 6)
    assert (image.width, image.height, image.dtype) == (8, 6, np.dtype(np.float64))


def test_subset_is_a_view_in_parent_coordinates() -> None:
    image = _ramp()
    box = Box2I(12, 23, 3, 2)
    sub = image[box]
    assert sub.bbox == box
    assert np.shares_memory(sub.array, image.array)
    # Parent pixel (12, 23) is array element [3, 2].
    assert sub.array[0, 0] == image.array[3, 2]
    sub += 100
    assert image.array[3, 2] == 3 * 8 + 2 + 100
    assert image.subset(box).array[0, 0] == sub.array[0, 0]
    nested = sub[Box2I(13, 24, 1, 1)]
    assert nested.xy0 == Point2I(13, 24)
    assert nested.array[0, 0] == image.array[4, 3]


def test_setitem_from_image_array_and_scalar() -> None:
    image = _ramp()
    box = Box2I(10, 20, 2, 2)
    image[box] = Image(np.full((2, 2), -1.0, dtype=np.float32), (0, 0))
    assert np.all(image.array[:2, :2] == -1)
    image[box] = 7.0
    assert np.all(image.array[:2, :2] == 7)
    image[box] = np.array([[1, 2], [3, 4]], dtype=np.float32)
    assert image.array[1, 1] == 4
    with pytest.raises(BoxError, match="Cannot assign an image of bbox"):
        image[box] = Image(np.zeros((3, 3), dtype=np.float32))


def test_box_outside_names_both_boxes() -> None:
    image = _ramp()
    box = Box2I(0, 0, 5, 5)
    with pytest.raises(BoxError) as info:
        image.subset(box)
    assert repr(box) in str(info.value) and repr(image.bbox) in str(info.value)
    with pytest.raises(BoxError, match="not inside"):
        image[Box2I(17, 25, 2, 1)]  # one column past the edge
    with pytest.raises(TypeError, match="Box2I"):
        image[(0, 0)]  # type: ignore[index]


def test_arithmetic_matches_numpy() -> None:
    a = _ramp(np.float64)
    b = Image(np.linspace(1, 2, 48).reshape(6, 8), (10, 20))
    np.testing.assert_array_equal((a + b).array, a.array + b.array)
    np.testing.assert_array_equal((a - b).array, a.array - b.array)
    np.testing.assert_array_equal((a * b).array, a.array * b.array)
    np.testing.assert_array_equal((a / b).array, a.array / b.array)
    np.testing.assert_array_equal((2.0 - a).array, 2.0 - a.array)
    np.testing.assert_array_equal((3 * a).array, 3 * a.array)
    np.testing.assert_array_equal((1.0 / b).array, 1.0 / b.array)
    np.testing.assert_array_equal((-a).array, -a.array)
    assert (a + b).bbox == a.bbox


def test_in_place_arithmetic_keeps_memory() -> None:
    a = _ramp(np.float32)
    array = a.array
    expected = (array.astype(np.float64) * 2 + 1) / 4 - 0.5
    a *= 2
    a += 1
    a /= 4
    a -= 0.5
    assert a.array is array
    np.testing.assert_allclose(a.array, expected, rtol=1e-7)
    a += Image(np.ones((6, 8), dtype=np.float32), (10, 20))
    np.testing.assert_allclose(a.array, expected + 1, rtol=1e-7)


def test_arithmetic_errors() -> None:
    a = _ramp()
    other = Image(np.ones((6, 8), dtype=np.float32), (0, 0))
    with pytest.raises(BoxError, match="equal boxes"):
        a + other
    with pytest.raises(TypeError):
        a + "x"
    ints = _ramp(np.int32)
    with pytest.raises(TypeError, match="astype"):
        ints += 0.5
    ints += 2  # same kind is fine
    assert ints.array[0, 0] == 2


def test_copy_astype_with_xy0() -> None:
    a = _ramp(np.int16)
    c = a.copy()
    assert not np.shares_memory(c.array, a.array) and c.bbox == a.bbox
    f = a.astype(np.float64)
    assert f.dtype == np.float64 and np.array_equal(f.array, a.array)
    moved = a.with_xy0((0, 0))
    assert moved.bbox == Box2I(0, 0, 8, 6) and np.shares_memory(moved.array, a.array)
    assert np.asarray(a) is a.array


def test_from_bbox_and_validation() -> None:
    image = Image.from_bbox(Box2I(-5, 3, 4, 2), dtype=np.uint16, fill=7)
    assert image.array.shape == (2, 4) and image.dtype == np.uint16 and np.all(image.array == 7)
    with pytest.raises(BoxError, match="empty"):
        Image.from_bbox(Box2I.empty())
    with pytest.raises(TypeError, match="2-D"):
        Image(np.zeros(5, dtype=np.float32))
    with pytest.raises(TypeError, match="not supported"):
        Image(np.zeros((2, 2), dtype=np.complex64))
    with pytest.raises(TypeError, match="numpy array"):
        Image([[1.0]])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="xy0"):
        Image(np.zeros((2, 2)), (0.5, 1))  # type: ignore[arg-type]


def test_big_endian_input_becomes_native() -> None:
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    image = Image(big)
    assert image.dtype.isnative
    np.testing.assert_array_equal(image.array, big)
