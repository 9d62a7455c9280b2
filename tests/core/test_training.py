"""Fit helper: seeding, checkpoints every n epochs, resume, best-model selection, strategies."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from gaze_pipelines.core.schedules import SoftStartAnnealing
from gaze_pipelines.core.training import (
    CheckpointState,
    FitConfig,
    fit,
    make_optimizer,
    select_strategy,
    set_seed,
)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32") + 0.3).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16), (x, y)


def _model(lr=0.05, last_step=40):
    inp = keras.Input((4,), name="x")
    out = keras.layers.Dense(1, name="out")(keras.layers.Dense(8, activation="relu")(inp))
    model = keras.Model(inp, out)
    sched = SoftStartAnnealing(lr, lr / 100, 0.1, 0.7, last_step)
    model.compile(optimizer=make_optimizer("AdamOptimizer", sched), loss="mse")
    return model


def test_same_seed_same_metrics():
    losses = []
    for _ in range(2):
        set_seed(7)
        ds, _ = _data()
        model = _model()
        res = fit(model, ds, ds, FitConfig(epochs=3, selection_metric="val_loss"))
        losses.append(res.history["loss"])
    np.testing.assert_array_equal(losses[0], losses[1])


def test_checkpoints_every_n_epochs_and_resume_continue_the_run(tmp_path):
    ds, (x, _) = _data()
    set_seed(3)
    full = _model()
    ref = fit(full, ds, ds, FitConfig(epochs=6, selection_metric=None))

    ckpt = tmp_path / "ckpt"
    set_seed(3)
    first = _model()
    fit(
        first,
        ds,
        ds,
        FitConfig(
            epochs=6,
            checkpoint_dir=str(ckpt),
            checkpoint_every_n_epochs=2,
            selection_metric=None,
            keep_checkpoints=10,
            steps_per_epoch=None,
        ),
        callbacks=[_StopAfter(3)],
    )
    files = CheckpointState(ckpt)
    assert files.epochs() == [2]  # epoch 3 was interrupted before a checkpoint was due
    assert json.loads(files.state_path.read_text())["epoch"] == 2

    set_seed(3)
    again = _model()
    res = fit(
        again,
        ds,
        ds,
        FitConfig(
            epochs=6,
            checkpoint_dir=str(ckpt),
            checkpoint_every_n_epochs=2,
            selection_metric=None,
            keep_checkpoints=10,
        ),
    )
    assert res.initial_epoch == 2
    assert files.epochs() == [2, 4, 6]
    assert len(res.history["loss"]) == 6
    assert int(again.optimizer.iterations.numpy()) == int(full.optimizer.iterations.numpy())
    np.testing.assert_allclose(res.history["loss"], ref.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(
        again.predict(x, verbose=0), full.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )

    # a finished run is not trained again
    done = fit(
        _model(), ds, ds, FitConfig(epochs=6, checkpoint_dir=str(ckpt), selection_metric=None)
    )
    assert done.initial_epoch == 6


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


class _Spike(keras.callbacks.Callback):
    """Make the last epochs' weights bad, so the best epoch is an earlier one."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == 3:
            self.model.set_weights([w * 0 + 5.0 for w in self.model.get_weights()])


def test_best_epoch_weights_are_kept(tmp_path):
    set_seed(1)
    ds, (x, y) = _data()
    model = _model(lr=1e-9)  # practically frozen, so epoch 4 keeps the spoiled weights
    res = fit(
        model,
        ds,
        ds,
        FitConfig(epochs=4, checkpoint_dir=str(tmp_path), selection_metric="val_loss"),
        callbacks=[_Spike()],
    )
    assert res.best_epoch in (1, 2)
    assert (tmp_path / "best.weights.h5").is_file()
    mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert mse == pytest.approx(res.best_value, rel=1e-3)
    assert res.history["val_loss"][-1] > res.best_value


def test_tensorboard_scalars_written(tmp_path):
    ds, _ = _data()
    fit(
        _model(),
        ds,
        ds,
        FitConfig(
            epochs=1, tensorboard_dir=str(tmp_path / "tb"), summary_every_n_steps=2, batch_size=16
        ),
    )
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert events


def test_strategy_and_optimizer_selection():
    assert select_strategy("default") is tf.distribute.get_strategy()
    mirrored = select_strategy("mirrored")
    assert mirrored.num_replicas_in_sync >= 1
    with pytest.raises(ValueError, match="default"):
        select_strategy("horovod")
    assert isinstance(make_optimizer("GradientDescent", 0.1), keras.optimizers.SGD)
    assert isinstance(make_optimizer("adadelta", 0.1), keras.optimizers.Adadelta)
    with pytest.raises(ValueError, match="adam"):
        make_optimizer("lbfgs", 0.1)


def test_checkpoints_of_another_run_are_cleared(tmp_path):
    ds, _ = _data()
    fit(
        _model(),
        ds,
        ds,
        FitConfig(
            epochs=1, checkpoint_dir=str(tmp_path), selection_metric=None, fingerprint="run-a"
        ),
    )
    assert CheckpointState(tmp_path).epochs() == [1]
    res = fit(
        _model(),
        ds,
        ds,
        FitConfig(
            epochs=1, checkpoint_dir=str(tmp_path), selection_metric=None, fingerprint="run-b"
        ),
    )
    assert res.initial_epoch == 0
    state = json.loads(CheckpointState(tmp_path).state_path.read_text())
    assert state["fingerprint"] == "run-b"
