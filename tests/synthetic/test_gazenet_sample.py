"""The embedded GazeNet sample: TAO Config texts, DataFactory v2 labels, determinism, writer."""

from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest
from kedro.io.core import DatasetError
from pydantic import ValidationError

from gaze_pipelines.datasets.file_tree import FileTreeDataset
from gaze_pipelines.pipelines.gazenet.params_sample import SampleParams
from gaze_pipelines.pipelines.gazenet.tao_format import (
    parse_label_file,
    parse_set_config,
    target_from_filename,
)
from gaze_pipelines.synthetic import gazenet as sample

CONFIG_NAMES = ("camera_parameters.txt", "R.txt", "T.txt", "TV_size", "resolution.txt")


@pytest.fixture(scope="module")
def setup():
    return sample.make_setup(seed=5, set_id="s001_sample", n_users=3)


@pytest.fixture(scope="module")
def user_files(setup):
    return sample.render_user(setup, 1, frames_per_user=12, closed_eye_fraction=0.25)


def test_config_writer_reproduces_tao_fixture_text(tao_fixtures):
    """Formatting the numbers of TAO's own Config files gives back their exact text."""
    d = tao_fixtures / "dataio"
    texts = {n: (d / n).read_text() for n in CONFIG_NAMES}
    cfg = parse_set_config(dict(texts), "dataio/Config")
    assert sample.format_camera_parameters(cfg.K, cfg.dist) == texts["camera_parameters.txt"]
    assert sample.format_rotation(cfg.R) == texts["R.txt"]
    assert sample.format_translation(cfg.T) == texts["T.txt"]
    assert sample.format_pair(*cfg.screen_mm) == texts["TV_size"]
    assert sample.format_pair(*cfg.screen_px) == texts["resolution.txt"]


def test_config_files_parse_back_to_the_rendered_numbers(setup):
    files = sample.config_files(setup.camera, setup.screen)
    assert set(files) == set(CONFIG_NAMES)
    cfg = parse_set_config(dict(files), "Config")
    np.testing.assert_array_equal(cfg.K, setup.camera.K)
    np.testing.assert_array_equal(cfg.dist, setup.camera.dist)
    np.testing.assert_array_equal(cfg.R, setup.screen.R)
    np.testing.assert_array_equal(cfg.T, setup.screen.T)
    assert cfg.screen_mm == setup.screen.size_mm
    assert cfg.screen_px == setup.screen.resolution
    board = sample.config_files(setup.camera, setup.screen, size_file="board_size.txt")
    assert "board_size.txt" in board and "TV_size" not in board


def test_labels_have_the_tao_fixture_structure(tao_fixtures, user_files):
    fixture = json.loads((tao_fixtures / "fpenet" / "datafactory.json").read_text())
    ours = json.loads(user_files["json_datafactory_v2/s001_sample_p01-1.json"])
    assert len(ours) == 12
    ref = {a["class"]: a for a in fixture[0]["annotations"]}
    for frame in ours:
        assert set(frame) == set(fixture[0])
        assert frame["class"] == "image"
        got = {a["class"]: a for a in frame["annotations"]}
        assert set(got["FaceBbox"]) == set(ref["FaceBbox"])
        assert set(got["eyes"]) == set(ref["eyes"])
        fid = got["FiducialPoints"]
        coords = {f"P{i}{c}" for i in range(1, 105) for c in "xy"}
        assert coords <= set(fid) and {"class", "tool-version", "version"} <= set(fid)
        assert {k for k in fid if k.endswith("occluded")} == {
            f"P{i}occluded" for i in range(69, 105)
        }
        assert all(fid[f"P{i}occluded"] is True for i in range(69, 105))


