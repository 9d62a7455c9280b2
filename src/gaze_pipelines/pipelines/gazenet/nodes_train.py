"""``gazenet_train`` nodes: what ``tao gazenet train -e spec.yaml`` does.

resolve the experiment (TAO spec file merged over ``gazenet.experiment``) -> select the training
and validation records (filters, rejects) -> label statistics -> train GazeNet_public (seeded,
checkpoints every ``checkpoint_n_epoch`` with resume, best epoch by ``model_selection_metric``,
TensorBoard scalars and optional visualizations) -> learning-rate curve and label plots.

Checkpoints and TensorBoard logs are written by the training loop itself (they are TAO's
``checkpoint_dir`` and summaries, not catalog data); every other output goes through the catalog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from gaze_pipelines.core import schedules, training
from gaze_pipelines.core.losses import GazeLoss, make_metrics
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.model import build_gazenet, freeze_blocks, transfer_weights
from gaze_pipelines.pipelines.gazenet.params import TrainParams, load_experiment, validate_section

logger = logging.getLogger(__name__)

_SELECTION = {
    "loss": "val_loss",
    "logcosh": "val_logcosh",
    "rmse": "val_rmse",
    "l1": "val_l1",
    "angular_error": "val_angular_error",
    "d_xyz": "val_d_xyz",
}


def resolve_experiment(
    experiment: dict[str, Any], spec_file: dict[str, Any] | None
) -> dict[str, Any]:
    """Merge the TAO spec file over ``gazenet.experiment`` and validate it."""
    if spec_file:
        logger.info(
            "experiment: TAO spec file merged over gazenet.experiment (%d top-level keys)",
            len(spec_file),
        )
    return load_experiment(experiment, spec_file).dump()


def save_experiment(experiment: dict[str, Any]) -> dict[str, Any]:
    """The validated spec the run used, for the reporting folder."""
    return experiment


def _no_records_error(records: pd.DataFrame, phase: str) -> ValueError:
    files = records.attrs.get("files", [])
    missing = records.attrs.get("missing_files", [])
    return ValueError(
        f"no usable {phase} records. Files named by dataset_info: {files or '(none)'}; "
        f"missing: {missing or '(none)'}. Run gazenet_data or fix "
        "gazenet.experiment.dataloader.dataset_info (tfrecords_directory_path, tfrecords_set_id, "
        "ground_truth_folder_name, tfrecord_folder_name)."
    )


def select_training_data(
    records: pd.DataFrame, experiment: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Training and validation rows (``add_test_to``, ``filter_info``), and the rejected rows."""
    loader = experiment["dataloader"]
    train, rej_t = dl.select_phase(records, loader, "training")
    val, rej_v = dl.select_phase(records, loader, "validation")
    if train.empty:
        raise _no_records_error(records, "training")
    if val.empty:
        logger.warning("no validation records: the model is kept from the last epoch")
    logger.info(
        "training: %d records of %d users; validation: %d records of %d users",
        len(train),
        train["user"].nunique(),
        len(val),
        val["user"].nunique() if len(val) else 0,
    )
    rejects = pd.concat([rej_t, rej_v], ignore_index=True)
    return train, val, rejects


def label_statistics(train: pd.DataFrame, experiment: dict[str, Any]) -> dict[str, Any]:
    """Mean and standard deviation of each training target (what the output layer rescales)."""
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    targets = dl.target_matrix(train, cfg)
    std = targets.std(axis=0)
    return {
        "names": _target_names(cfg),
        "mean": [float(v) for v in targets.mean(axis=0)],
        "std": [float(v) if v > 1e-6 else 1.0 for v in std],
        "n": len(targets),
        "layout": cfg.layout.to_config(),
    }


def _target_names(cfg: dl.LoaderConfig) -> list[str]:
    names = []
    if cfg.layout.xyz is not None:
        names += ["x_mm", "y_mm", "z_mm"]
    if cfg.layout.theta_phi is not None:
        unit = "deg" if cfg.degrees else "rad"
        prefix = "delta_" if cfg.learn_delta else ""
        names += [f"{prefix}theta_{unit}", f"{prefix}phi_{unit}"]
    return names


