# SPDX-License-Identifier: GPL-3.0-or-later
"""`PipelineTask`: a Task whose inputs and outputs are datasets (the pipe_base.PipelineTask role).

A PipelineTask pairs a config declared with its connections class::

    class ScaleConfig(PipelineTaskConfig, connections_class=ScaleConnections):
        factor: float = field(2.0, doc="Multiplier.")

    class ScaleTask(PipelineTask):
        ConfigClass = ScaleConfig
        default_name = "scale"

        def run(self, image):               # butler-free: in-memory objects in, Struct out
            return Struct(scaled=image * self.config.factor)

``run`` takes one keyword per input connection; `PipelineTask.run_quantum` reads the inputs
through a `QuantumContext` (the executor's view of the Butler), calls ``run`` and writes every
output named in the returned Struct. `InMemoryQuantumContext` is a dict-backed context for
notebooks and tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from skystack.config import Config, field
from skystack.task import Struct, Task, TaskError

from .connections import (
    BaseInput,
    ConnectionsError,
    Output,
    PipelineTaskConnections,
)

__all__ = [
    "DeferredDatasetHandle",
    "InMemoryQuantumContext",
    "InMemoryRef",
    "PipelineTask",
    "PipelineTaskConfig",
    "QuantumContext",
]


if TYPE_CHECKING:  # the real class, so that type checkers accept the configs' metaclass
    from pydantic._internal._model_construction import ModelMetaclass
else:  # pydantic's model metaclass, reached through a public class rather than its private module
    ModelMetaclass = type(Config)


class _PipelineTaskConfigMeta(ModelMetaclass):
    """Adds the generated ``connections`` field to a config declared with ``connections_class=``."""

    def __new__(
        mcs,
        cls_name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        connections_class: type[PipelineTaskConnections] | None = None,
        **kwargs: Any,
    ) -> Any:
        if connections_class is not None:
            if not (
                isinstance(connections_class, type) and issubclass(connections_class, PipelineTaskConnections)
            ):
                raise ConnectionsError(
                    f"{cls_name}: connections_class must be a PipelineTaskConnections subclass, "
                    f"got {connections_class!r}"
                )
            if "connections" in namespace or "connections" in namespace.get("__annotations__", {}):
                raise ConnectionsError(
                    f"{cls_name}: 'connections' is generated from connections_class; do not declare it"
                )
            names_class = connections_class.ConfigClass
            namespace.setdefault("__annotations__", {})["connections"] = names_class
            namespace["connections"] = field(
                default_factory=names_class,
                doc=f"Dataset-type names and templates of {connections_class.__name__}.",
            )
            namespace["connections_class"] = connections_class
        return super().__new__(mcs, cls_name, bases, namespace, **kwargs)


class PipelineTaskConfig(Config, metaclass=_PipelineTaskConfigMeta):
    """Base class of PipelineTask configs.

    Declare subclasses with the class keyword ``connections_class=MyConnections``; the config
    then has a ``connections`` field (of ``MyConnections.ConfigClass``) holding the dataset-type
    names and template values, overridable like any other field.
    """

    connections_class: ClassVar[type[PipelineTaskConnections]] = PipelineTaskConnections

    if TYPE_CHECKING:
        #: The generated config of dataset-type names and templates (a field of each subclass).
        connections: Any

        def __init_subclass__(
            cls, *, connections_class: type[PipelineTaskConnections] | None = None, **kwargs: Any
        ) -> None: ...


@runtime_checkable
class QuantumContext(Protocol):
    """What `PipelineTask.run_quantum` needs from the executor: read and write one dataset.

    The executor implements it over the Butler (with output locations fixed in the graph);
    `InMemoryQuantumContext` implements it over a dict.
    """

    def get(self, ref: Any) -> Any:
        """Read the dataset ``ref``; raise `LookupError` if it does not exist."""
        ...

    def put(self, obj: Any, ref: Any) -> None:
        """Write ``obj`` as the dataset ``ref``."""
        ...


class DeferredDatasetHandle:
    """A dataset passed to ``run`` unread (connections with ``deferred_load=True``).

    Parameters
    ----------
    context : `QuantumContext`
        Where to read it from.
    ref : any
        Which dataset.
    """

    __slots__ = ("_context", "ref")

    def __init__(self, context: QuantumContext, ref: Any) -> None:
        self._context = context
        self.ref = ref

    def get(self) -> Any:
        """Read the dataset now."""
        return self._context.get(self.ref)

    def __repr__(self) -> str:
        return f"DeferredDatasetHandle({self.ref!r})"


@dataclass(frozen=True, slots=True)
class InMemoryRef:
    """A hashable dataset reference for `InMemoryQuantumContext`: dataset-type name and data ID.

    Build with `InMemoryRef.make` to pass the data ID as keywords.
    """

    dataset_type: str
    data_id: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, dataset_type: str, **data_id: Any) -> InMemoryRef:
        """``InMemoryRef.make("calexp", visit=1, detector=2)``."""
        return cls(dataset_type, tuple(sorted(data_id.items())))

    @property
    def data_id_dict(self) -> dict[str, Any]:
        """The data ID as a dict."""
        return dict(self.data_id)

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={v!r}" for k, v in self.data_id)
        return f"{self.dataset_type}@{{{keys}}}"


class InMemoryQuantumContext:
    """A `QuantumContext` over a dict of datasets, for running quanta without a Butler.

    Parameters
    ----------
    datasets : `~collections.abc.Mapping`, optional
        Initial datasets by reference (any hashable reference, typically `InMemoryRef`).
    """

    def __init__(self, datasets: Mapping[Any, Any] | None = None) -> None:
        self.datasets: dict[Any, Any] = dict(datasets or {})
        self.n_get = 0
        self.n_put = 0

    def get(self, ref: Any) -> Any:
        """The dataset stored under ``ref``.

        Raises
        ------
        LookupError
            If nothing is stored under ``ref``.
        """
        try:
            value = self.datasets[ref]
        except KeyError:
            raise LookupError(f"No dataset {ref} in this in-memory context") from None
        self.n_get += 1
        return value

    def put(self, obj: Any, ref: Any) -> None:
        """Store ``obj`` under ``ref``; refuses to overwrite (outputs are written once)."""
        if ref in self.datasets:
            raise LookupError(f"Dataset {ref} already exists in this in-memory context")
        self.datasets[ref] = obj
        self.n_put += 1

    def __contains__(self, ref: object) -> bool:
        return ref in self.datasets

    def __iter__(self) -> Iterator[Any]:
        return iter(self.datasets)


class PipelineTask(Task):
    """Base class of Tasks run by pipelines on datasets.

    Parameters
    ----------
    config : `PipelineTaskConfig`, optional
        The task's config (its ``ConfigClass`` default when omitted).
    init_inputs : `~collections.abc.Mapping` [`str`, any], optional
        Objects of the `InitInput` connections, by connection name (e.g. an upstream schema);
        required when the connections declare init-inputs.
    **kwargs
        ``name``, ``parent``, ``log`` as for `~skystack.task.Task`.

    Notes
    -----
    Subclasses implement ``run(**inputs) -> Struct`` on in-memory objects, never a Butler. A
    subclass with `InitOutput` connections sets an attribute of each connection's name in its
    constructor; `init_outputs` gathers them for the executor.
    """

    ConfigClass: ClassVar[type[Config]] = PipelineTaskConfig

    def __init__(
        self,
        config: Config | None = None,
        *,
        init_inputs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        if not (isinstance(cls.ConfigClass, type) and issubclass(cls.ConfigClass, PipelineTaskConfig)):
            raise TaskError(
                f"{cls.__name__}.ConfigClass must derive from PipelineTaskConfig (declared with "
                f"connections_class=...), got {cls.ConfigClass.__name__}"
            )
        super().__init__(config, **kwargs)
        connections_class = cls.ConfigClass.connections_class
        self.connections: PipelineTaskConnections = connections_class(config=self.config)
        declared = self.connections.init_inputs
        given = dict(init_inputs or {})
        missing = sorted(set(declared) - set(given))
        extra = sorted(set(given) - set(declared))
        if missing or extra:
            raise TaskError(
                f"{cls.__name__} init_inputs: missing {missing or 'none'}, unexpected {extra or 'none'}; "
                f"the connections declare init-inputs {sorted(declared) or '(none)'}"
            )
        self.init_inputs: dict[str, Any] = given

    @property
    def init_outputs(self) -> dict[str, Any]:
        """Objects of the `InitOutput` connections, by connection name.

        Raises
        ------
        TaskError
            If the task did not set the attribute of an init-output connection.
        """
        out: dict[str, Any] = {}
        for attr in self.connections.init_outputs:
            if not hasattr(self, attr):
                raise TaskError(
                    f"{type(self).__name__} declares InitOutput {attr!r} but did not set self.{attr} "
                    "in its constructor"
                )
            out[attr] = getattr(self, attr)
        return out

    def run(self, **inputs: Any) -> Struct:
        """Process the inputs of one quantum; override in subclasses (butler-free)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(**inputs) -> Struct")

    def run_quantum(
        self,
        butler_quantum_context: QuantumContext,
        input_refs: Mapping[str, Any],
        output_refs: Mapping[str, Any],
    ) -> Struct:
        """Read the inputs of one quantum, `run` the task, and write its outputs.

        Parameters
        ----------
        butler_quantum_context : `QuantumContext`
            Reads and writes datasets.
        input_refs : `~collections.abc.Mapping` [`str`, ref or sequence of refs]
            References of the regular and prerequisite inputs, by connection name (a sequence
            for ``multiple=True`` connections, a single reference otherwise).
        output_refs : `~collections.abc.Mapping` [`str`, ref or sequence of refs]
            References of the outputs, by connection name.

        Returns
        -------
        result : `~skystack.task.Struct`
            What `run` returned. Outputs absent from it are not written (the executor reports
            them as missing); entries that are not output connections are ignored.

        Raises
        ------
        ConnectionsError
            If a connection name is unknown or missing, or a ``multiple`` output's value does
            not match its references in number.
        """
        conns = self.connections
        inputs_declared: dict[str, BaseInput] = {
            a: c for a, c in conns.connections.items() if isinstance(c, BaseInput)
        }
        unknown = sorted(set(input_refs) - set(inputs_declared))
        if unknown:
            raise ConnectionsError(
                f"{type(self).__name__}.run_quantum: unknown input connection(s) {unknown}; "
                f"inputs are {sorted(inputs_declared)}"
            )
        unknown = sorted(set(output_refs) - set(conns.outputs))
        if unknown:
            raise ConnectionsError(
                f"{type(self).__name__}.run_quantum: unknown output connection(s) {unknown}; "
                f"outputs are {sorted(conns.outputs)}"
            )
        kwargs: dict[str, Any] = {}
        for attr, conn in inputs_declared.items():
            if attr not in input_refs:
                if conn.minimum == 0:
                    kwargs[attr] = [] if conn.multiple else None
                    continue
                raise ConnectionsError(
                    f"{type(self).__name__}.run_quantum: no reference given for input {attr!r}"
                )
            kwargs[attr] = _read(butler_quantum_context, inputs_declared[attr], input_refs[attr], attr)
        result = self.run(**kwargs)
        if not isinstance(result, Struct):
            raise TaskError(f"{type(self).__name__}.run must return a Struct, got {type(result).__name__}")
        for attr, refs in output_refs.items():
            if attr not in result:
                self.log.debug("Output %r not produced by %s", attr, type(self).__name__)
                continue
            out_conn = conns.outputs[attr]
            assert isinstance(out_conn, Output)
            _write(butler_quantum_context, out_conn, getattr(result, attr), refs, attr)
        return result


