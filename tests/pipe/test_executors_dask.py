# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dask executor on a real `distributed.LocalCluster` (and by scheduler address): same results
as in process, retries of transient failures and of a killed worker, time limits in the worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_testing import RepoFactory, build_graph, snapshot

from skystack.pipe.executors import RetryPolicy, SerialExecutor, make_executor

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

FAST_RETRY = RetryPolicy(max_retries=2, backoff_s=0.05)


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[RepoFactory]:
    f = RepoFactory("sqlite", tmp_path)
    yield f
    f.cleanup()


def test_dask_local_cluster_gives_the_serial_results(factory: RepoFactory, tmp_path: Path) -> None:
    dasked, serial = factory.make("dask"), factory.make("serial")
    overrides = (
        f"scale:marker_dir={tmp_path}",
        "scale:transient_visit=3",
        "scale:slow_visit=4",
        "scale:slow_s=20",
    )
    executor = make_executor("dask", dasked, 2, retry=FAST_RETRY, timeout=1.0)
    report = executor.execute(build_graph(dasked, overrides), register_dataset_types=True)
    counts = report.counts()
    # visit 4 times out (in a worker thread), visit 3 fails once and is retried
    assert counts["scale"]["succeeded"] == 9 and counts["scale"]["failed"] == 2
    assert counts["visit_sum"] == {**counts["visit_sum"], "succeeded": 3, "blocked": 1}
    assert sorted(report.attempts.values()) == [2, 2, 2]
    graph = build_graph(dasked, overrides)
    timed_out = next(q for q in graph.quanta if q.task_label == "scale" and q.data_id["visit"] == 4)
    assert dasked.get(timed_out.log_ref)["exception"].startswith("QuantumTimeoutError")
    SerialExecutor(serial, retry=FAST_RETRY, timeout=1.0).execute(
        build_graph(serial, overrides), register_dataset_types=True
    )
    ours, theirs = snapshot(dasked, "out/run"), snapshot(serial, "out/run")
    assert ours == theirs and len(ours) == 9 + 3 + 2  # outputs and the two configs


def test_dask_killed_worker_and_scheduler_address(factory: RepoFactory, tmp_path: Path) -> None:
    from distributed import LocalCluster

    repo = factory.make()
    graph = build_graph(repo, (f"scale:marker_dir={tmp_path}", "scale:kill_visit=1"), where="visit IN (1, 2)")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        executor = make_executor(None, repo, 2, scheduler_address=cluster.scheduler_address, retry=FAST_RETRY)
        report = executor.execute(graph, register_dataset_types=True)
    assert report.ok and report.counts()["visit_sum"]["succeeded"] == 2
    assert len(list(tmp_path.glob("kill-*"))) == 3  # each visit-1 quantum killed its worker once
    assert repo.verify().ok
