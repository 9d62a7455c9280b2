"""Parsers of TAO's layout: both JSON fixtures, Config files, and fuzzed malformed label files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaze_pipelines.pipelines.gazenet.tao_format import (
    ConfigError,
    LabelError,
    _fiducials,
    parse_camera_parameters,
    parse_label_file,
    parse_set_config,
    target_from_filename,
)


def test_datafactory_v2_fixture(tao_fixtures):
    frames, rejects = parse_label_file(
        (tao_fixtures / "fpenet" / "datafactory.json").read_bytes(), "json_datafactory_v2"
    )
    assert rejects == [] and len(frames) == 2
    f = frames[0]
    assert f.num_keypoints == 104
    assert f.landmarks.shape == (104, 2) and np.all(f.landmarks[:68] >= 0)
    raw = json.loads((tao_fixtures / "fpenet" / "datafactory.json").read_text())[0]
    box = next(a for a in raw["annotations"] if a["class"] == "FaceBbox")
    assert f.face_box[0] == int(box["face_tight_bboxx"]) and f.face_box[1] == int(
        box["face_tight_bboxy"]
    )
    fid = next(a for a in raw["annotations"] if a["class"] == "FiducialPoints")
    assert f.landmarks[0, 0] == pytest.approx(fid["P1x"]) and f.landmarks[99, 1] == pytest.approx(
        fid["P100y"]
    )
    assert f.occluded[99] == 1 and f.occluded[0] == 0
    eyes = next(a for a in raw["annotations"] if a["class"] == "eyes")
    # TAO swaps to the subject's view: r_status is the subject's left eye.
    assert f.left_eye_status == str(eyes["r_status"]).lower() or f.left_eye_status == "missing"


def test_legacy_fixture(tao_fixtures):
    path = tao_fixtures / "testset" / "json_datafactory" / "testset_user5_x.json"
    frames, rejects = parse_label_file(path.read_bytes(), "json_datafactory")
    assert rejects == [] and len(frames) == 1
    f = frames[0]
    raw = json.loads(path.read_text())[0]["annotations"]
    rects = [a for a in raw if a["class"] == "rect"]
    smallest = min(rects, key=lambda a: a["width"] * a["height"])
    assert f.face_box[:2] == (int(smallest["x"]), int(smallest["y"]))
    assert f.num_keypoints == 80
    assert f.left_eye_status == f.right_eye_status == "open"  # legacy `eyeopen`
    assert f.occluded[31] == 1  # P32occluded


def test_config_fixtures(tao_fixtures):
    d = tao_fixtures / "dataio"
    K, dist = parse_camera_parameters((d / "camera_parameters.txt").read_text())
    assert K[0, 0] == pytest.approx(1329.98) and K[1, 2] == pytest.approx(390.789)
    assert dist[0] == pytest.approx(-0.38252) and dist[4] == pytest.approx(-0.0346336)
    files = {
        n: (d / n).read_text()
        for n in ("camera_parameters.txt", "R.txt", "T.txt", "TV_size", "resolution.txt")
    }
    cfg = parse_set_config(files, "fixture")
    assert cfg.T[0] == pytest.approx(374.8966)
    # testset Config has no resolution.txt: TAO's default 1920x1080.
    t = tao_fixtures / "testset" / "Config"
    files2 = {n: (t / n).read_text() for n in ("R.txt", "T.txt", "TV_size")}
    files2["camera_parameters.txt"] = files["camera_parameters.txt"]
    assert parse_set_config(files2, "testset").screen_px == (1920, 1080)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"TV_size": None}, "neither TV_size nor board_size.txt"),
        ({"board_size.txt": "500\n300\n"}, "both TV_size and board_size.txt"),
        ({"R.txt": None}, "R.txt: missing"),
        ({"T.txt": "1\n2\n"}, "T.txt: expected 3 numbers"),
        ({"camera_parameters.txt": "1,0\n0,1\n"}, "camera_parameters.txt"),
        ({"R.txt": "1 0 0\n0 1 0\n0 0 5"}, "not a rotation"),
        ({"TV_size": "abc\n1\n"}, "TV_size: not numeric"),
    ],
)
def test_config_faults_name_the_file(tao_fixtures, change, message):
    d = tao_fixtures / "dataio"
    files = {
        n: (d / n).read_text()
        for n in ("camera_parameters.txt", "R.txt", "T.txt", "TV_size", "resolution.txt")
    }
    files.update(change)
    with pytest.raises(ConfigError, match=message):
        parse_set_config(files, "sets/s1/Config")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("frame_1194_881_vc0_02.png", (1194, 881)),
        ("video1_15_330_vc00_010.png", (15, 330)),
        ("frame0_1194_881_vc0_02.png", (1194, 881)),
    ],
)
def test_target_from_filename(name, expected):
    assert target_from_filename(name) == expected


def test_target_from_filename_rejects_names_without_target():
    with pytest.raises(LabelError) as err:
        target_from_filename("frame_only.png")
    assert err.value.code == "bad_filename"


def test_truncated_and_non_json(tao_fixtures):
    text = (tao_fixtures / "fpenet" / "datafactory.json").read_text()
    for bad in (text[: len(text) // 2], "not json", '{"a": 1}', ""):
        with pytest.raises(LabelError) as err:
            parse_label_file(bad, "json_datafactory_v2")
        assert err.value.code == "bad_json"


def test_nan_coordinates_are_rejected_per_frame(tao_fixtures):
    data = json.loads((tao_fixtures / "fpenet" / "datafactory.json").read_text())
    fid = next(a for a in data[0]["annotations"] if a["class"] == "FiducialPoints")
    fid["P5x"] = float("nan")
    frames, rejects = parse_label_file(json.dumps(data), "json_datafactory_v2")
    assert len(frames) == 1 and len(rejects) == 1 and rejects[0][1].startswith("bad_coordinates")


def _reference_fiducials(chunk: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """The fiducial rules written plainly: per key, in any order."""
    pts, occ, highest = np.full((104, 2), -1.0), np.full(104, -1), 0
    for key, value in chunk.items():
        m = re.fullmatch(r"P(\d+)(x|y|occluded)", str(key), flags=re.IGNORECASE)
        if not m or not 1 <= int(m.group(1)) <= 104:
            continue
        i, kind = int(m.group(1)) - 1, m.group(2).lower()
        highest = max(highest, i + 1)
        if kind == "occluded":
            occ[i] = 1 if value else occ[i]
        else:
            pts[i, "xy".index(kind)] = float(value)
    occ[:highest][occ[:highest] == -1] = 0
    return pts, occ, highest


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 110),
            st.sampled_from(["x", "y", "occluded", "X", "Occluded", "z"]),
            st.floats(-1e4, 1e4) | st.integers(-5, 5) | st.booleans(),
        ),
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_fiducial_layouts_match_the_plain_rules_in_any_key_order(points, rnd):
    chunk = {f"P{i}{kind}": v for i, kind, v in points}
    chunk["class"] = "FiducialPoints"
    items = list(chunk.items())
    for order in (items, rnd.sample(items, len(items))):  # same keys, another order: same answer
        got = _fiducials(dict(order), "f.png")
        want = _reference_fiducials(dict(order))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
annotation = st.fixed_dictionaries(
    {
        "class": st.sampled_from(
            ["FaceBbox", "rect", "FiducialPoints", "eyes", "eyeopen", "other", 3]
        )
    },
    optional={
        "face_tight_bboxx": json_values,
        "face_tight_bboxy": json_values,
        "face_tight_bboxwidth": json_values,
        "face_tight_bboxheight": json_values,
        "x": json_values,
        "y": json_values,
        "width": json_values,
        "height": json_values,
        "P1x": json_values,
        "P68y": json_values,
        "P200x": json_values,
        "r_status": json_values,
    },
)
frame_entry = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"filename": json_values, "annotations": st.lists(annotation | json_values, max_size=4)}
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_entry, max_size=4) | json_values)
def test_fuzzed_label_files_never_crash(data):
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        return
    try:
        frames, rejects = parse_label_file(text, "json_datafactory_v2")
    except LabelError as err:
        assert err.code == "bad_json"
        return
    for f in frames:
        assert f.landmarks.shape == (104, 2) and np.all(np.isfinite(f.landmarks))
    for _name, reason in rejects:
        assert ":" in reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_fuzzed_bytes_never_crash(blob):
    try:
        parse_label_file(blob, "json_datafactory_v2")
    except LabelError as err:
        assert err.code == "bad_json"
