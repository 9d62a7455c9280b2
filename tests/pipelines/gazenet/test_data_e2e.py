"""End to end: ``kedro run --pipeline gazenet_data`` on a tiny rendered set with injected faults."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.datasets.tfrecord import read_tfrecords
from gaze_pipelines.pipelines.gazenet.features import TAO_GAZE_FEATURES
from gaze_pipelines.pipelines.gazenet.nodes_data import tao_split
from gaze_pipelines.synthetic.gazenet import make_setup, render_set

SET = "tiny-set"


def _render(root, n_users=5, frames=6):
    setup = make_setup(seed=3, set_id=SET, n_users=n_users)
    for rel, data in render_set(
        setup, frames_per_user=frames, closed_eye_fraction=0.0, workers=1
    ).items():
        path = root / SET / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return setup


def _inject_faults(set_dir):
    """One of each frame-level fault the converter must quarantine, with its expected code."""
    labels = set_dir / "json_datafactory_v2"
    files = sorted(labels.glob("*.json"))
    # p01-0: truncated JSON file -> every frame of that file is lost, one 'bad_json' row
    text = files[0].read_text()
    files[0].write_text(text[: len(text) // 3])
    expected = {"bad_json": 1}
    # p01-0's frames are now also unlabelled images
    expected["unlabelled_frame"] = len(list((set_dir / "Data" / "p01-0").glob("*.png")))
    # p01-1: NaN landmark, a label for a missing image, a duplicate frame
    data = json.loads(files[1].read_text())
    fid = next(a for a in data[0]["annotations"] if a["class"] == "FiducialPoints")
    fid["P10x"] = float("nan")
    ghost = json.loads(json.dumps(data[1]))
    ghost["filename"] = ghost["filename"].replace("frame", "ghost")
    data.append(ghost)
    data.append(json.loads(json.dumps(data[2])))
    files[1].write_text(json.dumps(data))
    expected.update({"bad_coordinates": 1, "missing_image": 1, "duplicate_frame": 1})
    # p01-2: an unreadable PNG (garbage bytes)
    png = sorted((set_dir / "Data" / "p01-2").glob("*.png"))[0]
    png.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    expected["unreadable_image"] = 1
    return expected


@pytest.mark.slow
def test_gazenet_data_end_to_end(kedro_project):
    raw = kedro_project.path("data", "01_raw", "gazenet")
    _render(raw)
    expected = _inject_faults(raw / SET)
    kedro_project.run("run", "--pipeline", "gazenet_data")

    out = kedro_project.path("data", "03_primary", "gazenet", SET)
    gt_root = out / "Ground_Truth_DataFactory_pipeline"
    for folder in (
        "TfRecords",
        "TfRecords_joint",
        "TfRecords_combined",
        "TfRecords_joint_combined",
        "GT",
        "GT_joint",
        "GT_combined",
        "GT_joint_combined",
    ):
        assert (gt_root / folder).is_dir(), folder
    for kind in ("frame", "face", "leye", "reye"):
        assert any((out / "Norm_Data_json_datafactory_v2" / kind).rglob("*.png")), kind

    # Rejects: every injected fault is there with its reason, counted in the run report.
    rejects = pd.read_csv(kedro_project.path("data", "08_reporting", "gazenet_rejects.csv"))
    codes = rejects["reason"].str.split(":").str[0].value_counts().to_dict()
    for code, n in expected.items():
        assert codes.get(code, 0) == n, (code, codes)
    report = json.loads(kedro_project.path("data", "08_reporting", "run_report.json").read_text())
    assert sum(report["rejects"]["gazenet_rejects"].values()) == len(rejects)

    # Split: TAO's, on the users that have frames.
    frames = pd.read_parquet(
        kedro_project.path("data", "02_intermediate", "gazenet_frames.parquet")
    )
    users = sorted(frames["user"].unique())
    assert "p01-0" not in users  # its label file was corrupt
    split = tao_split(users, kpi=False)
    for name in ("train", "validate", "test"):
        df = read_tfrecords(
            str(gt_root / "TfRecords_combined" / f"{name}.tfrecords"), TAO_GAZE_FEATURES
        )
        assert df.shape[1] == 83
        got_users = {p.split("/")[-2] for p in df["train/image_frame_name"]}
        assert got_users == set(split[name])
        assert len(df) == int(frames["user"].isin(split[name]).sum())
        gt_lines = (gt_root / "GT_combined" / f"{name}.txt").read_text().splitlines()
        assert len(gt_lines) == len(df)

    # Records carry consistent labels: theta/phi are the mean of the eyes; crops exist on disk.
    per_user = read_tfrecords(
        str(gt_root / "TfRecords" / f"{users[0]}.tfrecords"), TAO_GAZE_FEATURES
    )
    valid = per_user[per_user["train/valid_theta_phi"] == 1]
    assert len(valid) > 0
    assert np.allclose(
        valid["label/theta"], (valid["label/theta_le"] + valid["label/theta_re"]) / 2, atol=1e-5
    )
    for path in valid["train/norm_frame_path"]:
        assert (kedro_project.path("data", "03_primary", "gazenet") / path).is_file()


@pytest.mark.slow
def test_missing_config_file_stops_the_run(kedro_project):
    raw = kedro_project.path("data", "01_raw", "gazenet")
    _render(raw, n_users=2, frames=2)
    (raw / SET / "Config" / "R.txt").unlink()
    proc = kedro_project.run("run", "--pipeline", "gazenet_data", check=False)
    assert proc.returncode != 0
    assert "R.txt: missing" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_bad_parameter_fails_at_start_up_with_key_path(kedro_project):
    kedro_project.set_params(
        {"gazenet": {"dataset_convert": {"workers": -3, "filters": {"filter_phases": ["train"]}}}}
    )
    proc = kedro_project.run("run", "--pipeline", "gazenet_data", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "gazenet.dataset_convert.workers" in text
    assert "gazenet.dataset_convert.filters.filter_phases.0" in text
    assert "training" in text  # the allowed values are listed
    assert "Completed node" not in text  # nothing ran


def test_conf_local_override_merges_deeply(kedro_project):
    """Overriding one nested key in conf/local keeps every other key of conf/base."""
    from gaze_pipelines import settings

    kedro_project.set_params(
        {"gazenet": {"dataset_convert": {"folder_suffix": "mine"}}}, "parameters_gazenet.yml"
    )
    shutil.copy(
        kedro_project.path("conf", "local", "parameters_gazenet.yml"),
        kedro_project.path("conf", "local", "parameters_gazenet.example.yml"),
    )
    (kedro_project.path("conf", "local", "parameters_gazenet.example.yml")).write_text(
        "gazenet: {broken: [}\n"
    )
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(kedro_project.path("conf")), **settings.CONFIG_LOADER_ARGS
    )
    params = loader["parameters"]["gazenet"]["dataset_convert"]
    assert params["folder_suffix"] == "mine"
    assert params["norm_folder_name"] == "Norm_Data"
    assert params["filters"]["drop_invalid_theta_phi"] is False
    assert params["data_root_path"] == "data/01_raw/gazenet"
