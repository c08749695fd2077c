# SPDX-License-Identifier: GPL-3.0-or-later
"""Choosing which class runs a step of a Task: the ConfigurableField / RegistryField role.

A `SubtaskSelection` is the value of a config field declared with `subtask_field`. It names the
implementation (``name``) among registered choices -- or any importable class given as
``"package.module.Class"`` -- and holds that class's own config, whose fields are reachable
directly on the selection::

    class IsrConfig(Config):
        overscan: SubtaskSelection = subtask_field(
            choices={"poly": "skystack.tasks.isr.PolyOverscanTask", "median": MedianOverscanTask},
            default="poly",
            doc="How the overscan level is estimated.",
        )

    config.overscan.name = "median"   # choose another implementation
    config.overscan.order = 3         # a field of the chosen implementation's config
    config.overscan["poly"].order     # the (kept) config of a choice that is not active

Configs of choices that were selected once are kept, so switching back restores them, as with
pex_config's RegistryField.
"""

from __future__ import annotations

import copy
import difflib
import importlib
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import ConfigFrozenError, SubtaskError
from .history import DEFAULT_SOURCE, HistoryEntry, current_source

if TYPE_CHECKING:
    from .base import Config

__all__ = ["SubtaskSelection", "import_class", "subtask_field"]


