# SPDX-License-Identifier: GPL-3.0-or-later
"""``butler collection-chain``: every mode and every error path."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from skystack.butler import Butler, CollectionType
from skystack.cli.butler import main


def _run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result.output


def test_collection_chain_modes_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    with Butler.create(root) as butler:
        for run in ("a", "b", "c"):
            butler.registry.register_run(run)
        butler.registry.register_collection("tags", CollectionType.TAGGED)
    repo = str(root)
    assert _run(["collection-chain", repo, "chain", "a", "b"]) == "chain: a, b\n"
    assert _run(["collection-chain", repo, "chain", "c", "b", "--mode", "prepend"]) == "chain: c, b, a\n"
    assert _run(["collection-chain", repo, "chain", "c", "--mode", "extend"]) == "chain: b, a, c\n"
    assert _run(["collection-chain", repo, "chain", "a", "--mode", "remove"]) == "chain: b, c\n"
    assert _run(["collection-chain", repo, "chain", "--mode", "pop"]) == "chain: c\n"
    assert _run(["collection-chain", repo, "chain", "--mode", "pop", "--", "-1"]) == "chain: (no children)\n"
    assert _run(["collection-chain", repo, "outer", "chain", "tags"]) == "outer: chain, tags\n"
    with Butler(root) as butler:
        assert butler.registry.get_collection_chain("outer") == ("chain", "tags")
        assert butler.registry.get_collection_type("chain") is CollectionType.CHAINED
    out = _run(["collection-chain", repo, "chain", "outer"], code=1)
    assert "cannot put 'outer' in chain 'chain': it would contain itself (chain -> outer -> chain)" in out
    out = _run(["collection-chain", repo, "chain", "nosuch"], code=1)
    assert "no collection named 'nosuch'" in out
    out = _run(["collection-chain", repo, "a", "b"], code=1)
    assert "collection 'a' already exists with type RUN, not CHAINED" in out
    out = _run(["collection-chain", repo, "tags", "a", "--mode", "extend"], code=1)
    assert "collection 'tags' is TAGGED, not CHAINED" in out
    out = _run(["collection-chain", repo, "outer", "a", "--mode", "remove"], code=1)
    assert "a not in chain 'outer' (['chain', 'tags'])" in out
    out = _run(["collection-chain", repo, "outer", "5", "--mode", "pop"], code=1)
    assert "chain 'outer' has no child at position(s) [5]" in out
    out = _run(["collection-chain", repo, "outer", "x", "--mode", "pop"], code=2)
    assert "pop takes child positions (integers)" in out
    out = _run(["collection-chain", repo, "bad name!", "a"], code=1)
    assert "bad name!" in out
