# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference-catalogue ingest (real Gaia chunks, the simulator's refcat) and the simulate→repo path."""

from __future__ import annotations

from pathlib import Path

import healpy
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.table import Table
from lsst import sphgeom

from skystack.butler import Butler
from skystack.instruments.refcat_ingest import RefcatError, ingest_refcat
from skystack.instruments.sim_ingest import ingest_simulation
from skystack.sim import SimulatorConfig, simulate


def _gaia_files(real_data_dir: Path) -> list[Path]:
    files = sorted((real_data_dir / "legacypipe_testcases" / "testcase3" / "gaia").glob("chunk-*.fits"))
    assert files, "the Gaia chunks of testcase3 are missing"
    return files


def test_ingest_real_gaia_chunks(tmp_path: Path, real_data_dir: Path) -> None:
    files = _gaia_files(real_data_dir)
    b = Butler.create(tmp_path / "repo")
    column_map = {"id": "source_id", "g_flux": "mag:phot_g_mean_mag"}
    result = ingest_refcat(b, files, "gaia_dr2", column_map=column_map)
    inputs = [Table.read(f) for f in files]
    assert result.n_rows == sum(len(t) for t in inputs)
    refs = b.query_datasets("gaia_dr2", collections="refcats")
    assert len(refs) == len(result.shard_rows) == result.n_new_shards
    n = 0
    pix8 = sphgeom.HealpixPixelization(8)
    for ref in refs:
        shard = b.get(ref)
        pixel = int(ref.data_id["healpix8"])
        ra, dec = shard["ra"].to_numpy(), shard["dec"].to_numpy()
        np.testing.assert_array_equal(healpy.ang2pix(256, ra, dec, nest=True, lonlat=True), pixel)
        assert {
            pix8.index(sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(a, d)))
            for a, d in zip(ra, dec, strict=True)
        } == {pixel}
        mag = shard["phot_g_mean_mag"].to_numpy().astype(float)
        np.testing.assert_allclose(shard["g_flux"].to_numpy(), 10 ** ((31.4 - mag) / 2.5), rtol=1e-12)
        assert shard.schema.metadata[b"healpix_level"] == b"8"
        n += shard.num_rows
    assert n == result.n_rows
    ids = np.concatenate([b.get(r)["id"].to_numpy() for r in refs])
    assert sorted(ids) == sorted(np.concatenate([np.asarray(t["source_id"]) for t in inputs]))
    again = ingest_refcat(b, files, "gaia_dr2", column_map=column_map)
    assert again.n_new_shards == 0 and sorted(r.id for r in again.refs) == sorted(r.id for r in refs)


def test_refcat_errors(tmp_path: Path, real_data_dir: Path) -> None:
    b = Butler.create(tmp_path / "repo")
    files = _gaia_files(real_data_dir)[:1]
    with pytest.raises(
        RefcatError, match=r"column map g_flux=mag:gmag names no column; available: \['source_id'"
    ):
        ingest_refcat(b, files, "gaia", column_map={"g_flux": "mag:gmag"})
    with pytest.raises(RefcatError, match="no 'ra' column .* map one with column_map"):
        ingest_refcat(b, files, "gaia", column_map={"ra_deg": "ra"}, keep_unmapped=False)
    csv = tmp_path / "cat.csv"
    csv.write_text("ra,dec\n10.0,95.0\n")
    with pytest.raises(RefcatError, match=r"1 row\(s\) have no valid ra/dec"):
        ingest_refcat(b, [csv], "bad")
    with pytest.raises(RefcatError, match="unknown catalogue format"):
        ingest_refcat(b, [tmp_path / "repo" / "butler.yaml"], "bad")
    csv.write_text("ra,dec,mag\n10.0,5.0,17\n10.01,5.0,18\n")
    result = ingest_refcat(b, [csv], "csvcat")
    assert result.n_rows == 2 and sum(result.shard_rows.values()) == 2


def test_simulate_into_repo(tmp_path: Path) -> None:
    res = simulate(SimulatorConfig.preset("tiny"), tmp_path / "sim")
    b = Butler.create(tmp_path / "repo")
    report = ingest_simulation(b, res.outdir)
    assert not report.failures
    assert report.counts["raws"] == len(res.raw_files) + len(res.calib_files)
    assert report.counts["visits"] == 2
    refcat = pq.read_table(res.refcat_file)
    assert report.counts["refcat_rows"] == refcat.num_rows
    chain = ["SimCamTiny/defaults"]
    raws = b.query_datasets("raw", collections=chain, where="exposure.observation_type = 'science'")
    assert len(raws) == len(res.raw_files)
    shards = b.query_datasets("ref_cat", collections=chain)
    assert sum(b.get(s).num_rows for s in shards) == refcat.num_rows
    assert b.get("skyMap", skymap="discrete", collections=chain)[0].contains(
        __import__("skystack.geom", fromlist=["SpherePoint"]).SpherePoint.from_degrees(150.0, 2.0)
    )
    # every visit/detector overlaps a patch of the skymap
    vd = b.registry.query_data_ids(["visit", "detector"])
    assert len(vd) == 4
    again = ingest_simulation(b, res.outdir)
    assert again.counts == report.counts
    with pytest.raises(FileNotFoundError, match="has no manifest.json"):
        ingest_simulation(b, tmp_path)
