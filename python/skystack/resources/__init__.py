# SPDX-License-Identifier: GPL-3.0-or-later
"""Access to data files shipped with the package (pipelines, instrument overrides, universes).

The repository's top-level ``config/`` folder is installed as the package
``skystack.resources.config``; these helpers find its files both in a source checkout with an
editable install and after a plain ``pip install .``.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

__all__ = ["config_folder", "config_resource", "list_config_resources"]


def _config_root() -> Traversable:
    return resources.files("skystack.resources.config")


def config_resource(*parts: str) -> Traversable:
    """Return the shipped file ``config/<parts...>``.

    Parameters
    ----------
    *parts : `str`
        Path components below ``config/``, e.g. ``("pipelines", "DRP.yaml")``.

    Returns
    -------
    resource : `importlib.resources.abc.Traversable`
        The resource; use ``.read_text()`` or ``.is_file()`` on it.

    Raises
    ------
    FileNotFoundError
        If no such file is shipped; the message lists what the folder holds.
    """
    node = _config_root()
    for part in parts:
        node = node.joinpath(part)
    if not node.is_file():
        parent = _config_root().joinpath(*parts[:-1]) if len(parts) > 1 else _config_root()
        have = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
        raise FileNotFoundError(
            f"No shipped config resource 'config/{'/'.join(parts)}'; "
            f"that folder holds: {', '.join(have) or '(nothing)'}"
        )
    return node


def list_config_resources(*parts: str) -> list[str]:
    """Return the names of the files and folders shipped below ``config/<parts...>``."""
    node = _config_root().joinpath(*parts) if parts else _config_root()
    if not node.is_dir():
        return []
    return sorted(p.name for p in node.iterdir() if not p.name.startswith(("_", ".")))


def config_folder(*parts: str) -> Traversable | None:
    """The shipped folder ``config/<parts...>``, or None if there is no such folder."""
    node = _config_root().joinpath(*parts) if parts else _config_root()
    return node if node.is_dir() else None
