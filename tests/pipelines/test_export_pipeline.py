"""The family-agnostic ``create_export_pipeline`` run with Kedro's runner on a toy model."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.runner import SequentialRunner  # noqa: E402

from gaze_pipelines.core import export as ex  # noqa: E402
from gaze_pipelines.pipelines.export import (  # noqa: E402
    create_export_pipeline,
    create_tensorrt_export_pipeline,
    export_dataset_names,
)


class _Kept(MemoryDataset):
    """A MemoryDataset the runner does not empty after its last use (to inspect outputs)."""

    def _release(self) -> None:
        pass


def _toy_model():
    keras.utils.set_random_seed(0)
    image = keras.Input((12, 12, 1), name="image")
    extra = keras.Input((3,), name="extra")
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(image))
    x = keras.layers.Concatenate()([x, extra])
    return keras.Model([image, extra], keras.layers.Dense(2, name="out")(x))


def _kpi(predictor, data: dict) -> dict[str, float]:
    """Mean absolute output: a stand-in for a family's KPI code."""
    return {"mean_abs": float(np.abs(predictor.predict(data["inputs"])).mean()) + 1.0}


def _catalog(params: dict) -> tuple[DataCatalog, dict]:
    rng = np.random.default_rng(0)
    inputs = {
        "image": rng.random((64, 12, 12, 1), dtype=np.float32),
        "extra": rng.random((64, 3), dtype=np.float32),
    }
    cal = ex.calibration_batches([inputs], cal_batches=2, cal_batch_size=16)
    catalog = DataCatalog(
        {
            "toy_model": MemoryDataset(_toy_model(), copy_mode="assign"),
            "toy_calibration_batches": MemoryDataset(cal, copy_mode="assign"),
            "toy_eval": MemoryDataset({"inputs": inputs}, copy_mode="assign"),
            "params:toy.export": MemoryDataset(params),
        }
    )
    return catalog, inputs


def test_export_pipeline_runs_and_reports():
    params = {
        "opset": 17,
        "channels_last": False,
        "input_names": {"image": "image:0"},
        "int8": {"cal_batches": 2, "cal_batch_size": 16, "calibration_method": "minmax"},
        "benchmark": {"batch_sizes": [1, 4], "warmup": 0, "repeats": 2, "samples": 8},
    }
    pipe = create_export_pipeline("toy", evaluate=_kpi, evaluate_inputs=["toy_eval"])
    names = export_dataset_names("toy")
    assert set(pipe.all_outputs()) == {
        names[k]
        for k in (
            "onnx",
            "parity",
            "int8",
            "ranges",
            "int8_cpu",
            "ranges_cpu",
            "report",
            "report_md",
        )
    }
    assert all("toy_export" in n.tags for n in pipe.nodes)
    catalog, _ = _catalog(params)
    for name in pipe.all_outputs():
        catalog[name] = _Kept(copy_mode="assign")
    SequentialRunner().run(pipe, catalog)
    onnx_model = catalog[names["onnx"]].load()
    assert [i.name for i in onnx_model.graph.input] == ["image:0", "extra"]
    parity = catalog[names["parity"]].load()
    assert parity["passed"] and parity["float64_reference"]
    assert parity["onnx_vs_float64_max_abs"] <= 1e-5 * max(1.0, parity["output_abs_max"])
    assert len(parity["keras_vs_float64_per_output"]) == 2
    ranges = catalog[names["ranges"]].load()
    assert isinstance(ranges, pd.DataFrame) and (ranges["zero_point_max_abs"] == 0).all()
    cpu_ranges = catalog[names["ranges_cpu"]].load()
    assert set(cpu_ranges.loc[cpu_ranges["kind"] == "activation", "qtype"]) == {"uint8"}
    assert ex.read_interface(catalog[names["int8_cpu"]].load()) is not None
    report = catalog[names["report"]].load()
    assert list(report["format"]) == ["keras", "onnx", "onnx_int8", "onnx_int8_cpu"]
    assert {
        "mean_abs",
        "mean_abs_delta_rel",
        "p50_ms_b1",
        "p95_ms_b4",
        "file_size_mb",
        "intra_op_num_threads",
    } <= set(report.columns)
    assert report.loc[report["format"] == "onnx", "max_abs_diff"].iloc[0] <= 1e-4
    assert (
        catalog[names["report_md"]]
        .load()
        .startswith("# toy export: keras vs onnx vs onnx_int8 vs onnx_int8_cpu")
    )


def test_export_pipeline_rejects_bad_params_with_key_path():
    pipe = create_export_pipeline("toy", evaluate=_kpi, evaluate_inputs=["toy_eval"])
    catalog, _ = _catalog({"int8": {"calibration_method": "kl"}})
    for name in pipe.all_outputs():
        catalog[name] = _Kept(copy_mode="assign")
    with pytest.raises(
        ValueError,
        match=r"toy\.export\.int8\.calibration_method.*'entropy', 'minmax' or 'percentile'",
    ):
        SequentialRunner().run(pipe, catalog)


def test_tensorrt_pipeline_shape():
    pipe = create_tensorrt_export_pipeline("toy", evaluate=_kpi, evaluate_inputs=["toy_eval"])
    names = export_dataset_names("toy")
    assert {names["engine_fp16"], names["engine_int8"], names["report_tensorrt"]} <= set(
        pipe.all_outputs()
    )
    assert {names["onnx"], names["int8"], "toy_eval"} <= set(pipe.inputs())
    assert all("tensorrt" in n.tags for n in pipe.nodes)


@pytest.mark.skipif(ex.tensorrt_missing() is None, reason="TensorRT and a GPU are present")
def test_tensorrt_node_fails_naming_what_is_missing():
    pipe = create_tensorrt_export_pipeline("toy", evaluate=_kpi, evaluate_inputs=["toy_eval"])
    catalog, inputs = _catalog({})
    model = _toy_model()
    onnx_model = ex.keras_to_onnx(model)
    catalog["toy_onnx_model"] = MemoryDataset(onnx_model, copy_mode="assign")
    int8 = ex.quantize_int8(onnx_model, ex.calibration_batches([inputs], 1, 8), method="minmax")
    catalog["toy_onnx_int8_model"] = MemoryDataset(int8.model, copy_mode="assign")
    for name in pipe.all_outputs():
        catalog[name] = _Kept(copy_mode="assign")
    with pytest.raises(
        ex.TensorRTUnavailableError, match="TensorRT export is unavailable: .*tensorrt"
    ):
        SequentialRunner().run(
            pipe.only_nodes("toy_onnx_fp16", "toy_tensorrt_fp16_engine"), catalog
        )
