"""``gesturenet_train``: TAO GestureNet's two-stage training of the ResNet classifier.

Stages run in ``train_config.stage_order``. Each stage freezes all but its top
``num_layers_unfreeze`` layers with weights, compiles its optimizer with a step-decay learning
rate (``initial_lrate``, ``lr_drop_rate`` every ``decay_step_size`` epochs) and trains
``stage_epochs`` epochs through ``core.training.fit`` (checkpoints and resume when
``enable_checkpointing``, the best epoch by ``selection_metric`` kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Any

import keras
import numpy as np
import pandas as pd

from gaze_pipelines.core.schedules import StepDecay
from gaze_pipelines.core.training import FitConfig, fit, make_optimizer, set_seed
from gaze_pipelines.datasets.gesturenet import GestureTree
from gaze_pipelines.pipelines.gesturenet.inputs import check_classes, entries_for, training_dataset
from gaze_pipelines.pipelines.gesturenet.model import build_resnet, set_trainable_top
from gaze_pipelines.pipelines.gesturenet.params import StageConfig, TrainSpec, validate

logger = logging.getLogger(__name__)


def build_model(spec: TrainSpec) -> keras.Model:
    """The classifier described by ``model_config`` for the spec's classes."""
    m = spec.model
    return build_resnet(
        num_layers=m.num_layers,
        num_classes=len(spec.dataset_config.classes),
        image_height=m.image_height,
        image_width=m.image_width,
        gray_scale_input=m.gray_scale_input,
        use_batch_norm=m.use_batch_norm,
        kernel_regularizer_type=m.kernel_regularizer_type,
        kernel_regularizer_factor=m.kernel_regularizer_factor,
        all_projections=m.all_projections,
        use_pooling=m.use_pooling,
        dropout=m.dropout,
        data_format=m.data_format,
    )


def transfer_weights(target: keras.Model, source: keras.Model) -> tuple[list[str], list[str]]:
    """Copy weights layer by layer (same name, same shapes); returns (copied, skipped) layer names."""
    by_name = {layer.name: layer for layer in source.layers}
    copied, skipped = [], []
    for layer in target.layers:
        if not layer.weights:
            continue
        src = by_name.get(layer.name)
        weights = src.get_weights() if src is not None else None
        if weights is None or [w.shape for w in weights] != [w.shape for w in layer.get_weights()]:
            skipped.append(layer.name)
            continue
        layer.set_weights(weights)
        copied.append(layer.name)
    return copied, skipped


