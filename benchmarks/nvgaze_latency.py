"""Batch-1 latency of the NvGaze 127x127 network: Keras, ONNX FP32 and INT8, plain vs cleaned-up graph.

INT8 comes in the export core's two schemes from one calibration: ``int8`` = TensorRT's
symmetric S8S8 (``onnx_int8``), ``u8s8`` = onnxruntime's CPU scheme (``onnx_int8_cpu``).

Usage::

    python benchmarks/nvgaze_latency.py [--model data/06_models/nvgaze/nvgaze.keras/<version>/nvgaze.keras]
        [--threads 1 2] [--batch 1 32] [--repeats 500] [--calibration data/05_model_input/nvgaze/merged_train.h5]

Without ``--model`` a freshly initialised network of the default configuration is timed (latency
does not depend on the weights); without ``--calibration`` INT8 ranges come from random pixels.
Prints one row per (graph, precision, threads, batch): p50 / p95 / min milliseconds and frames/s,
plus the CPU count and load average, because the timings are only as quiet as the machine.
``api`` says what was timed: ``predictor`` is the project's ``OnnxPredictor.predict`` (Keras
names and NHWC layout in, so a transpose and copies in Python per call); ``session`` is
``InferenceSession.run`` on a frame already in the model's NCHW float32 layout, what a
deployment calls per camera frame.
``--compare A.keras B.keras ...`` instead times the cleaned-up U8S8 graph of several trained models
interleaved (``--rounds`` rounds, each running every model in turn), so a shared host's changing
speed hits them alike; it prints the p50 of each round and their median.
Conversions go through the export core (``core.export``), the clean-up is
``pipelines.nvgaze.onnx_optimize``; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _calibration(path: str | None) -> list[dict[str, np.ndarray]]:
    """The INT8 calibration batches ``nvgaze_export`` uses (from an H5 file), else random pixels."""
    from gaze_pipelines.core.export import calibration_batches  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.model import INPUT_NAME  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams  # noqa: PLC0415

    if path:
        from gaze_pipelines.datasets.h5 import read_nvgaze_h5  # noqa: PLC0415
        from gaze_pipelines.pipelines.nvgaze.nodes_export import (  # noqa: PLC0415
            make_calibration_batches,
        )

        return make_calibration_batches(read_nvgaze_h5(path), {})
    cal = NvGazeParams().export.int8
    n = cal.cal_batches * cal.cal_batch_size
    pixels = np.random.default_rng(0).uniform(0, 255, (n, 127, 127, 1)).astype(np.float32)
    return calibration_batches(({INPUT_NAME: pixels},), cal.cal_batches, cal.cal_batch_size)


def _graphs(model, batches: list[dict[str, np.ndarray]], graphs=("plain", "clean")) -> dict:
    """``{(graph, precision): onnx}``: tf2onnx's graph and the cleaned-up one, FP32 and both INT8."""
    from gaze_pipelines.core.export import keras_to_onnx, quantize_int8_schemes  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.onnx_optimize import optimize_onnx  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams  # noqa: PLC0415

    params = NvGazeParams()
    plain = keras_to_onnx(model, opset=params.export.opset)
    fp32 = {"plain": plain, "clean": optimize_onnx(plain, model)}
    out = {}
    for graph in graphs:
        schemes = quantize_int8_schemes(fp32[graph], batches, params.export.int8)
        out[(graph, "fp32")] = fp32[graph]
        out[(graph, "int8")] = schemes["s8s8"].model
        out[(graph, "u8s8")] = schemes["u8s8"].model
    return out


def _session_times(session, nchw: np.ndarray, warmup: int, repeats: int) -> np.ndarray:
    """Milliseconds of ``session.run`` on a frame already in the model's layout."""
    feed = {session.get_inputs()[0].name: nchw}
    for _ in range(warmup):
        session.run(None, feed)
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times[i] = (time.perf_counter() - start) * 1e3
    return times


