"""Training loop helpers shared by every model family (Keras 3, TensorFlow backend).

- ``set_seed(seed, deterministic=True)``: seeds Python, NumPy and TensorFlow (and the Keras
  seed generator) and turns on TensorFlow op determinism, so reruns give the same metrics.
- ``select_strategy(name)``: a ``tf.distribute`` strategy: ``default`` (one device),
  ``mirrored`` (all local devices), ``multi_worker`` (``MultiWorkerMirroredStrategy``; the cluster
  comes from ``TF_CONFIG``). Build and compile the model inside ``strategy.scope()``.
- ``make_optimizer(name, learning_rate, **kwargs)``: Adam / Adadelta / SGD ("GradientDescent") /
  RMSprop / AdamW by TAO or Keras name; ``learning_rate`` may be a float or a schedule.
- ``fit(model, train, validation, config)``: ``model.fit`` with
  - a checkpoint every ``checkpoint_every_n_epochs`` epochs (and after the last one) in
    ``checkpoint_dir``: ``epoch_<NNNN>.weights.h5`` (model and optimizer state, so the step count
    and learning-rate schedule continue) and ``state.json`` (epoch, history, best so far);
  - resume: when ``checkpoint_dir`` holds a checkpoint, training restarts after its epoch with
    its weights, optimizer state and history (an interrupted run is simply run again); with a
    ``fingerprint`` (a hash of spec and data), checkpoints of another run are cleared instead;
  - best-model selection: the weights of the best epoch by ``selection_metric`` (e.g.
    ``val_loss``; ``selection_mode`` min / max / auto) are kept (``best.weights.h5`` next to the
    checkpoints) and restored into the model at the end;
  - TensorBoard scalars (epoch metrics, learning rate, and every
    ``summary_every_n_steps`` steps the batch metrics) in ``tensorboard_dir``;
  - throughput logging every ``log_every_n_secs`` seconds and per epoch (steps/s, samples/s).
  Returns a ``FitResult`` (history, best epoch and value, samples/s).

No Kedro imports: nodes call these with values from their validated parameters.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gaze_pipelines.core.io import atomic_path, atomic_write_text

logger = logging.getLogger("gaze_pipelines.training")

STRATEGIES = ("default", "mirrored", "multi_worker")
OPTIMIZERS = ("adam", "adadelta", "sgd", "rmsprop", "adamw")
_OPTIMIZER_ALIASES = {
    "adamoptimizer": "adam",
    "adam": "adam",
    "adadeltaoptimizer": "adadelta",
    "adadelta": "adadelta",
    "gradientdescentoptimizer": "sgd",
    "gradientdescent": "sgd",
    "sgd": "sgd",
    "rmspropoptimizer": "rmsprop",
    "rmsprop": "rmsprop",
    "adamw": "adamw",
}


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TF ops deterministic."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the legacy global generator third-party code uses
    keras.utils.set_random_seed(seed)
    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def select_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Return the ``tf.distribute`` strategy called ``name`` (one of ``STRATEGIES``)."""
    key = name.lower().replace("-", "_")
    if key == "default":
        return tf.distribute.get_strategy()
    if key == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif key in ("multi_worker", "multiworker", "multi_worker_mirrored"):
        if "TF_CONFIG" not in os.environ:
            logger.warning(
                "distribution=multi_worker without TF_CONFIG: running as a single worker"
            )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        raise ValueError(f"distribution must be one of {STRATEGIES}, got {name!r}")
    logger.info("distribution %s: %d replica(s)", key, strategy.num_replicas_in_sync)
    return strategy


def make_optimizer(name: str, learning_rate: Any, **kwargs: Any) -> keras.optimizers.Optimizer:
    """A Keras optimizer by TAO or Keras name (``AdamOptimizer``, ``adam``, ``GradientDescent``...)."""
    key = _OPTIMIZER_ALIASES.get(re.sub(r"[^a-z]", "", name.lower()))
    if key is None:
        raise ValueError(
            f"optimizer must be one of {OPTIMIZERS} (or TAO's *Optimizer names), got {name!r}"
        )
    cls = {
        "adam": keras.optimizers.Adam,
        "adadelta": keras.optimizers.Adadelta,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adamw": keras.optimizers.AdamW,
    }[key]
    return cls(learning_rate=learning_rate, **kwargs)


