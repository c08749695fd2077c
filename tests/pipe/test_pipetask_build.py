# SPDX-License-Identifier: GPL-3.0-or-later
"""``pipetask build``: showing the expanded pipeline, configs and field histories; errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from skystack.cli.pipetask import main


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["build", *args])
    return result.exit_code, result.output


def test_show_tasks_and_graph(pipe_data: Path) -> None:
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "--show", "tasks", "--show", "graph")
    assert code == 0, out
    assert "gather: pipe_testing_tasks.GatherTask" in out
    assert "    dimensions: (instrument, visit)" in out and "    inputs: scaled_image[]" in out
    assert "    prerequisites: bias" in out and "    init: - -> detrend_schema" in out
    assert "scale -> scaled_image -> gather" in out and "warp -> deep_warp -> coadd" in out
    assert "(input collections) -> raw_image -> scale" in out


def test_show_config_history_and_overrides(pipe_data: Path, tmp_path: Path) -> None:
    user = tmp_path / "u.yaml"
    user.write_text("statistic: mean\n")
    code, out = _run(
        "-p",
        f"{pipe_data / 'drp.yaml'}#step1,coadd,warp",
        "-c",
        "scale:factor=6",
        "-C",
        f"coadd:{user}",
        "--show",
        "config=scale",
        "--show",
        "config=coadd:connections",
        "--show",
        "history=scale:factor",
    )
    assert code == 0, out
    assert "factor: 6.0" in out and "coadd_name: deep" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("factor:") and "<-" in ln]
    assert "<- instrument " + str(pipe_data / "testcam" / "scale.yaml") + ", line 2" in lines[1]
    assert "<- command-line -c scale:factor=6" in lines[2]
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "-C", f"coadd:{user}", "--show", "dump-config=coadd")
    assert code == 0 and yaml.safe_load(out)["statistic"] == "mean"


def test_save_pipeline_round_trips(pipe_data: Path, tmp_path: Path) -> None:
    saved = tmp_path / "saved.yaml"
    code, out = _run(
        "-p",
        str(pipe_data / "base.yaml"),
        "-c",
        "stats:connections.image=x_image",
        "-s",
        str(saved),
        "--show",
        "pipeline",
    )
    assert code == 0, out
    code2, out2 = _run("-p", str(saved), "--show", "tasks")
    assert code2 == 0 and "inputs: x_image" in out2


def test_build_errors(pipe_data: Path) -> None:
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "-c", "nolabel:factor=1")
    assert code != 0 and "No task labelled 'nolabel'" in out
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "-c", "factor=1")
    assert code != 0 and "-c 'factor=1' must have the form label:field=value" in out
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "--show", "history=scale:nope")
    assert code != 0 and "has no field 'nope'" in out
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "--show", "everything")
    assert code != 0 and "--show 'everything' is not understood" in out
    code, out = _run("-p", str(pipe_data / "missing.yaml"))
    assert code != 0 and "does not exist" in out
    code, out = _run("-p", str(pipe_data / "drp.yaml"), "--instrument", "NoSuchCam")
    assert code != 0 and "Unknown instrument 'NoSuchCam'" in out


def test_pipetask_help_lists_build_without_importing_pipe() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skystack.cli.pipetask", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "build" in result.stdout
    # Not a timing test: --help must not import the pipeline layer (the speed is benchmarked).
    check = subprocess.run(
        [sys.executable, "-c", "import sys, skystack.cli.pipetask; print('skystack.pipe' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.stdout.strip() == "False", check.stderr
