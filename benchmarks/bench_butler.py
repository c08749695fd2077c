# SPDX-License-Identifier: GPL-3.0-or-later
"""Butler benchmark: put/get of a small object and of a 4k x 4k Exposure, a 5,000-ref query, repo creation.

Peers, measured in the same run: the Rubin Butler (lsst-daf-butler in the venv ``$RUBIN_VENV``,
default ``/tmp/rubin-venv``, driven by ``/work/shared/bench/rubin/bench_butler.py`` in a
subprocess) for the small object, and raw ``write_exposure``/``read_exposure`` for the Exposure.
If the Rubin venv is missing, our figures are printed alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _util import Row, median_time, print_rows
from skystack.butler import Butler, DatasetType

N_SMALL = 500
RUBIN_SCRIPT = Path("/work/shared/bench/rubin/bench_butler.py")


def _small_obj(i: int) -> dict[str, Any]:
    return {"index": i, "mean": 0.5 * i, "tags": ["a", "b"], "nested": {"x": 1, "y": 2.5}}


def _setup(root: Path, n_visits: int, n_detectors: int) -> Butler:
    butler = Butler.create(root, run="bench")
    reg = butler.registry
    reg.insert_dimension_records(
        "instrument", [{"name": "BenchCam", "visit_max": 10**7, "detector_max": 10**4}]
    )
    reg.insert_dimension_records(
        "physical_filter", [{"instrument": "BenchCam", "name": "BenchCam-r", "band": "r"}]
    )
    reg.insert_dimension_records(
        "detector", [{"instrument": "BenchCam", "id": d} for d in range(n_detectors)]
    )
    reg.insert_dimension_records(
        "visit",
        [
            {"instrument": "BenchCam", "id": v, "physical_filter": "BenchCam-r", "day_obs": 20250101}
            for v in range(n_visits)
        ],
    )
    return butler


def _per_call(times: list[float]) -> float:
    return float(np.median(times))


def bench_small(root: Path) -> tuple[float, float, float]:
    butler = _setup(root, 25, 20)
    butler.registry.register_dataset_type(
        DatasetType("small", ("instrument", "visit", "detector"), "StructuredDataDict")
    )
    ids = [{"instrument": "BenchCam", "visit": v, "detector": d} for v in range(25) for d in range(20)]
    put_times, get_times, ref_times = [], [], []
    refs = []
    for i, data_id in enumerate(ids[:N_SMALL]):
        t0 = time.perf_counter()
        refs.append(butler.put(_small_obj(i), "small", data_id))
        put_times.append(time.perf_counter() - t0)
    for data_id in ids[:N_SMALL]:
        t0 = time.perf_counter()
        butler.get("small", data_id)
        get_times.append(time.perf_counter() - t0)
    for ref in refs:
        t0 = time.perf_counter()
        butler.get(ref)
        ref_times.append(time.perf_counter() - t0)
    butler.close()
    return _per_call(put_times), _per_call(get_times), _per_call(ref_times)


def bench_rubin(tmp: Path) -> dict[str, float] | None:
    venv = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv"))
    python = venv / "bin" / "python"
    if not python.exists() or not RUBIN_SCRIPT.exists():
        print(f"Rubin venv not found at {venv} (or {RUBIN_SCRIPT} missing): printing skystack figures alone")
        return None
    repo = tmp / "rubin_repo"
    try:
        subprocess.run([str(venv / "bin" / "butler"), "create", str(repo)], check=True, capture_output=True)
        subprocess.run(
            [
                str(python),
                str(RUBIN_SCRIPT),
                "setup",
                str(repo),
                "--visits",
                "25",
                "--detectors",
                "20",
                "--no-regions",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        out = subprocess.run(
            [
                str(python),
                str(RUBIN_SCRIPT),
                "io",
                str(repo),
                "--n",
                str(N_SMALL),
                "--repeats",
                "1",
                "--storage-classes",
                "StructuredDataDict",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as err:
        print(f"Rubin benchmark failed ({err}); printing skystack figures alone\n{err.stderr[-2000:]}")
        return None
    sc = json.loads(out)["storage_classes"]["StructuredDataDict"]
    return {k: 1.0 / sc[k]["median"] for k in ("put_per_s", "get_by_dataid_per_s", "get_by_ref_per_s")}


def bench_exposure(root: Path) -> list[Row]:
    from skystack.image import Exposure, read_exposure, write_exposure

    rng = np.random.default_rng(1)
    n = 4096
    exposure = Exposure.from_arrays(
        rng.normal(100, 10, (n, n)).astype(np.float32),
        np.zeros((n, n), dtype=np.int32),
        np.ones((n, n), dtype=np.float32),
    )
    butler = _setup(root, 2, 2)
    butler.registry.register_dataset_type(
        DatasetType("calexp", ("instrument", "visit", "detector"), "Exposure")
    )
    # Like the Butler, which writes each dataset to a new file, the raw baseline writes a new
    # file each time (overwriting one path would compare different kernel work).
    raw_paths = iter(root / f"raw{i}.fits" for i in range(100))
    raw_path = root / "raw_last.fits"
    raw_put = median_time(lambda: write_exposure(next(raw_paths), exposure), repeat=3)
    write_exposure(raw_path, exposure)
    raw_get = median_time(lambda: read_exposure(raw_path), repeat=3)
    runs = iter(range(100))
    ours_put = median_time(
        lambda: butler.put(
            exposure, "calexp", instrument="BenchCam", visit=0, detector=0, run=f"e{next(runs)}"
        ),
        repeat=3,
    )
    ours_get = median_time(
        lambda: butler.get("calexp", instrument="BenchCam", visit=0, detector=0, collections="e0"), repeat=3
    )
    butler.close()
    return [
        Row(
            "put 4k x 4k Exposure",
            ours_put,
            peer=raw_put,
            peer_name="raw FITS",
            target="<= 1.2x raw",
            passed=ours_put <= 1.2 * raw_put,
        ),
        Row(
            "get 4k x 4k Exposure",
            ours_get,
            peer=raw_get,
            peer_name="raw FITS",
            target="<= 1.2x raw",
            passed=ours_get <= 1.2 * raw_get,
        ),
    ]


def bench_query(root: Path) -> Row:
    butler = _setup(root, 250, 20)
    butler.registry.register_dataset_type(
        DatasetType("raw", ("instrument", "visit", "detector"), "NumpyArray")
    )
    ids = [{"instrument": "BenchCam", "visit": v, "detector": d} for v in range(250) for d in range(20)]
    butler.registry.insert_datasets("raw", ids, "bench") if butler.registry.register_run(
        "bench"
    ) or True else None
    t = median_time(lambda: butler.query_datasets("raw", collections="bench"), repeat=7)
    assert len(butler.query_datasets("raw", collections="bench")) == 5000
    butler.close()
    return Row("query_datasets, 5,000 refs", t, target="<= 20 ms", passed=t <= 0.020)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        put, get, get_ref = bench_small(tmp / "small")
        rubin = bench_rubin(tmp)
        rp = rubin["put_per_s"] if rubin else None
        rg = rubin["get_by_dataid_per_s"] if rubin else None
        rr = rubin["get_by_ref_per_s"] if rubin else None
        rows = [
            Row(
                "put small dict (median of 500)",
                put,
                peer=rp,
                peer_name="Rubin",
                target="<= 2 ms",
                passed=put <= 0.002,
            ),
            Row(
                "get small dict by data ID",
                get,
                peer=rg,
                peer_name="Rubin",
                target="<= 1 ms",
                passed=get <= 0.001,
            ),
            Row(
                "get small dict by ref",
                get_ref,
                peer=rr,
                peer_name="Rubin",
                target="<= 1 ms",
                passed=get_ref <= 0.001,
            ),
        ]
        if rp is not None and rg is not None:
            rows.append(
                Row("put speed-up vs Rubin", rp / put, unit="x", target=">= 10x", passed=rp / put >= 10)
            )
            rows.append(
                Row("get speed-up vs Rubin", rg / get, unit="x", target=">= 5x", passed=rg / get >= 5)
            )
        rows += bench_exposure(tmp / "exposure")
        rows.append(bench_query(tmp / "query"))
        counter = iter(range(100))
        create = median_time(lambda: Butler.create(tmp / f"create{next(counter)}").close(), repeat=5)
        rubin_create = None
        venv_butler = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv")) / "bin" / "butler"
        if venv_butler.exists():
            rc = iter(range(100))
            rubin_create = median_time(
                lambda: subprocess.run(
                    [str(venv_butler), "create", str(tmp / f"rc{next(rc)}")], check=True, capture_output=True
                ),
                repeat=3,
            )
        rows.append(
            Row(
                "create repository (in-process)",
                create,
                peer=rubin_create,
                peer_name="Rubin CLI",
                target="(Rubin figure includes CLI start-up)",
            )
        )
        print_rows("Butler: skystack vs Rubin daf_butler / raw FITS", rows)


if __name__ == "__main__":
    main()
