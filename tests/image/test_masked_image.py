# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.masked_image: variance propagation, views, masks."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom import Box2I
from skystack.image import BoxError, Image, Mask, MaskedImage

SHAPE = (5, 7)
XY0 = (3, -2)


def _mi(value: float, variance: float, bit: int | None = None, dtype: type = np.float64) -> MaskedImage:
    rng = np.random.default_rng(int(value * 10 + variance))
    image: np.ndarray = (value + rng.normal(0, 0.1, SHAPE)).astype(dtype)
    mask = np.zeros(SHAPE, dtype=np.int32)
    if bit is not None:
        mask[0, :] = 1 << bit
    return MaskedImage.from_arrays(image, mask, np.full(SHAPE, variance, dtype=dtype), XY0)


def test_defaults_and_views() -> None:
    mi = MaskedImage(Image(np.ones(SHAPE, dtype=np.int16), XY0))
    assert mi.variance.dtype == np.float32 and mi.mask.dtype == np.int32
    assert mi.bbox == mi.mask.bbox == mi.variance.bbox == Box2I(3, -2, 7, 5)
    box = Box2I(4, -1, 3, 2)
    sub = mi[box]
    for whole, part in ((mi.image, sub.image), (mi.mask, sub.mask), (mi.variance, sub.variance)):
        assert part.bbox == box and np.shares_memory(whole.array, part.array)
    sub.variance.array[:] = 9
    assert mi.variance.array[1, 1] == 9 and mi.variance.array[0, 0] == 0


def test_component_checks() -> None:
    image = Image(np.zeros(SHAPE), XY0)
    with pytest.raises(BoxError, match="mask bbox"):
        MaskedImage(image, Mask.from_bbox(Box2I(0, 0, 7, 5)))
    with pytest.raises(TypeError, match="variance must be floating point"):
        MaskedImage(image, None, Image(np.zeros(SHAPE, dtype=np.int32), XY0))
    with pytest.raises(TypeError, match="image must be an Image"):
        MaskedImage(np.zeros(SHAPE))  # type: ignore[arg-type]


def test_add_subtract_propagate() -> None:
    a, b = _mi(10.0, 2.0, bit=0), _mi(3.0, 0.5, bit=3)
    for result, sign in ((a + b, 1), (a - b, -1)):
        np.testing.assert_allclose(result.image.array, a.image.array + sign * b.image.array)
        np.testing.assert_allclose(result.variance.array, 2.5)
        assert np.all(result.mask.array[0] == 0b1001) and not result.mask.array[1:].any()
    c = a + 5.0
    np.testing.assert_allclose(c.variance.array, 2.0)
    np.testing.assert_allclose((5.0 - a).image.array, 5.0 - a.image.array)
    np.testing.assert_allclose((5.0 - a).variance.array, 2.0)


def test_scalar_and_image_scaling() -> None:
    a = _mi(10.0, 2.0)
    np.testing.assert_allclose((a * 3.0).variance.array, 18.0)
    np.testing.assert_allclose((3.0 * a).image.array, 3 * a.image.array)
    np.testing.assert_allclose((a / 4.0).variance.array, 2.0 / 16)
    flat = Image(np.full(SHAPE, 0.5), XY0)
    np.testing.assert_allclose((a / flat).variance.array, 8.0)
    np.testing.assert_allclose((a / flat).image.array, 2 * a.image.array)


def test_product_and_ratio_formulas() -> None:
    a, b = _mi(10.0, 2.0), _mi(3.0, 0.5)
    ai, bi = a.image.array, b.image.array
    np.testing.assert_allclose((a * b).variance.array, bi**2 * 2.0 + ai**2 * 0.5)
    np.testing.assert_allclose((a / b).variance.array, 2.0 / bi**2 + ai**2 * 0.5 / bi**4)
    np.testing.assert_allclose((a / b).image.array, ai / bi)
    # in place keeps the arrays
    image_array = a.image.array
    a *= b
    assert a.image.array is image_array


@pytest.mark.parametrize("op", ["mul", "div"])
def test_variance_matches_monte_carlo(op: str) -> None:
    """First-order propagation agrees with the scatter of simulated noisy pixels."""
    rng = np.random.default_rng(7)
    n = 200_000
    mean_a, var_a, mean_b, var_b = 50.0, 1.0, 20.0, 0.25
    a = MaskedImage.from_arrays(rng.normal(mean_a, np.sqrt(var_a), (1, n)), None, np.full((1, n), var_a))
    b = MaskedImage.from_arrays(rng.normal(mean_b, np.sqrt(var_b), (1, n)), None, np.full((1, n), var_b))
    result = a * b if op == "mul" else a / b
    empirical = result.image.array.var()
    predicted = float(np.median(result.variance.array))
    # Relative errors are small (2 %, 2.5 %), so first order is accurate to ~1e-3;
    # the sample variance of 2e5 draws has a relative scatter of ~0.3 %.
    assert empirical == pytest.approx(predicted, rel=0.015)
    analytic = (
        mean_b**2 * var_a + mean_a**2 * var_b
        if op == "mul"
        else var_a / mean_b**2 + mean_a**2 * var_b / mean_b**4
    )
    assert empirical == pytest.approx(analytic, rel=0.015)


def test_integer_image_promoted_by_float_operands() -> None:
    mi = MaskedImage.from_arrays(np.full(SHAPE, 4, dtype=np.int32), None, np.ones(SHAPE, np.float32))
    half = mi * 0.5
    assert half.dtype.kind == "f" and np.all(half.image.array == 2.0)
    np.testing.assert_allclose(half.variance.array, 0.25)
    assert (mi / 3).dtype == np.float64
    assert (mi + 1).dtype == np.int32


def test_bbox_mismatch_and_bad_operands() -> None:
    a = _mi(1.0, 1.0)
    other = MaskedImage.from_arrays(np.zeros(SHAPE), None, None, (0, 0))
    with pytest.raises(BoxError, match="equal boxes"):
        a + other
    with pytest.raises(TypeError):
        a * "x"


def test_setitem_remaps_mask_planes() -> None:
    target = MaskedImage.from_bbox(Box2I(0, 0, 6, 6))
    source = MaskedImage.from_arrays(
        np.ones((2, 2), np.float32),
        np.full((2, 2), 1 << 2, np.int32),
        np.full((2, 2), 4.0, np.float32),
        plane_dict={"GLINT": 2},
    )
    target[Box2I(1, 1, 2, 2)] = source
    assert np.all(target.image.array[1:3, 1:3] == 1) and target.image.array[0, 0] == 0
    assert np.all(target.variance.array[1:3, 1:3] == 4)
    assert np.all(target.mask.get_plane("GLINT")[1:3, 1:3])
    assert target.mask.get_plane("GLINT").sum() == 4


def test_copy_and_astype() -> None:
    a = _mi(2.0, 1.0, bit=4, dtype=np.float32)
    c = a.copy()
    assert not np.shares_memory(c.image.array, a.image.array)
    assert not np.shares_memory(c.mask.array, a.mask.array)
    d = a.astype(np.float64)
    assert d.dtype == np.float64 and d.variance.dtype == np.float64
    np.testing.assert_array_equal(d.mask.array, a.mask.array)
