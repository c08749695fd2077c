# SPDX-License-Identifier: GPL-3.0-or-later
"""Dimensions: the universe of data-ID keys and elements, dimension groups, data IDs and records."""

from ._coordinate import DataCoordinate, DataIdError, DataIdValue, DimensionRecord
from ._elements import DimensionElement, DimensionGroup, DimensionUniverse, DimensionUniverseError, KeyField

__all__ = [
    "DataCoordinate",
    "DataIdError",
    "DataIdValue",
    "DimensionElement",
    "DimensionGroup",
    "DimensionRecord",
    "DimensionUniverse",
    "DimensionUniverseError",
    "KeyField",
]
