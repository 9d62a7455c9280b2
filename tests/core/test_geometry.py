"""Geometry: theta/phi, screen mapping (TAO formula on the fixture Config), normalization warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core import geometry
from gaze_pipelines.core.face_model import GENERIC_FACE_68, face_centre
from gaze_pipelines.pipelines.gazenet.tao_format import parse_set_config


@given(st.floats(-1.4, 1.4), st.floats(-3.0, 3.0))
def test_theta_phi_round_trip(theta, phi):
    g = geometry.theta_phi_to_gaze(theta, phi)
    assert np.isclose(np.linalg.norm(g), 1.0)
    t2, p2 = geometry.gaze_to_theta_phi(g)
    assert np.isclose(t2, theta, atol=1e-9)
    assert np.isclose(np.angle(np.exp(1j * (p2 - phi))), 0.0, atol=1e-9)


def test_theta_phi_conventions():
    # Looking straight back at the camera (-z): theta = phi = 0; looking up (-y): theta > 0.
    assert np.allclose(geometry.gaze_to_theta_phi(np.array([0.0, 0.0, -1.0])), (0.0, 0.0))
    theta, _ = geometry.gaze_to_theta_phi(np.array([0.0, -0.5, -1.0]))
    assert theta > 0
    _, phi = geometry.gaze_to_theta_phi(np.array([-0.5, 0.0, -1.0]))
    assert phi > 0


def _fixture_config(tao_fixtures):
    d = tao_fixtures / "dataio"
    files = {
        n: (d / n).read_text()
        for n in ("camera_parameters.txt", "R.txt", "T.txt", "TV_size", "resolution.txt")
    }
    return parse_set_config(files, str(d))


def test_screen_to_camera_matches_tao_formula(tao_fixtures):
    cfg = _fixture_config(tao_fixtures)
    assert cfg.screen_mm == (1650.0, 930.0) and cfg.screen_px == (1920, 1080)
    px = np.array([[1194.0, 881.0], [0.0, 0.0], [1920.0, 1080.0]])
    got = geometry.screen_to_camera(px, cfg.R, cfg.T, cfg.screen_mm, cfg.screen_px)
    # TAO gaze_strategy.py, written out by hand for each point.
    for (x, y), g in zip(px, got, strict=True):
        v = np.array([x * 1650.0 / 1920.0, y * 930.0 / 1080.0, 1.0])
        expected = cfg.R @ v + cfg.T
        assert np.allclose(g, expected)
    back = geometry.camera_to_screen(
        geometry.screen_to_camera(px, cfg.R, cfg.T, cfg.screen_mm, cfg.screen_px)
        - cfg.R[:, 2] * 1.0,
        cfg.R,
        cfg.T,
        cfg.screen_mm,
        cfg.screen_px,
    )
    assert np.allclose(back, px, atol=1e-6)


def test_tao_records_follow_our_angle_conventions(tao_fixtures):
    """In TAO-written records, per-eye theta/phi are our angles of (gaze_cam - eye centre) and
    label/theta, phi are the mean of the two eyes'."""
    from gaze_pipelines.datasets.tfrecord import read_tfrecords
    from gaze_pipelines.pipelines.gazenet.features import TAO_GAZE_FEATURES

    df = read_tfrecords(str(tao_fixtures / "dataio" / "combined.tfrecords"), TAO_GAZE_FEATURES)
    target = df[["label/gaze_cam_x", "label/gaze_cam_y", "label/gaze_cam_z"]].to_numpy(float)
    for eye, pc in (("le", "lpc"), ("re", "rpc")):
        centre = df[[f"label/{pc}_cam_x", f"label/{pc}_cam_y", f"label/{pc}_cam_z"]].to_numpy(float)
        theta, phi = geometry.gaze_to_theta_phi(target - centre)
        assert np.allclose(theta, df[f"label/theta_{eye}"], atol=1e-5)
        assert np.allclose(phi, df[f"label/phi_{eye}"], atol=1e-5)
    assert np.allclose(
        df["label/theta"], (df["label/theta_le"] + df["label/theta_re"]) / 2, atol=1e-6
    )
    assert np.allclose(df["label/phi"], (df["label/phi_le"] + df["label/phi_re"]) / 2, atol=1e-6)


def test_intersect_screen_hits_target():
    R = np.eye(3)
    T = np.array([0.0, 0.0, 0.0])
    eye = np.array([10.0, -20.0, 600.0])
    target = np.array([100.0, 50.0, 0.0])
    por = geometry.intersect_screen(eye, target - eye, R, T)
    assert np.allclose(por, target)


