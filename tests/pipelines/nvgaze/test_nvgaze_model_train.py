"""Network, padding-free helper, augmentation, loss/metrics, run folder, parameters."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.hooks import ParameterError, validate_parameters
from gaze_pipelines.pipelines.nvgaze.augment import (
    Augmenter,
    intensity_remap,
    rotate_gaze,
    screen_blend,
)
from gaze_pipelines.pipelines.nvgaze.model import build_model
from gaze_pipelines.pipelines.nvgaze.params import (
    AugmentationParams,
    NvGazeParams,
    TrainParams,
    overridden,
)
from gaze_pipelines.pipelines.nvgaze.resolution import (
    check_resolution,
    is_padding_free,
    layer_sizes,
    padding_free_resolutions,
)
from gaze_pipelines.pipelines.nvgaze.training import (
    RmsError,
    SummedSquaredError,
    prepare_arrays,
    resolve_run_dir,
    run_archive,
    run_name,
)
from gaze_pipelines.synthetic.nvgaze import gaze_vector

REPO_CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_nvgaze.yml"
TINY = {
    "input_resolution": [31, 31],
    "strides": [2, 2, 2, 2],
    "kernel_sizes": [3, 3, 3, 3],
    "output_channel_counts": [4, 4, 4, 4],
}


# --- padding-free resolutions ------------------------------------------------------------------


def test_padding_free_resolutions_match_nvgaze():
    assert padding_free_resolutions([2] * 6, [3] * 6, 0, 300) == [127, 191, 255]
    assert padding_free_resolutions([2, 2], [5, 3], 0, 30) == [9, 13, 17, 21, 25, 29]
    assert is_padding_free(127, [2] * 6, [3] * 6) and not is_padding_free(128, [2] * 6, [3] * 6)
    assert layer_sizes(127, [2] * 6, [3] * 6) == [63, 31, 15, 7, 3, 1]


def test_invalid_resolution_lists_nearby_valid_ones():
    with pytest.raises(
        ValueError, match=r"width 200 .*valid widths near it: \[127, 191, 255, 319\]"
    ):
        check_resolution((200, 127), [2] * 6, [3] * 6)
    with pytest.raises(ValueError, match=r"height 130"):
        check_resolution((127, 130), [2] * 6, [3] * 6)
    with pytest.raises(ValueError, match="not padding-free"):
        TrainParams(input_resolution=(128, 128))


# --- network ---------------------------------------------------------------------------------


def test_build_model_shapes_and_layers():
    p = TrainParams(
        **TINY, fc_node_counts=[16, 4], dropout=0.2, instance_norm_layers=2, batch_norm_layers=1
    )
    model = build_model(p, channels=2)
    assert model.input_shape == (None, 31, 31, 2) and model.output_shape == (None, 4)
    names = [layer.name for layer in model.layers]
    assert names.count("instance_norm1") == 1 and "instance_norm3" not in names
    assert "batch_norm3" in names and "batch_norm2" not in names and "batch_norm4" not in names
    assert "fc1" in names and "dropout4" in names
    assert model.get_layer("conv4").output.shape[1:3] == (1, 1)
    # the model normalises raw pixels itself: a constant image gives finite outputs
    out = model(np.full((2, 31, 31, 2), 255.0, np.float32), training=False)
    assert np.isfinite(np.asarray(out)).all()


@pytest.mark.parametrize(
    ("layout", "layer"),
    [
        (
            {"input_norm": False, "instance_norm_layers": 4, "batch_norm_layers": 0},
            "instance_norm1",
        ),
        ({}, "instance_norm0"),  # the default: the input image itself, per image and channel
    ],
)
def test_instance_norm_normalises_each_channel(layout, layer):
    model = build_model(TrainParams(**TINY, dropout=0.0, **layout), channels=2)
    import keras

    probe = keras.Model(model.input, model.get_layer(layer).output)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 31, 31, 2)).astype(np.float32) * [1.0, 0.2] + [0.0, 50.0]
    y = np.asarray(probe(x.astype(np.float32)))
    mean, std = y.mean(axis=(1, 2)), y.std(axis=(1, 2))
    active = std > 1e-3
    assert active.sum() >= 3
    assert np.allclose(mean[active], 0, atol=1e-3) and np.allclose(std[active], 1, atol=1e-2)


def test_train_params_validation_messages():
    with pytest.raises(ValueError, match="fc_node_counts must end with the number of outputs 2"):
        TrainParams(output_description=["float_pupil_x", "float_pupil_y"], fc_node_counts=[8, 4])
    with pytest.raises(ValueError, match="unknown outputs"):
        TrainParams(output_description=["float_nope"])
    with pytest.raises(ValueError, match="same length"):
        TrainParams(strides=[2, 2])


# --- parameters --------------------------------------------------------------------------------


def test_conf_base_equals_the_pydantic_defaults():
    with open(REPO_CONF) as fh:
        conf = yaml.safe_load(fh)["nvgaze"]
    assert NvGazeParams.model_validate(conf).model_dump(mode="json") == NvGazeParams().model_dump(
        mode="json"
    )


def test_start_up_hook_names_the_key_path():
    with open(REPO_CONF) as fh:
        conf = yaml.safe_load(fh)
    conf["nvgaze"]["train"]["input_resolution"] = [128, 128]
    conf["nvgaze"]["merge"]["test_ratio"] = 2
    with pytest.raises(ParameterError) as err:
        validate_parameters(conf, {"nvgaze.train"})
    text = str(err.value)
    assert "nvgaze.train" in text and "valid widths near it: [127" in text
    assert "nvgaze.merge.test_ratio" in text


def test_guide_style_space_separated_values():
    """``kedro run --params`` splits on commas: lists come as NvGaze's space-separated values."""
    p = TrainParams.model_validate(
        {
            "strides": "2 2 2 2 2 2",
            "kernel_sizes": "[3 3 3 3 3 3]",
            "input_resolution": "127 127",
            "fc_node_counts": "null",
            "output_description": "float_pupil_x float_pupil_y",
        }
    )
    assert p.strides == [2] * 6 and p.input_resolution == (127, 127) and p.fc_node_counts is None
    assert p.output_description == ["float_pupil_x", "float_pupil_y"]
    nested = NvGazeParams.model_validate(
        {"train": {"augmentation": {"reflection": {"opacity": "0.2 0.3"}}}}
    )
    assert nested.train.augmentation.reflection.opacity == (0.2, 0.3)


