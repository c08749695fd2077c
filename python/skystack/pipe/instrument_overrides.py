# SPDX-License-Identifier: GPL-3.0-or-later
"""Instruments as pipelines see them: a name and a folder of per-task config override files.

A pipeline that names an instrument (``instrument: SimCam`` or an import path) applies that
instrument's override files ``<override dir>/<task default name>.yaml`` and then
``<override dir>/<label>.yaml`` to each task's config, before the pipeline's own overrides.
The instrument classes live in a higher layer (``skystack.instruments``), so they are found
lazily: by import path, by a name registered with `register_instrument`, or by an entry point
of the ``skystack.instruments`` group.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from skystack.config import Config, ConfigSource, SourceKind, load_yaml_with_lines

__all__ = [
    "InstrumentError",
    "InstrumentLike",
    "apply_instrument_overrides",
    "register_instrument",
    "resolve_instrument",
]

_REGISTRY: dict[str, str | type] = {}


class InstrumentError(LookupError):
    """An instrument name that cannot be resolved, or a class that is not usable as an instrument."""


@runtime_checkable
class InstrumentLike(Protocol):
    """What the pipeline layer needs from an instrument (instantiated with no arguments)."""

    @property
    def name(self) -> str:
        """Short name of the instrument (the ``instrument`` dimension value), e.g. ``"SimCam"``."""
        ...

    def config_override_dir(self) -> Traversable | Path | None:
        """Folder holding ``<task>.yaml`` config override files, or None if it has none."""
        ...


def register_instrument(name: str, target: str | type) -> None:
    """Register a short instrument name for pipelines (``instrument: <name>``).

    Parameters
    ----------
    name : `str`
        Short name used in pipeline files.
    target : `str` or `type`
        The instrument class or its import path ``"package.module.Class"``.
    """
    _REGISTRY[name] = target


def _import(path: str) -> Any:
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise InstrumentError(f"{path!r} is not an import path 'package.module.Class'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except ImportError as err:
        raise InstrumentError(
            f"Cannot import instrument module {module_name!r} (from {path!r}): {err}"
        ) from err
    except AttributeError:
        raise InstrumentError(f"Module {module_name!r} has no instrument class {attr!r}") from None


def resolve_instrument(name: str) -> InstrumentLike:
    """The instrument named by a pipeline, instantiated.

    Parameters
    ----------
    name : `str`
        A registered short name, an entry point name of the ``skystack.instruments`` group, or
        the import path of the class.

    Raises
    ------
    InstrumentError
        If the name is unknown, cannot be imported, or does not give an instrument (an object
        with ``name`` and ``config_override_dir()``).
    """
    target: Any = _REGISTRY.get(name)
    if target is None:
        eps = importlib.metadata.entry_points(group="skystack.instruments")
        match = [ep for ep in eps if ep.name == name]
        if match:
            target = match[0].load()
        elif "." in name or ":" in name:
            target = name
        else:
            known = sorted({*_REGISTRY, *(ep.name for ep in eps)})
            raise InstrumentError(
                f"Unknown instrument {name!r}; give the import path of its class or one of the "
                f"registered names: {', '.join(known) or '(none registered)'}"
            )
    if isinstance(target, str):
        target = _import(target)
    instrument = target() if isinstance(target, type) else target
    if not isinstance(instrument, InstrumentLike):
        raise InstrumentError(
            f"Instrument {name!r} resolves to {target!r}, which lacks 'name' and 'config_override_dir()'"
        )
    return instrument


def apply_instrument_overrides(
    instrument: InstrumentLike, config: Config, file_names: list[str]
) -> list[str]:
    """Apply the instrument's override files ``<dir>/<file_name>.yaml`` that exist, in order.

    Parameters
    ----------
    instrument : `InstrumentLike`
        The instrument.
    config : `~skystack.config.Config`
        The config to update (recorded in its history as `SourceKind.INSTRUMENT` with file and line).
    file_names : `list` [`str`]
        Stems to look for, e.g. ``[task default name, label]`` (duplicates are applied once).

    Returns
    -------
    applied : `list` [`str`]
        Locations of the files applied.
    """
    root = instrument.config_override_dir()
    if root is None:
        return []
    applied: list[str] = []
    for stem in dict.fromkeys(file_names):
        node = root.joinpath(f"{stem}.yaml")
        if not node.is_file():
            continue
        location = str(node)
        data, lines = load_yaml_with_lines(node.read_text(encoding="utf-8"), location)
        if data is not None:
            config.apply_mapping(data, ConfigSource(SourceKind.INSTRUMENT, location), lines)
        applied.append(location)
    return applied
