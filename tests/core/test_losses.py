"""Gaze losses and training metrics against numpy references."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gaze_pipelines.core.geometry import angular_error_deg, theta_phi_to_gaze
from gaze_pipelines.core.losses import (
    LOSS_TYPES,
    GazeLoss,
    OutputLayout,
    gaze_loss,
    make_metrics,
)

LAYOUT = OutputLayout.gazenet(5)
SCALE = np.array([150.0, 90.0, 3.0, 0.15, 0.25])


def _batch(seed=0, n=16):
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(0, 150, (n, 3)), rng.uniform(-0.4, 0.4, (n, 2))], axis=1)
    p = y + np.concatenate([rng.normal(0, 40, (n, 3)), rng.normal(0, 0.1, (n, 2))], axis=1)
    return y.astype("float32"), p.astype("float32")


def _cos_term(a, b):
    return 1 - np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _reference(kind, y, p, scale):
    r = (p - y) / scale
    g_t = theta_phi_to_gaze(y[:, 3], y[:, 4])
    g_p = theta_phi_to_gaze(p[:, 3], p[:, 4])
    if kind == "l1":
        return np.abs(r).mean(1)
    if kind == "rmse":
        return np.sqrt((r**2).mean(1))
    if kind == "logcosh":
        return np.log(np.cosh(r)).mean(1)
    if kind == "cosine":
        return (_cos_term(y[:, :3], p[:, :3]) + _cos_term(g_t, g_p)) / 2
    if kind == "l1_cosine_joint":
        return np.abs(r[:, :3]).mean(1) + _cos_term(g_t, g_p)
    if kind == "l2_cosine_joint":
        return (r[:, :3] ** 2).mean(1) + _cos_term(g_t, g_p)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", LOSS_TYPES)
def test_each_loss_matches_numpy(kind):
    y, p = _batch()
    got = keras.ops.convert_to_numpy(gaze_loss(y, p, kind, LAYOUT, SCALE))
    np.testing.assert_allclose(
        got, _reference(kind, y.astype(float), p.astype(float), SCALE), rtol=2e-4, atol=2e-6
    )


@pytest.mark.parametrize("kind", LOSS_TYPES)
def test_loss_is_zero_for_perfect_predictions(kind):
    y, _ = _batch(1)
    got = keras.ops.convert_to_numpy(gaze_loss(y, y, kind, LAYOUT, SCALE))
    assert np.all(np.abs(got) < 2e-3)


def test_gaze_loss_object_reduces_and_round_trips():
    y, p = _batch(2)
    loss = GazeLoss("l1_cosine_joint", LAYOUT, SCALE)
    value = float(keras.ops.convert_to_numpy(loss(y, p)))
    assert value == pytest.approx(
        _reference("l1_cosine_joint", y.astype(float), p.astype(float), SCALE).mean(), rel=1e-4
    )
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert again.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="loss_type"):
        GazeLoss("huber", LAYOUT)


def test_degrees_layout_and_layouts():
    y, p = _batch(3)
    yd, pd = y.copy(), p.copy()
    yd[:, 3:] = np.degrees(yd[:, 3:])
    pd[:, 3:] = np.degrees(pd[:, 3:])
    rad = keras.ops.convert_to_numpy(gaze_loss(y, p, "cosine", OutputLayout.gazenet(5), None))
    deg = keras.ops.convert_to_numpy(
        gaze_loss(yd, pd, "cosine", OutputLayout.gazenet(5, degrees=True), None)
    )
    np.testing.assert_allclose(rad, deg, rtol=1e-3, atol=1e-6)
    assert OutputLayout.gazenet(3).theta_phi is None
    assert OutputLayout.gazenet(2).xyz is None
    with pytest.raises(ValueError):
        OutputLayout.gazenet(4)
    with pytest.raises(ValueError, match="xyz"):
        gaze_loss(y[:, 3:], p[:, 3:], "l1_cosine_joint", OutputLayout.gazenet(2))


def test_metrics_angular_error_and_point_error():
    y, p = _batch(4)
    fns = {f.__name__: f for f in make_metrics(["angular_error", "d_xyz", "rmse"], LAYOUT, SCALE)}
    ang = keras.ops.convert_to_numpy(fns["angular_error"](y, p))
    ref = angular_error_deg(
        theta_phi_to_gaze(y[:, 3], y[:, 4]), theta_phi_to_gaze(p[:, 3], p[:, 4])
    )
    np.testing.assert_allclose(ang, ref, atol=2e-2)
    d = keras.ops.convert_to_numpy(fns["d_xyz"](y, p))
    np.testing.assert_allclose(d, np.linalg.norm(p[:, :3] - y[:, :3], axis=1), rtol=1e-4)
    # metrics that need absent outputs are skipped
    assert [f.__name__ for f in make_metrics(["angular_error", "l1"], OutputLayout.gazenet(3))] == [
        "l1"
    ]
