# SPDX-License-Identifier: GPL-3.0-or-later
"""Connections: what a PipelineTask reads and writes (the pipe_base connections role).

A task declares its connections on a `PipelineTaskConnections` subclass, with the task's
dimensions and the default values of the templates used in dataset-type names::

    class CoaddConnections(
        PipelineTaskConnections,
        dimensions=("skymap", "tract", "patch", "band"),
        default_templates={"coadd_name": "deep"},
    ):
        warps = Input(
            name="{coadd_name}_direct_warp",
            storage_class="Exposure",
            dimensions=("skymap", "tract", "patch", "visit", "instrument"),
            multiple=True,
            deferred_load=True,
            doc="The warps to stack.",
        )
        coadd = Output(
            name="{coadd_name}_coadd",
            storage_class="Exposure",
            dimensions=("skymap", "tract", "patch", "band"),
            doc="The stacked image.",
        )

The declaration is checked when the class is created (dimension names against the dimension
universe, outputs inside the task's dimensions, templates declared, ...). Each connections class
generates a config class (``CoaddConnections.ConfigClass``) with one string field per
connection (the dataset-type name) and one per template; a `PipelineTaskConfig` carries it as
its ``connections`` field, so ``config.connections.coadd_name = "goodSeeing"`` or
``config.connections.coadd = "my_coadd"`` renames dataset types. An instance,
``CoaddConnections(config=config)``, holds the connections with their final names.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import string
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

from skystack.config import Config, field

if TYPE_CHECKING:
    from skystack.butler import DatasetType, DimensionUniverse

__all__ = [
    "BaseConnection",
    "BaseInput",
    "ConnectionsError",
    "InitInput",
    "InitOutput",
    "Input",
    "NoWorkFound",
    "Output",
    "PipelineTaskConnections",
    "PrerequisiteInput",
    "PrerequisiteMissingError",
]

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = frozenset({"dimensions", "config", "default_templates", "templates", "ConfigClass"})
# Deprecated pydantic methods that a generated names-config field may shadow harmlessly.
_SHADOWABLE = frozenset({"schema", "json", "dict", "construct", "validate", "parse_obj", "fields"})


class ConnectionsError(ValueError):
    """A connections class or its configuration is inconsistent; the message names the connection."""


class NoWorkFound(Exception):
    """Raised by `PipelineTaskConnections.adjust_quantum` or a task's ``run`` when there is nothing to do.

    The quantum then ends as a *success with no outputs*; its descendants that need those
    outputs are skipped in the same way.
    """


class PrerequisiteMissingError(FileNotFoundError):
    """A quantum lacks a prerequisite input (a calibration, a reference catalog shard)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseConnection:
    """Common description of a dataset a task reads or writes.

    Parameters
    ----------
    name : `str`
        Dataset-type name; may hold templates in braces, e.g. ``"{coadd_name}_coadd"``.
    storage_class : `str`
        Storage class of the dataset (its in-memory type and file format), e.g. ``"Exposure"``.
    doc : `str`
        What the dataset is to this task.
    multiple : `bool`
        Whether a quantum gets (or writes) a list of datasets of this type rather than one.
    """

    name: str
    storage_class: str
    doc: str = ""
    multiple: bool = False

    #: Whether the connection is an input of the task (overridden by subclasses).
    is_input: ClassVar[bool] = False
    #: Whether the connection is read or written once per task, not per quantum.
    is_init: ClassVar[bool] = False

    def __post_init__(self) -> None:
        kind = type(self).__name__
        if not isinstance(self.name, str) or not self.name:
            raise ConnectionsError(
                f"{kind} connection needs a non-empty dataset-type name, got {self.name!r}"
            )
        if not isinstance(self.storage_class, str) or not self.storage_class:
            raise ConnectionsError(
                f"{kind} connection {self.name!r} needs a storage_class name such as 'Exposure', "
                f"got {self.storage_class!r}"
            )

    @property
    def template_keys(self) -> tuple[str, ...]:
        """Names of the templates used in `name` (``("coadd_name",)`` for ``"{coadd_name}_coadd"``)."""
        keys = []
        for _, key, spec, conv in string.Formatter().parse(self.name):
            if key is None:
                continue
            if not key.isidentifier() or spec or conv:
                raise ConnectionsError(
                    f"Dataset-type name template {self.name!r} may only use plain '{{identifier}}' "
                    f"fields, got '{{{key}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}'"
                )
            keys.append(key)
        return tuple(keys)

    @property
    def connection_dimensions(self) -> tuple[str, ...]:
        """The dimensions of the dataset (empty for init connections)."""
        return ()

    def make_dataset_type(self, universe: DimensionUniverse | None = None) -> DatasetType:
        """The butler `~skystack.butler.DatasetType` this connection reads or writes.

        Only meaningful for a connection with a resolved name (from a connections instance).
        """
        from skystack.butler import DatasetType as _DatasetType

        is_calibration = bool(getattr(self, "is_calibration", False))
        return _DatasetType(
            self.name, self.connection_dimensions, self.storage_class, is_calibration, universe=universe
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class DimensionedConnection(BaseConnection):
    """A connection to datasets identified by data IDs of ``dimensions``."""

    dimensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        dims = self.dimensions
        if isinstance(dims, str):
            raise ConnectionsError(
                f"{type(self).__name__} {self.name!r}: dimensions must be a tuple of names, got the "
                f"string {dims!r}; write dimensions=({dims!r},)"
            )
        object.__setattr__(self, "dimensions", tuple(dims))

    @property
    def connection_dimensions(self) -> tuple[str, ...]:
        return self.dimensions


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseInput(DimensionedConnection):
    """Common description of a per-quantum input.

    Parameters
    ----------
    deferred_load : `bool`
        Give ``run`` a handle with a ``get()`` method instead of the loaded object (for large
        inputs read piecewise or only when needed).
    minimum : `int`
        Fewest datasets a quantum needs; with fewer, the quantum is not run (`NoWorkFound`
        for an `Input`, `PrerequisiteMissingError` for a `PrerequisiteInput`). Values above 1
        need ``multiple=True``.
    """

    deferred_load: bool = False
    minimum: int = 1
    is_input: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.minimum, bool) or not isinstance(self.minimum, int) or self.minimum < 0:
            raise ConnectionsError(f"{type(self).__name__} {self.name!r}: minimum must be an int >= 0")
        if self.minimum > 1 and not self.multiple:
            raise ConnectionsError(
                f"{type(self).__name__} {self.name!r} has minimum={self.minimum} but multiple=False; "
                "set multiple=True to accept several datasets, or minimum to 0 or 1"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Input(BaseInput):
    """A regular input, produced by an upstream task or found in the input collections."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrerequisiteInput(BaseInput):
    """An input that must already exist before the pipeline runs (calibrations, reference catalogs).

    Parameters
    ----------
    lookup_function : callable or `str`, optional
        How the graph builder finds the datasets for a quantum, or the import path
        ``"package.module.function"`` of that function. Called as
        ``lookup_function(dataset_type, registry, data_id, collections)`` and returning an
        iterable of dataset references; by default calibrations are found by the quantum's time
        (``is_calibration=True``) and spatial datasets (reference-catalog shards) by overlap with
        the quantum's sky region.
    is_calibration : `bool`
        Whether the dataset type is certified in CALIBRATION collections with validity ranges.
    """

    lookup_function: Callable[..., Any] | str | None = None
    is_calibration: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        fn = self.lookup_function
        if fn is not None and not callable(fn) and not (isinstance(fn, str) and "." in fn):
            raise ConnectionsError(
                f"PrerequisiteInput {self.name!r}: lookup_function must be a callable or an import path "
                f"'package.module.function', got {fn!r}"
            )

    def resolve_lookup_function(self) -> Callable[..., Any] | None:
        """The lookup function, importing it when given as a path.

        Raises
        ------
        ConnectionsError
            If the import path cannot be imported or does not name a callable.
        """
        fn = self.lookup_function
        if fn is None or callable(fn):
            return fn
        module_name, _, attr = fn.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ConnectionsError(
                f"Cannot import lookup_function {fn!r} of PrerequisiteInput {self.name!r}: {err}"
            ) from err
        if not callable(target):
            raise ConnectionsError(
                f"lookup_function {fn!r} of PrerequisiteInput {self.name!r} is not callable"
            )
        return target


@dataclasses.dataclass(frozen=True, kw_only=True)
class Output(DimensionedConnection):
    """A per-quantum output; its dimensions must be among the task's dimensions.

    Parameters
    ----------
    is_calibration : `bool`
        Whether the dataset type may be certified in CALIBRATION collections (a master bias,
        flat ... written by a calibration-products task).
    """

    is_calibration: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitInput(BaseConnection):
    """A dataset read once when the task is constructed (e.g. an upstream task's schema)."""

    is_input: ClassVar[bool] = True
    is_init: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitOutput(BaseConnection):
    """A dataset the constructed task provides once (e.g. its output catalog schema).

    The task sets an attribute of the connection's name in its constructor; the executor writes it.
    """

    is_init: ClassVar[bool] = True


def _universe() -> DimensionUniverse:
    from skystack.butler.dimensions import DimensionUniverse

    return DimensionUniverse.default()


class PipelineTaskConnections:
    """Base class of the connections of a `~skystack.pipe.PipelineTask`.

    Declare a subclass with class keywords ``dimensions`` (the task's quantum dimensions) and
    ``default_templates`` (default values of the ``{templates}`` used in names) and with
    connection class attributes (`Input`, `PrerequisiteInput`, `Output`, `InitInput`,
    `InitOutput`).

    Parameters
    ----------
    config : `~skystack.pipe.PipelineTaskConfig`, optional
        Config whose ``connections`` field renames datasets and sets templates; the class
        defaults when omitted.

    Raises
    ------
    ConnectionsError
        From class creation when the declaration is inconsistent, and from the constructor when
        the names cannot be resolved (unknown template, invalid name, a dataset both read and
        written).

    Notes
    -----
    A subclass may drop connections its config switches off: ``del self.bias`` in its
    ``__init__``, after ``super().__init__(config=config)``.
    """

    dimensions: ClassVar[tuple[str, ...]] = ()
    default_templates: ClassVar[Mapping[str, str]] = {}
    all_connections: ClassVar[Mapping[str, BaseConnection]] = {}
    ConfigClass: ClassVar[type[Config]] = Config

    def __init_subclass__(
        cls,
        *,
        dimensions: Sequence[str] | None = None,
        default_templates: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        connections: dict[str, BaseConnection] = dict(cls.all_connections)
        for attr, value in list(vars(cls).items()):
            if isinstance(value, BaseConnection):
                if (
                    attr.startswith("_")
                    or attr in _RESERVED
                    or (hasattr(Config, attr) and attr not in _SHADOWABLE)
                ):
                    raise ConnectionsError(
                        f"{cls.__name__}: connection attribute {attr!r} is reserved; choose another name"
                    )
                connections[attr] = value
        if dimensions is not None:
            if isinstance(dimensions, str):
                raise ConnectionsError(
                    f"{cls.__name__}: dimensions must be a tuple of names, got the string {dimensions!r}; "
                    f"write dimensions=({dimensions!r},)"
                )
            cls.dimensions = tuple(dimensions)
        templates = dict(cls.default_templates)
        if default_templates is not None:
            templates.update(default_templates)
        cls.default_templates = templates
        cls.all_connections = connections
        cls._validate_declaration()
        cls.ConfigClass = cls._make_config_class()

    # -- class-level checks ----------------------------------------------------------------------
    @classmethod
    def _validate_declaration(cls) -> None:
        universe = _universe()
        where = cls.__name__
        try:
            task_dims = set(universe.conform(cls.dimensions).names)
        except ValueError as err:
            raise ConnectionsError(f"{where}: invalid task dimensions {cls.dimensions!r}: {err}") from None
        for key, value in cls.default_templates.items():
            if not key.isidentifier():
                raise ConnectionsError(f"{where}: template name {key!r} is not an identifier")
            if key in cls.all_connections:
                raise ConnectionsError(
                    f"{where}: template {key!r} has the name of a connection; rename one of them"
                )
            if not isinstance(value, str):
                raise ConnectionsError(
                    f"{where}: default of template {key!r} must be a string, got {value!r}"
                )
        for attr, conn in cls.all_connections.items():
            label = f"{where}.{attr} ({type(conn).__name__} {conn.name!r})"
            missing = [k for k in conn.template_keys if k not in cls.default_templates]
            if missing:
                raise ConnectionsError(
                    f"{label} uses template(s) {', '.join(missing)} with no default; "
                    f"add them to default_templates={{...}} in the class keywords"
                )
            if conn.is_init:
                continue
            dims = conn.connection_dimensions
            try:
                conn_dims = set(universe.conform(dims).names)
            except ValueError as err:
                raise ConnectionsError(f"{label}: invalid dimensions {dims!r}: {err}") from None
            outside = sorted(conn_dims - task_dims)
            if isinstance(conn, Output) and outside:
                raise ConnectionsError(
                    f"{label} has dimensions {dims!r} with {outside} outside the task dimensions "
                    f"{cls.dimensions!r}; an output must be identified by the quantum's data ID: drop "
                    "those dimensions or add them to the task's dimensions"
                )
            if isinstance(conn, Input) and outside and not conn.multiple:
                raise ConnectionsError(
                    f"{label} has dimensions {dims!r} with {outside} outside the task dimensions "
                    f"{cls.dimensions!r}, so a quantum may get several of them: set multiple=True "
                    "(a gathering input) or make its dimensions a subset of the task's"
                )

    @classmethod
    def _make_config_class(cls) -> type[Config]:
        fields: dict[str, Any] = {}
        for attr, conn in cls.all_connections.items():
            fields[attr] = (str, field(conn.name, doc=f"Dataset-type name of {attr}: {conn.doc}".strip()))
        for key, value in cls.default_templates.items():
            fields[key] = (str, field(value, doc=f"Value of the '{{{key}}}' template in dataset-type names."))
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Field name .* shadows an attribute", category=UserWarning
            )
            model = pydantic.create_model(
                f"{cls.__name__}Config", __base__=Config, __module__=cls.__module__, **fields
            )
        model.__doc__ = f"Dataset-type names and templates of {cls.__name__}."
        return model

    # -- instances -------------------------------------------------------------------------------
    def __init__(self, *, config: Config | None = None) -> None:
        names_config = getattr(config, "connections", None) if config is not None else None
        if names_config is None:
            names_config = type(self).ConfigClass()
        elif not isinstance(names_config, type(self).ConfigClass):
            raise ConnectionsError(
                f"{type(self).__name__} needs a config whose 'connections' field is a "
                f"{type(self).ConfigClass.__name__}, got {type(names_config).__name__}; use the "
                "PipelineTaskConfig declared with connections_class=" + type(self).__name__
            )
        self.config = config
        self.templates: dict[str, str] = {k: getattr(names_config, k) for k in self.default_templates}
        resolved: dict[str, BaseConnection] = {}
        for attr, conn in self.all_connections.items():
            raw = getattr(names_config, attr)
            try:
                name = raw.format(**self.templates)
            except KeyError as err:
                raise ConnectionsError(
                    f"config.connections.{attr} = {raw!r} uses template {err.args[0]!r}, which is not "
                    f"one of {sorted(self.templates)} of {type(self).__name__}"
                ) from None
            except (ValueError, IndexError) as err:
                raise ConnectionsError(
                    f"config.connections.{attr} = {raw!r} is not a valid template: {err}"
                ) from None
            if not _NAME_RE.match(name):
                raise ConnectionsError(
                    f"Dataset-type name {name!r} of connection {attr!r} of {type(self).__name__} is invalid; "
                    "use letters, digits and underscores, starting with a letter"
                )
            resolved[attr] = dataclasses.replace(conn, name=name)
            setattr(self, attr, resolved[attr])
        self.connections: dict[str, BaseConnection] = resolved
        read = {c.name: a for a, c in resolved.items() if c.is_input}
        for attr, conn in resolved.items():
            if not conn.is_input and conn.name in read:
                raise ConnectionsError(
                    f"{type(self).__name__}: dataset type {conn.name!r} is both read "
                    f"(by {read[conn.name]!r}) and written (by {attr!r}); "
                    "rename one through config.connections"
                )

    def __delattr__(self, name: str) -> None:
        """``del self.<connection>`` in a subclass' ``__init__`` drops a connection (e.g. per config)."""
        if name in getattr(self, "connections", {}):
            del self.connections[name]
        super().__delattr__(name)

    def _select(self, kind: type[BaseConnection]) -> dict[str, BaseConnection]:
        return {a: c for a, c in self.connections.items() if type(c) is kind}

    @property
    def inputs(self) -> dict[str, BaseConnection]:
        """Regular `Input` connections by attribute name (resolved names)."""
        return self._select(Input)

    @property
    def prerequisite_inputs(self) -> dict[str, BaseConnection]:
        """`PrerequisiteInput` connections by attribute name."""
        return self._select(PrerequisiteInput)

    @property
    def outputs(self) -> dict[str, BaseConnection]:
        """`Output` connections by attribute name."""
        return self._select(Output)

    @property
    def init_inputs(self) -> dict[str, BaseConnection]:
        """`InitInput` connections by attribute name."""
        return self._select(InitInput)

    @property
    def init_outputs(self) -> dict[str, BaseConnection]:
        """`InitOutput` connections by attribute name."""
        return self._select(InitOutput)

    def __iter__(self) -> Iterator[str]:
        return iter(self.connections)

    def adjust_quantum(
        self,
        inputs: Mapping[str, Sequence[Any]],
        outputs: Mapping[str, Sequence[Any]],
        label: str,
        data_id: Any,
    ) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
        """Check, and optionally adjust, the datasets of one quantum before it runs.

        Called by the graph builder and again by the executor with the references found for each
        input connection (regular and prerequisite) and output connection. Override it to drop
        inputs (call ``super().adjust_quantum`` with what is left, so the counts are checked).

        Parameters
        ----------
        inputs, outputs : `~collections.abc.Mapping` [`str`, sequence]
            Dataset references by connection attribute name.
        label : `str`
            Label of the task in the pipeline (for messages).
        data_id : any
            Data ID of the quantum (for messages).

        Returns
        -------
        inputs, outputs : `dict` [`str`, `list`]
            The (possibly reduced) references.

        Raises
        ------
        NoWorkFound
            If a regular input has fewer datasets than its ``minimum``: the quantum is skipped
            as a success with no outputs.
        PrerequisiteMissingError
            If a prerequisite input has fewer datasets than its ``minimum``.
        ConnectionsError
            If an input with ``multiple=False`` got several datasets, or an unknown connection name.
        """
        new_inputs = {k: list(v) for k, v in inputs.items()}
        new_outputs = {k: list(v) for k, v in outputs.items()}
        for attr in [*new_inputs, *new_outputs]:
            if attr not in self.connections:
                raise ConnectionsError(
                    f"Quantum {label} {data_id}: unknown connection {attr!r}; "
                    f"{type(self).__name__} has {sorted(self.connections)}"
                )
        for attr, conn in self.connections.items():
            if not isinstance(conn, BaseInput):
                continue
            refs = new_inputs.get(attr, [])
            if len(refs) > 1 and not conn.multiple:
                raise ConnectionsError(
                    f"Quantum {label} {data_id}: input {attr!r} ({conn.name}) got {len(refs)} datasets "
                    "but is declared with multiple=False"
                )
            if len(refs) < conn.minimum:
                msg = (
                    f"Quantum {label} {data_id}: {type(conn).__name__} {attr!r} ({conn.name}) has "
                    f"{len(refs)} dataset(s), fewer than its minimum of {conn.minimum}"
                )
                if isinstance(conn, PrerequisiteInput):
                    raise PrerequisiteMissingError(msg)
                raise NoWorkFound(msg)
        return new_inputs, new_outputs

    def __repr__(self) -> str:
        names = ", ".join(f"{a}={c.name!r}" for a, c in self.connections.items())
        return f"{type(self).__name__}({names})"
