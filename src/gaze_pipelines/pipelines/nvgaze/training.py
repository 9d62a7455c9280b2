"""NvGaze training as a plain function (params -> model + per-epoch metrics), used by the Kedro
node and callable from a Ray Tune trainable.

``train_nvgaze(params, train, test, reflections, callbacks=...)`` builds the padding-free
network, trains it with Adam and NvGaze's ramp-up / ramp-down schedule on augmented batches,
the summed squared error as loss (``RegressLoss`` of ``trainPupil.py``: the sum over the batch
of the squared output errors), and reports per epoch the RMS errors NvGaze prints
(``Training Loss (RMSE)``, ``Test Loss (RMSE)``: ``sqrt(sum of squared errors / samples)``) plus
the RMS pupil error in pixels and the RMS gaze error in degrees. Checkpoints, resume and
best-epoch selection come from ``core.training.fit``; the run folder also gets a zip with the
resolved parameters and the project version.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import platform
import re
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
import pandas as pd
import yaml
from keras import ops

from gaze_pipelines.core.io import atomic_write_bytes
from gaze_pipelines.core.schedules import RampUpRampDown
from gaze_pipelines.core.training import FitConfig, fit, make_optimizer, select_strategy, set_seed
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.pipelines.nvgaze.augment import Augmenter
from gaze_pipelines.pipelines.nvgaze.model import build_model
from gaze_pipelines.pipelines.nvgaze.params import (
    GAZE_ANGLES,
    PUPIL_CENTER,
    TrainParams,
    overridden,
)

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ["source", "sample", "image", "action", "reason"]


# ------------------------------------------------------------------------------------ arrays


@dataclass
class Arrays:
    """Model-ready samples: images (N, H, W, C) uint8, targets (N, K), pupil (N, 2) in input px."""

    images: np.ndarray
    targets: np.ndarray
    pupil: np.ndarray
    index: np.ndarray  # sample index in the source H5
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))

    def __len__(self) -> int:
        return len(self.images)


def model_images(data: NvGazeH5, resolution: Sequence[int]) -> tuple[np.ndarray, float, float]:
    """(N, H, W, E*V*C) uint8 at ``resolution`` (W, H) and the x / y scale applied."""
    w, h = resolution
    n, e, v, c, hh, ww = data.images.shape
    stacked = data.images.reshape(n, e * v * c, hh, ww).transpose(0, 2, 3, 1)
    if (ww, hh) == (w, h):
        return np.ascontiguousarray(stacked), 1.0, 1.0
    interp = cv2.INTER_AREA if w < ww and h < hh else cv2.INTER_CUBIC
    out = np.empty((n, h, w, e * v * c), np.uint8)
    for i in range(n):
        out[i] = cv2.resize(stacked[i], (w, h), interpolation=interp).reshape(h, w, -1)
    return out, w / ww, h / hh


def prepare_arrays(
    data: NvGazeH5,
    outputs: Sequence[str],
    resolution: Sequence[int],
    valid_range: tuple[float, float] | None = None,
    used_percentage: float = 100.0,
    seed: int = 0,
    source: str = "",
) -> Arrays:
    """Images and targets for the network; excluded samples (pupil off range, NaN) as rejects."""
    missing = [c for c in (*outputs, *PUPIL_CENTER) if c not in data.labels.columns]
    if missing:
        raise ValueError(
            f"{source or 'H5'} lacks label columns {missing} needed by nvgaze.train.output_description"
        )
    images, sx, sy = model_images(data, resolution)
    labels = data.labels
    pupil = np.stack(
        [
            (labels[PUPIL_CENTER[0]].to_numpy(np.float64) + 0.5) * sx - 0.5,
            (labels[PUPIL_CENTER[1]].to_numpy(np.float64) + 0.5) * sy - 0.5,
        ],
        axis=1,
    ).astype(np.float32)
    targets = labels[list(outputs)].to_numpy(np.float32).copy()
    for k, col in enumerate(outputs):
        if col in PUPIL_CENTER:
            targets[:, k] = pupil[:, PUPIL_CENTER.index(col)]
    keep = np.ones(len(data), bool)
    reasons: list[dict[str, Any]] = []
    names = labels.get("image_L_0", pd.Series([""] * len(data))).astype(str).to_numpy()
    src = labels.get("string_source", pd.Series([source] * len(data))).astype(str).to_numpy()
    bad = np.isnan(targets).any(axis=1) | np.isnan(pupil).any(axis=1)
    for i in np.flatnonzero(bad):
        cols = [c for k, c in enumerate(outputs) if np.isnan(targets[i, k])] or list(PUPIL_CENTER)
        reasons.append(
            {
                "source": src[i],
                "sample": int(i),
                "image": names[i],
                "action": "excluded",
                "reason": f"missing_label: {', '.join(cols)}",
            }
        )
    keep &= ~bad
    if valid_range is not None:
        w, h = resolution
        lo, hi = valid_range
        inside = (
            (pupil[:, 0] >= lo * w)
            & (pupil[:, 0] < hi * w)
            & (pupil[:, 1] >= lo * h)
            & (pupil[:, 1] < hi * h)
        )
        for i in np.flatnonzero(keep & ~inside):
            reasons.append(
                {
                    "source": src[i],
                    "sample": int(i),
                    "image": names[i],
                    "action": "excluded",
                    "reason": f"pupil_out_of_range: ({pupil[i, 0]:.1f}, {pupil[i, 1]:.1f}) "
                    f"outside {lo:g}-{hi:g} of {w}x{h}",
                }
            )
        keep &= inside
    index = np.flatnonzero(keep)
    if used_percentage < 100.0:
        rng = np.random.default_rng(seed)
        count = int(len(index) * used_percentage / 100.0)
        index = np.sort(rng.permutation(index)[:count])
    return Arrays(
        images[index],
        targets[index],
        pupil[index],
        index,
        pd.DataFrame(reasons, columns=REJECT_COLUMNS),
    )


# ----------------------------------------------------------------------------------- batches


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches; deterministic in (seed, epoch, batch)."""

    def __init__(
        self,
        arrays: Arrays,
        batch_size: int,
        augmenter: Augmenter | None,
        seed: int,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.augmenter = augmenter
        self.seed = int(seed)
        self.shuffle = shuffle
        n = len(arrays)
        self.n_batches = max(
            1, n // self.batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)
        )
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        n = len(self.arrays)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        sel = self._order[idx * self.batch_size : (idx + 1) * self.batch_size]
        a = self.arrays
        if self.augmenter is None:
            return a.images[sel].astype(np.float32), a.targets[sel]
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        xs, ys = [], []
        for i in sel:
            x, y = self.augmenter(a.images[i], a.targets[i], a.pupil[i], rng)
            xs.append(x)
            ys.append(y)
        return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()


# ------------------------------------------------------------------------------ loss, metrics


@keras.saving.register_keras_serializable(package="gaze_pipelines")
class SummedSquaredError(keras.losses.Loss):
    """NvGaze's ``RegressLoss``: squared errors summed over outputs and over the batch."""

    def __init__(self, name: str = "summed_squared_error", reduction: str = "sum", **kwargs: Any):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample sum of squared errors."""
        return ops.sum(
            ops.square(ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")), axis=-1
        )


@keras.saving.register_keras_serializable(package="gaze_pipelines")
class RmsError(keras.metrics.Metric):
    """``sqrt(sum over samples of sum over the given outputs of squared error / samples)``."""

    def __init__(self, indices: Sequence[int] | None = None, name: str = "rmse", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.indices = None if indices is None else [int(i) for i in indices]
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate squared errors of a batch."""
        diff = ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")
        if self.indices is not None:
            diff = ops.take(diff, self.indices, axis=-1)
        self.total.assign_add(ops.sum(ops.square(diff)))
        self.count.assign_add(ops.cast(ops.shape(diff)[0], "float32"))

    def result(self) -> Any:
        """The RMS error so far."""
        return ops.sqrt(self.total / ops.maximum(self.count, 1.0))

    def reset_state(self) -> None:
        """Start a new epoch."""
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "indices": self.indices}


