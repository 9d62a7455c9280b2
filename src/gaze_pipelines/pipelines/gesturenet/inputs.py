"""GestureNet model inputs: hand crops from data.json (or a folder) as ``tf.data`` pipelines.

One decoder serves training, evaluation, inference and INT8 calibration, so every consumer feeds
the model the same tensors: the crop file decoded as RGB (or gray), resized (bilinear,
antialiased) to the model size, float32 pixel values 0-255. Training adds the augmentation of
``augmentation_config`` (batched stateless random ops of ``core.augment``, seeded from
``random_seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from gaze_pipelines.core import augment as aug
from gaze_pipelines.datasets.gesturenet import GestureTree
from gaze_pipelines.pipelines.gesturenet.params import AugmentationConfig, ModelConfig, TrainSpec


def entries_for(
    data_json: dict[str, Any], data_type: str, fold: int | None = None
) -> list[dict[str, Any]]:
    """The entries of a data.json split (``train_set``, ``validation_set``, ``kpi_set``), or of a fold."""
    if fold is not None and data_type in ("train_set", "validation_set"):
        folds = data_json.get("folds") or []
        if not 0 <= fold < len(folds):
            raise ValueError(
                f"gesturenet.train.dataset_config.fold: {fold} is not a fold of data.json "
                f"(k_folds = {data_json.get('k_folds', 0)})"
            )
        return list(folds[fold][data_type])
    if data_type not in data_json:
        raise ValueError(
            f"data.json has no '{data_type}' (have {sorted(k for k in data_json if k.endswith('_set'))})"
        )
    return list(data_json[data_type])


def crop_paths(entries: Sequence[dict[str, Any]], crops: GestureTree | None) -> list[str]:
    """Where each entry's crop is: the crops tree's path of ``crop_relpath``, else ``crop_path``."""
    out = []
    for e in entries:
        if crops is not None and e.get("crop_relpath"):
            out.append(crops.path(e["crop_relpath"]))
        else:
            out.append(str(e["crop_path"]))
    return out


def check_classes(data_json: dict[str, Any], classes: dict[str, int]) -> None:
    """data.json and the training spec must agree on the class indices."""
    have = data_json.get("classes")
    if have and dict(have) != dict(classes):
        raise ValueError(
            f"data.json classes {have} differ from gesturenet.train.dataset_config.classes {dict(classes)}: "
            "re-run gesturenet_data with the same classes"
        )


def decode_crop(data: tf.Tensor, model: ModelConfig) -> tf.Tensor:
    """Encoded image bytes -> float32 ``(H, W, C)`` pixels 0-255 at the model size."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.resize(
        tf.cast(image, tf.float32), (model.image_height, model.image_width), antialias=True
    )
    if model.gray_scale_input:
        image = tf.image.rgb_to_grayscale(image)
    channels = 1 if model.gray_scale_input else 3
    return tf.ensure_shape(
        tf.clip_by_value(image, 0.0, 255.0), (model.image_height, model.image_width, channels)
    )


def _reader(paths: list[str], crops: GestureTree | None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
    remote = crops is not None and crops.protocol not in ("file", "local")
    if not remote:
        return ds.map(tf.io.read_file, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def read(p: Any) -> bytes:
        path = p.numpy().decode("utf-8")
        with crops.fs.open(path, "rb") as fh:
            return fh.read()

    return ds.map(
        lambda p: tf.py_function(read, [p], tf.string), num_parallel_calls=4, deterministic=True
    )


def augment_batch(images: tf.Tensor, cfg: AugmentationConfig, seed: tf.Tensor) -> tf.Tensor:
    """The training augmentation of a batch of crops ``(B, H, W, C)`` (pixels 0-255 in and out)."""
    x = images / 255.0
    x = aug.random_affine(
        x,
        cfg.rotation.max_angle,
        cfg.shift.max_shift,
        tuple(cfg.shift.zoom_range),
        cfg.rotation.probability,
        cfg.shift.probability,
        aug.sub_seed(seed, 0),
    )
    x = aug.random_flip_left_right(x, cfg.flip.probability, aug.sub_seed(seed, 1))
    x = aug.random_gamma(
        x,
        cfg.gamma.gamma_range[0],
        cfg.gamma.gamma_range[1],
        cfg.gamma.probability,
        aug.sub_seed(seed, 2),
    )
    x = aug.random_brightness(
        x,
        cfg.brightness.max_delta,
        tuple(cfg.brightness.contrast_range),
        cfg.brightness.probability,
        aug.sub_seed(seed, 3),
    )
    if cfg.color.probability > 0 and images.shape[-1] == 3:
        colored = aug.random_hue_saturation(
            x, cfg.color.hue_max_deg, cfg.color.saturation_max, aug.sub_seed(seed, 5)
        )
        flags = aug.random_flags(cfg.color.probability, tf.shape(x)[0], aug.sub_seed(seed, 6))
        x = tf.where(flags[:, None, None, None], colored, x)
    x = aug.random_occlusion(
        x, cfg.occlusion.max_fraction, cfg.occlusion.probability, aug.sub_seed(seed, 4)
    )
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def image_dataset(
    paths: list[str],
    crops: GestureTree | None,
    model: ModelConfig,
    batch_size: int,
) -> tf.data.Dataset:
    """Batches of decoded crops (no labels, no augmentation): evaluation, inference, calibration."""
    images = _reader(paths, crops).map(
        lambda b: decode_crop(b, model), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return images.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def training_dataset(
    entries: Sequence[dict[str, Any]],
    crops: GestureTree | None,
    spec: TrainSpec,
    training: bool,
    one_hot: bool = True,
) -> tf.data.Dataset:
    """``(image, label)`` batches (one-hot or class index); shuffled and augmented when ``training``."""
    ds_cfg = spec.dataset_config
    n_classes = len(ds_cfg.classes)
    labels = np.array([ds_cfg.classes[e["class"]] for e in entries], np.int64)
    images = _reader(crop_paths(entries, crops), crops)
    data = tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(labels)))
    if training:
        data = data.shuffle(
            min(ds_cfg.shuffle_buffer, max(1, len(entries))),
            seed=spec.random_seed,
            reshuffle_each_iteration=True,
        )
    model = spec.model
    data = data.map(
        lambda b, y: (decode_crop(b, model), y),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if one_hot:
        data = data.map(lambda x, y: (x, tf.one_hot(y, n_classes)))
    data = data.batch(ds_cfg.batch_size)
    if training and ds_cfg.augmentation_config.enable_augmentation:
        # a fresh seed per batch, re-drawn at every epoch
        seeds = tf.data.Dataset.random(
            seed=spec.random_seed, rerandomize_each_iteration=True
        ).batch(2)
        cfg = ds_cfg.augmentation_config
        data = tf.data.Dataset.zip((data, seeds)).map(
            lambda xy, s: (augment_batch(xy[0], cfg, s), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return data.prefetch(tf.data.AUTOTUNE)
