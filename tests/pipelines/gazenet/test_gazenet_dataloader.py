"""GazeNet dataloader: records (TAO paths rebased), phases, filters, rejects, labels, hflip, facegrid."""

from __future__ import annotations

import os

import numpy as np
import pytest
from records_factory import TAO_PREFIX, dataset_info, kpiset_info, make_tree, small_experiment

from gaze_pipelines.core.crops import facegrid as facegrid_np
from gaze_pipelines.datasets.gazenet_records import GazeNetRecordsDataset, rebase_path
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.params import load_experiment


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("gz"), frames_per_user=5)


@pytest.fixture(scope="module")
def records(tree):
    return GazeNetRecordsDataset(
        dataset_info=dataset_info(tree), kpiset_info=kpiset_info(tree)
    ).load()


def _exp(tree, **over):
    return load_experiment(small_experiment(tree, **over)).dump()


def test_tao_paths_are_rebased_onto_the_records_directory(tree, records):
    assert set(records["phase"]) == {"training", "validation", "testing", "kpi_testing"}
    assert records["train/image_frame_name"].str.startswith(TAO_PREFIX).all()
    assert records["frame_exists"].all()
    assert records["frame_path"].str.startswith(str(tree)).all()
    assert sorted(records.loc[records.phase == "training", "user"].unique()) == ["u1", "u2", "u3"]
    stored = f"{TAO_PREFIX}/s001_test/Data/u1/a.png"
    assert (
        rebase_path(stored, "s001_test", "/data/root", "/records")[0]
        == "/data/root/s001_test/Data/u1/a.png"
    )
    assert (
        rebase_path(stored, "s001_test", None, "/records")[-1] == "/records/s001_test/Data/u1/a.png"
    )


def test_missing_files_and_spec_file_override(tree, tmp_path):
    info = dataset_info(tree, tfrecords_set_id=["s001_test", "no_such_set"])
    df = GazeNetRecordsDataset(dataset_info=info).load()
    assert len(df.attrs["missing_files"]) == 3
    spec = tmp_path / "spec.yaml"
    spec.write_text("dataloader:\n  dataset_info:\n    tfrecords_set_id: [no_such_set]\n")
    ds = GazeNetRecordsDataset(dataset_info=dataset_info(tree), spec_file=str(spec))
    assert ds.load().empty and not ds.exists()


def test_phases_filters_and_rejects(tree, records):
    exp = _exp(
        tree,
        filter_info=[
            {"feature_names": ["label/theta"], "desired_val_min": -0.1, "desired_val_max": 0.1}
        ],
        filter_phases=["training"],
    )
    loader = exp["dataloader"]
    train, rej = dl.select_phase(records, loader, "training")
    n_train = int((records.phase == "training").sum())
    assert len(train) + len(rej) == n_train
    assert train["label/theta"].abs().le(0.1).all()
    assert rej["reason"].str.startswith("filtered: label/theta=").all()
    val, rej_v = dl.select_phase(records, loader, "validation")  # not a filter phase
    assert len(rej_v) == 0 and len(val) == int((records.phase == "validation").sum())
    merged, _ = dl.select_phase(
        records, {**loader, "filter_phases": [], "add_test_to": "training"}, "training"
    )
    assert len(merged) == n_train + int((records.phase == "testing").sum())
    empty, _ = dl.select_phase(records, {**loader, "add_test_to": "training"}, "testing")
    assert empty.empty


def test_missing_frames_and_boxes_are_rejected_with_reasons(tree, records):
    bad = records.copy()
    bad.loc[0, "frame_exists"] = False
    bad.loc[1, "train/lefteyebbx_w"] = -1
    bad.loc[2, "label/theta"] = np.nan
    loader = _exp(tree, filter_info=[])["dataloader"]
    rows, rej = dl.select_phase(bad, loader, "training")
    codes = sorted(rej["reason"].str.split(":").str[0])
    assert codes == ["bad_label", "missing_frame", "no_left_eye_box"]
    assert len(rows) == int((bad.phase == "training").sum()) - 3


def test_targets_round_trip_with_delta_and_degrees(tree, records):
    for over in (
        {},
        {"learn_delta": True},
        {"theta_phi_degrees": True},
        {"num_outputs": 2},
        {"num_outputs": 3},
    ):
        spec = small_experiment(tree, **over)
        spec["model"]["model_parameters"]["num_outputs"] = spec["dataloader"]["num_outputs"]
        spec["loss"]["loss_type"] = "l1"
        cfg = dl.LoaderConfig.from_spec(load_experiment(spec).dump()["dataloader"])
        rows, _ = dl.select_phase(records, load_experiment(spec).dump()["dataloader"], "training")
        t = dl.target_matrix(rows, cfg)
        assert t.shape == (len(rows), cfg.num_outputs)
        labels = dl.outputs_to_labels(t, rows, cfg)
        if labels["theta_phi"] is not None:
            np.testing.assert_allclose(
                labels["theta_phi"], rows[["label/theta", "label/phi"]].to_numpy(), atol=1e-5
            )
        if labels["xyz"] is not None:
            np.testing.assert_allclose(labels["xyz"], rows[list(dl.XYZ)].to_numpy(), rtol=1e-5)
    cfg = dl.LoaderConfig.from_spec(_exp(tree, learn_delta=True)["dataloader"])
    rows, _ = dl.select_phase(records, _exp(tree)["dataloader"], "training")
    np.testing.assert_allclose(
        dl.target_matrix(rows, cfg)[:, 3],
        rows["label/theta"] - rows["label/head_pose_theta"],
        atol=1e-6,
    )


