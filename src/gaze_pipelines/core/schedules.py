"""Learning-rate schedules shared by every model family, as Keras 3 ``LearningRateSchedule``s.

All schedules are called with the optimizer's step (the number of updates applied so far) and are
serializable (``get_config`` / registered with Keras), so a saved model with its optimizer reloads.

- ``SoftStartAnnealing(base_lr, min_lr, soft_start, annealing, last_step)``: TAO's
  ``SoftstartAnnealingLearningRateSchedule``. With ``p = step / last_step``:
  ``t = p / soft_start`` if ``p < soft_start``; ``t = (1 - p) / (1 - annealing)`` if
  ``p > annealing``; else ``t = 1``; ``lr = exp(log(min_lr) + t * (log(base_lr) - log(min_lr)))``
  (exponential ramp up from ``min_lr`` to ``base_lr``, plateau, exponential ramp down).
- ``Constant(learning_rate)``.
- ``ExponentialDecay(learning_rate, decay_steps, decay_rate, staircase=False, min_learning_rate=0)``:
  ``max(min_lr, lr * decay_rate ** (step / decay_steps))`` (``floor`` of the exponent when
  ``staircase``), as TAO's ``ExponentialDecayLearningRateSchedule``.
- ``StepDecay(learning_rate, drop_rate, decay_every, steps_per_unit=1, offset=0,
  min_learning_rate=0)``: ``max(min_lr, lr * drop_rate ** floor((step // steps_per_unit + offset) /
  decay_every))``, TAO GestureNet's step decay (``initial_lrate``, ``lr_drop_rate``,
  ``decay_step_size``); ``steps_per_unit`` = steps per epoch counts ``decay_every`` in epochs.
- ``RampUpRampDown(learning_rate, num_epochs, steps_per_epoch, rampup_length, rampdown_length)``:
  NvGaze's per-epoch Gaussian ramp-up / ramp-down of Adam's rate (``trainPupil.adjust_learning_rate``).

- ``cosine_with_warmup(learning_rate, total_steps, warmup_steps=0, min_lr_ratio=0)``: Keras'
  ``CosineDecay`` to ``min_lr_ratio x learning_rate`` after a linear warm-up from a tenth of the
  rate over ``warmup_steps`` (the webcam family's schedule).

Helpers:

- ``schedule_values(schedule, last_step, num=...)`` -> (steps, values) numpy arrays.
- ``plot_schedule(schedule, last_step, ...)`` -> a matplotlib ``Figure`` of the curve (learning
  rate against step, log scale), like the soft-start annealing figure of TAO's documentation.
  Return it from a node into a ``matplotlib.MatplotlibDataset`` to write the PNG.

Other families add their schedules here (in place), following the same pattern: a registered
``keras.optimizers.schedules.LearningRateSchedule`` subclass with ``get_config``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

_PACKAGE = "gaze_pipelines"


def _step(step: Any) -> Any:
    return ops.cast(step, "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SoftStartAnnealing(keras.optimizers.schedules.LearningRateSchedule):
    """TAO soft-start annealing: exponential ramp up, plateau, exponential ramp down."""

    def __init__(
        self,
        base_lr: float,
        min_lr: float,
        soft_start: float,
        annealing: float,
        last_step: int,
    ) -> None:
        if not base_lr > 0 or not min_lr > 0:
            raise ValueError(f"base_lr and min_lr must be > 0, got {base_lr}, {min_lr}")
        if min_lr > base_lr:
            raise ValueError(f"min_lr ({min_lr}) must be <= base_lr ({base_lr})")
        if not 0.0 <= soft_start <= annealing <= 1.0:
            raise ValueError(
                f"need 0 <= soft_start <= annealing <= 1, got soft_start={soft_start}, "
                f"annealing={annealing}"
            )
        if int(last_step) < 1:
            raise ValueError(f"last_step must be >= 1, got {last_step}")
        self.base_lr = float(base_lr)
        self.min_lr = float(min_lr)
        self.soft_start = float(soft_start)
        self.annealing = float(annealing)
        self.last_step = int(last_step)

    def __call__(self, step: Any) -> Any:
        """Learning rate at ``step``."""
        p = ops.clip(_step(step) / float(self.last_step), 0.0, 1.0)
        one = ops.ones_like(p)
        t_up = p / self.soft_start if self.soft_start > 0 else one
        t_down = (1.0 - p) / (1.0 - self.annealing) if self.annealing < 1 else one
        t = ops.where(p < self.soft_start, t_up, ops.where(p > self.annealing, t_down, one))
        log_min, log_base = math.log(self.min_lr), math.log(self.base_lr)
        return ops.exp(log_min + t * (log_base - log_min))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "base_lr": self.base_lr,
            "min_lr": self.min_lr,
            "soft_start": self.soft_start,
            "annealing": self.annealing,
            "last_step": self.last_step,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Constant(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate."""

    def __init__(self, learning_rate: float) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        self.learning_rate = float(learning_rate)

    def __call__(self, step: Any) -> Any:
        """Learning rate at ``step``."""
        return ops.ones_like(_step(step)) * self.learning_rate

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"learning_rate": self.learning_rate}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``max(min_learning_rate, learning_rate * decay_rate ** (step / decay_steps))``."""

    def __init__(
        self,
        learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        min_learning_rate: float = 0.0,
    ) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if int(decay_steps) < 1:
            raise ValueError(f"decay_steps must be >= 1, got {decay_steps}")
        if not 0 < decay_rate <= 1:
            raise ValueError(f"decay_rate must be in (0, 1], got {decay_rate}")
        if min_learning_rate < 0:
            raise ValueError(f"min_learning_rate must be >= 0, got {min_learning_rate}")
        self.learning_rate = float(learning_rate)
        self.decay_steps = int(decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step: Any) -> Any:
        """Learning rate at ``step``."""
        exponent = _step(step) / float(self.decay_steps)
        if self.staircase:
            exponent = ops.floor(exponent)
        lr = self.learning_rate * ops.power(self.decay_rate, exponent)
        return ops.maximum(lr, self.min_learning_rate)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "learning_rate": self.learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "min_learning_rate": self.min_learning_rate,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-constant decay: the rate is multiplied by ``drop_rate`` every ``decay_every`` units."""

    def __init__(
        self,
        learning_rate: float,
        drop_rate: float,
        decay_every: int,
        steps_per_unit: int = 1,
        offset: int = 0,
        min_learning_rate: float = 0.0,
    ) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not 0 < drop_rate <= 1:
            raise ValueError(f"drop_rate must be in (0, 1], got {drop_rate}")
        if int(decay_every) < 1 or int(steps_per_unit) < 1:
            raise ValueError(
                f"decay_every and steps_per_unit must be >= 1, got {decay_every}, {steps_per_unit}"
            )
        if int(offset) < 0 or min_learning_rate < 0:
            raise ValueError(
                f"offset and min_learning_rate must be >= 0, got {offset}, {min_learning_rate}"
            )
        self.learning_rate = float(learning_rate)
        self.drop_rate = float(drop_rate)
        self.decay_every = int(decay_every)
        self.steps_per_unit = int(steps_per_unit)
        self.offset = int(offset)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step: Any) -> Any:
        """Learning rate at ``step``."""
        unit = ops.floor(_step(step) / float(self.steps_per_unit))
        drops = ops.floor((unit + float(self.offset)) / float(self.decay_every))
        lr = self.learning_rate * ops.power(self.drop_rate, drops)
        return ops.maximum(lr, self.min_learning_rate)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "learning_rate": self.learning_rate,
            "drop_rate": self.drop_rate,
            "decay_every": self.decay_every,
            "steps_per_unit": self.steps_per_unit,
            "offset": self.offset,
            "min_learning_rate": self.min_learning_rate,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RampUpRampDown(keras.optimizers.schedules.LearningRateSchedule):
    """NvGaze's per-epoch Adam schedule: Gaussian ramp-up, plateau, Gaussian ramp-down.

    With ``epoch = floor(step / steps_per_epoch)``: ramp-up ``exp(-5 (1 - epoch / rampup)^2)``
    while ``epoch < rampup_length``; ramp-down ``exp(-(0.5 (epoch - (num_epochs -
    rampdown_length)))^2 / rampdown_length)`` from ``num_epochs - rampdown_length`` on;
    ``lr = learning_rate * rampup * rampdown`` (``adjust_learning_rate`` of ``trainPupil.py``).
    """

    def __init__(
        self,
        learning_rate: float,
        num_epochs: int,
        steps_per_epoch: int,
        rampup_length: int = 0,
        rampdown_length: int = 0,
    ) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if int(num_epochs) < 1 or int(steps_per_epoch) < 1:
            raise ValueError(
                f"num_epochs and steps_per_epoch must be >= 1, got {num_epochs}, {steps_per_epoch}"
            )
        if int(rampup_length) < 0 or int(rampdown_length) < 0:
            raise ValueError(
                f"rampup_length and rampdown_length must be >= 0, got {rampup_length}, "
                f"{rampdown_length}"
            )
        self.learning_rate = float(learning_rate)
        self.num_epochs = int(num_epochs)
        self.steps_per_epoch = int(steps_per_epoch)
        self.rampup_length = int(rampup_length)
        self.rampdown_length = int(rampdown_length)

    def __call__(self, step: Any) -> Any:
        """Learning rate at ``step``."""
        epoch = ops.floor(_step(step) / float(self.steps_per_epoch))
        one = ops.ones_like(epoch)
        if self.rampup_length > 0:
            p = 1.0 - ops.maximum(epoch, 0.0) / float(self.rampup_length)
            up = ops.where(epoch < self.rampup_length, ops.exp(-p * p * 5.0), one)
        else:
            up = one
        if self.rampdown_length > 0:
            start = float(self.num_epochs - self.rampdown_length)
            ep = (epoch - start) * 0.5
            down = ops.where(epoch >= start, ops.exp(-(ep * ep) / self.rampdown_length), one)
        else:
            down = one
        return self.learning_rate * up * down

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "learning_rate": self.learning_rate,
            "num_epochs": self.num_epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "rampup_length": self.rampup_length,
            "rampdown_length": self.rampdown_length,
        }


