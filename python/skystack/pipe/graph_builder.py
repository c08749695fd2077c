# SPDX-License-Identifier: GPL-3.0-or-later
"""Build a `~skystack.pipe.graph.QuantumGraph` from an expanded pipeline and a Butler repository.

For each task, in dataset-flow order:

1. candidate data IDs: one registry query for the task's dimensions, constrained by the terms
   of the ``-d`` expression (its top-level ``AND`` terms) that mention only elements of the
   task's dimensions; a task lacking a dimension a term mentions is not constrained by it;
2. visit-like and tract-like dimensions together (a warp's ``visit, tract, patch``) are joined
   spatially: HEALPix pixels of the regions' envelopes pair candidates, then an exact
   `lsst.sphgeom` overlap test keeps the real overlaps;
3. regular inputs: one dataset query per dataset type (in the input collections, or the outputs
   of upstream quanta of this graph), joined in memory by data-ID tuples; ``multiple=True``
   inputs are gathered by the dimensions they share with the task, those the task has and the
   input implies (the ``physical_filter`` of a flat's exposures), and spatial overlap; the
   ``-d`` terms that mention only the input's dimensions select the gathered datasets
   (``exposure.observation_type = 'bias'`` picks the raws a master bias combines);
4. prerequisite inputs: calibrations found by the quantum's time (``Registry.find_dataset`` on
   the exposure/visit timespan; for a quantum without one, the span of its inputs' exposures, or
   any time when it has none, which finds the one calibration certified), others by data ID, or
   through a ``lookup_function``; the build step names the prerequisites that were missing;
5. ``adjust_quantum`` of the task's connections (`NoWorkFound` drops the quantum);
6. ``skip_existing_in``: quanta whose ``<label>_metadata`` exists there are skipped, their
   existing outputs feeding downstream quanta.

Finally, quanta of tasks that some ``-d`` term did not constrain are kept only where a kept
downstream quantum reads their outputs (``-d "tract = 0"`` keeps exactly the per-detector quanta
whose outputs the tract-0 warps need). Every step records the rows left (`BuildStep`), so an
empty graph explains itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skystack.butler import (
    DataCoordinate,
    DatasetIdGenEnum,
    DatasetRef,
    DatasetType,
    MissingCollectionError,
    MissingDatasetTypeError,
    Registry,
    Timespan,
)
from skystack.butler.queries.expression import (
    LogicalOp,
    Node,
    Parenthesized,
    parse_expression,
    referenced_identifiers,
)
from skystack.butler.registry import make_dataset_id

from .connections import BaseInput, NoWorkFound, PrerequisiteInput, PrerequisiteMissingError
from .graph import (
    BuildStep,
    Quantum,
    QuantumGraph,
    TaskInitRefs,
    _provenance_types,
    config_dataset_type,
    quantum_id,
)
from .pipeline import TaskDef

if TYPE_CHECKING:
    from lsst.sphgeom import Region

__all__ = ["GraphBuilderError", "QuantumGraphBuilder", "split_where"]

_log = logging.getLogger(__name__)
_ID_MODE = DatasetIdGenEnum.DATAID_TYPE_RUN
Key = tuple[Any, ...]


class GraphBuilderError(ValueError):
    """The graph cannot be built as asked (bad ``-d`` expression, outputs already in the run ...)."""


def split_where(where: str) -> list[tuple[str, frozenset[str]]]:
    """Split a ``-d`` expression into its top-level ``AND`` terms.

    Returns
    -------
    terms : `list` [`tuple` [`str`, `frozenset` [`str`]]]
        Each term's text and the element names it mentions (``visit.day_obs`` → ``visit``).
    """
    if not where.strip():
        return []
    nodes: list[Node] = []
    todo: list[Node] = [parse_expression(where).root]
    while todo:
        node = todo.pop(0)
        while isinstance(node, Parenthesized):
            node = node.expr
        if isinstance(node, LogicalOp) and node.op == "AND":
            todo[:0] = node.operands
        else:
            nodes.append(node)
    return [(str(n), frozenset(i.partition(".")[0] for i in referenced_identifiers(n))) for n in nodes]


class QuantumGraphBuilder:
    """Plans the quanta of an expanded pipeline on a repository.

    Parameters
    ----------
    registry : `~skystack.butler.Registry`
        The repository's registry (``butler.registry``).
    task_defs : sequence of `~skystack.pipe.TaskDef`
        The expanded pipeline (`~skystack.pipe.Pipeline.to_expanded`), in dataset-flow order.
    input_collections : sequence of `str`
        Where inputs, calibrations and init-inputs are searched, in order.
    output_run : `str`
        The RUN collection the outputs will be written to (fixes their dataset IDs).
    where : `str`, optional
        The ``-d`` data-ID expression, applied per task (see the module docstring).
    bind : mapping, optional
        Values of ``:name`` bind parameters in ``where``.
    skip_existing_in : sequence of `str`, optional
        Collections in which finished quanta (their ``<label>_metadata``) are looked for.
    """

    def __init__(
        self,
        registry: Registry,
        task_defs: Sequence[TaskDef],
        *,
        input_collections: Sequence[str],
        output_run: str,
        where: str = "",
        bind: Mapping[str, Any] | None = None,
        skip_existing_in: Sequence[str] = (),
    ) -> None:
        if isinstance(input_collections, str):
            input_collections = (input_collections,)
        if not input_collections:
            raise GraphBuilderError("No input collections: give at least one with -i / input_collections=")
        self.registry = registry
        self.universe = registry.universe
        self.task_defs = list(task_defs)
        self.input_collections = tuple(input_collections)
        self.output_run = output_run
        self.where = where
        self.bind = dict(bind or {})
        self.skip_existing_in = tuple(skip_existing_in)
        self.terms = split_where(where)
        elements = {e.name for e in self.universe.elements}
        for text, roots in self.terms:
            unknown = sorted(r for r in roots if r not in elements)
            if unknown:
                raise GraphBuilderError(
                    f"-d term {text!r} mentions {unknown}, which are not dimensions or dimension "
                    f"elements; valid names are: {', '.join(sorted(elements))}"
                )
        self._existing: dict[tuple[str, tuple[str, ...]], dict[Key, DatasetRef]] = {}
        self._regions: dict[str, dict[Key, Region]] = {}
        self._records: dict[str, dict[Key, Any]] = {}

    # -- registry access (one query per dataset type / element, cached) ---------------------------
    def _datasets(self, name: str, collections: tuple[str, ...]) -> dict[Key, DatasetRef]:
        key = (name, collections)
        if key not in self._existing:
            try:
                refs = self.registry.query_datasets(name, collections=collections, find_first=True)
            except (MissingDatasetTypeError, MissingCollectionError):
                refs = []
            self._existing[key] = {r.data_id.values_tuple: r for r in refs}
        return self._existing[key]

    def _element_regions(self, element: str) -> dict[Key, Region]:
        if element not in self._regions:
            records = self.registry.query_dimension_records(element)
            elem = self.universe[element]
            self._regions[element] = {
                tuple(getattr(r, elem.column_name(d)) for d in elem.required): r.region
                for r in records
                if r.region is not None
            }
        return self._regions[element]

    def _element_records(self, element: str) -> dict[Key, Any]:
        """Records of ``element`` by their required values (one query per element, cached)."""
        if element not in self._records:
            elem = self.universe[element]
            self._records[element] = {
                tuple(getattr(r, elem.column_name(d)) for d in elem.required): r
                for r in self.registry.query_dimension_records(element)
            }
        return self._records[element]

    def _implied_lookup(self, group: Any, dimension: str) -> Any:
        """A function ``required values of group -> value of dimension``, which ``group`` implies.

        `None` if no element of ``group`` implies ``dimension``.
        """
        for name in group.required:
            elem = self.universe[name]
            if dimension in elem.implied:
                positions = [group.required.index(d) for d in elem.required]
                records = self._element_records(name)
                return lambda values: getattr(
                    records.get(tuple(values[p] for p in positions)), dimension, None
                )
        return None

    def _restrict(
        self, table: Mapping[Key, DatasetRef], in_group: Any, terms: Sequence[str]
    ) -> dict[Key, DatasetRef]:
        """The entries of ``table`` whose data IDs satisfy the ``-d`` terms (one data-ID query)."""
        where = " AND ".join(f"({t})" for t in terms)
        keep = {
            d.values_tuple
            for d in self.registry.query_data_ids(in_group.required, where=where, bind=self.bind)
        }
        return {k: r for k, r in table.items() if k in keep}

    def _inputs_timespan(self, inputs: Mapping[str, Sequence[DatasetRef]]) -> Timespan | None:
        """The span of the timespans of the inputs' temporal records (exposures), or `None`."""
        begin: int | None = None
        end: int | None = None
        for refs in inputs.values():
            for ref in refs:
                for element in ref.dataset_type.dimensions.temporal:
                    keys = self.universe[element].required
                    record = self._element_records(element).get(tuple(ref.data_id[k] for k in keys))
                    span = getattr(record, "timespan", None)
                    if span is None or span.begin is None or span.end is None:
                        continue
                    # a zero-length exposure (a bias) still has its instant
                    b, e = span.begin_nsec, max(span.end_nsec, span.begin_nsec + 1)
                    begin = b if begin is None else min(begin, b)
                    end = e if end is None else max(end, e)
        return None if begin is None else Timespan.from_nsec(begin, end)

    # -- building ---------------------------------------------------------------------------------
    def build(self, metadata: Mapping[str, Any] | None = None) -> QuantumGraph:
        """Plan the quanta.

        Returns
        -------
        graph : `~skystack.pipe.graph.QuantumGraph`
            Possibly empty; ``graph.explain_empty()`` then says which step left nothing.

        Raises
        ------
        GraphBuilderError
            If a regular input or init-input of a task is neither produced upstream nor a
            registered dataset type, or the ``-d`` expression is invalid for the registry.
        """
        produced: dict[str, dict[Key, DatasetRef]] = {}
        produced_by: dict[str, str] = {}
        for task_def in self.task_defs:
            for conn in task_def.connections.outputs.values():
                produced_by[conn.name] = task_def.label
        init_refs: dict[str, TaskInitRefs] = {}
        init_outputs: dict[str, DatasetRef] = {}
        quanta_by_task: dict[str, list[Quantum]] = {}
        unconstrained: set[str] = set()
        steps: list[BuildStep] = []
        for task_def in self.task_defs:
            init_refs[task_def.label] = self._init_refs(task_def, init_outputs)
            quanta, partial = self._task_quanta(task_def, produced, produced_by, steps)
            quanta_by_task[task_def.label] = quanta
            if partial:
                unconstrained.add(task_def.label)
        self._prune(quanta_by_task, unconstrained, steps)
        quanta = [q for task_def in self.task_defs for q in quanta_by_task[task_def.label]]
        info = {"where": self.where, "skip_existing_in": list(self.skip_existing_in), **(metadata or {})}
        return QuantumGraph(
            self.task_defs,
            quanta,
            init_refs,
            run=self.output_run,
            input_collections=self.input_collections,
            steps=steps,
            metadata=info,
        )

    def _output_ref(self, dtype: DatasetType, data_id: DataCoordinate) -> DatasetRef:
        if dtype.dimensions == data_id.dimensions:
            coord = data_id  # the usual case: an output with the quantum's own dimensions
        else:
            coord = DataCoordinate.from_trusted(
                dtype.dimensions, tuple(data_id[d] for d in dtype.dimensions.required)
            )
        return DatasetRef(
            make_dataset_id(dtype.name, coord, self.output_run, _ID_MODE), dtype, coord, self.output_run
        )

    def _init_refs(self, task_def: TaskDef, init_outputs: dict[str, DatasetRef]) -> TaskInitRefs:
        empty = DataCoordinate.make_empty(self.universe)
        inputs: dict[str, DatasetRef] = {}
        for attr, conn in task_def.connections.init_inputs.items():
            ref = init_outputs.get(conn.name)
            if ref is None:
                ref = self._datasets(conn.name, self.input_collections).get(())
            if ref is None:
                raise GraphBuilderError(
                    f"Task {task_def.label!r} needs init-input {attr!r} ({conn.name}), which no task of "
                    "the pipeline writes and which is not in the input collections "
                    f"{list(self.input_collections)}"
                )
            inputs[attr] = ref
        outputs: dict[str, DatasetRef] = {}
        for attr, conn in task_def.connections.init_outputs.items():
            outputs[attr] = init_outputs[conn.name] = self._output_ref(
                conn.make_dataset_type(self.universe), empty
            )
        config = self._output_ref(config_dataset_type(task_def.label), empty)
        return TaskInitRefs(inputs, outputs, config)

    def _task_quanta(
        self,
        task_def: TaskDef,
        produced: dict[str, dict[Key, DatasetRef]],
        produced_by: Mapping[str, str],
        steps: list[BuildStep],
    ) -> tuple[list[Quantum], bool]:
        label = task_def.label
        group = self.universe.conform(task_def.dimensions)
        names = set(group.elements)
        terms = [text for text, roots in self.terms if roots <= names]
        used = len(terms)
        where = " AND ".join(f"({t})" for t in terms)
        data_ids = self.registry.query_data_ids(group.required, where=where, bind=self.bind)
        desc = f"data IDs of ({', '.join(group.required)})" + (f" where {where}" if where else "")
        steps.append(BuildStep(label, desc, len(data_ids)))
        data_ids = self._spatial_join(label, group, data_ids, steps)
        conns = task_def.connections
        # Regular inputs: one lookup table per dataset type, joined in memory.
        found: list[dict[str, list[DatasetRef]]] = [{} for _ in data_ids]
        alive = list(range(len(data_ids)))
        for attr, conn in conns.inputs.items():
            assert isinstance(conn, BaseInput)
            if conn.name in produced_by:
                table = produced.get(conn.name, {})
            else:
                table = self._datasets(conn.name, self.input_collections)
            in_group = self.universe.conform(conn.dimensions)
            in_elements = set(in_group.elements)
            in_terms = [t for t, roots in self.terms if roots <= in_elements and not roots <= names]
            if in_terms and not in_group.names <= group.names:
                table = self._restrict(table, in_group, in_terms)
                used += len(in_terms)
            alive = self._attach(attr, conn, table, group, data_ids, found, alive)
            steps.append(BuildStep(label, f"with input {attr} ({conn.name})", len(alive)))
        partial = used < len(self.terms)
        # Prerequisites, adjust_quantum, outputs.
        metadata_type, log_type = _provenance_types(label, task_def.dimensions)
        out_types = {a: c.make_dataset_type(self.universe) for a, c in conns.outputs.items()}
        done = self._datasets(metadata_type.name, self.skip_existing_in) if self.skip_existing_in else {}
        quanta: list[Quantum] = []
        n_prereq = n_nowork = n_skipped = 0
        missing: dict[str, int] = defaultdict(int)
        # calibrations of quanta without a time of their own are found by their inputs' time
        need_span = not group.temporal and any(
            getattr(c, "is_calibration", False) for c in conns.prerequisite_inputs.values()
        )
        for i in alive:
            data_id = data_ids[i]
            inputs = found[i]
            span = self._inputs_timespan(inputs) if need_span else None
            try:
                for attr, conn in conns.prerequisite_inputs.items():
                    assert isinstance(conn, PrerequisiteInput)
                    inputs[attr] = self._prerequisite(conn, group, data_id, span)
                    if len(inputs[attr]) < conn.minimum:
                        missing[attr] += 1
            except PrerequisiteMissingError:
                n_prereq += 1
                continue
            outputs = {a: [self._output_ref(t, data_id)] for a, t in out_types.items()}
            try:
                adj_in, adj_out = conns.adjust_quantum(inputs, outputs, label, data_id)
            except NoWorkFound:
                n_nowork += 1
                continue
            except PrerequisiteMissingError as err:
                _log.warning("%s", err)
                n_prereq += 1
                continue
            if data_id.values_tuple in done:
                n_skipped += 1
                for attr, dtype in out_types.items():
                    ref = self._datasets(dtype.name, self.skip_existing_in).get(
                        outputs[attr][0].data_id.values_tuple
                    )
                    if ref is not None:
                        produced.setdefault(dtype.name, {})[ref.data_id.values_tuple] = ref
                continue
            for refs in adj_out.values():
                for ref in refs:
                    produced.setdefault(ref.dataset_type.name, {})[ref.data_id.values_tuple] = ref
            quanta.append(
                Quantum(
                    label,
                    data_id,
                    {k: tuple(v) for k, v in adj_in.items()},
                    {k: tuple(v) for k, v in adj_out.items()},
                    self._output_ref(metadata_type, data_id),
                    self._output_ref(log_type, data_id),
                    quantum_id(label, data_id, self.output_run),
                )
            )
        left = len(alive)
        if conns.prerequisite_inputs:
            left -= n_prereq
            text = "with prerequisite inputs"
            if missing:
                counts = ", ".join(
                    f"{attr} ({conns.connections[attr].name}) for {n}" for attr, n in missing.items()
                )
                text += (
                    f" (missing {counts} of {len(alive)} quanta in {list(self.input_collections)}; "
                    "calibrations must be certified in a CALIBRATION collection valid at the data's time)"
                )
            steps.append(BuildStep(label, text, left))
        left -= n_nowork
        steps.append(BuildStep(label, "after adjust_quantum", left))
        if self.skip_existing_in:
            steps.append(
                BuildStep(label, f"not already done in {list(self.skip_existing_in)}", left - n_skipped)
            )
        return quanta, partial

    def _attach(
        self,
        attr: str,
        conn: BaseInput,
        table: Mapping[Key, DatasetRef],
        group: Any,
        data_ids: Sequence[DataCoordinate],
        found: list[dict[str, list[DatasetRef]]],
        alive: list[int],
    ) -> list[int]:
        in_group = self.universe.conform(conn.dimensions)
        in_dims = in_group.required
        kept: list[int] = []
        if set(in_dims) <= group.names:
            for i in alive:
                ref = table.get(tuple(data_ids[i][d] for d in in_dims))
                if ref is not None:
                    found[i][attr] = [ref]
                    kept.append(i)
                elif conn.minimum == 0:
                    found[i][attr] = []
                    kept.append(i)
            return kept
        shared = [d for d in in_dims if d in group.names]
        positions = [in_dims.index(d) for d in shared]
        # task dimensions the input implies (the physical_filter of a flat's exposures) gather too
        implied = [d for d in group.required if d not in in_dims and d in in_group.names]
        lookups = [self._implied_lookup(in_group, d) for d in implied]
        if None in lookups:
            implied, lookups = [], []
        gathered: dict[Key, list[DatasetRef]] = defaultdict(list)
        for values, ref in table.items():
            key = tuple(values[p] for p in positions)
            if lookups:
                key += tuple(fn(values) for fn in lookups)
            gathered[key].append(ref)
        spatial = self._gather_overlap(in_group, group)
        keys = [*shared, *implied]
        for i in alive:
            refs = gathered.get(tuple(data_ids[i][d] for d in keys), [])
            if spatial is not None and refs:
                refs = [r for r in refs if spatial(r.data_id, data_ids[i])]
            found[i][attr] = sorted(refs, key=lambda r: r.data_id.values_tuple)
            if refs or conn.minimum == 0:
                kept.append(i)
        return kept

    def _prerequisite(
        self, conn: PrerequisiteInput, group: Any, data_id: DataCoordinate, span: Timespan | None = None
    ) -> list[DatasetRef]:
        fn = conn.resolve_lookup_function()
        dtype = conn.make_dataset_type(self.universe)
        if fn is not None:
            return list(fn(dtype, self.registry, data_id, self.input_collections))
        if conn.is_calibration:
            values = dict(data_id.full_items())
            for dim in dtype.dimensions.required:
                if dim not in values:  # implied by the quantum (a flat's physical_filter by its exposure)
                    lookup = self._implied_lookup(group, dim)
                    value = None if lookup is None else lookup(data_id.values_tuple)
                    if value is None:
                        raise GraphBuilderError(
                            f"PrerequisiteInput {conn.name!r} needs a {dim!r}, which the task's dimensions "
                            f"{group.required} neither contain nor imply for {data_id}; add it to the "
                            "task's dimensions or give the connection a lookup_function"
                        )
                    values[dim] = value
            timespan = None if group.temporal else (span or Timespan(None, None))
            try:
                ref = self.registry.find_dataset(
                    conn.name, values, collections=self.input_collections, timespan=timespan
                )
            except (MissingDatasetTypeError, MissingCollectionError):
                ref = None
            return [] if ref is None else [ref]
        table = self._datasets(conn.name, self.input_collections)
        in_dims = dtype.dimensions.required
        if set(in_dims) <= group.names:
            ref = table.get(tuple(data_id[d] for d in in_dims))
            return [] if ref is None else [ref]
        if len(in_dims) == 1 and self.universe[in_dims[0]].is_skypix:
            return self._skypix_prerequisite(in_dims[0], table, group, data_id)
        raise GraphBuilderError(
            f"PrerequisiteInput {conn.name!r} has dimensions {in_dims} outside the task's "
            f"{group.required} and no lookup_function; give it a lookup_function"
        )

    def _skypix_prerequisite(
        self, skypix: str, table: Mapping[Key, DatasetRef], group: Any, data_id: DataCoordinate
    ) -> list[DatasetRef]:
        """Datasets sharded by sky pixel (reference catalogues) overlapping the quantum's region."""
        from skystack.geom.healpix import healpix_ranges, ranges_to_array

        families = self._families(group)
        if not families:
            raise GraphBuilderError(
                f"A prerequisite sharded by {skypix} needs a task with a spatial dimension "
                f"(visit_detector_region, patch, ...); {group.required} has none"
            )
        element = next(iter(families.values()))
        region = self._element_regions(element).get(
            tuple(data_id[k] for k in self.universe[element].required)
        )
        if region is None:
            return []
        level = self.universe[skypix].skypix_level
        assert level is not None
        refs: list[DatasetRef] = []
        for begin, end in ranges_to_array(healpix_ranges(region, level)):
            for pix in range(int(begin), int(end)):
                ref = table.get((pix,))
                if ref is not None:
                    refs.append(ref)
        return refs

    # -- spatial joins ------------------------------------------------------------------------------
    def _families(self, group: Any) -> dict[str, str]:
        """Most specific spatial element of each governor family in ``group`` (``instrument`` ...)."""
        out: dict[str, str] = {}
        for name in group.spatial:
            governor = next((d for d in self.universe[name].required if self.universe[d].is_governor), name)
            out.setdefault(governor, name)
        return out

    def _spatial_join(
        self, label: str, group: Any, data_ids: list[DataCoordinate], steps: list[BuildStep]
    ) -> list[DataCoordinate]:
        families = self._families(group)
        if len(families) < 2:
            return data_ids
        from skystack.geom.healpix import healpix_ranges, ranges_to_array

        (ea, eb) = list(families.values())[:2]
        keys_a = self.universe[ea].required
        keys_b = self.universe[eb].required
        regions_a, regions_b = self._element_regions(ea), self._element_regions(eb)
        level = self.universe.common_skypix.skypix_level
        assert level is not None
        # HEALPix envelope pre-filter: pixel -> keys of b, then exact overlap on the pairs.
        by_pixel: dict[int, list[Key]] = defaultdict(list)
        for key, region in regions_b.items():
            for begin, end in ranges_to_array(healpix_ranges(region, level, max_ranges=64)):
                for pix in range(int(begin), int(end)):
                    by_pixel[pix].append(key)
        pairs: set[tuple[Key, Key]] = set()
        for key, region in regions_a.items():
            candidates: set[Key] = set()
            for begin, end in ranges_to_array(healpix_ranges(region, level, max_ranges=64)):
                for pix in range(int(begin), int(end)):
                    candidates.update(by_pixel.get(pix, ()))
            pairs.update((key, other) for other in candidates if region.overlaps(regions_b[other]))
        kept = [d for d in data_ids if (tuple(d[k] for k in keys_a), tuple(d[k] for k in keys_b)) in pairs]
        steps.append(BuildStep(label, f"with {ea} overlapping {eb}", len(kept)))
        return kept

    def _gather_overlap(self, in_group: Any, group: Any) -> Any:
        """A test ``(input data ID, quantum data ID) -> bool`` of region overlap, or `None`."""
        in_fam, task_fam = self._families(in_group), self._families(group)
        for governor, element in in_fam.items():
            others = [e for g, e in task_fam.items() if g != governor]
            if element in group.elements or not others:
                continue
            target = others[0]
            regions_in, regions_task = self._element_regions(element), self._element_regions(target)
            keys_in, keys_task = self.universe[element].required, self.universe[target].required

            return _OverlapTest(regions_in, keys_in, regions_task, keys_task)
        return None

    # -- pruning of unconstrained upstream quanta -------------------------------------------------
    def _prune(
        self, quanta_by_task: dict[str, list[Quantum]], unconstrained: set[str], steps: list[BuildStep]
    ) -> None:
        consumers: dict[str, set[str]] = defaultdict(set)
        for task_def in self.task_defs:
            for conn in task_def.connections.inputs.values():
                consumers[conn.name].add(task_def.label)
        needed: set[Any] = set()
        for task_def in reversed(self.task_defs):
            label = task_def.label
            quanta = quanta_by_task[label]
            out_names = [c.name for c in task_def.connections.outputs.values()]
            has_consumer = any(consumers.get(n) for n in out_names)
            if label in unconstrained and self.terms and has_consumer:
                quanta = [q for q in quanta if any(r.id in needed for r in q.output_refs())]
                quanta_by_task[label] = quanta
                steps.append(BuildStep(label, "needed by the kept downstream quanta", len(quanta)))
            for q in quanta:
                needed.update(r.id for r in q.input_refs())


class _OverlapTest:
    """Whether an input's region (by its data ID) overlaps a quantum's region (by its data ID)."""

    def __init__(
        self,
        regions_in: Mapping[Key, Region],
        keys_in: Sequence[str],
        regions_q: Mapping[Key, Region],
        keys_q: Sequence[str],
    ) -> None:
        self.regions_in, self.keys_in, self.regions_q, self.keys_q = regions_in, keys_in, regions_q, keys_q

    def __call__(self, input_id: DataCoordinate, quantum_data_id: DataCoordinate) -> bool:
        a = self.regions_in.get(tuple(input_id[k] for k in self.keys_in))
        b = self.regions_q.get(tuple(quantum_data_id[k] for k in self.keys_q))
        return a is not None and b is not None and bool(a.overlaps(b))
