"""Kedro side of the export core: node functions and the ``<model>_export`` pipeline factories.

A family plugs in with three things (see ``pipelines/gazenet/nodes_export.py``):

1. a node producing ``<family>_calibration_batches``: a list of input dicts (Keras input names,
   Keras layout), ``cal_batches`` x ``cal_batch_size`` samples of the training split (use
   ``core.export.calibration_batches`` to re-batch a stream);
2. a KPI function ``evaluate(predictor, *evaluate_inputs) -> {kpi: value}`` running the family's
   own KPI code on any ``Predictor``;
3. catalog entries (datasets named below, ``export_dataset_names``) and a ``<family>.export``
   parameter section (``core.export.ExportParams``; register it for start-up validation with
   ``PARAMS_MODELS = {"<family>.export": ExportParams}`` in a ``params*.py`` of the family).

``create_export_pipeline(family, evaluate=..., evaluate_inputs=[...])`` then returns the nodes

    <family>_model --export_onnx--> <family>_onnx_model --quantize--> <family>_onnx_int8_model
                                                                     + <family>_int8_calibration_ranges
                                                                     + <family>_onnx_int8_cpu_model
                                                                     + <family>_int8_cpu_calibration_ranges
    parity + KPIs + latency of keras / onnx / onnx_int8 / onnx_int8_cpu --> <family>_export_report

``onnx_int8`` is the symmetric S8S8 Q/DQ model (all zero points 0) that TensorRT builds its INT8
engine from; ``onnx_int8_cpu`` is onnxruntime's x86 scheme (U8S8: asymmetric uint8 activations,
symmetric int8 weights) for CPU deployment, from the same calibration run.

and ``create_tensorrt_export_pipeline(family, ...)`` the TensorRT stage
(``<family>_tensorrt_fp16_engine``, ``<family>_tensorrt_int8_engine``,
``<family>_export_report_tensorrt``), which fails with a message naming what is missing when
the ``tensorrt`` extra or a GPU is absent. Register it as ``<family>_export_tensorrt`` and keep
it out of the family's ``create_pipeline()`` sum, so ``kedro run --pipeline <family>`` works on
machines without a GPU. Both engines are built; ``tensorrt.precisions`` picks the report rows.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node

from gaze_pipelines.core.export import (
    ExportParams,
    TensorRTEngine,
    build_tensorrt_engine,
    compare_formats,
    float64_outputs,
    keras_to_onnx,
    parity_stats,
    quantize_int8_schemes,
    report_markdown,
    require_tensorrt,
    to_fp16_onnx,
    validate_export_params,
)
from gaze_pipelines.core.predict import KerasPredictor, OnnxPredictor, TensorRTPredictor

logger = logging.getLogger(__name__)


def _params(raw: Mapping[str, Any] | ExportParams, family: str) -> ExportParams:
    return validate_export_params(raw, f"{family}.export")


def _samples(batches: Sequence[Mapping[str, np.ndarray]], n: int) -> dict[str, np.ndarray]:
    keys = list(batches[0])
    joined = {k: np.concatenate([np.asarray(b[k]) for b in batches], axis=0)[:n] for k in keys}
    return joined


def keras_file_size(model: Any) -> int | None:
    """Size in bytes of the model saved as ``.keras`` (a temporary file, for the report)."""
    try:
        with tempfile.TemporaryDirectory(prefix="gp_size_") as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            return path.stat().st_size
    except Exception as exc:  # a report column must not fail the export
        logger.warning("could not measure the Keras model size: %s", exc)
        return None


def export_onnx(model: Any, params: Mapping[str, Any], family: str = "model") -> Any:
    """Convert the trained Keras model to ONNX with the family's deployment interface."""
    p = _params(params, family)
    return keras_to_onnx(model, opset=p.opset, **p.interface_kwargs())


