"""core.schedules.RampUpRampDown matches NvGaze's adjust_learning_rate epoch by epoch."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from gaze_pipelines.core.schedules import RampUpRampDown


def _reference(epoch: int, lr: float, num_epochs: int, rampup: int, rampdown: int) -> float:
    """trainPupil.adjust_learning_rate, transcribed."""
    if epoch < rampup:
        p = 1.0 - max(0.0, float(epoch)) / float(rampup)
        up = math.exp(-p * p * 5.0)
    else:
        up = 1.0
    if epoch >= num_epochs - rampdown:
        ep = (epoch - (num_epochs - rampdown)) * 0.5
        down = math.exp(-(ep * ep) / rampdown)
    else:
        down = 1.0
    return up * down * lr


@pytest.mark.parametrize(("rampup", "rampdown"), [(0, 50), (5, 10), (0, 0), (3, 0)])
def test_matches_reference_per_epoch(rampup, rampdown):
    steps_per_epoch, num_epochs = 7, 60
    sched = RampUpRampDown(1e-4, num_epochs, steps_per_epoch, rampup, rampdown)
    steps = np.arange(num_epochs * steps_per_epoch)
    got = keras.ops.convert_to_numpy(sched(steps))
    want = [_reference(s // steps_per_epoch, 1e-4, num_epochs, rampup, rampdown) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_serializable_and_validated():
    sched = RampUpRampDown(1e-3, 10, 5, 2, 3)
    again = RampUpRampDown.from_config(sched.get_config())
    assert np.isclose(float(again(12)), float(sched(12)))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        RampUpRampDown(1e-3, 10, 0)
    with pytest.raises(ValueError, match="rampdown_length"):
        RampUpRampDown(1e-3, 10, 1, 0, -1)