def plateau_and_early_stopping(
    monitor: str,
    *,
    learning_rate: float,
    plateau: tuple[float, int, float] | None = None,
    early_stopping_patience: int | None = None,
) -> list[keras.callbacks.Callback]:
    """``ReduceLROnPlateau`` (``plateau`` = (factor, patience, min_lr_ratio)) and early stopping.

    Both watch ``monitor``; ``fit`` restores the selected epoch's weights itself, so early
    stopping does not restore them.
    """
    out: list[keras.callbacks.Callback] = []
    if plateau is not None:
        factor, patience, min_lr_ratio = plateau
        out.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=factor,
                patience=patience,
                min_lr=learning_rate * min_lr_ratio,
                verbose=0,
            )
        )
    if early_stopping_patience is not None:
        out.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=early_stopping_patience))
    return out


@dataclass
class FitConfig:
    """How to run ``fit``: epochs, checkpoints, model selection, summaries, logging."""

    epochs: int
    checkpoint_dir: str | None = None
    checkpoint_every_n_epochs: int = 1
    keep_checkpoints: int = 3
    resume: bool = True
    selection_metric: str | None = "val_loss"
    selection_mode: str = "auto"
    tensorboard_dir: str | None = None
    summary_every_n_steps: int | None = None
    log_every_n_secs: float = 60.0
    batch_size: int | None = None
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    verbose: int = 0
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.checkpoint_every_n_epochs < 1:
            raise ValueError(
                f"checkpoint_every_n_epochs must be >= 1, got {self.checkpoint_every_n_epochs}"
            )
        if self.selection_mode not in ("min", "max", "auto"):
            raise ValueError(
                f"selection_mode must be min, max or auto, got {self.selection_mode!r}"
            )


@dataclass
class FitResult:
    """Outcome of ``fit``: per-epoch history, best epoch (1-based) and value, throughput."""

    history: dict[str, list[float]]
    best_epoch: int | None
    best_value: float | None
    selection_metric: str | None
    initial_epoch: int = 0
    samples_per_sec: float | None = None
    steps_per_sec: float | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _mode_for(metric: str, mode: str) -> str:
    if mode != "auto":
        return mode
    higher = ("acc", "accuracy", "precision", "recall", "f1", "auc", "iou", "map")
    name = metric.lower().removeprefix("val_")
    return "max" if any(name == h or name.endswith("_" + h) for h in higher) else "min"


def _better(value: float, best: float | None, mode: str) -> bool:
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


class CheckpointState:
    """Files of a checkpoint directory: ``epoch_<NNNN>.weights.h5``, ``best.weights.h5``, ``state.json``."""

    PATTERN = re.compile(r"^epoch_(\d{4,})\.weights\.h5$")

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)

    def epoch_path(self, epoch: int) -> Path:
        """Checkpoint file written after ``epoch`` (1-based) epochs."""
        return self.dir / f"epoch_{epoch:04d}.weights.h5"

    @property
    def best_path(self) -> Path:
        """Weights of the best epoch so far."""
        return self.dir / "best.weights.h5"

    @property
    def state_path(self) -> Path:
        """JSON with the epoch, history and best-so-far of the last checkpoint."""
        return self.dir / "state.json"

    def epochs(self) -> list[int]:
        """Epochs that have a checkpoint file, ascending."""
        if not self.dir.is_dir():
            return []
        found = [int(m.group(1)) for p in self.dir.iterdir() if (m := self.PATTERN.match(p.name))]
        return sorted(found)

    def clear(self) -> int:
        """Delete this directory's checkpoint files (only the ones ``fit`` writes)."""
        removed = 0
        for epoch in self.epochs():
            self.epoch_path(epoch).unlink(missing_ok=True)
            removed += 1
        for path in (self.best_path, self.state_path):
            if path.exists():
                path.unlink()
                removed += 1
        return removed

    def read_state(self) -> dict[str, Any] | None:
        """The last saved state, or None."""
        if not self.state_path.is_file():
            return None
        try:
            return json.loads(self.state_path.read_text())
        except json.JSONDecodeError:
            logger.warning("ignoring unreadable checkpoint state %s", self.state_path)
            return None


def _save_weights(model: keras.Model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp, overwrite=True)


def _build_optimizer(model: keras.Model) -> None:
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


