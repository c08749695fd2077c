# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared test fixtures: where the real test data live, temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    env = os.environ.get("SKYSTACK_SHARED")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (or ``$SKYSTACK_SHARED``)."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.fail(f"shared/ folder not found at {path}; set SKYSTACK_SHARED to its location")
    return path


@pytest.fixture(scope="session")
def real_data_dir(shared_dir: Path) -> Path:
    """``shared/data/real``: small real sky images and catalogs."""
    return shared_dir / "data" / "real"