def test_labels_round_trip_through_the_tao_parser(setup, user_files):
    text = user_files["json_datafactory_v2/s001_sample_p01-1.json"]
    frames, rejects = parse_label_file(text, "json_datafactory_v2")
    assert rejects == [] and len(frames) == 12
    truth = list(
        csv.DictReader(io.StringIO(user_files["synthetic_truth/s001_sample_p01-1.csv"].decode()))
    )
    assert list(truth[0]) == sample.TRUTH_COLUMNS
    raw = json.loads(text)
    n_closed = 0
    for fl, row, entry in zip(frames, truth, raw, strict=True):
        name = fl.filename.split("/")[-1]
        assert f"Data/{fl.filename}" in user_files and name == row["filename"]
        assert target_from_filename(name) == (float(row["target_px_x"]), float(row["target_px_y"]))
        assert (
            fl.num_keypoints == 104
            and (fl.occluded[:68] == 0).all()
            and (fl.occluded[68:] == 1).all()
        )
        # TAO's swap: JSON "l_*" is the image-left eye = the subject's right eye.
        assert fl.right_eye_status == row["right_eye_status"]
        assert fl.left_eye_status == row["left_eye_status"]
        eyes = next(a for a in entry["annotations"] if a["class"] == "eyes")
        assert eyes["l_eyex"] < eyes["r_eyex"]
        assert eyes["l_eyex"] == pytest.approx(np.mean(fl.landmarks[36:42, 0]), abs=8)
        n_closed += row["right_eye_status"] == "closed" or row["left_eye_status"] == "closed"
        # Tight face box = extent of the 68 landmarks (TAO truncates x, y, w, h to ints).
        lm = fl.landmarks[:68]
        extent = [lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()]
        np.testing.assert_allclose(fl.face_box, extent, atol=2)
    assert n_closed == 3  # 25% of 12 frames


def test_images_decode_and_match_the_camera(setup, user_files):
    pngs = [k for k in user_files if k.endswith(".png")]
    assert len(pngs) == 12 and all(k.startswith("Data/p01-1/frame") for k in pngs)
    img = cv2.imdecode(np.frombuffer(user_files[pngs[0]], np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (setup.camera.height, setup.camera.width) and img.dtype == np.uint8


def test_deterministic_and_independent_of_the_number_of_users(setup, user_files):
    again = sample.render_user(setup, 1, frames_per_user=12, closed_eye_fraction=0.25)
    assert again == user_files
    bigger = sample.make_setup(seed=5, set_id="s001_sample", n_users=5)
    assert sample.render_user(bigger, 1, frames_per_user=12, closed_eye_fraction=0.25) == user_files
    other = sample.make_setup(seed=6, set_id="s001_sample", n_users=3)
    assert sample.render_user(other, 1, 12, 0.25) != user_files
    assert [u.user_id for u in setup.users] == ["p01-0", "p01-1", "p01-2"]


@pytest.mark.slow
def test_worker_pool_gives_the_same_set(setup):
    one = sample.render_set(setup, frames_per_user=2, closed_eye_fraction=0.0, workers=1)
    two = sample.render_set(setup, frames_per_user=2, closed_eye_fraction=0.0, workers=2)
    assert one == two
    assert {k.split("/")[0] for k in one} == {
        "Config",
        "Data",
        "json_datafactory_v2",
        "synthetic_truth",
    }


def test_params_validation_names_the_key():
    p = SampleParams()
    assert p.n_users >= 8 and p.frames_per_user >= 150 and p.image_size == (640, 480)
    with pytest.raises(ValidationError, match="user_id_format"):
        SampleParams(user_id_format="same-id")
    with pytest.raises(ValidationError, match="extra"):
        SampleParams(n_user=3)
    with pytest.raises(ValidationError, match="distance_mm"):
        SampleParams(distance_mm=(900, 400))


def test_file_tree_dataset_replaces_atomically(tmp_path):
    root = tmp_path / "set"
    ds = FileTreeDataset(path=str(root))
    ds.save({"a/x.txt": "one", "b.bin": b"\x00\x01", "lazy.txt": lambda: b"later"})
    loaded = ds.load()
    assert sorted(loaded) == ["a/x.txt", "b.bin", "lazy.txt"]
    assert loaded["b.bin"]() == b"\x00\x01" and loaded["lazy.txt"]() == b"later"
    ds.save({"c.txt": "new"})
    assert sorted(ds.load()) == ["c.txt"]  # replace mode: the old files are gone

    def boom() -> bytes:
        raise RuntimeError("render failed")

    with pytest.raises(DatasetError, match="render failed"):
        ds.save({"d.txt": "x", "e.txt": boom})
    assert sorted(ds.load()) == ["c.txt"]  # a failed save leaves the previous tree
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no staging folders left
    FileTreeDataset(path=str(root), mode="merge").save({"f.txt": "kept"})
    assert sorted(ds.load()) == ["c.txt", "f.txt"]
    with pytest.raises(DatasetError, match="relative"):
        ds.save({"../escape.txt": "x"})
    with pytest.raises(DatasetError, match="bytes or str"):
        ds.save({"n.txt": 3})
    assert FileTreeDataset(path=str(tmp_path / "missing")).exists() is False
