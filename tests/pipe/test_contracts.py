# SPDX-License-Identifier: GPL-3.0-or-later
"""Contracts: the whitelisting evaluator accepts config expressions and rejects everything else."""

from __future__ import annotations

import pytest
from pipe_testing_tasks import GatherConfig, ScaleConfig

from skystack.pipe import Contract, ContractError, ContractFailedError

CONFIGS = {"scale": ScaleConfig(factor=3.0, offset=-1.0), "gather": GatherConfig(bad_detectors=[1, 2])}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("scale.factor == 3.0", True),
        ("scale.factor * 2 + scale.offset == 5", True),
        ("abs(scale.offset) < 2 and not scale.do_bias == False", True),
        ("len(gather.bad_detectors) == 2 and 2 in gather.bad_detectors", True),
        ("max(gather.bad_detectors) - min(gather.bad_detectors) == 1", True),
        ("gather.bad_detectors[0] == 1 and scale.factor in (1.0, 3.0)", True),
        ("1 < scale.factor < 4 or scale.factor ** 2 > 100", True),
        ("scale.factor // 2 == 1 and scale.factor % 2 == 1", True),
    ],
)
def test_passing_contracts(expression: str, expected: bool) -> None:
    assert Contract(expression).evaluate(CONFIGS) is expected


def test_failing_contract_shows_values_and_message() -> None:
    with pytest.raises(ContractFailedError) as info:
        Contract("scale.factor == gather.bad_detectors[0]", msg="must agree").evaluate(CONFIGS)
    text = str(info.value)
    assert "'scale.factor == gather.bad_detectors[0]' failed (must agree)" in text
    assert "scale.factor = 3.0" in text and "gather.bad_detectors[0] = 1" in text


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "only the functions len, abs, min, max may be called"),
        ("scale.factor.__class__", "private attribute '__class__'"),
        ("[x for x in gather.bad_detectors]", "ListComp expressions are not allowed"),
        ("lambda: 1", "Lambda expressions are not allowed"),
        ("os.getcwd", "'os', which is not a task label; labels are: gather, scale"),
        ("scale.factor if True else 1", "IfExp expressions are not allowed"),
        ("scale.factor ==", "not a valid expression"),
        ("len(x=1)", "positional arguments only"),
        ("scale.factor @ 2", "operator MatMult is not allowed"),
    ],
)
def test_forbidden_constructs(expression: str, message: str) -> None:
    with pytest.raises(
        ContractError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        Contract(expression).parse(CONFIGS.keys())


def test_evaluation_errors() -> None:
    with pytest.raises(ContractError, match="could not be evaluated: AttributeError: .*no attribute 'nope'"):
        Contract("scale.nope == 1").evaluate(CONFIGS)
    with pytest.raises(ContractError, match="Exponent 100000 is too large"):
        Contract("scale.factor ** 100000 > 1").evaluate(CONFIGS)
    assert Contract("scale.factor == 3 and gather.x").labels() == {"scale", "gather"}
