# SPDX-License-Identifier: GPL-3.0-or-later
"""SRD thresholds, MetricValue verdicts and MetricSet serialisation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest

from skystack.qa import MetricSet, MetricValue, compute_srd_metrics, srd_threshold
from skystack.utils.persist import dump_persistable, load_persistable


def test_srd_thresholds() -> None:
    assert (
        srd_threshold("PA1", "r").design,
        srd_threshold("PA1", "r").minimum,
        srd_threshold("PA1", "r").stretch,
    ) == (5, 8, 3)
    assert (srd_threshold("PA1", "y").design, srd_threshold("PA1", "u").minimum) == (7.5, 12.0)
    assert srd_threshold("PA2", "z").design == 22.5 and srd_threshold("PA2", "g").design == 15.0
    assert (srd_threshold("AM3", "i").design, srd_threshold("AD3", "i").minimum) == (15.0, 50.0)
    assert srd_threshold("TE2", "r").stretch == 5e-8
    with pytest.raises(KeyError, match="No SRD threshold for metric 'PA9'; known metrics: AD1"):
        srd_threshold("PA9", "r")


def test_verdicts_at_and_around_thresholds() -> None:
    at = MetricValue.from_srd("AM1", "r", 10.0, n_objects=4, n_pairs=2)
    assert (at.passed_design, at.passed_minimum, at.passed_stretch) == (True, True, False)
    above = MetricValue.from_srd("AM1", "r", 20.5, n_objects=4, n_pairs=2)
    assert (above.passed_design, above.passed_minimum) == (False, False)
    nan = MetricValue.undefined("PA1", "g", "no stars")
    assert nan.passed_design is None and nan.reason == "no stars" and math.isnan(nan.value)
    assert "population RMS (ddof=0)" in nan.definition


def test_metric_set_round_trips(make_table: Callable[..., dict[str, np.ndarray]]) -> None:
    result = compute_srd_metrics(make_table(n_stars=50, n_visits=4, mag_sigma=0.003, half_size_deg=0.2))
    assert math.isnan(result.get("AM3", "r").value)  # a 0.4 deg field has no 200' pairs
    text = result.to_json()
    data = json.loads(text)
    assert data["metrics"][0]["name"] == "PA1" and data["config"]["min_snr"] == 200.0
    back = MetricSet.from_json(text)
    assert [m.name for m in back] == [m.name for m in result]
    np.testing.assert_array_equal([m.value for m in back], [m.value for m in result])
    stored = load_persistable(json.loads(json.dumps(dump_persistable(result))), expected=MetricSet)
    assert stored.get("PA1", "r") == result.get("PA1", "r")


def test_format_table_and_lookup(make_table: Callable[..., dict[str, np.ndarray]]) -> None:
    result = compute_srd_metrics(make_table(n_stars=50, n_visits=4, mag_sigma=0.003, half_size_deg=0.2))
    table = result.format_table()
    lines = table.splitlines()
    assert lines[0].split() == [
        "metric",
        "band",
        "value",
        "unit",
        "N",
        "design",
        "minimum",
        "stretch",
        "design?",
        "min?",
    ]
    pa1 = next(line for line in lines if line.startswith("PA1"))
    assert (
        f"{result.get('PA1', 'r').value:.3f}" in pa1
        and "mmag" in pa1
        and pa1.split()[-2:] == ["pass", "pass"]
    )
    assert "not computed:" in table and "AM3[r]: no pair of stars 199'-201' apart" in table
    assert len(result.select(names=["PA1", "AM1"])) == 2
    with pytest.raises(KeyError, match=r"No metric 'PA1' in band 'g'; the set has: PA1\[r\]"):
        result.get("PA1", "g")
