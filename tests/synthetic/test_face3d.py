"""The 3D head/eye renderer: projections, eye motion, closed eyes, determinism, screen maths."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from gaze_pipelines.core import face_model as fm
from gaze_pipelines.core.geometry import screen_to_camera
from gaze_pipelines.synthetic.face3d import (
    Camera,
    FaceRenderer,
    FrameSpec,
    Screen,
    frame_geometry,
    look_rotation,
    rotation_from_euler,
    sample_frame,
    sample_user,
)

RIGID = np.r_[0:37, 39, 42, 45, 48:68]  # every landmark except the moving eyelid points


@pytest.fixture(scope="module")
def scene():
    camera = Camera.sample(np.random.default_rng(3))
    screen = Screen.below_camera((598.0, 336.0), (1920, 1080), (5.0, 25.0, 3.0), tilt_deg=4.0)
    user = sample_user(np.random.default_rng(11), "p01-0")
    return camera, screen, user, FaceRenderer(camera, seed=0)


def _frontal_spec(screen: Screen, target_px, **kw) -> FrameSpec:
    t = np.array([10.0, 20.0, 500.0])
    R = look_rotation(t, np.zeros(3))
    defaults = dict(blur_sigma=0.5, noise_sigma=0.0, gain=(1.0, 0.0, 0.0), ambient=0.7)
    defaults.update(kw)
    return FrameSpec(
        head_rotation=R,
        head_translation=t,
        target_cam=screen.pixel_to_camera(np.array([target_px]))[0],
        target_px=np.asarray(target_px, float),
        **defaults,
    )


def test_landmarks_are_projections_of_the_3d_points(scene):
    camera, screen, user, renderer = scene
    rng = np.random.default_rng(0)
    for _ in range(10):
        spec = sample_frame(rng, user, camera, screen, closed_eye_prob=0.3)
        out = renderer.render(user, spec)
        proj, _ = cv2.projectPoints(
            out.landmarks_3d, np.zeros(3), np.zeros(3), camera.K, camera.dist
        )
        np.testing.assert_allclose(out.landmarks_2d, proj.reshape(-1, 2), atol=1e-6)
        # The rigid landmarks are the user's head-frame model moved by the head pose.
        rvec = cv2.Rodrigues(spec.head_rotation)[0]
        model, _ = cv2.projectPoints(
            user.face.landmarks[RIGID], rvec, spec.head_translation, camera.K, camera.dist
        )
        np.testing.assert_allclose(out.landmarks_2d[RIGID], model.reshape(-1, 2), atol=1e-6)
        eyes, _ = cv2.projectPoints(
            out.pupil_centres_3d, np.zeros(3), np.zeros(3), camera.K, camera.dist
        )
        np.testing.assert_allclose(out.pupil_centres_2d, eyes.reshape(-1, 2), atol=1e-6)
        assert out.image.shape == (camera.height, camera.width) and out.image.dtype == np.uint8
        x, y, w, h = out.face_bbox_tight
        assert x >= 0 and y >= 0 and x + w <= camera.width and y + h <= camera.height


def test_eyes_point_at_the_target(scene):
    camera, screen, user, _ = scene
    spec = sample_frame(np.random.default_rng(1), user, camera, screen)
    geo = frame_geometry(user, spec, camera)
    g = geo["gaze_vectors"]
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0)
    to_target = spec.target_cam - geo["eyeball_centres_3d"]
    np.testing.assert_allclose(g, to_target / np.linalg.norm(to_target, axis=1, keepdims=True))
    # Pupil centre on the optical axis, at the iris plane (rim on the eyeball sphere).
    d = np.linalg.norm(geo["pupil_centres_3d"] - geo["eyeball_centres_3d"], axis=1)
    np.testing.assert_allclose(d, np.sqrt(user.face.eyeball_radius**2 - user.face.iris_radius**2))
    np.testing.assert_allclose(
        np.sum((geo["pupil_centres_3d"] - geo["eyeball_centres_3d"]) * g, axis=1), d
    )
    # Eyeball centres are the head model's, moved by the head pose.
    expected = user.face.eyeball_centres @ spec.head_rotation.T + spec.head_translation
    np.testing.assert_allclose(geo["eyeball_centres_3d"], expected)


def _dark_centroid(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Centroid of the darkest pixels (iris/pupil) in the box spanned by two eye corners."""
    x0, x1 = int(corners[:, 0].min()), int(np.ceil(corners[:, 0].max()))
    w = x1 - x0
    cy = int(corners[:, 1].mean())
    y0, y1 = cy - w // 2, cy + w // 2
    roi = image[y0:y1, x0:x1].astype(float)
    mask = roi <= np.percentile(roi, 8)
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + x0, ys.mean() + y0])


