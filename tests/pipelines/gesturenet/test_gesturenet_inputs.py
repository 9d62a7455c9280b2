"""Model inputs (decode, augmentation, folds), calibration and inference argument checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from gaze_pipelines.datasets.gesturenet import GestureTree
from gaze_pipelines.pipelines.gesturenet.inputs import (
    augment_batch,
    check_classes,
    entries_for,
    image_dataset,
    training_dataset,
)
from gaze_pipelines.pipelines.gesturenet.nodes_evaluate import run_inference
from gaze_pipelines.pipelines.gesturenet.nodes_export import gesturenet_calibration
from gaze_pipelines.pipelines.gesturenet.params import AugmentationConfig, ModelConfig, TrainSpec

CLASSES = ["thumbs_up", "fist", "stop", "ok", "two", "random"]


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops")
    entries = []
    rng = np.random.default_rng(0)
    for i in range(12):
        rel = f"extracted/data/uid_{i % 3}/s/{i:06d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)
        img[..., 2] = 255  # red in OpenCV's BGR order
        cv2.imwrite(str(root / rel), img)
        entries.append(
            {
                "crop_relpath": rel,
                "crop_path": str(root / rel),
                "class": CLASSES[i % 6],
                "user_id": f"uid_{i % 3}",
            }
        )
    return GestureTree(str(root)), entries


def test_decode_resizes_and_keeps_rgb(crops):
    tree, entries = crops
    paths = [tree.path(e["crop_relpath"]) for e in entries]
    batch = next(
        iter(image_dataset(paths, tree, ModelConfig(image_height=24, image_width=32), 8))
    ).numpy()
    assert batch.shape == (8, 24, 32, 3) and batch.dtype == np.float32
    assert batch[..., 0].min() > 250  # red is channel 0: files are read as RGB
    gray = next(
        iter(
            image_dataset(
                paths, tree, ModelConfig(image_height=24, image_width=32, gray_scale_input=True), 4
            )
        )
    ).numpy()
    assert gray.shape == (4, 24, 32, 1)


def test_augmentation_is_seeded_and_bounded():
    img = tf.random.stateless_uniform([4, 32, 32, 3], [1, 2], 0, 255)
    cfg = AugmentationConfig()
    a = augment_batch(img, cfg, tf.constant([3, 4], tf.int64))
    b = augment_batch(img, cfg, tf.constant([3, 4], tf.int64))
    c = augment_batch(img, cfg, tf.constant([5, 6], tf.int64))
    assert np.array_equal(a.numpy(), b.numpy()) and not np.array_equal(a.numpy(), c.numpy())
    assert a.numpy().min() >= 0 and a.numpy().max() <= 255
    off = AugmentationConfig.model_validate(
        {
            k: {"probability": 0.0}
            for k in ("gamma", "rotation", "brightness", "occlusion", "flip", "shift", "color")
        }
    )
    assert np.allclose(
        augment_batch(img, off, tf.constant([3, 4], tf.int64)).numpy(), img.numpy(), atol=1e-3
    )


def test_training_batches_one_hot_or_sparse(crops):
    tree, entries = crops
    spec = TrainSpec.model_validate(
        {
            "model_config": {"image_height": 16, "image_width": 16},
            "dataset_config": {"batch_size": 5},
        }
    )
    x, y = next(iter(training_dataset(entries, tree, spec, training=True)))
    assert x.shape == (5, 16, 16, 3) and y.shape == (5, 6) and np.allclose(y.numpy().sum(1), 1)
    _, y = next(iter(training_dataset(entries, tree, spec, training=False, one_hot=False)))
    assert y.numpy().tolist() == [0, 1, 2, 3, 4]  # validation order is kept


def test_data_json_splits_and_folds():
    data = {
        "train_set": [1],
        "validation_set": [2],
        "kpi_set": [3],
        "folds": [{"train_set": [4], "validation_set": [5]}],
        "k_folds": 1,
        "classes": {c: i for i, c in enumerate(CLASSES)},
    }
    assert entries_for(data, "kpi_set") == [3] and entries_for(data, "train_set", 0) == [4]
    with pytest.raises(ValueError, match="not a fold"):
        entries_for(data, "train_set", 2)
    with pytest.raises(ValueError, match="differ"):
        check_classes(data, {"a": 0})


def test_calibration_reads_cal_image_dir_and_checks_counts(crops):
    tree, entries = crops
    train = {"model_config": {"image_height": 16, "image_width": 16}}
    export = {"int8": {"cal_batches": 2, "cal_batch_size": 3, "cal_image_dir": tree.path("")}}
    batches = gesturenet_calibration({"train_set": entries}, tree, tree, train, export)
    assert len(batches) == 2 and batches[0]["input_1"].shape == (3, 16, 16, 3)
    from_train = gesturenet_calibration(
        {"train_set": entries}, tree, None, train, {"int8": {"cal_batches": 2, "cal_batch_size": 3}}
    )
    assert from_train[1]["input_1"].shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="12 images|has 12"):
        gesturenet_calibration(
            {"train_set": entries},
            tree,
            None,
            train,
            {"int8": {"cal_batches": 5, "cal_batch_size": 3}},
        )
    with pytest.raises(ValueError, match="channels_last"):
        gesturenet_calibration({"train_set": entries}, tree, None, train, {"channels_last": True})


def test_inference_on_a_missing_folder_says_where(crops, tmp_path):
    tree, _ = crops
    with pytest.raises(ValueError, match="does not exist"):
        run_inference(
            None, {}, tree, GestureTree(str(tmp_path / "nope")), {}, {"source": "image_dir"}
        )
