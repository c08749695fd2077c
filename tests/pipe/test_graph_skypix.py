# SPDX-License-Identifier: GPL-3.0-or-later
"""Prerequisite inputs sharded by sky pixel (reference catalogues) found by region overlap."""

from __future__ import annotations

import numpy as np
import pytest
from graph_testing_tasks import DETECTOR, make_repo

from skystack.butler import Butler, CollectionType, DatasetType
from skystack.geom.healpix import healpix_ranges, ranges_to_array
from skystack.pipe import (
    Input,
    Output,
    Pipeline,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    PrerequisiteInput,
)
from skystack.pipe.graph_builder import QuantumGraphBuilder
from skystack.task import Struct


class ShardConnections(PipelineTaskConnections, dimensions=DETECTOR):
    image = Input(name="raw_image", storage_class="NumpyArray", dimensions=DETECTOR)
    refcat = PrerequisiteInput(
        name="test_refcat", storage_class="NumpyArray", dimensions=("healpix8",), multiple=True
    )
    out = Output(name="shard_count", storage_class="NumpyArray", dimensions=DETECTOR)


class ShardConfig(PipelineTaskConfig, connections_class=ShardConnections):
    pass


class ShardTask(PipelineTask):
    ConfigClass = ShardConfig
    _default_name = "shards"

    def run(self, image: np.ndarray, refcat: list[np.ndarray]) -> Struct:  # type: ignore[override]
        return Struct(out=np.array([len(refcat)]))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Butler:
    butler = make_repo(tmp_path_factory.mktemp("skypix") / "repo")
    shard_type = DatasetType("test_refcat", ("healpix8",), "NumpyArray")
    # Shards over visits 1 and 2 only (RA 11-12.4), one per level-8 pixel of the area.
    pixels: set[int] = set()
    for record in butler.registry.query_dimension_records("visit", where="visit IN (1, 2)"):
        for begin, end in ranges_to_array(healpix_ranges(record.region, 8)):
            pixels.update(range(int(begin), int(end)))
    for pix in sorted(pixels):
        butler.put(np.array([pix]), shard_type, {"healpix8": pix}, run="refcats")
    butler.registry.register_collection("inputs_ref", CollectionType.CHAINED)
    butler.registry.set_collection_chain("inputs_ref", ["raw/all", "refcats"])
    return butler


def test_refcat_shards_found_by_region(repo: Butler) -> None:
    defs = Pipeline.from_string("tasks:\n  shards:\n    class: test_graph_skypix.ShardTask\n").to_expanded()
    graph = QuantumGraphBuilder(
        repo.registry, defs, input_collections=["inputs_ref"], output_run="out/shards"
    ).build()
    by_visit: dict[int, list[int]] = {}
    for q in graph.quanta_of("shards"):
        pixels = sorted(r.data_id["healpix8"] for r in q.inputs["refcat"])
        by_visit.setdefault(q.data_id["visit"], []).append(len(pixels))
        # Exactly the shards whose pixels overlap this detector's region.
        record = repo.registry.query_dimension_records(
            "visit_detector_region",
            where=f"visit = {q.data_id['visit']} AND detector = {q.data_id['detector']}",
        )[0]
        expected = [
            p for b, e in ranges_to_array(healpix_ranges(record.region, 8)) for p in range(int(b), int(e))
        ]
        assert pixels == expected
    assert all(n > 0 for n in by_visit[1] + by_visit[2])
    # Visits 3 and 4 have no shards: the prerequisite (minimum 1) drops their quanta.
    assert set(by_visit) == {1, 2}