def test_iris_and_pupil_follow_the_target(scene):
    """Screen x grows to the user's right = camera -x = image left; screen y grows down."""
    camera, screen, user, renderer = scene
    outs = {
        name: renderer.render(user, _frontal_spec(screen, px))
        for name, px in {
            "left": (1700, 150),
            "right": (200, 150),
            "top": (960, 0),
            "bottom": (960, 1079),
        }.items()
    }
    lm = outs["left"].landmarks_2d
    for e, corners in enumerate((lm[[36, 39]], lm[[42, 45]])):
        # Labels: the pupil moves image-left for a target at large screen x, down for low targets.
        assert outs["left"].pupil_centres_2d[e, 0] < outs["right"].pupil_centres_2d[e, 0] - 2
        assert outs["top"].pupil_centres_2d[e, 1] < outs["bottom"].pupil_centres_2d[e, 1] - 1
        # Pixels: the dark iris/pupil blob moves the same way in the rendered image.
        c_left = _dark_centroid(outs["left"].image, corners)
        c_right = _dark_centroid(outs["right"].image, corners)
        assert c_left[0] < c_right[0] - 2
        assert abs(c_left[0] - outs["left"].pupil_centres_2d[e, 0]) < 2.5
        assert abs(c_right[0] - outs["right"].pupil_centres_2d[e, 0]) < 2.5


def test_closed_eyes_hide_the_eye(scene):
    camera, screen, user, renderer = scene
    spec = _frontal_spec(screen, (960, 540))
    open_ = renderer.render(user, spec)
    closed = renderer.render(user, dataclasses.replace(spec, eyes_closed=(True, True)))
    wink = renderer.render(user, dataclasses.replace(spec, eyes_closed=(False, True)))
    assert open_.eye_status == ("open", "open")
    assert closed.eye_status == ("closed", "closed")
    assert wink.eye_status == ("open", "closed")
    lm = open_.landmarks_2d
    for e, (a, b) in enumerate(((36, 39), (42, 45))):
        x0, x1 = int(lm[a, 0]) + 2, int(lm[b, 0]) - 1
        y0, y1 = int(lm[a, 1]) - 3, int(lm[a, 1]) + 3
        o = open_.image[y0:y1, x0:x1].astype(float)
        c = closed.image[y0:y1, x0:x1].astype(float)
        # Open: bright sclera and a dark pupil; closed: skin-coloured lid, much less contrast.
        assert o.max() - o.min() > 2 * (c.max() - c.min()) or c.std() < 0.5 * o.std()
        # Eyelid landmarks close: upper-lid points come down onto the lower lid.
        up, low = ((37, 38), (43, 44))[e], ((41, 40), (47, 46))[e]
        gap_open = np.mean(open_.landmarks_2d[list(low), 1] - open_.landmarks_2d[list(up), 1])
        gap_closed = np.mean(closed.landmarks_2d[list(low), 1] - closed.landmarks_2d[list(up), 1])
        assert gap_closed < 0.25 * gap_open
    np.testing.assert_array_equal(wink.landmarks_2d[36:42], open_.landmarks_2d[36:42])