def onnx_parity(
    model: Any,
    onnx_model: Any,
    calibration: list[dict[str, np.ndarray]],
    params: Mapping[str, Any],
    family: str = "model",
) -> dict[str, float]:
    """Compare FP32 ONNX to Keras outputs; fail when beyond ``parity_tolerance`` (scaled by |y|).

    Also records both FP32 models' distance to a float64 twin of the Keras model, which tells
    float32 round-off (both drift from it alike) from an export error.
    """
    p = _params(params, family)
    samples = _samples(calibration, p.benchmark.samples)
    ref = KerasPredictor(model).predict(samples)
    got = OnnxPredictor(onnx_model, intra_op_num_threads=p.benchmark.intra_op_num_threads).predict(
        samples
    )
    result = parity_stats(ref, got)
    ref_scale = float(np.abs(ref).max())
    allowed = p.parity_tolerance * max(1.0, ref_scale)
    result.update(
        {
            "tolerance": allowed,
            "output_abs_max": ref_scale,
            "output_abs_max_per_output": np.abs(ref).reshape(len(ref), -1).max(axis=0).tolist(),
            "passed": result["max_abs_diff"] <= allowed,
        }
    )
    result.update(_float64_check(model, samples, ref, got))
    if not result["passed"]:
        raise ValueError(
            f"{family}: ONNX output differs from Keras by {result['max_abs_diff']:.3g} "
            f"(allowed {allowed:.3g} = parity_tolerance x max(1, |y|max)); the export is wrong"
        )
    logger.info(
        "%s ONNX parity: max abs diff %.3g (allowed %.3g); float64 reference: Keras FP32 off by "
        "%.3g, ONNX FP32 by %.3g",
        family,
        result["max_abs_diff"],
        allowed,
        result.get("keras_vs_float64_max_abs", float("nan")),
        result.get("onnx_vs_float64_max_abs", float("nan")),
    )
    return result


def _float64_check(
    model: Any, samples: Mapping[str, np.ndarray], keras_out: np.ndarray, onnx_out: np.ndarray
) -> dict[str, Any]:
    """Distance of the Keras and ONNX FP32 outputs to the float64 model's outputs."""
    try:
        exact = float64_outputs(model, samples)
    except Exception as exc:  # a diagnostic column must not fail the export
        logger.warning("float64 reference unavailable (%s); parity without it", exc)
        return {"float64_reference": False}
    keras_err, onnx_err = parity_stats(exact, keras_out), parity_stats(exact, onnx_out)
    return {
        "float64_reference": True,
        "keras_vs_float64_max_abs": keras_err["max_abs_diff"],
        "onnx_vs_float64_max_abs": onnx_err["max_abs_diff"],
        "keras_vs_float64_per_output": keras_err["max_abs_diff_per_output"],
        "onnx_vs_float64_per_output": onnx_err["max_abs_diff_per_output"],
    }


def quantize_onnx(
    onnx_model: Any,
    calibration: list[dict[str, np.ndarray]],
    params: Mapping[str, Any],
    family: str = "model",
) -> tuple[Any, pd.DataFrame, Any, pd.DataFrame]:
    """INT8 Q/DQ models from one calibration run: TensorRT's S8S8 and onnxruntime CPU's U8S8."""
    results = quantize_int8_schemes(onnx_model, calibration, _params(params, family).int8)
    s8s8, u8s8 = results["s8s8"], results["u8s8"]
    return s8s8.model, s8s8.ranges, u8s8.model, u8s8.ranges


def _formats_report(
    family: str,
    models: dict[str, Any],
    evaluate: Callable[..., Mapping[str, float]],
    evaluate_inputs: tuple[Any, ...],
    calibration: list[dict[str, np.ndarray]],
    params: Mapping[str, Any],
) -> tuple[pd.DataFrame, str]:
    """Predictors, sizes and the ``compare_formats`` report of ``{format: loaded model}``."""
    p = _params(params, family)
    ort_args = {
        "intra_op_num_threads": p.benchmark.intra_op_num_threads,
        "graph_optimization_level": p.benchmark.graph_optimization_level,
        "allow_spinning": p.benchmark.allow_spinning,
    }
    predictors: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    for fmt, model in models.items():
        if fmt == "keras":
            predictors[fmt], size = KerasPredictor(model), keras_file_size(model)
        elif fmt.startswith("tensorrt"):
            predictors[fmt], size = TensorRTPredictor(model), len(model.engine)
        else:
            predictors[fmt], size = OnnxPredictor(model, **ort_args), model.ByteSize()
        if size is not None:
            sizes[fmt] = size
    samples = _samples(calibration, p.benchmark.samples)
    report = compare_formats(
        predictors,
        lambda pred: evaluate(pred, *evaluate_inputs),
        samples,
        reference="keras",
        file_sizes=sizes,
        batch_sizes=p.benchmark.batch_sizes,
        warmup=p.benchmark.warmup,
        repeats=p.benchmark.repeats,
        kpi_tolerance=p.int8_kpi_tolerance,
    )
    report.insert(1, "intra_op_num_threads", p.benchmark.intra_op_num_threads)
    report.insert(2, "allow_spinning", p.benchmark.allow_spinning)
    _log_int8_verdict(report, family, p)
    title = f"{family} export: " + " vs ".join(models)
    return report, report_markdown(report, title)


