"""``gesturenet_evaluate`` and ``gesturenet_inference``: classification KPIs and ``results.txt``.

Predictions run through ``core.predict`` (any ``Predictor``: the Keras model, or the exported
ONNX FP32 / INT8 models), so the export report scores every format with this same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core.metrics import (
    classification_report,
    confusion_matrix,
    plot_confusion_matrix,
)
from gaze_pipelines.core.predict import as_predictor
from gaze_pipelines.core.progress import log_throughput
from gaze_pipelines.datasets.gesturenet import IMAGE_EXTENSIONS, GestureTree
from gaze_pipelines.pipelines.gesturenet.inputs import (
    check_classes,
    crop_paths,
    entries_for,
    image_dataset,
)
from gaze_pipelines.pipelines.gesturenet.model import INPUT_NAME
from gaze_pipelines.pipelines.gesturenet.params import (
    EvaluateParams,
    InferenceParams,
    TrainSpec,
    validate,
)

logger = logging.getLogger(__name__)


def class_list(spec: TrainSpec) -> list[str]:
    """Class names ordered by index."""
    return [c for c, _ in sorted(spec.dataset_config.classes.items(), key=lambda kv: kv[1])]


def predict_probabilities(
    model: Any,
    paths: Sequence[str],
    crops: GestureTree | None,
    spec: TrainSpec,
    batch_size: int,
    desc: str = "gesturenet predict",
) -> np.ndarray:
    """Class probabilities ``(N, classes)`` of the crops at ``paths`` with any model format."""
    import time  # noqa: PLC0415

    predictor = as_predictor(model)
    n_classes = len(spec.dataset_config.classes)
    if not paths:
        return np.zeros((0, n_classes), np.float32)
    start = time.perf_counter()
    outs = [
        predictor.predict({INPUT_NAME: batch.numpy()})
        for batch in image_dataset(list(paths), crops, spec.model, batch_size)
    ]
    log_throughput(desc, len(paths), time.perf_counter() - start, "image")
    probs = np.concatenate(outs, axis=0).astype(np.float32)
    if probs.shape != (len(paths), n_classes):
        raise ValueError(
            f"model output has shape {probs.shape}, expected ({len(paths)}, {n_classes})"
        )
    return probs


def predict_split(
    model: Any,
    data_json: dict[str, Any],
    crops: GestureTree,
    train: dict[str, Any],
    evaluate: dict[str, Any],
) -> pd.DataFrame:
    """One row per entry of ``evaluate.data_type``: truth, prediction, confidence, probabilities."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    ev = validate(EvaluateParams, evaluate, "gesturenet.evaluate")
    check_classes(data_json, spec.dataset_config.classes)
    entries = entries_for(data_json, ev.data_type)
    if not entries:
        raise ValueError(f"data.json '{ev.data_type}' is empty: nothing to evaluate")
    probs = predict_probabilities(
        model,
        crop_paths(entries, crops),
        crops,
        spec,
        ev.batch_size,
        f"gesturenet evaluate {ev.data_type}",
    )
    names = class_list(spec)
    uid_name = data_json.get("uid_name", "user_id")
    pred = probs.argmax(axis=1)
    out = pd.DataFrame(
        {
            "user_id": [e.get(uid_name, "") for e in entries],
            "set": [e.get("set", "") for e in entries],
            "session": [e.get("session", "") for e in entries],
            "crop_path": [e.get("crop_path", "") for e in entries],
            "class": [e["class"] for e in entries],
            "class_id": [spec.dataset_config.classes[e["class"]] for e in entries],
            "pred_id": pred.astype(np.int64),
            "pred_class": [names[i] for i in pred],
            "confidence": probs.max(axis=1),
        }
    )
    for i, name in enumerate(names):
        out[f"prob_{name}"] = probs[:, i]
    return out