def build_schedule(optimizer: dict[str, Any], total_steps: int) -> Any:
    """The spec's learning-rate schedule (``last_step`` set to the run's total steps, as TAO does)."""
    lrs = optimizer["learning_rate_schedule"]
    kind = lrs["__class_name__"]
    if kind == "SoftstartAnnealingLearningRateSchedule":
        if lrs.get("last_step") and int(lrs["last_step"]) != total_steps:
            logger.info(
                "learning rate schedule: last_step %s from the spec replaced by the run's %d "
                "steps (num_epoch x steps per epoch), as TAO's trainer does",
                lrs["last_step"],
                total_steps,
            )
        return schedules.SoftStartAnnealing(
            lrs["base_learning_rate"],
            lrs["min_learning_rate"],
            lrs["soft_start"],
            lrs["annealing"],
            max(1, total_steps),
        )
    if kind == "ConstantLearningRateSchedule":
        return schedules.Constant(lrs["learning_rate"])
    return schedules.ExponentialDecay(
        lrs["learning_rate"],
        lrs["decay_steps"],
        lrs["decay_rate"],
        lrs["staircase"],
        lrs["min_learning_rate"],
    )


def build_optimizer(optimizer: dict[str, Any], total_steps: int) -> keras.optimizers.Optimizer:
    """Adam / Adadelta / GradientDescent with the spec's schedule."""
    lr = build_schedule(optimizer, total_steps)
    kind = optimizer["__class_name__"]
    if kind == "AdamOptimizer":
        return training.make_optimizer(
            "adam",
            lr,
            beta_1=optimizer["beta1"],
            beta_2=optimizer["beta2"],
            epsilon=optimizer["epsilon"],
        )
    if kind == "AdadeltaOptimizer":
        return training.make_optimizer(
            "adadelta", lr, rho=optimizer["rho"], epsilon=optimizer["epsilon"]
        )
    return training.make_optimizer("sgd", lr)


def _fingerprint(
    experiment: dict[str, Any], train_params: dict[str, Any], train: pd.DataFrame, val: pd.DataFrame
) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(experiment, sort_keys=True, default=str).encode())
    h.update(
        json.dumps(
            {k: train_params.get(k) for k in ("steps_per_epoch", "distribution")}, sort_keys=True
        ).encode()
    )
    for df in (train, val):
        h.update(str(len(df)).encode())
        if len(df):
            h.update("|".join(df["train/image_frame_name"].astype(str)).encode())
    return h.hexdigest()[:16]


def _checkpoint_dir(experiment: dict[str, Any], train_params: TrainParams) -> str:
    return experiment.get("checkpoint_dir") or train_params.checkpoint_root


def _total_steps(
    n: int, experiment: dict[str, Any], p: TrainParams, replicas: int
) -> tuple[int, int]:
    batch = int(experiment["dataloader"]["batch_size"]) * replicas
    steps = math.ceil(n / batch)
    if p.steps_per_epoch:
        steps = min(steps, p.steps_per_epoch)
    return steps, steps * int(experiment["num_epoch"])


def build_model(experiment: dict[str, Any], stats: dict[str, Any]) -> keras.Model:
    """GazeNet_public as the spec's ``model`` and ``image_info`` say, rescaled to the label stats."""
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    mp = experiment["model"]["model_parameters"]
    return build_gazenet(
        cfg.face_shape,
        cfg.eye_shape,
        cfg.facegrid_size,
        cfg.num_outputs,
        dropout_rate=mp["dropout_rate"],
        use_batch_norm=mp["use_batch_norm"],
        regularizer_type=mp["regularizer_type"],
        regularizer_weight=mp["regularizer_weight"],
        width_multiplier=mp["width_multiplier"],
        output_mean=stats["mean"],
        output_std=stats["std"],
    )


def compile_model(
    model: keras.Model, experiment: dict[str, Any], stats: dict[str, Any], total_steps: int
) -> None:
    """Optimizer with the spec's schedule, ``GazeLoss`` and the training metrics."""
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    layout = cfg.layout
    metric_names = ["l1", "rmse", "logcosh", "angular_error", "d_xyz"]
    model.compile(
        optimizer=build_optimizer(experiment["optimizer"], total_steps),
        loss=GazeLoss(experiment["loss"]["loss_type"], layout, stats["std"]),
        metrics=make_metrics(metric_names, layout, stats["std"]),
    )


