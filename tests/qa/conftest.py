# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures giving the synthetic matched-table builders of ``qa_tables`` to the SRD-metric tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from qa_tables import build_matched_table, concat_tables


@pytest.fixture
def make_table() -> Callable[..., dict[str, np.ndarray]]:
    """`build_matched_table` as a fixture."""
    return build_matched_table


@pytest.fixture
def concat() -> Callable[..., dict[str, Any]]:
    """`concat_tables` as a fixture."""
    return concat_tables