def _compare(args: argparse.Namespace) -> None:
    """U8S8 session latency of several models, interleaved round by round."""
    import keras  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    batches = _calibration(args.calibration)
    graphs = {
        path: _graphs(keras.models.load_model(path, compile=False), batches, ("clean",))[
            ("clean", "u8s8")
        ]
        for path in args.compare
    }
    nchw = np.ascontiguousarray(batches[0]["image"][:1].transpose(0, 3, 1, 2), np.float32)
    rows = []
    for threads in args.threads:
        sessions = {}
        for path, graph in graphs.items():
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            sessions[path] = ort.InferenceSession(
                graph.SerializeToString(), so, providers=["CPUExecutionProvider"]
            )
        p50s: dict[str, list[float]] = {path: [] for path in graphs}
        mins: dict[str, float] = dict.fromkeys(graphs, float("inf"))
        for _ in range(args.rounds):
            for path, session in sessions.items():
                t = _session_times(session, nchw, args.warmup, args.repeats)
                p50s[path].append(float(np.percentile(t, 50)))
                mins[path] = min(mins[path], float(t.min()))
        rows += [(path, threads, p50s[path], mins[path]) for path in graphs]
    load = os.getloadavg()
    print(
        f"NvGaze 127x127 INT8 U8S8 latency, interleaved  ({time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"{args.rounds} rounds x {args.repeats} runs, batch 1, InferenceSession.run)"
    )
    for path, threads, p50, mn in rows:
        rounds = " ".join(f"{v:.3f}" for v in p50)
        print(
            f"threads {threads}  median p50 {np.median(p50):.3f} ms  min {mn:.3f} ms  "
            f"rounds [{rounds}]  {path}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--model", help=".keras file of a trained model (default: untrained default net)"
    )
    ap.add_argument(
        "--calibration", help="H5 file whose images calibrate INT8 (default: random pixels)"
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument(
        "--compare",
        nargs="+",
        metavar="MODEL",
        help=".keras files: time their U8S8 graphs interleaved instead (see above)",
    )
    ap.add_argument("--rounds", type=int, default=5, help="rounds of --compare")
    args = ap.parse_args()
    if args.compare:
        _compare(args)
        return

    import keras  # noqa: PLC0415

    from gaze_pipelines.core.latency import measure_latency  # noqa: PLC0415
    from gaze_pipelines.core.predict import KerasPredictor, OnnxPredictor  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.model import build_model  # noqa: PLC0415
    from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams  # noqa: PLC0415

    model = (
        keras.models.load_model(args.model, compile=False)
        if args.model
        else build_model(NvGazeParams().train)
    )
    batches = _calibration(args.calibration)
    cal = np.concatenate([b["image"] for b in batches])
    formats = _graphs(model, batches)
    plain, clean = formats[("plain", "fp32")], formats[("clean", "fp32")]
    sample = {"image": cal[:32]}
    rows = []
    for threads in args.threads:
        for (graph, precision), onnx_model in formats.items():
            pred = OnnxPredictor(onnx_model, intra_op_num_threads=threads)
            lat = measure_latency(
                pred, sample, batch_sizes=args.batch, warmup=args.warmup, repeats=args.repeats
            )
            for r in lat.itertuples():
                rows.append(
                    (
                        graph,
                        precision,
                        "predictor",
                        threads,
                        r.batch_size,
                        r.p50_ms,
                        r.p95_ms,
                        r.min_ms,
                        r.samples_per_s,
                    )
                )
            for batch in args.batch:
                nchw = np.ascontiguousarray(cal[:batch].transpose(0, 3, 1, 2), np.float32)
                t = _session_times(pred.session, nchw, args.warmup, args.repeats)
                p50 = float(np.percentile(t, 50))
                rows.append(
                    (graph, precision, "session", threads, batch, p50,
                     float(np.percentile(t, 95)), float(t.min()), batch * 1e3 / p50)
                )  # fmt: skip
    keras_lat = measure_latency(
        KerasPredictor(model),
        sample,
        batch_sizes=args.batch,
        warmup=5,
        repeats=max(20, args.repeats // 10),
    )
    for r in keras_lat.itertuples():
        rows.append(
            (
                "keras",
                "fp32",
                "predictor",
                "tf",
                r.batch_size,
                r.p50_ms,
                r.p95_ms,
                r.min_ms,
                r.samples_per_s,
            )
        )
    load = os.getloadavg()
    print(
        f"NvGaze 127x127 latency  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; model: {args.model or 'untrained default'})"
    )
    print(f"nodes: plain {len(plain.graph.node)}, clean {len(clean.graph.node)}")
    header = f"{'graph':<6} {'prec':<5} {'api':<9} {'threads':>7} {'batch':>5} {'p50 ms':>8} {'p95 ms':>8} {'min ms':>8} {'frames/s':>9}"
    print(header)
    print("-" * len(header))
    for g, p, api, t, b, p50, p95, mn, fps in rows:
        print(
            f"{g:<6} {p:<5} {api:<9} {t!s:>7} {b:>5} {p50:>8.3f} {p95:>8.3f} {mn:>8.3f} {fps:>9.0f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
