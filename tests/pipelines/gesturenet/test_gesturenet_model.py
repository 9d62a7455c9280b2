"""GestureNet model: ResNet depth table, stage freezing, step decay, weight transfer, training spec."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gaze_pipelines.core.schedules import StepDecay
from gaze_pipelines.pipelines.gesturenet.model import (
    DEPTHS,
    build_resnet,
    count_conv_dense,
    set_trainable_top,
    weighted_layers,
)
from gaze_pipelines.pipelines.gesturenet.nodes_train import stage_optimizer, transfer_weights
from gaze_pipelines.pipelines.gesturenet.params import (
    RESNET_DEPTHS,
    StageConfig,
    TrainSpec,
    validate,
)


@pytest.mark.parametrize("depth", RESNET_DEPTHS)
def test_resnet_depth_table(depth):
    # thin filters keep the 101/152-layer builds fast; the topology is the full one
    model = build_resnet(depth, num_classes=6, image_height=32, image_width=32, widths=(4, 4, 8, 8))
    assert count_conv_dense(model) == depth  # conv1 + main-path convs + the dense head
    assert model.output_shape == (None, 6)
    assert model.input_shape == (None, 32, 32, 3)
    names = {layer.name for layer in model.layers}
    assert {"conv1", "bn_conv1", "block_1a_conv_1", "predictions"} <= names
    bottleneck = depth >= 50
    assert ("block_1a_conv_3" in names) == bottleneck


def test_resnet18_tao_layout_and_options():
    m = build_resnet(18, image_height=160, image_width=160)
    assert m.input_shape == (None, 160, 160, 3) and m.get_layer("block_4b_conv_2").output.shape[
        1:3
    ] == (5, 5)
    assert 11.0e6 < m.count_params() < 11.5e6  # ResNet-18 conv stack + a 512x6 head
    r50 = build_resnet(50, image_height=64, image_width=64, widths=(8, 8, 8, 8))
    assert r50.get_layer("block_4c_conv_3").output.shape[-1] == 32  # bottlenecks expand by 4
    shortcuts = [layer.name for layer in m.layers if layer.name.endswith("conv_shortcut")]
    assert shortcuts == [
        "block_2a_conv_shortcut",
        "block_3a_conv_shortcut",
        "block_4a_conv_shortcut",
    ]
    proj = build_resnet(18, image_height=64, image_width=64, all_projections=True)
    assert sum(layer.name.endswith("conv_shortcut") for layer in proj.layers) == 8
    gray = build_resnet(
        10,
        image_height=48,
        image_width=64,
        gray_scale_input=True,
        use_batch_norm=False,
        kernel_regularizer_type="none",
    )
    assert gray.input_shape == (None, 48, 64, 1)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in gray.layers)
    assert gray.get_layer("conv1").kernel_regularizer is None
    l1 = build_resnet(10, image_height=32, image_width=32, kernel_regularizer_type="l1")
    assert isinstance(l1.get_layer("conv1").kernel_regularizer, keras.regularizers.L1)
    with pytest.raises(ValueError, match="num_layers must be one of"):
        build_resnet(20)
    assert sorted(DEPTHS) == sorted(RESNET_DEPTHS)


def test_frozen_layers_are_unchanged_after_a_training_step():
    keras.utils.set_random_seed(0)
    model = build_resnet(10, num_classes=3, image_height=32, image_width=32)
    top = set_trainable_top(model, 3)
    assert len(top) == 3 and top[-1] == "predictions"
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    before = {
        layer.name: [w.copy() for w in layer.get_weights()] for layer in weighted_layers(model)
    }
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(8) % 3, 3)
    model.train_on_batch(x, y)
    for layer in weighted_layers(model):
        same = all(
            np.array_equal(a, b)
            for a, b in zip(before[layer.name], layer.get_weights(), strict=True)
        )
        if layer.name in top:
            assert not same, f"{layer.name} should have trained"
        else:
            assert same, f"frozen {layer.name} changed (weights or BN statistics)"


def test_unfreezing_everything_trains_every_layer():
    model = build_resnet(6, num_classes=2, image_height=32, image_width=32)
    names = set_trainable_top(model, 10**6)
    assert names == [layer.name for layer in weighted_layers(model)]
    assert set_trainable_top(model, 0) == [] and not model.trainable_weights


def test_step_decay_schedule_per_epoch():
    stage = StageConfig(initial_lrate=0.1, lr_drop_rate=0.5, decay_step_size=2, optimizer="sgd")
    opt = stage_optimizer(stage, steps_per_epoch=10)
    lr = opt.learning_rate if isinstance(opt.learning_rate, StepDecay) else opt._learning_rate
    values = [float(lr(s)) for s in (0, 19, 20, 39, 40)]
    assert values == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    per_step = StepDecay(1.0, 0.1, 3)
    assert [float(per_step(s)) for s in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    cfg = keras.optimizers.schedules.serialize(per_step)
    assert float(keras.optimizers.schedules.deserialize(cfg)(3)) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        StepDecay(0.1, 1.5, 2)


def test_optimizers_by_name():
    for name, cls in (
        ("sgd", keras.optimizers.SGD),
        ("adam", keras.optimizers.Adam),
        ("rmsprop", keras.optimizers.RMSprop),
    ):
        assert isinstance(stage_optimizer(StageConfig(optimizer=name), 5), cls)


def test_weights_init_transfers_by_name_and_shape():
    src = build_resnet(10, num_classes=4, image_height=32, image_width=32)
    dst = build_resnet(10, num_classes=6, image_height=32, image_width=32)
    copied, skipped = transfer_weights(dst, src)
    assert skipped == ["predictions"]  # a new head for the new classes
    assert np.array_equal(
        dst.get_layer("conv1").get_weights()[0], src.get_layer("conv1").get_weights()[0]
    )
    assert "block_4a_conv_2" in copied


def test_training_spec_keys_and_errors():
    spec = validate(
        TrainSpec,
        {
            "random_seed": 1,
            "key": "nvidia_tlt",
            "model_config": {
                "num_layers": 34,
                "gray_scale_input": True,
                "data_format": "channels_last",
                "image_height": 96,
                "image_width": 128,
                "use_batch_norm": False,
                "kernel_regularizer_type": "l1",
                "kernel_regularizer_factor": 0.01,
                "weights_init": "m.keras",
            },
            "dataset_config": {
                "batch_size": 8,
                "augmentation_config": {"enable_augmentation": False},
            },
            "train_config": {
                "stage_order": ["finetuning"],
                "finetuning": {
                    "stage_epochs": 2,
                    "num_layers_unfreeze": 5,
                    "optimizer": "rmsprop",
                    "initial_lrate": 0.01,
                    "decay_step_size": 3,
                    "lr_drop_rate": 0.1,
                    "enable_checkpointing": False,
                    "loss_fn": "categorical_crossentropy",
                },
            },
        },
        "gesturenet.train",
    )
    assert spec.model.num_layers == 34 and spec.train_config.finetuning.optimizer == "rmsprop"
    for bad, needle in (
        ({"model_config": {"num_layers": 20}}, "gesturenet.train.model_config.num_layers"),
        ({"train_config": {"stage_order": ["warmup"]}}, "'top_training' or 'finetuning'"),
        (
            {"train_config": {"top_training": {"optimizer": "adagrad"}}},
            "'sgd', 'adam' or 'rmsprop'",
        ),
        ({"dataset_config": {"classes": {"a": 0, "b": 2}}}, "without gaps"),
        ({"train_config": {"stage_order": ["finetuning", "finetuning"]}}, "repeats a stage"),
    ):
        with pytest.raises(ValueError) as info:
            validate(TrainSpec, bad, "gesturenet.train")
        assert needle in str(info.value)