def _flip_only(tree, p):
    aug = {
        "enable_online_augmentation": True,
        "modulus_spatial_augmentation": {"hflip_probability": p, "zoom_min": 1.0, "zoom_max": 1.0},
        "random_shift_bbx_augmentation": {"shift_percent_max": 0.0, "shift_probability": 0.0},
        "gamma_augmentation": {"gamma_probability": 0.0},
        "blur_augmentation": {"blur_probability": 0.0},
    }
    return _exp(tree, augmentation_info=aug)


def test_hflip_mirrors_labels_swaps_eyes_and_mirrors_facegrid(tree, records):
    rows, _ = dl.select_phase(records, _exp(tree)["dataloader"], "training")
    rows = rows.iloc[:4].reset_index(drop=True)
    plain = dl.LoaderConfig.from_spec(_flip_only(tree, 0.0)["dataloader"])
    flip = dl.LoaderConfig.from_spec(_flip_only(tree, 1.0)["dataloader"])
    a_in, a_t = next(
        iter(dl.make_dataset(rows, plain, training=True, batch_size=4, shuffle_buffer=1))
    )
    b_in, b_t = next(
        iter(dl.make_dataset(rows, flip, training=True, batch_size=4, shuffle_buffer=1))
    )
    np.testing.assert_allclose(b_t.numpy(), a_t.numpy() * dl.hflip_signs(plain), rtol=1e-6)
    assert (a_t.numpy()[:, 0] != 0).any()
    left_flipped = b_in["input_left_images"].numpy()
    right_plain_mirrored = a_in["input_right_images"].numpy()[:, :, ::-1, :]
    np.testing.assert_allclose(left_flipped, right_plain_mirrored, atol=1e-6)
    assert (
        np.abs(left_flipped - a_in["input_left_images"].numpy()).mean()
        > np.abs(left_flipped - right_plain_mirrored).mean()
    )
    grid_a = a_in["input_facegrid"].numpy().reshape(-1, 25, 25)
    grid_b = b_in["input_facegrid"].numpy().reshape(-1, 25, 25)
    for g_a, g_b, (_, row) in zip(grid_a, grid_b, rows.iterrows(), strict=True):
        box = [row[f"train/facebbx_{c}"] for c in "xywh"]
        np.testing.assert_array_equal(g_a, facegrid_np(box, 160, 120, 25))
        flipped_box = (160 - box[0] - box[2], box[1], box[2], box[3])
        np.testing.assert_array_equal(g_b, facegrid_np(flipped_box, 160, 120, 25))


def test_cache_matches_direct_decoding_and_runs_repeat(tree, records):
    exp = _exp(tree)
    cfg = dl.LoaderConfig.from_spec(exp["dataloader"])
    rows, _ = dl.select_phase(records, exp["dataloader"], "validation")
    direct, t1 = dl.materialize_inputs(rows, cfg, batch_size=8)
    cached, t2 = dl.materialize_inputs(
        rows, cfg, batch_size=8, cache=dl.build_frame_cache(rows, cfg)
    )
    np.testing.assert_array_equal(t1, t2)
    for name in direct:
        np.testing.assert_array_equal(direct[name], cached[name])
    train, _ = dl.select_phase(records, exp["dataloader"], "training")
    runs = [
        [b[1].numpy() for b in dl.make_dataset(train, cfg, training=True, seed=s, batch_size=5)]
        for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(np.concatenate(runs[0]), np.concatenate(runs[1]))
    assert not np.array_equal(np.concatenate(runs[0]), np.concatenate(runs[2]))


def test_frame_paths_exist_on_disk(tree, records):
    assert all(os.path.isfile(p) for p in records["frame_path"])


def test_records_written_by_tao_train_here(tao_fixtures, tmp_path):
    """TAO's own combined.tfrecords: paths of TAO's machine rebased with root_path, crops built."""
    import shutil

    import cv2

    set_id = "s466-gaze-1"
    rec = tmp_path / "records" / set_id / "GT" / "TfRecords_combined"
    rec.mkdir(parents=True)
    shutil.copy(tao_fixtures / "dataio" / "combined.tfrecords", rec / "train.tfrecords")
    info = dataset_info(
        tmp_path / "records",
        set_id,
        ground_truth_folder_name=["GT"],
        tfrecord_folder_name=["TfRecords_combined"],
        root_path=str(tmp_path / "frames"),
    )
    records = GazeNetRecordsDataset(dataset_info=info).load()
    assert len(records) == 5 and not records["frame_exists"].any()
    for stored in records["train/image_frame_name"]:
        local = tmp_path / "frames" / stored[stored.index(set_id) :]
        local.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(local), np.full((800, 1280), 128, np.uint8))
    records = GazeNetRecordsDataset(dataset_info=info).load()
    assert records["frame_exists"].all() and records["user"].iloc[0] == "dGeVtdAfGkpoMeKX"
    spec = small_experiment(tmp_path)
    spec["dataloader"]["dataset_info"] = info
    spec["dataloader"]["image_info"]["image_frame"] = {"channel": 1, "height": 800, "width": 1280}
    exp = load_experiment(spec).dump()
    rows, rejects = dl.select_phase(records, exp["dataloader"], "training")
    assert len(rows) == 5 and rejects.empty
    cfg = dl.LoaderConfig.from_spec(exp["dataloader"])
    inputs, targets = dl.materialize_inputs(rows, cfg, batch_size=5)
    np.testing.assert_allclose(inputs["input_face_images"], 128 / 255.0, atol=1e-5)
    np.testing.assert_allclose(targets[:, 3], rows["label/theta"], rtol=1e-6)
    grid = inputs["input_facegrid"].reshape(5, 25, 25)
    box = [rows.iloc[0][f"train/facebbx_{c}"] for c in "xywh"]
    np.testing.assert_array_equal(grid[0], facegrid_np(box, 1280, 800, 25))
