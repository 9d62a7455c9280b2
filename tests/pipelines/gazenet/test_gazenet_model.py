"""GazeNet_public: DeepStream names, output rescaling, frozen blocks, pretrained weights, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gaze_pipelines.datasets.keras_model import KerasModelDataset
from gaze_pipelines.pipelines.gazenet.model import (
    INPUT_NAMES,
    OUTPUT_NAME,
    build_gazenet,
    freeze_blocks,
    layer_block,
    transfer_weights,
)


def _model(**kw):
    args = dict(
        face_shape=(32, 32, 1),
        eye_shape=(24, 24, 1),
        facegrid_size=625,
        num_outputs=5,
        width_multiplier=0.125,
        output_mean=[1, 2, 3, 0.1, 0.2],
        output_std=[10, 20, 30, 0.5, 0.5],
    )
    args.update(kw)
    return build_gazenet(**args)


def _inputs(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "input_face_images": rng.uniform(0, 1, (n, 32, 32, 1)).astype("float32"),
        "input_left_images": rng.uniform(0, 1, (n, 24, 24, 1)).astype("float32"),
        "input_right_images": rng.uniform(0, 1, (n, 24, 24, 1)).astype("float32"),
        "input_facegrid": (rng.uniform(0, 1, (n, 625)) > 0.8).astype("float32"),
    }


@pytest.fixture(scope="module")
def model():
    return _model()


def test_names_shapes_and_output_rescaling(model):
    assert [t.name.split(":")[0] for t in model.inputs] == list(INPUT_NAMES)
    assert model.output_names == [OUTPUT_NAME]
    out = model.predict(_inputs(), verbose=0)
    assert out.shape == (2, 5)
    raw = keras.Model(model.inputs, model.get_layer("fc_joint_raw").output).predict(
        _inputs(), verbose=0
    )
    np.testing.assert_allclose(
        out, raw * [10, 20, 30, 0.5, 0.5] + [1, 2, 3, 0.1, 0.2], rtol=1e-5, atol=1e-5
    )
    assert not model.get_layer(OUTPUT_NAME).trainable


@pytest.mark.parametrize("outputs", [2, 3])
def test_other_output_counts(outputs):
    model = _model(
        num_outputs=outputs,
        output_mean=None,
        output_std=None,
        use_batch_norm=False,
        regularizer_type="none",
    )
    assert model.predict(_inputs(), verbose=0).shape == (2, outputs)


def test_frozen_blocks_and_pretrained_transfer(model):
    src = model
    dst = _model()
    copied = transfer_weights(src, dst)
    assert "face_conv1" in copied and OUTPUT_NAME not in copied
    np.testing.assert_array_equal(
        src.get_layer("left_conv2").get_weights()[0], dst.get_layer("left_conv2").get_weights()[0]
    )
    frozen = freeze_blocks(dst, 4)
    assert "right_conv4" in frozen and "face_fc5a" not in frozen
    assert not dst.get_layer("face_conv1").trainable and dst.get_layer("joint_fc1").trainable
    assert {layer_block(n) for n in frozen} <= {1, 2, 3, 4}
    all6 = freeze_blocks(dst, 6)
    assert "facegrid_fc6b" in all6 and "joint_fc1" not in all6
    # a model of another width: nothing with other shapes is copied
    assert "face_conv1" not in transfer_weights(_model(width_multiplier=0.25), dst)


def test_keras_model_dataset_round_trip_and_optional(model, tmp_path):
    ds = KerasModelDataset(filepath=str(tmp_path / "m.keras"))
    ds.save(model)
    again = ds.load()
    np.testing.assert_allclose(
        again.predict(_inputs(), verbose=0), model.predict(_inputs(), verbose=0), rtol=1e-5
    )
    assert KerasModelDataset(filepath=None).load() is None
    with pytest.raises(Exception, match="not a '.keras' file"):
        KerasModelDataset(filepath=str(tmp_path / "model.tlt")).load()
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"model:\n  model_parameters:\n    pretrained_model_path: {tmp_path / 'm.keras'}\n"
    )
    from_spec = KerasModelDataset(
        filepath=None, spec_file=str(spec), spec_key="model.model_parameters.pretrained_model_path"
    )
    assert from_spec.load() is not None
