# SPDX-License-Identifier: GPL-3.0-or-later
"""``pipetask qgraph`` and ``pipetask run`` end to end on a real repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from graph_testing_tasks import PIPELINE_YAML, make_repo, raw_value

from skystack.butler import Butler
from skystack.cli.pipetask import main
from skystack.pipe.graph import QuantumGraph


def setup(tmp_path: Path) -> tuple[str, str]:
    make_repo(tmp_path / "repo").close()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE_YAML, encoding="utf-8")
    return str(tmp_path / "repo"), str(pipeline)


def test_qgraph_and_run(tmp_path: Path) -> None:
    repo, pipeline = setup(tmp_path)
    runner = CliRunner()
    saved = tmp_path / "g.qgraph.json.gz"
    args = ["-b", repo, "-i", "inputs", "-o", "u/me", "-p", pipeline, "-d", "visit IN (1, 2)"]
    result = runner.invoke(
        main, ["qgraph", *args, "--save-qgraph", str(saved), "--show", "summary", "--show", "dot"]
    )
    assert result.exit_code == 0, result.output
    assert "QuantumGraph: 8 quanta, 6 edges" in result.output and "digraph QuantumGraph" in result.output
    assert len(QuantumGraph.load(saved)) == 8

    result = runner.invoke(
        main, ["run", *args, "--output-run", "u/me/run1", "-c", "scale:factor=3", "--register-dataset-types"]
    )
    assert result.exit_code == 0, result.output
    assert "Outputs in run 'u/me/run1', chained into 'u/me'." in result.output
    butler = Butler(repo, collections="u/me")
    assert butler.registry.get_collection_chain("u/me") == ("u/me/run1", "inputs")
    np.testing.assert_array_equal(
        butler.get("scaled_image", instrument="Cam", visit=2, detector=1),
        np.full((4, 4), 3.0 * raw_value(2, 1)),
    )
    assert butler.get("visit_sum", instrument="Cam", visit=1)["n"] == 3


def test_run_errors(tmp_path: Path) -> None:
    repo, pipeline = setup(tmp_path)
    runner = CliRunner()
    base = ["run", "-b", repo, "-i", "inputs", "-o", "u/me", "-p", pipeline]
    result = runner.invoke(main, [*base, "-j", "2", "--executor", "serial"])
    assert result.exit_code != 0 and "the serial executor runs one process, not -j 2" in result.output
    result = runner.invoke(main, [*base, "--output-run", "u/me/r"])
    assert result.exit_code != 0 and "is not registered; pass --register-dataset-types" in result.output
    result = runner.invoke(main, [*base, "-d", "visit = 99", "--register-dataset-types"])
    assert (
        result.exit_code != 0 and "0 left" in result.output and "the quantum graph is empty" in result.output
    )
    result = runner.invoke(
        main, [*base, "-d", "visit = 1", "-c", "scale:fail_visit=1", "--register-dataset-types"]
    )
    assert result.exit_code != 0 and "3 quanta failed, 1 blocked" in result.output