def classification_kpis(
    predictions: pd.DataFrame, class_names: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-class report (precision/recall/F1, macro, weighted, accuracy) and confusion matrix."""
    cm = confusion_matrix(predictions["class_id"], predictions["pred_id"], len(class_names))
    return classification_report(cm, class_names), cm


def evaluate_predictions(
    predictions: pd.DataFrame, train: dict[str, Any], evaluate: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, Any, pd.DataFrame, dict[str, Any]]:
    """Report, confusion matrix (CSV and PNG), per-user accuracy and the KPI summary."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    ev = validate(EvaluateParams, evaluate, "gesturenet.evaluate")
    names = class_list(spec)
    report, cm = classification_kpis(predictions, names)
    cm_df = pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=names).reset_index()
    macro = report.set_index("class").loc["macro avg"]
    acc = float(report.set_index("class").loc["accuracy", "f1"])
    title = (
        f"{ev.evaluation_exp_name}: {ev.data_type}, accuracy {acc:.3f}, macro F1 {macro['f1']:.3f}"
    )
    figure = plot_confusion_matrix(cm, names, title)
    by_user = (
        predictions.assign(correct=predictions["class_id"] == predictions["pred_id"])
        .groupby("user_id")
        .agg(
            n=("correct", "size"),
            accuracy=("correct", "mean"),
            mean_confidence=("confidence", "mean"),
        )
        .reset_index()
    )
    kpis = {
        "data_type": ev.data_type,
        "n": int(len(predictions)),
        "accuracy": acc,
        "macro_precision": float(macro["precision"]),
        "macro_recall": float(macro["recall"]),
        "macro_f1": float(macro["f1"]),
        "per_class_f1": {
            r["class"]: float(r["f1"]) for r in report.to_dict("records") if r["class"] in names
        },
        "users": sorted(predictions["user_id"].unique().tolist()),
    }
    logger.info(
        "gesturenet %s: accuracy %.4f, macro P/R/F1 %.4f / %.4f / %.4f on %d images",
        ev.data_type,
        acc,
        macro["precision"],
        macro["recall"],
        macro["f1"],
        len(predictions),
    )
    return report, cm_df, figure, by_user, kpis


def run_inference(
    model: Any,
    data_json: dict[str, Any],
    crops: GestureTree,
    images: GestureTree | None,
    train: dict[str, Any],
    inference: dict[str, Any],
) -> str:
    """TAO's ``results.txt``: one line per image, ``<image> <class index> <class name> <confidence>``."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    inf = validate(InferenceParams, inference, "gesturenet.inference")
    if inf.source == "data_json":
        check_classes(data_json, spec.dataset_config.classes)
        entries = entries_for(data_json, inf.data_type)
        paths = crop_paths(entries, crops)
        tree = crops
        shown = [e.get("crop_path") or p for e, p in zip(entries, paths, strict=True)]
    else:
        if images is None or not images.isdir(""):
            where = images.path("") if images is not None else inf.image_dir
            raise ValueError(f"gesturenet.inference.image_dir: folder '{where}' does not exist")
        rels = images.list_files("", IMAGE_EXTENSIONS)
        if not rels:
            raise ValueError(
                f"gesturenet.inference.image_dir: no images {IMAGE_EXTENSIONS} in '{images.path('')}'"
            )
        paths = [images.path(r) for r in rels]
        tree = images
        shown = paths
    probs = predict_probabilities(model, paths, tree, spec, inf.batch_size, "gesturenet inference")
    names = class_list(spec)
    pred = probs.argmax(axis=1)
    lines = [
        f"{img} {int(k)} {names[k]} {probs[i, k]:.6f}"
        for i, (img, k) in enumerate(zip(shown, pred, strict=True))
    ]
    logger.info(
        "gesturenet inference: %d images (%s)",
        len(lines),
        ", ".join(f"{names[k]}={int((pred == k).sum())}" for k in range(len(names))),
    )
    return "\n".join(lines) + ("\n" if lines else "")


def kpis_of(
    predictor: Any,
    data_json: dict[str, Any],
    crops: GestureTree,
    train: dict[str, Any],
    evaluate: dict[str, Any],
) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1 of any model format (the export report's KPIs)."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    predictions = predict_split(predictor, data_json, crops, train, evaluate)
    report, _ = classification_kpis(predictions, class_list(spec))
    rows = report.set_index("class")
    return {
        "accuracy": float(rows.loc["accuracy", "f1"]),
        "macro_precision": float(rows.loc["macro avg", "precision"]),
        "macro_recall": float(rows.loc["macro avg", "recall"]),
        "macro_f1": float(rows.loc["macro avg", "f1"]),
    }
