# SPDX-License-Identifier: GPL-3.0-or-later
"""PipelineTask.run_quantum end to end on the in-memory QuantumContext, with real tasks."""

from __future__ import annotations

import numpy as np
import pytest
from pipe_testing_tasks import (
    CoaddConfig,
    CoaddTask,
    DetrendTask,
    GatherTask,
    ScaleConfig,
    ScaleTask,
    StatsTask,
)

from skystack.pipe import (
    ConnectionsError,
    DeferredDatasetHandle,
    InMemoryQuantumContext,
    InMemoryRef,
    NoWorkFound,
    QuantumContext,
)
from skystack.task import TaskError

R = InMemoryRef.make


def _image(seed: int, shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.random.default_rng(seed).normal(10.0, 1.0, shape)


def test_per_detector_then_gather_per_visit() -> None:
    images = {d: _image(d) for d in (1, 2, 3)}
    ctx = InMemoryQuantumContext({R("raw_image", visit=7, detector=d): im for d, im in images.items()})
    assert isinstance(ctx, QuantumContext)
    config = ScaleConfig()
    config.factor, config.offset = 3.0, 0.5
    scale = ScaleTask(config=config)
    for d in images:
        scale.run_quantum(
            ctx,
            {"image": R("raw_image", visit=7, detector=d)},
            {"scaled": R("scaled_image", visit=7, detector=d)},
        )
    for d, im in images.items():
        np.testing.assert_allclose(ctx.get(R("scaled_image", visit=7, detector=d)), im * 3.0 + 0.5)
    gather = GatherTask()
    refs = [R("scaled_image", visit=7, detector=d) for d in images]
    result = gather.run_quantum(ctx, {"images": refs}, {"total": R("visit_total", visit=7)})
    expected = sum(float((im * 3.0 + 0.5).sum()) for im in images.values())
    assert ctx.get(R("visit_total", visit=7)) == pytest.approx(expected, rel=1e-12)
    assert result.total == pytest.approx(expected, rel=1e-12)
    assert ctx.n_put == 4 and ctx.n_get == 3 + 3 + 4  # 3 scale + 3 gather reads, 4 by this test


def test_adjust_quantum_drops_an_input_before_running() -> None:
    ctx = InMemoryQuantumContext(
        {R("scaled_image", visit=1, detector=d): np.full((2, 2), float(d)) for d in (1, 2, 3)}
    )
    gather = GatherTask(config=GatherTask.ConfigClass(bad_detectors=[3]))
    refs = [R("scaled_image", visit=1, detector=d) for d in (1, 2, 3)]
    inputs, outputs = gather.connections.adjust_quantum(
        {"images": refs}, {"total": [R("visit_total", visit=1)]}, "gather", {"visit": 1}
    )
    gather.run_quantum(ctx, inputs, outputs)
    assert ctx.get(R("visit_total", visit=1)) == 4 * 1.0 + 4 * 2.0


def test_no_work_found_writes_nothing() -> None:
    ctx = InMemoryQuantumContext({R("raw_image", detector=1): np.zeros((4, 4))})
    with pytest.raises(NoWorkFound, match="all zeros"):
        ScaleTask().run_quantum(
            ctx, {"image": R("raw_image", detector=1)}, {"scaled": R("scaled_image", detector=1)}
        )
    assert R("scaled_image", detector=1) not in ctx and ctx.n_put == 0


def test_templated_deferred_inputs() -> None:
    config = CoaddConfig()
    config.connections.coadd_name = "goodSeeing"
    config.statistic = "median"
    task = CoaddTask(config=config)
    assert task.connections.warps.name == "goodSeeing_warp"
    warps = [np.full((3, 3), v) for v in (1.0, 2.0, 10.0)]
    ctx = InMemoryQuantumContext({R("goodSeeing_warp", visit=v, patch=4): w for v, w in enumerate(warps)})
    seen: list[object] = []
    original_run = task.run

    def spy(warps: list[object]) -> object:
        seen.extend(warps)
        return original_run(warps=warps)

    task.run = spy  # type: ignore[method-assign]
    task.run_quantum(
        ctx,
        {"warps": [R("goodSeeing_warp", visit=v, patch=4) for v in range(3)]},
        {"coadd": R("goodSeeing_coadd", patch=4)},
    )
    assert all(isinstance(h, DeferredDatasetHandle) for h in seen)
    np.testing.assert_array_equal(ctx.get(R("goodSeeing_coadd", patch=4)), np.full((3, 3), 2.0))


def test_prerequisite_init_outputs_and_init_inputs() -> None:
    exposure, bias = _image(1), np.full((8, 8), 9.0)
    ctx = InMemoryQuantumContext({R("raw_image", detector=1): exposure, R("bias", detector=1): bias})
    detrend = DetrendTask(config=DetrendTask.ConfigClass(gain=2.0))
    assert detrend.init_outputs == {"schema": ["mean", "stddev"]}
    detrend.run_quantum(
        ctx,
        {"exposure": R("raw_image", detector=1), "bias": R("bias", detector=1)},
        {"detrended": R("detrended_image", detector=1)},
    )
    stats_task = StatsTask(init_inputs=detrend.init_outputs)
    result = stats_task.run_quantum(
        ctx, {"image": R("detrended_image", detector=1)}, {"stats": R("image_stats", detector=1)}
    )
    expected = (exposure - 9.0) * 2.0
    assert result.stats == pytest.approx({"mean": expected.mean(), "stddev": expected.std()}, rel=1e-12)
    with pytest.raises(TaskError, match=r"init_inputs: missing \['schema'\]"):
        StatsTask()
    with pytest.raises(TaskError, match=r"unexpected \['extra'\]"):
        StatsTask(init_inputs={"schema": [], "extra": 1})


def test_run_quantum_errors() -> None:
    ctx = InMemoryQuantumContext({R("raw_image", detector=1): _image(0)})
    task = ScaleTask()
    with pytest.raises(ConnectionsError, match=r"unknown input connection\(s\) \['img'\]"):
        task.run_quantum(ctx, {"img": R("raw_image", detector=1)}, {})
    with pytest.raises(ConnectionsError, match=r"unknown output connection\(s\) \['out'\]"):
        task.run_quantum(ctx, {"image": R("raw_image", detector=1)}, {"out": R("x")})
    with pytest.raises(ConnectionsError, match="no reference given for input 'image'"):
        task.run_quantum(ctx, {}, {})
    with pytest.raises(LookupError, match="No dataset raw_image@\\{detector=2\\}"):
        task.run_quantum(ctx, {"image": R("raw_image", detector=2)}, {})
    with pytest.raises(ConnectionsError, match="multiple=True: give a sequence"):
        GatherTask().run_quantum(ctx, {"images": R("raw_image", detector=1)}, {})
    task.run_quantum(ctx, {"image": R("raw_image", detector=1)}, {"scaled": R("s", detector=1)})
    with pytest.raises(LookupError, match="already exists"):
        task.run_quantum(ctx, {"image": R("raw_image", detector=1)}, {"scaled": R("s", detector=1)})


def test_task_usable_without_context() -> None:
    result = ScaleTask(config=ScaleConfig(factor=0.5)).run(image=np.ones((2, 2)))
    np.testing.assert_array_equal(result.scaled, np.full((2, 2), 0.5))
