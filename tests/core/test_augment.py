"""Batched TF augmentation / crop ops: facegrid twin of core.crops, boxes, crops, seeded draws."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core import augment
from gaze_pipelines.core.crops import facegrid as facegrid_np

SEED = tf.constant([3, 4], tf.int64)
OTHER = tf.constant([5, 6], tf.int64)


@settings(max_examples=30, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.floats(-50, 700), st.floats(-50, 500), st.floats(1, 400), st.floats(1, 400)),
        min_size=1,
        max_size=4,
    ),
    fw=st.integers(64, 1920),
    fh=st.integers(64, 1080),
)
def test_facegrid_matches_numpy_version(boxes, fw, fh):
    n = len(boxes)
    got = augment.facegrid(tf.constant(boxes, tf.float32), [fw] * n, [fh] * n, (25, 25)).numpy()
    for i, box in enumerate(boxes):
        np.testing.assert_array_equal(got[i], facegrid_np(box, fw, fh, 25))


def test_facegrid_known_box_and_non_square_grid():
    grid = augment.facegrid(
        tf.constant([[320.0, 240.0, 64.0, 48.0]]), [640], [480], (25, 25)
    ).numpy()[0]
    rows, cols = np.nonzero(grid)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (12, 14, 12, 14)
    assert (
        augment.facegrid(tf.constant([[0.0, 0.0, 640.0, 480.0]]), [640], [480], (9, 16))
        .numpy()
        .sum()
        == 144
    )


def test_boxes_scale_flip_shift_zoom():
    boxes = tf.constant([[[10.0, 20.0, 30.0, 40.0], [100.0, 50.0, 10.0, 10.0]]])  # (1, 2, 4)
    np.testing.assert_allclose(
        augment.scale_boxes(boxes, 2.0).numpy()[0, 0], [-5.0, 0.0, 60.0, 80.0]
    )
    flipped = augment.hflip_boxes(boxes, 200).numpy()
    np.testing.assert_allclose(flipped[0, 0], [160.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(augment.hflip_boxes(flipped, 200).numpy(), boxes.numpy())
    a = augment.random_shift_boxes(boxes, 0.2, 1.0, SEED).numpy()
    np.testing.assert_array_equal(a, augment.random_shift_boxes(boxes, 0.2, 1.0, SEED).numpy())
    b = boxes.numpy()
    assert np.all(np.abs(a[..., 0] - b[..., 0]) <= 0.2 * b[..., 2] + 1e-5)
    np.testing.assert_array_equal(a[..., 2:], b[..., 2:])
    np.testing.assert_array_equal(augment.random_shift_boxes(boxes, 0.2, 0.0, SEED).numpy(), b)
    z = augment.random_zoom_boxes(boxes, 2.0, 2.0, SEED).numpy()
    np.testing.assert_allclose(z[..., 2:], b[..., 2:] / 2.0)
    flags = augment.random_flags(0.5, 1000, SEED).numpy()
    assert 400 < flags.sum() < 600


def test_crop_resize_identity_and_outside():
    img = tf.reshape(tf.range(2 * 12 * 16, dtype=tf.float32), (2, 12, 16, 1))
    full = augment.crop_resize(img, tf.constant([[0.0, 0.0, 16.0, 12.0]]), [1], (12, 16))[0]
    np.testing.assert_allclose(full.numpy(), img.numpy()[1], atol=1e-3)
    part = augment.crop_resize(img, tf.constant([[4.0, 2.0, 8.0, 6.0]]), [0], (6, 8))[0]
    np.testing.assert_allclose(part.numpy(), img.numpy()[0, 2:8, 4:12], atol=1e-3)
    outside = augment.crop_resize(img, tf.constant([[100.0, 100.0, 8.0, 8.0]]), [0], (4, 4))
    assert float(tf.reduce_max(outside)) == 0.0


def test_photometric_ops_seeded_per_image_and_bounded():
    rng = np.random.default_rng(0)
    img = tf.constant(rng.uniform(0, 1, (4, 20, 20, 1)), tf.float32)
    g1 = augment.random_gamma(img, 0.5, 2.0, 1.0, SEED).numpy()
    np.testing.assert_array_equal(g1, augment.random_gamma(img, 0.5, 2.0, 1.0, SEED).numpy())
    assert not np.array_equal(g1, augment.random_gamma(img, 0.5, 2.0, 1.0, OTHER).numpy())
    # one gamma per image: log(out) / log(in) is constant within an image, differs between images
    ratio = np.log(g1[..., 0] + 1e-9) / np.log(img.numpy()[..., 0] + 1e-9)
    assert np.ptp(ratio[0]) < 1e-3 and np.ptp(ratio[:, 0, 0]) > 1e-3
    np.testing.assert_array_equal(
        augment.random_gamma(img, 0.5, 2.0, 0.0, SEED).numpy(), img.numpy()
    )
    c = augment.random_contrast(img, 0.5, 0.5, SEED).numpy()
    assert c.min() >= 0 and c.max() <= 1
    const = tf.fill((2, 15, 15, 1), 0.4)
    np.testing.assert_allclose(
        augment.random_gaussian_blur(const, [5], 1.0, SEED).numpy(), 0.4, atol=1e-6
    )
    k = augment.gaussian_kernel_1d(tf.constant(7)).numpy()
    assert k.sum() == pytest.approx(1.0) and k.argmax() == 3
    edge = np.repeat((np.arange(20) >= 10).astype("float32")[None, :], 20, 0)[None, :, :, None]
    soft = augment.gaussian_blur(tf.constant(edge), 5).numpy()
    assert np.abs(np.diff(soft[0, 10, :, 0])).max() < 1.0
    mixed = augment.random_gaussian_blur(
        tf.constant(np.repeat(edge, 8, 0)), [1, 5], 1.0, SEED
    ).numpy()
    sharp = [np.abs(np.diff(m[10, :, 0])).max() == 1.0 for m in mixed]
    assert 0 < sum(sharp) < 8  # kernel size 1 (no blur) for some images, 5 for the others
    rgb = tf.constant(rng.uniform(0, 1, (2, 8, 8, 3)), tf.float32)
    hs = augment.random_hue_saturation(rgb, 30.0, 0.3, SEED).numpy()
    assert hs.shape == (2, 8, 8, 3) and not np.allclose(hs, rgb.numpy())
    np.testing.assert_array_equal(
        augment.random_hue_saturation(img, 30.0, 0.3, SEED).numpy(), img.numpy()
    )


def test_normalize_kinds():
    img = tf.constant([[[[0.0], [1.0]]]])
    np.testing.assert_allclose(augment.normalize(img, "[-1,1]").numpy().ravel(), [-1.0, 1.0])
    np.testing.assert_allclose(augment.normalize(img, "none").numpy().ravel(), [0.0, 255.0])
    ms = augment.normalize(img, "mean-std").numpy().ravel()
    assert ms.mean() == pytest.approx(0.0) and ms.std() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        augment.normalize(img, "bogus")
