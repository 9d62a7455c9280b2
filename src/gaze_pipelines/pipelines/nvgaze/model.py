"""NvGaze's padding-free network (``ConfigurableMultiViewLeanNetNoPadding``) as a Keras 3 model.

A stack of ``valid`` convolutions, each followed by ReLU, then instance normalisation on the first
``instance_norm_layers`` of them (no affine parameters, epsilon 1e-6) and spatial dropout; the
next ``batch_norm_layers`` convolutions (null: all the others) take a batch norm between conv and
ReLU instead, which onnxruntime folds into the convolution (free at inference). Then fully
connected layers (ReLU between them, the last one linear with one unit per output). The input is
the raw grey image(s) in [0, 255], eyes x views x channels stacked as channels, so deployment
feeds camera pixels. With ``input_norm`` (the default) the model instance-normalises each input
image itself (per image and channel, no affine; one ``InstanceNormalization`` on the input in
ONNX): brightness and contrast do not matter, and with batch norms everywhere else the
convolutions quantize as one unbroken INT8 chain (no float op between them). Without it the model rescales to [-1, 1] (``2 x / 255 - 1`` as
NvGaze's loader). NvGaze's own layout is ``input_norm=False, instance_norm_layers=4,
batch_norm_layers=0``.

The input resolution must be padding-free (``pipelines.nvgaze.resolution``).
"""

from __future__ import annotations

import keras
from keras import layers

from gaze_pipelines.pipelines.nvgaze.params import TrainParams
from gaze_pipelines.pipelines.nvgaze.resolution import check_resolution

INPUT_NAME = "image"
OUTPUT_NAME = "outputs"


def build_model(params: TrainParams, channels: int = 1) -> keras.Model:
    """The functional Keras model for ``params`` (``channels`` = eyes x views x image channels)."""
    w, h = params.input_resolution
    check_resolution((w, h), params.strides, params.kernel_sizes, "nvgaze.train.input_resolution")
    inputs = keras.Input(shape=(h, w, channels), name=INPUT_NAME, dtype="float32")
    if params.input_norm:  # per image and channel; no fixed scaling needed in front of it
        x = layers.LayerNormalization(
            axis=(1, 2), epsilon=1e-6, center=False, scale=False, name="instance_norm0"
        )(inputs)
    else:
        x = layers.Rescaling(2.0 / 255.0, offset=-1.0, name="normalize")(inputs)
    for i, (s, k, c) in enumerate(
        zip(params.strides, params.kernel_sizes, params.output_channel_counts, strict=True)
    ):
        x = layers.Conv2D(
            c, k, strides=s, padding="valid", kernel_initializer="he_uniform", name=f"conv{i + 1}"
        )(x)
        if 0 <= i - params.instance_norm_layers < params.batch_norm_count:
            # conv -> BN -> ReLU: onnxruntime folds BN into the convolution (no inference cost)
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"batch_norm{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        if i < params.instance_norm_layers:
            # instance norm: per sample and channel over the spatial axes, no affine
            x = layers.LayerNormalization(
                axis=(1, 2), epsilon=1e-6, center=False, scale=False, name=f"instance_norm{i + 1}"
            )(x)
        if params.dropout > 0:
            x = layers.SpatialDropout2D(params.dropout, name=f"dropout{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    fc = params.fc_layers
    for j, units in enumerate(fc[:-1]):
        x = layers.Dense(units, activation="relu", name=f"fc{j + 1}")(x)
    outputs = layers.Dense(fc[-1], name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="nvgaze_lean_net")
