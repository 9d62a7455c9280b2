"""Learning-rate schedules: TAO's reference values, the formula at key points, plots, serialization."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from gaze_pipelines.core.schedules import (
    Constant,
    ExponentialDecay,
    SoftStartAnnealing,
    plot_schedule,
    schedule_values,
)


def _lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def _reference(p, base, low, soft, anneal):
    if p < soft:
        t = p / soft
    elif p > anneal:
        t = (1 - p) / (1 - anneal)
    else:
        t = 1.0
    return math.exp(math.log(low) + t * (math.log(base) - math.log(low)))


def test_soft_start_annealing_matches_tao_unit_test_values():
    # nvidia_tao_tf1/blocks/learning_rate_schedules/test_softstart_annealing_schedule.py
    sched = SoftStartAnnealing(
        base_lr=1.0, min_lr=0.1, soft_start=0.05, annealing=0.5, last_step=1000
    )
    got = [_lr(sched, s) for s in (1, 200, 400, 600, 800, 999)]
    expected = [0.10471285, 1.0, 1.0, 0.63095725, 0.25118864, 0.100461565]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_soft_start_annealing_key_points(p):
    base, low, soft, anneal, last = 5e-3, 1e-6, 0.3, 0.7, 1000
    sched = SoftStartAnnealing(base, low, soft, anneal, last)
    assert _lr(sched, int(p * last)) == pytest.approx(
        _reference(p, base, low, soft, anneal), rel=1e-5
    )


def test_soft_start_annealing_endpoints_and_plateau():
    sched = SoftStartAnnealing(1e-3, 1e-6, 0.2, 0.8, 100)
    assert _lr(sched, 0) == pytest.approx(1e-6, rel=1e-5)
    assert _lr(sched, 20) == pytest.approx(1e-3, rel=1e-5)
    assert _lr(sched, 50) == pytest.approx(1e-3, rel=1e-5)
    assert _lr(sched, 80) == pytest.approx(1e-3, rel=1e-5)
    assert _lr(sched, 100) == pytest.approx(1e-6, rel=1e-5)
    assert _lr(sched, 10_000) == pytest.approx(1e-6, rel=1e-5)  # clipped past the end


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_lr": 0.0, "min_lr": 1e-6, "soft_start": 0.1, "annealing": 0.5, "last_step": 10},
        {"base_lr": 1e-3, "min_lr": 1e-2, "soft_start": 0.1, "annealing": 0.5, "last_step": 10},
        {"base_lr": 1e-3, "min_lr": 1e-6, "soft_start": 0.6, "annealing": 0.5, "last_step": 10},
        {"base_lr": 1e-3, "min_lr": 1e-6, "soft_start": 0.1, "annealing": 0.5, "last_step": 0},
    ],
)
def test_soft_start_annealing_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        SoftStartAnnealing(**kwargs)


def test_constant_and_exponential_decay():
    assert _lr(Constant(0.01), 123) == pytest.approx(0.01)
    sched = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert _lr(sched, 0) == pytest.approx(0.1)
    assert _lr(sched, 10) == pytest.approx(0.05)
    assert _lr(sched, 15) == pytest.approx(0.1 * 0.5**1.5, rel=1e-5)
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert _lr(stairs, 15) == pytest.approx(0.05)
    floor = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5, min_learning_rate=0.01)
    assert _lr(floor, 100) == pytest.approx(0.01)


def test_schedules_round_trip_through_keras_serialization():
    for sched in (
        SoftStartAnnealing(1e-3, 1e-6, 0.1, 0.7, 50),
        Constant(3e-4),
        ExponentialDecay(1e-2, 5, 0.9),
    ):
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched))
        assert type(again) is type(sched)
        assert again.get_config() == sched.get_config()
        opt = keras.optimizers.Adam(learning_rate=sched)
        opt2 = keras.optimizers.Adam.from_config(opt.get_config())
        restored = opt2._learning_rate
        assert type(restored) is type(sched)
        assert _lr(restored, 7) == pytest.approx(_lr(sched, 7))


def test_schedule_values_and_plot():
    sched = SoftStartAnnealing(1e-3, 1e-6, 0.2, 0.8, 200)
    steps, values = schedule_values(sched, 200, num=50)
    assert steps[0] == 0 and steps[-1] == 200
    assert values.max() == pytest.approx(1e-3, rel=1e-4)
    fig = plot_schedule(sched, 200, steps_per_epoch=20)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), schedule_values(sched, 200)[1])
    assert ax.get_yscale() == "log"
    fig2 = plot_schedule(Constant(1e-3), 10)
    assert len(fig2.axes[0].lines[0].get_xdata()) > 1


def test_cosine_with_warmup_rises_then_decays_to_the_floor():
    from gaze_pipelines.core.schedules import cosine_with_warmup  # noqa: PLC0415

    sched = cosine_with_warmup(1e-3, total_steps=100, warmup_steps=10, min_lr_ratio=0.05)
    values = [float(sched(s)) for s in (0, 5, 10, 55, 100)]
    assert values[0] == pytest.approx(1e-4)  # a tenth of the rate at step 0
    assert values[0] < values[1] < values[2] == pytest.approx(1e-3)
    assert values[2] > values[3] > values[4] == pytest.approx(5e-5)  # floor: 5 % of the rate
    plain = cosine_with_warmup(1e-3, total_steps=100)
    assert float(plain(0)) == pytest.approx(1e-3) and float(plain(100)) == pytest.approx(0.0)
