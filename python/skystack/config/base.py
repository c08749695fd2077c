# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed task configurations on pydantic: the pex_config role.

A config is a class with typed, documented fields::

    class OverscanConfig(Config):
        order: int = field(1, doc="Polynomial order of the per-row fit.", ge=0, le=10)
        method: Literal["poly", "median"] = field("poly", doc="Estimator.")

Field values are validated on every assignment; a config can be frozen, compared, hashed,
serialized to YAML or JSON and read back losslessly, and every field remembers each value it
took and where that value came from (`Config.history`).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import typing
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, ClassVar, Self

import pydantic
import yaml
from pydantic import ConfigDict, Field, PrivateAttr

from .errors import (
    ConfigError,
    ConfigFieldError,
    ConfigFileError,
    ConfigFrozenError,
    ConfigValidationError,
    ConfigValueError,
    SubtaskError,
)
from .history import (
    DEFAULT_SOURCE,
    ConfigSource,
    HistoryEntry,
    SourceKind,
    config_source,
    current_source,
)
from .subtask import SubtaskSelection
from .yaml_lines import LineMap, load_yaml_with_lines, read_yaml_file

__all__ = ["Config", "FrozenDict", "FrozenList", "field"]

_MISSING: Any = object()


def field(
    default: Any = _MISSING,
    *,
    doc: str,
    default_factory: Any = None,
    **constraints: Any,
) -> Any:
    """Declare a config field with its documentation and validation constraints.

    Parameters
    ----------
    default : any, optional
        The default value (omit it and give ``default_factory`` for mutable or nested defaults).
    doc : `str`
        What the field means, its unit and its effect.
    default_factory : callable, optional
        Called with no argument to make the default (e.g. a nested config class, ``list``).
    **constraints
        pydantic constraints: ``ge``, ``gt``, ``le``, ``lt``, ``min_length``, ``max_length``,
        ``pattern``, ``multiple_of``.
    """
    if default is _MISSING and default_factory is None:
        raise TypeError("field() needs a default or a default_factory")
    if default is not _MISSING and default_factory is not None:
        raise TypeError("field() takes a default or a default_factory, not both")
    if default_factory is not None:
        return Field(default_factory=default_factory, description=doc, **constraints)
    return Field(default, description=doc, **constraints)


class FrozenList(list[Any]):
    """A list that refuses changes (the value of a list field of a frozen config)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> typing.NoReturn:
        raise ConfigFrozenError("Cannot modify a list field of a frozen config; copy() the config first")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]


class FrozenDict(dict[Any, Any]):
    """A dict that refuses changes (the value of a dict field of a frozen config)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> typing.NoReturn:
        raise ConfigFrozenError("Cannot modify a dict field of a frozen config; copy() the config first")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("skystack.config.subtask.", "")


def _plain(value: Any) -> Any:
    """A JSON/YAML-compatible copy of a field value."""
    if isinstance(value, Config | SubtaskSelection):
        return value.to_dict()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)