def test_overridden_and_run_name():
    p = TrainParams(
        input_resolution=(129, 129), kernel_sizes=[5, 3, 3, 3, 3, 3], learning_rate=5e-4
    )
    assert overridden(p) == {
        "input_resolution": (129, 129),
        "kernel_sizes": [5, 3, 3, 3, 3, 3],
        "learning_rate": 5e-4,
    }
    assert run_name(p) == "input_resolution_129_129_kernel_sizes_5_3_3_3_3_3_learning_rate_0.0005"
    assert run_name(TrainParams()) == "default"
    assert run_name(TrainParams(run_name="mine")) == "mine"


def test_run_folder_resume_or_suffix(tmp_path):
    p = TrainParams(run_dir=str(tmp_path))
    data = {"samples": [10, 2], "sha1": "abc"}
    first = resolve_run_dir(p, {"a": 1}, data)
    assert first == tmp_path / "default"
    first.mkdir()
    (first / "default_config.zip").write_bytes(run_archive({"a": 1}, "default", data=data))
    assert resolve_run_dir(p, {"a": 1}, data) == first  # same parameters and data: resume
    assert resolve_run_dir(p, {"a": 2}, data) == tmp_path / "default_1"  # other parameters
    assert (
        resolve_run_dir(p, {"a": 1}, {**data, "sha1": "def"}) == tmp_path / "default_1"
    )  # other data
    no_resume = TrainParams(run_dir=str(tmp_path), resume=False)
    assert resolve_run_dir(no_resume, {"a": 1}, data) == tmp_path / "default_1"
    with zipfile.ZipFile(first / "default_config.zip") as zf:
        assert yaml.safe_load(zf.read("parameters.yml")) == {"a": 1}
        assert "gaze_pipelines" in zf.read("version.json").decode()


# --- augmentation ------------------------------------------------------------------------------


def _off() -> dict:
    zero = {"probability": 0.0}
    return {
        k: dict(zero)
        for k in (
            "intensity_noise",
            "global_offset",
            "blur",
            "downscale",
            "reflection",
            "intensity_remap",
        )
    }


