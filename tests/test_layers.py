# SPDX-License-Identifier: GPL-3.0-or-later
"""The layers of DESIGN.md: no module imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "skystack"

# Rank of each top-level subpackage; a module may import only ranks <= its own.
RANKS = {
    "utils": 0,
    "resources": 0,
    "geom": 1,
    "image": 2,
    "table": 3,
    "config": 4,
    "task": 5,
    "skymap": 6,
    "butler": 7,
    "pipe": 8,
    "algorithms": 8,
    "tasks": 9,
    "instruments": 10,
    "sim": 10,
    "cli": 11,
    "qa": 11,
}
# Extra rules stated in DESIGN.md: algorithms never import the butler or the pipeline code.
FORBIDDEN = {"algorithms": {"butler", "pipe"}, "pipe": {"algorithms"}}


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts  # ("skystack", "geom", "box")
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    list(rel[: len(rel) - node.level])
                    if path.name != "__init__.py"
                    else list(rel[: len(rel) - node.level + 1])
                )
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "skystack" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def test_no_layer_imports_a_higher_one() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue  # skystack/__init__.py imports nothing
        layer = rel.parts[0]
        assert layer in RANKS, f"{rel}: folder {layer!r} is not a layer of DESIGN.md; add it to RANKS"
        for target, line in _imported_layers(path):
            if target not in RANKS:
                problems.append(f"{rel}:{line} imports unknown layer {target!r}")
            elif RANKS[target] > RANKS[layer] or target in FORBIDDEN.get(layer, set()):
                problems.append(f"{rel}:{line} ({layer}) imports {target}, a higher or forbidden layer")
    assert not problems, "\n".join(problems)


def test_checker_sees_violations(tmp_path: Path) -> None:
    """The import scan finds absolute and relative imports (so the test above can fail)."""
    fake = PACKAGE / "geom" / "box.py"
    found = {t for t, _ in _imported_layers(fake)}
    assert found == set()  # box.py imports nothing from skystack
    stats = PACKAGE / "tasks" / "image_statistics.py"
    assert {"algorithms", "config", "task"} <= {t for t, _ in _imported_layers(stats)}
    init = PACKAGE / "config" / "__init__.py"
    assert {t for t, _ in _imported_layers(init)} == {"config"}
