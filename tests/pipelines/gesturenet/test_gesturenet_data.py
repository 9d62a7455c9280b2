"""gesturenet_data: TAO specs (every documented key), splits, folds, filters, sampling, rejects."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core.crops import enlarge_box
from gaze_pipelines.datasets.gesturenet import GestureTreeDataset
from gaze_pipelines.pipelines.gesturenet import nodes_data as nd
from gaze_pipelines.pipelines.gesturenet.nodes_sample import render_sample
from gaze_pipelines.pipelines.gesturenet.params import (
    PARAMS_MODELS,
    DatasetExperimentConfig,
    validate,
)

CLASSES = ["thumbs_up", "fist", "stop", "ok", "two", "random"]
TRAIN_DS = {"classes": {c: i for i, c in enumerate(CLASSES)}}

# TAO's documented dataset_config and dataset_experiment_config, every key set.
TAO_DATASET_CONFIG = {
    "org_dataset": "data",
    "mount_dir_path": "/workspace/tao-experiments/gesturenet/",
    "org_data_dir": "original",
    "post_data_dir": "extracted",
    "kpi_users": ["uid_1", "uid_2"],
    "sampling_rate": 2,
    "convert_bbox_square": True,
    "bbox_enlarge_ratio": 1.1,
    "annotation_config": {"annotation_path": "annotation"},
}
TAO_EXPERIMENT_CONFIG = {
    "mount_dir_path": "/workspace/tao-experiments/gesturenet/",
    "save_path": "/workspace/tao-experiments/gesturenet/data.json",
    "set_list": {"train_val": ["data"], "kpi": ["data"]},
    "uid_list": {
        "uid_name": "user_id",
        "predefined_val_users": True,
        "val_fraction": 0.25,
        "validation": ["uid_3"],
        "kpi": ["uid_1", "uid_2"],
    },
    "image_feature_filter": {"train_val": {"*": [{"location": "outdoor"}]}, "kpi": {"data": []}},
    "sampling": {
        "sampling_mode": "average",
        "use_class_weights": True,
        "class_weights": {
            "thumbs_up": 2.0,
            "fist": 1.0,
            "stop": 1.0,
            "ok": 1.0,
            "two": 1.0,
            "random": 0.5,
        },
    },
    "k_folds": 3,
}


def specs(dc=None, ex=None, dc_file=None, ex_file=None):
    return nd.resolve_specs(dc_file or {}, ex_file or {}, dc or {}, ex or {}, TRAIN_DS)


def test_every_documented_key_parses_from_tao_files(caplog):
    with caplog.at_level(logging.WARNING):
        cfg = specs(
            dc={"mount_dir_path": "data/01_raw/g"},
            dc_file=TAO_DATASET_CONFIG,
            ex_file=TAO_EXPERIMENT_CONFIG,
        )
    dc, ex = cfg.dataset_config, cfg.experiment
    assert dc.mount_dir_path == "data/01_raw/g"  # the container path is replaced by the parameter
    assert "replaced by the parameter" in caplog.text
    assert (dc.org_dataset, dc.org_data_dir, dc.post_data_dir) == ("data", "original", "extracted")
    assert dc.kpi_users == ["uid_1", "uid_2"] and dc.sampling_rate == 2
    assert dc.convert_bbox_square is True and dc.bbox_enlarge_ratio == 1.1
    assert dc.annotation_config.annotation_path == "annotation"
    assert ex.set_list.train_val == ["data"] and ex.uid_list.predefined_val_users
    assert ex.uid_list.validation == ["uid_3"] and ex.uid_list.val_fraction == 0.25
    assert ex.image_feature_filter["train_val"]["*"] == [{"location": "outdoor"}]
    assert ex.sampling.class_weights["thumbs_up"] == 2.0 and ex.k_folds == 3
    assert set(nd.effective_specs(cfg)) == {
        "dataset_config",
        "dataset_experiment_config",
        "classes",
    }


def test_parameters_are_used_without_files():
    cfg = specs(dc={"kpi_users": ["a"], "bbox_enlarge_ratio": 1.3}, ex={"k_folds": 2})
    assert cfg.dataset_config.bbox_enlarge_ratio == 1.3 and cfg.experiment.k_folds == 2


@pytest.mark.parametrize(
    ("dc", "ex", "needle"),
    [
        ({"sampling_rate": 0}, {}, "gesturenet.dataset_config.sampling_rate"),
        ({"bbox_enlarge_ratio": 0.5}, {}, "gesturenet.dataset_config.bbox_enlarge_ratio"),
        ({"unknown_key": 1}, {}, "gesturenet.dataset_config.unknown_key"),
        ({}, {"sampling": {"sampling_mode": "oversample"}}, "'none', 'average', 'min' or 'max'"),
        (
            {},
            {"uid_list": {"val_fraction": 1.5}},
            "gesturenet.dataset_experiment_config.uid_list.val_fraction",
        ),
        (
            {},
            {"set_list": {"train_val": ["other"]}},
            "set_list.train_val: sets ['other'] are not extracted",
        ),
        ({}, {"sampling": {"class_weights": {"wave": 1.0}}}, "unknown classes ['wave']"),
        (
            {},
            {"sampling": {"use_class_weights": True, "class_weights": {"fist": 1.0}}},
            "missing classes",
        ),
        (
            {},
            {"image_feature_filter": {"kpi": {"nope": []}}},
            "image_feature_filter.kpi.nope: unknown set",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(dc, ex, needle):
    with pytest.raises(ValueError) as info:
        specs(dc=dc, ex=ex)
    assert needle in str(info.value)


def test_parameter_models_are_registered_for_startup_validation():
    assert {
        "gesturenet.dataset_config",
        "gesturenet.dataset_experiment_config",
        "gesturenet.train",
        "gesturenet.sample",
        "gesturenet.export",
    } <= set(PARAMS_MODELS)


def frames_table(n_users=10, per_class=4, sets=("data",)):
    rows = []
    for s in sets:
        for u in range(1, n_users + 1):
            for c in CLASSES:
                for k in range(per_class):
                    loc = "outdoor" if k % 2 else "indoor"
                    rows.append(
                        {
                            "set": s,
                            "uid": f"uid_{u}",
                            "session": "session_1",
                            "frame": f"{c}{k}",
                            "class": c,
                            "class_id": CLASSES.index(c),
                            "metadata": json.dumps({"location": loc}),
                        }
                    )
    return pd.DataFrame(rows)


def test_kpi_users_only_in_kpi_set_and_val_fraction_honoured():
    cfg = specs(ex={"uid_list": {"kpi": ["uid_9", "uid_10"], "val_fraction": 0.25}})
    assigned, users = nd.split_users(frames_table(), cfg)
    kpi = assigned[assigned.split == "kpi_set"]
    assert set(kpi.uid) == {"uid_9", "uid_10"}
    assert not set(assigned[assigned.split != "kpi_set"].uid) & {"uid_9", "uid_10"}
    val_users = set(assigned[assigned.split == "validation_set"].uid)
    assert len(val_users) == round(0.25 * 8)
    assert not val_users & set(assigned[assigned.split == "train_set"].uid)
    assert users.uid.is_unique and set(users.split) == {"train_set", "validation_set", "kpi_set"}


def test_predefined_validation_users():
    cfg = specs(
        ex={
            "uid_list": {
                "kpi": ["uid_1"],
                "predefined_val_users": True,
                "validation": ["uid_4", "uid_5"],
            }
        }
    )
    assigned, _ = nd.split_users(frames_table(), cfg)
    assert set(assigned[assigned.split == "validation_set"].uid) == {"uid_4", "uid_5"}


def test_k_folds_are_user_disjoint_and_cover_train_val():
    cfg = specs(ex={"uid_list": {"kpi": ["uid_1"]}, "k_folds": 3})
    assigned, users = nd.split_users(frames_table(), cfg)
    tv = assigned[assigned.split != "kpi_set"]
    fold_users = [set(tv[tv.fold == k].uid) for k in range(3)]
    assert set().union(*fold_users) == set(tv.uid)
    assert all(not (a & b) for i, a in enumerate(fold_users) for b in fold_users[i + 1 :])
    assert sorted(len(f) for f in fold_users) == [3, 3, 3]
    samples, _ = nd.balance_classes(assigned, cfg)
    for k in range(3):
        tr = set(samples[samples.data_split == f"fold_{k}_train_set"].uid)
        va = set(samples[samples.data_split == f"fold_{k}_validation_set"].uid)
        assert va == fold_users[k] and not tr & va
    with pytest.raises(ValueError, match="k_folds"):
        nd.split_users(
            frames_table(n_users=3), specs(ex={"uid_list": {"kpi": ["uid_1"]}, "k_folds": 5})
        )


def test_feature_filters_exclude_and_include():
    ex = {
        "uid_list": {"kpi": ["uid_1"]},
        "image_feature_filter": {"train_val": {"*": [{"location": "outdoor"}]}},
    }
    assigned, users = nd.split_users(frames_table(), specs(ex=ex))
    meta = assigned.metadata.map(json.loads).map(lambda m: m["location"])
    assert set(meta[assigned.split != "kpi_set"]) == {"indoor"}
    assert set(meta[assigned.split == "kpi_set"]) == {
        "indoor",
        "outdoor",
    }  # the kpi filter is separate
    assert users.n_filtered.sum() == (assigned.split != "kpi_set").sum()
    ex_inc = {**ex, "image_feature_filter_mode": "include"}
    assigned, _ = nd.split_users(frames_table(), specs(ex=ex_inc))
    meta = assigned.metadata.map(json.loads).map(lambda m: m["location"])
    assert set(meta[assigned.split != "kpi_set"]) == {"outdoor"}


@pytest.mark.parametrize("mode", ["average", "min", "max"])
def test_class_weighted_sampling_proportions(mode):
    counts = {"thumbs_up": 40, "fist": 100, "stop": 60, "ok": 80, "two": 50, "random": 70}
    weights = {"thumbs_up": 2.0, "fist": 1.0, "stop": 1.0, "ok": 1.0, "two": 1.0, "random": 0.5}
    out = nd.target_counts(counts, weights, mode)
    total = sum(out.values())
    for c in counts:
        assert out[c] / total == pytest.approx(weights[c] / sum(weights.values()), abs=0.01)
    if mode == "average":
        assert total == pytest.approx(sum(counts.values()), abs=len(counts))
    if mode == "min":
        assert all(out[c] <= counts[c] for c in counts)
    if mode == "max":
        assert all(out[c] >= counts[c] for c in counts)
    assert nd.target_counts(counts, weights, "none") == counts


def test_balance_classes_resamples_train_only():
    frames = frames_table(n_users=6)
    frames = frames[
        ~((frames["class"] == "fist") & frames.frame.str.endswith(("0", "1", "2")))
    ]  # fist rare
    ex = {"uid_list": {"kpi": ["uid_6"]}, "sampling": {"sampling_mode": "max"}}
    cfg = specs(ex=ex)
    assigned, _ = nd.split_users(frames, cfg)
    samples, balance = nd.balance_classes(assigned, cfg)
    train = samples[samples.data_split == "train_set"]["class"].value_counts()
    assert train.nunique() == 1  # every class over-sampled to the commonest
    kpi = samples[samples.data_split == "kpi_set"]["class"].value_counts()
    assert kpi["fist"] < kpi["stop"]  # evaluation splits keep their natural balance
    assert balance.loc[balance.data_split == "train_set", "share_error"].max() < 1e-9


@settings(max_examples=200, deadline=None)
@given(
    x=st.floats(0, 300),
    y=st.floats(0, 200),
    w=st.floats(2, 200),
    h=st.floats(2, 200),
    ratio=st.floats(1.0, 2.0),
    square=st.booleans(),
)
def test_crop_boxes_stay_inside_the_frame(x, y, w, h, ratio, square):
    fw, fh = 320, 240
    box = (x, y, min(x + w, fw), min(y + h, fh))
    x1, y1, x2, y2 = enlarge_box(box, ratio, square, fw, fh)
    assert 0 <= x1 < x2 <= fw and 0 <= y1 < y2 <= fh
    if square:
        assert x2 - x1 == y2 - y1
    side = max(box[2] - box[0], box[3] - box[1]) * ratio
    if square and side <= min(fw, fh):
        assert x2 - x1 == pytest.approx(side, abs=1.0)


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("gesture") / "mount"
    sample = {
        "users": ["uid_1", "uid_2", "uid_3"],
        "sessions_per_user": 1,
        "frames_per_gesture": 2,
        "corrupt_annotations": 5,
        "image_width": 96,
        "image_height": 72,
    }
    ds = GestureTreeDataset(path=str(root))
    ds.save(render_sample(sample, {"kpi_users": ["uid_3"]}, {}))
    (root / "annotation/data/uid_1/session_1/999999.json").write_text("{}")  # orphan annotation
    (root / "original/data/uid_2/session_1/000100.png").write_bytes(b"not an image")  # unreadable
    (root / "annotation/data/uid_2/session_1/000100.json").write_bytes(
        (root / "annotation/data/uid_3/session_1/000000.json").read_bytes()
    )
    (root / "original/data/uid_1/stray.png").write_bytes(
        (root / "original/data/uid_1/session_1/000000.png").read_bytes()
    )
    return ds.load()


def test_index_frames_rejects_every_bad_annotation(tiny_tree):
    cfg = specs(dc={"kpi_users": ["uid_3"]}, ex={"uid_list": {"kpi": ["uid_3"]}})
    frames, rejects = nd.index_frames(tiny_tree, cfg)
    codes = rejects.reason.str.split(":").str[0].value_counts().to_dict()
    assert codes == {
        "unknown_class": 1,
        "no_box": 1,
        "box_outside": 1,
        "bad_json": 1,
        "no_annotation": 1,
        "missing_image": 1,
        "bad_layout": 1,
        "bad_image": 1,
    }
    assert len(frames) == 3 * 6 * 2 - 5
    crops = nd.crop_table(frames)
    assert (crops.crop_x2 <= crops.image_width).all() and (
        crops.crop_y2 <= crops.image_height
    ).all()
    assert (crops.crop_w == crops.crop_h).all()
    jobs = nd.crop_hands(tiny_tree, frames.head(2))
    first = next(iter(jobs.values()))()
    row = frames.iloc[0]
    assert first.shape[:2] == (row.crop_y2 - row.crop_y1, row.crop_x2 - row.crop_x1)


def test_sampling_rate_spares_kpi_users(tiny_tree):
    cfg = specs(
        dc={"kpi_users": ["uid_3"], "sampling_rate": 3}, ex={"uid_list": {"kpi": ["uid_3"]}}
    )
    frames, _ = nd.index_frames(tiny_tree, cfg)
    per_user = frames.groupby("uid").size()
    assert per_user["uid_3"] == 12  # every frame
    assert per_user["uid_2"] <= 4  # one frame in three of 12


def test_data_json_layout(tiny_tree):
    cfg = specs(
        dc={"kpi_users": ["uid_3"]},
        ex={"uid_list": {"kpi": ["uid_3"], "uid_name": "subject"}, "k_folds": 2},
    )
    frames, _ = nd.index_frames(tiny_tree, cfg)
    assigned, _ = nd.split_users(frames, cfg)
    samples, _ = nd.balance_classes(assigned, cfg)
    data = nd.build_data_json(samples, tiny_tree, cfg)
    assert {"train_set", "validation_set", "kpi_set", "folds", "classes"} <= set(data)
    entry = data["kpi_set"][0]
    assert entry["subject"] == "uid_3" and entry["crop_path"].endswith(entry["crop_relpath"])
    assert entry["image_path"].startswith(tiny_tree.path(""))
    assert set(entry["bbox"]) == {"x1", "y1", "x2", "y2"} and entry["class"] in CLASSES
    assert len(data["folds"]) == 2
    assert {e["subject"] for e in data["kpi_set"]} == {"uid_3"}


def test_experiment_defaults_are_tao_like():
    ex = validate(DatasetExperimentConfig, {}, "x")
    assert (
        ex.sampling.sampling_mode == "average"
        and ex.k_folds == 0
        and ex.uid_list.uid_name == "user_id"
    )
    assert np.isclose(ex.uid_list.val_fraction, 0.25)
