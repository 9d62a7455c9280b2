"""Variants build and train, evaluation maths, inference smoothing and drawing."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.pipelines.webcam.model import OUTPUT_NAME, build_model, variant_inputs
from gaze_pipelines.pipelines.webcam.nodes_evaluate import (
    error_stats,
    evaluate_models,
    screen_error_map,
)
from gaze_pipelines.pipelines.webcam.nodes_inference import (
    GazeSmoother,
    draw_frame,
    map_error,
    weighted_average,
)
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.pipelines.webcam.training import (
    compile_model,
    learning_rate,
    make_dataset,
    model_inputs,
    schedule_callbacks,
    train_variant,
)

TINY = {
    "features": {"image_size": 32},
    "models": {v: {"face": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                   "eye": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                   "head_pos": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                   "dense_nodes": 8} for v in ("face", "eyes", "full")},
    "train": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "deterministic": False},
}  # fmt: skip


def _arrays(n: int = 24, size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {k: rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
           for k in ("face", "face_aligned", "l_eye", "r_eye")}  # fmt: skip
    out["head_pos"] = rng.integers(0, 255, (n, size, size, 1), dtype=np.uint8)
    out["head_angle"] = rng.normal(0, 3, n).astype(np.float32)
    out["xy"] = np.stack([rng.uniform(0, 1920, n), rng.uniform(0, 1080, n)], 1).astype(np.float32)
    out["id"] = np.arange(1, n + 1)
    return out


def _split(n: int = 24) -> pd.DataFrame:
    labels = ["train"] * (n - 8) + ["val"] * 4 + ["test"] * 4
    return pd.DataFrame({"id": np.arange(1, n + 1), "split": labels})


@pytest.mark.parametrize("variant", ["face", "eyes", "full"])
def test_each_variant_builds_and_trains_a_step(variant):
    p = validate_params(TINY)
    model = compile_model(build_model(variant, p.models[variant], 32), p.train)
    assert model.name == f"webcam_{variant}"
    names = variant_inputs(variant, p.models[variant])
    assert [t.name for t in model.inputs] == names
    assert model.output_shape == (None, 2)
    assert model.get_layer(OUTPUT_NAME) is not None
    arrays = _arrays()
    x = model_inputs(arrays, names, np.arange(8))
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch([x[n] for n in names], arrays["xy"][:8], return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["rmse_px"] > 0
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    pred = model.predict([x[n] for n in names], verbose=0)
    assert pred.shape == (8, 2)


def test_full_variant_has_the_reference_inputs_and_branch_parameters():
    p = validate_params({})
    assert variant_inputs("full", p.models["full"]) == [
        "face_aligned", "l_eye", "r_eye", "head_pos", "head_angle"]  # fmt: skip
    m = build_model("full", p.models["full"])
    assert m.get_layer("face_aligned_conv_input").kernel_size == (5, 5)
    assert m.get_layer("head_pos_conv_input").kernel_size == (3, 3)
    assert m.get_layer("l_eye_conv2").filters == 16 * 2 * 2
    assert m.get_layer("drop1").rate == pytest.approx(0.2)


def test_architecture_that_shrinks_below_one_pixel_is_refused_with_its_key_path():
    bad = {"models": {"full": {"face": {"filter_size": 9, "n_convs": 4}}}}
    with pytest.raises(
        ValueError, match=r"models\.full\.face: filter_size 9 with n_convs 4.*n_convs <= 2"
    ):
        validate_params(bad)
    with pytest.raises(ValueError, match=r"webcam\.train\.variants\.0"):
        validate_params({"train": {"variants": ["mouth"]}})


def test_train_variant_reports_every_epoch_and_keeps_the_best():
    p = validate_params(TINY)
    seen = []
    model, history, summary = train_variant(_arrays(), _split(), "full", p,
                                            on_epoch=lambda e, m: seen.append((e, m)))  # fmt: skip
    assert [e for e, _ in seen] == [1, 2]
    assert {"loss", "rmse_px", "val_loss", "val_rmse_px"} <= set(seen[0][1])
    assert history["epoch"].tolist() == [1, 2] and (history["variant"] == "full").all()
    assert summary["n_train"] == 16 and summary["n_val"] == 4 and summary["best_epoch"] in (1, 2)
    assert summary["best_val_rmse_px"] == pytest.approx(
        history["val_rmse_px"].iloc[summary["best_epoch"] - 1])  # fmt: skip


def test_augmented_dataset_keeps_shapes_and_head_pos():
    arrays = _arrays(8)
    p = validate_params(TINY)
    x = model_inputs(arrays, ["face_aligned", "head_pos", "head_angle"], np.arange(8))
    ds = make_dataset(x, arrays["xy"][:8], 4, True, p.train.augment, 1)
    batch_x, batch_y = next(iter(ds))
    assert batch_x["face_aligned"].shape == (4, 32, 32, 3) and batch_y.shape == (4, 2)
    assert float(batch_x["face_aligned"].numpy().max()) <= 255.0
    # head_pos is never jittered: the batch holds exactly the source masks.
    src = {tuple(v.ravel()[:16]) for v in x["head_pos"]}
    assert all(tuple(v.ravel()[:16]) in src for v in batch_x["head_pos"].numpy())


def test_error_stats_and_the_reference_axis_rmse():
    pred = np.array([[3.0, 4.0], [0.0, 0.0]])
    truth = np.zeros((2, 2))
    s = error_stats(pred, truth)
    assert s["rmse_px"] == pytest.approx(np.sqrt(12.5))
    assert s["rmse_axis_px"] == pytest.approx(np.sqrt(12.5 / 2))
    assert s["mean_px"] == pytest.approx(2.5) and s["median_px"] == pytest.approx(2.5)


def test_screen_error_map_is_nearest_interpolation_indexed_x_y():
    xy = np.array([[100.0, 100.0], [1800.0, 1000.0]])
    emap = screen_error_map(xy, np.array([10.0, 50.0]), 1920, 1080)
    assert emap.shape == (1920, 1080) and emap.dtype == np.float32
    assert emap[0, 0] == 10.0 and emap[1919, 1079] == 50.0 and emap[1700, 900] == 50.0
    assert map_error(emap, -5, 5000) == 10.0 and map_error(emap, 5000, 5000) == 50.0


def test_evaluate_models_table_has_every_variant_and_the_baseline():
    p = validate_params(TINY)
    arrays, split = _arrays(), _split()
    models = {v: build_model(v, p.models[v], 32) for v in ("face", "full")}
    params = {**TINY, "screen": {"width": 1920, "height": 1080}}
    preds, table, metrics, maps, figs, hist = evaluate_models(models, arrays, split, params)
    assert table["variant"].tolist() == ["face", "full", "mean_baseline"]
    assert (table["n"] == 4).all()
    base = table.set_index("variant").loc["mean_baseline", "rmse_px"]
    train_mean = arrays["xy"][:16].mean(axis=0)
    expected = np.sqrt(np.mean(np.sum((arrays["xy"][20:] - train_mean) ** 2, axis=1)))
    assert base == pytest.approx(expected, rel=1e-5)
    assert set(maps) == {"face", "full"} and maps["full"].shape == (1920, 1080)
    assert len(preds) == 8 and set(metrics["ranking"]) == {"face", "full"}


def test_weighted_average_is_linear_newest_heaviest():
    assert weighted_average([0.0, 10.0]) == pytest.approx(10 * 2 / 3)
    np.testing.assert_allclose(weighted_average([[0, 0], [3, 6], [6, 12]]), [4, 8])


def test_smoother_starts_without_pull_to_origin_and_scales_the_map_error():
    emap = np.full((1920, 1080), 40.0, np.float32)
    sm = GazeSmoother(emap, window=5, radius_factor=2, radius_scale=0.75)
    point, radius = sm.update(np.array([1000.0, 500.0]))
    np.testing.assert_allclose(point, [1000, 500])
    assert radius == pytest.approx(30.0)
    for _ in range(10):
        point, _ = sm.update(np.array([1100.0, 600.0]))
    np.testing.assert_allclose(point, [1100, 600])  # the window forgot the first point
    assert len(sm.points) == 5 and len(sm.errors) == 10


def test_draw_frame_draws_circle_and_inset():
    inset = [np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32), np.uint8),
             np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)]  # fmt: skip
    img = draw_frame((1920, 1080), 0.5, np.array([1000.0, 600.0]), 40.0, np.array([990, 590]),
                     np.array([1200.0, 700.0]), inset, "frame 1")  # fmt: skip
    assert img.shape == (540, 960, 3)
    assert img[300 - 20, 500, 1] == 255  # green ring at radius 20 px on the canvas
    assert (img[:128, :128] == 0).all()  # the 4x inset


def test_batch_norm_uses_the_reference_pytorch_momentum_and_is_configurable():
    p = validate_params({})
    m = build_model("full", p.models["full"])
    assert m.get_layer("l_eye_norm1").momentum == pytest.approx(0.9)
    p = validate_params({"models": {"face": {}, "eyes": {}, "full": {"bn_momentum": 0.99}}})
    assert build_model("full", p.models["full"]).get_layer("face_aligned_norm2").momentum == 0.99


def test_shared_eye_branch_has_one_set_of_weights_for_both_eyes():
    own = validate_params(TINY)
    shared = validate_params({**TINY, "models": {
        v: {**TINY["models"][v], "share_eye_weights": True} for v in TINY["models"]}})  # fmt: skip
    a = build_model("eyes", own.models["eyes"], 32)
    b = build_model("eyes", shared.models["eyes"], 32)
    assert b.get_layer("eye_conv_input") is not None
    with pytest.raises(ValueError):
        b.get_layer("l_eye_conv_input")
    # Exactly one eye branch fewer, and the shared layers are called once per eye.
    one_eye = sum(layer.count_params() for layer in a.layers if layer.name.startswith("l_eye_"))
    assert one_eye > 0 and a.count_params() - b.count_params() == one_eye
    assert len(b.get_layer("eye_conv_input")._inbound_nodes) == 2


def test_head_angle_enters_the_model_scaled():
    models = {**TINY["models"], "full": {**TINY["models"]["full"], "head_angle_scale": 0.1}}
    p = validate_params({**TINY, "models": models})
    m = build_model("full", p.models["full"], 32)
    layer = m.get_layer("head_angle_scale")
    assert float(layer(np.array([[30.0]], np.float32))[0, 0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"webcam\.models\.full\.head_angle_scale"):
        validate_params({"models": {"full": {"head_angle_scale": 0}}})


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    p = validate_params({"train": {"epochs": 10, "learning_rate": 1e-3, "schedule": {
        "type": "cosine", "warmup_epochs": 1, "min_lr_ratio": 0.05}}})  # fmt: skip
    lr = learning_rate(p.train, steps_per_epoch=20)
    assert float(lr(0)) == pytest.approx(1e-4)
    assert float(lr(20)) == pytest.approx(1e-3)
    assert float(lr(110)) < 1e-3
    assert float(lr(200)) == pytest.approx(5e-5, rel=1e-3)
    assert learning_rate(validate_params({}).train) == pytest.approx(1e-3)


def test_plateau_schedule_and_early_stopping_become_callbacks():
    p = validate_params({"train": {"schedule": {"type": "plateau", "factor": 0.3, "patience": 1,
                                                "min_lr_ratio": 0.01},
                                   "early_stopping_patience": 3}})  # fmt: skip
    cbs = schedule_callbacks(p.train, "val_loss")
    plateau = [c for c in cbs if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
    stop = [c for c in cbs if isinstance(c, keras.callbacks.EarlyStopping)]
    assert len(plateau) == 1 and plateau[0].factor == pytest.approx(0.3)
    assert plateau[0].min_lr == pytest.approx(1e-5) and plateau[0].monitor == "val_loss"
    assert len(stop) == 1 and stop[0].patience == 3
    assert schedule_callbacks(validate_params({}).train, "val_loss") == []
    with pytest.raises(ValueError, match=r"webcam\.train\.schedule\.type"):
        validate_params({"train": {"schedule": {"type": "cyclic"}}})
    with pytest.raises(ValueError, match=r"webcam\.train\.schedule\.wamup"):
        validate_params({"train": {"schedule": {"wamup": 1}}})


def test_early_stopping_ends_training_and_keeps_the_best_epoch():
    # A learning rate this large makes the validation loss worse after the first epochs.
    p = validate_params({**TINY, "train": {**TINY["train"], "epochs": 30, "learning_rate": 0.5,
                                           "early_stopping_patience": 1}})  # fmt: skip
    model, history, summary = train_variant(_arrays(), _split(), "face", p)
    assert summary["epochs_run"] == len(history) < 30
    assert summary["best_epoch"] == int(history["val_loss"].idxmin()) + 1


def test_a_variant_learning_rate_overrides_the_shared_one():
    tiny = validate_params(TINY).model_dump()
    tiny["models"]["face"]["learning_rate"] = 0.002
    p = validate_params(tiny)
    model, _, summary = train_variant(_arrays(), _split(), "face", p)
    assert summary["learning_rate"] == 0.002
    lr = model.optimizer.learning_rate
    first = float(lr(0)) if callable(lr) else float(np.asarray(lr))
    assert first == pytest.approx(0.002)  # the schedule starts from the variant's rate
    _, _, shared = train_variant(_arrays(), _split(), "eyes", p)
    assert shared["learning_rate"] == p.train.learning_rate == 0.01


def test_weight_decay_reaches_the_optimizer():
    p = validate_params({"train": {"optimizer": "adamw", "weight_decay": 1e-3}})
    model = compile_model(build_model("face", validate_params(TINY).models["face"], 32), p.train)
    assert model.optimizer.weight_decay == pytest.approx(1e-3)


@pytest.mark.parametrize("per_frame", [True, False])
def test_colour_jitter_is_drawn_once_per_frame_for_all_its_crops(per_frame):
    arrays = _arrays(8)
    arrays["l_eye"] = arrays["r_eye"] = arrays["face_aligned"]
    p = validate_params({"train": {"augment": {"per_frame": per_frame}}})
    x = model_inputs(arrays, ["face_aligned", "l_eye", "r_eye"], np.arange(8))
    batch_x, _ = next(iter(make_dataset(x, arrays["xy"][:8], 8, False, p.train.augment, 3)))
    face, left, right = (batch_x[n].numpy() for n in ("face_aligned", "l_eye", "r_eye"))
    assert not np.allclose(face, x["face_aligned"], atol=1.0)  # jittered at all
    same = np.allclose(face, left, atol=1e-3) and np.allclose(face, right, atol=1e-3)
    assert same is per_frame


def test_a_variant_learning_rate_overrides_the_train_rate():
    models = {**TINY["models"], "face": {**TINY["models"]["face"], "learning_rate": 2e-4}}
    p = validate_params({**TINY, "models": models, "train": {**TINY["train"], "epochs": 1}})
    face, _, _ = train_variant(_arrays(), _split(), "face", p)
    eyes, _, _ = train_variant(_arrays(), _split(), "eyes", p)
    assert float(face.optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(eyes.optimizer.learning_rate) == pytest.approx(TINY["train"]["learning_rate"])
