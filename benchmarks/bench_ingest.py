# SPDX-License-Identifier: GPL-3.0-or-later
"""Raw ingest rate (files/s) against a plain copy of the same files.

Simulates SimCam raws (1k×1k detectors, 2–4 amplifiers, ~2 MB each, effects off for speed) and
times `skystack.instruments.registration.ingest_raws` into a fresh repository — header
translation, exposure records, datasets and file records, file transfer — beside
``shutil.copyfile`` of the same files into a folder. Also: symlink ingest, two header-reading
processes, and a no-op re-ingest.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from _util import Row, median_time, print_rows
from skystack.butler import Butler
from skystack.instruments.registration import ingest_raws, load_instrument, register_instrument
from skystack.sim import SimulatorConfig, simulate


def _files(tmp: Path) -> list[Path]:
    config = SimulatorConfig.preset("demo")
    config.apply_overrides(
        [
            "survey.n_visits=6",
            "sky.galaxy_density=0",
            "calibrations.n_bias=2",
            "calibrations.n_dark=0",
            "calibrations.n_flat=0",
        ]
    )
    result = simulate(config, tmp / "sim")
    return result.raw_files + result.calib_files


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = _files(tmp)
        n = len(files)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        counter = iter(range(1_000_000))

        def fresh() -> Butler:
            b = Butler.create(tmp / f"repo{next(counter)}")
            register_instrument(b, load_instrument("SimCam"))
            return b

        def plain_copy() -> None:
            out = tmp / f"copy{next(counter)}"
            out.mkdir()
            for f in files:
                shutil.copyfile(f, out / f.name)

        def ingest(transfer: str, processes: int) -> None:
            b = fresh()
            result = ingest_raws(b, files, transfer=transfer, processes=processes)
            assert result.ok and result.n_ingested == n
            b.close()

        t_copy = median_time(plain_copy, repeat=5)
        t_ingest = median_time(lambda: ingest("copy", 1), repeat=5)
        t_symlink = median_time(lambda: ingest("symlink", 1), repeat=5)
        t_j2 = median_time(lambda: ingest("copy", 2), repeat=3)
        again = fresh()
        ingest_raws(again, files)
        t_noop = median_time(lambda: ingest_raws(again, files), repeat=5)
        rows = [
            Row(
                f"ingest-raws copy -j1 ({n} files, {size_mb:.0f} MB)",
                n / t_ingest,
                "files/s",
                n / t_copy,
                "shutil copy",
                "≥ 0.5× plain copy rate",
                t_ingest <= 2.0 * t_copy,
            ),
            Row(
                "ingest-raws symlink -j1",
                n / t_symlink,
                "files/s",
                n / t_copy,
                "shutil copy",
                "≥ 100 files/s",
                n / t_symlink >= 100,
            ),
            Row("ingest-raws copy -j2", n / t_j2, "files/s", n / t_copy, "shutil copy"),
            Row(
                "re-ingest (no-op)",
                n / t_noop,
                "files/s",
                n / t_copy,
                "shutil copy",
                "≥ 100 files/s",
                n / t_noop >= 100,
            ),
        ]
        print_rows("Raw ingest rate (higher is better; ratio = ours / plain copy)", rows)


if __name__ == "__main__":
    main()