def make_compare_node_func(evaluate: Callable[..., Mapping[str, float]], family: str) -> Callable:
    """Node function: KPIs, deltas, parity, latency and size of keras / onnx / the INT8 models."""

    def compare_export_formats(
        model: Any,
        onnx_model: Any,
        int8_model: Any,
        int8_cpu_model: Any,
        calibration: list[dict[str, np.ndarray]],
        params: Mapping[str, Any],
        *evaluate_inputs: Any,
    ) -> tuple[pd.DataFrame, str]:
        """Side-by-side report of the Keras, FP32 ONNX and both INT8 ONNX models."""
        models = {
            "keras": model,
            "onnx": onnx_model,
            "onnx_int8": int8_model,
            "onnx_int8_cpu": int8_cpu_model,
        }
        return _formats_report(family, models, evaluate, evaluate_inputs, calibration, params)

    compare_export_formats.__name__ = f"compare_{family}_export_formats"
    return compare_export_formats


def _log_int8_verdict(report: pd.DataFrame, family: str, p: ExportParams) -> None:
    for row in report.itertuples():
        if "int8" in row.format and not row.kpi_within_tolerance:
            logger.warning(
                "%s %s: KPIs outside %.1f%% of Keras; see the export report",
                family,
                row.format,
                100 * p.int8_kpi_tolerance,
            )


def fp16_onnx(onnx_model: Any) -> Any:
    """FP16 ONNX graph (FP32 I/O) for the strongly typed FP16 TensorRT engine."""
    require_tensorrt()  # the first node of the TensorRT stage: fail before any work
    return to_fp16_onnx(onnx_model)


def build_engine(
    onnx_model: Any, params: Mapping[str, Any], precision: str, family: str = "model"
) -> TensorRTEngine:
    """Strongly typed TensorRT engine; fails naming what is missing without TensorRT/GPU."""
    p = _params(params, family).tensorrt
    return build_tensorrt_engine(
        onnx_model,
        precision=precision,
        max_batch_size=p.max_batch_size,
        opt_batch_size=p.opt_batch_size,
        min_batch_size=p.min_batch_size,
        workspace_mib=p.workspace_mib,
    )


def make_tensorrt_compare_node_func(
    evaluate: Callable[..., Mapping[str, float]], family: str
) -> Callable:
    """Node function: the export report extended with the TensorRT engines."""

    def compare_tensorrt_formats(
        model: Any,
        onnx_model: Any,
        int8_model: Any,
        fp16_engine: TensorRTEngine,
        int8_engine: TensorRTEngine,
        calibration: list[dict[str, np.ndarray]],
        params: Mapping[str, Any],
        *evaluate_inputs: Any,
    ) -> tuple[pd.DataFrame, str]:
        """Side-by-side report of Keras, ONNX, INT8 ONNX and the TensorRT FP16/INT8 engines."""
        engines = {"fp16": fp16_engine, "int8": int8_engine}
        wanted = _params(params, family).tensorrt.precisions
        models = {"keras": model, "onnx": onnx_model, "onnx_int8": int8_model}
        models.update({f"tensorrt_{k}": v for k, v in engines.items() if k in wanted})
        return _formats_report(family, models, evaluate, evaluate_inputs, calibration, params)

    compare_tensorrt_formats.__name__ = f"compare_{family}_tensorrt_formats"
    return compare_tensorrt_formats


def _bind(func: Callable, **kwargs: Any) -> Callable:
    """``func`` with keyword arguments fixed, keeping a readable name for Kedro."""

    def bound(*args: Any) -> Any:
        return func(*args, **kwargs)

    bound.__name__ = func.__name__
    bound.__doc__ = func.__doc__
    return bound


