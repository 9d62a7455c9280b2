"""GazeNet input pipeline: records -> per-phase tables -> ``tf.data`` batches of model inputs.

What TAO's ``GazeNetDataloaderAugV2`` does, from a records table (``GazeNetRecordsDataset``):

- ``select_phase``: the rows of a phase (``add_test_to`` merges the test split into training or
  validation), ``filter_info`` applied in the phases of ``filter_phases``; rows without a frame on
  disk, without a face or eye box, or with non-finite labels go to a rejects table with a reason.
- ``target_matrix`` / ``outputs_to_labels``: labels as the network learns them (``num_outputs``
  5 = x, y, z (mm), theta, phi; 3 = x, y, z; 2 = theta, phi; ``theta_phi_degrees``;
  ``learn_delta`` = angles relative to the head pose; ``use_head_norm`` = angles in the
  normalized camera) and back to absolute labels in mm and radians.
- ``make_dataset``: per batch, crops the face box scaled by ``face_scale_factor`` and the eye
  boxes scaled by ``eye_scale_factor`` (``use_narrow_eye``: eye crops half as high as wide) from the
  frame (or the normalized frame when ``use_head_norm``), resizes them to ``image_info``, builds
  the facegrid from the face box, and in training applies ``augmentation_info`` (zoom and random
  box shift, horizontal flip that mirrors x and phi and swaps the eyes, contrast / hue /
  saturation, gamma, blur), then ``input_normalization_type``. Frames are decoded once into a
  ``FrameCache`` of windows around the face (``build_frame_cache``), or per element without one;
  both give the same inputs. Randomness is stateless, seeded from ``random_seed`` and the batch,
  so runs repeat exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from gaze_pipelines.core import augment
from gaze_pipelines.core.losses import OutputLayout
from gaze_pipelines.core.progress import progress
from gaze_pipelines.pipelines.gazenet.model import INPUT_NAMES

logger = logging.getLogger(__name__)

XYZ = ("label/gaze_cam_x", "label/gaze_cam_y", "label/gaze_cam_z")
ANGLES = ("label/theta", "label/phi")
NORM_ANGLES = ("label/norm_face_gaze_theta", "label/norm_face_gaze_phi")
HEAD_POSE = ("label/head_pose_theta", "label/head_pose_phi")
BOXES = {
    "frame": ("train/facebbx", "train/lefteyebbx", "train/righteyebbx"),
    "norm": ("train/norm_facebb", "train/norm_leyebb", "train/norm_reyebb"),
}
META_COLUMNS = (
    "phase",
    "set_id",
    "user",
    "frame_path",
    "train/image_frame_name",
    "label/left_eye_status",
    "label/right_eye_status",
    "train/valid_theta_phi",
    "label/hp_pitch",
    "label/hp_yaw",
    "label/hp_roll",
    "label/gaze_screen_x",
    "label/gaze_screen_y",
    "label/mid_cam_x",
    "label/mid_cam_y",
    "label/mid_cam_z",
    "label/lpc_cam_x",
    "label/lpc_cam_y",
    "label/lpc_cam_z",
    "label/rpc_cam_x",
    "label/rpc_cam_y",
    "label/rpc_cam_z",
    *XYZ,
    *ANGLES,
    *HEAD_POSE,
    *NORM_ANGLES,
)
REJECT_COLUMNS = ["phase", "set_id", "user", "frame", "reason"]


@dataclass(frozen=True)
class LoaderConfig:
    """The dataloader part of a validated experiment, flattened for graph code."""

    face_shape: tuple[int, int, int]
    eye_shape: tuple[int, int, int]
    frame_channels: int
    grid: tuple[int, int]
    face_scale: float
    eye_scale: float
    narrow_eye: bool
    normalization: str
    num_outputs: int
    degrees: bool
    learn_delta: bool
    head_norm: bool
    batch_size: int
    augmentation: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, dataloader: dict[str, Any]) -> LoaderConfig:
        """From ``experiment['dataloader']`` (validated, TAO key names)."""
        info = dataloader["image_info"]

        def shape(key: str) -> tuple[int, int, int]:
            return (int(info[key]["height"]), int(info[key]["width"]), int(info[key]["channel"]))

        aug = dataloader["augmentation_info"]
        return cls(
            face_shape=shape("image_face"),
            eye_shape=shape("image_left"),
            frame_channels=int(info["image_frame"]["channel"]),
            grid=(int(info["facegrid"]["height"]), int(info["facegrid"]["width"])),
            face_scale=float(dataloader["face_scale_factor"]),
            eye_scale=float(dataloader["eye_scale_factor"]),
            narrow_eye=bool(dataloader["use_narrow_eye"]),
            normalization=str(dataloader["input_normalization_type"]),
            num_outputs=int(dataloader["num_outputs"]),
            degrees=bool(dataloader["theta_phi_degrees"]),
            learn_delta=bool(dataloader["learn_delta"]),
            head_norm=bool(dataloader["use_head_norm"]),
            batch_size=int(dataloader["batch_size"]),
            augmentation=aug if aug.get("enable_online_augmentation") else {},
        )

    @property
    def layout(self) -> OutputLayout:
        """Which target columns are xyz and theta/phi."""
        return OutputLayout.gazenet(self.num_outputs, self.degrees)

    @property
    def facegrid_size(self) -> int:
        """Length of the flattened facegrid input."""
        return self.grid[0] * self.grid[1]


# --------------------------------------------------------------------------- tables


def reject_rows(df: pd.DataFrame, mask: np.ndarray, reason: pd.Series | str) -> pd.DataFrame:
    """Rows of ``df`` selected by ``mask`` as a rejects table (``reason`` = ``"<code>: detail"``)."""
    sel = df.loc[mask]
    reasons = reason.loc[mask] if isinstance(reason, pd.Series) else reason
    return pd.DataFrame(
        {
            "phase": sel.get("phase", ""),
            "set_id": sel.get("set_id", ""),
            "user": sel.get("user", ""),
            "frame": sel.get("train/image_frame_name", ""),
            "reason": reasons,
        }
    )


def _box_columns(prefix: str) -> list[str]:
    return [f"{prefix}_{c}" for c in "xywh"]


def select_phase(
    records: pd.DataFrame, dataloader: dict[str, Any], phase: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of ``phase`` ready for the pipeline, and the rejected rows with a reason."""
    if records.empty or "phase" not in records:
        return records.iloc[0:0].copy(), pd.DataFrame(columns=REJECT_COLUMNS)
    phases = {phase}
    add = dataloader.get("add_test_to")
    if add == phase:
        phases.add("testing")
    if phase == "testing" and add in ("training", "validation"):
        return records.iloc[0:0].copy(), pd.DataFrame(columns=REJECT_COLUMNS)
    df = records.loc[records["phase"].isin(phases)].copy()
    df["phase"] = phase
    rejects: list[pd.DataFrame] = []

    if phase in dataloader.get("filter_phases", []):
        for flt in dataloader.get("filter_info", []):
            lo, hi = float(flt["desired_val_min"]), float(flt["desired_val_max"])
            for feature in flt["feature_names"]:
                if feature not in df.columns:
                    raise ValueError(
                        f"filter_info feature '{feature}' is not a record feature; "
                        f"scalar features: {sorted(c for c in records.columns if '/' in c)[:20]} ..."
                    )
                values = pd.to_numeric(df[feature], errors="coerce")
                bad = ~values.between(lo, hi)
                reason = (
                    "filtered: "
                    + feature
                    + "="
                    + values.round(3).astype(str)
                    + f" outside [{lo:g}, {hi:g}]"
                )
                rejects.append(reject_rows(df, bad.to_numpy(), reason))
                df = df.loc[~bad]

    head_norm = bool(dataloader.get("use_head_norm"))
    exists_col = "norm_frame_exists" if head_norm else "frame_exists"
    path_col = "norm_frame_path" if head_norm else "frame_path"
    if exists_col in df:
        bad = ~df[exists_col].astype(bool).to_numpy()
        rejects.append(reject_rows(df, bad, "missing_frame: " + df[path_col].astype(str)))
        df = df.loc[~bad]

    boxes = BOXES["norm" if head_norm else "frame"]
    for prefix, code in zip(
        boxes, ("no_face_box", "no_left_eye_box", "no_right_eye_box"), strict=True
    ):
        w = pd.to_numeric(df[f"{prefix}_w"], errors="coerce")
        h = pd.to_numeric(df[f"{prefix}_h"], errors="coerce")
        bad = ~((w > 0) & (h > 0)).to_numpy()
        rejects.append(reject_rows(df, bad, f"{code}: {prefix} width/height <= 0"))
        df = df.loc[~bad]

    needed = list(label_columns(dataloader))
    values = df[needed].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    rejects.append(reject_rows(df, bad, "bad_label: non-finite " + ", ".join(needed)))
    df = df.loc[~bad].reset_index(drop=True)

    out_rejects = (
        pd.concat([r for r in rejects if len(r)], ignore_index=True)
        if any(len(r) for r in rejects)
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    return df, out_rejects


def label_columns(dataloader: dict[str, Any]) -> tuple[str, ...]:
    """Record columns the targets are made of."""
    n = int(dataloader["num_outputs"])
    angles = NORM_ANGLES if dataloader.get("use_head_norm") else ANGLES
    cols: tuple[str, ...] = ()
    if n in (3, 5):
        cols += XYZ
    if n in (2, 5):
        cols += angles
        if dataloader.get("learn_delta"):
            cols += HEAD_POSE
    return cols


def target_matrix(df: pd.DataFrame, cfg: LoaderConfig) -> np.ndarray:
    """``(N, num_outputs)`` float32 targets as the network learns them."""
    n = cfg.num_outputs
    parts = []
    if n in (3, 5):
        parts.append(df[list(XYZ)].to_numpy(np.float64))
    if n in (2, 5):
        angles = df[list(NORM_ANGLES if cfg.head_norm else ANGLES)].to_numpy(np.float64)
        if cfg.learn_delta:
            angles = angles - df[list(HEAD_POSE)].to_numpy(np.float64)
        if cfg.degrees:
            angles = np.degrees(angles)
        parts.append(angles)
    return np.concatenate(parts, axis=1).astype(np.float32)


def outputs_to_labels(
    outputs: np.ndarray, df: pd.DataFrame, cfg: LoaderConfig
) -> dict[str, np.ndarray | None]:
    """Network outputs back to absolute labels: ``xyz`` (mm) and ``theta_phi`` (radians)."""
    out = np.asarray(outputs, np.float64).reshape(len(df), cfg.num_outputs)
    layout = cfg.layout
    xyz = out[:, list(layout.xyz)] if layout.xyz is not None else None
    tp = None
    if layout.theta_phi is not None:
        tp = out[:, list(layout.theta_phi)]
        if cfg.degrees:
            tp = np.radians(tp)
        if cfg.learn_delta:
            tp = tp + df[list(HEAD_POSE)].to_numpy(np.float64)
    return {"xyz": xyz, "theta_phi": tp}


def true_labels(df: pd.DataFrame, cfg: LoaderConfig) -> dict[str, np.ndarray | None]:
    """The absolute labels of the rows (what ``outputs_to_labels`` is compared with)."""
    return outputs_to_labels(target_matrix(df, cfg), df, cfg)


def hflip_signs(cfg: LoaderConfig) -> np.ndarray:
    """Per-target sign under a horizontal flip: x and phi change sign."""
    signs = np.ones(cfg.num_outputs, np.float32)
    layout = cfg.layout
    if layout.xyz is not None:
        signs[layout.xyz[0]] = -1.0
    if layout.theta_phi is not None:
        signs[layout.theta_phi[1]] = -1.0
    return signs


# --------------------------------------------------------------------------- tf.data


def _eye_boxes(boxes: tf.Tensor, cfg: LoaderConfig) -> tf.Tensor:
    eyes = augment.scale_boxes(boxes, cfg.eye_scale)
    if cfg.narrow_eye:
        x, y, w, h = tf.unstack(eyes, axis=-1)
        cy = y + h / 2.0
        h2 = w / 2.0
        eyes = tf.stack([x, cy - h2 / 2.0, w, h2], axis=-1)
    return eyes


def _to_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    have = images.shape[-1]
    if have == channels:
        return images
    if channels == 3:
        return tf.image.grayscale_to_rgb(images)
    return tf.image.rgb_to_grayscale(images)


def _photometric(images: tf.Tensor, aug: dict[str, Any], seed: tf.Tensor) -> tf.Tensor:
    color = aug["modulus_color_augmentation"]
    images = augment.random_contrast(
        images,
        color["contrast_center"] / 255.0,
        color["contrast_scale_max"],
        augment.sub_seed(seed, 0),
    )
    images = augment.random_hue_saturation(
        images, color["hue_rotation_max"], color["saturation_shift_max"], augment.sub_seed(seed, 1)
    )
    gamma = aug["gamma_augmentation"]
    images = augment.random_gamma(
        images,
        gamma["gamma_min"],
        gamma["gamma_max"],
        gamma["gamma_probability"],
        augment.sub_seed(seed, 2),
        gamma["gamma_type"],
    )
    blur = aug["blur_augmentation"]
    return augment.random_gaussian_blur(
        images, blur["kernel_sizes"], blur["blur_probability"], augment.sub_seed(seed, 3)
    )


def batch_fn(cfg: LoaderConfig, training: bool):
    """The per-batch map producing ``(inputs dict, targets)``.

    Arguments: ``images (B, R, R, C)`` uint8 windows of the frames, ``windows (B, 4)`` their
    ``(x, y, w, h)`` in frame pixels, ``frame_sizes (B, 2)`` ``(W, H)``, ``boxes (B, 3, 4)`` face /
    left eye / right eye in frame pixels, ``targets (B, n)``, and a ``seed`` ``[2]``.
    """
    aug = cfg.augmentation if training else {}
    signs = tf.constant(hflip_signs(cfg))

    @tf.autograph.experimental.do_not_convert  # graph code only: no Python branches on tensors
    def fn(images, windows, frame_sizes, boxes, targets, seed):
        windows = tf.cast(windows, tf.float32)
        sizes = tf.cast(frame_sizes, tf.float32)
        width, height = sizes[:, 0], sizes[:, 1]
        boxes = tf.cast(boxes, tf.float32)
        n = tf.shape(images)[0]
        flip = tf.zeros([n], tf.bool)
        if aug:
            spatial = aug["modulus_spatial_augmentation"]
            shift = aug["random_shift_bbx_augmentation"]
            boxes = augment.random_zoom_boxes(
                boxes, spatial["zoom_min"], spatial["zoom_max"], augment.sub_seed(seed, 10)
            )
            boxes = augment.random_shift_boxes(
                boxes,
                shift["shift_percent_max"],
                shift["shift_probability"],
                augment.sub_seed(seed, 11),
            )
            if float(spatial["hflip_probability"]) > 0:
                flip = augment.random_flags(
                    spatial["hflip_probability"], n, augment.sub_seed(seed, 12)
                )
        res = tf.cast(tf.shape(images)[1:3], tf.float32)  # (h, w) of the window images
        scale = tf.stack([res[1] / windows[:, 2], res[0] / windows[:, 3]], axis=1)[:, None, :]
        crop = tf.concat(
            [
                augment.scale_boxes(boxes[:, 0:1], cfg.face_scale),
                _eye_boxes(boxes[:, 1:3], cfg),
            ],
            axis=1,
        )  # (B, 3, 4)
        local = tf.concat(
            [(crop[..., 0:2] - windows[:, None, 0:2]) * scale, crop[..., 2:4] * scale], -1
        )
        index = tf.range(n)
        face = augment.crop_resize(images, local[:, 0], index, cfg.face_shape[:2]) / 255.0
        left = augment.crop_resize(images, local[:, 1], index, cfg.eye_shape[:2]) / 255.0
        right = augment.crop_resize(images, local[:, 2], index, cfg.eye_shape[:2]) / 255.0
        # a horizontal flip of the frame: crops mirrored, the eyes swap, x and phi change sign
        # (cropping the mirrored boxes of a mirrored frame gives exactly the mirrored crops)
        f4 = flip[:, None, None, None]
        face, left, right = (
            tf.where(f4, tf.reverse(face, axis=[2]), face),
            tf.where(f4, tf.reverse(right, axis=[2]), left),
            tf.where(f4, tf.reverse(left, axis=[2]), right),
        )
        targets = tf.where(flip[:, None], targets * signs, targets)
        face_box = tf.where(flip[:, None], augment.hflip_boxes(boxes[:, 0], width), boxes[:, 0])
        crops = [
            _to_channels(face, cfg.face_shape[2]),
            _to_channels(left, cfg.eye_shape[2]),
            _to_channels(right, cfg.eye_shape[2]),
        ]
        if aug:
            photo_seed = augment.sub_seed(
                seed, 20
            )  # the same draws for the three crops of a sample
            crops = [_photometric(c, aug, photo_seed) for c in crops]
        crops = [augment.normalize(c, cfg.normalization) for c in crops]
        grid = augment.facegrid(face_box, width, height, cfg.grid)
        inputs = {
            INPUT_NAMES[0]: tf.ensure_shape(crops[0], (None, *cfg.face_shape)),
            INPUT_NAMES[1]: tf.ensure_shape(crops[1], (None, *cfg.eye_shape)),
            INPUT_NAMES[2]: tf.ensure_shape(crops[2], (None, *cfg.eye_shape)),
            INPUT_NAMES[3]: tf.reshape(grid, [-1, cfg.facegrid_size]),
        }
        return inputs, targets

    return fn


def decode_frame(path: tf.Tensor, channels: int) -> tf.Tensor:
    """A frame file as uint8 ``(H, W, channels)``."""
    return tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)


