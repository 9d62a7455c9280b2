"""TAO GazeNet TFRecord feature spec: the 83 keys TAO's ``dataset_convert`` writes, with types.

Read off TAO's ``DataConverter.feature_to_type`` and checked against
``../shared/fixtures/tao/dataio/combined.tfrecords``. ``kind`` is ``bytes``, ``int64`` or ``float``;
``length`` is 1 for scalars and the fixed length of list features (landmarks: 104 x 2, etc.).
"""

from __future__ import annotations

from gaze_pipelines.datasets.tfrecord import FeatureSpec

# Key groups that both the TFRecord spec and the GT text columns use.
_SCREEN_HEAD = [
    *[f"label/gaze_cam_{c}" for c in "xyz"],
    "label/gaze_screen_x",
    "label/gaze_screen_y",
    "label/hp_pitch",
    "label/hp_yaw",
    "label/hp_roll",
    "label/theta",
    "label/phi",
]
_EYE_CENTRES = [f"label/{p}_cam_{c}" for p in ("mid", "lpc", "rpc") for c in "xyz"]
_NORM_ANGLES = [
    f"label/norm_{part}_{kind}_{a}"
    for part in ("face", "leye", "reye")
    for kind in ("gaze", "hp")
    for a in ("theta", "phi")
]
_FRAME_BOXES = [
    f"train/{box}_{c}" for box in ("facebbx", "lefteyebbx", "righteyebbx") for c in "xywh"
]
_NORM_BOXES = [f"train/norm_{box}_{c}" for box in ("facebb", "leyebb", "reyebb") for c in "xywh"]

_BYTES = [
    "train/image_frame_name",
    "train/source",
    "train/norm_frame_path",
    "label/left_eye_status",
    "label/right_eye_status",
]
_INT64 = [
    "train/image_frame_width",
    "train/image_frame_height",
    "train/num_keypoints",
    "train/num_eyes_detected",
    "train/valid_theta_phi",
    *_FRAME_BOXES,
    *[f"train/tight_facebbx_{c}" for c in ("x1", "y1", "x2", "y2")],
    *_NORM_BOXES,
]
_FLOAT = [
    *_SCREEN_HEAD,
    *[f"label/{a}_{e}" for e in ("le", "re", "mid") for a in ("theta", "phi")],
    "label/head_pose_theta",
    "label/head_pose_phi",
    *_EYE_CENTRES,
    *_NORM_ANGLES,
    "train/norm_per_oof",
]
_LISTS = {
    "train/landmarks": ("float", 208),
    "train/norm_landmarks": ("float", 208),
    "train/eye_features": ("float", 56),
    "train/landmarks_3D": ("float", 114),
    "train/landmarks_occ": ("int64", 104),
}

TAO_GAZE_FEATURES: dict[str, FeatureSpec] = {
    **{k: FeatureSpec("bytes") for k in _BYTES},
    **{k: FeatureSpec("int64") for k in _INT64},
    **{k: FeatureSpec("float") for k in _FLOAT},
    **{k: FeatureSpec(kind, length) for k, (kind, length) in _LISTS.items()},
}
assert len(TAO_GAZE_FEATURES) == 83, len(TAO_GAZE_FEATURES)

# Ground-truth text columns, in TAO's GtConverter order (after frame folder and file name).
GT_FEATURES: list[str] = [
    *_FRAME_BOXES,
    *_SCREEN_HEAD,
    *_EYE_CENTRES,
    "label/head_pose_theta",
    "label/head_pose_phi",
    *[f"label/{a}_{e}" for e in ("mid", "le", "re") for a in ("theta", "phi")],
    "train/valid_theta_phi",
    "train/num_keypoints",
    "train/source",
    "train/norm_frame_path",
    *_NORM_ANGLES,
    *_NORM_BOXES,
    "train/norm_per_oof",
    *[f"train/norm_{part}_cnv_mat" for part in ("face", "leye", "reye")],
    *[f"label/face_cam_{c}" for c in "xyz"],
]
