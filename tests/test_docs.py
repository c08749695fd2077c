# SPDX-License-Identifier: GPL-3.0-or-later
"""The worked examples in doc/ run as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "doc"
PAGES = [
    "calibration.md",
    "configs-and-tasks.md",
    "index.md",
    "pipelines.md",
    "simulator.md",
    "single-frame.md",
    "srd-metrics.md",
]


@pytest.mark.parametrize("page", PAGES)
def test_doc_examples_run(page: str) -> None:
    text = (DOC / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, f"{page} has no worked example"
    # Run the blocks as one real module, as a user's script would be.
    name = f"doc_{page.replace('-', '_').removesuffix('.md')}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile("\n".join(blocks), str(DOC / page), "exec"), module.__dict__)
    finally:
        del sys.modules[name]
