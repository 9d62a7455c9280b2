"""Image augmentation and crop ops in TensorFlow, for ``tf.data`` pipelines of any model family.

Every random op is *stateless*: it takes a ``seed`` tensor of shape ``[2]`` (int32/int64), so a
pipeline seeded from ``(random_seed, element index)`` is reproducible and independent of thread
scheduling. Images are float32 ``(H, W, C)`` with intensities in ``[0, 1]``.

- ``sub_seed(seed, k)``: the k-th independent seed derived from ``seed``.
- ``random_gaussian_blur(image, kernel_sizes, probability, seed)``: OpenCV-sized Gaussian kernel
  (``sigma = 0.3 ((k - 1) / 2 - 1) + 0.8``) picked uniformly from ``kernel_sizes``.
- ``random_gamma(image, gamma_min, gamma_max, probability, gamma_type, seed)``: ``x ** g``.
- ``random_contrast(image, center, scale_max, seed)``: ``(x - c) * s + c``, ``s ~ U[1 - m, 1 + m]``.
- ``random_hue_saturation(image, hue_max_deg, saturation_max, seed)``: RGB images only.
- ``random_shift_boxes(boxes, percent_max, probability, seed)`` / ``random_zoom_boxes(boxes,
  zoom_min, zoom_max, seed)``: jitter ``(x, y, w, h)`` boxes (pixels) as a detector would.
- ``scale_boxes(boxes, scale)``: scale boxes about their centres; ``hflip_boxes(boxes, width)``.
- ``crop_resize(image, boxes, size)``: crops of ``(x, y, w, h)`` boxes resized to ``size``;
  parts outside the image are zero.
- ``facegrid(box, frame_w, frame_h, grid)``: graph twin of ``core.crops.facegrid``.
- ``normalize(image, kind)``: ``zero-one`` (as is), ``[-1,1]``, ``mean-std`` (per image), ``none``
  (0-255).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def sub_seed(seed: tf.Tensor, k: int) -> tf.Tensor:
    """The ``k``-th seed derived from ``seed`` (shape ``[2]``)."""
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), k)


def _coin(probability: float, seed: tf.Tensor) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed) < probability


def gaussian_kernel_1d(size: tf.Tensor) -> tf.Tensor:
    """Normalized 1-D Gaussian of odd ``size`` with OpenCV's default sigma."""
    size = tf.cast(size, tf.int32)
    sigma = 0.3 * (tf.cast(size - 1, tf.float32) * 0.5 - 1.0) + 0.8
    x = tf.cast(tf.range(size) - size // 2, tf.float32)
    k = tf.exp(-0.5 * tf.square(x / sigma))
    return k / tf.reduce_sum(k)


def gaussian_blur(image: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian blur of ``image (H, W, C)`` with an odd kernel ``size`` (reflect padding)."""
    size = tf.cast(size, tf.int32)
    k = gaussian_kernel_1d(size)
    channels = tf.shape(image)[-1]
    pad = size // 2
    x = tf.pad(image[None], [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    kx = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, channels, 1])
    ky = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, channels, 1])
    x = tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "VALID")
    x = tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "VALID")
    return tf.ensure_shape(x[0], image.shape)


def random_gaussian_blur(
    image: tf.Tensor, kernel_sizes: Sequence[int], probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Blur with probability ``probability`` using a kernel size drawn from ``kernel_sizes``."""
    if probability <= 0 or not kernel_sizes or max(kernel_sizes) <= 1:
        return image
    sizes = tf.constant(list(kernel_sizes), tf.int32)
    idx = tf.random.stateless_uniform([], sub_seed(seed, 1), 0, len(kernel_sizes), tf.int32)
    size = sizes[idx]
    apply = tf.logical_and(_coin(probability, sub_seed(seed, 0)), size > 1)
    return tf.cond(apply, lambda: gaussian_blur(image, size), lambda: image)


def random_gamma(
    image: tf.Tensor,
    gamma_min: float,
    gamma_max: float,
    probability: float,
    seed: tf.Tensor,
    gamma_type: str = "uniform",
) -> tf.Tensor:
    """``image ** gamma`` with probability ``probability``; gamma uniform in [min, max] or normal.

    ``normal``: mean at the centre of the range, standard deviation a quarter of its width, clipped
    to the range.
    """
    if probability <= 0:
        return image
    if gamma_type == "normal":
        mid, sd = (gamma_min + gamma_max) / 2.0, (gamma_max - gamma_min) / 4.0
        g = tf.clip_by_value(
            mid + sd * tf.random.stateless_normal([], sub_seed(seed, 1)), gamma_min, gamma_max
        )
    else:
        g = tf.random.stateless_uniform([], sub_seed(seed, 1), gamma_min, gamma_max)
    out = tf.pow(tf.clip_by_value(image, 0.0, 1.0), g)
    return tf.cond(_coin(probability, sub_seed(seed, 0)), lambda: out, lambda: image)


def random_contrast(
    image: tf.Tensor, center: float, scale_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """``(x - center) * s + center`` with ``s ~ U[1 - scale_max, 1 + scale_max]``; ``center`` in [0, 1]."""
    if scale_max <= 0:
        return image
    s = tf.random.stateless_uniform([], seed, 1.0 - scale_max, 1.0 + scale_max)
    return tf.clip_by_value((image - center) * s + center, 0.0, 1.0)


def random_hue_saturation(
    image: tf.Tensor, hue_max_deg: float, saturation_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """Rotate hue by up to ``hue_max_deg`` and scale saturation by ``1 +- saturation_max`` (RGB)."""
    if image.shape[-1] != 3:
        return image
    if hue_max_deg > 0:
        delta = (
            tf.random.stateless_uniform([], sub_seed(seed, 0), -hue_max_deg, hue_max_deg) / 360.0
        )
        image = tf.image.adjust_hue(image, delta)
    if saturation_max > 0:
        factor = tf.random.stateless_uniform(
            [], sub_seed(seed, 1), 1.0 - saturation_max, 1.0 + saturation_max
        )
        image = tf.clip_by_value(tf.image.adjust_saturation(image, factor), 0.0, 1.0)
    return image


def scale_boxes(boxes: tf.Tensor, scale: tf.Tensor | float) -> tf.Tensor:
    """Scale ``(..., 4)`` ``(x, y, w, h)`` boxes about their centres (``scale`` broadcasts)."""
    boxes = tf.cast(boxes, tf.float32)
    x, y, w, h = tf.unstack(boxes, axis=-1)
    scale = tf.cast(scale, tf.float32)
    cx, cy = x + w / 2.0, y + h / 2.0
    w2, h2 = w * scale, h * scale
    return tf.stack([cx - w2 / 2.0, cy - h2 / 2.0, w2, h2], axis=-1)


def random_shift_boxes(
    boxes: tf.Tensor, percent_max: float, probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Shift each box by up to ``percent_max`` of its width/height, with probability per box."""
    boxes = tf.cast(boxes, tf.float32)
    if percent_max <= 0 or probability <= 0:
        return boxes
    n = tf.shape(boxes)[0]
    frac = tf.random.stateless_uniform([n, 2], sub_seed(seed, 0), -percent_max, percent_max)
    apply = tf.cast(
        tf.random.stateless_uniform([n, 1], sub_seed(seed, 1)) < probability, tf.float32
    )
    dx = frac[:, 0:1] * boxes[:, 2:3] * apply
    dy = frac[:, 1:2] * boxes[:, 3:4] * apply
    return tf.concat([boxes[:, 0:1] + dx, boxes[:, 1:2] + dy, boxes[:, 2:4]], axis=1)


def random_zoom_boxes(
    boxes: tf.Tensor, zoom_min: float, zoom_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """Zoom every box of a sample by one factor ``z ~ U[zoom_min, zoom_max]`` (box size / z)."""
    boxes = tf.cast(boxes, tf.float32)
    if zoom_min == 1.0 and zoom_max == 1.0:
        return boxes
    z = tf.random.stateless_uniform([], seed, zoom_min, zoom_max)
    return scale_boxes(boxes, 1.0 / z)


def hflip_boxes(boxes: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Mirror ``(x, y, w, h)`` boxes in an image of ``width`` pixels."""
    boxes = tf.cast(boxes, tf.float32)
    x, y, w, h = tf.unstack(boxes, axis=-1)
    return tf.stack([tf.cast(width, tf.float32) - x - w, y, w, h], axis=-1)


def crop_resize(image: tf.Tensor, boxes: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Crops ``(N, h, w, C)`` of ``(N, 4)`` pixel boxes ``(x, y, w, h)`` from ``image (H, W, C)``.

    Bilinear; regions outside the image are 0. ``size`` is ``(height, width)``.
    """
    image = tf.cast(image, tf.float32)
    shape = tf.cast(tf.shape(image), tf.float32)
    hgt, wid = shape[0], shape[1]
    boxes = tf.cast(boxes, tf.float32)
    x, y, w, h = tf.unstack(boxes, axis=-1)
    # crop_and_resize samples box corners at pixel centres: y1 * (H - 1) is the first row
    norm = tf.stack(
        [
            y / (hgt - 1.0),
            x / (wid - 1.0),
            (y + h - 1.0) / (hgt - 1.0),
            (x + w - 1.0) / (wid - 1.0),
        ],
        axis=-1,
    )
    n = tf.shape(boxes)[0]
    return tf.image.crop_and_resize(
        image[None], norm, tf.zeros([n], tf.int32), size, method="bilinear", extrapolation_value=0.0
    )


def normalize(image: tf.Tensor, kind: str) -> tf.Tensor:
    """Map [0, 1] intensities per ``kind``: zero-one | [-1,1] | mean-std | none (0-255)."""
    if kind == "zero-one":
        return image
    if kind == "[-1,1]":
        return image * 2.0 - 1.0
    if kind == "mean-std":
        mean, var = tf.nn.moments(image, axes=[-3, -2, -1], keepdims=True)
        return (image - mean) / tf.maximum(tf.sqrt(var), 1.0 / 255.0)
    if kind == "none":
        return image * 255.0
    raise ValueError(f"normalization must be zero-one, [-1,1], mean-std or none, got {kind!r}")


def facegrid(
    box: tf.Tensor, frame_w: tf.Tensor, frame_h: tf.Tensor, grid: tuple[int, int] = (25, 25)
) -> tf.Tensor:
    """Graph twin of ``core.crops.facegrid``: the ``(rows, cols)`` binary mask of a face box.

    Same cell rule (floor of the box start, ceil of its end, clipped to the grid), so records,
    ``tf.data`` pipelines and inference agree; ``tests/core/test_augment.py`` checks the two match.
    """
    rows, cols = int(grid[0]), int(grid[1])
    x, y, w, h = tf.unstack(tf.cast(box, tf.float32))
    sx = cols / tf.cast(frame_w, tf.float32)
    sy = rows / tf.cast(frame_h, tf.float32)
    gx1 = tf.clip_by_value(tf.floor(x * sx), 0.0, float(cols))
    gy1 = tf.clip_by_value(tf.floor(y * sy), 0.0, float(rows))
    gx2 = tf.clip_by_value(tf.math.ceil((x + w) * sx), 0.0, float(cols))
    gy2 = tf.clip_by_value(tf.math.ceil((y + h) * sy), 0.0, float(rows))
    r = tf.range(rows, dtype=tf.float32)[:, None]
    c = tf.range(cols, dtype=tf.float32)[None, :]
    inside = (r >= gy1) & (r < gy2) & (c >= gx1) & (c < gx2)
    return tf.cast(inside, tf.float32)


# --- whole-image ops (GestureNet: rotation, brightness, occlusion, flip, translate/zoom) ---------


def random_brightness(
    image: tf.Tensor,
    max_delta: float,
    contrast_range: tuple[float, float],
    probability: float,
    seed: tf.Tensor,
) -> tf.Tensor:
    """With probability ``probability``: add ``U[-max_delta, max_delta]`` and scale the contrast
    about the image mean by ``U[contrast_range]``; result clipped to [0, 1]."""
    if probability <= 0:
        return image
    delta = tf.random.stateless_uniform([], sub_seed(seed, 1), -max_delta, max_delta)
    scale = tf.random.stateless_uniform([], sub_seed(seed, 2), contrast_range[0], contrast_range[1])
    mean = tf.reduce_mean(image)
    out = tf.clip_by_value((image - mean) * scale + mean + delta, 0.0, 1.0)
    return tf.cond(_coin(probability, sub_seed(seed, 0)), lambda: out, lambda: image)


def affine_transform(
    image: tf.Tensor,
    angle_rad: tf.Tensor,
    scale: tf.Tensor,
    shift_xy: tf.Tensor,
    fill_mode: str = "REFLECT",
) -> tf.Tensor:
    """Rotate ``image (H, W, C)`` by ``angle_rad`` about its centre, zoom by ``scale`` (> 1 zooms
    in) and translate by ``shift_xy`` pixels; bilinear, borders filled by ``fill_mode``."""
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    c, s = tf.cos(angle_rad) / scale, tf.sin(angle_rad) / scale
    tx, ty = shift_xy[0], shift_xy[1]
    # output (x, y) -> input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transform = tf.stack(
        [c, -s, cx - c * cx + s * cy - tx, s, c, cy - s * cx - c * cy - ty, 0.0, 0.0]
    )[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=tf.cast(transform, tf.float32),
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=fill_mode,
    )
    return tf.ensure_shape(out[0], image.shape)


def random_affine(
    image: tf.Tensor,
    max_angle_deg: float,
    max_shift: float,
    zoom_range: tuple[float, float],
    rotation_probability: float,
    shift_probability: float,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Random rotation (``U[-max_angle_deg, max_angle_deg]`` with its probability) and random
    translation (up to ``max_shift`` of each side) plus zoom (``U[zoom_range]``) with theirs,
    applied as one affine resampling."""
    if rotation_probability <= 0 and shift_probability <= 0:
        return image
    rotate = _coin(rotation_probability, sub_seed(seed, 0))
    shift = _coin(shift_probability, sub_seed(seed, 1))
    angle = tf.random.stateless_uniform([], sub_seed(seed, 2), -max_angle_deg, max_angle_deg) * (
        3.141592653589793 / 180.0
    )
    angle = tf.where(rotate, angle, 0.0)
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    offset = tf.random.stateless_uniform([2], sub_seed(seed, 3), -max_shift, max_shift) * hw[::-1]
    zoom = tf.random.stateless_uniform([], sub_seed(seed, 4), zoom_range[0], zoom_range[1])
    offset = tf.where(shift, offset, tf.zeros([2]))
    zoom = tf.where(shift, zoom, 1.0)
    return tf.cond(
        tf.logical_or(rotate, shift),
        lambda: affine_transform(image, angle, zoom, offset),
        lambda: image,
    )


def random_occlusion(
    image: tf.Tensor, max_fraction: float, probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """With probability ``probability``, fill a random rectangle (each side up to ``max_fraction``
    of the image's) with uniform noise: an object in front of the hand."""
    if probability <= 0 or max_fraction <= 0:
        return image
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    size = tf.random.stateless_uniform([2], sub_seed(seed, 1), 0.1 * max_fraction, max_fraction)
    oh = tf.maximum(1, tf.cast(size[0] * hf, tf.int32))
    ow = tf.maximum(1, tf.cast(size[1] * wf, tf.int32))
    y0 = tf.random.stateless_uniform([], sub_seed(seed, 2), 0, tf.maximum(1, h - oh + 1), tf.int32)
    x0 = tf.random.stateless_uniform([], sub_seed(seed, 3), 0, tf.maximum(1, w - ow + 1), tf.int32)
    rows = tf.range(h)[:, None]
    cols = tf.range(w)[None, :]
    mask = (rows >= y0) & (rows < y0 + oh) & (cols >= x0) & (cols < x0 + ow)
    noise = tf.random.stateless_uniform(tf.shape(image), sub_seed(seed, 4), 0.0, 1.0)
    out = tf.where(mask[..., None], noise, image)
    return tf.cond(_coin(probability, sub_seed(seed, 0)), lambda: out, lambda: image)


def random_flip_left_right(image: tf.Tensor, probability: float, seed: tf.Tensor) -> tf.Tensor:
    """Mirror ``image`` horizontally with probability ``probability``."""
    if probability <= 0:
        return image
    return tf.cond(_coin(probability, seed), lambda: tf.image.flip_left_right(image), lambda: image)
