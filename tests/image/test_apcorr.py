# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of ApCorrMap."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom.box import Box2I
from skystack.image.apcorr import ApCorrMap
from skystack.image.bounded_field import ChebyshevBoundedField, ConstantBoundedField
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

BBOX = Box2I(0, 0, 2048, 4096)


def _map() -> ApCorrMap:
    return ApCorrMap(
        {
            "base_PsfFlux_instFlux": ChebyshevBoundedField(np.array([[1.02, 0.01], [-0.005, 0.0]]), BBOX),
            "base_PsfFlux_instFluxErr": ConstantBoundedField(1.0, BBOX),
        }
    )


def test_lookup_and_apply() -> None:
    ap = _map()
    assert len(ap) == 2
    assert list(ap) == ["base_PsfFlux_instFlux", "base_PsfFlux_instFluxErr"]
    field = ap["base_PsfFlux_instFlux"]
    x, y = np.array([0.0, 1000.0, 2047.0]), np.array([0.0, 2000.0, 4095.0])
    np.testing.assert_array_equal(ap.evaluate("base_PsfFlux_instFlux", x, y), field.evaluate(x, y))
    np.testing.assert_allclose(
        ap.apply("base_PsfFlux_instFlux", [100.0, 200.0, 300.0], x, y),
        np.array([100.0, 200.0, 300.0]) * field.evaluate(x, y),
    )
    # At the box centre x' = y' = 0: T_0 terms only.
    assert ap.evaluate("base_PsfFlux_instFlux", 1023.5, 2047.5) == pytest.approx(1.02)
    assert "base_GaussianFlux_instFlux" not in ap


def test_errors_name_the_problem() -> None:
    ap = _map()
    with pytest.raises(KeyError, match="base_GaussianFlux_instFlux.*base_PsfFlux_instFlux"):
        ap["base_GaussianFlux_instFlux"]
    with pytest.raises(TypeError, match="must be a BoundedField"):
        ap["x_instFlux"] = 1.0  # type: ignore[assignment]
    with pytest.raises(TypeError, match="non-empty"):
        ap[""] = ConstantBoundedField(1.0, BBOX)


def test_round_trip_and_equality() -> None:
    ap = _map()
    restored = load_persistable(loads_json(dumps_json(dump_persistable(ap))), expected=ApCorrMap)
    assert restored == ap
    assert restored is not ap
    other = _map()
    del other["base_PsfFlux_instFluxErr"]
    assert other != ap
    scaled = ap.scaled(2.0)
    assert scaled["base_PsfFlux_instFluxErr"].evaluate(5, 5) == 2.0
