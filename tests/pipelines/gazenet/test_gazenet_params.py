"""GazeNet experiment spec: TAO's documented example validates; bad specs fail with key paths."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gaze_pipelines.hooks import ParameterError, validate_parameters
from gaze_pipelines.pipelines.gazenet.params import (
    PARAMS_MODELS,
    EvaluateParams,
    deep_merge,
    load_experiment,
    validate_section,
)

HERE = Path(__file__).parent
REPO = HERE.parents[2]
TAO_SPEC = yaml.safe_load((HERE / "data" / "tao_gazenet_spec.yaml").read_text())


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _keys(v, prefix + k + ".")
    return out


def test_tao_documented_spec_validates_with_every_key():
    exp = load_experiment(TAO_SPEC)
    dumped = exp.dump()
    missing = _keys(TAO_SPEC) - _keys(dumped)
    assert not missing, f"keys of TAO's spec lost: {missing}"
    assert dumped["__class_name__"] == "GazeNetTrainer"
    assert (
        dumped["optimizer"]["learning_rate_schedule"]["__class_name__"]
        == "SoftstartAnnealingLearningRateSchedule"
    )
    assert exp.dataloader.augmentation_info.modulus_spatial_augmentation.hflip_probability == 0.5
    assert exp.dataloader.filter_info[2].feature_names == ["label/gaze_cam_z"]


def _fail(spec) -> str:
    with pytest.raises(ValueError) as err:
        load_experiment(spec)
    return str(err.value)


def test_unknown_key_names_its_path_and_the_allowed_keys():
    bad = copy.deepcopy(TAO_SPEC)
    bad["dataloader"]["augmentation_info"]["gamma_augmentation"]["gama_max"] = 2
    msg = _fail(bad)
    assert "gazenet.experiment.dataloader.augmentation_info.gamma_augmentation.gama_max" in msg
    assert "allowed keys" in msg and "gamma_max" in msg


def test_wrong_type_and_out_of_range_values():
    bad = copy.deepcopy(TAO_SPEC)
    bad["dataloader"]["batch_size"] = "many"
    bad["optimizer"]["learning_rate_schedule"]["soft_start"] = 1.5
    bad["loss"]["loss_type"] = "huber"
    bad["model"]["model_parameters"]["frozen_blocks"] = 9
    msg = _fail(bad)
    assert "gazenet.experiment.dataloader.batch_size" in msg and "'many'" in msg
    assert "gazenet.experiment.optimizer.learning_rate_schedule.soft_start" in msg
    assert "less than or equal to 1" in msg
    assert "gazenet.experiment.loss.loss_type" in msg and "'l1_cosine_joint'" in msg
    assert "gazenet.experiment.model.model_parameters.frozen_blocks" in msg


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("network_inputs",), "eyes_and_fgrid", "only 'face_and_eyes_and_fgrid'"),
        (("use_landmarks_input",), True, "not supported"),
        (("hooks",), ["MyHook"], "Kedro hooks"),
        (("post_evaluate", "kpi_bucket_file"), "buckets.txt", "kpi_bucket_file is not supported"),
        (("optimizer", "__class_name__"), "RMSPropOptimizer", "AdamOptimizer"),
        (
            ("optimizer", "learning_rate_schedule", "__class_name__"),
            "CosineSchedule",
            "ExponentialDecay",
        ),
        (("checkpoint_n_epoch",), 5, "1..num_epoch"),
        (("dataloader", "num_outputs"), 3, "must equal dataloader.num_outputs"),
    ],
)
def test_unsupported_or_inconsistent_values_are_explained(path, value, needle):
    bad = copy.deepcopy(TAO_SPEC)
    node = bad
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert needle in _fail(bad)


def test_frozen_blocks_need_a_pretrained_model():
    bad = copy.deepcopy(TAO_SPEC)
    bad["model"]["model_parameters"]["pretrained_model_path"] = None
    assert "needs pretrained_model_path" in _fail(bad)


def test_spec_file_is_merged_over_parameters_key_by_key():
    params = load_experiment(TAO_SPEC).dump()
    spec = {"num_epoch": 7, "dataloader": {"batch_size": 16}}
    exp = load_experiment(params, spec)
    assert exp.num_epoch == 7 and exp.dataloader.batch_size == 16
    assert exp.dataloader.eye_scale_factor == TAO_SPEC["dataloader"]["eye_scale_factor"]
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_project_parameters_validate_and_the_hook_reports_key_paths():
    params = yaml.safe_load((REPO / "conf" / "base" / "parameters_gazenet.yml").read_text())
    for key, model in PARAMS_MODELS.items():
        section = params["gazenet"][key.split(".")[1]]
        model.model_validate(section)
    bad = copy.deepcopy(params)
    bad["gazenet"]["train"]["distribution"] = "horovod"
    bad["gazenet"]["experiment"]["dataloader"]["image_info"]["image_face"]["channel"] = 2
    with pytest.raises(ParameterError) as err:
        validate_parameters(bad, {"gazenet.train", "gazenet.experiment"})
    msg = str(err.value)
    assert "gazenet.train.distribution" in msg and "'mirrored'" in msg
    assert "gazenet.experiment.dataloader.image_info.image_face.channel" in msg


def test_evaluate_section_ranges():
    with pytest.raises(ValueError, match="gazenet.evaluate.head_pose_edges_deg"):
        validate_section({"head_pose_edges_deg": [10, 5]}, EvaluateParams, "gazenet.evaluate")
    with pytest.raises(ValueError, match="gazenet.evaluate.model_format"):
        validate_section({"model_format": "tflite"}, EvaluateParams, "gazenet.evaluate")