def export_dataset_names(family: str) -> dict[str, str]:
    """The catalog names the export pipelines read and write for ``family``."""
    return {
        "model": f"{family}_model",
        "calibration": f"{family}_calibration_batches",
        "params": f"params:{family}.export",
        "onnx": f"{family}_onnx_model",
        "parity": f"{family}_onnx_parity",
        "int8": f"{family}_onnx_int8_model",
        "ranges": f"{family}_int8_calibration_ranges",
        "int8_cpu": f"{family}_onnx_int8_cpu_model",
        "ranges_cpu": f"{family}_int8_cpu_calibration_ranges",
        "report": f"{family}_export_report",
        "report_md": f"{family}_export_report_md",
        "onnx_fp16": f"{family}_onnx_fp16_model",
        "engine_fp16": f"{family}_tensorrt_fp16_engine",
        "engine_int8": f"{family}_tensorrt_int8_engine",
        "report_tensorrt": f"{family}_export_report_tensorrt",
        "report_tensorrt_md": f"{family}_export_report_tensorrt_md",
    }


def create_export_pipeline(
    family: str,
    *,
    evaluate: Callable[..., Mapping[str, float]],
    evaluate_inputs: Sequence[str] = (),
    model: str | None = None,
    calibration: str | None = None,
) -> Pipeline:
    """``<family>_export``: ONNX, parity check, INT8 Q/DQ + ranges, comparison report."""
    n = export_dataset_names(family)
    model = model or n["model"]
    calibration = calibration or n["calibration"]
    tags = {f"{family}_export"}
    return Pipeline(
        [
            node(
                _bind(export_onnx, family=family),
                [model, n["params"]],
                n["onnx"],
                name=f"{family}_export_onnx",
                tags=tags,
            ),
            node(
                _bind(onnx_parity, family=family),
                [model, n["onnx"], calibration, n["params"]],
                n["parity"],
                name=f"{family}_onnx_parity",
                tags=tags,
            ),
            node(
                _bind(quantize_onnx, family=family),
                [n["onnx"], calibration, n["params"]],
                [n["int8"], n["ranges"], n["int8_cpu"], n["ranges_cpu"]],
                name=f"{family}_quantize_int8",
                tags=tags,
            ),
            node(
                make_compare_node_func(evaluate, family),
                [
                    model,
                    n["onnx"],
                    n["int8"],
                    n["int8_cpu"],
                    calibration,
                    n["params"],
                    *evaluate_inputs,
                ],
                [n["report"], n["report_md"]],
                name=f"{family}_compare_formats",
                tags=tags,
            ),
        ]
    )


def create_tensorrt_export_pipeline(
    family: str,
    *,
    evaluate: Callable[..., Mapping[str, float]],
    evaluate_inputs: Sequence[str] = (),
    model: str | None = None,
    calibration: str | None = None,
) -> Pipeline:
    """``<family>_export_tensorrt``: FP16 and INT8 engines from the exported ONNX models + report."""
    n = export_dataset_names(family)
    model = model or n["model"]
    calibration = calibration or n["calibration"]
    tags = {f"{family}_export", f"{family}_export_tensorrt", "tensorrt"}
    return Pipeline(
        [
            node(fp16_onnx, n["onnx"], n["onnx_fp16"], name=f"{family}_onnx_fp16", tags=tags),
            node(
                _bind(build_engine, precision="fp16", family=family),
                [n["onnx_fp16"], n["params"]],
                n["engine_fp16"],
                name=f"{family}_tensorrt_fp16_engine",
                tags=tags,
            ),
            node(
                _bind(build_engine, precision="int8", family=family),
                [n["int8"], n["params"]],
                n["engine_int8"],
                name=f"{family}_tensorrt_int8_engine",
                tags=tags,
            ),
            node(
                make_tensorrt_compare_node_func(evaluate, family),
                [
                    model,
                    n["onnx"],
                    n["int8"],
                    n["engine_fp16"],
                    n["engine_int8"],
                    calibration,
                    n["params"],
                    *evaluate_inputs,
                ],
                [n["report_tensorrt"], n["report_tensorrt_md"]],
                name=f"{family}_compare_tensorrt_formats",
                tags=tags,
            ),
        ]
    )
