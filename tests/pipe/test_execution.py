# SPDX-License-Identifier: GPL-3.0-or-later
"""Serial execution of quantum graphs on a real SQLite repository: outputs, provenance, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from graph_testing_tasks import PIPELINE_YAML, make_repo, raw_value

from skystack.butler import Butler
from skystack.pipe import Pipeline
from skystack.pipe.execution import ExecutionError, QuantumStatus, SerialExecutor
from skystack.pipe.graph import QuantumGraph
from skystack.pipe.graph_builder import QuantumGraphBuilder
from skystack.task import TaskMetadata


@pytest.fixture
def repo(tmp_path: Path) -> Butler:
    return make_repo(tmp_path / "repo")


def graph_for(
    butler: Butler, overrides: tuple[str, ...] = (), where: str = "", run: str = "out/run"
) -> QuantumGraph:
    pipeline = Pipeline.from_string(PIPELINE_YAML)
    for text in overrides:
        label, _, override = text.partition(":")
        pipeline.add_config_override(label, override)
    builder = QuantumGraphBuilder(
        butler.registry, pipeline.to_expanded(), input_collections=["inputs"], output_run=run, where=where
    )
    return builder.build()


def test_outputs_have_the_graph_ids_and_provenance(repo: Butler) -> None:
    graph = graph_for(repo)
    report = SerialExecutor(repo).execute(graph, register_dataset_types=True)
    assert report.ok and report.counts()["scale"]["succeeded"] == 11
    reader = Butler(repo.root, collections=["out/run"])
    for quantum in graph.quanta_of("scale"):
        (ref,) = quantum.outputs["scaled"]
        found = reader.registry.find_dataset("scaled_image", quantum.data_id, collections=["out/run"])
        assert found is not None and found.id == ref.id
        v, d = quantum.data_id["visit"], quantum.data_id["detector"]
        np.testing.assert_array_equal(reader.get(ref), np.full((4, 4), 2.0 * raw_value(v, d)))
        meta = reader.get(quantum.metadata_ref)
        assert isinstance(meta, TaskMetadata)
        assert meta["quantum.status"] == "succeeded" and meta["quantum.wall_s"] >= 0
        assert meta["quantum.outputs"] == [str(ref.id)]
        log = reader.get(quantum.log_ref)
        assert any("scaling an image of mean" in r["message"] for r in log["records"])
    total = reader.get("visit_sum", instrument="Cam", visit=4)
    assert total == {"sum": 2.0 * 16 * (raw_value(4, 0) + raw_value(4, 1)), "n": 2}
    config = reader.get("scale_config", {})
    assert config.factor == 2.0
    summary = reader.get("run_summary", {})
    assert summary["counts"]["visit_sum"]["succeeded"] == 4


def test_failure_blocks_only_descendants(repo: Butler) -> None:
    graph = graph_for(repo, ("scale:fail_visit=2",))
    report = SerialExecutor(repo).execute(graph, register_dataset_types=True)
    counts = report.counts()
    assert counts["scale"] == {"succeeded": 8, "failed": 3, "blocked": 0, "no_work": 0, "skipped": 0}
    assert counts["visit_sum"] == {"succeeded": 3, "failed": 0, "blocked": 1, "no_work": 0, "skipped": 0}
    blocked = [q for q, s in zip(graph.quanta, report.status, strict=True) if s is QuantumStatus.BLOCKED]
    assert [q.data_id["visit"] for q in blocked] == [2]
    assert not report.ok
    assert "RuntimeError: injected failure" in report.table()
    failed = next(q for q, s in zip(graph.quanta, report.status, strict=True) if s is QuantumStatus.FAILED)
    log = repo.get(failed.log_ref)
    assert log["exception"] == "RuntimeError: injected failure" and "Traceback" in log["traceback"]
    assert repo.registry.get_dataset(failed.outputs["scaled"][0].id) is None


def test_fail_fast_stops(repo: Butler) -> None:
    graph = graph_for(repo, ("scale:fail_visit=1",))
    report = SerialExecutor(repo, fail_fast=True).execute(graph, register_dataset_types=True)
    assert report.status[0] is QuantumStatus.FAILED
    assert all(s is QuantumStatus.BLOCKED for s in report.status[1:])


def test_no_work_found(repo: Butler) -> None:
    graph = graph_for(repo, ("scale:no_work_detector=1",), where="visit = 1")
    report = SerialExecutor(repo).execute(graph, register_dataset_types=True)
    assert report.counts()["scale"] == {"succeeded": 2, "failed": 0, "blocked": 0, "no_work": 1, "skipped": 0}
    assert report.ok
    total = repo.get("visit_sum", instrument="Cam", visit=1, collections=["out/run"])
    assert total["n"] == 2  # the gather ran on the two detectors that produced outputs
    nowork = graph.quanta_of("scale")[1]
    assert repo.get(nowork.metadata_ref)["quantum.status"] == "no_work"


def test_unregistered_dataset_types_are_refused(repo: Butler) -> None:
    graph = graph_for(repo, where="visit = 1")
    with pytest.raises(
        ExecutionError,
        match=r"scale_config\(dimensions=\(\), Config\) is not registered; pass --register-dataset-types",
    ):
        SerialExecutor(repo).execute(graph)