def cosine_with_warmup(
    learning_rate: float, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Cosine decay over ``total_steps`` (warm-up included) to ``min_lr_ratio x learning_rate``.

    With ``warmup_steps`` the rate rises linearly from ``learning_rate / 10`` first.
    """
    decay = max(1, int(total_steps) - int(warmup_steps))
    if warmup_steps:  # alpha is relative to warmup_target
        return keras.optimizers.schedules.CosineDecay(
            learning_rate * 0.1,
            decay,
            alpha=min_lr_ratio,
            warmup_target=learning_rate,
            warmup_steps=int(warmup_steps),
        )
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay, alpha=min_lr_ratio)


def schedule_values(schedule: Any, last_step: int, num: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate ``schedule`` on ``num`` evenly spaced steps of ``[0, last_step]``."""
    steps = np.unique(
        np.linspace(0, max(1, int(last_step)), num=max(2, num)).round().astype(np.int64)
    )
    values = np.asarray(ops.convert_to_numpy(schedule(steps)), dtype=np.float64).reshape(-1)
    if values.size == 1:
        values = np.full(steps.shape, float(values[0]))
    return steps, values


def plot_schedule(
    schedule: Any,
    last_step: int,
    title: str | None = None,
    steps_per_epoch: int | None = None,
    log_scale: bool = True,
):
    """A matplotlib ``Figure`` of the learning rate against the step (epochs on a top axis)."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - only needed for reporting

    steps, values = schedule_values(schedule, last_step)
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(steps, values, color="tab:blue", linewidth=2)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log_scale and np.all(values > 0):
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_xlim(0, max(1, int(last_step)))
    cfg = schedule.get_config() if hasattr(schedule, "get_config") else {}
    name = type(schedule).__name__
    ax.set_title(
        title
        or f"{name} "
        + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg.items()),
        fontsize=9,
    )
    if isinstance(schedule, SoftStartAnnealing):
        for frac, label in ((schedule.soft_start, "soft_start"), (schedule.annealing, "annealing")):
            ax.axvline(frac * schedule.last_step, color="grey", linestyle="--", linewidth=1)
            ax.text(frac * schedule.last_step, values.max(), f" {label}", fontsize=8, va="top")
    if steps_per_epoch:
        top = ax.secondary_xaxis(
            "top", functions=(lambda s: s / steps_per_epoch, lambda e: e * steps_per_epoch)
        )
        top.set_xlabel("epoch")
    fig.tight_layout()
    return fig
