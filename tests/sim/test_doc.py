# SPDX-License-Identifier: GPL-3.0-or-later
"""The worked example of doc/simulator.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "doc" / "simulator.md"


def test_simulator_doc_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    exec(compile("\n".join(blocks), str(DOC), "exec"), {"__name__": "doc_simulator"})
