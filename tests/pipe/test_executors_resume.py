# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash and resume: ``pipetask run -j 2`` in a subprocess loses a worker and then its driver to
SIGKILL mid-run; ``pipetask run ... --extend-run`` then runs only what is missing, over the orphan
files the killed run left, and ends with exactly the datasets of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from executor_testing import CHAOS_PIPELINE_YAML, build_graph, snapshot
from graph_testing_tasks import make_repo

from skystack.butler import Butler
from skystack.pipe.executors import SerialExecutor

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def _wait_for(condition: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(butler: Butler, run: str) -> dict[tuple, object]:
    butler.registry.refresh()
    try:
        refs = butler.registry.query_datasets_simple("scale_metadata", [run], find_first=False)
    except LookupError:
        return {}
    return {r.data_id.values_tuple: r for r in refs}


def test_sigkill_of_a_worker_and_of_the_driver_then_resume(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo").close()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(CHAOS_PIPELINE_YAML, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        "-m",
        "skystack.cli.pipetask",
        "run",
        "-b",
        str(tmp_path / "repo"),
        "-i",
        "inputs",
        "-o",
        "u/out",
        "--output-run",
        "u/out/run",
        "-p",
        str(pipeline),
        "-c",
        "scale:sleep_s=0.5",
        "-j",
        "2",
        "--retry-backoff",
        "0.1",
        "--register-interval",
        "0.2",
        "--register-dataset-types",
        "--no-progress",
    ]
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = Butler(tmp_path / "repo", writeable=False)
    try:
        parent = psutil.Process(driver.pid)
        _wait_for(lambda: _finished(reader, "u/out/run"), 120, "the first registered quanta")
        # Pool workers: the descendants without children of their own (not a fork server) that
        # are not multiprocessing's resource tracker.
        workers = [
            p
            for p in parent.children(recursive=True)
            if not p.children() and "resource_tracker" not in " ".join(p.cmdline())
        ]
        victim = workers[0]  # busy with a quantum
        os.kill(victim.pid, signal.SIGKILL)
        _wait_for(lambda: len(_finished(reader, "u/out/run")) >= 4, 120, "four registered quanta")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(10)
    finally:
        if driver.poll() is None:
            driver.kill()
        output = driver.stdout.read().decode() if driver.stdout else ""
    before = _finished(reader, "u/out/run")
    assert 4 <= len(before) < 11, output  # killed mid-run, with some quanta registered
    kept = {key: reader.get(ref)["quantum.start"] for key, ref in before.items()}
    time.sleep(1.0)  # let the orphaned workers finish the quantum they were running, and exit
    orphans = [o for o in reader.verify().orphans if not Path(o).name.startswith(".")]
    assert orphans  # files of quanta that finished but were never registered

    resumed = subprocess.run([*command, "--extend-run"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "skipped" in resumed.stdout
    after = _finished(reader, "u/out/run")
    assert len(after) == 11
    for key, start in kept.items():  # finished quanta were not run again
        assert reader.get(after[key])["quantum.start"] == start
    assert not [o for o in reader.verify().orphans if not Path(o).name.startswith(".")]

    # An uninterrupted run in another repository: the same dataset IDs and contents.
    clean = make_repo(tmp_path / "clean")
    graph = build_graph(clean, ("scale:sleep_s=0.5",), run="u/out/run")
    SerialExecutor(clean, progress=False).execute(graph, register_dataset_types=True)
    assert snapshot(reader, "u/out/run") == snapshot(clean, "u/out/run")
    assert (
        snapshot(reader, "u/out/run", provenance=True).keys()
        == snapshot(clean, "u/out/run", provenance=True).keys()
    )
    reader.close()
    clean.close()
