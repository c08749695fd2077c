# SPDX-License-Identifier: GPL-3.0-or-later
"""Quantum-graph building on a real SQLite repository, and graph serialisation."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from graph_testing_tasks import PIPELINE_YAML, WARP_PIPELINE_YAML, make_repo

from skystack.butler import Butler, DatasetIdGenEnum
from skystack.butler.registry import make_dataset_id
from skystack.pipe import Pipeline
from skystack.pipe.graph import QuantumGraph, QuantumGraphError
from skystack.pipe.graph_builder import GraphBuilderError, QuantumGraphBuilder, split_where


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Butler:
    return make_repo(tmp_path_factory.mktemp("graph") / "repo")


def build(
    repo: Butler, yaml_text: str, where: str = "", run: str = "out/run", **kwargs: object
) -> QuantumGraph:
    defs = Pipeline.from_string(yaml_text).to_expanded()
    builder = QuantumGraphBuilder(
        repo.registry,
        defs,
        input_collections=["inputs"],
        output_run=run,
        where=where,
        **kwargs,  # type: ignore[arg-type]
    )
    return builder.build()


def test_per_detector_then_gather_shape(repo: Butler) -> None:
    graph = build(repo, PIPELINE_YAML)
    # 4 visits x 3 detectors, minus (visit 4, detector 2) which has no raw and no region.
    assert graph.counts() == {"scale": 11, "visit_sum": 4}
    assert len(graph.edges) == 11
    for quantum in graph.quanta_of("visit_sum"):
        refs = quantum.inputs["images"]
        visit = quantum.data_id["visit"]
        assert [r.data_id["detector"] for r in refs] == ([0, 1] if visit == 4 else [0, 1, 2])
        assert all(r.data_id["visit"] == visit for r in refs)
        # Every gathered input is the output of a scale quantum of the same graph.
        producers = [graph.producer_of(r) for r in refs]
        assert all(p is not None and graph.quanta[p].task_label == "scale" for p in producers)
    out = graph.quanta_of("scale")[0].outputs["scaled"][0]
    expected = make_dataset_id("scaled_image", out.data_id, "out/run", DatasetIdGenEnum.DATAID_TYPE_RUN)
    assert out.id == expected and out.run == "out/run"


def test_where_on_downstream_dimension_keeps_needed_upstream(repo: Butler) -> None:
    graph = build(repo, WARP_PIPELINE_YAML, where="patch = 0")
    warps = graph.quanta_of("warp")
    # Visits 1 and 2 overlap patch 0 (RA 10.5-12.5); 3 and 4 do not.
    assert sorted(q.data_id["visit"] for q in warps) == [1, 2]
    assert all(len(q.inputs["images"]) == 3 for q in warps)
    scale_ids = sorted((q.data_id["visit"], q.data_id["detector"]) for q in graph.quanta_of("scale"))
    assert scale_ids == [(v, d) for v in (1, 2) for d in (0, 1, 2)]
    assert "scale: needed by the kept downstream quanta: 6 left" in [str(s) for s in graph.steps]


def test_where_on_upstream_dimension_restricts_gather(repo: Butler) -> None:
    graph = build(repo, PIPELINE_YAML, where="visit = 2 AND detector IN (0, 1)")
    assert [(q.data_id["visit"], q.data_id["detector"]) for q in graph.quanta_of("scale")] == [(2, 0), (2, 1)]
    (gather,) = graph.quanta_of("visit_sum")
    assert gather.data_id["visit"] == 2 and len(gather.inputs["images"]) == 2


def test_spatial_join_warp(repo: Butler) -> None:
    graph = build(repo, WARP_PIPELINE_YAML)
    pairs = sorted((q.data_id["visit"], q.data_id["patch"]) for q in graph.quanta_of("warp"))
    assert pairs == [(1, 0), (2, 0), (3, 1), (4, 1)]


def test_calibration_prerequisite_found_by_time(repo: Butler) -> None:
    yaml_text = "tasks:\n  debias:\n    class: graph_testing_tasks.DebiasTask\n"
    graph = build(repo, yaml_text, where="detector = 1")
    runs = {q.data_id["visit"]: q.inputs["bias"][0].run for q in graph.quanta_of("debias")}
    # The first bias is valid for visits 1-2 (until T0 + 2.5 h), the second afterwards.
    assert runs == {1: "calib/bias0", 2: "calib/bias0", 3: "calib/bias1", 4: "calib/bias1"}


def test_missing_inputs_and_empty_explanation(repo: Butler) -> None:
    graph = build(repo, PIPELINE_YAML, where="visit = 4 AND detector = 2")
    assert len(graph) == 0
    text = graph.explain_empty()
    assert (
        "scale: data IDs of (instrument, detector, visit) where (visit = 4) AND (detector = 2): 0 left"
        in text
    )
    assert "The first step leaving nothing" in text
    assert "graph is empty" in graph.summary()


def test_missing_input_collection_data_drops_quanta(repo: Butler) -> None:
    yaml_text = "tasks:\n  visit_sum:\n    class: graph_testing_tasks.VisitSumTask\n"
    graph = build(repo, yaml_text)  # scaled_image exists nowhere
    assert len(graph) == 0
    assert "visit_sum: with input images (scaled_image): 0 left" in graph.explain_empty()


def test_bad_where_names_the_term(repo: Butler) -> None:
    with pytest.raises(GraphBuilderError, match=r"'visitt = 1' mentions \['visitt'\]"):
        build(repo, PIPELINE_YAML, where="visitt = 1")
    with pytest.raises(GraphBuilderError, match="No input collections"):
        QuantumGraphBuilder(repo.registry, [], input_collections=[], output_run="x")


def test_split_where() -> None:
    terms = split_where("(visit = 1 AND detector > 0) AND visit.day_obs = 20240301")
    assert [t for t, _ in terms] == ["visit = 1", "detector > 0", "visit.day_obs = 20240301"]
    assert terms[2][1] == frozenset({"visit"})
    assert split_where("visit = 1 OR detector = 2")[0][1] == frozenset({"visit", "detector"})


def test_round_trip(repo: Butler, tmp_path: Path) -> None:
    graph = build(repo, WARP_PIPELINE_YAML, where="patch = 1")
    path = tmp_path / "g.qgraph.json.gz"
    graph.save(path)
    back = QuantumGraph.load(path)
    assert len(back) == len(graph) and back.edges == graph.edges and back.run == graph.run
    for a, b in zip(graph.quanta, back.quanta, strict=True):
        assert (a.task_label, a.data_id, a.id) == (b.task_label, b.data_id, b.id)
        assert {k: [r.id for r in v] for k, v in a.inputs.items()} == {
            k: [r.id for r in v] for k, v in b.inputs.items()
        }
        assert [r.id for r in a.output_refs()] == [r.id for r in b.output_refs()]
    assert back.task_defs["scale"].config.factor == 2.0
    assert [str(s) for s in back.steps] == [str(s) for s in graph.steps]
    only = QuantumGraph.load(path, labels=["scale"])
    assert only.counts() == {"scale": 5}
    assert path.stat().st_size < 4000  # datasets written once, compressed


def test_load_errors(tmp_path: Path, repo: Butler) -> None:
    import gzip
    import json

    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(QuantumGraphError, match="Cannot read quantum graph"):
        QuantumGraph.load(bad)
    data = build(repo, PIPELINE_YAML).to_json_dict()
    data["version"] = 99
    newer = tmp_path / "newer.gz"
    with gzip.open(newer, "wt") as f:
        json.dump(data, f)
    with pytest.raises(QuantumGraphError, match="version 99 is newer"):
        QuantumGraph.load(newer)


def test_views(repo: Butler) -> None:
    graph = build(repo, PIPELINE_YAML, where="visit = 1")
    dot = graph.to_dot()
    assert dot.startswith("digraph QuantumGraph {") and dot.count("[shape=box") == 4
    assert dot.count(" -> q3;") == 3  # the gather reads three datasets
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("flowchart LR") and mermaid.count("--> q3") == 3
    assert re.search(r"^scale +3$", graph.summary(), re.M)
    assert graph.quanta[0].id == uuid.UUID(str(graph.quanta[0].id))


def test_skip_existing(repo: Butler, tmp_path: Path) -> None:
    from skystack.pipe.execution import SerialExecutor

    butler = Butler(repo.root, run="skip/run1")
    graph = build(repo, PIPELINE_YAML, where="visit = 3", run="skip/run1")
    SerialExecutor(butler).execute(graph, register_dataset_types=True)
    again = build(repo, PIPELINE_YAML, where="visit = 3", run="skip/run2", skip_existing_in=["skip/run1"])
    assert len(again) == 0
    partial = build(
        repo, PIPELINE_YAML, where="visit IN (3, 4)", run="skip/run2", skip_existing_in=["skip/run1"]
    )
    assert partial.counts() == {"scale": 2, "visit_sum": 1}
