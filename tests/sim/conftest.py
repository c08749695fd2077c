# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny simulated survey shared by the simulator tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from skystack.sim import SimulationResult, SimulatorConfig, simulate


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The ``tiny`` preset with every effect on."""
    return simulate(SimulatorConfig.preset("tiny"), tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The ``tiny`` preset noiseless and ISR-free (every effect off), stars only."""
    config = SimulatorConfig.preset("tiny")
    for name in type(config.effects).model_fields:
        if isinstance(getattr(config.effects, name), bool):
            setattr(config.effects, name, False)
    config.sky.galaxy_density = 0.0
    config.sky.star_density = 300000.0
    config.sky.star_mag_max = 19.0
    config.sky.n_lensed_quasars = 0
    config.sky.n_transients = 0
    return simulate(config, Path(tmp_path_factory.mktemp("clean")))
