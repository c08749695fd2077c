# SPDX-License-Identifier: GPL-3.0-or-later
"""Register a skymap in a Butler repository (``butler register-skymap``).

The ``skymap`` record (``hash`` = `SkyMap.digest`), one ``tract`` record per tract and one ``patch``
record per patch, each with its outer sky polygon as region, and the skymap object itself as the
dataset ``skyMap`` (storage class ``SkyMap``, dimensions ``(skymap,)``) in the RUN ``skymaps``.
Registering the same skymap again changes nothing; a different skymap under a name already in
use is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from skystack.butler import ConflictingDefinitionError, DatasetRef, DatasetType
from skystack.skymap import SkyMap

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = ["SKYMAP_RUN", "register_skymap", "skymap_dataset_type"]

SKYMAP_RUN = "skymaps"
"""The RUN collection holding the ``skyMap`` datasets."""


def skymap_dataset_type() -> DatasetType:
    """The ``skyMap`` dataset type: dimensions ``(skymap,)``, storage class ``SkyMap``."""
    return DatasetType("skyMap", ("skymap",), "SkyMap")


def register_skymap(
    butler: Butler,
    name: str,
    skymap: SkyMap,
    *,
    tract_ids: Iterable[int] | None = None,
    run: str = SKYMAP_RUN,
) -> DatasetRef:
    """Insert a skymap's ``skymap``, ``tract`` and ``patch`` records and store the skymap.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    name : `str`
        The ``skymap`` dimension value (e.g. ``"discrete"``, ``"rings"``).
    skymap : `SkyMap`
        The skymap.
    tract_ids : iterable of `int`, optional
        Record only these tracts (default all; a whole-sky `RingsSkyMap` has thousands).
    run : `str`, optional
        RUN for the ``skyMap`` dataset.

    Returns
    -------
    ref : `DatasetRef`
        The ``skyMap`` dataset (the existing one if already registered).

    Raises
    ------
    ConflictingDefinitionError
        If a different skymap is registered as ``name`` (its hash differs).
    """
    butler._check_writeable("register a skymap")
    registry = butler.registry
    digest = skymap.digest()
    existing = registry.fetch_dimension_records("skymap", skymap=name)
    if existing and existing[0].hash != digest:
        raise ConflictingDefinitionError(
            f"skymap {name!r} is already registered with another definition (hash {existing[0].hash[:12]}… "
            f"vs {digest[:12]}…); register this one under a new name"
        )
    ids = sorted(set(range(len(skymap)) if tract_ids is None else (int(t) for t in tract_ids)))
    tracts, patches = [], []
    nx_max = ny_max = 0
    for tract_id in ids:
        tract = skymap[tract_id]
        tracts.append({"skymap": name, "id": tract_id, "region": tract.outer_sky_polygon})
        nx_max = max(nx_max, tract.num_patches.width)
        ny_max = max(ny_max, tract.num_patches.height)
        patches += [
            {
                "skymap": name,
                "tract": tract_id,
                "id": patch.sequential_index,
                "cell_x": patch.index.x,
                "cell_y": patch.index.y,
                "region": patch.outer_sky_polygon,
            }
            for patch in tract
        ]
    record = {
        "name": name,
        "hash": digest,
        "tract_max": len(skymap),
        "patch_nx_max": nx_max,
        "patch_ny_max": ny_max,
    }
    dtype = skymap_dataset_type()
    registry.register_dataset_type(dtype)
    registry.register_run(run)
    with registry.transaction():
        if not existing:
            registry.insert_dimension_records("skymap", [record])
        registry.insert_dimension_records("tract", tracts, skip_existing=True)
        registry.insert_dimension_records("patch", patches, skip_existing=True)
    ref = registry.find_dataset(dtype, {"skymap": name}, collections=[run])
    if ref is None:
        ref = butler.put(skymap, dtype, {"skymap": name}, run=run)
    return ref
