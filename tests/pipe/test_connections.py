# SPDX-License-Identifier: GPL-3.0-or-later
"""Connections: declaration checks, templates, renaming through config, adjust_quantum."""

from __future__ import annotations

import pytest
from pipe_testing_tasks import (
    DETECTOR,
    CoaddConfig,
    CoaddConnections,
    DetrendConnections,
    GatherConfig,
    GatherConnections,
    ScaleConnections,
)

from skystack.butler import DimensionUniverse
from skystack.config import SourceKind
from skystack.pipe import (
    ConnectionsError,
    InMemoryRef,
    Input,
    NoWorkFound,
    Output,
    PipelineTaskConnections,
    PrerequisiteInput,
    PrerequisiteMissingError,
)


def test_declared_connections_and_kinds() -> None:
    conns = DetrendConnections()
    assert list(conns.inputs) == ["exposure"]
    assert list(conns.prerequisite_inputs) == ["bias"]
    assert list(conns.outputs) == ["detrended"]
    assert list(conns.init_outputs) == ["schema"] and not conns.init_inputs
    assert DetrendConnections.dimensions == DETECTOR
    # Class attributes keep the declaration, instances the resolved connection.
    assert CoaddConnections.coadd.name == "{coadd_name}_coadd"
    assert CoaddConnections().coadd.name == "deep_coadd"


def test_templates_and_renames_through_config() -> None:
    config = CoaddConfig()
    config.connections.coadd_name = "goodSeeing"
    conns = CoaddConnections(config=config)
    assert conns.warps.name == "goodSeeing_warp" and conns.coadd.name == "goodSeeing_coadd"
    assert conns.templates == {"coadd_name": "goodSeeing"}
    config.connections.coadd = "my_{coadd_name}_stack"
    assert CoaddConnections(config=config).coadd.name == "my_goodSeeing_stack"
    config.connections.coadd = "plain_name"
    assert CoaddConnections(config=config).coadd.name == "plain_name"
    history = config.history("connections.coadd_name")
    assert [h.value for h in history] == ["deep", "goodSeeing"]
    assert history[1].source.kind is SourceKind.PYTHON


def test_bad_template_and_names_via_config() -> None:
    config = CoaddConfig()
    config.connections.coadd = "{band}_coadd"
    with pytest.raises(ConnectionsError, match=r"uses template 'band', which is not one of \['coadd_name'\]"):
        CoaddConnections(config=config)
    config.connections.coadd = "bad-name"
    with pytest.raises(ConnectionsError, match="Dataset-type name 'bad-name' of connection 'coadd'.*invalid"):
        CoaddConnections(config=config)
    config.connections.coadd = "deep_warp"
    with pytest.raises(ConnectionsError, match="'deep_warp' is both read .*'warps'.* and written .*'coadd'"):
        CoaddConnections(config=config)


def test_generated_config_class() -> None:
    cls = CoaddConnections.ConfigClass
    assert set(cls.model_fields) == {"warps", "coadd", "coadd_name"}
    assert cls().coadd_name == "deep"
    assert "connections" in CoaddConfig.model_fields
    assert CoaddConfig.connections_class is CoaddConnections


def test_output_outside_task_dimensions_is_rejected() -> None:
    with pytest.raises(
        ConnectionsError, match=r"Bad\.out .*\['detector'\] outside the task dimensions"
    ) as info:

        class Bad(PipelineTaskConnections, dimensions=("instrument", "visit")):
            out = Output(name="x", storage_class="NumpyArray", dimensions=DETECTOR)

    assert "drop those dimensions or add them" in str(info.value)


def test_input_superset_needs_multiple() -> None:
    with pytest.raises(ConnectionsError, match="set multiple=True"):

        class Bad(PipelineTaskConnections, dimensions=("instrument", "visit")):
            images = Input(name="x", storage_class="NumpyArray", dimensions=DETECTOR)

    class Good(PipelineTaskConnections, dimensions=("instrument", "visit")):
        images = Input(name="x", storage_class="NumpyArray", dimensions=DETECTOR, multiple=True)
        # A prerequisite may have any dimensions (e.g. a camera-wide calibration).
        cal = PrerequisiteInput(name="c", storage_class="NumpyArray", dimensions=("instrument", "detector"))

    assert Good().images.multiple


