"""Keras 3 functional networks of the webcam tracker: face, eyes and full variants.

As in the reference: each image branch is a plain convolution followed by ``n_convs`` blocks of
convolution (filters multiplied by ``filter_growth``) -> ReLU -> batch norm -> 2x2 max pool
(valid padding); branch outputs are flattened and concatenated (the full variant adds the head
angle, in degrees times ``head_angle_scale`` so it is of the order of the normalised image
features), then ``dense -> ReLU -> dropout -> dense/2 -> ReLU -> dropout -> 2``. Batch norm uses
PyTorch's running-statistics momentum by default (``bn_momentum`` 0.9, the reference's); with
``share_eye_weights`` both eye crops go through one eye branch (layers named ``eye_*``).

Inputs are named after the crops (``face`` or ``face_aligned``, ``l_eye``, ``r_eye``,
``head_pos``, ``head_angle``) and take raw pixel values 0-255 (scaled inside the model), so the
exported graph needs no preprocessing. The output ``screen_xy`` is in screen pixels: the last
layer's output is mapped through a fixed affine (screen centre + half size), which keeps the
regression well conditioned while the loss is the reference's MSE in pixels.
"""

from __future__ import annotations

import keras
import numpy as np

from gaze_pipelines.pipelines.webcam.params import BranchParams, ModelParams

OUTPUT_NAME = "screen_xy"


def variant_inputs(variant: str, model: ModelParams) -> list[str]:
    """Names of the inputs of a variant, in the model's input order."""
    if variant == "face":
        return [model.face_image]
    if variant == "eyes":
        return ["l_eye", "r_eye"]
    if variant == "full":
        return [model.face_image, "l_eye", "r_eye", "head_pos", "head_angle"]
    raise ValueError(f"variant must be one of face, eyes, full, got {variant!r}")


def input_shape(name: str, image_size: int) -> tuple[int, ...]:
    """Shape (without batch) of a named input."""
    if name == "head_angle":
        return (1,)
    channels = 1 if name == "head_pos" else 3
    return (image_size, image_size, channels)


def branch_layers(
    branch: BranchParams, prefix: str, bn_momentum: float = 0.9
) -> list[keras.layers.Layer]:
    """The reference's convolutional stack for one image input, as layers (ending in Flatten).

    ``bn_momentum`` is Keras's (moving = momentum x moving + (1 - momentum) x batch); 0.9 is
    PyTorch's ``BatchNorm2d`` default (its ``momentum=0.1``), the reference's.
    """
    k = branch.filter_size
    layers = [keras.layers.Conv2D(branch.n_filters, k, name=f"{prefix}_conv_input")]
    filters = branch.n_filters
    for i in range(branch.n_convs):
        filters *= branch.filter_growth
        layers += [
            keras.layers.Conv2D(filters, k, name=f"{prefix}_conv{i + 1}"),
            keras.layers.ReLU(name=f"{prefix}_relu{i + 1}"),
            keras.layers.BatchNormalization(momentum=bn_momentum, name=f"{prefix}_norm{i + 1}"),
            keras.layers.MaxPooling2D(2, name=f"{prefix}_pool{i + 1}"),
        ]
    return [*layers, keras.layers.Flatten(name=f"{prefix}_flat")]


def _apply(layers: list[keras.layers.Layer], x: keras.KerasTensor) -> keras.KerasTensor:
    for layer in layers:
        x = layer(x)
    return x


def build_model(
    variant: str,
    model: ModelParams,
    image_size: int = 64,
    screen: tuple[int, int] = (1920, 1080),
) -> keras.Model:
    """Build (not compile) the functional model of ``variant`` ('face', 'eyes' or 'full')."""
    names = variant_inputs(variant, model)
    inputs = {n: keras.Input(shape=input_shape(n, image_size), name=n) for n in names}
    branch_of = {"face": model.face, "face_aligned": model.face, "l_eye": model.eye,
                 "r_eye": model.eye, "head_pos": model.head_pos}  # fmt: skip
    # One set of eye layers for both eyes when shared (same filters, same batch statistics).
    shared_eye = (
        branch_layers(model.eye, "eye", model.bn_momentum) if model.share_eye_weights else None
    )
    feats = []
    for n in names:
        if n == "head_angle":
            scale = model.head_angle_scale
            feats.append(keras.layers.Rescaling(scale, name="head_angle_scale")(inputs[n]))
            continue
        x = keras.layers.Rescaling(1.0 / 255.0, name=f"{n}_scale")(inputs[n])
        shared = shared_eye is not None and n in ("l_eye", "r_eye")
        stack = shared_eye if shared else branch_layers(branch_of[n], n, model.bn_momentum)
        feats.append(_apply(stack, x))
    x = feats[0] if len(feats) == 1 else keras.layers.Concatenate(name="concat")(feats)
    x = keras.layers.Dense(model.dense_nodes, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(model.dropout, name="drop1")(x)
    x = keras.layers.Dense(max(1, model.dense_nodes // 2), activation="relu", name="fc2")(x)
    x = keras.layers.Dropout(model.dropout, name="drop2")(x)
    x = keras.layers.Dense(2, name="fc3")(x)
    half = np.asarray(screen, np.float32) / 2.0
    out = keras.layers.Rescaling(scale=half.tolist(), offset=half.tolist(), name=OUTPUT_NAME)(x)
    return keras.Model(inputs=[inputs[n] for n in names], outputs=out, name=f"webcam_{variant}")
