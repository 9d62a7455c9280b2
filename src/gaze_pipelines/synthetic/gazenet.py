"""The embedded GazeNet sample: a TAO-layout set rendered with :mod:`.face3d`.

Layout written (relative to ``<data_root>/<set_id>/``, DESIGN.md section 2)::

    Data/<user>/frame<k>_<x>_<y>_vc0_02.png       screen target pixel (x, y) in the name
    Config/camera_parameters.txt, R.txt, T.txt, TV_size (or board_size.txt), resolution.txt
    json_datafactory_v2/<set_id>_<user>.json      DataFactory v2 labels
    synthetic_truth/<set_id>_<user>.csv           the rendered truth (head pose, eyes, gaze)

Labels follow TAO's conventions: ``FaceBbox`` (tight box = the 68 landmarks, outer box adds the
forehead), ``FiducialPoints`` P1-P68 from the rendered landmarks and P69-P104 marked
``PNoccluded: true``, ``eyes`` in the labeller's (image) view: ``l_*`` is the eye on the image
left, i.e. the subject's right eye (TAO swaps them back when reading). Every number in
``Config/`` is rendered with exactly the value written to the text file.

Rendering is deterministic by seed: user ``i`` draws from ``default_rng([seed, 1, i])``, so a
user's frames do not depend on how many users are rendered or on the worker pool.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import cv2
import numpy as np

from gaze_pipelines.core.progress import log_throughput, progress
from gaze_pipelines.synthetic.face3d import (
    Camera,
    FaceRenderer,
    RenderResult,
    Screen,
    User,
    sample_frame,
    sample_user,
)

logger = logging.getLogger(__name__)

N_FIDUCIAL = 104
TOOL_VERSION = "1.0"


# --------------------------------------------------------------------------- Config/ texts


def _g(value: float) -> str:
    return f"{float(value):.6g}"


def format_camera_parameters(K: np.ndarray, dist: np.ndarray) -> str:
    """TAO's ``camera_parameters.txt``: 3 comma-separated K rows (trailing space), blank line,
    then the distortion coefficients one per line."""
    rows = "".join(",".join(_g(v) for v in row) + " \n" for row in np.asarray(K).reshape(3, 3))
    return rows + "\n" + "".join(_g(v) + "\n" for v in np.asarray(dist).reshape(-1)[:5])


def format_rotation(R: np.ndarray) -> str:
    """TAO's ``R.txt``: 3 comma-separated rows."""
    return "".join(",".join(_g(v) for v in row) + "\n" for row in np.asarray(R).reshape(3, 3))


def format_translation(T: np.ndarray) -> str:
    """TAO's ``T.txt``: 3 lines, mm."""
    return "".join(f"{float(v):.4f}\n" for v in np.asarray(T).reshape(3))


def format_pair(a: float, b: float) -> str:
    """TAO's ``TV_size`` / ``board_size.txt`` / ``resolution.txt``: two lines, no final newline."""
    return f"{_g(a)}\n{_g(b)}"


def config_files(camera: Camera, screen: Screen, size_file: str = "TV_size") -> dict[str, str]:
    """The ``Config/`` texts of a set, by file name."""
    if size_file not in ("TV_size", "board_size.txt"):
        raise ValueError(f"size_file must be 'TV_size' or 'board_size.txt', got '{size_file}'")
    return {
        "camera_parameters.txt": format_camera_parameters(camera.K, camera.dist),
        "R.txt": format_rotation(screen.R),
        "T.txt": format_translation(screen.T),
        size_file: format_pair(*screen.size_mm),
        "resolution.txt": format_pair(*screen.resolution),
    }


def _numbers(text: str) -> np.ndarray:
    return np.array([float(t) for t in text.replace(",", " ").split()], np.float64)


def as_written(camera: Camera, screen: Screen) -> tuple[Camera, Screen]:
    """Camera and screen with exactly the numbers their Config texts hold (text round trip)."""
    files = config_files(camera, screen)
    cam_vals = _numbers(files["camera_parameters.txt"])
    cam = Camera(
        K=cam_vals[:9].reshape(3, 3), dist=cam_vals[9:14], width=camera.width, height=camera.height
    )
    size = _numbers(files["TV_size"])
    res = _numbers(files["resolution.txt"])
    scr = Screen(
        R=_numbers(files["R.txt"]).reshape(3, 3),
        T=_numbers(files["T.txt"]),
        size_mm=(float(size[0]), float(size[1])),
        resolution=(int(res[0]), int(res[1])),
    )
    return cam, scr


# --------------------------------------------------------------------------- set set-up


@dataclass(frozen=True)
class SampleSetup:
    """Everything shared by the users of a rendered set."""

    set_id: str
    seed: int
    camera: Camera
    screen: Screen
    users: tuple[User, ...]
    size_file: str = "TV_size"
    distance_mm: tuple[float, float] = (400.0, 900.0)


