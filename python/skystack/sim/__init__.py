# SPDX-License-Identifier: GPL-3.0-or-later
"""The survey simulator: SimCam raws with known truth (see doc/simulator.md)."""

from .config import PRESETS, SimulatorConfig
from .simulator import SimulationResult, render_electrons, simulate

__all__ = ["PRESETS", "SimulationResult", "SimulatorConfig", "render_electrons", "simulate"]
