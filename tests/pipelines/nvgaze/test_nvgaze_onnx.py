"""NvGaze ONNX clean-up: fused instance norms and folded input scaling give identical outputs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnxruntime as ort
import pytest

from gaze_pipelines.core.export import (
    Int8Params,
    keras_to_onnx,
    quantize_int8_schemes,
    read_interface,
)
from gaze_pipelines.pipelines.nvgaze.model import build_model
from gaze_pipelines.pipelines.nvgaze.onnx_optimize import optimize_onnx
from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams, TrainParams

NET = {
    "input_resolution": (31, 31),
    "strides": [2, 2, 2, 2],
    "kernel_sizes": [3, 3, 3, 3],
    "output_channel_counts": [6, 8, 8, 8],
}


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {model.graph.input[0].name: x})[0]


@pytest.mark.parametrize("norm_layers", [2, 4])
def test_optimized_graph_is_smaller_and_identical(norm_layers):
    params = TrainParams(  # NvGaze's layout
        **NET,
        input_norm=False,
        instance_norm_layers=norm_layers,
        batch_norm_layers=0,
        dropout=0.0,
    )
    keras_model = build_model(params)
    plain = keras_to_onnx(keras_model, opset=17)
    better = optimize_onnx(plain, keras_model)
    ops = Counter(n.op_type for n in better.graph.node)
    assert ops["InstanceNormalization"] == norm_layers
    assert "GlobalAveragePool" not in ops and "Reciprocal" not in ops
    first = next(n for n in better.graph.node if n.op_type == "Conv")
    assert first.input[0] == better.graph.input[0].name  # input scaling folded into conv1
    assert len(better.graph.node) < len(plain.graph.node)
    x = np.random.default_rng(1).uniform(0, 255, (3, 1, 31, 31)).astype(np.float32)  # NCHW
    np.testing.assert_allclose(_run(better, x), _run(plain, x), rtol=1e-4, atol=1e-3)
    keras_out = np.asarray(keras_model(x.transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(_run(better, x), keras_out, rtol=1e-4, atol=1e-3)
    assert read_interface(better) == read_interface(plain)


def test_batch_norm_layers_fold_into_the_convolutions():
    params = TrainParams(
        **NET,
        input_norm=False,
        instance_norm_layers=1,
        batch_norm_layers=2,
        dropout=0.0,
    )
    keras_model = build_model(params)
    names = [layer.name for layer in keras_model.layers]
    assert [n for n in names if n.startswith(("instance_norm", "batch_norm"))] == [
        "instance_norm1",
        "batch_norm2",
        "batch_norm3",
    ]
    # conv -> BN -> ReLU
    assert names.index("conv2") < names.index("batch_norm2") < names.index("relu2")
    rng = np.random.default_rng(0)
    for layer in keras_model.layers:  # trained-looking statistics, so folding is not trivial
        if layer.name.startswith("batch_norm"):
            shapes = [w.shape for w in layer.get_weights()]
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, shapes[0]),
                    rng.normal(0, 0.5, shapes[1]),
                    rng.normal(0, 0.5, shapes[2]),
                    rng.uniform(0.5, 2, shapes[3]),
                ]
            )
    better = optimize_onnx(keras_to_onnx(keras_model, opset=17), keras_model)
    ops = Counter(n.op_type for n in better.graph.node)
    assert ops["InstanceNormalization"] == 1 and "BatchNormalization" not in ops
    assert ops["Conv"] == 4 and ops["Relu"] == 4
    x = rng.uniform(0, 255, (3, 1, 31, 31)).astype(np.float32)
    keras_out = np.asarray(keras_model(x.transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(_run(better, x), keras_out, rtol=1e-4, atol=1e-3)
    # the INT8 models carry the batch norms inside their convolutions: no Mul / Add left
    cal = [{"image": rng.uniform(0, 255, (4, 31, 31, 1)).astype(np.float32)} for _ in range(2)]
    for result in quantize_int8_schemes(
        better, cal, Int8Params(cal_batches=2, cal_batch_size=4)
    ).values():
        q_ops = Counter(n.op_type for n in result.model.graph.node)
        assert q_ops["Conv"] == 4 and "Mul" not in q_ops and "Add" not in q_ops, q_ops


def test_default_layout_is_input_norm_then_batch_norms_and_all_convs_quantize():
    params = TrainParams(**NET, dropout=0.0)  # the default layout
    assert params.input_norm and params.instance_norm_layers == 0
    assert params.batch_norm_layers is None and params.batch_norm_count == 4  # null: all convs
    keras_model = build_model(params)
    names = [layer.name for layer in keras_model.layers]
    assert "normalize" not in names and names[1] == "instance_norm0"
    assert [n for n in names if n.startswith("batch_norm")] == [
        f"batch_norm{i}" for i in range(1, 5)
    ]
    # null fills the convolutions after the instance-norm ones
    assert TrainParams(**NET, instance_norm_layers=3).batch_norm_count == 1
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (3, 1, 31, 31)).astype(np.float32)
    keras_out = np.asarray(keras_model(x.transpose(0, 2, 3, 1), training=False))
    # brightness and contrast do not change the output (per image: 0.5 x + 40, 2 x - 100)
    gains = np.array([0.5, 2.0, 1.0], np.float32).reshape(3, 1, 1, 1)
    offsets = np.array([40.0, -100.0, 0.0], np.float32).reshape(3, 1, 1, 1)
    moved = np.asarray(keras_model((x * gains + offsets).transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(moved, keras_out, rtol=1e-4, atol=1e-4)
    better = optimize_onnx(keras_to_onnx(keras_model, opset=17), keras_model)
    ops = [n.op_type for n in better.graph.node]
    assert ops[0] == "InstanceNormalization" and ops.count("InstanceNormalization") == 1
    assert better.graph.node[0].input[0] == better.graph.input[0].name
    np.testing.assert_allclose(_run(better, x), keras_out, rtol=1e-4, atol=1e-3)
    # every convolution is quantized: one float op (the input norm) before the INT8 chain
    cal = [{"image": rng.uniform(0, 255, (4, 31, 31, 1)).astype(np.float32)} for _ in range(2)]
    for scheme, result in quantize_int8_schemes(
        better, cal, Int8Params(cal_batches=2, cal_batch_size=4)
    ).items():
        q_ops = Counter(n.op_type for n in result.model.graph.node)
        conv_inputs = [
            n.input[0] for n in result.model.graph.node if n.op_type == "Conv"
        ]  # QDQ form: every Conv reads a DequantizeLinear output
        producers = {o: n.op_type for n in result.model.graph.node for o in n.output}
        assert q_ops["Conv"] == 4, (scheme, q_ops)
        assert all(producers[i] == "DequantizeLinear" for i in conv_inputs), scheme
    # the shipped export settings keep conv1 (one channel in) in float: conv2 onwards is one chain
    shipped = NvGazeParams().export.int8.model_copy(update={"cal_batches": 2, "cal_batch_size": 4})
    u8s8 = quantize_int8_schemes(better, cal, shipped)["u8s8"].model
    producers = {o: n.op_type for n in u8s8.graph.node for o in n.output}
    sources = [producers.get(n.input[0]) for n in u8s8.graph.node if n.op_type == "Conv"]
    assert sources == ["InstanceNormalization"] + ["DequantizeLinear"] * 3


def test_normalisation_layers_must_fit_the_network():
    with pytest.raises(ValueError, match="exceed the 4 convolutions"):
        TrainParams(
            **NET,
            instance_norm_layers=2,
            batch_norm_layers=3,
        )
