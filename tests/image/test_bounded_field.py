# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the BoundedField family."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import chebyshev

from skystack.geom.box import Box2I
from skystack.image.bounded_field import (
    BoundedField,
    ChebyshevBoundedField,
    ConstantBoundedField,
    ProductBoundedField,
)
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

BBOX = Box2I(10, -5, 200, 150)


def _round_trip(obj: object) -> object:
    return load_persistable(loads_json(dumps_json(dump_persistable(obj))))


def _reference(coeffs: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Direct sum of c[j, i] T_i(x') T_j(y') with the box-edge scaling."""
    xs = 2.0 * (x - (BBOX.min_x - 0.5)) / BBOX.width - 1.0
    ys = 2.0 * (y - (BBOX.min_y - 0.5)) / BBOX.height - 1.0
    total = np.zeros_like(xs)
    for j in range(coeffs.shape[0]):
        for i in range(coeffs.shape[1]):
            ti = chebyshev.chebval(xs, np.eye(coeffs.shape[1])[i])
            tj = chebyshev.chebval(ys, np.eye(coeffs.shape[0])[j])
            total += coeffs[j, i] * ti * tj
    return total


def test_constant_field() -> None:
    field = ConstantBoundedField(2.5, BBOX)
    assert field.evaluate(3.0, 4.0) == 2.5
    np.testing.assert_array_equal(field.evaluate(np.arange(3), np.zeros(3)), [2.5, 2.5, 2.5])
    image = field.make_image()
    assert image.shape == BBOX.shape and np.all(image == 2.5)
    assert field.mean() == 2.5
    assert (3 * field).evaluate(0, 0) == 7.5
    assert (field / 2).evaluate(0, 0) == 1.25
    assert _round_trip(field) == field
    assert field != ConstantBoundedField(2.5, Box2I(0, 0, 5, 5))


def test_chebyshev_evaluate_matches_direct_sum() -> None:
    rng = np.random.default_rng(3)
    coeffs = rng.normal(size=(3, 4))
    field = ChebyshevBoundedField(coeffs, BBOX)
    x = rng.uniform(BBOX.min_x, BBOX.max_x, 50)
    y = rng.uniform(BBOX.min_y, BBOX.max_y, 50)
    np.testing.assert_allclose(field.evaluate(x, y), _reference(coeffs, x, y), rtol=1e-12, atol=1e-12)
    assert isinstance(field.evaluate(12.0, 3.0), float)
    # Pixel edges of the box map to -1 and +1: T_1(x') is -1 at the left edge.
    edge = ChebyshevBoundedField(np.array([[0.0, 1.0]]), BBOX)
    assert edge.evaluate(BBOX.min_x - 0.5, 0.0) == pytest.approx(-1.0)
    assert edge.evaluate(BBOX.max_x + 0.5, 0.0) == pytest.approx(1.0)


def test_chebyshev_make_image_and_mean() -> None:
    rng = np.random.default_rng(4)
    field = ChebyshevBoundedField(rng.normal(size=(3, 3)), BBOX)
    image = field.make_image()
    yy, xx = np.mgrid[BBOX.min_y : BBOX.end_y, BBOX.min_x : BBOX.end_x]
    np.testing.assert_allclose(image, field.evaluate(xx, yy), rtol=1e-12, atol=1e-12)
    assert field.mean() == pytest.approx(image.mean(), rel=1e-12)
    sub = Box2I(50, 20, 7, 9)
    np.testing.assert_allclose(field.make_image(sub), image[sub.slices(BBOX.xy0)], rtol=1e-12)
    assert field.make_image(dtype=np.float32).dtype == np.float32


def test_chebyshev_fit_recovers_polynomial() -> None:
    rng = np.random.default_rng(5)
    truth = np.array([[1.0, 0.3, -0.2], [0.5, 0.1, 0.0], [0.25, 0.0, 0.0]])  # triangular, order 2
    field = ChebyshevBoundedField(truth, BBOX)
    x = rng.uniform(BBOX.min_x, BBOX.max_x, 400)
    y = rng.uniform(BBOX.min_y, BBOX.max_y, 400)
    fitted = ChebyshevBoundedField.fit(x, y, field.evaluate(x, y), BBOX, order=2)
    np.testing.assert_allclose(fitted.coefficients, truth, atol=1e-10)
    # Noisy data with weights: coefficients within a few standard errors.
    sigma = 0.01
    noisy = field.evaluate(x, y) + rng.normal(0, sigma, x.size)
    fitted = ChebyshevBoundedField.fit(x, y, noisy, BBOX, order=2, weights=np.full(x.size, sigma**-2))
    # Standard errors from the design matrix of the 6 triangular terms.
    xs = 2.0 * (x - (BBOX.min_x - 0.5)) / BBOX.width - 1.0
    ys = 2.0 * (y - (BBOX.min_y - 0.5)) / BBOX.height - 1.0
    terms = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]  # (j, i)
    design = np.column_stack(
        [chebyshev.chebval(xs, np.eye(3)[i]) * chebyshev.chebval(ys, np.eye(3)[j]) for j, i in terms]
    )
    errors = sigma * np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    diffs = np.array([fitted.coefficients[j, i] - truth[j, i] for j, i in terms])
    assert np.all(np.abs(diffs) < 5 * errors)
    assert np.all(fitted.coefficients[[1, 2, 2], [2, 1, 2]] == 0.0)
    full = ChebyshevBoundedField.fit(x, y, field.evaluate(x, y), BBOX, order=2, triangular=False)
    np.testing.assert_allclose(full.coefficients, truth, atol=1e-10)


def test_chebyshev_fit_errors() -> None:
    with pytest.raises(ValueError, match="cannot constrain"):
        ChebyshevBoundedField.fit([1, 2], [1, 2], [1, 2], BBOX, order=2)
    with pytest.raises(ValueError, match="same length"):
        ChebyshevBoundedField.fit([1, 2, 3], [1, 2], [1, 2, 3], BBOX, order=0)
    with pytest.raises(ValueError, match="finite"):
        ChebyshevBoundedField.fit([1, np.nan], [1, 2], [1, 2], BBOX, order=0)
    with pytest.raises(ValueError, match="non-negative integer"):
        ChebyshevBoundedField.fit([1, 2], [1, 2], [1, 2], BBOX, order=-1)
    with pytest.raises(ValueError, match="2-D array"):
        ChebyshevBoundedField(np.ones(3), BBOX)
    with pytest.raises(ValueError, match="empty"):
        ChebyshevBoundedField(np.ones((1, 1)), Box2I.empty())


def test_product_and_scaling() -> None:
    rng = np.random.default_rng(6)
    a = ChebyshevBoundedField(rng.normal(size=(2, 2)), BBOX)
    b = ConstantBoundedField(3.0, BBOX)
    product = a * b
    assert isinstance(product, ProductBoundedField)
    x, y = rng.uniform(10, 200, 20), rng.uniform(-5, 140, 20)
    np.testing.assert_allclose(product.evaluate(x, y), 3.0 * np.asarray(a.evaluate(x, y)), rtol=1e-14)
    np.testing.assert_allclose(product.make_image(), 3.0 * a.make_image(), rtol=1e-14)
    assert product.mean() == pytest.approx(3.0 * a.mean(), rel=1e-12)
    scaled = 2.0 * product
    np.testing.assert_allclose(scaled.evaluate(x, y), 6.0 * np.asarray(a.evaluate(x, y)), rtol=1e-14)
    assert isinstance(a * 2, ChebyshevBoundedField)
    restored = _round_trip(scaled)
    assert restored == scaled and isinstance(restored, BoundedField)
    assert _round_trip(a) == a
    with pytest.raises(ValueError, match="share one bbox"):
        ProductBoundedField([a, ConstantBoundedField(1.0, Box2I(0, 0, 3, 3))])
    with pytest.raises(ValueError, match="at least one"):
        ProductBoundedField([])