def stage_optimizer(stage: StageConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The stage's optimizer with its step-decay learning-rate schedule."""
    per_unit = steps_per_epoch if stage.decay_unit == "epoch" else 1
    schedule = StepDecay(
        stage.initial_lrate, stage.lr_drop_rate, stage.decay_step_size, steps_per_unit=per_unit
    )
    kwargs = {"momentum": stage.momentum} if stage.optimizer == "sgd" else {}
    return make_optimizer(stage.optimizer, schedule, **kwargs)


def stage_loss(stage: StageConfig) -> keras.losses.Loss:
    """The stage's ``loss_fn``."""
    if stage.loss_fn == "sparse_categorical_crossentropy":
        if stage.label_smoothing:
            raise ValueError("label_smoothing needs loss_fn categorical_crossentropy")
        return keras.losses.SparseCategoricalCrossentropy()
    return keras.losses.CategoricalCrossentropy(label_smoothing=stage.label_smoothing)


def _fingerprint(spec: TrainSpec, stage: str, n_train: int) -> str:
    """Short hash of what a stage's checkpoints depend on (a changed spec starts afresh)."""
    payload = {
        "model": spec.model.model_dump(mode="json"),
        "classes": spec.dataset_config.classes,
        "batch": spec.dataset_config.batch_size,
        "stage": getattr(spec.train_config, stage).model_dump(mode="json"),
        "order": spec.train_config.stage_order,
        "seed": spec.random_seed,
        "n_train": n_train,
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]


def train_gesturenet(
    data_json: dict[str, Any],
    crops: GestureTree,
    train: dict[str, Any],
    weights_init: keras.Model | None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train the classifier through every stage of ``stage_order``; model, history and summary."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    check_classes(data_json, spec.dataset_config.classes)
    set_seed(spec.random_seed, deterministic=spec.deterministic)
    fold = spec.dataset_config.fold
    train_entries = entries_for(data_json, "train_set", fold)
    val_entries = entries_for(data_json, "validation_set", fold)
    if not train_entries:
        raise ValueError("data.json has no training entries: check gesturenet_data's split")
    model = build_model(spec)
    summary: dict[str, Any] = {
        "model": model.name,
        "num_layers": spec.model.num_layers,
        "parameters": int(model.count_params()),
        "train_entries": len(train_entries),
        "validation_entries": len(val_entries),
        "fold": fold,
        "stages": [],
    }
    if spec.model.weights_init:
        if weights_init is None:
            raise ValueError(
                f"gesturenet.train.model_config.weights_init '{spec.model.weights_init}' did not load"
            )
        copied, skipped = transfer_weights(model, weights_init)
        logger.info(
            "weights_init: %d layers copied, %d skipped (%s)",
            len(copied),
            len(skipped),
            skipped[:8],
        )
        summary["weights_init"] = {"copied": len(copied), "skipped": skipped}
    batch = spec.dataset_config.batch_size
    steps_per_epoch = max(1, math.ceil(len(train_entries) / batch))
    history_rows: list[dict[str, Any]] = []
    tc = spec.train_config
    for stage_name in tc.stage_order:
        stage: StageConfig = getattr(tc, stage_name)
        one_hot = stage.loss_fn == "categorical_crossentropy"
        train_ds = training_dataset(train_entries, crops, spec, training=True, one_hot=one_hot)
        val_ds = (
            training_dataset(val_entries, crops, spec, training=False, one_hot=one_hot)
            if val_entries
            else None
        )
        trainable = set_trainable_top(model, stage.num_layers_unfreeze)
        model.compile(
            optimizer=stage_optimizer(stage, steps_per_epoch),
            loss=stage_loss(stage),
            metrics=["accuracy"],
        )
        logger.info(
            "stage %s: %d epochs, %d trainable layers with weights (top: %s), %s lr %.3g",
            stage_name,
            stage.stage_epochs,
            len(trainable),
            trainable[-3:],
            stage.optimizer,
            stage.initial_lrate,
        )
        ckpt = None
        if stage.enable_checkpointing:
            ckpt = f"{tc.checkpoint_dir.rstrip('/')}/{stage_name}_{_fingerprint(spec, stage_name, len(train_entries))}"
        result = fit(
            model,
            train_ds,
            val_ds,
            FitConfig(
                epochs=stage.stage_epochs,
                checkpoint_dir=ckpt,
                resume=tc.resume,
                selection_metric=tc.selection_metric if val_ds is not None else None,
                tensorboard_dir=f"{tc.tensorboard_dir.rstrip('/')}/{stage_name}"
                if tc.tensorboard_dir
                else None,
                batch_size=batch,
            ),
        )
        lr = StepDecay(
            stage.initial_lrate,
            stage.lr_drop_rate,
            stage.decay_step_size,
            steps_per_unit=steps_per_epoch if stage.decay_unit == "epoch" else 1,
        )
        n_epochs = len(next(iter(result.history.values()), []))
        for e in range(n_epochs):
            row = {
                "stage": stage_name,
                "epoch": e + 1,
                "learning_rate": float(lr(e * steps_per_epoch)),
            }
            row.update({k: float(v[e]) for k, v in result.history.items() if e < len(v)})
            history_rows.append(row)
        summary["stages"].append(
            {
                "stage": stage_name,
                "epochs": stage.stage_epochs,
                "trainable_layers": len(trainable),
                "best_epoch": result.best_epoch,
                "selection_metric": result.selection_metric,
                "best_value": result.best_value,
                "samples_per_sec": result.samples_per_sec,
                "seconds": round(result.seconds, 2),
                "checkpoint_dir": ckpt,
            }
        )
    set_trainable_top(model, 10**9)  # the saved model is fully trainable again
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    history = pd.DataFrame(history_rows)
    if "val_accuracy" in history:
        summary["final_val_accuracy"] = float(history["val_accuracy"].iloc[-1])
    return model, history, summary


def plot_training(history: pd.DataFrame) -> Any:
    """Loss and accuracy per epoch across the stages (stage boundaries marked)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(10, 4), dpi=100)
    axes = fig.subplots(1, 2)
    if history.empty:
        return fig
    x = np.arange(1, len(history) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                ax.plot(x, history[key], style, label=key)
        bounds = np.flatnonzero(history["stage"].ne(history["stage"].shift()).to_numpy())[1:]
        for b in bounds:
            ax.axvline(b + 0.5, color="grey", linewidth=1, linestyle=":")
        ax.set_xlabel("epoch (all stages)")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(" -> ".join(dict.fromkeys(history["stage"])))
    fig.tight_layout()
    return fig
