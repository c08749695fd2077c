# SPDX-License-Identifier: GPL-3.0-or-later
"""The installed command-line entry points and the skystack tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from skystack.cli.skystack import main as skystack_main

TASK = "skystack.tasks.image_statistics.ImageStatisticsTask"


@pytest.mark.parametrize("command", ["butler", "pipetask", "skystack"])
def test_entry_points_installed(command: str) -> None:
    exe = shutil.which(command) or str(Path(sys.executable).parent / command)
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "--log-level" in result.stdout


def test_bin_scripts_match_entry_points() -> None:
    root = Path(__file__).resolve().parent.parent
    for command in ("butler", "pipetask", "skystack"):
        script = root / "bin" / command
        assert script.exists(), f"bin/{command} is missing"
        result = subprocess.run(
            [sys.executable, str(script), "--version"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0 and "0.1.0" in result.stdout, result.stderr


def test_show_config_with_overrides_and_history(tmp_path: Path) -> None:
    over = tmp_path / "o.yaml"
    over.write_text("border: 4\n")
    result = CliRunner().invoke(
        skystack_main,
        ["show-config", TASK, "-C", str(over), "-c", "estimator.n_sigma=2.5", "--history", "border"],
    )
    assert result.exit_code == 0, result.output
    assert "n_sigma: 2.5" in result.output and "border: 4" in result.output
    assert f"<- file {over}, line 1" in result.output


def test_show_config_errors() -> None:
    runner = CliRunner()
    result = runner.invoke(skystack_main, ["show-config", TASK, "-c", "border=many"])
    assert result.exit_code != 0 and "Invalid value for field 'border'" in result.output
    result = runner.invoke(skystack_main, ["show-config", "skystack.nope.Task"])
    assert result.exit_code != 0 and "Cannot import module 'skystack.nope'" in result.output
    result = runner.invoke(skystack_main, ["show-config", "skystack.config.Config"])
    assert result.exit_code != 0 and "is not a skystack Task class" in result.output


def test_show_config_describe() -> None:
    result = CliRunner().invoke(skystack_main, ["show-config", TASK, "--describe"])
    assert result.exit_code == 0 and "estimator (SubtaskSelection)" in result.output


def test_smoke_job() -> None:
    result = CliRunner().invoke(skystack_main, ["smoke", "--size", "256", "-c", "estimator.name=mad"])
    assert result.exit_code == 0, result.output
    assert "smoke job OK" in result.output and '"image_statistics:estimator"' in result.output
