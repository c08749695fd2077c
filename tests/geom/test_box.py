# SPDX-License-Identifier: GPL-3.0-or-later
"""Integer and floating-point boxes: construction, predicates, set operations, slicing."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom import Box2D, Box2I, Point2D, Point2I


def test_box2i_construction_and_properties() -> None:
    box = Box2I.from_corners(5, 3, 24, 12)
    assert box == Box2I(5, 3, 20, 10) == Box2I.from_shape((10, 20), (5, 3))
    assert (box.max_x, box.max_y, box.end_x, box.end_y) == (24, 12, 25, 13)
    assert box.shape == (10, 20) and box.area == 200 and box.min == Point2I(5, 3)
    assert box.center == Point2D(14.5, 7.5)
    assert Box2I(0, 0, -3, 4).is_empty and Box2I.empty().area == 0
    with pytest.raises(TypeError, match="Box2I.width must be an integer"):
        Box2I(0, 0, 2.5, 3)  # type: ignore[arg-type]


def test_box2i_slices_index_the_right_pixels() -> None:
    parent = np.arange(100).reshape(10, 10)  # xy0 = (100, 200)
    box = Box2I(102, 203, 3, 2)
    cut = parent[box.slices((100, 200))]
    assert cut.shape == box.shape and cut[0, 0] == parent[3, 2] and cut[-1, -1] == parent[4, 4]


def test_box2i_contains_rounds_to_nearest_pixel() -> None:
    box = Box2I(0, 0, 10, 10)
    inside = box.contains(np.array([-0.49, 9.49, 9.5, -0.51]), np.zeros(4))
    assert inside.tolist() == [True, True, False, False]
    assert box.contains(3, 3) is True


def test_box2i_set_operations() -> None:
    a, b = Box2I(0, 0, 10, 10), Box2I(5, 5, 10, 10)
    assert a.intersection(b) == Box2I(5, 5, 5, 5) and a.overlaps(b)
    assert a.union(b) == Box2I(0, 0, 15, 15)
    assert a.intersection(Box2I(20, 20, 2, 2)).is_empty and not a.overlaps(Box2I(10, 0, 2, 2))
    assert a.contains_box(Box2I(2, 2, 3, 3)) and not a.contains_box(b)
    assert a.grown(2) == Box2I(-2, -2, 14, 14) and a.shifted(3, -1) == Box2I(3, -1, 10, 10)
    assert a.union(Box2I.empty()) == a and Box2I.empty().grown(3).is_empty


def test_box2i_box2d_conversions_and_dict() -> None:
    box = Box2I(5, 3, 20, 10)
    fbox = box.to_box2d()
    assert fbox == Box2D(4.5, 2.5, 24.5, 12.5) and fbox.area == 200.0
    assert fbox.to_box2i_inner() == box and fbox.to_box2i_outer() == box
    assert Box2D(4.6, 2.6, 24.4, 12.4).to_box2i_inner() == Box2I(6, 4, 18, 8)
    assert Box2D(4.6, 2.6, 24.4, 12.4).to_box2i_outer() == box
    assert Box2I.from_dict(box.to_dict()) == box and Box2D.from_dict(fbox.to_dict()) == fbox
    np.testing.assert_array_equal(box.corners()[2], [24, 12])


def test_box2d_operations() -> None:
    pts = Box2D.from_points([1.0, 3.0, 2.0], [5.0, -1.0, 0.0])
    assert pts == Box2D(1.0, -1.0, 3.0, 5.0) and pts.center == Point2D(2.0, 2.0)
    assert Box2D.from_points([], []).is_empty and Box2D.empty().width == 0.0
    assert pts.contains(3.0, 5.0) is True and not pts.contains(3.01, 5.0)
    other = Box2D(2.0, 0.0, 10.0, 1.0)
    assert pts.intersection(other) == Box2D(2.0, 0.0, 3.0, 1.0)
    assert pts.union(other) == Box2D(1.0, -1.0, 10.0, 5.0)
    assert pts.intersection(Box2D(5, 5, 6, 6)).is_empty and pts.grown(1.0).width == 4.0