def test_affine_moves_the_pupil_label_with_the_image():
    params = AugmentationParams.model_validate(
        {**_off(), "affine": {"max_angle_deg": 45, "max_translation": 0.2}}
    )
    outputs = ["float_pupil_x", "float_pupil_y", "float_gaze_x_degree", "float_gaze_y_degree"]
    aug = Augmenter(params, outputs, (0.1, 0.9))
    rng = np.random.default_rng(0)
    for _ in range(10):
        img = np.full((63, 63, 1), 200, np.uint8)
        cv2.circle(img, (25, 30), 4, 0, -1)
        target = np.array([25.0, 30.0, 10.0, 0.0], np.float32)
        out, new = aug(img, target, np.array([25.0, 30.0]), rng)
        ys, xs = np.nonzero(out[:, :, 0] < 100)
        assert abs(xs.mean() - new[0]) < 0.6 and abs(ys.mean() - new[1]) < 0.6
        assert 0.1 * 63 <= new[0] < 0.9 * 63 and 0.1 * 63 <= new[1] < 0.9 * 63
        # gaze keeps its eccentricity under a roll of the camera
        ecc = math.degrees(math.acos(-gaze_vector(new[2], new[3])[2]))
        assert ecc == pytest.approx(10.0, abs=1e-3)


def test_rotate_gaze_matches_camera_roll():
    m = cv2.getRotationMatrix2D((0, 0), 90, 1.0)  # image rotated 90 degrees counter-clockwise
    gx, gy = rotate_gaze(20.0, 0.0, m)
    assert gx == pytest.approx(0.0, abs=1e-6) and gy == pytest.approx(20.0, abs=1e-4)  # right -> up
    assert rotate_gaze(12.0, -7.0, cv2.getRotationMatrix2D((5, 5), 0, 1.0)) == pytest.approx(
        (12.0, -7.0)
    )


def test_photometric_steps():
    img = np.array([[0, 127, 255]], np.uint8)
    out = intensity_remap(img, 0.0, 0.0, 0.0)
    assert np.allclose(out, [[0, 127, 255]], atol=1.0)
    out = intensity_remap(img, 0.1, 0.0, -0.1)
    assert out[0, 0] == pytest.approx(25.5) and out[0, 2] == pytest.approx(229.5)
    assert screen_blend(np.array([100], np.uint8), np.array([255], np.uint8), 0.0)[0] == 100
    assert screen_blend(np.array([100], np.uint8), np.array([255], np.uint8), 1.0)[0] == 255
    params = AugmentationParams()
    aug = Augmenter(
        params, ["float_pupil_x", "float_pupil_y"], (0.1, 0.9), [np.full((20, 20), 250, np.uint8)]
    )
    x, y = aug(
        np.full((31, 31, 1), 90, np.uint8),
        np.array([15.0, 15.0]),
        np.array([15.0, 15.0]),
        np.random.default_rng(1),
    )
    assert x.dtype == np.float32 and x.shape == (31, 31, 1) and y.shape == (2,)
    disabled = Augmenter(AugmentationParams(enabled=False), ["float_pupil_x"], (0.1, 0.9))
    same, _ = disabled(
        np.full((5, 5, 1), 9, np.uint8),
        np.array([2.0]),
        np.array([2.0, 2.0]),
        np.random.default_rng(0),
    )
    assert (same == 9).all()


# --- arrays, loss, metric ----------------------------------------------------------------------


def test_prepare_arrays_resizes_labels_and_excludes():
    n = 5
    labels = pd.DataFrame(
        {
            "float_pupil_x": [31.5, 2.0, 31.5, 31.5, 31.5],
            "float_pupil_y": [31.5, 31.5, 31.5, 31.5, 31.5],
            "float_gaze_x_degree": [1.0, 2.0, np.nan, 4.0, 5.0],
            "float_gaze_y_degree": [0.0] * n,
        }
    )
    data = NvGazeH5(images=np.zeros((n, 1, 1, 1, 64, 64), np.uint8), labels=labels)
    arrays = prepare_arrays(data, list(labels.columns), (31, 31), (0.1, 0.9))
    assert arrays.images.shape == (3, 31, 31, 1)
    assert arrays.targets[0, 0] == pytest.approx((31.5 + 0.5) * 31 / 64 - 0.5)
    assert arrays.index.tolist() == [0, 3, 4]
    reasons = arrays.rejects.set_index("sample")["reason"]
    assert reasons[1].startswith("pupil_out_of_range: ") and reasons[2].startswith(
        "missing_label: "
    )


def test_summed_squared_error_and_rms_metric():
    y = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]], np.float32)
    p = np.array([[3.0, 4.0, 1.0], [1.0, 1.0, 3.0]], np.float32)
    assert float(SummedSquaredError()(y, p)) == pytest.approx(25.0 + 4.0)
    m = RmsError([0, 1])
    m.update_state(y, p)
    assert float(m.result()) == pytest.approx(math.sqrt(25.0 / 2))
    m.update_state(y, y)
    assert float(m.result()) == pytest.approx(math.sqrt(25.0 / 4))