def test_normalization_maps_face_centre_to_patch_centre():
    K = np.array([[900.0, 0, 320], [0, 900.0, 240], [0, 0, 1]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        rvec = rng.normal(0, 0.25, 3)
        import cv2

        R = cv2.Rodrigues(rvec)[0]
        t = np.array([rng.uniform(-80, 80), rng.uniform(-60, 60), rng.uniform(400, 900)])
        centre = face_centre(GENERIC_FACE_68) @ R.T + t
        for size, focal in (((224, 224), 960.0), ((120, 120), 1920.0)):
            nw = geometry.normalization(centre, R, K, size, focal)
            px = geometry.project_points(centre[None], K)
            mapped = geometry.warp_points(px, nw, K, np.zeros(5))[0]
            assert np.allclose(mapped, (size[0] / 2, size[1] / 2), atol=1e-6)
            # The virtual camera's x axis stays in the plane of the head's x axis (no roll).
            assert abs(nw.rotation[1] @ R[:, 0]) < 1e-9
            # Distance is normalized: the centre lands 600 mm in front of the virtual camera.
            assert np.isclose((nw.scale @ nw.rotation @ centre)[2], 600.0)


def test_angular_error():
    assert np.isclose(geometry.angular_error_deg(np.array([1, 0, 0]), np.array([0, 1, 0])), 90.0)


@pytest.mark.parametrize("pitch,yaw,roll", [(0, 0, 0), (10, -20, 5), (-15, 30, -8)])
def test_pnp_recovers_pose_of_generic_face(pitch, yaw, roll):
    import cv2

    K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    rvec = cv2.Rodrigues(cv2.Rodrigues(np.zeros(3))[0])[0]
    from gaze_pipelines.synthetic.face3d import rotation_from_euler

    R = rotation_from_euler(pitch, yaw, roll)
    rvec, _ = cv2.Rodrigues(R)
    t = np.array([20.0, -10.0, 650.0])
    pts2, _ = cv2.projectPoints(GENERIC_FACE_68, rvec, t, K, np.zeros(5))
    pose = geometry.solve_head_pose(pts2.reshape(-1, 2), GENERIC_FACE_68, K, np.zeros(5))
    assert pose is not None
    assert geometry.rotation_angle_deg(pose.rotation, R) < 0.1
    assert pose.reprojection_error_px < 1e-3
    assert np.allclose(pose.tvec, t, atol=0.5)


@settings(max_examples=30, deadline=None)
@given(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_normalized_gaze_is_rotation_only(theta, phi):
    K = np.array([[900.0, 0, 320], [0, 900.0, 240], [0, 0, 1]])
    centre = np.array([30.0, -20.0, 700.0])
    nw = geometry.normalization(centre, np.eye(3), K, (224, 224), 960.0)
    g = geometry.theta_phi_to_gaze(theta, phi)
    gn = nw.rotate_gaze(g)
    assert np.isclose(np.linalg.norm(gn), 1.0)
    assert np.isclose(geometry.angular_error_deg(gn, nw.rotation @ g), 0.0, atol=1e-6)


def test_undistort_image_matches_opencv_and_reuses_its_tables():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    K = np.array([[150.0, 0, 80], [0, 150.0, 60], [0, 0, 1]])
    dist = np.array([-0.2, 0.05, 0.001, -0.001, 0.0])
    geometry._undistort_maps.cache_clear()
    out = geometry.undistort_image(img, K, dist)
    assert np.array_equal(out, cv2.undistort(img, K, dist))
    geometry.undistort_image(img, K, dist)
    assert geometry._undistort_maps.cache_info().hits == 1  # second frame: no new tables
    assert geometry.undistort_image(img, K, np.zeros(5)) is img  # no distortion: untouched


def _face_warps(K, w, h):
    R = cv2.Rodrigues(np.array([0.15, -0.25, 0.08]))[0]  # a turned head
    face = np.array([25.0, -10.0, 600.0])
    le, re = face + [-32.0, -30.0, 0.0], face + [32.0, -30.0, 0.0]
    return [
        geometry.normalization(face, R, K, (w, h), 1920.0),
        geometry.normalization(face, R, K, (224, 224), 960.0),
        geometry.normalization(le, R, K, (120, 120), 1920.0),
        geometry.normalization(re, R, K, (120, 120), 1920.0),
    ]


def test_undistort_region_gives_the_crops_of_the_whole_frame():
    rng = np.random.default_rng(5)
    w, h = 640, 480
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w), dtype=np.uint8), (5, 5), 0)
    K = np.array([[900.0, 0, 320], [0, 900.0, 240], [0, 0, 1]])
    dist = np.array([-0.12, 0.05, 0.001, -0.001, 0.0])
    warps = _face_warps(K, w, h)
    region = geometry.undistort_region(img, K, dist, warps)
    assert region.image.size < 0.5 * img.size  # only the face's part of the frame
    whole = geometry.undistort_image(img, K, dist)
    for nw in warps:
        a = geometry.warp_image(whole, nw).astype(int)
        b = geometry.warp_image(region, nw).astype(int)
        assert np.abs(a - b).max() <= 1  # same source pixels; a coordinate may round the other way
        assert np.count_nonzero(a != b) <= 0.001 * a.size


def test_undistort_region_edge_cases():
    img = np.full((48, 64), 200, np.uint8)
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    dist = np.array([-0.1, 0.0, 0.0, 0.0, 0.0])
    # no distortion: the frame itself, nothing copied
    assert geometry.undistort_region(img, K, np.zeros(5), _face_warps(K, 64, 48)).image is img
    # a patch looking far outside the frame reads nothing: black, as from the whole frame
    away = geometry.normalization(np.array([5000.0, 0.0, 600.0]), np.eye(3), K, (16, 16), 60.0)
    region = geometry.undistort_region(img, K, dist, [away])
    assert not geometry.warp_image(region, away).any()
    assert not geometry.warp_image(geometry.undistort_image(img, K, dist), away).any()
    # a warp whose preimage reaches behind the camera needs the whole frame
    behind = geometry.NormWarp(
        warp=np.array([[1.0, 0, 0], [0, 1.0, 0], [0.05, 0, 1.0]]),
        rotation=np.eye(3),
        scale=np.eye(3),
        camera=np.eye(3),
        size=(64, 48),
    )
    assert geometry.sampled_region([behind], 64, 48) == (0, 0, 63, 47)
