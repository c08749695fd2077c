# SPDX-License-Identifier: GPL-3.0-or-later
"""Put the output of `skystack.sim.simulate` into a Butler repository (``skystack simulate --repo``).

`ingest_simulation` reads the simulation's ``manifest.json`` and, idempotently: registers the
SimCam instrument and a `DiscreteSkyMap` (``discrete``) covering the simulated field, ingests the
science and calibration raws into ``<instrument>/raw/all``, defines the visits, writes and certifies
the curated calibrations in ``<instrument>/calib`` and ingests the reference catalogue as
``ref_cat`` (``healpix8`` shards) into the RUN ``refcats``. A CHAINED collection
``<instrument>/defaults`` searches the raws, the calibrations (found by time), the reference
catalogue and the skymap.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from skystack.butler import CollectionType
from skystack.geom import Angle
from skystack.skymap import DiscreteSkyMap, DiscreteSkyMapParams

from .calib_registration import write_curated_calibrations
from .refcat_ingest import REFCAT_RUN, ingest_refcat
from .registration import default_raw_run, define_visits, ingest_raws, load_instrument, register_instrument
from .skymap_registration import SKYMAP_RUN, register_skymap

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = ["SimulationIngestReport", "ingest_simulation", "simulation_skymap"]


@dataclass
class SimulationIngestReport:
    """What `ingest_simulation` put in the repository (counts) and the files it could not ingest."""

    instrument: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def simulation_skymap(manifest: dict[str, object], field_radius_deg: float) -> DiscreteSkyMap:
    """A one-tract `DiscreteSkyMap` about the simulated field (0.2″ pixels, 1000-pixel patches).

    Its radius is the camera's field radius plus three dither RMS and 0.01°.
    """
    config = manifest["config"]
    assert isinstance(config, dict)
    survey = config["survey"]
    radius = field_radius_deg + 3.0 * float(survey["dither"]) + 0.01
    return DiscreteSkyMap(
        DiscreteSkyMapParams(
            pixel_scale=Angle.from_arcseconds(0.2),
            patch_inner_dimensions=(1000, 1000),
            patch_border=50,
            tract_overlap=Angle.from_arcminutes(0.5),
            ra=(float(survey["ra"]),),
            dec=(float(survey["dec"]),),
            radius=(min(radius, 44.0),),
        )
    )


def ingest_simulation(
    butler: Butler, outdir: str | os.PathLike[str], *, transfer: str = "copy", processes: int = 1
) -> SimulationIngestReport:
    """Register, ingest and define everything a simulation wrote (see the module docstring).

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    outdir : path-like
        The simulation's output folder (with ``manifest.json``).
    transfer : `str`, optional
        Transfer mode of the raws (``copy``, ``link``, ``symlink``, ``move``, ``direct``).
    processes : `int`, optional
        Header-reading processes for the raw ingest.

    Raises
    ------
    FileNotFoundError
        If ``outdir`` has no ``manifest.json`` (it is not a simulation output).
    """
    out = Path(outdir)
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{out} has no manifest.json: run `skystack simulate {out}` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    instrument = load_instrument(str(manifest["instrument"]))
    name = instrument.name
    report = SimulationIngestReport(instrument=name)
    register_instrument(butler, instrument)
    camera = instrument.camera
    field_radius = camera.field_radius * camera.plate_scale / 3600.0
    register_skymap(butler, "discrete", simulation_skymap(manifest, field_radius))
    raw = ingest_raws(
        butler,
        [out / p for p in [*manifest["raw"], *manifest["calib_raw"]]],
        transfer=transfer,
        processes=processes,
        instrument=name,
    )
    report.failures.update(raw.failures)
    report.counts["raws"] = len(raw.refs)
    report.counts["visits"] = define_visits(butler, name)
    report.counts["curated_calibrations"] = len(write_curated_calibrations(butler, instrument))
    refcat = ingest_refcat(butler, [out / manifest["refcat"]], "ref_cat")
    report.counts["refcat_shards"] = len(refcat.refs)
    report.counts["refcat_rows"] = refcat.n_rows
    registry = butler.registry
    chain = f"{name}/defaults"
    registry.register_collection(chain, CollectionType.CHAINED)
    registry.set_collection_chain(chain, [default_raw_run(name), f"{name}/calib", REFCAT_RUN, SKYMAP_RUN])
    return report