def metrics_for(outputs: Sequence[str]) -> list[keras.metrics.Metric]:
    """RMS of all outputs (NvGaze's RMSE), and of pupil px / gaze degrees when present."""
    out: list[keras.metrics.Metric] = [RmsError(None, name="rmse")]
    pupil = [outputs.index(c) for c in PUPIL_CENTER if c in outputs]
    gaze = [outputs.index(c) for c in GAZE_ANGLES if c in outputs]
    if pupil:
        out.append(RmsError(pupil, name="pupil_rms_px"))
    if gaze:
        out.append(RmsError(gaze, name="gaze_rms_deg"))
    return out


class EpochSummary(keras.callbacks.Callback):
    """NvGaze's epoch line, the learning rate, and an optional per-epoch hook (e.g. Ray Tune)."""

    def __init__(self, report: Callable[[int, dict[str, float]], None] | None = None):
        super().__init__()
        self.report = report

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        lr = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logger.info(
            "  Training Epoch %d:   Running Time- %.2f    Training Loss (RMSE)- %.4f    "
            "Test Loss (RMSE)- %.4f    pupil RMS %s px    gaze RMS %s deg    lr %.3g",
            epoch + 1,
            time.perf_counter() - self._t0,
            logs.get("rmse", float("nan")),
            logs.get("val_rmse", float("nan")),
            _fmt(logs.get("val_pupil_rms_px")),
            _fmt(logs.get("val_gaze_rms_deg")),
            lr,
        )
        if self.report is not None:
            self.report(epoch + 1, {k: float(v) for k, v in logs.items()})


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


