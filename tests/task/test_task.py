# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.task: Task construction, subtasks, loggers, metadata, timing, Struct."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

from skystack.config import Config, SubtaskSelection, field, subtask_field
from skystack.task import MetadataValueError, Struct, Task, TaskError, TaskMetadata, timed


class LeafConfig(Config):
    factor: float = field(2.0, doc="Multiplier.")


class LeafTask(Task):
    ConfigClass = LeafConfig
    default_name = "leaf"

    @timed
    def run(self, value: float) -> Struct:
        time.sleep(0.01)
        self.metadata["seen"] = value
        return Struct(value=value * self.config.factor)


class OtherLeafTask(LeafTask):
    @timed
    def run(self, value: float) -> Struct:
        return Struct(value=-value)


class RootConfig(Config):
    step: SubtaskSelection = subtask_field(
        choices={"leaf": LeafTask, "other": OtherLeafTask}, default="leaf", doc="The step."
    )
    offset: float = field(0.0, doc="Added to the result.")


class RootTask(Task):
    ConfigClass = RootConfig
    default_name = "root"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.make_subtask("step")

    @timed
    def run(self, value: float) -> Struct:
        sub = self.step.run(value)  # type: ignore[attr-defined]
        self.metadata.add("values", sub.value)
        return Struct(value=sub.value + self.config.offset, inner=sub)


def test_run_without_butler_returns_struct() -> None:
    result = RootTask().run(3.0)
    assert isinstance(result, Struct) and result.value == 6.0 and result.inner.value == 6.0


def test_config_selects_subtask_implementation() -> None:
    config = RootConfig()
    config.step.name = "other"
    task = RootTask(config=config)
    assert isinstance(task.step, OtherLeafTask)  # type: ignore[attr-defined]
    assert task.run(3.0).value == -3.0
    config = RootConfig()
    config.step.factor = 10.0
    assert RootTask(config=config).run(1.0).value == 10.0


def test_names_loggers_and_hierarchy(caplog: pytest.LogCaptureFixture) -> None:
    task = RootTask(name="isr")
    sub = task.step  # type: ignore[attr-defined]
    assert sub.full_name == "isr.step" and sub.parent is task
    assert task.log.name == "isr" and sub.log.name == "isr.step"
    with caplog.at_level(logging.INFO, logger="isr"):
        sub.log.info("hello")
    assert caplog.records[-1].name == "isr.step"
    assert set(task.get_task_dict()) == {"isr", "isr.step"}


def test_wrong_config_type_and_bad_names() -> None:
    with pytest.raises(TaskError, match="RootTask needs a config of type RootConfig, got LeafConfig"):
        RootTask(config=LeafConfig())  # type: ignore[arg-type]
    with pytest.raises(TaskError, match="must not contain '.'"):
        LeafTask(name="a.b")

    class Nameless(Task):
        pass

    with pytest.raises(TaskError, match="no default_name"):
        Nameless()


def test_invalid_config_is_refused_at_construction() -> None:
    class CheckedConfig(Config):
        low: float = field(0.0, doc="low")
        high: float = field(1.0, doc="high")

        def validate_config(self) -> None:
            if self.low > self.high:
                raise ValueError("low above high")

    class CheckedTask(Task):
        ConfigClass = CheckedConfig
        default_name = "checked"

    config = CheckedConfig()
    config.low = 2.0
    with pytest.raises(TaskError, match="Invalid config for CheckedTask: CheckedConfig: low above high"):
        CheckedTask(config=config)


def test_unknown_subtask_field() -> None:
    task = RootTask()
    with pytest.raises(TaskError, match="has no subtask field 'offset'.*subtask fields: step"):
        task.make_subtask("offset")
    with pytest.raises(TaskError, match="has no subtask field 'nope'"):
        task.make_subtask("nope")


def test_timed_metadata_records_costs() -> None:
    task = RootTask()
    task.run(1.0)
    task.run(2.0)
    md = task.get_full_metadata()
    timing = md["root:step.timing.run"]
    assert timing["calls"] == 2
    assert timing["wall_s"] >= 0.02  # two sleeps of 10 ms
    assert 0 <= timing["cpu_s"] < timing["wall_s"]  # sleeping costs no CPU
    assert timing["max_rss_mb"] > 10
    assert md["root.values"] == [2.0, 4.0]
    assert md["root:step.seen"] == 2.0
    # Metadata round-trips through JSON.
    text = md.to_json()
    assert TaskMetadata.from_json(text) == md
    assert json.loads(text)["root"]["timing"]["run"]["calls"] == 2
    task.empty_metadata()
    assert len(task.metadata) == 0


def test_metadata_values() -> None:
    md = TaskMetadata()
    md["a"] = np.float32(1.5)
    md["nested"] = {"b": [1, 2, np.int64(3)], "c": {"d": "x"}}
    md["arr"] = np.arange(3)
    md["nan"] = float("nan")
    md.add("list", 1)
    md.add("list", 2)
    assert md["a"] == 1.5 and md["nested.c.d"] == "x" and md["arr"] == [0, 1, 2]
    assert md["list"] == [1, 2] and "nested.b" in md and "nested.zz" not in md
    assert json.loads(md.to_json())["nan"] == "NaN"
    with pytest.raises(MetadataValueError, match="key 'bad'.*got object"):
        md["bad"] = object()
    with pytest.raises(KeyError):
        md["a.b"]


def test_struct() -> None:
    s = Struct(a=1, b="x")
    assert s.a == 1 and s.get_dict() == {"a": 1, "b": "x"} and list(s) == ["a", "b"]
    assert s == Struct(a=1, b="x") and s != Struct(a=2, b="x")
    s.c = 3
    assert "c" in s and len(s) == 3
    with pytest.raises(ValueError, match="must be an identifier"):
        Struct(**{"_hidden": 1})
    t = Struct()
    t.merge_items(s, "a")
    assert t.a == 1
    with pytest.raises(ValueError, match="already has a value named 'a'"):
        t.merge_items(s, "a")
    assert "Struct(a=1" in repr(s)


def test_timed_refuses_non_task() -> None:
    class Plain:
        @timed
        def run(self) -> None:
            pass

    with pytest.raises(TaskError, match="decorates Task methods"):
        Plain().run()
