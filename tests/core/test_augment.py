"""TF augmentation / crop ops: facegrid twin of core.crops, boxes, crops, seeded randomness."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core import augment
from gaze_pipelines.core.crops import facegrid as facegrid_np


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-50, 700),
    y=st.floats(-50, 500),
    w=st.floats(1, 400),
    h=st.floats(1, 400),
    fw=st.integers(64, 1920),
    fh=st.integers(64, 1080),
)
def test_facegrid_matches_numpy_version(x, y, w, h, fw, fh):
    got = augment.facegrid(tf.constant([x, y, w, h]), fw, fh, (25, 25)).numpy()
    np.testing.assert_array_equal(got, facegrid_np((x, y, w, h), fw, fh, 25))


def test_facegrid_known_box():
    grid = augment.facegrid(tf.constant([320.0, 240.0, 64.0, 48.0]), 640, 480, (25, 25)).numpy()
    assert grid.shape == (25, 25)
    rows, cols = np.nonzero(grid)
    assert rows.min() == 12 and cols.min() == 12
    assert rows.max() == 14 and cols.max() == 14


def test_boxes_scale_flip_shift_zoom():
    boxes = tf.constant([[10.0, 20.0, 30.0, 40.0], [100.0, 50.0, 10.0, 10.0]])
    scaled = augment.scale_boxes(boxes, 2.0).numpy()
    np.testing.assert_allclose(scaled[0], [-5.0, 0.0, 60.0, 80.0])
    flipped = augment.hflip_boxes(boxes, 200).numpy()
    np.testing.assert_allclose(flipped[0], [160.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(augment.hflip_boxes(flipped, 200).numpy(), boxes.numpy())
    seed = tf.constant([1, 2], tf.int64)
    a = augment.random_shift_boxes(boxes, 0.2, 1.0, seed).numpy()
    b = augment.random_shift_boxes(boxes, 0.2, 1.0, seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.all(np.abs(a[:, 0] - boxes.numpy()[:, 0]) <= 0.2 * boxes.numpy()[:, 2] + 1e-5)
    np.testing.assert_array_equal(a[:, 2:], boxes.numpy()[:, 2:])
    np.testing.assert_array_equal(
        augment.random_shift_boxes(boxes, 0.2, 0.0, seed).numpy(), boxes.numpy()
    )
    z = augment.random_zoom_boxes(boxes, 2.0, 2.0, seed).numpy()
    np.testing.assert_allclose(z[:, 2:], boxes.numpy()[:, 2:] / 2.0)


def test_crop_resize_identity_and_outside():
    img = tf.reshape(tf.range(12 * 16, dtype=tf.float32), (12, 16, 1))
    full = augment.crop_resize(img, tf.constant([[0.0, 0.0, 16.0, 12.0]]), (12, 16))[0]
    np.testing.assert_allclose(full.numpy(), img.numpy(), atol=1e-3)
    part = augment.crop_resize(img, tf.constant([[4.0, 2.0, 8.0, 6.0]]), (6, 8))[0]
    np.testing.assert_allclose(part.numpy(), img.numpy()[2:8, 4:12], atol=1e-3)
    outside = augment.crop_resize(img, tf.constant([[100.0, 100.0, 8.0, 8.0]]), (4, 4))[0]
    assert float(tf.reduce_max(outside)) == 0.0


def test_photometric_ops_seeded_and_bounded():
    rng = np.random.default_rng(0)
    img = tf.constant(rng.uniform(0, 1, (20, 20, 1)), tf.float32)
    s1, s2 = tf.constant([3, 4], tf.int64), tf.constant([5, 6], tf.int64)
    g1 = augment.random_gamma(img, 0.5, 2.0, 1.0, s1)
    np.testing.assert_array_equal(g1.numpy(), augment.random_gamma(img, 0.5, 2.0, 1.0, s1).numpy())
    assert not np.array_equal(g1.numpy(), augment.random_gamma(img, 0.5, 2.0, 1.0, s2).numpy())
    np.testing.assert_array_equal(augment.random_gamma(img, 0.5, 2.0, 0.0, s1).numpy(), img.numpy())
    c = augment.random_contrast(img, 0.5, 0.5, s1).numpy()
    assert c.min() >= 0 and c.max() <= 1
    const = tf.fill((15, 15, 1), 0.4)
    blurred = augment.random_gaussian_blur(const, [5], 1.0, s1)
    np.testing.assert_allclose(blurred.numpy(), 0.4, atol=1e-6)
    k = augment.gaussian_kernel_1d(tf.constant(7)).numpy()
    assert k.sum() == pytest.approx(1.0) and k.argmax() == 3
    # a blurred step edge is smoother
    edge = tf.constant(np.repeat((np.arange(20) >= 10).astype("float32")[None, :, None], 20, 0))
    sharp = np.abs(np.diff(edge.numpy()[10, :, 0])).max()
    soft = np.abs(np.diff(augment.gaussian_blur(edge, tf.constant(5)).numpy()[10, :, 0])).max()
    assert soft < sharp
    rgb = tf.constant(rng.uniform(0, 1, (8, 8, 3)), tf.float32)
    hs = augment.random_hue_saturation(rgb, 30.0, 0.3, s1).numpy()
    assert hs.shape == (8, 8, 3) and not np.allclose(hs, rgb.numpy())
    np.testing.assert_array_equal(
        augment.random_hue_saturation(img, 30.0, 0.3, s1).numpy(), img.numpy()
    )


def test_normalize_kinds():
    img = tf.constant([[[0.0], [1.0]]])
    np.testing.assert_allclose(augment.normalize(img, "[-1,1]").numpy().ravel(), [-1.0, 1.0])
    np.testing.assert_allclose(augment.normalize(img, "none").numpy().ravel(), [0.0, 255.0])
    ms = augment.normalize(img, "mean-std").numpy().ravel()
    assert ms.mean() == pytest.approx(0.0) and ms.std() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        augment.normalize(img, "bogus")