def make_setup(
    seed: int,
    set_id: str,
    n_users: int,
    image_size: tuple[int, int] = (640, 480),
    screen_size_mm: tuple[float, float] = (598.0, 336.0),
    screen_resolution: tuple[int, int] = (1920, 1080),
    size_file: str = "TV_size",
    user_id_format: str = "p01-{index}",
    distance_mm: tuple[float, float] = (400.0, 900.0),
    generic_face: bool = False,
) -> SampleSetup:
    """Draw the camera, the screen pose (on top of which the camera sits) and the users."""
    rng = np.random.default_rng([seed, 0])
    camera = Camera.sample(rng, *image_size)
    screen = Screen.below_camera(
        size_mm=screen_size_mm,
        resolution=screen_resolution,
        camera_offset_mm=(
            float(rng.uniform(-25, 25)),
            float(rng.uniform(10, 40)),
            float(rng.uniform(-15, 15)),
        ),
        tilt_deg=float(rng.uniform(-4, 10)),
    )
    camera, screen = as_written(camera, screen)
    users = tuple(
        sample_user(
            np.random.default_rng([seed, 1, i]),
            user_id_format.format(index=i, number=i + 1),
            generic_shape=generic_face,
        )
        for i in range(n_users)
    )
    ids = [u.user_id for u in users]
    if len(set(ids)) != len(ids):
        raise ValueError(f"user_id_format '{user_id_format}' gives duplicate user ids: {ids}")
    return SampleSetup(set_id, seed, camera, screen, users, size_file, tuple(distance_mm))


# --------------------------------------------------------------------------- labels


def frame_name(k: int, target_px: np.ndarray) -> str:
    """TAO-style frame file name: the first two integer tokens are the target pixel."""
    return f"frame{k}_{int(target_px[0])}_{int(target_px[1])}_vc0_02.png"


def datafactory_frame(filename: str, r: RenderResult) -> dict:
    """One DataFactory v2 frame entry for a render (see the module docstring)."""
    tx, ty, tw, th = (float(v) for v in r.face_bbox_tight)
    ox, oy, ow, oh = (float(v) for v in r.face_bbox_outer)
    face = {
        "Occlusionx": 0.0,
        "class": "FaceBbox",
        "face_outer_bboxheight": oh,
        "face_outer_bboxwidth": ow,
        "face_outer_bboxx": ox,
        "face_outer_bboxy": oy,
        "face_tight_bboxheight": th,
        "face_tight_bboxwidth": tw,
        "face_tight_bboxx": tx,
        "face_tight_bboxy": ty,
        "tool-version": TOOL_VERSION,
    }
    fid: dict = {"class": "FiducialPoints", "tool-version": TOOL_VERSION, "version": "v1"}
    centre = r.landmarks_2d.mean(axis=0)
    for i in range(N_FIDUCIAL):
        x, y = r.landmarks_2d[i] if i < 68 else centre
        fid[f"P{i + 1}x"] = float(x)
        fid[f"P{i + 1}y"] = float(y)
        if i >= 68:
            fid[f"P{i + 1}occluded"] = True
    (rx, ry), (lx, ly) = r.pupil_centres_2d
    right_status, left_status = r.eye_status
    eyes = {  # labeller's view: "l" = image left = the subject's right eye
        "class": "eyes",
        "l_eyex": float(rx),
        "l_eyey": float(ry),
        "l_status": right_status,
        "r_eyex": float(lx),
        "r_eyey": float(ly),
        "r_status": left_status,
        "tool-version": TOOL_VERSION,
    }
    return {"annotations": [face, fid, eyes], "class": "image", "filename": filename}


TRUTH_COLUMNS = (
    ["filename", "target_px_x", "target_px_y", "target_cam_x", "target_cam_y", "target_cam_z"]
    + [f"head_R{i}{j}" for i in range(3) for j in range(3)]
    + ["head_t_x", "head_t_y", "head_t_z", "hp_pitch", "hp_yaw", "hp_roll"]
    + [f"{e}_{q}_{a}" for e in ("re", "le") for q in ("eyeball", "pupil", "gaze") for a in "xyz"]
    + ["face_centre_x", "face_centre_y", "face_centre_z", "gaze_x", "gaze_y", "gaze_z"]
    + ["right_eye_status", "left_eye_status", "pupil_radius_mm"]
)


