# SPDX-License-Identifier: GPL-3.0-or-later
"""Every real Gaia DR2 chunk of the legacypipe test cases (empty chunks included) ingests in one
call, with proper motions and epoch mapped, each star in exactly one HEALPix shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from skystack.butler import Butler
from skystack.geom import healpix_index
from skystack.instruments.refcat_ingest import ingest_refcat

COLUMN_MAP = {
    "id": "source_id",
    "g_flux": "mag:phot_g_mean_mag",
    "pm_ra": "pmra",
    "pm_dec": "pmdec",
    "epoch": "ref_epoch",
}


def test_all_gaia_chunks_with_proper_motions(tmp_path: Path, real_data_dir: Path) -> None:
    files = sorted((real_data_dir / "legacypipe_testcases").glob("*/gaia/chunk-*.fits"))
    tables = [Table.read(f) for f in files]
    assert len(files) >= 10 and any(len(t) == 0 for t in tables)  # empty chunks are part of the test
    truth = vstack([t for t in tables if len(t)])
    butler = Butler.create(tmp_path / "repo")
    result = ingest_refcat(butler, files, "gaia_dr2", column_map=COLUMN_MAP)
    assert result.n_rows == len(truth)
    refs = butler.query_datasets("gaia_dr2", collections="refcats")
    assert len(refs) == result.n_new_shards == len(result.shard_rows)
    shards = [butler.get(r) for r in refs]
    ids = np.concatenate([s["id"].to_numpy() for s in shards])
    assert ids.size == len(truth) and np.unique(ids).size == ids.size
    by_id = {int(i): k for k, i in enumerate(truth["source_id"])}
    for ref, shard in zip(refs, shards, strict=True):
        rows = np.array([by_id[int(i)] for i in shard["id"].to_numpy()])
        ra, dec = shard["ra"].to_numpy(), shard["dec"].to_numpy()
        np.testing.assert_array_equal(ra, np.asarray(truth["ra"])[rows])
        np.testing.assert_array_equal(healpix_index(ra, dec, 8), int(ref.data_id["healpix8"]))
        np.testing.assert_array_equal(shard["pm_ra"].to_numpy(), np.asarray(truth["pmra"])[rows])
        np.testing.assert_array_equal(shard["pm_dec"].to_numpy(), np.asarray(truth["pmdec"])[rows])
        np.testing.assert_array_equal(shard["epoch"].to_numpy(), 2015.5)
        mag = np.asarray(truth["phot_g_mean_mag"], dtype=float)[rows]
        np.testing.assert_allclose(shard["g_flux"].to_numpy(), 10 ** ((31.4 - mag) / 2.5), rtol=1e-12)
