# SPDX-License-Identifier: GPL-3.0-or-later
"""Skymaps: tessellations of the sky into tracts (TAN pixel grids) and patches (Rubin skymap role)."""

from .base import SkyMap, TractGridParams
from .discrete import DiscreteSkyMap, DiscreteSkyMapParams
from .rings import RingsSkyMap, RingsSkyMapParams
from .tract import PatchInfo, TractInfo

__all__ = [
    "DiscreteSkyMap",
    "DiscreteSkyMapParams",
    "PatchInfo",
    "RingsSkyMap",
    "RingsSkyMapParams",
    "SkyMap",
    "TractGridParams",
    "TractInfo",
]
