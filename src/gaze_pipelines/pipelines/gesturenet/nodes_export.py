"""``gesturenet_export``: the export core's ONNX / INT8 / report stages, fed with GestureNet data.

INT8 calibration reads ``export.int8.cal_batches`` x ``export.int8.cal_batch_size`` crops, as
TAO's ``--cal_image_dir``, ``--batches`` and ``--batch_size`` flags did: from ``cal_image_dir``
(every image below it, in a seeded random order) when set, else from data.json's training set.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from gaze_pipelines.core.export import calibration_batches, validate_export_params
from gaze_pipelines.datasets.gesturenet import IMAGE_EXTENSIONS, GestureTree
from gaze_pipelines.pipelines.gesturenet.inputs import crop_paths, entries_for, image_dataset
from gaze_pipelines.pipelines.gesturenet.model import INPUT_NAME
from gaze_pipelines.pipelines.gesturenet.params import TrainSpec, validate

logger = logging.getLogger(__name__)


def gesturenet_calibration(
    data_json: dict[str, Any],
    crops: GestureTree,
    cal_images: GestureTree | None,
    train: dict[str, Any],
    export: dict[str, Any],
) -> list[dict[str, np.ndarray]]:
    """``cal_batches`` calibration batches ``{input_1: (cal_batch_size, H, W, C)}`` of crops."""
    spec = validate(TrainSpec, train, "gesturenet.train")
    ex = validate_export_params(export, "gesturenet.export")
    channels_last = spec.model.data_format == "channels_last"
    if ex.channels_last != channels_last:
        raise ValueError(
            f"gesturenet.export.channels_last ({ex.channels_last}) contradicts "
            f"gesturenet.train.model_config.data_format ({spec.model.data_format!r}): set both the same way"
        )
    p = ex.int8
    need = p.cal_batches * p.cal_batch_size
    rng = np.random.default_rng(p.seed)
    if p.cal_image_dir:
        if cal_images is None or not cal_images.isdir(""):
            raise ValueError(
                f"gesturenet.export.int8.cal_image_dir: folder '{p.cal_image_dir}' does not exist"
            )
        rels = cal_images.list_files("", IMAGE_EXTENSIONS)
        paths = [cal_images.path(rels[i]) for i in rng.permutation(len(rels))]
        tree, source = cal_images, cal_images.path("")
    else:
        entries = entries_for(data_json, "train_set")
        paths = [crop_paths(entries, crops)[i] for i in rng.permutation(len(entries))]
        tree, source = crops, "data.json train_set"
    paths = list(dict.fromkeys(paths))[:need]  # re-sampled training sets repeat crops
    if len(paths) < need:
        raise ValueError(
            f"gesturenet.export.int8: calibration needs cal_batches x cal_batch_size = "
            f"{p.cal_batches} x {p.cal_batch_size} = {need} images, {source} has {len(paths)}"
        )
    stream = (
        {INPUT_NAME: b.numpy()} for b in image_dataset(paths, tree, spec.model, p.cal_batch_size)
    )
    batches = calibration_batches(stream, p.cal_batches, p.cal_batch_size)
    logger.info(
        "gesturenet INT8 calibration: %d batches x %d images from %s",
        p.cal_batches,
        p.cal_batch_size,
        source,
    )
    return batches
