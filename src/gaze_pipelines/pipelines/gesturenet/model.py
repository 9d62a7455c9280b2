"""GestureNet's classifier: a TAO "vanilla" ResNet backbone with a softmax head (Keras 3, functional).

The backbone follows TAO's ``core/templates/resnet.py``: ``conv1`` 7x7/2 (+ ``bn_conv1``), ReLU,
3x3/2 max-pool (``use_pooling``), four stages of ``CNNBlock``s named ``block_<stage><a,b,..>_``
with ``conv_<k>`` / ``bn_<k>`` and a 1x1 ``conv_shortcut`` (+ ``bn_shortcut``) where the shape
changes (or everywhere with ``all_projections``), a final 7x7 average pool (``use_pooling``),
then ``flatten`` and a ``predictions`` dense softmax. Depths 10-152 are TAO's ResNet table;
6, 12 and 26 use TAO's HelNet repeat table (6: one 3x3 conv per block).

The Keras graph runs NHWC (TensorFlow has no NCHW convolutions on CPU). ``data_format`` is the
layout of the deployed model: the export keeps ``channels_first`` as TAO's ``(C, H, W)`` input.
The model takes raw pixel values (0-255) and scales them itself, so every consumer (training,
evaluation, ONNX, INT8 calibration) feeds the same tensors.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

# (repeats per stage, sub-blocks [(kernel, filters multiplier)], bottleneck widths)
_BASIC = [(3, 1), (3, 1)]
_BOTTLENECK = [(1, 1), (3, 1), (1, 4)]
DEPTHS: dict[int, tuple[tuple[int, int, int, int], list[tuple[int, int]]]] = {
    6: ((1, 1, 1, 1), [(3, 1)]),
    10: ((1, 1, 1, 1), _BASIC),
    12: ((1, 1, 2, 1), _BASIC),
    18: ((2, 2, 2, 2), _BASIC),
    26: ((3, 4, 3, 2), _BASIC),
    34: ((3, 4, 6, 3), _BASIC),
    50: ((3, 4, 6, 3), _BOTTLENECK),
    101: ((3, 4, 23, 3), _BOTTLENECK),
    152: ((3, 8, 36, 3), _BOTTLENECK),
}
WIDTHS = (64, 128, 256, 512)
BN_MOMENTUM = 0.9  # moving statistics settle within an epoch of a small data set (Keras: 0.99)
INPUT_NAME = "input_1"
OUTPUT_NAME = "predictions"


def _block_id(i: int) -> str:
    """TAO's sub-block ids: a, b, ..., z, aa, ab, ..."""
    out = ""
    while i >= 0:
        out = chr(ord("a") + i % 26) + out
        i = i // 26 - 1
    return out


def _regularizer(kind: str | None, factor: float) -> Any:
    if not kind or kind == "none" or factor <= 0:
        return None
    return keras.regularizers.L1(factor) if kind == "l1" else keras.regularizers.L2(factor)


def _subblocks(
    x: Any,
    subblocks: list[tuple[int, int]],
    stride: int,
    shape_changes: bool,
    prefix: str,
    use_batch_norm: bool,
    all_projections: bool,
    regularizer: Any,
) -> Any:
    shortcut = x
    filters = 0
    for i, (kernel, filters) in enumerate(subblocks):
        x = layers.Conv2D(
            filters,
            kernel,
            strides=stride if i == 0 else 1,
            padding="same",
            use_bias=not use_batch_norm,
            kernel_regularizer=regularizer,
            kernel_initializer="he_normal",
            name=f"{prefix}conv_{i + 1}",
        )(x)
        if use_batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}bn_{i + 1}")(x)
        if i != len(subblocks) - 1:
            x = layers.Activation("relu", name=f"{prefix}relu_{i + 1}")(x)
    if all_projections or shape_changes:
        shortcut = layers.Conv2D(
            filters,
            1,
            strides=stride,
            use_bias=not use_batch_norm,
            kernel_regularizer=regularizer,
            kernel_initializer="he_normal",
            name=f"{prefix}conv_shortcut",
        )(shortcut)
        if use_batch_norm:
            shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}bn_shortcut")(
                shortcut
            )
    x = layers.Add(name=f"{prefix}add")([x, shortcut])
    return layers.Activation("relu", name=f"{prefix}relu")(x)


