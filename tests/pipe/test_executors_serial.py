# SPDX-License-Identifier: GPL-3.0-or-later
"""The executors' driver, run in process: datastore-only runner, batched idempotent registration,
provenance, retries with back-off, time limits, skipping and clobbering (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from executor_testing import BACKENDS, RepoFactory, build_graph, snapshot
from graph_testing_tasks import raw_value

from skystack.butler import Butler
from skystack.pipe.executors import ExecutionError, RetryPolicy, SerialExecutor
from skystack.pipe.quantum_runner import QuantumRunner, QuantumStatus
from skystack.task import TaskMetadata

FAST_RETRY = RetryPolicy(max_retries=2, backoff_s=0.05)


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RepoFactory]:
    f = RepoFactory(request.param, tmp_path)
    yield f
    f.cleanup()


@pytest.fixture
def repo(factory: RepoFactory) -> Butler:
    return factory.make()


def test_outputs_provenance_and_packages(repo: Butler) -> None:
    graph = build_graph(repo)
    report = SerialExecutor(repo).execute(graph, register_dataset_types=True)
    assert report.ok and report.counts()["scale"]["succeeded"] == 11
    assert report.counts()["visit_sum"]["succeeded"] == 4
    digest = graph.task_defs["scale"].config.digest()
    for quantum in graph.quanta_of("scale"):
        (ref,) = quantum.outputs["scaled"]
        assert repo.registry.get_dataset(ref.id) == ref  # registered with the graph's ID
        v, d = quantum.data_id["visit"], quantum.data_id["detector"]
        np.testing.assert_array_equal(repo.get(ref), np.full((4, 4), 2.0 * raw_value(v, d)))
        meta = repo.get(quantum.metadata_ref)
        assert isinstance(meta, TaskMetadata)
        prov = meta["quantum"].to_dict()
        assert prov["status"] == "succeeded" and prov["attempt"] == 1
        assert prov["config_digest"] == digest and prov["host"] and prov["max_rss_mb"] > 0
        assert prov["inputs"] == [str(r.id) for r in quantum.input_refs()]
        assert prov["outputs"] == [str(ref.id)]
        assert prov["data_id"] == {"instrument": "Cam", "visit": v, "detector": d}
        log = repo.get(quantum.log_ref)
        assert log["status"] == "succeeded" and log["exception"] is None
        assert any(r["message"] == f"scaling visit {v} detector {d}" for r in log["records"])
    packages = repo.get("packages", {}, collections=[graph.run])
    assert packages["packages"]["numpy"] == np.__version__ and packages["python"]
    summary = repo.get("run_summary", {}, collections=[graph.run])
    assert summary["counts"]["visit_sum"]["succeeded"] == 4 and summary["blocked"] == {}
    assert repo.verify().ok  # every file registered, nothing orphaned


def test_registration_is_batched(repo: Butler, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = repo.register_datasets

    def counting(refs: list, records: list) -> int:
        calls.append(len(refs))
        return original(refs, records)

    monkeypatch.setattr(repo, "register_datasets", counting)
    graph = build_graph(repo)  # 11 + 4 quanta
    SerialExecutor(repo, batch_size=4, flush_interval=3600).execute(graph, register_dataset_types=True)
    # one batch of init datasets (2 configs + packages), then 4 + 4 + 4 + 3 quanta of 3 datasets each
    assert calls == [3, 12, 12, 12, 9]


def test_runner_writes_files_without_registering(repo: Butler) -> None:
    graph = build_graph(repo, where="visit = 1")
    SerialExecutor(repo).execute(build_graph(repo, where="visit = 2"), register_dataset_types=True)
    quantum = graph.quanta_of("scale")[0]
    inputs = repo.datastore.get_records([r.id for r in quantum.input_refs()])
    runner = QuantumRunner(repo.datastore, graph)
    result = runner.run(graph.quanta.index(quantum), inputs)
    assert result.status is QuantumStatus.SUCCEEDED
    written = {r.dataset_id for r in result.records}
    assert written == {quantum.outputs["scaled"][0].id, quantum.metadata_ref.id, quantum.log_ref.id}
    assert all(repo.registry.get_dataset(i) is None for i in written)
    assert all(repo.datastore.path_of(r).exists() for r in result.records)
    again = runner.run(graph.quanta.index(quantum), inputs)  # overwrites the files at the same places
    assert [r.path for r in again.records] == [r.path for r in result.records]
    refs = list(quantum.output_refs())
    assert repo.register_datasets(refs, again.records) == 3
    assert repo.register_datasets(refs, again.records) == 3  # idempotent
    assert repo.registry.get_dataset(quantum.metadata_ref.id) == quantum.metadata_ref
    np.testing.assert_array_equal(repo.get(quantum.outputs["scaled"][0]), np.full((4, 4), 20.0))


def test_transient_failures_are_retried_with_backoff(repo: Butler, tmp_path: Path) -> None:
    overrides = (f"scale:marker_dir={tmp_path}", "scale:transient_visit=1", "scale:transient_times=2")
    graph = build_graph(repo, overrides, where="visit IN (1, 2)")
    t0 = time.perf_counter()
    report = SerialExecutor(repo, retry=FAST_RETRY).execute(graph, register_dataset_types=True)
    elapsed = time.perf_counter() - t0
    assert report.ok
    retried = [q for q in graph.quanta_of("scale") if q.data_id["visit"] == 1]
    assert sorted(report.attempts.values()) == [3, 3, 3]
    assert elapsed >= 0.05 + 0.1  # two back-offs of the last quantum: 0.05 s then 0.1 s
    meta = repo.get(retried[0].metadata_ref)
    assert meta["quantum.attempt"] == 3
    log = repo.get(retried[0].log_ref)
    assert len(log["previous_errors"]) == 2 and log["previous_errors"][0].startswith("TransientError")


def test_retries_run_out(repo: Butler, tmp_path: Path) -> None:
    overrides = (f"scale:marker_dir={tmp_path}", "scale:transient_visit=1", "scale:transient_times=5")
    graph = build_graph(repo, overrides, where="visit = 1")
    report = SerialExecutor(repo, retry=FAST_RETRY).execute(graph, register_dataset_types=True)
    assert report.counts()["scale"]["failed"] == 3 and report.counts()["visit_sum"]["blocked"] == 1
    failed = graph.quanta_of("scale")[0]
    log = repo.get(failed.log_ref)
    assert log["exception"].startswith("TransientError") and log["quantum"]["attempt"] == 3
    assert repo.registry.get_dataset(failed.metadata_ref.id) is None  # no metadata: not finished


def test_os_errors_are_transient_only_when_asked(repo: Butler, tmp_path: Path) -> None:
    overrides = (f"scale:marker_dir={tmp_path}", "scale:oserror_visit=1")
    graph = build_graph(repo, overrides, where="visit = 1", run="out/a")
    report = SerialExecutor(repo, retry=FAST_RETRY).execute(graph, register_dataset_types=True)
    assert report.counts()["scale"]["failed"] == 3
    graph = build_graph(
        repo, (f"scale:marker_dir={tmp_path}/b", "scale:oserror_visit=1"), "visit = 1", "out/b"
    )
    (tmp_path / "b").mkdir()
    retry = RetryPolicy(max_retries=1, backoff_s=0.01, retry_os_errors=True)
    report = SerialExecutor(repo, retry=retry).execute(graph, register_dataset_types=True)
    assert report.ok and sorted(report.attempts.values()) == [2, 2, 2]


def test_time_limit(repo: Butler) -> None:
    graph = build_graph(repo, ("scale:slow_visit=1", "scale:slow_s=30"), where="visit IN (1, 2)")
    t0 = time.perf_counter()
    report = SerialExecutor(repo, timeout=0.3).execute(graph, register_dataset_types=True)
    assert time.perf_counter() - t0 < 10
    counts = report.counts()
    assert counts["scale"]["failed"] == 3 and counts["scale"]["succeeded"] == 3
    assert counts["visit_sum"] == {**counts["visit_sum"], "succeeded": 1, "blocked": 1}
    failed = next(q for q in graph.quanta_of("scale") if q.data_id["visit"] == 1)
    log = repo.get(failed.log_ref)
    assert log["exception"].startswith("QuantumTimeoutError") and "0.3 s" in log["exception"]
    assert "time.sleep" in log["traceback"] or "sleep" in log["traceback"]


def test_skip_existing_and_clobber(factory: RepoFactory, tmp_path: Path) -> None:
    repo = factory.make("a")
    overrides = (f"scale:marker_dir={tmp_path}", "scale:transient_visit=2")
    no_retry = RetryPolicy(max_retries=0)
    graph = build_graph(repo, overrides)
    first = SerialExecutor(repo, retry=no_retry).execute(graph, register_dataset_types=True)
    assert first.counts()["scale"]["failed"] == 3 and first.counts()["visit_sum"]["blocked"] == 1
    with pytest.raises(ExecutionError, match=r"already finished in output run 'out/run'; pass --extend-run"):
        SerialExecutor(repo).execute(graph)
    with pytest.raises(ExecutionError, match=r"log of an unfinished attempt .* pass --clobber-outputs"):
        SerialExecutor(repo, skip_existing=True).execute(graph)
    second = SerialExecutor(repo, skip_existing=True, clobber_outputs=True).execute(graph)
    assert second.ok
    assert second.counts()["scale"] == {**second.counts()["scale"], "skipped": 8, "succeeded": 3}
    assert second.counts()["visit_sum"] == {**second.counts()["visit_sum"], "skipped": 3, "succeeded": 1}
    # The same as a run that never failed (same IDs, same contents, provenance included).
    clean = factory.make("b")
    SerialExecutor(clean).execute(build_graph(clean, overrides), register_dataset_types=True)
    assert snapshot(repo, "out/run", provenance=True) == snapshot(clean, "out/run", provenance=True)
    changed = build_graph(repo, (*overrides, "scale:factor=3"))
    with pytest.raises(ExecutionError, match=r"config of task 'scale' differs from the one stored"):
        SerialExecutor(repo, skip_existing=True).execute(changed)


def test_fail_fast_blocks_the_rest(repo: Butler) -> None:
    graph = build_graph(repo, ("scale:fail_visit=1",))
    report = SerialExecutor(repo, fail_fast=True).execute(graph, register_dataset_types=True)
    assert report.status[0] is QuantumStatus.FAILED
    assert all(s is QuantumStatus.BLOCKED for s in report.status[1:])
    summary = repo.get("run_summary", {}, collections=[graph.run])
    assert len(summary["blocked"]["scale"]) == 10 and len(summary["blocked"]["visit_sum"]) == 4


def test_progress_bar_shows_counts(repo: Butler, capsys: pytest.CaptureFixture[str]) -> None:
    graph = build_graph(repo, ("scale:fail_visit=1",), where="visit IN (1, 2)")
    SerialExecutor(repo, progress=True).execute(graph, register_dataset_types=True)
    err = capsys.readouterr().err
    assert "8/8" in err and "ok=4" in err and "failed=3" in err and "blocked=1" in err
