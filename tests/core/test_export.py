"""Export core: Keras -> ONNX parity, INT8 Q/DQ (symmetric, ranges, KPI tolerance), TensorRT, report."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")

from gaze_pipelines.core import export as ex  # noqa: E402
from gaze_pipelines.core.latency import measure_latency, tile_batch  # noqa: E402
from gaze_pipelines.core.predict import (  # noqa: E402
    KerasPredictor,
    OnnxPredictor,
    TensorRTPredictor,
    as_predictor,
    load_predictor,
)

IMAGES = ("input_face_images", "input_left_images", "input_right_images")
DEEPSTREAM_INPUTS = {name: f"{name}:0" for name in (*IMAGES, "input_facegrid")}
DEEPSTREAM_OUTPUTS = {"fc_joint": "fc_joint/concat:0"}
SIZE = 32


def _gaze_like_model(size: int = SIZE, seed: int = 0):
    """A small functional model with GazeNet's input and output names (channels-last Keras)."""
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input((size, size, 1), name=n) for n in IMAGES]
    grid = keras.Input((625,), name="input_facegrid")
    towers = []
    for x in inputs:
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Conv2D(8, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        towers.append(keras.layers.Flatten()(x))
    towers.append(keras.layers.Dense(16, activation="relu")(grid))
    x = keras.layers.Dense(32, activation="relu")(keras.layers.Concatenate()(towers))
    out = keras.layers.Dense(5, name="fc_joint")(x)
    return keras.Model([*inputs, grid], out, name="tiny_gazenet")


def _gaze_inputs(n: int, seed: int = 1, size: int = SIZE) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {name: rng.random((n, size, size, 1), dtype=np.float32) for name in IMAGES}
    data["input_facegrid"] = (rng.random((n, 625)) > 0.8).astype(np.float32)
    return data


@pytest.fixture(scope="module")
def gaze_model():
    return _gaze_like_model()


@pytest.fixture(scope="module")
def gaze_data():
    return _gaze_inputs(48)


@pytest.fixture(scope="module")
def gaze_onnx(gaze_model):
    return ex.keras_to_onnx(
        gaze_model,
        input_names=DEEPSTREAM_INPUTS,
        output_names=DEEPSTREAM_OUTPUTS,
        input_shapes={"input_facegrid": [1, 625, 1]},
    )


@pytest.fixture(scope="module")
def gaze_int8(gaze_onnx, gaze_data):
    cal = ex.calibration_batches([gaze_data], cal_batches=2, cal_batch_size=16)
    return ex.quantize_int8(gaze_onnx, cal, method="minmax")


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


# ------------------------------------------------------------------------------ interface


def test_interface_deepstream_layout(gaze_model):
    iface = ex.interface_from_keras(
        gaze_model,
        input_names=DEEPSTREAM_INPUTS,
        output_names=DEEPSTREAM_OUTPUTS,
        input_shapes={"input_facegrid": [1, 625, 1]},
    )
    face = iface.inputs[0]
    assert (face.name, face.source, face.shape, face.source_shape, face.channels_first) == (
        "input_face_images:0",
        "input_face_images",
        (1, SIZE, SIZE),
        (SIZE, SIZE, 1),
        True,
    )
    grid = iface.inputs[3]
    assert (grid.shape, grid.source_shape, grid.channels_first) == ((1, 625, 1), (625,), False)
    assert iface.output_names == ["fc_joint/concat:0"]
    assert ex.ModelInterface.from_json(iface.to_json()) == iface


def test_interface_channels_last_keeps_keras_layout(gaze_model):
    iface = ex.interface_from_keras(gaze_model, channels_last=True)
    assert iface.inputs[0].shape == (SIZE, SIZE, 1) and not iface.inputs[0].channels_first
    assert iface.input_names == [*IMAGES, "input_facegrid"]


def test_tensor_spec_transposes_like_nchw():
    spec = ex.TensorSpec("x:0", "x", (3, 4, 5), (4, 5, 3), channels_first=True)
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    np.testing.assert_array_equal(spec.to_onnx(x), np.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_array_equal(
        spec.adapt(np.transpose(x, (0, 3, 1, 2))), np.transpose(x, (0, 3, 1, 2))
    )
    with pytest.raises(ValueError, match=r"x:0.*\(N, 3, 4, 5\)"):
        spec.adapt(np.zeros((2, 7), np.float32))


def test_interface_rejects_bad_options(gaze_model):
    with pytest.raises(ValueError, match="not tensors of the model"):
        ex.interface_from_keras(gaze_model, input_names={"input_eyes": "x"})
    with pytest.raises(ValueError, match=r"624 values, the model.s \[625\] has 625"):
        ex.interface_from_keras(gaze_model, input_shapes={"input_facegrid": [1, 624, 1]})
    with pytest.raises(ValueError, match="unique"):
        ex.interface_from_keras(gaze_model, input_names={"input_face_images": "input_facegrid"})


# ------------------------------------------------------------------------------ ONNX


def test_onnx_keeps_deepstream_names_shapes_and_dynamic_batch(gaze_onnx):
    inputs = {vi.name: _dims(vi) for vi in gaze_onnx.graph.input}
    assert inputs == {
        "input_face_images:0": ["batch", 1, SIZE, SIZE],
        "input_left_images:0": ["batch", 1, SIZE, SIZE],
        "input_right_images:0": ["batch", 1, SIZE, SIZE],
        "input_facegrid:0": ["batch", 1, 625, 1],
    }
    assert [vi.name for vi in gaze_onnx.graph.output] == ["fc_joint/concat:0"]
    assert _dims(gaze_onnx.graph.output[0]) == ["batch", 5]
    assert max(o.version for o in gaze_onnx.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert ex.read_interface(gaze_onnx) is not None
    # Keras Flatten's run-time shape arithmetic is folded into constant Reshape targets
    ops = {n.op_type for n in gaze_onnx.graph.node}
    assert not ops & {"Shape", "Gather", "Slice", "Cast"}, ops


def test_onnx_parity_with_keras(gaze_model, gaze_onnx, gaze_data):
    keras_pred = KerasPredictor(gaze_model)
    onnx_pred = OnnxPredictor(gaze_onnx, intra_op_num_threads=1)
    assert onnx_pred.input_names == [*IMAGES, "input_facegrid"]
    assert onnx_pred.output_names == ["fc_joint"]
    parity = ex.check_parity(keras_pred, onnx_pred, gaze_data)
    assert parity["max_abs_diff"] <= 1e-4
    # the same model fed in the exported (DeepStream) names and layout
    exported = {
        **{f"{n}:0": np.transpose(gaze_data[n], (0, 3, 1, 2)) for n in IMAGES},
        "input_facegrid:0": gaze_data["input_facegrid"].reshape(-1, 1, 625, 1),
    }
    np.testing.assert_allclose(
        onnx_pred.predict(exported), keras_pred.predict(gaze_data), atol=1e-4
    )
    # batch 1 and an odd batch size work with the dynamic batch
    one = {k: v[:1] for k, v in gaze_data.items()}
    assert onnx_pred.predict(one).shape == (1, 5)
    assert OnnxPredictor(gaze_onnx, batch_size=7).predict(gaze_data).shape == (48, 5)


def test_float64_twin_is_the_exact_reference(gaze_model, gaze_onnx, gaze_data):
    twin = ex.float64_twin(gaze_model)
    assert {str(w.dtype) for w in twin.weights} == {"float64"}
    assert [w.name for w in twin.weights] == [w.name for w in gaze_model.weights]
    exact = ex.float64_outputs(gaze_model, gaze_data)
    assert exact.dtype == np.float64 and exact.shape == (48, 5)
    keras_err = np.abs(KerasPredictor(gaze_model).predict(gaze_data) - exact).max()
    onnx_err = np.abs(OnnxPredictor(gaze_onnx).predict(gaze_data) - exact).max()
    # both float32 graphs sit within float32 round-off of the float64 model, not further
    scale = float(np.abs(exact).max())
    assert 0 < keras_err < 1e-5 * max(1.0, scale)
    assert 0 < onnx_err < 1e-5 * max(1.0, scale)


def test_onnx_channels_last_parity(gaze_model, gaze_data):
    model = ex.keras_to_onnx(gaze_model, channels_last=True, opset=18)
    assert _dims(model.graph.input[0]) == ["batch", SIZE, SIZE, 1]
    parity = ex.check_parity(KerasPredictor(gaze_model), OnnxPredictor(model), gaze_data)
    assert parity["max_abs_diff"] <= 1e-4


def test_single_input_model_and_opset_bounds(gaze_data):
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    model = keras.Model(inp, keras.layers.Dense(6, name="logits")(x))
    proto = ex.keras_to_onnx(model)
    assert [vi.name for vi in proto.graph.output] == ["logits"]
    x = np.random.default_rng(0).random((5, SIZE, SIZE, 3), dtype=np.float32)
    assert (
        ex.check_parity(KerasPredictor(model), OnnxPredictor(proto), {"image": x})["max_abs_diff"]
        <= 1e-4
    )
    with pytest.raises(ValueError, match="opset must be in 17..18"):
        ex.keras_to_onnx(model, opset=13)


# ------------------------------------------------------------------------------ INT8


def test_int8_has_symmetric_qdq_and_ranges_table(gaze_int8):
    model = gaze_int8.model
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") > 0
    zero_points = ex.qdq_zero_points(model)
    assert zero_points and all(np.all(z == 0) for z in zero_points.values())
    assert all(z.dtype == np.int8 for z in zero_points.values())
    ranges = gaze_int8.ranges
    assert {"activation", "weight"} <= set(ranges["kind"])
    weights = ranges[ranges["kind"] == "weight"]
    # every conv / dense kernel is per output channel (8 conv filters, 16/32 dense units); the
    # folded batch-norm scale (a Mul constant) is the only per-tensor weight; the output layer
    # (fc_joint, 5 units) stays float
    assert sorted(weights.loc[weights["per_channel"], "channels"]) == [8, 8, 8, 8, 8, 8, 16, 32]
    assert (weights["per_channel"] == (weights["channels"] > 1)).all()
    acts = ranges[ranges["kind"] == "activation"]
    assert (acts["zero_point_max_abs"] == 0).all()
    assert (
        acts["observed_max"].notna().all() and (acts["observed_max"] >= acts["observed_min"]).all()
    )
    assert (
        acts["calib_amax"] <= acts[["observed_min", "observed_max"]].abs().max(axis=1) + 1e-6
    ).all()
    # amax = 127 x scale: the symmetric int8 range covers the calibrated range
    np.testing.assert_allclose(acts["amax"], acts["scale"] * 127, rtol=1e-6)
    assert gaze_int8.summary["calibration_samples"] == 32
    producer = {o: n for n in model.graph.node for o in n.output}
    layer = producer["fc_joint/concat:0"]
    while layer.op_type != "MatMul":  # walk back over the bias Add, if not fused
        layer = producer[layer.input[0]]
    assert layer.name in gaze_int8.summary["float_nodes"]
    floats = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    assert layer.input[1] in floats  # the output layer keeps FP32 weights
    assert "Conv" in gaze_int8.summary["quantized_ops"]
    assert ex.read_interface(model) is not None


def test_int8_predictor_takes_keras_inputs(gaze_model, gaze_int8, gaze_data):
    pred = OnnxPredictor(gaze_int8.model)
    ref = KerasPredictor(gaze_model).predict(gaze_data)
    got = pred.predict(gaze_data)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 0.1 * max(1.0, float(np.abs(ref).max()))


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_int8_calibration_methods(gaze_onnx, gaze_data, method):
    cal = ex.calibration_batches([gaze_data], cal_batches=1, cal_batch_size=16)
    result = ex.quantize_int8(gaze_onnx, cal, method=method, per_channel=False, percentile=99.9)
    acts = result.ranges[result.ranges["kind"] == "activation"]
    assert set(acts["method"]) == {method}
    assert not result.ranges.loc[result.ranges["kind"] == "weight", "per_channel"].any()


def _optimized_ops(model) -> list[str]:
    """Op types onnxruntime's CPU provider runs after its graph optimizations."""
    import tempfile  # noqa: PLC0415

    import onnxruntime as ort  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = f"{tmp}/opt.onnx"
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(f"{tmp}/opt.onnx").graph.node]


def test_int8_cpu_scheme_is_asymmetric_uint8_and_fuses_relu(gaze_model, gaze_onnx, gaze_data):
    cal = ex.calibration_batches([gaze_data], cal_batches=2, cal_batch_size=16)
    calibrated = ex.calibrate_int8(gaze_onnx, cal, method="minmax")
    s8 = ex.quantize_int8(gaze_onnx, calibrated=calibrated, scheme="s8s8")
    u8 = ex.quantize_int8(gaze_onnx, calibrated=calibrated, scheme="u8s8")
    assert u8.summary["scheme"] == "u8s8" and s8.summary["scheme"] == "s8s8"
    ranges = u8.ranges
    acts = ranges[ranges["kind"] == "activation"]
    weights = ranges[ranges["kind"] == "weight"]
    kernels = weights[weights["per_channel"]]  # conv / dense kernels (the BN Mul constant is not)
    assert set(acts["qtype"]) == {"uint8"} and set(kernels["qtype"]) == {"int8"}
    assert len(kernels) == 8 and (kernels["zero_point_max_abs"] == 0).all()  # symmetric weights
    # ReLU outputs never go negative: zero point = qmin = 0, range starts at 0 exactly
    relu_like = acts[acts["observed_min"] >= 0]
    assert len(relu_like) and (relu_like["zero_point"] == 0).all()
    assert (relu_like["range_min"] == 0).all()
    # the uint8 range covers what calibration saw (minmax: no clipping), up to one step
    step = acts["scale"]
    assert (acts["range_max"] >= acts["observed_max"] - step).all()
    assert (acts["range_min"] <= acts["observed_min"] + step).all()

    # the same calibration feeds both schemes: identical thresholds; U8S8 quantizes fewer
    # tensors (a Conv output feeding a ReLU shares the ReLU's uint8 parameters)
    def thresholds(result):
        t = result.ranges[result.ranges["kind"] == "activation"]
        return t.set_index("tensor")["calib_amax"].sort_index()

    t8, tu = thresholds(s8), thresholds(u8)
    assert set(tu.index) < set(t8.index)
    pd.testing.assert_series_equal(t8[tu.index], tu)
    # onnxruntime folds every ReLU into the U8S8 QLinearConv / QLinearMatMul; the symmetric
    # S8S8 graph keeps each ReLU in float between a DequantizeLinear and a QuantizeLinear
    s8_ops, u8_ops = _optimized_ops(s8.model), _optimized_ops(u8.model)
    assert u8_ops.count("QLinearConv") == 6 and "Relu" not in u8_ops
    assert s8_ops.count("Relu") == 8
    assert (
        u8_ops.count("QuantizeLinear") + u8_ops.count("DequantizeLinear")
        < (s8_ops.count("QuantizeLinear") + s8_ops.count("DequantizeLinear")) / 3
    )
    ref = KerasPredictor(gaze_model).predict(gaze_data)
    got = OnnxPredictor(u8.model).predict(gaze_data)
    assert np.abs(got - ref).max() < 0.1 * max(1.0, float(np.abs(ref).max()))


def test_int8_rejects_unknown_scheme(gaze_onnx, gaze_data):
    with pytest.raises(ValueError, match="s8s8.*u8s8"):
        ex.quantize_int8(gaze_onnx, [gaze_data], scheme="int4")
    with pytest.raises(ValueError, match="calibration"):
        ex.quantize_int8(gaze_onnx)


def test_input_layers_kept_float(gaze_onnx, gaze_data):
    first = ex.input_layer_nodes(gaze_onnx)
    ops = {n.name: n.op_type for n in gaze_onnx.graph.node}
    # one first convolution per image tower and the facegrid's dense layer
    assert sorted(ops[n] for n in first) == ["Conv", "Conv", "Conv", "MatMul"]
    cal = ex.calibration_batches([gaze_data], cal_batches=1, cal_batch_size=16)
    result = ex.quantize_int8(
        gaze_onnx, cal, method="minmax", scheme="u8s8", keep_input_layers_float=True
    )
    floats = result.summary["float_nodes"]
    quantized = [
        n
        for n in result.model.graph.node
        if n.op_type == "QLinearConv"
        or (n.op_type == "Conv" and any(i.endswith("DequantizeLinear_Output") for i in n.input))
    ]
    assert len(floats) == 4 + 1  # input layers + the output layer
    assert len(quantized) == 3  # the second convolution of each tower is still INT8
    graph_inputs = {i.name for i in result.model.graph.input}
    # no image input feeds a QuantizeLinear: the raw pixels stay float
    assert not any(
        n.op_type == "QuantizeLinear" and n.input[0] in graph_inputs
        for n in result.model.graph.node
    )


def test_int8_rejects_unknown_method(gaze_onnx, gaze_data):
    with pytest.raises(ValueError, match="entropy.*minmax.*percentile"):
        ex.quantize_int8(gaze_onnx, [gaze_data], method="kl")


def _blob_task(n: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images with one Gaussian blob; the target is the blob centre in [0, 1]^2 (noisy)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, size=(n, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    d2 = (xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2
    images = np.exp(-d2 / (2 * 0.08**2))[..., None]
    images = (images + 0.3 * rng.standard_normal(images.shape)).astype(np.float32)
    labels = centres + 0.02 * rng.standard_normal(centres.shape).astype(np.float32)
    return images, labels


def test_int8_kpi_within_two_percent_on_a_trained_model():
    keras.utils.set_random_seed(3)
    inp = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    model = keras.Model(inp, keras.layers.Dense(2, name="centre")(x))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    x_train, y_train = _blob_task(1024, seed=0)
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=0)
    x_test, y_test = _blob_task(512, seed=1)

    def kpi(predictor) -> dict[str, float]:
        pred = predictor.predict({"image": x_test})
        return {"mean_error": float(np.linalg.norm(pred - y_test, axis=1).mean())}

    fp32 = ex.keras_to_onnx(model)
    cal = ex.calibration_batches([{"image": x_train}], cal_batches=4, cal_batch_size=32)
    int8 = ex.quantize_int8(fp32, cal, method="entropy").model
    report = ex.compare_formats(
        {
            "keras": KerasPredictor(model),
            "onnx": OnnxPredictor(fp32),
            "onnx_int8": OnnxPredictor(int8),
        },
        kpi,
        {"image": x_test[:8]},
        batch_sizes=(1, 4),
        warmup=1,
        repeats=3,
        file_sizes={"onnx": fp32.ByteSize(), "onnx_int8": int8.ByteSize()},
    ).set_index("format")
    # the model did learn the task: well under the error of predicting the mean centre (~0.23)
    assert report.loc["keras", "mean_error"] < 0.1
    assert report.loc["onnx", "max_abs_diff"] <= 1e-4
    rel = abs(report.loc["onnx_int8", "mean_error"] / report.loc["onnx", "mean_error"] - 1)
    assert rel <= 0.02, report.to_string()
    assert bool(report.loc["onnx_int8", "kpi_within_tolerance"])
    assert report.loc["onnx_int8", "file_size_mb"] < report.loc["onnx", "file_size_mb"]


def test_calibration_batches_exact_and_short():
    stream = ({"a": np.full((10, 2), i, np.float32)} for i in range(5))
    batches = ex.calibration_batches(stream, cal_batches=3, cal_batch_size=8)
    assert [b["a"].shape for b in batches] == [(8, 2)] * 3
    assert batches[1]["a"][0, 0] == 0 and batches[1]["a"][-1, 0] == 1
    with pytest.raises(ValueError, match=r"3 x 8 = 24 samples, the data holds 10"):
        ex.calibration_batches([{"a": np.zeros((10, 2))}], cal_batches=3, cal_batch_size=8)


# ------------------------------------------------------------------------------ FP16, TensorRT


def test_fp16_graph_keeps_fp32_io(gaze_model, gaze_onnx, gaze_data):
    fp16 = ex.to_fp16_onnx(gaze_onnx)
    onnx.checker.check_model(fp16)
    seen = {i.name for i in fp16.graph.input} | {t.name for t in fp16.graph.initializer} | {""}
    for node in fp16.graph.node:  # topologically sorted, as the ONNX spec requires
        assert all(i in seen for i in node.input), node.name
        seen.update(node.output)
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)
    ref = KerasPredictor(gaze_model).predict(gaze_data)
    got = OnnxPredictor(fp16).predict(gaze_data)
    assert np.abs(got - ref).max() < 1e-2 * max(1.0, float(np.abs(ref).max()))


@pytest.mark.skipif(ex.tensorrt_missing() is None, reason="TensorRT and a GPU are present")
def test_tensorrt_missing_is_a_clear_error(gaze_onnx):
    reason = ex.tensorrt_missing()
    assert "tensorrt" in reason.lower() or "pycuda" in reason or "GPU" in reason
    with pytest.raises(ex.TensorRTUnavailableError, match="TensorRT export is unavailable"):
        ex.build_tensorrt_engine(gaze_onnx, precision="fp16")
    with pytest.raises(ex.TensorRTUnavailableError, match=reason.split(" (")[0][:30]):
        TensorRTPredictor(b"engine bytes are never read without TensorRT")


@pytest.mark.tensorrt
@pytest.mark.skipif(ex.tensorrt_missing() is not None, reason=str(ex.tensorrt_missing()))
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_tensorrt_engine_matches_onnx(gaze_model, gaze_onnx, gaze_int8, gaze_data, precision):
    source = ex.to_fp16_onnx(gaze_onnx) if precision == "fp16" else gaze_int8.model
    engine = ex.build_tensorrt_engine(
        source, precision=precision, max_batch_size=16, workspace_mib=256
    )
    pred = TensorRTPredictor(engine)
    assert pred.max_batch_size == 16
    ref = KerasPredictor(gaze_model).predict(gaze_data)
    got = pred.predict(gaze_data)  # 48 samples: split into engine-sized chunks
    assert np.abs(got - ref).max() < 0.1 * max(1.0, float(np.abs(ref).max()))


# ------------------------------------------------------------------------------ predictors, report


def test_load_predictor_switch(gaze_model, gaze_onnx, gaze_int8):
    assert isinstance(load_predictor("keras", gaze_model), KerasPredictor)
    assert isinstance(load_predictor("onnx", gaze_onnx, intra_op_num_threads=1), OnnxPredictor)
    assert isinstance(load_predictor("onnx_int8", gaze_int8.model), OnnxPredictor)
    assert isinstance(as_predictor(gaze_onnx), OnnxPredictor)
    with pytest.raises(ValueError, match="keras.*onnx.*onnx_int8.*tensorrt"):
        load_predictor("tflite", gaze_model)
    quiet = OnnxPredictor(gaze_onnx, intra_op_num_threads=2, allow_spinning=False)
    opts = quiet.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == 2
    with pytest.raises(ValueError, match="graph_optimization_level"):
        OnnxPredictor(gaze_onnx, graph_optimization_level="max")


def test_compare_formats_report(gaze_model, gaze_onnx, gaze_int8, gaze_data):
    def kpi(predictor) -> dict[str, float]:
        out = predictor.predict(gaze_data)
        return {"mean_output": float(np.abs(out).mean()) + 1.0}

    report = ex.compare_formats(
        {
            "keras": KerasPredictor(gaze_model),
            "onnx": OnnxPredictor(gaze_onnx),
            "onnx_int8": OnnxPredictor(gaze_int8.model),
        },
        kpi,
        {k: v[:4] for k, v in gaze_data.items()},
        batch_sizes=(1, 32),
        warmup=1,
        repeats=2,
        file_sizes={"onnx": gaze_onnx.ByteSize(), "onnx_int8": gaze_int8.model.ByteSize()},
    )
    assert list(report["format"]) == ["keras", "onnx", "onnx_int8"]
    for col in (
        "mean_output",
        "mean_output_delta",
        "mean_output_delta_rel",
        "max_abs_diff",
        "p50_ms_b1",
        "p95_ms_b1",
        "p50_ms_b32",
        "p95_ms_b32",
        "file_size_mb",
        "speedup_b1_vs_onnx",
        "kpi_within_tolerance",
    ):
        assert col in report.columns, col
    keras_row = report.iloc[0]
    assert keras_row["mean_output_delta"] == 0 and keras_row["max_abs_diff"] == 0
    assert np.isnan(keras_row["file_size_mb"])
    assert report.loc[1, "speedup_b1_vs_onnx"] == pytest.approx(1.0)
    assert (report[["p50_ms_b1", "p95_ms_b1", "p50_ms_b32"]] > 0).all().all()
    text = ex.report_markdown(report, "t")
    assert text.startswith("# t") and "| onnx_int8 |" in text


def test_measure_latency_rows(gaze_onnx, gaze_data):
    table = measure_latency(
        OnnxPredictor(gaze_onnx),
        {k: v[:3] for k, v in gaze_data.items()},
        batch_sizes=(1, 5),
        warmup=0,
        repeats=3,
    )
    assert list(table["batch_size"]) == [1, 5]
    assert (table["p95_ms"] >= table["p50_ms"]).all()
    assert tile_batch({"a": np.arange(3)}, 5)["a"].tolist() == [0, 1, 2, 0, 1]


# ------------------------------------------------------------------------------ parameters


def test_export_params_defaults_and_errors():
    p = ex.validate_export_params({}, "gazenet.export")
    assert p.opset == 17 and p.int8.calibration_method == "entropy" and p.int8.per_channel
    assert p.benchmark.batch_sizes == [1, 32]
    with pytest.raises(ValueError) as err:
        ex.validate_export_params({"int8": {"calibration_method": "kl"}}, "gazenet.export")
    msg = str(err.value)
    assert "gazenet.export.int8.calibration_method" in msg
    assert "'entropy', 'minmax' or 'percentile'" in msg and "'kl'" in msg
    with pytest.raises(ValueError, match=r"gazenet\.export\.opset"):
        ex.validate_export_params({"opset": 13}, "gazenet.export")
    with pytest.raises(ValueError, match=r"gazenet\.export\.cal_batch"):
        ex.validate_export_params({"cal_batches": 3}, "gazenet.export")


def test_ranges_table_is_a_dataframe(gaze_int8):
    assert isinstance(gaze_int8.ranges, pd.DataFrame)
    assert gaze_int8.ranges["tensor"].is_unique


def test_int8_params_map_onto_calibrate_int8_and_both_schemes(gaze_onnx, gaze_data):
    import inspect  # noqa: PLC0415

    accepted = set(inspect.signature(ex.calibrate_int8).parameters) - {"model", "calibration"}
    assert set(ex.Int8Params().calibrate_kwargs()) == accepted
    cal = ex.calibration_batches([gaze_data], cal_batches=1, cal_batch_size=16)
    both = ex.quantize_int8_schemes(
        gaze_onnx, cal, ex.Int8Params(calibration_method="minmax", cpu_reduce_range=True)
    )
    assert both["s8s8"].summary["scheme"] == "s8s8" and both["u8s8"].summary["reduce_range"]
    assert (
        both["s8s8"].summary["calibration_samples"] == both["u8s8"].summary["calibration_samples"]
    )