def test_rendering_is_deterministic(scene):
    camera, screen, user, _ = scene
    a = sample_frame(np.random.default_rng(9), user, camera, screen)
    b = sample_frame(np.random.default_rng(9), user, camera, screen)
    img_a = FaceRenderer(camera, seed=1).render(user, a).image
    img_b = FaceRenderer(camera, seed=1).render(user, b).image
    np.testing.assert_array_equal(img_a, img_b)
    c = sample_frame(np.random.default_rng(10), user, camera, screen)
    assert not np.array_equal(img_a, FaceRenderer(camera, seed=1).render(user, c).image)
    u1 = sample_user(np.random.default_rng(4), "x")
    u2 = sample_user(np.random.default_rng(4), "x")
    np.testing.assert_array_equal(u1.face.landmarks, u2.face.landmarks)
    assert u1.look == u2.look


def test_sampled_frames_are_plausible(scene):
    camera, screen, user, _ = scene
    rng = np.random.default_rng(2)
    for _ in range(30):
        spec = sample_frame(rng, user, camera, screen)
        assert 400 <= spec.head_translation[2] <= 900
        geo = frame_geometry(user, spec, camera)
        lm = geo["landmarks_2d"]
        assert lm.min() >= 0 and lm[:, 0].max() < camera.width and lm[:, 1].max() < camera.height
        forward = -spec.head_rotation[:, 2]  # the face points at -z of the head
        to_cam = -spec.head_translation / np.linalg.norm(spec.head_translation)
        assert np.degrees(np.arccos(forward @ to_cam)) < 60
        cos = geo["gaze_vectors"] @ forward
        assert np.degrees(np.arccos(cos.min())) <= 40.0 + 1e-6
        np.testing.assert_allclose(
            screen.pixel_to_camera(spec.target_px[None])[0], spec.target_cam, atol=1e-9
        )


def test_screen_is_taos_formula_and_inverts():
    screen = Screen.below_camera((527.0, 296.0), (1920, 1080), (0.0, 15.0, 0.0), tilt_deg=8.0)
    np.testing.assert_allclose(screen.R @ screen.R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(screen.R) == pytest.approx(1.0)
    px = np.array([[0.0, 0.0], [1919.0, 1079.0], [960.0, 540.0]])
    sx, sy = 527.0 / 1920, 296.0 / 1080
    manual = np.array([screen.R @ [x * sx, y * sy, 1.0] + screen.T for x, y in px])
    np.testing.assert_allclose(screen.pixel_to_camera(px), manual)
    np.testing.assert_allclose(
        screen.pixel_to_camera(px),
        screen_to_camera(px, screen.R, screen.T, (527, 296), (1920, 1080)),
    )
    np.testing.assert_allclose(screen.camera_to_pixel(screen.pixel_to_camera(px)), px, atol=1e-9)
    # Top-left pixel is on the user's left (camera +x), the screen hangs below the camera.
    tl, br = screen.pixel_to_camera(px[:2])
    assert tl[0] > 0 > br[0] and br[1] > tl[1] > 0


def test_rotation_helpers():
    R = rotation_from_euler(0.1, -0.2, 0.05)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotation_from_euler(0, 0, 0), np.eye(3))
    np.testing.assert_allclose(look_rotation(np.array([0, 0, 600.0]), np.zeros(3)), np.eye(3))
    # Positive pitch turns the face down, positive yaw toward the subject's right (camera -x).
    assert -rotation_from_euler(0.3, 0, 0)[1, 2] > 0
    assert -rotation_from_euler(0, 0.3, 0)[0, 2] < 0


def test_camera_projection_and_rays():
    cam = Camera.default(640, 480)
    pts = np.array([[10.0, -20.0, 500.0], [-100.0, 50.0, 700.0]])
    px = cam.project(pts)
    rays = cam.ray(px)
    np.testing.assert_allclose(rays, pts / np.linalg.norm(pts, axis=1, keepdims=True), atol=1e-6)
    assert fm.GENERIC_FACE_68.shape == (68, 3)