# ------------------------------------------------------------------------------- run folder


def run_name(params: TrainParams) -> str:
    """NvGaze's run description: the overridden training keys and values joined by '_'."""
    if params.run_name:
        return params.run_name
    diff = overridden(params)
    diff.pop("run_dir", None)
    diff.pop("resume", None)
    if not diff:
        return "default"
    parts = []
    for key, value in sorted(diff.items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.append(
            "_".join(
                [
                    key.split(".")[-1],
                    *(f"{v:g}" if isinstance(v, float) else str(v) for v in values),
                ]
            )
        )
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(parts))
    if len(name) > 120:  # keep folder names short but distinct
        name = f"{name[:100]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name


def project_version() -> dict[str, str]:
    """Project, Python and key library versions for the run archive."""
    info = {"python": platform.python_version()}
    for dist in (
        "gaze_pipelines",
        "kedro",
        "keras",
        "tensorflow-cpu",
        "tensorflow",
        "numpy",
        "opencv-python-headless",
    ):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return info


def data_fingerprint(*arrays: Arrays) -> dict[str, Any]:
    """Sample counts and a hash of targets and a strided subset of images of each split."""
    digest = hashlib.sha1()
    counts = []
    for a in arrays:
        counts.append(len(a))
        digest.update(repr(a.images.shape).encode())
        digest.update(np.ascontiguousarray(a.targets).tobytes())
        step = max(1, len(a) // 64)
        digest.update(np.ascontiguousarray(a.images[::step]).tobytes())
    return {"samples": counts, "sha1": digest.hexdigest()}


def run_archive(
    params: Mapping[str, Any],
    name: str,
    model: keras.Model | None = None,
    data: Mapping[str, Any] | None = None,
) -> bytes:
    """A zip with ``parameters.yml`` (resolved), ``version.json``, ``data.json``, the network."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("parameters.yml", yaml.safe_dump(_plain(params), sort_keys=False))
        zf.writestr("version.json", json.dumps({"run_name": name, **project_version()}, indent=2))
        zf.writestr("data.json", json.dumps(dict(data or {}), indent=2))
        if model is not None:
            lines: list[str] = []
            model.summary(print_fn=lambda s, **_: lines.append(s))
            zf.writestr("network.txt", "\n".join(lines))
    return buf.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def resolve_run_dir(
    params: TrainParams, archived: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> Path:
    """``run_dir/<name>``, resumed when it holds a run of the same parameters and data;
    a folder of a run with other parameters or data gets a ``_<i>`` suffix."""
    base = Path(params.run_dir)
    name = run_name(params)
    wanted = yaml.safe_dump(_plain(archived), sort_keys=False)
    wanted_data = json.dumps(dict(data or {}), indent=2)
    for i in range(0, 1000):
        folder = base / (name if i == 0 else f"{name}_{i}")
        archive = folder / f"{folder.name}_config.zip"
        if not archive.exists():
            return folder
        try:
            with zipfile.ZipFile(archive) as zf:
                same = zf.read("parameters.yml").decode() == wanted
                same = same and zf.read("data.json").decode() == wanted_data
                if same and params.resume:
                    return folder  # the same run again: resume it
        except (zipfile.BadZipFile, KeyError):
            continue
    raise RuntimeError(f"too many runs named {name} in {base}")


# ------------------------------------------------------------------------------------ train


@dataclass
class TrainResult:
    """What ``train_nvgaze`` returns."""

    model: keras.Model
    history: pd.DataFrame
    rejects: pd.DataFrame
    run_dir: Path
    best_epoch: int | None
    samples_per_sec: float | None


def train_nvgaze(
    params: TrainParams,
    train: NvGazeH5,
    test: NvGazeH5,
    reflections: Sequence[np.ndarray] = (),
    archived_params: Mapping[str, Any] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    report: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train NvGaze's network; ``report(epoch, metrics)`` is called after every epoch."""
    start = time.perf_counter()
    set_seed(params.seed, deterministic=params.deterministic)
    outputs = list(params.output_description)
    tr = prepare_arrays(
        train,
        outputs,
        params.input_resolution,
        params.valid_pupil_range,
        params.used_data_percentage,
        params.seed,
        "train",
    )
    te = prepare_arrays(
        test,
        outputs,
        params.input_resolution,
        params.valid_pupil_range,
        params.used_data_percentage,
        params.seed,
        "test",
    )
    tr.rejects["reason"] = tr.rejects["reason"] + " [train]"
    te.rejects["reason"] = te.rejects["reason"] + " [test]"
    rejects = pd.concat([tr.rejects, te.rejects], ignore_index=True)
    if len(rejects):
        logger.warning(
            "training excludes %d train and %d test samples (see nvgaze_train_rejects)",
            len(tr.rejects),
            len(te.rejects),
        )
    if len(tr) == 0:
        raise ValueError("nvgaze_train: no training sample left after the valid_pupil_range filter")
    logger.info("%d training samples, %d test samples, outputs %s", len(tr), len(te), outputs)
    augmenter = Augmenter(params.augmentation, outputs, params.valid_pupil_range, reflections)
    train_batches = AugmentedBatches(tr, params.batch_size, augmenter, params.seed)
    test_batches = (
        AugmentedBatches(te, params.batch_size, None, params.seed, shuffle=False, drop_last=False)
        if len(te)
        else None
    )
    channels = tr.images.shape[-1]
    archived = dict(archived_params or {"train": params.model_dump(mode="json")})
    fingerprint = data_fingerprint(tr, te)
    folder = resolve_run_dir(params, archived, fingerprint)
    strategy = select_strategy(params.distribution)
    with strategy.scope():
        model = build_model(params, channels=channels)
        schedule = RampUpRampDown(
            params.learning_rate,
            params.num_epochs,
            len(train_batches),
            params.rampup_length,
            params.rampdown_length,
        )
        optimizer = make_optimizer(
            "adam",
            schedule,
            beta_1=params.adam_beta1,
            beta_2=params.adam_beta2,
            epsilon=params.adam_epsilon,
        )
        model.compile(optimizer=optimizer, loss=SummedSquaredError(), metrics=metrics_for(outputs))
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        folder / f"{folder.name}_config.zip", run_archive(archived, folder.name, model, fingerprint)
    )
    logger.info("run folder %s (parameters and versions in %s_config.zip)", folder, folder.name)
    config = FitConfig(
        epochs=params.num_epochs,
        checkpoint_dir=str(folder / "checkpoints"),
        checkpoint_every_n_epochs=params.checkpoint_frequency,
        keep_checkpoints=2,
        resume=params.resume,
        selection_metric="val_loss" if test_batches is not None else "loss",
        batch_size=params.batch_size,
        log_every_n_secs=60.0,
    )
    result = fit(
        model, train_batches, test_batches, config, callbacks=[EpochSummary(report), *callbacks]
    )
    history = pd.DataFrame(result.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    steps = (history["epoch"].to_numpy() - 1) * len(train_batches)
    history["learning_rate"] = np.asarray(ops.convert_to_numpy(schedule(steps)), float).reshape(-1)
    for col in [c for c in history.columns if c.endswith("loss")]:
        history[col] = history[col].astype(float)
    logger.info("  Training total running time: %.2f seconds", time.perf_counter() - start)
    return TrainResult(
        model, history, rejects[REJECT_COLUMNS], folder, result.best_epoch, result.samples_per_sec
    )
