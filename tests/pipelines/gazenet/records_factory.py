"""Tiny TAO-layout GazeNet record trees for tests: drawn frames + TFRecords with all 83 keys.

Each frame shows a face disc and two eyes whose pupils move with the gaze angles, so a model can
learn something in a few steps. Frame paths are stored the way TAO stores them (absolute paths of
another machine) unless ``tao_paths=False``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gaze_pipelines.core.geometry import theta_phi_to_gaze
from gaze_pipelines.datasets.tfrecord import write_tfrecords
from gaze_pipelines.pipelines.gazenet.features import TAO_GAZE_FEATURES

TAO_PREFIX = "/home/someone/RealTimePipeline/set"
FRAME_W, FRAME_H = 160, 120


def _default(spec) -> object:
    if spec.kind == "bytes":
        return ""
    if spec.length > 1:
        return np.zeros(spec.length, np.int64 if spec.kind == "int64" else np.float32)
    return 0 if spec.kind == "int64" else 0.0


def make_record(
    frame_path: str, rng: np.random.Generator, user_offset: float = 0.0
) -> tuple[dict, np.ndarray]:
    """One record (dict of the 83 features) and its frame image."""
    theta = float(rng.uniform(-0.3, 0.3))
    phi = float(rng.uniform(-0.4, 0.4))
    cx, cy = 80 + int(rng.integers(-6, 7)), 60 + int(rng.integers(-4, 5))
    face = (cx - 30, cy - 30, 60, 60)
    img = np.full((FRAME_H, FRAME_W), 40, np.uint8)
    cv2.circle(img, (cx, cy), 30, 150 + int(user_offset), -1)
    g = theta_phi_to_gaze(theta, phi)
    eyes = {}
    for name, ex in (("left", cx + 12), ("right", cx - 12)):
        ey = cy - 8
        cv2.ellipse(img, (ex, ey), (8, 5), 0, 0, 360, 250, -1)
        px, py = int(round(ex - 6 * g[0])), int(round(ey + 4 * g[1]))
        cv2.circle(img, (px, py), 3, 0, -1)
        eyes[name] = (ex - 8, ey - 8, 16, 16)
    row = {name: _default(spec) for name, spec in TAO_GAZE_FEATURES.items()}
    row.update(
        {
            "train/image_frame_name": frame_path,
            "train/norm_frame_path": frame_path,
            "train/source": "json_datafactory_v2",
            "label/left_eye_status": "open",
            "label/right_eye_status": "open" if rng.uniform() > 0.1 else "closed",
            "train/image_frame_width": FRAME_W,
            "train/image_frame_height": FRAME_H,
            "train/num_keypoints": 104,
            "train/num_eyes_detected": 2,
            "train/valid_theta_phi": 1,
            "label/theta": theta,
            "label/phi": phi,
            "label/norm_face_gaze_theta": theta,
            "label/norm_face_gaze_phi": phi,
            "label/head_pose_theta": 0.05,
            "label/head_pose_phi": -0.02,
            "label/mid_cam_x": 0.0,
            "label/mid_cam_y": 0.0,
            "label/mid_cam_z": 600.0,
            "label/hp_pitch": float(rng.uniform(-25, 25)),
            "label/hp_yaw": float(rng.uniform(-40, 40)),
            "label/gaze_screen_x": float(rng.uniform(0, 1920)),
            "label/gaze_screen_y": float(rng.uniform(0, 1080)),
        }
    )
    por = np.array([0.0, 0.0, 600.0]) + 600.0 * g
    row["label/gaze_cam_x"], row["label/gaze_cam_y"], row["label/gaze_cam_z"] = (
        float(v) for v in por
    )
    for key, box in (
        ("facebbx", face),
        ("lefteyebbx", eyes["left"]),
        ("righteyebbx", eyes["right"]),
    ):
        for c, v in zip("xywh", box, strict=True):
            row[f"train/{key}_{c}"] = int(v)
    for key, box in (
        ("norm_facebb", face),
        ("norm_leyebb", eyes["left"]),
        ("norm_reyebb", eyes["right"]),
    ):
        for c, v in zip("xywh", box, strict=True):
            row[f"train/{key}_{c}"] = int(v)
    return row, img


def make_tree(
    root: Path,
    set_id: str = "s001_test",
    users: dict[str, list[str]] | None = None,
    frames_per_user: int = 6,
    tao_paths: bool = True,
    seed: int = 0,
    folder: str = "TfRecords_joint_combined",
    suffix: str = "pipeline",
) -> Path:
    """Write ``root/<set>/Data/<user>/*.png`` and the combined records; returns ``root``."""
    users = users or {"train": ["u1", "u2", "u3"], "validate": ["u4"], "test": ["u5"]}
    rng = np.random.default_rng(seed)
    rec_dir = root / set_id / f"Ground_Truth_DataFactory_{suffix}" / folder
    rec_dir.mkdir(parents=True, exist_ok=True)
    for split, names in users.items():
        rows = []
        for k, user in enumerate(names):
            data = root / set_id / "Data" / user
            data.mkdir(parents=True, exist_ok=True)
            for i in range(frames_per_user):
                fname = f"frame{i}_{100 * i}_{50 * i}_vc0_02.png"
                stored = (
                    f"{TAO_PREFIX}/{set_id}/Data/{user}/{fname}" if tao_paths else str(data / fname)
                )
                row, img = make_record(stored, rng, user_offset=10 * k)
                cv2.imwrite(str(data / fname), img)
                rows.append(row)
        write_tfrecords(str(rec_dir / f"{split}.tfrecords"), rows, TAO_GAZE_FEATURES)
    return root


def dataset_info(root: Path, set_id: str = "s001_test", **over) -> dict:
    """A ``dataset_info`` for ``make_tree``'s output."""
    info = {
        "ground_truth_folder_name": ["Ground_Truth_DataFactory_pipeline"],
        "image_extension": "png",
        "root_path": None,
        "test_file_name": "test.tfrecords",
        "tfrecord_folder_name": ["TfRecords_joint_combined"],
        "tfrecords_directory_path": [str(root)],
        "tfrecords_set_id": [set_id],
        "train_file_name": "train.tfrecords",
        "validate_file_name": "validate.tfrecords",
    }
    info.update(over)
    return info


def kpiset_info(root: Path, set_id: str = "s001_test") -> dict:
    """A ``kpiset_info`` reading the test file as the KPI fold."""
    return {
        "ground_truth_folder_name_kpi": ["Ground_Truth_DataFactory_pipeline"],
        "kpi_file_name": "test.tfrecords",
        "kpi_root_path": None,
        "kpi_tfrecords_directory_path": [str(root)],
        "tfrecord_folder_name_kpi": ["TfRecords_joint_combined"],
        "tfrecords_set_id_kpi": [set_id],
    }


def small_experiment(root: Path, **dataloader_over) -> dict:
    """A validated-shape experiment dict for the tiny tree (TAO keys, small crops)."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parent / "data" / "tao_gazenet_spec.yaml").read_text())
    spec["checkpoint_dir"] = None
    spec["model"]["model_parameters"].update(
        frozen_blocks=0, pretrained_model_path=None, width_multiplier=0.25
    )
    dl = spec["dataloader"]
    dl["dataset_info"] = dataset_info(root)
    dl["kpiset_info"] = kpiset_info(root)
    dl["batch_size"] = 4
    dl["filter_info"] = []
    dl["image_info"].update(
        image_face={"channel": 1, "height": 32, "width": 32},
        image_left={"channel": 1, "height": 24, "width": 24},
        image_right={"channel": 1, "height": 24, "width": 24},
        image_frame={"channel": 1, "height": FRAME_H, "width": FRAME_W},
    )
    dl.update(dataloader_over)
    spec["num_epoch"] = 2
    return spec
