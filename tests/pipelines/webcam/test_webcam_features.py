"""Feature extraction geometry: fixed eye positions, head angle sign, crops, masks, landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.pipelines.webcam.features import (
    DlibLandmarker,
    FaceLandmarks,
    FeatureError,
    extract_features,
    eye_warp,
    face_warp,
    head_angle_deg,
    head_pos_mask,
)
from gaze_pipelines.synthetic import face3d as f3


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.atleast_2d(pts)
    return pts @ m[:, :2].T + m[:, 2]


def _landmarks(l_c, r_c, half_width=12.0, box=(100, 80, 200, 220)) -> FaceLandmarks:
    l_c, r_c = np.asarray(l_c, float), np.asarray(r_c, float)
    d = (r_c - l_c) / np.linalg.norm(r_c - l_c) * half_width
    return FaceLandmarks(np.asarray(box, float), np.stack([l_c - d, l_c + d]),
                         np.stack([r_c - d, r_c + d]))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    cx=st.floats(100, 500), cy=st.floats(80, 400), dist=st.floats(25, 160),
    angle=st.floats(-40, 40), size=st.sampled_from([32, 64, 96]),
    ex=st.floats(0.2, 0.45), ey=st.floats(0.3, 0.7),
)  # fmt: skip
def test_aligned_face_puts_the_eyes_at_the_fixed_positions(cx, cy, dist, angle, size, ex, ey):
    a = np.radians(angle)
    half = 0.5 * dist * np.array([np.cos(a), np.sin(a)])
    l_c, r_c = np.array([cx, cy]) - half, np.array([cx, cy]) + half
    m = face_warp(l_c, r_c, size, (ex, ey), align=True)
    out = _apply(m, np.stack([l_c, r_c]))
    np.testing.assert_allclose(
        out, [[ex * size, ey * size], [(1 - ex) * size, ey * size]], atol=1e-4
    )
    # Unaligned: same scale and centre, but the eye line keeps its angle.
    u = _apply(face_warp(l_c, r_c, size, (ex, ey), align=False), np.stack([l_c, r_c]))
    np.testing.assert_allclose(u.mean(axis=0), [size / 2, ey * size], atol=1e-4)
    assert np.linalg.norm(u[1] - u[0]) == pytest.approx((1 - 2 * ex) * size, rel=1e-6)
    assert head_angle_deg(u[0], u[1]) == pytest.approx(angle, abs=1e-4)


def test_aligned_face_image_has_the_eyes_where_promised():
    frame = np.full((480, 640, 3), 200, np.uint8)
    l_c, r_c = np.array([280.0, 230.0]), np.array([352.0, 248.0])  # tilted clockwise
    for c in (l_c, r_c):
        cv2.circle(frame, tuple(int(v) for v in c), 4, (0, 0, 0), -1)
    lm = _landmarks(l_c, r_c, half_width=14.0)
    f = extract_features(frame, lm, size=64)
    dark = f["face_aligned"][..., 0] < 100
    ys, xs = np.nonzero(dark)
    left, right = xs < 32, xs >= 32
    assert xs[left].mean() == pytest.approx(0.35 * 64, abs=1.0)
    assert xs[right].mean() == pytest.approx(0.65 * 64, abs=1.0)
    assert ys[left].mean() == pytest.approx(32, abs=1.0)
    assert ys[right].mean() == pytest.approx(32, abs=1.0)
    # The unaligned face keeps the tilt: the right dot sits lower than the left one.
    ys_u, xs_u = np.nonzero(f["face"][..., 0] < 100)
    assert ys_u[xs_u >= 32].mean() > ys_u[xs_u < 32].mean() + 2
    assert f["head_angle"] == pytest.approx(np.degrees(np.arctan2(18, 72)), abs=1e-6)
    for kind in ("face", "face_aligned", "l_eye", "r_eye"):
        assert f[kind].shape == (64, 64, 3) and f[kind].dtype == np.uint8
    assert f["head_pos"].shape == (64, 64)


def test_head_angle_sign_follows_the_rendered_head_roll():
    camera = f3.Camera.default(640, 480)
    screen = f3.Screen.below_camera()
    user = f3.sample_user(np.random.default_rng(3), "u")
    t = np.array([0.0, 40.0, 600.0])
    angles = {}
    for roll in (-12.0, 0.0, 12.0):
        rot = f3.look_rotation(t, np.zeros(3)) @ f3.rotation_from_euler(0, 0, np.radians(roll))
        spec = f3.FrameSpec(rot, t, screen.centre_cam)
        geo = f3.frame_geometry(user, spec, camera)
        lm = FaceLandmarks.from_68(geo["landmarks_2d"])
        angles[roll] = head_angle_deg(*lm.eye_centres)
    # Positive roll tilts the head clockwise in the image: the image-right eye drops.
    assert angles[12.0] > 8 and angles[-12.0] < -8 and abs(angles[0.0]) < 2
    assert angles[12.0] == pytest.approx(-angles[-12.0], abs=1.5)


def test_eye_crop_is_a_square_centred_on_the_eye():
    corners = np.array([[100.0, 50.0], [132.0, 54.0]])
    m = eye_warp(corners, 64)
    out = _apply(m, np.vstack([corners, corners.mean(axis=0)]))
    assert out[0, 0] == pytest.approx(0) and out[1, 0] == pytest.approx(64)
    assert out[2, 1] == pytest.approx(32)


def test_head_pos_mask_marks_the_face_box():
    mask = head_pos_mask((480, 640, 3), np.array([320.0, 240.0, 160.0, 120.0]), 64)
    assert mask.shape == (64, 64) and mask.dtype == np.uint8
    assert mask[0, 0] == 255 and mask[-1, -1] == 255
    dark = np.argwhere(mask < 128)
    assert dark[:, 1].min() == pytest.approx(32, abs=1) and dark[:, 1].max() == pytest.approx(
        48, abs=1
    )
    assert dark[:, 0].min() == pytest.approx(32, abs=1) and dark[:, 0].max() == pytest.approx(
        48, abs=1
    )


@pytest.mark.parametrize(
    ("lm", "code"),
    [
        (_landmarks([100, 100], [160, 100]).__class__(np.array([np.nan, 0, 1, 1]),
          np.zeros((2, 2)), np.ones((2, 2))), "no_landmarks"),
        (_landmarks([160, 100], [100, 100]), "bad_landmarks"),
        (_landmarks([100, 100], [160, 100], half_width=1.0), "eyes_too_small"),
    ],
)  # fmt: skip
def test_bad_landmarks_raise_coded_errors(lm, code):
    with pytest.raises(FeatureError) as err:
        extract_features(np.zeros((240, 320), np.uint8), lm)
    assert err.value.code == code
    assert str(err.value).startswith(f"{code}: ")


def test_landmark_row_round_trip():
    lm = _landmarks([120.5, 90.25], [180.0, 95.0])
    back = FaceLandmarks.from_row(lm.to_row())
    np.testing.assert_allclose(back.face_box, lm.face_box)
    np.testing.assert_allclose(back.l_eye, lm.l_eye)
    np.testing.assert_allclose(back.r_eye, lm.r_eye)


def test_dlib_finds_the_rendered_eyes_and_reports_missing_faces():
    camera = f3.Camera.default(640, 480)
    screen = f3.Screen.below_camera()
    rng = np.random.default_rng(5)
    user = f3.sample_user(rng, "u")
    renderer = f3.FaceRenderer(camera, seed=1)
    spec = f3.sample_frame(rng, user, camera, screen, closed_eye_prob=0.0, distance_mm=(500, 600))
    out = renderer.render(user, spec)
    truth = FaceLandmarks.from_68(out.landmarks_2d)
    found = DlibLandmarker("hog")(out.image)
    for a, b in ((found.l_eye, truth.l_eye), (found.r_eye, truth.r_eye)):
        assert np.abs(a - b).max() < 8.0
    with pytest.raises(FeatureError) as err:
        DlibLandmarker("hog")(np.full((240, 320), 128, np.uint8))
    assert err.value.code == "no_face"


def _iris_x(crop: np.ndarray) -> float:
    """Column centroid of the darkest pixels of an eye crop (the iris and pupil)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float64)
    band = grey[grey.shape[0] // 4 : 3 * grey.shape[0] // 4]
    dark = band <= np.percentile(band, 12)
    return float(np.nonzero(dark)[1].mean())


def test_eye_crops_carry_the_gaze_the_iris_moves_with_the_target():
    # The sample renderer's eyes rotate toward the screen target: looking at the screen's left
    # edge and then at its right edge (same head pose) moves the iris across both eye crops,
    # in the mirrored direction (the user's left is the image's right).
    camera = f3.Camera.default(640, 480)
    screen = f3.Screen.below_camera()
    user = f3.sample_user(np.random.default_rng(5), "u")
    renderer = f3.FaceRenderer(camera, seed=0)
    t = np.array([0.0, 60.0, 600.0])
    rot = f3.look_rotation(t, np.zeros(3))
    iris = {}
    for name, px in (("left", (40.0, 540.0)), ("right", (1880.0, 540.0))):
        target = screen.pixel_to_camera(np.array([px]))[0]
        spec = f3.FrameSpec(rot, t, target, noise_sigma=0.0)
        geo = f3.frame_geometry(user, spec, camera)
        lm = FaceLandmarks.from_68(geo["landmarks_2d"], geo["face_bbox_tight"])
        f = extract_features(renderer.render(user, spec).image, lm)
        iris[name] = (_iris_x(f["l_eye"]), _iris_x(f["r_eye"]))
    for eye in (0, 1):
        assert iris["left"][eye] - iris["right"][eye] > 8.0, iris
