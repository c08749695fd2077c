# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipelines: PipelineTasks and their connections, pipeline definitions in YAML (pipe_base role)."""

from .connections import (
    BaseConnection,
    BaseInput,
    ConnectionsError,
    InitInput,
    InitOutput,
    Input,
    NoWorkFound,
    Output,
    PipelineTaskConnections,
    PrerequisiteInput,
    PrerequisiteMissingError,
)
from .contracts import Contract, ContractError, ContractFailedError
from .instrument_overrides import InstrumentError, InstrumentLike, register_instrument, resolve_instrument
from .pipeline import Pipeline, PipelineError, Step, Subset, TaskDef, parse_label_override
from .pipeline_task import (
    DeferredDatasetHandle,
    InMemoryQuantumContext,
    InMemoryRef,
    PipelineTask,
    PipelineTaskConfig,
    QuantumContext,
)
from .quantum_runner import QuantumTimeoutError, TransientError

__all__ = [
    "BaseConnection",
    "BaseInput",
    "ConnectionsError",
    "Contract",
    "ContractError",
    "ContractFailedError",
    "DeferredDatasetHandle",
    "InMemoryQuantumContext",
    "InMemoryRef",
    "InitInput",
    "InitOutput",
    "Input",
    "InstrumentError",
    "InstrumentLike",
    "NoWorkFound",
    "Output",
    "Pipeline",
    "PipelineError",
    "PipelineTask",
    "PipelineTaskConfig",
    "PipelineTaskConnections",
    "PrerequisiteInput",
    "PrerequisiteMissingError",
    "QuantumContext",
    "QuantumTimeoutError",
    "Step",
    "Subset",
    "TaskDef",
    "TransientError",
    "parse_label_override",
    "register_instrument",
    "resolve_instrument",
]
