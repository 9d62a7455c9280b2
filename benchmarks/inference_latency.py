"""Inference latency of the deployable formats (Keras, FP32 ONNX, both INT8 Q/DQ ONNX) on CPU.

``onnx_int8`` is the TensorRT scheme (symmetric S8S8), ``onnx_int8_cpu`` onnxruntime's CPU
scheme (U8S8), both from one calibration run.

Usage::

    python benchmarks/inference_latency.py                      # GazeNet models from the catalog
    python benchmarks/inference_latency.py --project /path/to/another/kedro/project
    python benchmarks/inference_latency.py --source random      # GazeNet 224 with random weights
    python benchmarks/inference_latency.py --family nvgaze --formats onnx onnx_int8

``--source catalog`` loads the latest ``<family>_model``, ``<family>_onnx_model`` and
``<family>_onnx_int8_model`` / ``<family>_onnx_int8_cpu_model`` of this project (run ``kedro run --pipeline <family>_export``
first); ``--source random`` builds GazeNet_public at 224x224 with random weights and exports and
quantizes it here (latency does not depend on the weights). Inputs are random tensors shaped
from the model's export interface.

Method: onnxruntime CPU sessions with ``--threads`` intra-op threads (default 2) and graph
optimization level ``all``; ``--warmup`` calls per format and batch size, then ``--rounds``
rounds that time ``--repeats`` calls of every format in turn (interleaved, so load from other
processes hits every format alike). Prints p50/p95/mean per call, samples/s, the speed-up of
each format over FP32 ONNX at the same batch size, file sizes, the load average before and
after, and the last ``<family>_export_report.csv`` (KPIs) when it exists.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(REPO / "src"))

from gaze_pipelines.core.predict import MODEL_FORMATS  # noqa: E402 - after the path set-up

CPU_FORMATS = [f for f in MODEL_FORMATS if f != "tensorrt"]  # this benchmark runs on the CPU

GAZENET_EXPORT = {
    "input_names": {
        n: f"{n}:0"
        for n in ("input_face_images", "input_left_images", "input_right_images", "input_facegrid")
    },
    "output_names": {"fc_joint": "fc_joint/concat:0"},
    "input_shapes": {"input_facegrid": [1, 625, 1]},
}


def _random_models(size: int, cal_samples: int, seed: int) -> dict:
    from gaze_pipelines.core import export as ex
    from gaze_pipelines.pipelines.gazenet.model import build_gazenet

    model = build_gazenet((size, size, 1), (size, size, 1))
    fp32 = ex.keras_to_onnx(model, **GAZENET_EXPORT)
    inputs = _random_inputs(ex.read_interface(fp32), cal_samples, seed)
    cal = ex.calibration_batches([inputs], cal_batches=max(1, cal_samples // 8), cal_batch_size=8)
    schemes = ex.quantize_int8_schemes(fp32, cal, ex.Int8Params(calibration_method="entropy"))
    int8, int8_cpu = schemes["s8s8"].model, schemes["u8s8"].model
    return {"keras": model, "onnx": fp32, "onnx_int8": int8, "onnx_int8_cpu": int8_cpu}


def _catalog_models(project: Path, family: str, formats: list[str]) -> dict:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.io.core import DatasetNotFoundError

    names = {
        "keras": [f"{family}_model@keras", f"{family}_model"],  # transcoded or plain
        "onnx": [f"{family}_onnx_model"],
        "onnx_int8": [f"{family}_onnx_int8_model"],
        "onnx_int8_cpu": [f"{family}_onnx_int8_cpu_model"],
    }
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        catalog = session.load_context().catalog
        models = {}
        for fmt in formats:
            for name in names[fmt]:
                try:
                    models[fmt] = catalog.load(name)
                    break
                except DatasetNotFoundError:
                    continue
            else:
                raise SystemExit(f"no catalog entry among {names[fmt]} in {project}")
        return models


def _random_inputs(interface, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s.source: rng.random((n, *s.source_shape), dtype=np.float32) for s in interface.inputs}


def _size_mb(fmt: str, model) -> float:
    if fmt == "keras":
        from gaze_pipelines.pipelines.export import keras_file_size

        size = keras_file_size(model)
        return size / 2**20 if size else float("nan")
    return model.ByteSize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--family", default="gazenet")
    ap.add_argument("--project", type=Path, default=REPO, help="Kedro project of --source catalog")
    ap.add_argument("--source", choices=("catalog", "random"), default="catalog")
    ap.add_argument("--size", type=int, default=224, help="image size of --source random")
    ap.add_argument(
        "--formats",
        nargs="+",
        default=CPU_FORMATS,
        choices=CPU_FORMATS,
    )
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32])
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra_op_num_threads")
    ap.add_argument("--opt-level", default="all", choices=("disable", "basic", "extended", "all"))
    ap.add_argument(
        "--no-spinning",
        action="store_true",
        help="idle onnxruntime threads sleep instead of spinning (busy machines)",
    )
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per round")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from gaze_pipelines.core import export as ex
    from gaze_pipelines.core.latency import tile_batch
    from gaze_pipelines.core.predict import KerasPredictor, OnnxPredictor

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    if args.source == "random":
        if args.family != "gazenet":
            raise SystemExit("--source random builds GazeNet only; use --source catalog")
        models = _random_models(args.size, 32, args.seed)
        models = {k: v for k, v in models.items() if k in args.formats}
    else:
        models = _catalog_models(args.project.resolve(), args.family, args.formats)
    print(f"models ready in {time.perf_counter() - t0:.1f} s", flush=True)

    onnx_any = next(
        (models[f] for f in ("onnx", "onnx_int8", "onnx_int8_cpu") if f in models), None
    )
    if onnx_any is None:
        raise SystemExit("need at least one ONNX format to know the input interface")
    interface = ex.read_interface(onnx_any)
    samples = _random_inputs(interface, max(args.batch_sizes), args.seed)
    ort_args = {
        "intra_op_num_threads": args.threads,
        "graph_optimization_level": args.opt_level,
        "allow_spinning": not args.no_spinning,
    }
    predictors = {
        fmt: KerasPredictor(m) if fmt == "keras" else OnnxPredictor(m, **ort_args)
        for fmt, m in models.items()
    }
    rows = []
    for batch_size in args.batch_sizes:
        batch = tile_batch(samples, batch_size)
        for pred in predictors.values():
            for _ in range(args.warmup):
                pred.predict(batch)
        times: dict[str, list[float]] = {fmt: [] for fmt in predictors}
        for _ in range(args.rounds):
            for fmt, pred in predictors.items():
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    pred.predict(batch)
                    times[fmt].append((time.perf_counter() - start) * 1e3)
        for fmt, values in times.items():
            arr = np.asarray(values)
            rows.append(
                (
                    fmt,
                    batch_size,
                    np.percentile(arr, 50),
                    np.percentile(arr, 95),
                    arr.mean(),
                    batch_size * 1e3 / np.percentile(arr, 50),
                    len(arr),
                )
            )
    load_after = os.getloadavg()

    p50 = {(r[0], r[1]): r[2] for r in rows}
    print(
        f"\n{args.family} ({args.source}), onnxruntime intra_op_num_threads={args.threads}, "
        f"graph_optimization_level={args.opt_level}, allow_spinning={not args.no_spinning}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        "(> number of CPUs: other processes competed; compare ratios, not absolute times)"
    )
    header = (
        f"{'format':14s} {'batch':>5s} {'p50 ms':>9s} {'p95 ms':>9s} {'mean ms':>9s} "
        f"{'samples/s':>10s} {'calls':>6s} {'x vs onnx':>9s} {'MB':>8s}"
    )
    print(header)
    print("-" * len(header))
    for fmt, b, m50, m95, mean, sps, calls in rows:
        base = p50.get(("onnx", b))
        speed = f"{base / m50:9.2f}" if base else f"{'-':>9s}"
        print(
            f"{fmt:14s} {b:5d} {m50:9.2f} {m95:9.2f} {mean:9.2f} {sps:10.1f} {calls:6d} "
            f"{speed} {_size_mb(fmt, models[fmt]):8.2f}"
        )

    parity_inputs = tile_batch(samples, min(8, max(args.batch_sizes)))
    if "onnx" in predictors and "keras" in predictors:
        diff = ex.check_parity(predictors["keras"], predictors["onnx"], parity_inputs)
        print(
            f"\nFP32 ONNX vs Keras on {diff['samples']} random samples: "
            f"max abs diff {diff['max_abs_diff']:.3g}"
        )
    if "onnx_int8" in predictors and "onnx" in predictors:
        diff = ex.check_parity(predictors["onnx"], predictors["onnx_int8"], parity_inputs)
        print(
            f"INT8 vs FP32 ONNX on {diff['samples']} random samples: "
            f"max abs diff {diff['max_abs_diff']:.3g}, mean {diff['mean_abs_diff']:.3g}"
        )

    report = args.project / "data" / "08_reporting" / args.family / "export_report.csv"
    if args.source == "catalog" and report.is_file():
        import pandas as pd

        print(f"\nlast export report ({report}):")
        with pd.option_context("display.width", 200, "display.max_columns", 40):
            print(pd.read_csv(report).to_string(index=False))


if __name__ == "__main__":
    main()
