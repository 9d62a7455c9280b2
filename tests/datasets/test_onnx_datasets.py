"""ONNX model, TensorRT engine and predictor datasets: versioned round trips, errors, format switch."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from kedro.io.core import DatasetError, Version

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")

from gaze_pipelines.core import export as ex  # noqa: E402
from gaze_pipelines.core.predict import KerasPredictor, OnnxPredictor  # noqa: E402
from gaze_pipelines.datasets import (  # noqa: E402
    OnnxModelDataset,
    PredictorDataset,
    TensorRTEngineDataset,
)
from gaze_pipelines.datasets.keras_model import KerasModelDataset  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    face = keras.Input((16, 16, 1), name="input_face_images")
    grid = keras.Input((625,), name="input_facegrid")
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(face))
    x = keras.layers.Concatenate()([x, keras.layers.Dense(4)(grid)])
    return keras.Model([face, grid], keras.layers.Dense(5, name="fc_joint")(x))


@pytest.fixture(scope="module")
def onnx_model(model):
    return ex.keras_to_onnx(
        model,
        input_names={"input_face_images": "input_face_images:0"},
        output_names={"fc_joint": "fc_joint/concat:0"},
    )


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return {
        "input_face_images": rng.random((6, 16, 16, 1), dtype=np.float32),
        "input_facegrid": (rng.random((6, 625)) > 0.5).astype(np.float32),
    }


def test_onnx_dataset_versioned_round_trip(tmp_path, onnx_model, inputs):
    path = (tmp_path / "models" / "gazenet.onnx").as_posix()
    ds = OnnxModelDataset(filepath=path, version=Version(None, None))
    assert not ds.exists()
    ds.save(onnx_model)
    assert ds.exists()
    saved = list((tmp_path / "models" / "gazenet.onnx").iterdir())
    assert len(saved) == 1 and (saved[0] / "gazenet.onnx").is_file()  # <file>/<version>/<file>
    loaded = OnnxModelDataset(filepath=path, version=Version(None, None)).load()
    assert loaded.SerializeToString() == onnx_model.SerializeToString()
    assert ex.read_interface(loaded) == ex.read_interface(onnx_model)
    np.testing.assert_array_equal(
        OnnxPredictor(loaded).predict(inputs), OnnxPredictor(onnx_model).predict(inputs)
    )
    assert "gazenet.onnx" in str(ds._describe()["filepath"])
    # no temporary files are left next to the model
    assert [p.name for p in saved[0].iterdir()] == ["gazenet.onnx"]


def test_onnx_dataset_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00 this is not protobuf \xff" * 10)
    with pytest.raises(DatasetError, match="not a readable ONNX model"):
        OnnxModelDataset(filepath=bad.as_posix()).load()
    with pytest.raises(DatasetError, match="expected an onnx.ModelProto or bytes"):
        OnnxModelDataset(filepath=(tmp_path / "x.onnx").as_posix()).save({"not": "a model"})


def test_engine_dataset_round_trip_with_sidecar(tmp_path, onnx_model):
    # Serialization only: the bytes below are never deserialized by TensorRT in this test.
    engine = ex.TensorRTEngine(
        engine=b"serialized-engine-bytes",
        interface=ex.read_interface(onnx_model),
        precision="int8",
        max_batch_size=32,
        tensorrt_version="10.9.0",
    )
    path = (tmp_path / "gazenet_int8.engine").as_posix()
    ds = TensorRTEngineDataset(filepath=path, version=Version(None, None))
    ds.save(engine)
    version_dir = next((tmp_path / "gazenet_int8.engine").iterdir())
    assert sorted(p.name for p in version_dir.iterdir()) == [
        "gazenet_int8.engine",
        "gazenet_int8.engine.json",
    ]
    meta = json.loads((version_dir / "gazenet_int8.engine.json").read_text())
    assert meta["precision"] == "int8" and meta["max_batch_size"] == 32
    assert meta["interface"]["inputs"][0]["name"] == "input_face_images:0"
    loaded = TensorRTEngineDataset(filepath=path, version=Version(None, None)).load()
    assert loaded.engine == engine.engine and loaded.interface == engine.interface
    assert loaded.precision == "int8"
    with pytest.raises(DatasetError, match="expected a TensorRTEngine"):
        ds.save(b"raw bytes")


def _predictor_ds(tmp_path, fmt: str, **kwargs) -> PredictorDataset:
    datasets = {
        "keras": {
            "type": "gaze_pipelines.datasets.keras_model.KerasModelDataset",
            "filepath": (tmp_path / "m.keras").as_posix(),
            "versioned": True,
        },
        "onnx": {
            "type": "gaze_pipelines.datasets.OnnxModelDataset",
            "filepath": (tmp_path / "m.onnx").as_posix(),
            "versioned": True,
        },
        "onnx_int8": {
            "type": "gaze_pipelines.datasets.OnnxModelDataset",
            "filepath": (tmp_path / "m_int8.onnx").as_posix(),
            "versioned": True,
        },
        "tensorrt": {
            "type": "gaze_pipelines.datasets.TensorRTEngineDataset",
            "filepath": (tmp_path / "m_int8.engine").as_posix(),
            "versioned": True,
        },
    }
    return PredictorDataset(model_format=fmt, datasets=datasets, **kwargs)


def test_predictor_dataset_switches_format(tmp_path, model, onnx_model, inputs):
    KerasModelDataset(filepath=(tmp_path / "m.keras").as_posix(), version=Version(None, None)).save(
        model
    )
    OnnxModelDataset(filepath=(tmp_path / "m.onnx").as_posix(), version=Version(None, None)).save(
        onnx_model
    )
    cal = ex.calibration_batches([inputs], 1, 6)
    int8 = ex.quantize_int8(onnx_model, cal, method="minmax").model
    OnnxModelDataset(
        filepath=(tmp_path / "m_int8.onnx").as_posix(), version=Version(None, None)
    ).save(int8)

    keras_pred = _predictor_ds(tmp_path, "keras").load()
    onnx_pred = _predictor_ds(
        tmp_path, "onnx", predictor_args={"onnx": {"intra_op_num_threads": 1}}
    ).load()
    int8_pred = _predictor_ds(tmp_path, "onnx_int8").load()
    assert isinstance(keras_pred, KerasPredictor)
    assert isinstance(onnx_pred, OnnxPredictor) and isinstance(int8_pred, OnnxPredictor)
    assert onnx_pred.session.get_session_options().intra_op_num_threads == 1
    ref = keras_pred.predict(inputs)
    np.testing.assert_allclose(onnx_pred.predict(inputs), ref, atol=1e-4)
    assert int8_pred.predict(inputs).shape == ref.shape
    assert _predictor_ds(tmp_path, "onnx").exists()
    with pytest.raises(DatasetError, match="read-only"):
        _predictor_ds(tmp_path, "onnx").save(object())


def test_predictor_dataset_errors(tmp_path):
    with pytest.raises(
        DatasetError,
        match=r"model_format must be one of \['keras', 'onnx', 'onnx_int8', 'onnx_int8_cpu', 'tensorrt'\], got 'tflite'",
    ):
        _predictor_ds(tmp_path, "tflite")
    with pytest.raises(
        DatasetError, match="model_format 'onnx' has no dataset; configured: \\['keras'\\]"
    ):
        PredictorDataset(
            model_format="onnx",
            datasets={"keras": {"type": "pickle.PickleDataset", "filepath": "x.pkl"}},
        )
    missing = _predictor_ds(tmp_path / "empty", "onnx")
    assert not missing.exists()
    with pytest.raises(DatasetError):
        missing.load()


@pytest.mark.skipif(ex.tensorrt_missing() is None, reason="TensorRT and a GPU are present")
def test_predictor_dataset_tensorrt_without_tensorrt_names_what_is_missing(tmp_path, onnx_model):
    TensorRTEngineDataset(
        filepath=(tmp_path / "m_int8.engine").as_posix(), version=Version(None, None)
    ).save(ex.TensorRTEngine(b"never-deserialized", ex.read_interface(onnx_model), "int8", 8, "10"))
    with pytest.raises(DatasetError, match="TensorRT export is unavailable") as err:
        _predictor_ds(tmp_path, "tensorrt").load()
    assert isinstance(err.value.__cause__, ex.TensorRTUnavailableError)
    assert ex.tensorrt_missing() in str(err.value)
