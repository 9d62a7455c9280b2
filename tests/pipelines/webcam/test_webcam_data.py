"""webcam_data nodes and datasets: ingest rejects, suite, split, density map, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.datasets.webcam import (
    IMAGE_KINDS,
    NpyDataset,
    NpzDataset,
    WebcamLayout,
    WebcamLayoutDataset,
    WebcamSession,
    WebcamSessionDataset,
)
from gaze_pipelines.pipelines.webcam.features import LANDMARK_COLUMNS, FaceLandmarks
from gaze_pipelines.pipelines.webcam.nodes_data import (
    density_map,
    extract_session_features,
    ingest_layout,
    split_samples,
)
from gaze_pipelines.validation.suites import load_suite_dict, validate_dataframe

REPO = Path(__file__).resolve().parents[3]
SUITES = REPO / "conf" / "base" / "expectations"


def _crops(rng: np.random.Generator, size: int = 64) -> dict[str, np.ndarray]:
    out = {k: rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for k in IMAGE_KINDS}
    out["head_pos"] = rng.integers(0, 255, (size, size), dtype=np.uint8)
    return out


def _layout(n: int = 10, seed: int = 0) -> WebcamLayout:
    rng = np.random.default_rng(seed)
    positions = pd.DataFrame({"id": np.arange(1, n + 1), "x": rng.uniform(0, 1920, n),
                              "y": rng.uniform(0, 1080, n), "head_angle": rng.normal(0, 3, n)})  # fmt: skip
    images: dict[str, dict[str, np.ndarray]] = {k: {} for k in IMAGE_KINDS}
    for sid in positions["id"]:
        for k, v in _crops(rng).items():
            images[k][str(sid)] = v
    return WebcamLayout(positions, images)


def test_ingest_keeps_good_rows_and_rejects_the_rest_with_codes():
    layout = _layout(10)
    pos = layout.positions
    pos.loc[1, "x"] = 2500.0  # outside the screen
    pos.loc[2, "y"] = np.nan  # bad value
    pos = pd.concat([pos, pos.iloc[[3]]], ignore_index=True)  # duplicate id 4
    layout.positions = pos
    del layout.images["l_eye"]["6"]  # missing crop
    layout.images["face"]["7"] = np.zeros((32, 32, 3), np.uint8)  # wrong size
    positions, arrays, rejects = ingest_layout(layout, {})
    codes = rejects["reason"].str.split(":").str[0].tolist()
    assert sorted(codes) == sorted(["outside_screen", "bad_value", "duplicate_id", "missing_image",
                                    "bad_image"])  # fmt: skip
    assert set(rejects["id"]) == {"2", "3", "4", "6", "7"}
    assert positions["id"].tolist() == [1, 4, 5, 8, 9, 10]
    assert arrays["face"].shape == (6, 64, 64, 3) and arrays["head_pos"].shape == (6, 64, 64, 1)
    assert arrays["xy"].shape == (6, 2) and arrays["id"].tolist() == [1, 4, 5, 8, 9, 10]
    np.testing.assert_array_equal(arrays["l_eye"][1], layout.images["l_eye"]["4"])
    # The clean table passes the positions suite; the rejects pass theirs.
    assert validate_dataframe(positions, load_suite_dict(SUITES / "webcam_positions.json")).success
    assert validate_dataframe(rejects, load_suite_dict(SUITES / "webcam_data_rejects.json")).success


def test_positions_suite_catches_what_ingest_must_never_let_through():
    suite = load_suite_dict(SUITES / "webcam_positions.json")
    assert "webcam_positions" in suite["meta"]["kedro_datasets"]
    bad = pd.DataFrame({"id": [1, 1, 2], "x": [10.0, 1921.0, 5.0], "y": [5.0, 5.0, -1.0],
                        "head_angle": [0.0, 0.0, 0.0], "images_present": [True, True, False],
                        "screen_width": 1920, "screen_height": 1080})  # fmt: skip
    summary = validate_dataframe(bad, suite, "webcam_positions")
    failed = {f.expectation_type for f in summary.failures}
    assert {"expect_column_values_to_be_unique", "expect_column_pair_values_a_to_be_greater_than_b",
            "expect_column_values_to_be_between", "expect_column_values_to_be_in_set"} <= failed  # fmt: skip


@pytest.mark.parametrize("n", [1, 9, 10, 101, 1000])
def test_split_sizes_follow_80_10_10(n):
    positions = pd.DataFrame({"id": np.arange(100, 100 + n)})
    split = split_samples(positions, {})
    counts = split["split"].value_counts().to_dict()
    assert counts.get("train", 0) == int(0.8 * n)
    assert counts.get("val", 0) == int(0.1 * n)
    assert counts.get("test", 0) == n - int(0.8 * n) - int(0.1 * n)
    assert sorted(split["id"]) == list(range(100, 100 + n))


def test_split_is_seeded():
    positions = pd.DataFrame({"id": np.arange(500)})
    a = split_samples(positions, {"data": {"split": {"seed": 3}}})
    b = split_samples(positions, {"data": {"split": {"seed": 3}}})
    c = split_samples(positions, {"data": {"split": {"seed": 4}}})
    pd.testing.assert_frame_equal(a, b)
    assert (a["split"] != c["split"]).any()
    with pytest.raises(ValueError, match=r"webcam.data.split"):
        split_samples(positions, {"data": {"split": {"train": 0.95, "val": 0.1}}})


def test_density_map_counts_equal_the_sample_count():
    rng = np.random.default_rng(1)
    n = 777
    positions = pd.DataFrame({"x": rng.uniform(0, 1920, n), "y": rng.uniform(0, 1080, n)})
    positions.loc[0, ["x", "y"]] = [1920.0, 1080.0]  # the far edge lands in the last cell
    counts, fig, summary = density_map(positions, {"data": {"map_scale": 10}})
    assert counts.shape == (192, 108)
    assert counts.sum() == n == summary["samples"]
    assert counts[191, 107] >= 1
    assert 0 < summary["coverage"] <= 1
    fig.savefig(Path("/dev/null"), format="png")


def _session(n: int = 6, with_landmarks: bool = True) -> WebcamSession:
    rng = np.random.default_rng(2)
    frames, rows = {}, []
    for i in range(n):
        img = np.full((240, 320), 150, np.uint8)
        l_c, r_c = np.array([130.0, 110.0 + i]), np.array([190.0, 112.0])
        for c in (l_c, r_c):
            cv2.circle(img, tuple(int(v) for v in c), 5, 20, -1)
        lm = FaceLandmarks(np.array([100.0, 70, 120, 140]), np.stack([l_c - [10, 0], l_c + [10, 0]]),
                           np.stack([r_c - [10, 0], r_c + [10, 0]]))  # fmt: skip
        frames[f"{i:03d}"] = lambda img=img: img
        rows.append({"frame": f"{i:03d}", **lm.to_row()})
    targets = pd.DataFrame({"frame": [f"{i:03d}" for i in range(n - 1)],
                            "x": rng.uniform(0, 1920, n - 1), "y": rng.uniform(0, 1080, n - 1)})  # fmt: skip
    table = pd.DataFrame(rows).drop(index=2) if with_landmarks else None
    return WebcamSession(frames, targets, table, 10.0, "test")


def test_feature_extraction_of_a_session_writes_the_layout_and_rejects():
    layout, rejects = extract_session_features(_session(6), {})
    # frame 002 has no landmarks, frame 005 no target.
    assert dict(zip(rejects["frame"], rejects["reason"].str.split(":").str[0], strict=True)) == {
        "002": "no_landmarks", "005": "no_target"}  # fmt: skip
    assert list(layout.positions.columns[:4]) == ["id", "x", "y", "head_angle"]
    assert layout.positions["id"].tolist() == [1, 2, 3, 4]
    assert layout.positions["frame"].tolist() == ["000", "001", "003", "004"]
    assert set(layout.images) == set(IMAGE_KINDS)
    assert layout.images["head_pos"]["1"].shape == (64, 64)
    with pytest.raises(ValueError, match="webcam.features.landmarks"):
        extract_session_features(
            _session(3, with_landmarks=False), {"features": {"landmarks": "file"}}
        )
    no_targets = _session(3)
    no_targets.targets = None
    with pytest.raises(ValueError, match="no targets table"):
        extract_session_features(no_targets, {})


def test_layout_dataset_round_trip(tmp_path):
    layout = _layout(4)
    smooth = np.dstack([np.tile(np.arange(64, dtype=np.uint8) * 3, (64, 1))] * 3)
    layout.images["face"]["2"] = smooth
    ds = WebcamLayoutDataset(path=str(tmp_path / "data"), jpeg_quality=100)
    assert not ds.exists()
    ds.save(layout)
    assert ds.exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        [*IMAGE_KINDS, "positions.csv"])  # fmt: skip
    back = ds.load()
    pd.testing.assert_frame_equal(back.positions, layout.positions)
    assert back.read("head_pos", 3).shape == (64, 64)
    assert back.read("face", 2).shape == (64, 64, 3)
    diff = np.abs(back.read("face", 2).astype(int) - layout.images["face"]["2"].astype(int))
    assert diff.max() <= 3  # JPEG at quality 100 of a smooth image


@pytest.mark.parametrize("target", ["session", "clip.avi"])
def test_session_dataset_round_trip_folder_and_video(tmp_path, target):
    session = _session(5)
    ds = WebcamSessionDataset(path=str(tmp_path / target), image_suffix=".png", fps=10.0)
    ds.save(session)
    back = ds.load()
    assert len(back) == 5
    assert (
        back.targets is not None
        and back.targets["frame"].tolist() == session.targets["frame"].tolist()
    )
    assert back.landmarks is not None and list(back.landmarks.columns) == [
        "frame",
        *LANDMARK_COLUMNS,
    ]
    frames = list(back.iter_frames())
    assert len(frames) == 5
    if target == "session":
        assert [n for n, _ in frames] == ["000", "001", "002", "003", "004"]
        np.testing.assert_array_equal(frames[1][1], session.frames["001"]())
    else:
        assert frames[0][1].shape == (240, 320, 3)


def test_numpy_datasets_round_trip(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "b": np.ones(3, np.float32)}
    NpzDataset(filepath=str(tmp_path / "x.npz")).save(arrays)
    back = NpzDataset(filepath=str(tmp_path / "x.npz")).load()
    assert set(back) == {"a", "b"} and back["a"].dtype == np.uint8
    NpyDataset(filepath=str(tmp_path / "m.npy")).save(np.eye(3))
    np.testing.assert_array_equal(NpyDataset(filepath=str(tmp_path / "m.npy")).load(), np.eye(3))
    json.dumps(NpzDataset(filepath=str(tmp_path / "x.npz"))._describe(), default=str)


def test_layout_and_models_folders_hold_only_the_last_save(tmp_path):
    import keras

    from gaze_pipelines.datasets.webcam import KerasModelsDataset

    ds = WebcamLayoutDataset(path=str(tmp_path / "data"))
    ds.save(_layout(4))
    small = _layout(2)
    ds.save(small)
    assert sorted(p.stem for p in (tmp_path / "data" / "face").iterdir()) == ["1", "2"]
    inp = keras.Input((3,), name="x")
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    models = KerasModelsDataset(path=str(tmp_path / "models"))
    models.save({"face": model, "full": model})
    models.save({"full": model})
    loaded = models.load()
    assert list(loaded) == ["full"] and loaded["full"].input_shape == (None, 3)
