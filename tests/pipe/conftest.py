# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the pipeline tests: the folder of test pipelines; the test tasks made importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture()
def pipe_data() -> Path:
    """``tests/pipe/data``: pipeline files and instrument override files."""
    return HERE / "data"
