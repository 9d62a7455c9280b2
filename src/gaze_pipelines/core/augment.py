"""Batched image augmentation and crop ops in TensorFlow, for ``tf.data`` pipelines of any family.

Ops work on a batch: images ``(B, H, W, C)`` float32 with intensities in ``[0, 1]``, boxes
``(B, K, 4)`` as ``(x, y, w, h)`` pixels. Random draws are *stateless*: each op takes a ``seed``
tensor of shape ``[2]`` and draws one value per sample, so a pipeline seeded from
``(random_seed, batch index)`` is reproducible and independent of thread scheduling. Working on
whole batches keeps the per-sample cost of ``tf.data`` low (one kernel launch per op per batch).

- ``sub_seed(seed, k)``: the k-th independent seed derived from ``seed``.
- ``random_gaussian_blur(images, kernel_sizes, probability, seed)``: OpenCV-sized Gaussian kernel
  (``sigma = 0.3 ((k - 1) / 2 - 1) + 0.8``) drawn per sample from ``kernel_sizes``.
- ``random_gamma(images, gamma_min, gamma_max, probability, seed, gamma_type)``: ``x ** g``.
- ``random_contrast(images, center, scale_max, seed)``: ``(x - c) s + c``, ``s ~ U[1 - m, 1 + m]``.
- ``random_hue_saturation(images, hue_max_deg, saturation_max, seed)``: RGB images only.
- ``random_shift_boxes(boxes, percent_max, probability, seed)`` / ``random_zoom_boxes(boxes,
  zoom_min, zoom_max, seed)``: jitter boxes as a detector would (one zoom per sample).
- ``random_flags(probability, batch, seed)``: per-sample booleans (e.g. horizontal flips).
- ``scale_boxes(boxes, scale)`` about the box centres; ``hflip_boxes(boxes, width)``.
- ``crop_resize(images, boxes, indices, size)``: crops of ``(M, 4)`` boxes of the images
  ``indices`` resized to ``size``; parts outside the image are zero.
- ``facegrid(boxes, frame_w, frame_h, grid)``: graph twin of ``core.crops.facegrid``.
- ``normalize(images, kind)``: ``zero-one`` (as is), ``[-1,1]``, ``mean-std`` (per image),
  ``none`` (0-255).
- ``random_brightness(images, max_delta, contrast_range, probability, seed)``: offset + contrast.
- ``affine_transform(images, angles, scales, shifts)`` / ``random_affine(images, max_angle_deg,
  max_shift, zoom_range, rotation_probability, shift_probability, seed)``: rotation about the
  centre, zoom and translation in one bilinear resampling (reflected borders).
- ``random_occlusion(images, max_fraction, probability, seed)``: a noise rectangle per image.
- ``random_flip_left_right(images, probability, seed)``: horizontal mirror per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def sub_seed(seed: tf.Tensor, k: int) -> tf.Tensor:
    """The ``k``-th seed derived from ``seed`` (shape ``[2]``)."""
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), k)


def _batch(images: tf.Tensor) -> tf.Tensor:
    return tf.shape(images)[0]


def random_flags(probability: float, batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """``(B,)`` booleans, each true with ``probability``."""
    return tf.random.stateless_uniform([batch], seed) < probability


def _per_image(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(values, [-1, 1, 1, 1])


def gaussian_kernel_1d(size: tf.Tensor) -> tf.Tensor:
    """Normalized 1-D Gaussian of odd ``size`` with OpenCV's default sigma."""
    size = tf.cast(size, tf.int32)
    sigma = 0.3 * (tf.cast(size - 1, tf.float32) * 0.5 - 1.0) + 0.8
    x = tf.cast(tf.range(size) - size // 2, tf.float32)
    k = tf.exp(-0.5 * tf.square(x / sigma))
    return k / tf.reduce_sum(k)


def gaussian_blur(images: tf.Tensor, size: int) -> tf.Tensor:
    """Separable Gaussian blur of ``(B, H, W, C)`` with an odd kernel ``size`` (reflect padding)."""
    if size <= 1:
        return images
    k = gaussian_kernel_1d(size)
    channels = images.shape[-1]
    pad = size // 2
    x = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    kx = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, channels, 1])
    ky = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, channels, 1])
    x = tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "VALID")