def import_class(path: str) -> type:
    """Import a class from ``"package.module.Class"`` or ``"package.module:Class"``.

    Raises
    ------
    SubtaskError
        If the module cannot be imported or has no such attribute.
    """
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise SubtaskError(f"{path!r} is not a class path of the form 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise SubtaskError(f"Cannot import module {module_name!r} for class {path!r}: {err}") from err
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SubtaskError(f"Module {module_name!r} has no attribute {attr!r} (from {path!r})") from None
    if not isinstance(obj, type):
        raise SubtaskError(f"{path!r} is not a class")
    return obj


class SubtaskSelection:
    """The chosen implementation of a subtask and its config.

    Parameters
    ----------
    choices : `~collections.abc.Mapping` [`str`, `type` or `str`]
        Registered implementations: short name -> class, or an import path of the class
        (imported only when selected). Each class must have a ``ConfigClass`` attribute.
    default : `str`
        The name selected initially.
    doc : `str`, optional
        What the step does (shown in config help).

    Notes
    -----
    Attribute reads and writes other than ``name`` are forwarded to the active config.
    """

    __slots__ = ("_choices", "_configs", "_default", "_doc", "_frozen", "_history", "_name", "_resolved")

    def __init__(self, choices: Mapping[str, type | str], default: str, doc: str = "") -> None:
        object.__setattr__(self, "_choices", dict(choices))
        object.__setattr__(self, "_configs", {})
        object.__setattr__(self, "_resolved", {})
        object.__setattr__(self, "_doc", doc)
        object.__setattr__(self, "_frozen", False)
        object.__setattr__(self, "_history", [])
        object.__setattr__(self, "_name", "")
        object.__setattr__(self, "_default", default)
        self._select(default, record=False)

    # -- selection -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Name (or import path) of the selected implementation."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._select(value, record=True)

    @property
    def choices(self) -> list[str]:
        """The registered implementation names."""
        return list(self._choices)

    @property
    def doc(self) -> str:
        return self._doc

    @property
    def target(self) -> type:
        """The class that runs the step."""
        return self._resolve(self._name)

    @property
    def config(self) -> Config:
        """The config of the selected implementation."""
        return self._configs[self._name]

    def __getitem__(self, name: str) -> Config:
        """The config of implementation ``name``, creating its default if needed."""
        if name not in self._configs:
            self._configs[name] = self._resolve(name).ConfigClass()  # type: ignore[attr-defined]
        return self._configs[name]

    def _resolve(self, name: str) -> type:
        if name in self._resolved:
            return self._resolved[name]
        if not isinstance(name, str) or not name:
            raise SubtaskError(f"A subtask name must be a non-empty string, got {name!r}")
        target: type | str | None = self._choices.get(name)
        if target is None:
            if "." not in name and ":" not in name:
                close = difflib.get_close_matches(name, self._choices, n=1)
                hint = f". Did you mean {close[0]!r}?" if close else ""
                raise SubtaskError(
                    f"Unknown subtask {name!r}; choose one of: {', '.join(self._choices)}, "
                    f"or give a fully-qualified class path 'package.module.Class'{hint}"
                )
            target = name
        cls = import_class(target) if isinstance(target, str) else target
        from .base import Config

        config_class = getattr(cls, "ConfigClass", None)
        if not (isinstance(config_class, type) and issubclass(config_class, Config)):
            raise SubtaskError(
                f"Subtask {name!r} resolves to {cls.__module__}.{cls.__qualname__}, which has no "
                "ConfigClass that is a skystack Config; a subtask must be a Task class"
            )
        self._resolved[name] = cls
        return cls

    def _select(self, name: str, record: bool) -> None:
        if self._frozen:
            raise ConfigFrozenError(f"Cannot select subtask {name!r}: the config is frozen")
        self._resolve(name)
        self[name]  # make sure its config exists
        object.__setattr__(self, "_name", name)
        if record:
            self._history.append(HistoryEntry(name, current_source()))

    # -- attribute forwarding --------------------------------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.config, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr == "name":
            self._select(value, record=True)
        elif attr.startswith("_"):
            raise AttributeError(f"Cannot set private attribute {attr!r} of a SubtaskSelection")
        else:
            setattr(self.config, attr, value)

    # -- history, freezing, copying, comparison --------------------------------------------------
    def name_history(self) -> list[HistoryEntry]:
        """Every implementation name selected, with its source (first entry: the default)."""
        return [HistoryEntry(self._default, DEFAULT_SOURCE), *self._history]

    def freeze(self) -> None:
        """Forbid any further change, here and in every kept config."""
        for cfg in self._configs.values():
            cfg.freeze()
        object.__setattr__(self, "_frozen", True)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def __deepcopy__(self, memo: dict[int, Any]) -> SubtaskSelection:
        new = object.__new__(SubtaskSelection)
        object.__setattr__(new, "_choices", dict(self._choices))
        object.__setattr__(new, "_resolved", dict(self._resolved))
        object.__setattr__(new, "_configs", {k: v.copy() for k, v in self._configs.items()})
        object.__setattr__(new, "_doc", self._doc)
        object.__setattr__(new, "_default", self._default)
        object.__setattr__(new, "_frozen", False)
        object.__setattr__(new, "_history", list(self._history))
        object.__setattr__(new, "_name", self._name)
        return new

    def __copy__(self) -> SubtaskSelection:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "config": {...}}`` for the active implementation."""
        return {"name": self._name, "config": self.config.to_dict()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SubtaskSelection):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SubtaskSelection(name={self._name!r}, config={self.config!r})"

    def __dir__(self) -> list[str]:
        return sorted({"name", "choices", "target", "config", "doc", *type(self.config).model_fields})


def subtask_field(*, choices: Mapping[str, type | str], default: str, doc: str) -> Any:
    """Declare a config field that selects a subtask implementation.

    Parameters
    ----------
    choices : `~collections.abc.Mapping` [`str`, `type` or `str`]
        Registered implementations: short name -> Task class or its import path.
    default : `str`
        The implementation selected by default; must be one of ``choices`` or an import path.
    doc : `str`
        What the step does.

    Returns
    -------
    field : `pydantic.fields.FieldInfo`
        Use as the default of a field annotated ``SubtaskSelection``.
    """
    from pydantic import Field

    return Field(
        default_factory=partial(SubtaskSelection, choices, default, doc),
        description=doc,
        json_schema_extra={"subtask_choices": list(choices)},
    )
