# SPDX-License-Identifier: GPL-3.0-or-later
"""``pipetask run`` executor options (-j, --executor, --extend-run, --replace-run, --clobber-outputs,
--timeout, --retries) and ``pipetask report`` on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from executor_testing import CHAOS_PIPELINE_YAML
from graph_testing_tasks import make_repo, raw_value

from skystack.butler import Butler, MissingCollectionError
from skystack.cli.pipetask import main


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, list[str]]:
    make_repo(tmp_path / "repo").close()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(CHAOS_PIPELINE_YAML, encoding="utf-8")
    repo = str(tmp_path / "repo")
    base = ["run", "-b", repo, "-i", "inputs", "-o", "u/me", "-p", str(pipeline), "--no-progress"]
    return repo, base


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_pool_run_then_report(setup: tuple[str, list[str]]) -> None:
    repo, base = setup
    code, out = invoke(
        [*base, "--output-run", "u/me/r1", "-j", "2", "-c", "scale:fail_visit=2", "--register-dataset-types"]
    )
    assert code != 0 and "3 quanta failed, 1 blocked" in out
    code, out = invoke(["report", "-b", repo, "u/me/r1"])
    assert code == 1
    assert (
        "scale" in out
        and "FAILED scale{instrument: 'Cam', detector: 0, visit: 2}: RuntimeError: injected" in out
    )
    code, out = invoke(["report", "-b", repo, "u/me/r1", "--json"])
    data = json.loads(out[out.index("{") :])
    assert data["tasks"]["scale"] == {"succeeded": 8, "failed": 3, "blocked": 0, "no_work": 0}
    assert data["tasks"]["visit_sum"] == {"succeeded": 3, "failed": 0, "blocked": 1, "no_work": 0}
    assert {f["exception"] for f in data["failures"]} == {"RuntimeError: injected failure"}
    assert all("Traceback" in f["traceback"] for f in data["failures"])
    code, out = invoke(["report", "-b", repo, "u/me"])
    assert code != 0 and "is CHAINED; pipetask report needs the output RUN" in out
    code, out = invoke(["report", "-b", repo, "nope"])
    assert code != 0 and "no collection 'nope'" in out


def test_report_counts_missing_quanta_with_the_graph(setup: tuple[str, list[str]], tmp_path: Path) -> None:
    repo, base = setup
    saved = str(tmp_path / "g.qgraph.json.gz")
    code, out = invoke([*base, "--output-run", "u/me/r", "-d", "visit = 1", "--register-dataset-types"])
    assert code == 0, out
    graph_args = ["qgraph", *base[1:-1], "--output-run", "u/me/r", "--save-qgraph", saved]
    code, out = invoke(graph_args)  # visits 1-4: visits 2-4 were never run in u/me/r
    assert code == 0, out
    code, out = invoke(["report", "-b", repo, "u/me/r", "-g", saved, "--json"])
    data = json.loads(out[out.index("{") :])
    assert data["tasks"]["scale"]["succeeded"] == 3 and data["tasks"]["scale"]["missing"] == 8
    assert data["tasks"]["visit_sum"]["missing"] == 3


def test_extend_run_clobber_and_replace_run(setup: tuple[str, list[str]], tmp_path: Path) -> None:
    repo, base = setup
    flaky = ["-c", f"scale:marker_dir={tmp_path}", "-c", "scale:transient_visit=3", "--retries", "0"]
    code, out = invoke([*base, *flaky, "--output-run", "u/me/a", "--register-dataset-types"])
    assert code != 0 and "3 quanta failed, 1 blocked" in out
    code, out = invoke([*base, *flaky, "--output-run", "u/me/a"])
    assert code != 0 and "output run 'u/me/a' already exists; pass --extend-run" in out
    code, out = invoke([*base, *flaky, "--extend-run"])  # the run is the first child of u/me
    assert code != 0 and "pass --clobber-outputs" in out
    code, out = invoke([*base, *flaky, "--extend-run", "--clobber-outputs"])
    assert code == 0, out
    assert "Outputs in run 'u/me/a'" in out
    butler = Butler(repo, collections="u/me")
    assert butler.get("visit_sum", instrument="Cam", visit=3)["n"] == 3
    code, out = invoke([*base, *flaky, "--extend-run"])
    assert code != 0 and "nothing to run: the quantum graph is empty" in out

    code, out = invoke([*base, "--replace-run", "--prune-replaced", "purge", "--output-run", "u/me/b"])
    assert code == 0, out
    assert "Replaced run 'u/me/a' in 'u/me' (purged)" in out
    butler.registry.refresh()
    assert butler.registry.get_collection_chain("u/me")[0] == "u/me/b"
    with pytest.raises(MissingCollectionError):
        butler.registry.get_collection_type("u/me/a")
    np.testing.assert_array_equal(
        butler.get("scaled_image", instrument="Cam", visit=1, detector=0, collections="u/me"),
        np.full((4, 4), 2.0 * raw_value(1, 0)),
    )
    code, out = invoke([*base, "--replace-run", "--prune-replaced", "unstore", "--output-run", "u/me/c"])
    assert code == 0, out
    butler.registry.refresh()
    ref = butler.registry.find_dataset(
        "scaled_image", instrument="Cam", visit=1, detector=0, collections="u/me/b"
    )
    assert ref is not None and not butler.datastore.get_records([ref.id])  # registered, file gone
    butler.close()


def test_timeout_and_option_errors(setup: tuple[str, list[str]]) -> None:
    _, base = setup
    args = [*base, "-d", "visit IN (1, 2)", "--register-dataset-types"]
    code, out = invoke([*args, "--output-run", "u/me/t", "-c", "scale:slow_visit=1", "--timeout", "0.3"])
    assert code != 0 and "3 quanta failed, 1 blocked" in out and "QuantumTimeoutError" in out
    code, out = invoke([*args, "--extend-run", "--replace-run"])
    assert code != 0 and "--extend-run and --replace-run cannot be combined" in out
    code, out = invoke([*args, "--prune-replaced", "purge"])
    assert code != 0 and "--prune-replaced needs --replace-run" in out
    code, out = invoke([*args, "--clobber-outputs"])
    assert code != 0 and "--clobber-outputs applies only with --extend-run" in out
    code, out = invoke([*args, "--extend-run", "--output-run", "u/me/none"])
    assert code != 0 and "output run 'u/me/none' does not exist; drop --extend-run" in out
    code, out = invoke([*args, "--dask-scheduler", "tcp://127.0.0.1:1", "--executor", "pool"])
    assert code != 0 and "use --executor dask" in out


@pytest.mark.slow
def test_dask_executor_from_the_command_line(setup: tuple[str, list[str]]) -> None:
    _, base = setup
    code, out = invoke(
        [*base, "--output-run", "u/me/d", "--executor", "dask", "-j", "2", "-d", "visit = 1",
         "--register-dataset-types"]
    )  # fmt: skip
    assert code == 0, out
    assert "visit_sum          1" in out


def test_task_authors_import_stays_light() -> None:
    """``from skystack.pipe import TransientError`` (in task modules) does not load the Butler."""
    import subprocess
    import sys

    code = "import sys; from skystack.pipe import TransientError; print('skystack.butler' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