def random_gaussian_blur(
    images: tf.Tensor, kernel_sizes: Sequence[int], probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Blur each image with probability ``probability``, kernel size drawn from ``kernel_sizes``."""
    sizes = [int(k) for k in kernel_sizes]
    if probability <= 0 or not sizes or max(sizes) <= 1:
        return images
    n = _batch(images)
    pick = tf.random.stateless_uniform([n], sub_seed(seed, 1), 0, len(sizes), tf.int32)
    apply = random_flags(probability, n, sub_seed(seed, 0))
    out = images
    for size in sorted(set(sizes)):
        if size <= 1:
            continue
        chosen = apply & tf.reduce_any(
            tf.stack([tf.equal(pick, j) for j, s in enumerate(sizes) if s == size]), axis=0
        )
        out = tf.where(_per_image(chosen), gaussian_blur(images, size), out)
    return out


def random_gamma(
    images: tf.Tensor,
    gamma_min: float,
    gamma_max: float,
    probability: float,
    seed: tf.Tensor,
    gamma_type: str = "uniform",
) -> tf.Tensor:
    """``x ** gamma`` per image with probability ``probability``; gamma uniform or normal.

    ``normal``: mean at the centre of ``[min, max]``, standard deviation a quarter of its width,
    clipped to the range.
    """
    if probability <= 0:
        return images
    n = _batch(images)
    if gamma_type == "normal":
        mid, sd = (gamma_min + gamma_max) / 2.0, (gamma_max - gamma_min) / 4.0
        g = tf.clip_by_value(
            mid + sd * tf.random.stateless_normal([n], sub_seed(seed, 1)), gamma_min, gamma_max
        )
    else:
        g = tf.random.stateless_uniform([n], sub_seed(seed, 1), gamma_min, gamma_max)
    g = tf.where(random_flags(probability, n, sub_seed(seed, 0)), g, tf.ones_like(g))
    return tf.pow(tf.clip_by_value(images, 0.0, 1.0), _per_image(g))


def random_contrast(
    images: tf.Tensor, center: float, scale_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """``(x - center) * s + center``, ``s ~ U[1 - scale_max, 1 + scale_max]`` per image."""
    if scale_max <= 0:
        return images
    s = tf.random.stateless_uniform([_batch(images)], seed, 1.0 - scale_max, 1.0 + scale_max)
    return tf.clip_by_value((images - center) * _per_image(s) + center, 0.0, 1.0)


def random_hue_saturation(
    images: tf.Tensor, hue_max_deg: float, saturation_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """Rotate hue by up to ``hue_max_deg`` and scale saturation by ``1 +- saturation_max`` (RGB)."""
    if images.shape[-1] != 3 or (hue_max_deg <= 0 and saturation_max <= 0):
        return images
    n = _batch(images)
    hsv = tf.image.rgb_to_hsv(tf.clip_by_value(images, 0.0, 1.0))
    h, s, v = tf.unstack(hsv, axis=-1)
    if hue_max_deg > 0:
        delta = (
            tf.random.stateless_uniform([n], sub_seed(seed, 0), -hue_max_deg, hue_max_deg) / 360.0
        )
        h = tf.math.floormod(h + tf.reshape(delta, [-1, 1, 1]), 1.0)
    if saturation_max > 0:
        f = tf.random.stateless_uniform(
            [n], sub_seed(seed, 1), 1.0 - saturation_max, 1.0 + saturation_max
        )
        s = tf.clip_by_value(s * tf.reshape(f, [-1, 1, 1]), 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1))


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
    """Shift each box of ``(B, K, 4)`` by up to ``percent_max`` of its size, with probability per box."""
    boxes = tf.cast(boxes, tf.float32)
    if percent_max <= 0 or probability <= 0:
        return boxes
    shape = tf.shape(boxes)
    frac = tf.random.stateless_uniform(
        tf.concat([shape[:-1], [2]], 0), sub_seed(seed, 0), -percent_max, percent_max
    )
    apply = tf.cast(
        tf.random.stateless_uniform(tf.concat([shape[:-1], [1]], 0), sub_seed(seed, 1))
        < probability,
        tf.float32,
    )
    delta = frac * boxes[..., 2:4] * apply
    return tf.concat([boxes[..., 0:2] + delta, boxes[..., 2:4]], axis=-1)


def random_zoom_boxes(
    boxes: tf.Tensor, zoom_min: float, zoom_max: float, seed: tf.Tensor
) -> tf.Tensor:
    """Zoom all boxes of a sample (``(B, K, 4)``) by one ``z ~ U[zoom_min, zoom_max]`` (size / z)."""
    boxes = tf.cast(boxes, tf.float32)
    if zoom_min == 1.0 and zoom_max == 1.0:
        return boxes
    z = tf.random.stateless_uniform([tf.shape(boxes)[0]], seed, zoom_min, zoom_max)
    return scale_boxes(boxes, tf.reshape(1.0 / z, [-1, 1]))


def hflip_boxes(boxes: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Mirror ``(..., 4)`` boxes in images of ``width`` pixels (``width`` broadcasts)."""
    boxes = tf.cast(boxes, tf.float32)
    x, y, w, h = tf.unstack(boxes, axis=-1)
    return tf.stack([tf.cast(width, tf.float32) - x - w, y, w, h], axis=-1)


def crop_resize(
    images: tf.Tensor, boxes: tf.Tensor, indices: tf.Tensor, size: tuple[int, int]
) -> tf.Tensor:
    """Crops ``(M, h, w, C)`` float32 of pixel boxes ``(M, 4)`` from ``images[indices]``.

    ``images`` ``(B, H, W, C)`` in any dtype ``crop_and_resize`` takes (uint8, float...); bilinear;
    regions outside the image are 0. ``size`` is ``(height, width)``.
    """
    # uint8 and float images are sampled as they are: casting a batch of large windows first
    # would cost more than the crops themselves
    shape = tf.cast(tf.shape(images), tf.float32)
    hgt, wid = shape[1], shape[2]
    x, y, w, h = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
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
    return tf.image.crop_and_resize(
        images, norm, tf.cast(indices, tf.int32), size, method="bilinear", extrapolation_value=0.0
    )


def facegrid(
    boxes: tf.Tensor, frame_w: tf.Tensor, frame_h: tf.Tensor, grid: tuple[int, int] = (25, 25)
) -> tf.Tensor:
    """Graph twin of ``core.crops.facegrid`` for ``(B, 4)`` face boxes: ``(B, rows, cols)`` masks.

    Same cell rule (floor of the box start, ceil of its end, clipped to the grid), so records,
    ``tf.data`` pipelines and inference agree; ``tests/core/test_augment.py`` checks the two match.
    """
    rows, cols = int(grid[0]), int(grid[1])
    boxes = tf.cast(boxes, tf.float32)
    x, y, w, h = (boxes[:, i, None, None] for i in range(4))
    sx = cols / tf.reshape(tf.cast(frame_w, tf.float32), [-1, 1, 1])
    sy = rows / tf.reshape(tf.cast(frame_h, tf.float32), [-1, 1, 1])
    gx1 = tf.clip_by_value(tf.floor(x * sx), 0.0, float(cols))
    gy1 = tf.clip_by_value(tf.floor(y * sy), 0.0, float(rows))
    gx2 = tf.clip_by_value(tf.math.ceil((x + w) * sx), 0.0, float(cols))
    gy2 = tf.clip_by_value(tf.math.ceil((y + h) * sy), 0.0, float(rows))
    r = tf.range(rows, dtype=tf.float32)[None, :, None]
    c = tf.range(cols, dtype=tf.float32)[None, None, :]
    inside = (r >= gy1) & (r < gy2) & (c >= gx1) & (c < gx2)
    return tf.cast(inside, tf.float32)


def normalize(images: tf.Tensor, kind: str) -> tf.Tensor:
    """Map [0, 1] intensities per ``kind``: zero-one | [-1,1] | mean-std (per image) | none (0-255)."""
    if kind == "zero-one":
        return images
    if kind == "[-1,1]":
        return images * 2.0 - 1.0
    if kind == "mean-std":
        mean, var = tf.nn.moments(images, axes=[-3, -2, -1], keepdims=True)
        return (images - mean) / tf.maximum(tf.sqrt(var), 1.0 / 255.0)
    if kind == "none":
        return images * 255.0
    raise ValueError(f"normalization must be zero-one, [-1,1], mean-std or none, got {kind!r}")


# --- whole-image ops (GestureNet: brightness, rotation/shift/zoom, occlusion, flip) -------------


def random_brightness(
    images: tf.Tensor,
    max_delta: float,
    contrast_range: tuple[float, float],
    probability: float,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Per image with ``probability``: add ``U[-max_delta, max_delta]`` and scale the contrast
    about the image mean by ``U[contrast_range]``; clipped to [0, 1]."""
    if probability <= 0:
        return images
    n = _batch(images)
    delta = tf.random.stateless_uniform([n], sub_seed(seed, 1), -max_delta, max_delta)
    scale = tf.random.stateless_uniform(
        [n], sub_seed(seed, 2), contrast_range[0], contrast_range[1]
    )
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    out = tf.clip_by_value((images - mean) * _per_image(scale) + mean + _per_image(delta), 0.0, 1.0)
    return tf.where(_per_image(random_flags(probability, n, sub_seed(seed, 0))), out, images)


def affine_transform(
    images: tf.Tensor,
    angles_rad: tf.Tensor,
    scales: tf.Tensor,
    shifts_xy: tf.Tensor,
    fill_mode: str = "REFLECT",
) -> tf.Tensor:
    """Rotate each image by ``angles_rad (B,)`` about its centre, zoom by ``scales (B,)`` (> 1
    zooms in) and translate by ``shifts_xy (B, 2)`` pixels; bilinear, borders by ``fill_mode``."""
    h = tf.cast(tf.shape(images)[1], tf.float32)
    w = tf.cast(tf.shape(images)[2], tf.float32)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    c = tf.cos(angles_rad) / scales
    s = tf.sin(angles_rad) / scales
    tx, ty = shifts_xy[:, 0], shifts_xy[:, 1]
    zeros = tf.zeros_like(c)
    # output (x, y) -> input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transforms = tf.stack(
        [c, -s, cx - c * cx + s * cy - tx, s, c, cy - s * cx - c * cy - ty, zeros, zeros], axis=1
    )
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.cast(transforms, tf.float32),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=fill_mode,
    )
    return tf.ensure_shape(out, images.shape)


def random_affine(
    images: tf.Tensor,
    max_angle_deg: float,
    max_shift: float,
    zoom_range: tuple[float, float],
    rotation_probability: float,
    shift_probability: float,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Per image: a rotation in ``U[-max_angle_deg, max_angle_deg]`` (with its probability) and a
    translation up to ``max_shift`` of each side plus a zoom in ``U[zoom_range]`` (with theirs),
    applied as one affine resampling."""
    if rotation_probability <= 0 and shift_probability <= 0:
        return images
    n = _batch(images)
    rotate = random_flags(rotation_probability, n, sub_seed(seed, 0))
    shift = random_flags(shift_probability, n, sub_seed(seed, 1))
    angle = tf.random.stateless_uniform([n], sub_seed(seed, 2), -max_angle_deg, max_angle_deg)
    angle = tf.where(rotate, angle * (3.141592653589793 / 180.0), 0.0)
    hw = tf.cast(tf.shape(images)[1:3], tf.float32)
    offset = (
        tf.random.stateless_uniform([n, 2], sub_seed(seed, 3), -max_shift, max_shift) * hw[::-1]
    )
    zoom = tf.random.stateless_uniform([n], sub_seed(seed, 4), zoom_range[0], zoom_range[1])
    offset = tf.where(shift[:, None], offset, 0.0)
    zoom = tf.where(shift, zoom, 1.0)
    out = affine_transform(images, angle, zoom, offset)
    return tf.where(_per_image(rotate | shift), out, images)


def random_occlusion(
    images: tf.Tensor, max_fraction: float, probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Per image with ``probability``: a rectangle (each side up to ``max_fraction`` of the
    image's) filled with uniform noise, as an object in front of the hand."""
    if probability <= 0 or max_fraction <= 0:
        return images
    n = _batch(images)
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    size = tf.random.stateless_uniform([n, 2], sub_seed(seed, 1), 0.1 * max_fraction, max_fraction)
    oh = tf.maximum(1.0, tf.floor(size[:, 0] * hf))
    ow = tf.maximum(1.0, tf.floor(size[:, 1] * wf))
    y0 = tf.floor(tf.random.stateless_uniform([n], sub_seed(seed, 2)) * (hf - oh + 1.0))
    x0 = tf.floor(tf.random.stateless_uniform([n], sub_seed(seed, 3)) * (wf - ow + 1.0))
    rows = tf.range(hf)[None, :, None]
    cols = tf.range(wf)[None, None, :]
    inside = (
        (rows >= y0[:, None, None])
        & (rows < (y0 + oh)[:, None, None])
        & (cols >= x0[:, None, None])
        & (cols < (x0 + ow)[:, None, None])
    )
    mask = inside & _per_image(random_flags(probability, n, sub_seed(seed, 0)))[..., 0]
    noise = tf.random.stateless_uniform(tf.shape(images), sub_seed(seed, 4), 0.0, 1.0)
    return tf.where(mask[..., None], noise, images)


def random_flip_left_right(images: tf.Tensor, probability: float, seed: tf.Tensor) -> tf.Tensor:
    """Mirror each image horizontally with ``probability``."""
    if probability <= 0:
        return images
    flags = random_flags(probability, _batch(images), seed)
    return tf.where(_per_image(flags), tf.reverse(images, axis=[2]), images)
