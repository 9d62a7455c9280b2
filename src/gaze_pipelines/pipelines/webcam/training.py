"""Training of one webcam variant: tf.data input, colour jitter, MSE in pixels, RMSE reported.

``train_variant`` is the train loop shared by the ``webcam_train`` node and the Ray Tune
trainable (:func:`tune_trainable`): it calls ``on_epoch(epoch, metrics)`` after every epoch.
Metrics are the loss (MSE over both coordinates, px^2, as the reference's ``F.mse_loss``),
``rmse_px`` (root mean squared Euclidean error in pixels) and their ``val_`` versions.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from gaze_pipelines.core.progress import log_throughput
from gaze_pipelines.core.schedules import cosine_with_warmup
from gaze_pipelines.core.training import (
    FitConfig,
    fit,
    make_optimizer,
    plateau_and_early_stopping,
    set_seed,
)
from gaze_pipelines.pipelines.webcam.model import build_model, variant_inputs
from gaze_pipelines.pipelines.webcam.params import (
    AugmentParams,
    ModelParams,
    TrainParams,
    WebcamParams,
    validate_params,
)

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[str, float]], None]


class RmsePx(keras.metrics.Metric):
    """Root of the mean squared Euclidean distance between predicted and true points (px)."""

    def __init__(self, name: str = "rmse_px", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate squared distances of a batch."""
        d2 = keras.ops.sum(keras.ops.square(y_pred - keras.ops.cast(y_true, y_pred.dtype)), -1)
        self.total.assign_add(keras.ops.sum(d2))
        self.count.assign_add(keras.ops.cast(keras.ops.shape(d2)[0], "float32"))

    def result(self):
        """sqrt(sum d^2 / n)."""
        return keras.ops.sqrt(self.total / keras.ops.maximum(self.count, 1.0))

    def reset_state(self):
        """Start a new epoch."""
        self.total.assign(0.0)
        self.count.assign(0.0)


def split_indices(arrays: Mapping[str, np.ndarray], split: pd.DataFrame, which: str) -> np.ndarray:
    """Row indices of ``arrays`` whose id is in split ``which`` (``all`` for every row)."""
    ids = np.asarray(arrays["id"])
    if which == "all":
        return np.arange(len(ids))
    wanted = set(split.loc[split["split"] == which, "id"].astype(ids.dtype).tolist())
    return np.flatnonzero(np.isin(ids, list(wanted)))


def model_inputs(arrays: Mapping[str, np.ndarray], names: list[str], idx: np.ndarray) -> dict:
    """Float32 model inputs (raw 0-255 pixels, head angle in degrees) for rows ``idx``."""
    out = {}
    for n in names:
        a = np.asarray(arrays[n])[idx]
        out[n] = (
            a.astype(np.float32).reshape(len(idx), 1) if n == "head_angle" else a.astype(np.float32)
        )
    return out


def _jitter(image: tf.Tensor, aug: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """ColorJitter on a 0-255 float image (brightness/contrast/saturation/hue factors)."""
    x = image / 255.0
    s = tf.random.experimental.stateless_split(seed, 4)
    if aug.brightness:
        f = tf.random.stateless_uniform([], s[0], 1 - aug.brightness, 1 + aug.brightness)
        x = x * f
    if aug.contrast:
        x = tf.image.stateless_random_contrast(x, 1 - aug.contrast, 1 + aug.contrast, s[1])
    if aug.saturation:
        x = tf.image.stateless_random_saturation(x, 1 - aug.saturation, 1 + aug.saturation, s[2])
    if aug.hue:
        x = tf.image.stateless_random_hue(x, aug.hue, s[3])
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def make_dataset(
    inputs: dict[str, np.ndarray],
    targets: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    augment: AugmentParams | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """``(inputs, targets)`` batches; colour jitter on the 3-channel crops when ``augment``."""
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets.astype(np.float32)))
    if shuffle:
        ds = ds.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    if augment is not None and augment.enabled:
        colour = [n for n, v in inputs.items() if v.ndim == 4 and v.shape[-1] == 3]
        counter = tf.data.Dataset.random(seed=seed).batch(2)

        def apply(pair, rnd):
            x, y = pair
            x = dict(x)
            for i, n in enumerate(colour):
                # per_frame: one draw for all crops of a sample (they come from one frame, so a
                # lighting change hits them alike); else an independent draw per crop.
                k = 0 if augment.per_frame else i
                x[n] = _jitter(x[n], augment, tf.cast(rnd, tf.int32) + k)
            return x, y

        ds = tf.data.Dataset.zip((ds, counter)).map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def learning_rate(train: TrainParams, steps_per_epoch: int = 1) -> Any:
    """The optimizer's rate: a float (``constant``, ``plateau``) or a per-step cosine schedule."""
    sched = train.schedule
    if sched.type != "cosine":
        return train.learning_rate
    return cosine_with_warmup(
        train.learning_rate,
        train.epochs * steps_per_epoch,
        warmup_steps=sched.warmup_epochs * steps_per_epoch,
        min_lr_ratio=sched.min_lr_ratio,
    )


