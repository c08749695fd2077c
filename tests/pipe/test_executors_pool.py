# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent local worker pool (``-j N``): same results as in process, dead workers (SIGKILL)
noticed and their quanta retried or failed, hard time limits, fail-fast, start-up errors."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_testing import BACKENDS, RepoFactory, build_graph, snapshot

from skystack.pipe.executors import ExecutionError, PoolExecutor, RetryPolicy, SerialExecutor
from skystack.pipe.quantum_runner import QuantumStatus

FAST_RETRY = RetryPolicy(max_retries=2, backoff_s=0.05)


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RepoFactory]:
    f = RepoFactory(request.param, tmp_path)
    yield f
    f.cleanup()


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[RepoFactory]:
    f = RepoFactory("sqlite", tmp_path)
    yield f
    f.cleanup()


def test_pool_gives_the_serial_results(factory: RepoFactory) -> None:
    pooled, serial = factory.make("pool"), factory.make("serial")
    overrides = ("scale:sleep_s=0.02",)
    report = PoolExecutor(pooled, 2).execute(build_graph(pooled, overrides), register_dataset_types=True)
    assert report.ok and report.counts()["visit_sum"]["succeeded"] == 4
    SerialExecutor(serial).execute(build_graph(serial, overrides), register_dataset_types=True)
    assert snapshot(pooled, "out/run", provenance=True) == snapshot(serial, "out/run", provenance=True)
    graph = build_graph(pooled, overrides)
    pids = {pooled.get(q.metadata_ref)["quantum.pid"] for q in graph.quanta}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # run by the workers, not the driver
    assert pooled.verify().ok


def test_killed_worker_is_replaced_and_its_quantum_retried(
    sqlite_factory: RepoFactory, tmp_path: Path
) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, (f"scale:marker_dir={tmp_path}", "scale:kill_visit=2"), where="visit IN (1, 2)")
    report = PoolExecutor(repo, 2, retry=FAST_RETRY).execute(graph, register_dataset_types=True)
    assert report.ok
    killed = [i for i, q in enumerate(graph.quanta) if q.task_label == "scale" and q.data_id["visit"] == 2]
    assert report.attempts == dict.fromkeys(killed, 2)  # quanta queued behind a killed one did not count
    log = repo.get(graph.quanta[killed[0]].log_ref)
    assert log["quantum"]["attempt"] == 2
    assert log["previous_errors"][0].startswith("WorkerDiedError") and "SIGKILL" in log["previous_errors"][0]


def test_killed_worker_without_retries_fails_only_its_quantum(
    sqlite_factory: RepoFactory, tmp_path: Path
) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, (f"scale:marker_dir={tmp_path}", "scale:kill_visit=2"), where="visit IN (1, 2)")
    report = PoolExecutor(repo, 2, retry=RetryPolicy(max_retries=0)).execute(
        graph, register_dataset_types=True
    )
    counts = report.counts()
    assert counts["scale"]["failed"] == 3 and counts["scale"]["succeeded"] == 3
    assert counts["visit_sum"]["blocked"] == 1 and counts["visit_sum"]["succeeded"] == 1
    failed = next(q for q in graph.quanta if q.task_label == "scale" and q.data_id["visit"] == 2)
    log = repo.get(failed.log_ref)  # written by the driver, since the worker died
    assert log["detected_by"] == "driver" and "killed by SIGKILL" in log["exception"]


def test_soft_time_limit_in_the_worker(sqlite_factory: RepoFactory) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, ("scale:slow_visit=1",), where="visit IN (1, 2)")
    report = PoolExecutor(repo, 2, timeout=0.5).execute(graph, register_dataset_types=True)
    assert report.counts()["scale"]["failed"] == 3 and report.counts()["scale"]["succeeded"] == 3
    failed = next(q for q in graph.quanta if q.task_label == "scale" and q.data_id["visit"] == 1)
    log = repo.get(failed.log_ref)
    assert log["exception"].startswith("QuantumTimeoutError") and "Traceback" in log["traceback"]


def test_hung_worker_is_killed_at_the_hard_limit(sqlite_factory: RepoFactory) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, ("scale:hang_visit=1",), where="visit IN (1, 2)")
    t0 = time.perf_counter()
    report = PoolExecutor(repo, 2, timeout=0.4, kill_grace=0.3).execute(graph, register_dataset_types=True)
    assert time.perf_counter() - t0 < 30
    assert report.counts()["scale"]["failed"] == 3 and report.counts()["visit_sum"]["succeeded"] == 1
    failed = next(q for q in graph.quanta if q.task_label == "scale" and q.data_id["visit"] == 1)
    log = repo.get(failed.log_ref)
    assert "exceeded the time limit of 0.4 s and its worker was killed" in log["exception"]


def test_pool_fail_fast(sqlite_factory: RepoFactory) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, ("scale:fail_visit=1",))
    report = PoolExecutor(repo, 2, fail_fast=True).execute(graph, register_dataset_types=True)
    counts = report.counts()
    assert counts["scale"]["failed"] >= 1
    assert counts["visit_sum"]["succeeded"] == 0  # nothing is dispatched after the first failure
    n_scale = sum(counts["scale"].values())
    assert counts["scale"]["succeeded"] + counts["scale"]["failed"] < n_scale


def test_workers_that_cannot_start_are_reported(sqlite_factory: RepoFactory, tmp_path: Path) -> None:
    repo = sqlite_factory.make()
    graph = build_graph(repo, where="visit = 1")
    bad = tmp_path / "missing.qgraph.json.gz"
    with pytest.raises(
        ExecutionError, match=r"a pool worker could not start: QuantumGraphError: Cannot read quantum graph"
    ):
        PoolExecutor(repo, 1).execute(graph, register_dataset_types=True, graph_path=str(bad))


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="at least one process"):
        PoolExecutor(None, 0)
    with pytest.raises(ValueError, match="unknown start method 'fork'"):
        PoolExecutor(None, 2, start_method="fork")


def test_unused_status_values_are_reported(sqlite_factory: RepoFactory) -> None:
    repo = sqlite_factory.make()
    report = PoolExecutor(repo, 1).execute(build_graph(repo, where="visit = 3"), register_dataset_types=True)
    assert report.ok and set(report.status) == {QuantumStatus.SUCCEEDED}


def test_workers_see_the_drivers_sys_path(
    sqlite_factory: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task module importable only through a folder added to sys.path after the fork server
    started (as from a notebook) is found by the workers."""
    from skystack.pipe import Pipeline
    from skystack.pipe.graph_builder import QuantumGraphBuilder

    PoolExecutor(sqlite_factory.make("warm"), 1).execute(
        build_graph(sqlite_factory.butlers[0], where="visit = 1"), register_dataset_types=True
    )  # the fork server runs now
    name = f"late_tasks_{os.getpid()}"
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / f"{name}.py").write_text(
        "from executor_testing import ChaosScaleTask\n\nclass LateTask(ChaosScaleTask):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    repo = sqlite_factory.make()
    pipeline = Pipeline.from_string(f"tasks:\n  scale:\n    class: {name}.LateTask\n")
    graph = QuantumGraphBuilder(
        repo.registry,
        pipeline.to_expanded(),
        input_collections=["inputs"],
        output_run="late",
        where="visit = 2",
    ).build()
    report = PoolExecutor(repo, 2).execute(graph, register_dataset_types=True)
    assert report.ok and report.counts()["scale"]["succeeded"] == 3