def _read(context: QuantumContext, conn: BaseInput, refs: Any, attr: str) -> Any:
    def one(ref: Any) -> Any:
        return DeferredDatasetHandle(context, ref) if conn.deferred_load else context.get(ref)

    if conn.multiple:
        if not isinstance(refs, Sequence) or isinstance(refs, str):
            raise ConnectionsError(f"Input {attr!r} is multiple=True: give a sequence of references")
        return [one(ref) for ref in refs]
    if isinstance(refs, list | tuple):
        if len(refs) != 1:
            raise ConnectionsError(f"Input {attr!r} is multiple=False but got {len(refs)} references")
        refs = refs[0]
    return one(refs)


def _write(context: QuantumContext, conn: Output, value: Any, refs: Any, attr: str) -> None:
    if conn.multiple:
        if not isinstance(refs, Sequence) or not isinstance(value, Sequence) or len(value) != len(refs):
            n_val = len(value) if isinstance(value, Sequence) else "a non-sequence"
            n_ref = len(refs) if isinstance(refs, Sequence) else "a non-sequence"
            raise ConnectionsError(
                f"Output {attr!r} is multiple=True: run returned {n_val} values for {n_ref} references; "
                "return one value per output reference, in the same order"
            )
        for obj, ref in zip(value, refs, strict=True):
            context.put(obj, ref)
        return
    if isinstance(refs, list | tuple):
        if len(refs) != 1:
            raise ConnectionsError(f"Output {attr!r} is multiple=False but got {len(refs)} references")
        refs = refs[0]
    context.put(value, refs)