class Config(pydantic.BaseModel):
    """Base class of all task configurations.

    Subclasses declare fields as annotated class attributes with `field` (or plain defaults);
    nested configs are fields whose type is another `Config`; subtask choices are fields of type
    `~skystack.config.SubtaskSelection` declared with `~skystack.config.subtask_field`.

    Notes
    -----
    - Assignments are validated (type coercion as pydantic's lax mode, ranges, choices); an
      invalid value raises `ConfigValueError` naming the field, the value and the expected type.
    - Unknown field names raise `ConfigFieldError` with the closest valid name.
    - Cross-field checks go in an override of `validate_config`, run by `check` (and by
      `freeze`), not at each assignment, so fields can be changed one at a time.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        validate_default=True,
        arbitrary_types_allowed=True,
        use_attribute_docstrings=True,
        revalidate_instances="never",
    )

    _frozen: bool = PrivateAttr(default=False)
    _history: dict[str, list[HistoryEntry]] = PrivateAttr(default_factory=dict)

    _subtask_fields: ClassVar[frozenset[str]] = frozenset()
    _nested_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        subtasks, nested = set(), set()
        for name, info in cls.model_fields.items():
            ann = info.annotation
            if ann is SubtaskSelection:
                subtasks.add(name)
            elif isinstance(ann, type) and issubclass(ann, Config):
                nested.add(name)
        cls._subtask_fields = frozenset(subtasks)
        cls._nested_fields = frozenset(nested)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as err:
            raise self._convert_error(err, None, data) from None
        if data:
            source = current_source()
            for name in data:
                self._record(name, source)

    # -- errors ----------------------------------------------------------------------------------
    def _convert_error(
        self, err: pydantic.ValidationError, name: str | None, data: Any, source: ConfigSource | None = None
    ) -> ConfigError:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or (name or "")
        if first.get("type") == "extra_forbidden":
            return self._unknown_field_error(loc.split(".")[0], source)
        field_name = name or loc.split(".")[0]
        info = type(self).model_fields.get(field_name)
        expected = _type_name(info.annotation) if info is not None else "?"
        value = data if name is not None else (data.get(field_name) if isinstance(data, dict) else data)
        where = f" (from {source})" if source is not None else ""
        return ConfigValueError(
            f"Invalid value for field '{loc}' of {type(self).__name__}: {value!r} "
            f"({type(value).__name__}); expected {expected}: {first.get('msg')}{where}"
        )

    def _unknown_field_error(self, name: str, source: ConfigSource | None = None) -> ConfigFieldError:
        fields = list(type(self).model_fields)
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f" (from {source})" if source is not None else ""
        return ConfigFieldError(
            f"{type(self).__name__} has no field {name!r}{where}.{hint} "
            f"Valid fields: {', '.join(fields) or '(none)'}"
        )

    # -- assignment and history ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        if self._frozen:
            raise ConfigFrozenError(
                f"Cannot set {type(self).__name__}.{name}: the config is frozen; copy() it to change it"
            )
        if name not in type(self).model_fields:
            raise self._unknown_field_error(name)
        if name in self._subtask_fields:
            selection: SubtaskSelection = getattr(self, name)
            if isinstance(value, str):
                try:
                    selection.name = value
                except SubtaskError as err:
                    raise SubtaskError(f"Field '{name}' of {type(self).__name__}: {err}") from None
                return
            raise ConfigValueError(
                f"Field '{name}' of {type(self).__name__} selects a subtask: assign an implementation "
                f"name (one of {', '.join(selection.choices)}) or set '{name}.name', got {value!r}"
            )
        try:
            super().__setattr__(name, value)
        except pydantic.ValidationError as err:
            raise self._convert_error(err, name, value) from None
        self._record(name, current_source())

    def _record(self, name: str, source: ConfigSource) -> None:
        if name in self._subtask_fields:
            return
        value = getattr(self, name)
        if isinstance(value, Config):
            return
        self._history.setdefault(name, []).append(HistoryEntry(copy.deepcopy(value), source))

    def _default_of(self, name: str) -> Any:
        info = type(self).model_fields[name]
        return info.get_default(call_default_factory=True)

    def history(self, path: str) -> list[HistoryEntry]:
        """Every value the field at ``path`` took, with where it came from, oldest first.

        Parameters
        ----------
        path : `str`
            Dotted field path, e.g. ``"overscan.order"`` or ``"overscan.name"``.

        Returns
        -------
        entries : `list` [`HistoryEntry`]
            The first entry is the class default; later ones record each assignment with its
            source (instrument override file, pipeline, user file, command line, Python code).
        """
        obj, last = self._resolve_parent(path)
        if isinstance(obj, SubtaskSelection):
            if last == "name":
                return obj.name_history()
            return obj.config.history(last)
        if last not in type(obj).model_fields:
            raise obj._unknown_field_error(last)
        if last in obj._subtask_fields or last in obj._nested_fields:
            raise ConfigFieldError(
                f"'{path}' is a nested config, not a value; ask for one of its fields, "
                f"e.g. '{path}.{next(iter(getattr(obj, last).__dir__()), 'name')}'"
            )
        default = HistoryEntry(obj._default_of(last), DEFAULT_SOURCE)
        return [default, *obj._history.get(last, [])]

    def format_history(self, path: str) -> str:
        """The history of a field as readable lines."""
        return "\n".join(f"{path}: {entry}" for entry in self.history(path))

    def _resolve_parent(self, path: str) -> tuple[Any, str]:
        parts = path.split(".")
        obj: Any = self
        for i, part in enumerate(parts[:-1]):
            if isinstance(obj, SubtaskSelection):
                obj = obj.config
            if not isinstance(obj, Config):
                raise ConfigFieldError(f"'{'.'.join(parts[: i + 1])}' in '{path}' is not a nested config")
            if part not in type(obj).model_fields:
                raise obj._unknown_field_error(part)
            obj = getattr(obj, part)
        return obj, parts[-1]

    # -- checks, freezing, copying ---------------------------------------------------------------
    def validate_config(self) -> None:
        """Cross-field checks of this config; override in subclasses.

        Raise `ConfigValidationError` (or `ValueError`) with a message naming the fields.
        Nested configs are checked by `check`; do not recurse here.
        """

    def check(self) -> None:
        """Run `validate_config` on this config and every nested and selected subtask config.

        Raises
        ------
        ConfigValidationError
            If any check fails; the message names the config path.
        """
        self._check_at(type(self).__name__)

    def _check_at(self, where: str) -> None:
        for name in self._nested_fields:
            getattr(self, name)._check_at(f"{where}.{name}")
        for name in self._subtask_fields:
            getattr(self, name).config._check_at(f"{where}.{name}")
        try:
            self.validate_config()
        except ConfigValidationError as err:
            raise ConfigValidationError(f"{where}: {err}") from None
        except ValueError as err:
            raise ConfigValidationError(f"{where}: {err}") from err

    def freeze(self) -> Self:
        """Check the config, then forbid any further change (returns ``self``).

        Lists and dicts of field values are replaced by read-only versions.
        """
        if self._frozen:
            return self
        self.check()
        self._freeze_tree()
        return self

    def _freeze_tree(self) -> None:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Config):
                value._freeze_tree()
            elif isinstance(value, SubtaskSelection):
                value.freeze()
            elif isinstance(value, list) and not isinstance(value, FrozenList):
                self.__dict__[name] = FrozenList(value)
            elif isinstance(value, dict) and not isinstance(value, FrozenDict):
                self.__dict__[name] = FrozenDict(value)
        self._frozen = True

    @property
    def frozen(self) -> bool:
        """Whether the config refuses changes."""
        return self._frozen

    def copy(self) -> Self:  # type: ignore[override]
        """A deep, unfrozen copy (history included)."""
        new = self.model_copy(deep=True)
        new._unfreeze_tree()
        return new

    def _unfreeze_tree(self) -> None:
        self._frozen = False
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Config):
                value._unfreeze_tree()
            elif isinstance(value, FrozenList):
                self.__dict__[name] = list(value)
            elif isinstance(value, FrozenDict):
                self.__dict__[name] = dict(value)

    # -- serialization, comparison, hashing ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain (JSON/YAML-compatible) values of every field, nested configs as dicts."""
        return {name: _plain(getattr(self, name)) for name in type(self).model_fields}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: ConfigSource | None = None) -> Self:
        """Build a config from defaults plus the values in ``data`` (as written by `to_dict`)."""
        config = cls()
        config.apply_mapping(data, source or ConfigSource(SourceKind.LOADED))
        return config

    def to_yaml(self) -> str:
        """YAML text of `to_dict` (lossless: floats are written with full precision)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)

    @classmethod
    def from_yaml(cls, text: str, name: str = "<string>") -> Self:
        """Build a config from YAML text written by `to_yaml` (or any override mapping)."""
        data, lines = load_yaml_with_lines(text, name)
        config = cls()
        config.apply_mapping(data or {}, ConfigSource(SourceKind.LOADED, name), lines)
        return config

    def to_json(self) -> str:
        """JSON text of `to_dict`."""
        return json.dumps(self.to_dict(), allow_nan=True)

    @classmethod
    def from_json(cls, text: str | bytes, name: str = "<string>") -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigFileError(f"Cannot parse JSON config {name}: {err}") from None
        return cls.from_dict(data, ConfigSource(SourceKind.LOADED, name))

    def save(self, path: str | Path) -> None:
        """Write the config to a ``.yaml``/``.yml`` or ``.json`` file."""
        path = Path(path)
        text = self.to_json() if path.suffix == ".json" else self.to_yaml()
        path.write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a config written by `save`."""
        path = Path(path)
        if path.suffix == ".json":
            return cls.from_json(path.read_text(encoding="utf-8"), str(path))
        config = cls()
        config.load_overrides(path, SourceKind.LOADED)
        return config

    def digest(self) -> str:
        """A stable SHA-256 hex digest of the config class name and all field values."""
        cls = type(self)
        payload = _canonical_json({"class": f"{cls.__module__}.{cls.__qualname__}", "values": self.to_dict()})
        return hashlib.sha256(payload.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return type(self) is type(other) and _canonical_json(self.to_dict()) == _canonical_json(
            other.to_dict()
        )

    __hash__ = None  # type: ignore[assignment]

    def compare(self, other: Config) -> list[str]:
        """Describe the differences with ``other``: one ``"path: a != b"`` line per leaf field."""
        diffs: list[str] = []
        _diff(self.to_dict(), other.to_dict(), "", diffs)
        return diffs

    # -- overrides -------------------------------------------------------------------------------
    def apply_mapping(
        self, mapping: Mapping[str, Any], source: ConfigSource, lines: LineMap | None = None
    ) -> None:
        """Apply nested overrides ``{field: value, nested: {field: value}}`` from ``source``.

        A subtask field takes an implementation name, or a mapping with ``name`` and either a
        ``config`` mapping or the implementation's fields directly.

        Raises
        ------
        ConfigFieldError, ConfigValueError, SubtaskError
            Naming the full field path, the value, the expected type and the source line.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigFileError(
                f"Config overrides from {source} must be a mapping of field names to values, "
                f"got {type(mapping).__name__}"
            )
        self._apply(mapping, source, lines or {}, "")

    def _apply(self, mapping: Mapping[str, Any], source: ConfigSource, lines: LineMap, prefix: str) -> None:
        for key, value in mapping.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            src = source.at_line(lines.get(path, source.line))
            if key not in type(self).model_fields:
                raise _with_path(self._unknown_field_error(str(key), src), prefix)
            if key in self._nested_fields and isinstance(value, Mapping):
                getattr(self, key)._apply(value, source, lines, path)
            elif key in self._subtask_fields:
                _apply_subtask(getattr(self, key), value, source, lines, path)
            else:
                self._set_from(key, value, src, path)

    def _set_from(self, key: str, value: Any, src: ConfigSource, path: str) -> None:
        with config_source(src):
            try:
                setattr(self, key, value)
            except ConfigValueError as err:
                raise ConfigValueError(f"{_replace_path(str(err), key, path)} (from {src})").with_traceback(
                    None
                ) from None
            except ConfigFrozenError:
                raise ConfigFrozenError(f"Cannot set '{path}' from {src}: the config is frozen") from None

    def apply_override(self, text: str, source: ConfigSource | None = None) -> None:
        """Apply one ``field.sub=value`` override (the ``-c`` command-line form).

        The value is parsed as a YAML scalar or flow collection (``3``, ``2.5``, ``true``,
        ``[1, 2]``, ``{a: 1}``); if that does not validate for a string field, the raw text is
        used. ``dict_field.key=value`` sets one key of a dict field.
        """
        source = source or ConfigSource(SourceKind.COMMAND_LINE, "-c")
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigValueError(
                f"Config override {text!r} is not of the form 'field.sub=value' ({source})"
            )
        raw = raw.strip()
        try:
            parsed = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            parsed = raw
        obj, last = self._resolve_parent(key)
        if isinstance(obj, dict):
            parent_path = key.rpartition(".")[0]
            owner, fname = self._resolve_parent(parent_path)
            if isinstance(owner, SubtaskSelection):
                owner = owner.config
            owner._set_from(fname, {**obj, last: parsed}, source, parent_path)
            return
        if isinstance(obj, SubtaskSelection):
            if last == "name":
                with config_source(source):
                    try:
                        obj.name = str(parsed)
                    except SubtaskError as err:
                        raise SubtaskError(f"{key}: {err} (from {source})") from None
                return
            obj = obj.config
        if last not in type(obj).model_fields:
            raise _with_path(obj._unknown_field_error(last, source), key.rpartition(".")[0])
        try:
            obj._set_from(last, parsed, source, key)
        except ConfigValueError as first_error:
            if isinstance(parsed, str):
                raise
            # "-c label=123" for a string field: the YAML scalar parsed as a number.
            try:
                obj._set_from(last, raw, source, key)
            except ConfigValueError:
                raise first_error from None

    def apply_overrides(self, overrides: Iterable[str], source: ConfigSource | None = None) -> None:
        """Apply several ``field=value`` overrides in order."""
        for text in overrides:
            self.apply_override(text, source)

    def load_overrides(self, path: str | Path, kind: SourceKind = SourceKind.FILE) -> None:
        """Apply the overrides in a YAML file (never executed as code).

        Parameters
        ----------
        path : `str` or `pathlib.Path`
            YAML file of ``field: value`` mappings.
        kind : `SourceKind`
            What the file is (user file, instrument override, pipeline file), for the history.
        """
        data, lines = read_yaml_file(path)
        if data is None:
            return
        self.apply_mapping(data, ConfigSource(kind, str(path)), lines)

    # -- help ------------------------------------------------------------------------------------
    @classmethod
    def describe(cls, indent: str = "") -> str:
        """Readable description of every field: name, type, default and documentation."""
        out = []
        for name, info in cls.model_fields.items():
            out.append(f"{indent}{name} ({_type_name(info.annotation)}): {info.description or ''}")
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, Config):
                out.append(ann.describe(indent + "    "))
            elif ann is SubtaskSelection:
                default = info.get_default(call_default_factory=True)
                out.append(f"{indent}    choices: {', '.join(default.choices)}; default: {default.name}")
            else:
                out.append(f"{indent}    default: {info.get_default(call_default_factory=True)!r}")
        return "\n".join(out)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name in type(self).model_fields:
            yield name, getattr(self, name)


def _apply_subtask(
    selection: SubtaskSelection, value: Any, source: ConfigSource, lines: LineMap, path: str
) -> None:
    src = source.at_line(lines.get(path, source.line))
    if isinstance(value, str):
        with config_source(src):
            try:
                selection.name = value
            except SubtaskError as err:
                raise SubtaskError(f"{path}: {err} (from {src})") from None
        return
    if not isinstance(value, Mapping):
        raise ConfigValueError(
            f"'{path}' selects a subtask: give an implementation name or a mapping with 'name' "
            f"and its fields, got {value!r} (from {src})"
        )
    if "name" in value:
        name_src = source.at_line(lines.get(f"{path}.name", src.line))
        with config_source(name_src):
            try:
                selection.name = value["name"]
            except SubtaskError as err:
                raise SubtaskError(f"{path}.name: {err} (from {name_src})") from None
    rest = {k: v for k, v in value.items() if k != "name"}
    if "config" in rest:
        inner = rest.pop("config")
        if isinstance(inner, Mapping):
            selection.config._apply(inner, source, lines, f"{path}.config")
    if rest:
        selection.config._apply(rest, source, lines, path)


def _with_path(err: ConfigFieldError, prefix: str) -> ConfigFieldError:
    if not prefix:
        return err
    return ConfigFieldError(f"In '{prefix}': {err}")


def _replace_path(message: str, key: str, path: str) -> str:
    return message.replace(f"field '{key}'", f"field '{path}'", 1)


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(f"{sub}: {a.get(key, '<missing>')!r} != {b.get(key, '<missing>')!r}")
            else:
                _diff(a[key], b[key], sub, out)
    elif _canonical_json(a) != _canonical_json(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return
        out.append(f"{path}: {a!r} != {b!r}")
