"""GazeNet_public as a functional Keras 3 model with DeepStream's input and output names.

Inputs (channels-last here; the export core writes them channels-first):
``input_face_images (H, W, C)``, ``input_left_images``, ``input_right_images`` and
``input_facegrid (grid_h * grid_w,)``. Output ``fc_joint``: ``num_outputs`` values in label units
(x, y, z in mm, theta, phi in radians or degrees).

Each eye and the face go through an AlexNet-like convolutional tower (Krafka et al. 2016,
"Eye Tracking for Everyone", the architecture TAO's GazeNet builds on); the facegrid goes
through fully connected layers; the four feature vectors are joined by fully connected layers.
Blocks (what ``frozen_blocks = n`` freezes, 1..n):

1. conv 96 11x11 stride 4, pool 3/2   2. conv 256 5x5, pool 3/2   3. conv 384 3x3
4. conv 64 1x1                         5. tower FC layers (face 128 -> 64, eyes 128)
6. facegrid FC 256 -> 128              (joint FC 128 and ``fc_joint`` always train)

``width_multiplier`` scales every width (1.0 = the layer sizes above). The last layer
``fc_joint`` is a frozen affine map ``y = z * std + mean`` of the trainable ``fc_joint_raw``, so the
network learns standardized targets while it outputs label units.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_face_images", "input_left_images", "input_right_images", "input_facegrid")
OUTPUT_NAME = "fc_joint"
TOWERS = ("face", "left", "right")
# Moving statistics follow the weights within a few dozen steps (Keras' 0.99 lags for small sets).
BN_MOMENTUM = 0.9
_BLOCK_RE = re.compile(r"^(?:face|left|right)_(?:conv|bn|relu|pool)(\d)$")


def _regularizer(kind: str, weight: float):
    if kind == "none" or weight <= 0:
        return None
    return keras.regularizers.L1(weight) if kind == "l1" else keras.regularizers.L2(weight)


def _width(n: int, mult: float) -> int:
    return max(4, int(round(n * mult)))


def _conv_block(
    x,
    tower: str,
    block: int,
    filters: int,
    kernel: int,
    stride: int,
    pool: bool,
    batch_norm: bool,
    reg,
) -> Any:
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same",
        use_bias=not batch_norm,
        kernel_regularizer=reg,
        name=f"{tower}_conv{block}",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{tower}_bn{block}")(x)
    x = keras.layers.ReLU(name=f"{tower}_relu{block}")(x)
    if pool:
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{tower}_pool{block}")(x)
    return x


def _tower(x, tower: str, mult: float, batch_norm: bool, reg) -> Any:
    x = _conv_block(x, tower, 1, _width(96, mult), 11, 4, True, batch_norm, reg)
    x = _conv_block(x, tower, 2, _width(256, mult), 5, 1, True, batch_norm, reg)
    x = _conv_block(x, tower, 3, _width(384, mult), 3, 1, False, batch_norm, reg)
    x = _conv_block(x, tower, 4, _width(64, mult), 1, 1, False, batch_norm, reg)
    return keras.layers.Flatten(name=f"{tower}_flatten")(x)


def _dense(x, units: int, name: str, reg, dropout: float) -> Any:
    x = keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=name)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def build_gazenet(
    face_shape: Sequence[int],
    eye_shape: Sequence[int],
    facegrid_size: int = 625,
    num_outputs: int = 5,
    dropout_rate: float = 0.25,
    use_batch_norm: bool = True,
    regularizer_type: str = "l2",
    regularizer_weight: float = 0.002,
    width_multiplier: float = 1.0,
    output_mean: Sequence[float] | None = None,
    output_std: Sequence[float] | None = None,
) -> keras.Model:
    """Build GazeNet_public (see the module docstring); shapes are ``(H, W, C)``."""
    reg = _regularizer(regularizer_type, regularizer_weight)
    m = width_multiplier
    face = keras.Input(tuple(face_shape), name=INPUT_NAMES[0])
    left = keras.Input(tuple(eye_shape), name=INPUT_NAMES[1])
    right = keras.Input(tuple(eye_shape), name=INPUT_NAMES[2])
    grid = keras.Input((int(facegrid_size),), name=INPUT_NAMES[3])

    f = _tower(face, "face", m, use_batch_norm, reg)
    f = _dense(f, _width(128, m), "face_fc5a", reg, 0.0)
    f = _dense(f, _width(64, m), "face_fc5b", reg, 0.0)
    le = _dense(_tower(left, "left", m, use_batch_norm, reg), _width(128, m), "left_fc5", reg, 0.0)
    re_ = _dense(
        _tower(right, "right", m, use_batch_norm, reg), _width(128, m), "right_fc5", reg, 0.0
    )
    g = _dense(grid, _width(256, m), "facegrid_fc6a", reg, 0.0)
    g = _dense(g, _width(128, m), "facegrid_fc6b", reg, 0.0)

    x = keras.layers.Concatenate(name="joint_concat")([f, le, re_, g])
    x = _dense(x, _width(128, m), "joint_fc1", reg, dropout_rate)
    raw = keras.layers.Dense(num_outputs, name="fc_joint_raw")(x)
    out_layer = keras.layers.Dense(num_outputs, trainable=False, name=OUTPUT_NAME)
    out = out_layer(raw)
    mean = np.zeros(num_outputs) if output_mean is None else np.asarray(output_mean, np.float64)
    std = np.ones(num_outputs) if output_std is None else np.asarray(output_std, np.float64)
    if mean.shape != (num_outputs,) or std.shape != (num_outputs,):
        raise ValueError(
            f"output_mean/std need {num_outputs} values, got {mean.shape}, {std.shape}"
        )
    out_layer.set_weights(
        [np.diag(np.where(std > 0, std, 1.0)).astype("float32"), mean.astype("float32")]
    )
    return keras.Model([face, left, right, grid], out, name="GazeNet_public")


def layer_block(name: str) -> int | None:
    """The block number (1-6) of a layer, or None for the joint layers."""
    m = _BLOCK_RE.match(name)
    if m:
        return int(m.group(1))
    if name.endswith(("_fc5", "_fc5a", "_fc5b")):
        return 5
    if name.startswith("facegrid_fc6"):
        return 6
    return None


def freeze_blocks(model: keras.Model, frozen_blocks: int) -> list[str]:
    """Make the layers of blocks ``1..frozen_blocks`` untrainable; returns their names."""
    frozen = []
    for layer in model.layers:
        block = layer_block(layer.name)
        if block is not None and block <= frozen_blocks:
            layer.trainable = False
            frozen.append(layer.name)
    model.get_layer(OUTPUT_NAME).trainable = False
    return frozen


def transfer_weights(
    source: keras.Model, target: keras.Model, skip: Sequence[str] = (OUTPUT_NAME,)
) -> list[str]:
    """Copy weights layer by layer (same name and shapes); returns the copied layer names."""
    copied, mismatched = [], []
    for layer in target.layers:
        if layer.name in skip or not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        sw, tw = src.get_weights(), layer.get_weights()
        if len(sw) == len(tw) and all(a.shape == b.shape for a, b in zip(sw, tw, strict=True)):
            layer.set_weights(sw)
            copied.append(layer.name)
        else:
            mismatched.append(layer.name)
    if mismatched:
        logger.warning(
            "pretrained model: %d layers have other shapes and were not copied: %s",
            len(mismatched),
            ", ".join(mismatched[:10]),
        )
    return copied
