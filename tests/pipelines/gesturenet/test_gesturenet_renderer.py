"""The articulated-hand renderer: deterministic, boxes on the hand, TAO annotation layout."""

from __future__ import annotations

import numpy as np
import pytest

from gaze_pipelines.pipelines.gesturenet.nodes_sample import render_sample
from gaze_pipelines.pipelines.gesturenet.tao_format import parse_annotation
from gaze_pipelines.synthetic.gesturenet import (
    GESTURES,
    annotation_json,
    gesture_pose,
    hand_skeleton,
    render_frame,
    user_hand,
)


def test_frames_are_deterministic_and_order_free():
    a = render_frame(3, 1, 0, 5, "ok")
    render_frame(3, 2, 1, 9, "fist")  # rendering something else in between changes nothing
    b = render_frame(3, 1, 0, 5, "ok")
    assert np.array_equal(a.image, b.image)
    assert a.box == b.box
    c = render_frame(4, 1, 0, 5, "ok")
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("gesture", GESTURES)
def test_box_is_inside_the_image_and_on_the_hand(gesture):
    r = render_frame(11, 0, 0, 3, gesture, width=320, height=240)
    x1, y1, x2, y2 = r.box
    assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240
    assert 15 < x2 - x1 < 320 and 15 < y2 - y1 < 240
    hand = r.image[int(y1) : int(y2), int(x1) : int(x2)].astype(np.float64)
    assert hand.std() > 5  # the box holds a drawn hand, not a flat region
    assert r.metadata["location"] in ("indoor", "outdoor")
    assert r.metadata["lighting"] in ("bright", "normal", "dim")


def test_gesture_poses_differ_by_finger_extension():
    rng = np.random.default_rng(0)
    stop, _ = gesture_pose("stop", rng)
    fist, _ = gesture_pose("fist", rng)
    two, _ = gesture_pose("two", rng)
    assert stop.flex[1:].sum() < 1.0 < fist.flex[1:].sum()
    assert two.flex[1:3].sum() < 1.0 and two.flex[3:].sum() > 4.0
    shape = user_hand(0, 0)
    _, chains = hand_skeleton(shape, stop)
    _, fist_chains = hand_skeleton(shape, fist)
    # extended fingertips reach far above the palm; curled ones come back towards it
    assert min(c[-1, 1] for c in chains[1:]) > shape.palm_height + 0.5
    assert max(c[-1, 1] for c in fist_chains[1:]) < shape.palm_height + 0.3


def test_random_class_never_draws_a_named_gesture():
    shapes = {gesture_pose("random", np.random.default_rng(i))[1] for i in range(200)}
    assert shapes and not shapes & set(GESTURES)


def test_annotation_round_trips_through_the_parser():
    r = render_frame(5, 2, 1, 7, "two", width=256, height=192)
    doc = annotation_json(r, "original/data/u/s/000007.png", 7)
    assert doc["completions"][0]["result"][1]["type"] == "rectanglelabels"
    parsed = parse_annotation(doc, GESTURES, (256, 192))
    assert parsed.label == "two"
    assert np.allclose(parsed.box, r.box, atol=1e-6)
    assert parsed.metadata["location"] == r.metadata["location"]


def test_sample_node_writes_tao_layout_with_corruptions():
    sample = {
        "users": ["uid_1", "uid_2"],
        "sessions_per_user": 1,
        "frames_per_gesture": 1,
        "gestures": ["fist", "stop"],
        "corrupt_annotations": 2,
        "image_width": 96,
        "image_height": 80,
    }
    dc = {"kpi_users": ["uid_2"]}
    jobs = render_sample(sample, dc, {})
    files = {}
    for job in jobs.values():
        files.update(job())
    images = sorted(k for k in files if k.endswith(".png"))
    assert images == [
        "original/data/uid_1/session_1/000000.png",
        "original/data/uid_1/session_1/000001.png",
        "original/data/uid_2/session_1/000000.png",
        "original/data/uid_2/session_1/000001.png",
    ]
    assert files[images[0]].shape == (80, 96, 3)
    assert "specs/dataset_config.json" in files
    good = [k for k in files if k.startswith("annotation/data/uid_2")]
    assert len(good) == 2  # KPI users are never corrupted
    uid1 = [files.get(f"annotation/data/uid_1/session_1/00000{i}.json") for i in range(2)]
    assert all(
        not isinstance(a, dict)
        or a["completions"][0]["result"][0]["value"]["choices"] != ["fist", "stop"]
        for a in uid1
    )