def window_image(
    path: tf.Tensor, window: tf.Tensor, res: int, channels: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode a frame and resample its ``window`` to ``res x res`` uint8; also its ``(W, H)``."""
    frame = decode_frame(path, channels)
    size = tf.shape(frame)
    crop = augment.crop_resize(tf.cast(frame, tf.float32)[None], window[None], [0], (res, res))[0]
    image = tf.cast(tf.clip_by_value(tf.round(crop), 0, 255), tf.uint8)
    return tf.ensure_shape(image, (res, res, channels)), tf.stack([size[1], size[0]])


@dataclass
class FrameCache:
    """Decoded windows around the face of every row, so epochs do not decode frames again.

    ``images (N, R, R, C)`` uint8 resampled windows; ``windows (N, 4)`` their ``(x, y, side,
    side)`` in frame pixels; ``frame_sizes (N, 2)`` the frames' ``(W, H)``.
    """

    images: np.ndarray
    windows: np.ndarray
    frame_sizes: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory held."""
        return int(self.images.nbytes)


def window_boxes(boxes: np.ndarray, cfg: LoaderConfig) -> np.ndarray:
    """Square frame windows ``(N, 4)`` holding every crop under the strongest augmentation."""
    aug = cfg.augmentation
    zoom_min = aug["modulus_spatial_augmentation"]["zoom_min"] if aug else 1.0
    shift = aug["random_shift_bbx_augmentation"]["shift_percent_max"] if aug else 0.0
    grow = (1.0 / min(zoom_min, 1.0)) * (1.0 + 2.0 * shift) * 1.05
    face = boxes[:, 0].astype(np.float64)
    eyes = boxes[:, 1:3].astype(np.float64)
    parts = [(face, cfg.face_scale)] + [(eyes[:, i], cfg.eye_scale) for i in range(2)]
    lo = np.full((len(boxes), 2), np.inf)
    hi = np.full((len(boxes), 2), -np.inf)
    for b, s in parts:
        c = b[:, 0:2] + b[:, 2:4] / 2.0
        half = b[:, 2:4] * s * grow / 2.0
        lo, hi = np.minimum(lo, c - half), np.maximum(hi, c + half)
    centre = (lo + hi) / 2.0
    side = np.max(hi - lo, axis=1)
    return np.stack([centre[:, 0] - side / 2, centre[:, 1] - side / 2, side, side], axis=1)


def cache_resolution(
    boxes: np.ndarray, windows: np.ndarray, cfg: LoaderConfig, cap: int = 1024
) -> int:
    """Window size in pixels that samples every crop at >= 1.1x its output resolution."""
    face_px = boxes[:, 0, 2] * cfg.face_scale
    eye_px = boxes[:, 1:3, 2].min(axis=1) * cfg.eye_scale
    need = np.maximum(
        cfg.face_shape[1] / np.maximum(face_px, 1), cfg.eye_shape[1] / np.maximum(eye_px, 1)
    )
    r = int(np.ceil(np.max(windows[:, 2] * need) * 1.1))
    return int(np.clip(r, 32, cap))


def _window_source(
    df: pd.DataFrame, cfg: LoaderConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    paths, boxes, targets = element_arrays(df, cfg)
    windows = window_boxes(boxes, cfg).astype(np.float32)
    return paths, boxes, targets, windows, cache_resolution(boxes, windows, cfg)


def build_frame_cache(df: pd.DataFrame, cfg: LoaderConfig, parallel_calls: int = 0) -> FrameCache:
    """Decode every frame once and keep a resampled window around its face and eyes."""
    paths, _, _, windows, res = _window_source(df, cfg)
    calls = parallel_calls or tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices((paths, windows))
    ds = (
        ds.map(
            lambda p, w: window_image(p, w, res, cfg.frame_channels),
            num_parallel_calls=calls,
            deterministic=True,
        )
        .batch(64)
        .prefetch(2)
    )
    images, sizes = [], []
    for img, size in progress(
        ds, desc="gazenet frame cache", total=-(-len(paths) // 64), unit="batch"
    ):
        images.append(img.numpy())
        sizes.append(size.numpy())
    cache = FrameCache(np.concatenate(images), windows, np.concatenate(sizes))
    logger.info(
        "frame cache: %d windows of %dx%d px (%.1f MB)", len(paths), res, res, cache.nbytes / 1e6
    )
    return cache


def make_dataset(
    df: pd.DataFrame,
    cfg: LoaderConfig,
    *,
    training: bool,
    seed: int = 42,
    batch_size: int | None = None,
    shuffle_buffer: int = 0,
    parallel_calls: int = 0,
    cache: FrameCache | None = None,
) -> tf.data.Dataset:
    """Batches of ``({input name: tensor}, targets)``; shuffled and augmented when ``training``.

    With a ``FrameCache`` of the same rows, batches gather its decoded windows; without one, every
    element decodes its frame file and resamples the same window (the two give equal inputs).
    """
    if df.empty:
        raise ValueError("no rows to build a dataset from")
    paths, boxes, targets, windows, res = _window_source(df, cfg)
    n = len(paths)
    calls = parallel_calls or tf.data.AUTOTUNE
    batch = batch_size or cfg.batch_size
    order = tf.data.Dataset.range(n)
    if training:
        order = order.shuffle(shuffle_buffer or n, seed=seed, reshuffle_each_iteration=True)
    boxes_t, targets_t = tf.constant(boxes), tf.constant(targets)
    fn = batch_fn(cfg, training)
    # one seed per batch: fresh each epoch, reproducible for a given random_seed
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).map(
        lambda r: tf.stack([r, tf.constant(seed, tf.int64)])
    )
    if cache is not None:
        if len(cache.images) != n:
            raise ValueError(f"frame cache has {len(cache.images)} rows, the table {n}")
        images_v = tf.Variable(cache.images, trainable=False)  # gathered, not copied into graphs
        windows_t, sizes_t = tf.constant(cache.windows), tf.constant(cache.frame_sizes)

        def gathered(i, s):
            return fn(
                tf.gather(images_v, i),
                tf.gather(windows_t, i),
                tf.gather(sizes_t, i),
                tf.gather(boxes_t, i),
                tf.gather(targets_t, i),
                s,
            )

        # one map per batch (gather + crops + augmentation): fewer tf.data stages, less overhead
        ds = tf.data.Dataset.zip((order.batch(batch), seeds)).map(
            gathered, num_parallel_calls=calls, deterministic=True
        )
    else:
        paths_t, windows_t = tf.constant(paths), tf.constant(windows)

        def load(i):
            image, size = window_image(paths_t[i], windows_t[i], res, cfg.frame_channels)
            return image, windows_t[i], size, boxes_t[i], targets_t[i]

        source = order.map(load, num_parallel_calls=calls, deterministic=True).batch(batch)
        ds = tf.data.Dataset.zip((source, seeds)).map(
            lambda elem, s: fn(*elem, s), num_parallel_calls=calls, deterministic=True
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def element_arrays(
    df: pd.DataFrame, cfg: LoaderConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame paths, ``(N, 3, 4)`` boxes (face, left eye, right eye) and targets of the rows."""
    kind = "norm" if cfg.head_norm else "frame"
    paths = df["norm_frame_path" if cfg.head_norm else "frame_path"].astype(str).to_numpy()
    boxes = np.stack(
        [df[_box_columns(prefix)].to_numpy(np.float32) for prefix in BOXES[kind]], axis=1
    )
    return paths, boxes, target_matrix(df, cfg)


def materialize_inputs(
    df: pd.DataFrame, cfg: LoaderConfig, batch_size: int = 64, cache: FrameCache | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All inputs of the rows as numpy arrays (no augmentation, in row order), and the targets."""
    ds = make_dataset(df, cfg, training=False, batch_size=batch_size, cache=cache)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in INPUT_NAMES}
    targets = []
    for inputs, target in ds:
        for name in INPUT_NAMES:
            parts[name].append(inputs[name].numpy())
        targets.append(target.numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}, np.concatenate(targets)