def test_unknown_dimension_and_template_and_flags() -> None:
    with pytest.raises(ConnectionsError, match="invalid dimensions .*'vist' is not a dimension"):

        class A(PipelineTaskConnections, dimensions=("instrument",)):
            x = Input(name="x", storage_class="S", dimensions=("instrument", "vist"))

    with pytest.raises(ConnectionsError, match="invalid task dimensions"):

        class B(PipelineTaskConnections, dimensions=("nope",)):
            pass

    with pytest.raises(ConnectionsError, match="template\\(s\\) band with no default"):

        class C(PipelineTaskConnections, dimensions=("instrument",)):
            x = Input(name="{band}_x", storage_class="S", dimensions=("instrument",))

    with pytest.raises(ConnectionsError, match="minimum=2 but multiple=False"):
        Input(name="x", storage_class="S", dimensions=("instrument",), minimum=2)
    with pytest.raises(
        ConnectionsError, match="dimensions must be a tuple of names.*write dimensions=\\('visit',\\)"
    ):
        Input(name="x", storage_class="S", dimensions="visit")  # type: ignore[arg-type]
    with pytest.raises(ConnectionsError, match="needs a storage_class"):
        Output(name="x", storage_class="", dimensions=())
    with pytest.raises(ConnectionsError, match="reserved"):

        class D(PipelineTaskConnections, dimensions=("instrument",)):
            config = Input(name="x", storage_class="S", dimensions=("instrument",))


def test_lookup_function_resolution() -> None:
    conn = PrerequisiteInput(name="ref_cat", storage_class="ArrowTable", lookup_function="math.hypot")
    import math

    assert conn.resolve_lookup_function() is math.hypot
    bad = PrerequisiteInput(name="ref_cat", storage_class="ArrowTable", lookup_function="math.nope")
    with pytest.raises(ConnectionsError, match="Cannot import lookup_function 'math.nope'"):
        bad.resolve_lookup_function()
    with pytest.raises(ConnectionsError, match="must be a callable or an import path"):
        PrerequisiteInput(name="r", storage_class="S", lookup_function="nodots")


def test_dataset_type_from_connection() -> None:
    conns = DetrendConnections()
    dt = conns.bias.make_dataset_type(DimensionUniverse.default())
    assert dt.name == "bias" and dt.is_calibration
    assert set(dt.dimensions.names) == {"instrument", "detector"}
    assert len(conns.schema.make_dataset_type().dimensions.names) == 0


def test_adjust_quantum_minimum_and_dropping() -> None:
    config = GatherConfig()
    config.bad_detectors = [3]
    conns = GatherConnections(config=config)
    refs = [InMemoryRef.make("scaled_image", instrument="T", visit=1, detector=d) for d in (1, 2, 3)]
    out = {"total": [InMemoryRef.make("visit_total", instrument="T", visit=1)]}
    inputs, outputs = conns.adjust_quantum({"images": refs}, out, "gather", {"visit": 1})
    assert inputs["images"] == refs[:2] and outputs == out
    with pytest.raises(
        NoWorkFound, match=r"gather \{'visit': 1\}: Input 'images' \(scaled_image\) has 1 dataset"
    ):
        conns.adjust_quantum({"images": refs[1:]}, out, "gather", {"visit": 1})
    with pytest.raises(ConnectionsError, match="unknown connection 'imgs'"):
        conns.adjust_quantum({"imgs": refs}, out, "gather", {"visit": 1})


def test_adjust_quantum_prerequisite_and_multiple() -> None:
    conns = DetrendConnections()
    raw = [InMemoryRef.make("raw_image", visit=1, detector=1)]
    with pytest.raises(PrerequisiteMissingError, match="PrerequisiteInput 'bias' \\(bias\\) has 0 dataset"):
        conns.adjust_quantum({"exposure": raw}, {}, "detrend", {"detector": 1})
    with pytest.raises(ConnectionsError, match="got 2 datasets but is declared with multiple=False"):
        conns.adjust_quantum({"exposure": raw * 2, "bias": raw}, {}, "detrend", {})
    inputs, _ = ScaleConnections().adjust_quantum({"image": raw}, {}, "scale", {})
    assert inputs == {"image": raw}