class _CheckpointAndSelect(keras.callbacks.Callback):
    """Periodic checkpoints with resumable state, and best-epoch tracking."""

    def __init__(
        self,
        config: FitConfig,
        initial_epoch: int,
        history: dict[str, list[float]],
        best_epoch: int | None,
        best_value: float | None,
    ):
        super().__init__()
        self.config = config
        self.files = CheckpointState(config.checkpoint_dir) if config.checkpoint_dir else None
        self.history = history
        self.best_epoch = best_epoch
        self.best_value = best_value
        self.best_weights: list[np.ndarray] | None = None
        self.mode = (
            _mode_for(config.selection_metric, config.selection_mode)
            if config.selection_metric
            else "min"
        )
        self.initial_epoch = initial_epoch
        self._warned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        done = epoch + 1
        for key, value in logs.items():
            try:
                self.history.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                continue
        metric = self.config.selection_metric
        if metric:
            value = logs.get(metric)
            if value is None and not self._warned:
                self._warned = True
                logger.warning(
                    "selection metric '%s' not in the epoch logs (have %s); keeping the last epoch",
                    metric,
                    sorted(logs),
                )
            if value is not None and _better(float(value), self.best_value, self.mode):
                self.best_value, self.best_epoch = float(value), done
                self.best_weights = [np.array(w) for w in self.model.get_weights()]
                if self.files:
                    _save_weights(self.model, self.files.best_path)
                logger.info("epoch %d: new best %s = %.6g", done, metric, float(value))
        if self.files and (
            done % self.config.checkpoint_every_n_epochs == 0 or done == self.config.epochs
        ):
            self._checkpoint(done)

    def _checkpoint(self, done: int) -> None:
        path = self.files.epoch_path(done)
        _save_weights(self.model, path)
        state = {
            "epoch": done,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "selection_metric": self.config.selection_metric,
            "fingerprint": self.config.fingerprint,
        }
        atomic_write_text(self.files.state_path, json.dumps(state, indent=1))
        for old in self.files.epochs()[: -self.config.keep_checkpoints]:
            self.files.epoch_path(old).unlink(missing_ok=True)
        logger.info("checkpoint after epoch %d: %s", done, path)


class ThroughputLogger(keras.callbacks.Callback):
    """Log steps/s and samples/s every ``every_secs`` seconds and at the end of each epoch."""

    def __init__(self, batch_size: int | None, every_secs: float = 60.0, desc: str = "train"):
        super().__init__()
        self.batch_size = batch_size
        self.every_secs = max(0.0, float(every_secs))
        self.desc = desc
        self.total_steps = 0
        self.total_secs = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch + 1
        self._t0 = self._last = self._train_end = time.perf_counter()
        self._steps = self._since = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._steps += 1
        self._since += 1
        now = self._train_end = time.perf_counter()
        if self.every_secs and now - self._last >= self.every_secs:
            self._log(
                f"{self.desc} epoch {self._epoch} step {batch + 1}",
                self._since,
                now - self._last,
                logs,
            )
            self._last, self._since = now, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        secs = self._train_end - self._t0  # training steps only, validation excluded
        self.total_steps += self._steps
        self.total_secs += secs
        self._log(f"{self.desc} epoch {epoch + 1}", self._steps, secs, logs)

    def _log(self, what: str, steps: int, secs: float, logs: dict[str, Any] | None) -> None:
        rate = steps / secs if secs > 0 else float("inf")
        loss = (logs or {}).get("loss")
        extra = f", loss {float(loss):.5g}" if loss is not None else ""
        if self.batch_size:
            logger.info(
                "%s: %.2f steps/s, %.1f samples/s%s", what, rate, rate * self.batch_size, extra
            )
        else:
            logger.info("%s: %.2f steps/s%s", what, rate, extra)

    @property
    def steps_per_sec(self) -> float | None:
        """Mean training steps per second over all epochs (validation time excluded)."""
        return self.total_steps / self.total_secs if self.total_secs > 0 else None


