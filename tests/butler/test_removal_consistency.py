# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal stays consistent when interrupted (registry rows go first, files after), and
``butler create --db`` makes a PostgreSQL repository without storing credentials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest
from _transfer_fixtures import POSTGRES_URL, postgres_enabled
from click.testing import CliRunner

from skystack.butler import Butler, DatasetType
from skystack.cli.butler import main

ARR = DatasetType("arr", ("instrument", "detector"), "NumpyArray")

_KILL_DURING_REMOVAL = textwrap.dedent(
    """
    import os, signal, sys
    from skystack.butler import Butler
    from skystack.butler.datastore import FileDatastore

    def die(self, infos):  # the registry transaction has committed; the files are not deleted yet
        os.kill(os.getpid(), signal.SIGKILL)

    FileDatastore.remove_files = die
    butler = Butler(sys.argv[1])
    if sys.argv[2] == "runs":
        butler.remove_runs(["run2"])
    else:
        butler.prune_datasets(butler.query_datasets("arr", collections="run1", where="detector < 2"))
    """
)


@pytest.mark.parametrize("what", ["runs", "prune"])
def test_sigkill_between_registry_and_file_removal_leaves_only_orphans(tmp_path: Path, what: str) -> None:
    root = tmp_path / "repo"
    with Butler.create(root, run="run1") as butler:
        butler.registry.insert_dimension_records("instrument", [{"name": "Cam"}])
        butler.registry.insert_dimension_records(
            "detector", [{"instrument": "Cam", "id": d} for d in range(4)]
        )
        for d in range(4):
            butler.put(np.full(2, d), ARR, instrument="Cam", detector=d)
            butler.put(np.full(2, -d), ARR, instrument="Cam", detector=d, run="run2")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_REMOVAL, str(root), what], env=env, capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    with Butler(root) as butler:
        removed = 4 if what == "runs" else 2
        report = butler.verify(min_age=0)
        # Every remaining dataset has its file; the removed datasets' files are orphans.
        assert not report.missing and report.n_records == 8 - removed and len(report.orphans) == removed
        left = butler.query_datasets("arr", collections=butler.registry.query_collections(), find_first=False)
        assert len(left) == 8 - removed and all(butler.exists(r) for r in left)
        assert ("run2" in butler.registry.query_collections()) == (what != "runs")
        report = butler.verify(min_age=0, remove_orphans=True)
        assert len(report.removed) == removed and butler.verify(min_age=0).ok


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1")
def test_cli_create_postgres_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    url = sa.make_url(POSTGRES_URL)
    if url.username:
        monkeypatch.setenv("SKYSTACK_DB_USER", url.username)
    if url.password:
        monkeypatch.setenv("SKYSTACK_DB_PASSWORD", url.password)
    namespace = f"test_{uuid.uuid4().hex[:12]}"
    root = tmp_path / "repo"
    runner = CliRunner()
    try:
        result = runner.invoke(main, ["create", str(root), "--db", POSTGRES_URL, "--namespace", namespace])
        assert result.exit_code == 0, result.output
        stored = (root / "butler.yaml").read_text()
        assert namespace in stored and (not url.username or f"{url.username}@" not in stored)
        with Butler(root) as butler:
            assert not butler.registry.is_sqlite
            butler.registry.register_run("r")
        result = runner.invoke(main, ["query-collections", str(root), "--format", "json"])
        assert result.exit_code == 0 and '"name": "r"' in result.output
        result = runner.invoke(
            main, ["create", str(tmp_path / "again"), "--db", POSTGRES_URL, "--namespace", namespace]
        )
        assert result.exit_code == 1 and "a registry already exists" in result.output
    finally:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
        engine.dispose()