def _selection_metric(
    experiment: dict[str, Any], cfg: dl.LoaderConfig, has_val: bool
) -> str | None:
    if not has_val:
        return None
    name = experiment["model_selection_metric"]
    if name == "angular_error" and cfg.layout.theta_phi is None:
        raise ValueError(
            "model_selection_metric angular_error needs theta/phi outputs (num_outputs 2 or 5)"
        )
    if name == "d_xyz" and cfg.layout.xyz is None:
        raise ValueError("model_selection_metric d_xyz needs x, y, z outputs (num_outputs 3 or 5)")
    return _SELECTION[name]


def _visualize(
    tb_dir: str,
    ds: tf.data.Dataset,
    targets: np.ndarray,
    experiment: dict[str, Any],
    cfg: dl.LoaderConfig,
) -> None:
    """TensorBoard images of the inputs and 2D/3D label distributions (``enable_visualization``)."""
    writer = tf.summary.create_file_writer(str(Path(tb_dir) / "visualization"))
    n = int(experiment["visualize_num_images"])
    inputs, _ = next(iter(ds))
    with writer.as_default(step=0):
        for name in ("input_face_images", "input_left_images", "input_right_images"):
            img = inputs[name][:n]
            img = (img - tf.reduce_min(img)) / tf.maximum(
                tf.reduce_max(img) - tf.reduce_min(img), 1e-6
            )
            tf.summary.image(name, img, max_outputs=n)
        grid = tf.reshape(inputs["input_facegrid"][:n], [-1, cfg.grid[0], cfg.grid[1], 1])
        tf.summary.image("input_facegrid", grid, max_outputs=n)
        names = _target_names(cfg)
        for i, name in enumerate(names):
            tf.summary.histogram(
                f"labels/{name}", targets[:, i], buckets=int(experiment["visualize_bins_3d"])
            )
        if cfg.layout.theta_phi is not None:
            b2 = int(experiment["visualize_bins_2d"])
            t, p = cfg.layout.theta_phi
            hist, _, _ = np.histogram2d(targets[:, t], targets[:, p], bins=b2)
            hist = hist / max(hist.max(), 1.0)
            tf.summary.image("labels/theta_phi_2d", hist[None, :, :, None].astype("float32"))
    writer.flush()