def schedule_callbacks(train: TrainParams, monitor: str) -> list[keras.callbacks.Callback]:
    """ReduceLROnPlateau (``plateau`` schedule) and early stopping, watching ``monitor``."""
    sched = train.schedule
    return plateau_and_early_stopping(
        monitor,
        learning_rate=train.learning_rate,
        plateau=(sched.factor, sched.patience, sched.min_lr_ratio)
        if sched.type == "plateau"
        else None,
        early_stopping_patience=train.early_stopping_patience,
    )


def compile_model(model: keras.Model, train: TrainParams, steps_per_epoch: int = 1) -> keras.Model:
    """Compile with the configured optimizer and schedule, MSE (px^2) and the RMSE px metric."""
    extra = {"weight_decay": train.weight_decay} if train.weight_decay else {}
    model.compile(
        optimizer=make_optimizer(train.optimizer, learning_rate(train, steps_per_epoch), **extra),
        loss="mse",
        metrics=[RmsePx()],
        jit_compile=False,  # XLA compiles for tens of seconds per shape on CPU; small nets gain little
    )
    return model


class _EpochHook(keras.callbacks.Callback):
    def __init__(self, on_epoch: EpochCallback):
        super().__init__()
        self._on_epoch = on_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._on_epoch(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})


def train_variant(
    arrays: Mapping[str, np.ndarray],
    split: pd.DataFrame,
    variant: str,
    params: WebcamParams,
    on_epoch: EpochCallback | None = None,
    max_train_samples: int | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train ``variant`` on the train split, select the best epoch on val; history and summary."""
    model_p: ModelParams = params.models[variant]
    train_p = params.train
    if model_p.learning_rate is not None:  # per-variant rate (the reference tuned each variant)
        train_p = train_p.model_copy(update={"learning_rate": model_p.learning_rate})
    set_seed(train_p.seed, deterministic=train_p.deterministic)
    names = variant_inputs(variant, model_p)
    tr = split_indices(arrays, split, "train")
    va = split_indices(arrays, split, "val")
    if max_train_samples is not None and len(tr) > max_train_samples:
        tr = np.sort(np.random.default_rng(train_p.seed).choice(tr, max_train_samples, False))
    if len(tr) == 0:
        raise ValueError("webcam.train: the train split is empty")
    xy = np.asarray(arrays["xy"], np.float32)
    train_ds = make_dataset(model_inputs(arrays, names, tr), xy[tr], train_p.batch_size, True,
                            train_p.augment, train_p.seed)  # fmt: skip
    val_ds = (
        make_dataset(model_inputs(arrays, names, va), xy[va], max(train_p.batch_size, 128))
        if len(va)
        else None
    )
    screen = (params.screen.width, params.screen.height)
    steps = math.ceil(len(tr) / train_p.batch_size)
    model = compile_model(
        build_model(variant, model_p, params.features.image_size, screen), train_p, steps
    )
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = schedule_callbacks(train_p, monitor)
    callbacks += [_EpochHook(on_epoch)] if on_epoch is not None else []
    start = time.perf_counter()
    result = fit(
        model,
        train_ds,
        val_ds,
        FitConfig(
            epochs=train_p.epochs,
            selection_metric=monitor,
            batch_size=train_p.batch_size,
            log_every_n_secs=train_p.log_every_n_secs,
        ),
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    epochs_run = len(result.history.get("loss", [])) or train_p.epochs
    log_throughput(f"webcam_train[{variant}]", len(tr) * epochs_run, seconds, "samples")
    history = pd.DataFrame(result.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history.insert(0, "variant", variant)
    summary = {
        "variant": variant,
        "inputs": names,
        "n_train": int(len(tr)),
        "n_val": int(len(va)),
        "epochs": train_p.epochs,
        "learning_rate": train_p.learning_rate,  # peak rate: the variant's own, if it has one
        "epochs_run": epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_value,
        "best_val_rmse_px": _at_best(result.history, "val_rmse_px", result.best_epoch),
        "params": int(model.count_params()),
        "train_seconds": round(seconds, 2),
        "samples_per_sec": result.samples_per_sec,
    }
    return model, history, summary


def _at_best(history: dict[str, list[float]], key: str, best_epoch: int | None) -> float | None:
    values = history.get(key) or []
    if not values:
        return None
    i = (best_epoch or len(values)) - 1
    return float(values[min(i, len(values) - 1)])


def tune_trainable(
    params: dict[str, Any], data: Mapping[str, Any], report: Callable[[dict[str, float]], None]
) -> None:
    """Ray Tune trainable (see ``core.tune``): train ``data['variant']`` and report per epoch."""
    p = validate_params(params)
    variant = data["variant"]

    def on_epoch(epoch: int, logs: dict[str, float]) -> None:
        metrics = {k: (v if math.isfinite(v) else float("inf")) for k, v in logs.items()}
        report(metrics)

    train_variant(
        data["arrays"],
        data["split"],
        variant,
        p,
        on_epoch=on_epoch,
        max_train_samples=data.get("max_train_samples"),
    )
