# SPDX-License-Identifier: GPL-3.0-or-later
"""The installed package finds its data files; importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from skystack.resources import config_resource, list_config_resources


def test_config_resources_are_shipped() -> None:
    assert "pipelines" in list_config_resources()
    text = config_resource("pipelines", "smoke.yaml").read_text()
    assert "ImageStatisticsTask" in text


def test_missing_resource_error_lists_contents() -> None:
    with pytest.raises(FileNotFoundError, match=r"config/pipelines/nope.yaml.*smoke.yaml"):
        config_resource("pipelines", "nope.yaml")


def test_import_skystack_loads_no_heavy_library() -> None:
    code = (
        "import sys, skystack; print(sorted(m for m in ('numpy', 'astropy', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
