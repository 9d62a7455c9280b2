"""End to end: ``kedro run --pipeline gazenet_sample`` on a tiny set."""

from __future__ import annotations

import json

import pytest

from gaze_pipelines.pipelines.gazenet.tao_format import parse_label_file, parse_set_config


@pytest.mark.slow
def test_kedro_run_gazenet_sample(kedro_project):
    kedro_project.set_params(
        {
            "gazenet": {
                "sample": {
                    "set_id": "tiny_set",
                    "n_users": 2,
                    "frames_per_user": 4,
                    "closed_eye_fraction": 0.25,
                    "screen": {"size_file": "board_size.txt"},
                }
            }
        }
    )
    kedro_project.run("run", "--pipeline", "gazenet_sample")
    root = kedro_project.path("data", "01_raw", "gazenet", "tiny_set")
    config = {p.name: p.read_text() for p in (root / "Config").iterdir()}
    assert set(config) == {
        "camera_parameters.txt",
        "R.txt",
        "T.txt",
        "board_size.txt",
        "resolution.txt",
    }
    cfg = parse_set_config(config, "Config")
    assert cfg.screen_px == (1920, 1080)
    for user in ("p01-0", "p01-1"):
        assert len(list((root / "Data" / user).glob("frame*_vc0_02.png"))) == 4
        text = (root / "json_datafactory_v2" / f"tiny_set_{user}.json").read_text()
        frames, rejects = parse_label_file(text, "json_datafactory_v2")
        assert len(frames) == 4 and rejects == []
        assert sum(f.left_eye_status == "closed" for f in frames) == 1
        assert json.loads(text)[0]["filename"].startswith(f"{user}/frame")