def restore_checkpoint(
    model: keras.Model, checkpoint_dir: str | os.PathLike, fingerprint: str | None = None
) -> dict[str, Any] | None:
    """Load the last checkpoint of ``checkpoint_dir`` into ``model`` (and its optimizer).

    Returns the saved state (``epoch``, ``history``, ``best_epoch``, ``best_value``) or None when
    there is no checkpoint. The model must be compiled with the same optimizer type. When
    ``fingerprint`` is given and the checkpoints were written by a run with another fingerprint
    (another spec or data), they are deleted and None is returned: a new run starts afresh.
    """
    files = CheckpointState(checkpoint_dir)
    state = files.read_state()
    epochs = files.epochs()
    stale = (state or {}).get("fingerprint") != fingerprint
    if fingerprint is not None and (epochs or state) and stale:
        logger.warning(
            "checkpoints in %s belong to another run (spec or data changed): starting afresh",
            checkpoint_dir,
        )
        files.clear()
        return None
    if not epochs:
        return None
    if state is None or state.get("epoch") not in epochs:
        state = {"epoch": epochs[-1], "history": {}, "best_epoch": None, "best_value": None}
    _build_optimizer(model)
    model.load_weights(str(files.epoch_path(int(state["epoch"]))))
    return state


def fit(
    model: keras.Model,
    train: Any,
    validation: Any = None,
    config: FitConfig | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    **kwargs: Any,
) -> FitResult:
    """Train a compiled ``model`` with checkpoints, resume, best-model selection and logging.

    ``train`` / ``validation`` are whatever ``model.fit`` accepts (typically ``tf.data``
    datasets of ``(inputs, targets)``). ``config`` may also be given as keyword arguments of
    ``FitConfig``. On return the model holds the best epoch's weights (when a selection metric is
    set and was seen), else the last epoch's.
    """
    config = config or FitConfig(**kwargs)
    history: dict[str, list[float]] = {}
    best_epoch: int | None = None
    best_value: float | None = None
    initial_epoch = 0
    files = CheckpointState(config.checkpoint_dir) if config.checkpoint_dir else None
    if files and config.resume:
        state = restore_checkpoint(model, config.checkpoint_dir, config.fingerprint)
        if state is not None:
            initial_epoch = int(state["epoch"])
            history = {k: list(v) for k, v in (state.get("history") or {}).items()}
            best_epoch, best_value = state.get("best_epoch"), state.get("best_value")
            logger.info(
                "resuming from %s after epoch %d of %d",
                files.epoch_path(initial_epoch),
                initial_epoch,
                config.epochs,
            )
    if (
        validation is None
        and config.selection_metric
        and config.selection_metric.startswith("val_")
    ):
        logger.warning(
            "no validation data: selecting on '%s' is impossible, keeping the last epoch",
            config.selection_metric,
        )
    select = _CheckpointAndSelect(config, initial_epoch, history, best_epoch, best_value)
    throughput = ThroughputLogger(config.batch_size, config.log_every_n_secs)
    cbs: list[keras.callbacks.Callback] = [throughput, select]
    if config.tensorboard_dir:
        cbs.append(
            keras.callbacks.TensorBoard(
                log_dir=str(config.tensorboard_dir),
                update_freq=config.summary_every_n_steps or "epoch",
                write_graph=False,
                profile_batch=0,
            )
        )
    cbs.extend(callbacks)
    start = time.perf_counter()
    if initial_epoch < config.epochs:
        model.fit(
            train,
            validation_data=validation,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=config.steps_per_epoch,
            validation_steps=config.validation_steps,
            callbacks=cbs,
            verbose=config.verbose,
            shuffle=not isinstance(train, tf.data.Dataset),  # datasets shuffle themselves
        )
    else:
        logger.info("checkpoint already covers all %d epochs: nothing to train", config.epochs)
    seconds = time.perf_counter() - start
    if select.best_weights is not None:
        model.set_weights(select.best_weights)
    elif select.best_epoch is not None and files and files.best_path.is_file():
        model.load_weights(str(files.best_path))
    if select.best_epoch is not None:
        logger.info(
            "kept epoch %d: %s = %.6g",
            select.best_epoch,
            config.selection_metric,
            select.best_value,
        )
    steps_rate = throughput.steps_per_sec
    return FitResult(
        history=select.history,
        best_epoch=select.best_epoch,
        best_value=select.best_value,
        selection_metric=config.selection_metric,
        initial_epoch=initial_epoch,
        steps_per_sec=steps_rate,
        samples_per_sec=steps_rate * config.batch_size
        if steps_rate and config.batch_size
        else None,
        seconds=seconds,
    )