def build_resnet(
    num_layers: int = 18,
    num_classes: int = 6,
    image_height: int = 160,
    image_width: int = 160,
    gray_scale_input: bool = False,
    use_batch_norm: bool = True,
    kernel_regularizer_type: str | None = "l2",
    kernel_regularizer_factor: float = 1e-4,
    all_projections: bool = False,
    use_pooling: bool = True,
    dropout: float = 0.0,
    data_format: str = "channels_first",
    widths: tuple[int, int, int, int] = WIDTHS,
) -> keras.Model:
    """GestureNet classifier: input ``(H, W, C)`` pixels 0-255, output class probabilities.

    ``widths`` are the filters of conv1 / the four stages' basic blocks (TAO: 64, 128, 256, 512;
    bottleneck blocks expand by 4); ``data_format`` is informative here (the export's layout).
    """
    if num_layers not in DEPTHS:
        raise ValueError(f"num_layers must be one of {sorted(DEPTHS)}, got {num_layers}")
    repeats, pattern = DEPTHS[num_layers]
    reg = _regularizer(kernel_regularizer_type, kernel_regularizer_factor)
    channels = 1 if gray_scale_input else 3
    inputs = keras.Input((image_height, image_width, channels), name=INPUT_NAME)
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = layers.Conv2D(
        widths[0],
        7,
        strides=2,
        padding="same",
        use_bias=not use_batch_norm,
        kernel_regularizer=reg,
        kernel_initializer="he_normal",
        name="conv1",
    )(x)
    if use_batch_norm:
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn_conv1")(x)
    x = layers.Activation("relu", name="relu_conv1")(x)
    first_stride, last_stride = 2, 1
    if use_pooling:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        first_stride, last_stride = 1, 2
    in_filters = widths[0]
    for stage, (reps, width) in enumerate(zip(repeats, widths, strict=True), start=1):
        stride = first_stride if stage == 1 else (last_stride if stage == 4 else 2)
        subblocks = [(k, width * m) for k, m in pattern]
        for r in range(reps):
            out_filters = subblocks[-1][1]
            changes = r == 0 and (stride != 1 or in_filters != out_filters)
            x = _subblocks(
                x,
                subblocks,
                stride if r == 0 else 1,
                changes,
                f"block_{stage}{_block_id(r)}_",
                use_batch_norm,
                all_projections,
                reg,
            )
            in_filters = out_filters
    if use_pooling:
        x = layers.AveragePooling2D(7, padding="same", name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=reg, name=OUTPUT_NAME
    )(x)
    name = f"gesturenet_resnet{num_layers}" + ("_bn" if use_batch_norm else "")
    model = keras.Model(inputs, outputs, name=name)
    return model


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers that own weights, in graph order (input to output)."""
    return [layer for layer in model.layers if layer.weights]


def set_trainable_top(model: keras.Model, num_layers_unfreeze: int) -> list[str]:
    """Freeze every layer but the top ``num_layers_unfreeze`` layers with weights; return their names.

    A frozen BatchNormalization also stops updating its moving statistics (Keras 3 runs it in
    inference mode), so a frozen layer is left exactly as it was.
    """
    with_weights = weighted_layers(model)
    n = max(0, min(int(num_layers_unfreeze), len(with_weights)))
    top = {layer.name for layer in with_weights[len(with_weights) - n :]}
    for layer in model.layers:
        layer.trainable = layer.name in top if layer.weights else True
    return [layer.name for layer in with_weights if layer.name in top]


def count_conv_dense(model: keras.Model) -> int:
    """Convolution and dense layers on the main path (shortcuts excluded): the ResNet depth."""
    return sum(
        1
        for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.Dense)) and not layer.name.endswith("shortcut")
    )