def truth_row(filename: str, r: RenderResult) -> list:
    """The rendered truth of a frame (camera mm, degrees), in ``TRUTH_COLUMNS`` order."""
    eyes = []
    for e in range(2):
        eyes += [*r.eyeball_centres_3d[e], *r.pupil_centres_3d[e], *r.gaze_vectors[e]]
    px = r.target_px if r.target_px is not None else (np.nan, np.nan)
    row = [filename, *px, *r.target_cam, *r.head_rotation.reshape(-1), *r.head_translation]
    row += [*r.head_pitch_yaw_roll_deg, *eyes, *r.face_centre_3d, *r.gaze_mean]
    row += [*r.eye_status, r.pupil_radius]
    return [v if isinstance(v, str) else float(v) for v in row]


# --------------------------------------------------------------------------- rendering


def png_params(level: int = 1) -> list[int]:
    """``cv2.imencode`` options for frames: SUB filter + Huffman-only deflate, about twice as
    fast as zlib's defaults and smaller on these noisy frames (lossless either way)."""
    return [
        cv2.IMWRITE_PNG_COMPRESSION,
        int(level),
        cv2.IMWRITE_PNG_FILTER,
        cv2.IMWRITE_PNG_FILTER_SUB,
        cv2.IMWRITE_PNG_STRATEGY,
        cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
    ]


def render_user(
    setup: SampleSetup,
    index: int,
    frames_per_user: int,
    closed_eye_fraction: float,
    png_compression: int = 1,
) -> dict[str, bytes]:
    """Render one user's frames: ``{relative path: bytes}`` (PNGs, JSON labels, truth CSV)."""
    user = setup.users[index]
    rng = np.random.default_rng([setup.seed, 2, index])
    renderer = FaceRenderer(setup.camera, seed=setup.seed)
    files: dict[str, bytes] = {}
    labels = []
    truth = io.StringIO()
    writer = csv.writer(truth, lineterminator="\n")
    writer.writerow(TRUTH_COLUMNS)
    n_closed = int(round(closed_eye_fraction * frames_per_user))
    closed = np.zeros(frames_per_user, bool)
    closed[rng.permutation(frames_per_user)[:n_closed]] = True
    params = png_params(png_compression)
    for k in range(frames_per_user):
        spec = sample_frame(
            rng,
            user,
            setup.camera,
            setup.screen,
            closed_eye_prob=1.0 if closed[k] else 0.0,
            distance_mm=setup.distance_mm,
        )
        out = renderer.render(user, spec)
        name = frame_name(k, spec.target_px)
        ok, png = cv2.imencode(".png", out.image, params)
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
            raise RuntimeError(f"cannot encode {name}")
        files[f"Data/{user.user_id}/{name}"] = png.tobytes()
        labels.append(datafactory_frame(f"{user.user_id}/{name}", out))
        writer.writerow(truth_row(name, out))
    stem = f"{setup.set_id}_{user.user_id}"
    files[f"json_datafactory_v2/{stem}.json"] = json.dumps(labels, indent=4).encode("utf-8")
    files[f"synthetic_truth/{stem}.csv"] = truth.getvalue().encode("utf-8")
    return files


# Below this many frames a process pool costs more (spawn start-up, ~1-2 s) than it saves.
MIN_FRAMES_FOR_POOL = 300


def _worker_count(workers: int, n_users: int, n_frames: int) -> int:
    if workers == 0 and n_frames < MIN_FRAMES_FOR_POOL:
        return 1
    n = workers if workers > 0 else (os.cpu_count() or 1)
    return max(1, min(n, n_users))


def render_set(
    setup: SampleSetup,
    frames_per_user: int,
    closed_eye_fraction: float,
    workers: int = 0,
    png_compression: int = 1,
) -> dict[str, bytes]:
    """Render every user and return the set's files, Config included.

    One task per user on a ``spawn`` process pool; ``workers`` 0 = one per CPU core (tiny sets,
    under ``MIN_FRAMES_FOR_POOL`` frames, render in this process), 1 = in this process.
    """
    n_users = len(setup.users)
    n = _worker_count(workers, n_users, n_users * frames_per_user)
    files: dict[str, bytes] = {
        f"Config/{name}": text.encode("utf-8")
        for name, text in config_files(setup.camera, setup.screen, setup.size_file).items()
    }
    start = time.perf_counter()
    args = (frames_per_user, closed_eye_fraction, png_compression)
    desc = f"gazenet_sample {setup.set_id}"
    if n == 1:
        for i in progress(range(n_users), desc=desc, total=n_users, unit="user"):
            files.update(render_user(setup, i, *args))
    else:
        ctx = multiprocessing.get_context("spawn")  # safe next to TensorFlow's threads
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            futures = [pool.submit(render_user, setup, i, *args) for i in range(n_users)]
            for fut in progress(as_completed(futures), desc=desc, total=n_users, unit="user"):
                files.update(fut.result())
    log_throughput(
        f"{desc} ({n} worker{'s' if n > 1 else ''})",
        n_users * frames_per_user,
        time.perf_counter() - start,
        "frame",
    )
    return dict(sorted(files.items()))
