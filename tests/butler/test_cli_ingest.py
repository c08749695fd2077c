# SPDX-License-Identifier: GPL-3.0-or-later
"""The ingest commands of ``butler`` and ``skystack simulate --repo``, on the tiny simulation."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from skystack.butler import Butler, DatasetType
from skystack.cli.butler import main as butler_main
from skystack.cli.skystack import main as skystack_main
from skystack.sim import SimulationResult, SimulatorConfig, simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(SimulatorConfig.preset("tiny"), tmp_path_factory.mktemp("sim"))


def _run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(butler_main, args)
    assert result.exit_code == code, result.output
    return result.output


def test_ingest_commands_and_queries(tmp_path: Path, sim: SimulationResult, real_data_dir: Path) -> None:
    repo = str(tmp_path / "repo")
    _run(["create", repo])
    assert "registered (2 detectors" in _run(["register-instrument", repo, "SimCamTiny"])
    assert "already registered" in _run(["register-instrument", repo, "SimCamTiny"])
    src = tmp_path / "raws"
    shutil.copytree(sim.outdir / "raw", src)
    (src / "broken.fits").write_bytes(b"\0" * 100)
    out = _run(["ingest-raws", repo, str(src), "-j", "2"], code=1)
    assert f"Ingested {len(sim.raw_files)} raw file(s)" in out
    assert f"FAILED {src / 'broken.fits'}: not a readable FITS file" in out
    out = _run(["ingest-raws", repo, *map(str, sim.raw_files)])
    assert f"Ingested 0 raw file(s); {len(sim.raw_files)} already present" in out
    assert "Defined 2 visit(s)" in _run(["define-visits", repo, "SimCamTiny"])
    assert "6 curated calibration(s)" in _run(["write-curated-calibrations", repo, "SimCamTiny"])

    visits = json.loads((sim.outdir / "truth" / "visits.json").read_text())
    r_visit = next(v["visit_id"] for v in visits if v["band"] == "r")
    rows = json.loads(
        _run(
            [
                "query-data-ids",
                repo,
                "visit",
                "detector",
                "--where",
                "band = :b",
                "--bind",
                "b=r",
                "--format",
                "json",
            ]
        )
    )
    assert rows == [{"instrument": "SimCamTiny", "detector": d, "visit": r_visit} for d in (0, 1)]
    text = _run(
        [
            "query-dimension-records",
            repo,
            "exposure",
            "--where",
            "exposure.day_obs > 20250201",
            "--format",
            "csv",
        ]
    )
    records = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in records] == [v["visit_id"] for v in visits if v["day_obs"] > 20250201]
    assert all(r["physical_filter"] == "SimCam-g" for r in records)
    out = _run(
        [
            "query-datasets",
            repo,
            "raw",
            "-c",
            "SimCamTiny/raw/all",
            "--where",
            "detector = 1 AND band = 'r'",
            "--format",
            "json",
        ]
    )
    (ref,) = json.loads(out)
    assert ref["exposure"] == r_visit and ref["detector"] == 1
    out = _run(["query-data-ids", repo, "visit", "--where", "visit.nonsense > 1"], code=1)
    assert "nonsense" in out
    out = _run(["query-data-ids", repo, "visit", "--bind", "novalue"], code=2)
    assert "'novalue' is not NAME=VALUE" in out

    gaia = sorted((real_data_dir / "legacypipe_testcases" / "testcase3" / "gaia").glob("chunk-*.fits"))
    out = _run(
        [
            "ingest-refcat",
            repo,
            "gaia_dr2",
            *map(str, gaia),
            "-m",
            "id=source_id",
            "-m",
            "g_flux=mag:phot_g_mean_mag",
        ]
    )
    assert "into 4 shard(s) (4 new) in refcats" in out
    out = _run(["ingest-refcat", repo, "gaia_dr2", str(gaia[0]), "-m", "flux=mag:nope"], code=1)
    assert "names no column" in out
    out = _run(
        [
            "register-skymap",
            repo,
            "disc",
            "--kind",
            "discrete",
            "--ra",
            "150",
            "--dec",
            "2",
            "--radius",
            "0.05",
        ]
    )
    assert "Registered skymap disc (1 tract(s))" in out
    assert (
        len(
            json.loads(
                _run(["query-data-ids", repo, "patch", "--where", "skymap = 'disc'", "--format", "json"])
            )
        )
        >= 1
    )


def test_certify_calibrations_command(tmp_path: Path, sim: SimulationResult) -> None:
    repo = tmp_path / "repo"
    _run(["create", str(repo)])
    _run(["register-instrument", str(repo), "SimCamTiny"])
    _run(["ingest-raws", str(repo), str(sim.outdir / "raw")])
    b = Butler(repo)
    dtype = DatasetType("dark", ("instrument", "detector"), "StructuredDataDict", is_calibration=True)
    b.put({"rate": 0.01}, dtype, instrument="SimCamTiny", detector=0, run="calib/dark")
    exposures = sorted(b.registry.query_dimension_records("exposure"), key=lambda r: r.id)
    cut = exposures[-1].timespan.begin.isot
    out = _run(
        [
            "certify-calibrations",
            str(repo),
            "calib/dark",
            "SimCamTiny/calib",
            "--dataset-type",
            "dark",
            "--begin-date",
            cut,
        ]
    )
    assert "Certified 1 'dark' dataset(s) in SimCamTiny/calib" in out
    b.registry.refresh()
    found = b.registry.find_dataset(
        "dark",
        instrument="SimCamTiny",
        detector=0,
        exposure=exposures[-1].id,
        collections=["SimCamTiny/calib"],
    )
    assert found is not None
    assert (
        b.registry.find_dataset(
            "dark",
            instrument="SimCamTiny",
            detector=0,
            exposure=exposures[0].id,
            collections=["SimCamTiny/calib"],
        )
        is None
    )
    out = _run(
        [
            "certify-calibrations",
            str(repo),
            "calib/dark",
            "SimCamTiny/calib",
            "--dataset-type",
            "dark",
            "--end-date",
            "not-a-date",
        ],
        code=1,
    )
    assert "end date 'not-a-date' is not an ISO date" in out


def test_simulate_with_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    result = CliRunner().invoke(
        skystack_main,
        ["simulate", str(tmp_path / "sim"), "--preset", "tiny", "--repo", str(repo), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "raws 12, visits 2, curated_calibrations 6" in result.output
    out = _run(["query-datasets", str(repo), "raw", "-c", "SimCamTiny/raw/all", "--format", "json"])
    assert len(json.loads(out)) == 12
    out = _run(["query-datasets", str(repo), "ref_cat", "-c", "SimCamTiny/defaults", "--format", "json"])
    assert len(json.loads(out)) >= 1
    out = _run(["query-dataset-types", str(repo)])
    for name in ("raw", "defects", "crosstalk", "linearizer", "ref_cat", "skyMap"):
        assert name in out
