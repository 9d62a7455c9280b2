"""Diagnostic: INT8 quantization schemes on onnxruntime's CPU provider, GestureNet ResNet.

The export core quantizes for TensorRT (DESIGN.md section 6): symmetric QInt8 activations and
weights. On onnxruntime's x86 CPU provider that graph is barely faster than FP32: with a zero
point of 0 a ReLU between a convolution and its QuantizeLinear cannot be folded into the
quantized range, so every Conv+ReLU stays a float convolution wrapped in Q/DQ (see the op counts
printed). onnxruntime's own x86 recipe, asymmetric QUInt8 activations (ranges from the observed
min/max, ReLU outputs start at 0) with per-channel QInt8 weights, fuses every convolution into
``QLinearConv``. This script measures both against FP32 on the same model, inputs and threads,
and scores each on data.json's KPI set with GestureNet's KPI code, so the export core can decide
whether to offer a CPU scheme. Pipelines do not use it.

Usage::

    python benchmarks/gesturenet_int8_schemes.py --project /path/to/kedro/project   # trained model
    python benchmarks/gesturenet_int8_schemes.py --source random                    # random weights
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))


def _u8s8(fp32, calibration, input_name: str):
    """onnxruntime's x86 recipe: QDQ, QUInt8 asymmetric activations, per-channel QInt8 weights."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from gaze_pipelines.core.export import preprocess_for_quantization

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(
                [{input_name: b["input_1"].transpose(0, 3, 1, 2)} for b in calibration]
            )

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "u8s8.onnx"
        onnx.save(preprocess_for_quantization(fp32), str(src))
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        return onnx.load(str(dst))


def _fused_ops(model) -> dict[str, int]:
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        so.log_severity_level = 3
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        ops = collections.Counter(
            n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node
        )
    return {k: ops.get(k, 0) for k in ("Conv", "QLinearConv", "DequantizeLinear")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--source", choices=("catalog", "random"), default="catalog")
    ap.add_argument("--project", type=Path, default=REPO)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()

    from gesturenet_throughput import _catalog_model, _crops

    from gaze_pipelines.core import export as ex
    from gaze_pipelines.core.latency import measure_latency
    from gaze_pipelines.core.predict import OnnxPredictor
    from gaze_pipelines.datasets.gesturenet import GestureTree
    from gaze_pipelines.pipelines.gesturenet.model import build_resnet
    from gaze_pipelines.pipelines.gesturenet.nodes_evaluate import kpis_of

    model = _catalog_model(args.project) if args.source == "catalog" else build_resnet(18)
    size = int(model.input_shape[1])
    pixels = _crops(args.project, size, 160, 0)
    if pixels is None:
        pixels = np.random.default_rng(0).uniform(0, 255, (160, size, size, 3)).astype(np.float32)
    cal = ex.calibration_batches([{"input_1": pixels}], 10, 16)
    fp32 = ex.keras_to_onnx(model, opset=17)
    schemes = {
        "fp32": fp32,
        "int8_core_s8s8": ex.quantize_int8(fp32, cal, method="entropy").model,
        "int8_ort_u8s8": _u8s8(fp32, cal, fp32.graph.input[0].name),
    }
    data_json = args.project / "data" / "05_model_input" / "gesturenet" / "data.json"
    score = None
    if args.source == "catalog" and data_json.is_file():
        data = json.loads(data_json.read_text())
        crops = GestureTree(str(args.project / "data" / "01_raw" / "gesturenet"))
        train = {"model_config": {"image_height": size, "image_width": size}}

        def score(pred):
            return kpis_of(pred, data, crops, train, {"data_type": "kpi_set"})

    print(
        f"\nload average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, intra_op_num_threads={args.threads}"
    )
    print(
        f"{'scheme':16s} {'Conv':>5s} {'QLinearConv':>11s} {'DQ':>4s} {'b32 p50 ms':>11s} {'images/s':>9s} {'macro F1':>9s}"
    )
    for name, onnx_model in schemes.items():
        pred = OnnxPredictor(onnx_model, intra_op_num_threads=args.threads)
        t = measure_latency(
            pred, {"input_1": pixels[:32]}, batch_sizes=[32], warmup=2, repeats=args.repeats
        )
        ops = _fused_ops(onnx_model)
        f1 = f"{score(pred)['macro_f1']:.4f}" if score else "-"
        print(
            f"{name:16s} {ops['Conv']:5d} {ops['QLinearConv']:11d} {ops['DequantizeLinear']:4d} "
            f"{t.p50_ms[0]:11.1f} {t.samples_per_s[0]:9.1f} {f1:>9s}"
        )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
