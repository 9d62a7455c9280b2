"""MPIIFaceGaze native layout as a ``gazenet_data`` source: calibration, labels, rejects, geometry.

The tiny tree mimics the real one (``pXX/pXX.txt``, ``pXX/dayNN/NNNN.jpg``,
``pXX/Calibration/{Camera,monitorPose,screenSize}.mat``); landmarks are MPII's 6 points projected
from the generic face model at a known head pose, so PnP must give that pose back.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core import crops, geometry
from gaze_pipelines.core.face_model import EYEBALL_CENTRES, GENERIC_FACE_68
from gaze_pipelines.datasets.gazenet_raw import GazeNetRawDataset, RawSet
from gaze_pipelines.pipelines.gazenet import mpii
from gaze_pipelines.pipelines.gazenet.nodes_data import (
    build_frame_table,
    compute_geometry,
    ingest_labels,
    normalize_frames,
)
from gaze_pipelines.pipelines.gazenet.tao_format import ConfigError

W, H = 640, 480
SCREEN_PX = (1280, 800)
SCREEN_MM = (331.0, 207.0)
TAO_KEYS = {
    "set_id", "user", "frame", "image_path", "source", "target_x", "target_y",
    "face_x1", "face_y1", "face_x2", "face_y2", "landmarks", "landmarks_occ",
    "num_keypoints", "left_eye_status", "right_eye_status",
}  # fmt: skip
GOOD = ("day01/0001.jpg", "day01/0002.jpg", "day02/0001.jpg")  # day02/0001 shares a base name


def _camera(user: int) -> tuple[np.ndarray, np.ndarray]:
    K = np.array([[620.0 + 40 * user, 0, 320 + 5 * user], [0, 625.0 + 40 * user, 240], [0, 0, 1]])
    dist = np.array([0.0, 0.0, 0.0, 0.0, 0.0]) if user == 0 else np.array([0.04, -0.08, 0, 0, 0])
    return K, dist


def _monitor(user: int) -> tuple[np.ndarray, np.ndarray]:
    """Screen below the camera, facing the user: screen x = -camera x, slightly tilted."""
    rvec = cv2.Rodrigues(
        cv2.Rodrigues(np.array([0.0, np.pi, 0.0]))[0]
        @ cv2.Rodrigues(np.array([0.08 + 0.02 * user, 0, 0]))[0]
    )[0]
    return rvec.reshape(3), np.array([SCREEN_MM[0] / 2, 12.0 + 3 * user, -4.0])


def _truth(user: int, k: int) -> dict:
    rng = np.random.default_rng(100 * user + k)
    rvec = np.deg2rad(rng.uniform([-12, -20, -6], [12, 20, 6]))
    R = cv2.Rodrigues(rvec)[0]
    t = np.array([rng.uniform(-40, 40), rng.uniform(-10, 30), rng.uniform(480, 620)])
    target_px = np.array(
        [rng.integers(100, SCREEN_PX[0] - 100), rng.integers(80, SCREEN_PX[1] - 80)]
    )
    return {"R": R, "rvec": rvec, "t": t, "target_px": target_px}


def _line(rel: str, user: int, truth: dict) -> str:
    K, dist = _camera(user)
    pts3 = GENERIC_FACE_68[list(mpii.MPII_TO_68)] @ truth["R"].T + truth["t"]
    pts2 = geometry.project_points(pts3, K, dist)
    mr, mt = _monitor(user)
    x, y = truth["target_px"]
    scr = np.array([x * SCREEN_MM[0] / SCREEN_PX[0], y * SCREEN_MM[1] / SCREEN_PX[1], 0.0])
    gt = cv2.Rodrigues(mr)[0] @ scr + mt  # MPII: target on the screen plane (z = 0)
    fc = pts3.mean(axis=0)
    values = [f"{x:d}", f"{y:d}"] + [f"{v:.3f}" for v in pts2.reshape(-1)]
    values += [f"{v:.4f}" for v in (*truth["rvec"], *truth["t"], *fc, *gt)]
    return " ".join([rel, *values, "left"])


def _write_tree(root: Path, n_users: int = 2) -> dict:
    truths = {}
    blank = np.full((H, W, 3), 90, np.uint8)
    for u in range(n_users):
        user = f"p{u:02d}"
        folder = root / user
        (folder / "Calibration").mkdir(parents=True)
        K, dist = _camera(u)
        mr, mt = _monitor(u)
        scipy.io.savemat(
            folder / "Calibration" / "Camera.mat",
            {"cameraMatrix": K, "distCoeffs": dist.reshape(1, 5), "retval": 0.3},
        )
        scipy.io.savemat(
            folder / "Calibration" / "monitorPose.mat",
            {"rvects": mr.reshape(3, 1), "tvecs": mt.reshape(3, 1)},
        )
        scipy.io.savemat(
            folder / "Calibration" / "screenSize.mat",
            {"height_pixel": SCREEN_PX[1], "width_pixel": SCREEN_PX[0], "height_mm": SCREEN_MM[1], "width_mm": SCREEN_MM[0]},
        )  # fmt: skip
        lines = []
        for k, rel in enumerate(GOOD):
            truths[(user, rel)] = _truth(u, k)
            lines.append(_line(rel, u, truths[(user, rel)]))
        images = list(GOOD)
        if u == 0:
            bad = _line("day02/0002.jpg", u, _truth(u, 7)).rsplit(" ", 2)[0]  # 26 fields
            nan = _line("day02/0003.jpg", u, _truth(u, 8)).split(" ")
            nan[5] = "nan"
            lines += [bad, " ".join(nan), _line("day03/0009.jpg", u, _truth(u, 9))]
            images += ["day02/0002.jpg", "day02/0003.jpg", "day02/0004.jpg"]  # 0004: no label
        for rel in images:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / rel), blank)
        (folder / f"{user}.txt").write_text("\n".join(lines) + "\n")
    return truths


@pytest.fixture
def mpii_tree(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "MPIIFaceGaze"
    return root, _write_tree(root)


def _load(root: Path):
    return GazeNetRawDataset(path=str(root)).load()


def test_calibration_becomes_one_config_per_user(mpii_tree):
    root, _ = mpii_tree
    raw = _load(root)["MPIIFaceGaze"]
    configs, _, _ = mpii.ingest_mpii_set(raw)
    assert sorted(configs) == ["MPIIFaceGaze/p00", "MPIIFaceGaze/p01"]
    for u in (0, 1):
        cfg = configs[f"MPIIFaceGaze/p0{u}"]
        K, dist = _camera(u)
        mr, mt = _monitor(u)
        R = cv2.Rodrigues(mr)[0]
        assert np.allclose(cfg.K, K) and np.allclose(cfg.dist, dist)
        assert np.allclose(cfg.R, R)
        assert cfg.screen_mm == SCREEN_MM and cfg.screen_px == SCREEN_PX
        # TAO's formula (homogeneous 1) with T = tvecs - R[:, 2] equals MPII's on-plane target.
        px = np.array([[640.0, 400.0]])
        scr = np.array([640 * SCREEN_MM[0] / SCREEN_PX[0], 400 * SCREEN_MM[1] / SCREEN_PX[1], 0])
        g = geometry.screen_to_camera(px, cfg.R, cfg.T, cfg.screen_mm, cfg.screen_px)[0]
        assert np.allclose(g, R @ scr + mt)


def test_rows_rejects_and_landmark_layout(mpii_tree):
    root, truths = mpii_tree
    configs, rows, rejects = mpii.ingest_mpii_set(_load(root)["MPIIFaceGaze"])
    assert len(rows) == 6
    assert all(set(r) == TAO_KEYS | {"pnp_indices"} for r in rows)
    frames = {(r["user"], r["frame"]) for r in rows}
    assert ("p00", "day01_0001") in frames and ("p00", "day02_0001") in frames
    row = next(r for r in rows if r["user"] == "p01" and r["frame"] == "day01_0002")
    assert row["set_id"] == "MPIIFaceGaze" and row["source"] == "mpiifacegaze"
    assert row["image_path"].endswith("p01/day01/0002.jpg")
    lm = row["landmarks"].reshape(104, 2)
    occ = row["landmarks_occ"]
    assert row["landmarks"].dtype == np.float64 and occ.dtype == np.int64 and occ.shape == (104,)
    assert set(np.flatnonzero(occ == 0)) == {36, 39, 42, 45, 48, 54}
    assert np.all(occ[:68][occ[:68] != 0] == 1) and np.all(occ[68:] == -1)
    assert np.all(lm[occ != 0] == -1)
    # Subject's right eye is image left (not mirrored): 36 (outer) < 39 < 42 < 45 (outer) in x.
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0] and lm[48, 0] < lm[54, 0]
    K, dist = _camera(1)
    truth = truths[("p01", "day01/0002.jpg")]
    expected = geometry.project_points(GENERIC_FACE_68 @ truth["R"].T + truth["t"], K, dist)
    assert np.allclose(lm[[36, 39, 42, 45, 48, 54]], expected[[36, 39, 42, 45, 48, 54]], atol=1e-3)
    assert (row["target_x"], row["target_y"]) == tuple(float(v) for v in truth["target_px"])
    codes = {(r["user"], r["frame"]): r["reason"].split(":")[0] for r in rejects}
    assert codes == {
        ("p00", "day02_0002"): "bad_line",
        ("p00", "day02_0003"): "bad_value",
        ("p00", "day03_0009"): "missing_image",
        ("p00", "day02_0004"): "unlabelled_frame",
    }
    assert all(r["stage"] == "ingest" and r["set_id"] == "MPIIFaceGaze" for r in rejects)
    assert "p00/p00.txt line 4" in next(r["reason"] for r in rejects if r["frame"] == "day02_0002")


@pytest.mark.parametrize(
    "rvec,min_iou",
    [
        ([0, 0, 0], 0.95),
        ([0.15, 0.3, 0.05], 0.65),
        ([-0.2, -0.35, -0.1], 0.65),
        ([0, 0, 0.4], 0.65),
    ],
)
def test_face_box_approximates_the_squared_68_point_box(rvec, min_iou):
    K = np.array([[650.0, 0, 320], [0, 650.0, 240], [0, 0, 1]])
    R = cv2.Rodrigues(np.array(rvec, float))[0]
    pts = geometry.project_points(GENERIC_FACE_68 @ R.T + [10.0, 20.0, 550.0], K)
    x1, y1, x2, y2 = mpii.face_box_from_points(pts[list(mpii.MPII_TO_68)])
    centre, side = (pts.min(axis=0) + pts.max(axis=0)) / 2, np.ptp(pts, axis=0).max()
    (bx1, by1), (bx2, by2) = centre - side / 2, centre + side / 2
    inter = max(0, min(x2, bx2) - max(x1, bx1)) * max(0, min(y2, by2) - max(y1, by1))
    union = (x2 - x1) * (y2 - y1) + side**2 - inter
    assert inter / union > min_iou
    assert abs((x2 - x1) / side - 1) < 0.1


def test_pipeline_nodes_recover_pose_and_gaze(mpii_tree, tmp_path):
    root, truths = mpii_tree
    params = {"data_root_path": str(root), "workers": 1}
    labels, configs, rejects = ingest_labels(_load(root), params)
    assert len(labels) == 6 and len(rejects) == 4
    frames, ft_rejects = build_frame_table(labels, configs)
    assert ft_rejects.empty and len(frames) == 6
    assert (frames["num_eyes_detected"] == 2).all()
    assert (frames["facebbx_x"] >= 0).all() and (
        frames["facebbx_x"] + frames["facebbx_w"] <= W
    ).all()
    geo = compute_geometry(frames, configs)
    assert (geo["valid_theta_phi"] == 1).all(), geo["invalid_reason"].tolist()
    for row in geo.itertuples():
        truth = truths[(row.user, row.frame.replace("_", "/") + ".jpg")]
        R = np.asarray(row.head_rotation).reshape(3, 3)
        assert geometry.rotation_angle_deg(R, truth["R"]) < 2.0
        assert row.reprojection_error_px < 0.05
        K, dist = _camera(int(row.user[1:]))
        mr, mt = _monitor(int(row.user[1:]))
        x, y = truth["target_px"]
        scr = np.array([x * SCREEN_MM[0] / SCREEN_PX[0], y * SCREEN_MM[1] / SCREEN_PX[1], 0.0])
        gt = cv2.Rodrigues(mr)[0] @ scr + mt
        assert np.allclose([row.gaze_cam_x, row.gaze_cam_y, row.gaze_cam_z], gt, atol=1e-6)
        re_cam, le_cam = EYEBALL_CENTRES @ truth["R"].T + truth["t"]
        for got, eye in (
            ((row.theta_le, row.phi_le), le_cam),
            ((row.theta_re, row.phi_re), re_cam),
        ):
            assert np.allclose(got, geometry.gaze_to_theta_phi(gt - eye), atol=2e-3)
        # Eye features: given corners normalized, absent eyelid points stay -1.
        ef = np.asarray(row.eye_features)
        assert np.allclose(ef[[0, 1]], 0) and np.isclose(np.hypot(*ef[6:8]), 1)  # left: 42, 45
        assert np.all(ef[[2, 3, 4, 5, 8, 9, 10, 11]] == -1)
        assert np.allclose(ef[[28, 29]], 0) and np.isclose(np.hypot(*ef[34:36]), 1)  # right
    norm, images, norm_rejects = normalize_frames(geo, configs, params)
    assert norm_rejects.empty and len(norm) == 6
    assert norm["norm_frame_path"].is_unique
    assert "MPIIFaceGaze/Norm_Data_mpiifacegaze/face/p00/day02_0001.png" in images
    assert "MPIIFaceGaze/Norm_Data_mpiifacegaze/face/p00/day01_0001.png" in images


def test_six_point_pnp_is_not_refused_and_tao_path_is_unchanged(mpii_tree):
    root, _ = mpii_tree
    labels, configs, _ = ingest_labels(_load(root), {"data_root_path": str(root)})
    frames, _ = build_frame_table(labels, configs)
    without = compute_geometry(frames.drop(columns=["pnp_indices"]), configs)
    assert (without["invalid_reason"] == "pnp_failed").all()  # TAO's 51 points: 45 absent


@pytest.mark.parametrize("name", mpii.CALIBRATION_FILES)
def test_missing_calibration_file_is_a_config_error(mpii_tree, name):
    root, _ = mpii_tree
    (root / "p01" / "Calibration" / name).unlink()
    with pytest.raises(ConfigError, match=rf"p01/Calibration/{name}: missing"):
        ingest_labels(_load(root), {"data_root_path": str(root)})


def test_corrupt_calibration_is_a_config_error_naming_the_file(mpii_tree):
    root, _ = mpii_tree
    (root / "p00" / "Calibration" / "screenSize.mat").write_bytes(b"MATLAB 5.0 not really")
    with pytest.raises(ConfigError, match=r"p00/Calibration/screenSize.mat: not a readable"):
        mpii.ingest_mpii_set(_load(root)["MPIIFaceGaze"])
    scipy.io.savemat(root / "p00" / "Calibration" / "screenSize.mat", {"width_pixel": 1280})
    with pytest.raises(ConfigError, match=r"screenSize.mat: no variable 'width_mm'"):
        mpii.ingest_mpii_set(_load(root)["MPIIFaceGaze"])
    scipy.io.savemat(root / "p00" / "Calibration" / "Camera.mat", {"cameraMatrix": np.eye(2)})
    with pytest.raises(ConfigError, match=r"Camera.mat: 'cameraMatrix' needs 9 values"):
        mpii.ingest_mpii_set(_load(root)["MPIIFaceGaze"])


def test_readme_spelling_rvecs_and_integer_landmarks_are_accepted(mpii_tree):
    root, _ = mpii_tree
    mr, mt = _monitor(1)
    scipy.io.savemat(root / "p01" / "Calibration" / "monitorPose.mat", {"rvecs": mr, "tvecs": mt})
    txt = root / "p01" / "p01.txt"
    lines = []
    for line in txt.read_text().splitlines():
        tok = line.split()
        tok[3:15] = [str(round(float(v))) for v in tok[3:15]]  # MPII stores integer pixels
        lines.append(" ".join(tok))
    txt.write_text("\n".join(lines))
    configs, rows, rejects = mpii.ingest_mpii_set(_load(root)["MPIIFaceGaze"])
    assert np.allclose(configs["MPIIFaceGaze/p01"].R, cv2.Rodrigues(mr)[0])
    assert len([r for r in rows if r["user"] == "p01"]) == 3
    assert not [r for r in rejects if r["user"] == "p01"]


def test_missing_label_file_rejects_every_image(mpii_tree):
    root, _ = mpii_tree
    (root / "p01" / "p01.txt").unlink()
    raw = _load(root)["MPIIFaceGaze"]
    _, rows, rejects = mpii.ingest_mpii_set(raw)
    p01 = [r for r in rejects if r["user"] == "p01"]
    assert not [r for r in rows if r["user"] == "p01"]
    assert len(p01) == 3 and all(r["reason"].startswith("unlabelled_frame:") for r in p01)
    assert "(file missing)" in p01[0]["reason"]


def test_eye_features_keep_tao_values_for_full_landmarks():
    lm = np.arange(208, dtype=float).reshape(104, 2) + 10
    f = crops.eye_features(lm, use_pupils=False)
    assert np.all(f[:12] != -1) and np.all(f[12:28] == -1)


def _calibration_bytes() -> dict[str, bytes]:
    out = {}
    K, dist = _camera(0)
    mr, mt = _monitor(0)
    screen = {"height_pixel": 800, "width_pixel": 1280, "height_mm": 207.0, "width_mm": 331.0}
    for name, data in (
        ("Camera.mat", {"cameraMatrix": K, "distCoeffs": dist.reshape(1, 5)}),
        ("monitorPose.mat", {"rvects": mr, "tvecs": mt}),
        ("screenSize.mat", screen),
    ):
        buf = io.BytesIO()
        scipy.io.savemat(buf, data)
        out[name] = buf.getvalue()
    return out


CALIBRATION = _calibration_bytes()
GOOD_LINE = _line("day01/0001.jpg", 0, _truth(0, 0))
_token = st.one_of(
    st.sampled_from(GOOD_LINE.split()),
    st.sampled_from(["nan", "inf", "-3", "1e400", "left", "./", "/", ".", "..", "day01/0001.jpg"]),
    st.text(alphabet="0123456789.-eE /\\", max_size=8),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_token, max_size=32).map(" ".join), max_size=6), st.binary(max_size=40))
def test_fuzzed_label_files_never_crash(lines, junk):
    content = ("\n".join([GOOD_LINE, *lines])).encode() + junk
    raw = RawSet(
        set_id="M", root="/r", layout="mpiifacegaze", label_files={"p00.txt": content},
        extra={"p00": CALIBRATION}, frames={"p00": {"day01/0001.jpg": "/r/p00/day01/0001.jpg"}},
    )  # fmt: skip
    _, rows, rejects = mpii.ingest_mpii_set(raw)
    assert all(set(r) == TAO_KEYS | {"pnp_indices"} for r in rows)
    assert all(np.all(np.isfinite(r["landmarks"])) and r["face_x2"] > r["face_x1"] for r in rows)
    assert all(re.match(r"^[a-z_]+: .+", r["reason"]) for r in rejects)