def train_gazenet(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    experiment: dict[str, Any],
    train_params: dict[str, Any],
    stats: dict[str, Any],
    pretrained: keras.Model | None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Train GazeNet_public per the experiment; returns the kept model, history and a report."""
    p = validate_section(train_params, TrainParams, "gazenet.train")
    mp = experiment["model"]["model_parameters"]
    if mp.get("pretrained_model_path") and pretrained is None:
        raise ValueError(
            f"pretrained_model_path {mp['pretrained_model_path']!r} was not loaded by the catalog entry "
            "gazenet_pretrained_model (it reads "
            "gazenet.experiment.model.model_parameters.pretrained_model_path or the spec file)"
        )
    seed = int(experiment["random_seed"])
    training.set_seed(seed, deterministic=p.deterministic)
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    strategy = training.select_strategy(p.distribution)
    replicas = strategy.num_replicas_in_sync
    steps, total_steps = _total_steps(len(train), experiment, p, replicas)
    batch = cfg.batch_size * replicas

    train_cache = dl.build_frame_cache(train, cfg, p.parallel_calls) if p.cache_frames else None
    val_cache = (
        dl.build_frame_cache(validation, cfg, p.parallel_calls)
        if p.cache_frames and len(validation)
        else None
    )
    train_ds = dl.make_dataset(
        train,
        cfg,
        training=True,
        seed=seed,
        batch_size=batch,
        shuffle_buffer=p.shuffle_buffer,
        parallel_calls=p.parallel_calls,
        cache=train_cache,
    )
    val_ds = (
        dl.make_dataset(
            validation,
            cfg,
            training=False,
            seed=seed,
            batch_size=batch,
            parallel_calls=p.parallel_calls,
            cache=val_cache,
        )
        if len(validation)
        else None
    )
    if p.steps_per_epoch:
        train_ds = train_ds.repeat()

    with strategy.scope():
        model = build_model(experiment, stats)
        copied: list[str] = []
        if mp.get("pretrained_model_path"):
            copied = transfer_weights(pretrained, model)
            logger.info(
                "pretrained: copied %d layers from %s", len(copied), mp["pretrained_model_path"]
            )
        frozen = freeze_blocks(model, int(mp["frozen_blocks"]))
        compile_model(model, experiment, stats, total_steps)
    logger.info(
        "GazeNet_public: %d parameters (%d trainable), %d layers frozen, %d steps/epoch x %d epochs",
        model.count_params(),
        sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        len(frozen),
        steps,
        experiment["num_epoch"],
    )

    tb_dir = p.tensorboard_dir
    if experiment["enable_visualization"] and tb_dir:
        _visualize(tb_dir, train_ds, dl.target_matrix(train, cfg), experiment, cfg)
    selection = _selection_metric(experiment, cfg, val_ds is not None)
    result = training.fit(
        model,
        train_ds,
        val_ds,
        training.FitConfig(
            epochs=int(experiment["num_epoch"]),
            checkpoint_dir=_checkpoint_dir(experiment, p),
            checkpoint_every_n_epochs=int(experiment["checkpoint_n_epoch"]),
            keep_checkpoints=p.keep_checkpoints,
            resume=p.resume,
            selection_metric=selection,
            selection_mode="min",
            tensorboard_dir=tb_dir,
            summary_every_n_steps=int(experiment["infrequent_summary_every_n_steps"]) or None,
            log_every_n_secs=float(experiment["log_every_n_secs"]),
            batch_size=batch,
            steps_per_epoch=steps if p.steps_per_epoch else None,
            verbose=p.verbose,
            fingerprint=_fingerprint(experiment, train_params, train, validation),
        ),
    )
    history = pd.DataFrame(result.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    report = {
        "samples_per_sec": result.samples_per_sec,
        "steps_per_sec": result.steps_per_sec,
        "seconds": round(result.seconds, 3),
        "epochs": int(experiment["num_epoch"]),
        "resumed_after_epoch": result.initial_epoch,
        "steps_per_epoch": steps,
        "total_steps": total_steps,
        "batch_size": batch,
        "replicas": replicas,
        "selection_metric": selection,
        "best_epoch": result.best_epoch,
        "best_value": result.best_value,
        "n_train": len(train),
        "n_validation": len(validation),
        "parameters": int(model.count_params()),
        "frozen_layers": frozen,
        "pretrained_layers": copied,
        "frame_cache_mb": round((train_cache.nbytes if train_cache else 0) / 1e6, 1),
        "checkpoint_dir": _checkpoint_dir(experiment, p),
    }
    return model, history, report


def plot_learning_rate(experiment: dict[str, Any], report: dict[str, Any]):
    """The learning-rate curve of the run (like the figure in TAO's documentation)."""
    total = int(report["total_steps"])
    sched = build_schedule(experiment["optimizer"], total)
    return schedules.plot_schedule(
        sched,
        total,
        title=f"{experiment['optimizer']['learning_rate_schedule']['__class_name__']} "
        f"({experiment['optimizer']['__class_name__']}, {total} steps)",
        steps_per_epoch=int(report["steps_per_epoch"]),
    )


def plot_training_curves(history: pd.DataFrame):
    """Loss and validation metrics per epoch."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(10, 4), dpi=100)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for col in ("loss", "val_loss"):
        if col in history:
            ax1.plot(history["epoch"], history[col], marker="o", label=col)
    ax1.set_xlabel("epoch")
    ax1.set_title("loss")
    ax1.legend()
    for col in ("angular_error", "val_angular_error"):
        if col in history:
            ax2.plot(history["epoch"], history[col], marker="o", label=col)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("degrees")
    ax2.set_title("gaze angular error")
    if ax2.lines:
        ax2.legend()
    fig.tight_layout()
    return fig


def plot_label_distribution(train: pd.DataFrame, experiment: dict[str, Any]):
    """Histograms of the training targets (``visualize_bins_3d``) and theta/phi in 2D (``_2d``)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    targets = dl.target_matrix(train, cfg)
    names = _target_names(cfg)
    fig = Figure(figsize=(3.2 * (len(names) + 1), 3.2), dpi=100)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names) + 1, i + 1)
        ax.hist(targets[:, i], bins=min(int(experiment["visualize_bins_3d"]), 200))
        ax.set_title(name, fontsize=9)
    if cfg.layout.theta_phi is not None:
        ax = fig.add_subplot(1, len(names) + 1, len(names) + 1)
        t, ph = cfg.layout.theta_phi
        ax.hist2d(targets[:, ph], targets[:, t], bins=int(experiment["visualize_bins_2d"]))
        ax.set_xlabel(names[ph])
        ax.set_ylabel(names[t])
        ax.set_title("theta/phi", fontsize=9)
    fig.tight_layout()
    return fig
