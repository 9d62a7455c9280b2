"""Render a webcam data-collection session with the shared 3D head/eye model (``face3d``).

One user sits in front of a 1920x1080 monitor with a webcam on top and follows a target that
moves across the screen at a fixed speed, as in the reference's collection mode: when the target
reaches its destination a new one is drawn, from ``Beta(a, b)`` per axis when ``focus_edges``
(a, b < 1 push destinations toward the edges), else uniformly; the loop records at
``record_fps`` and saves every ``skip_frames``-th frame. The head drifts and sways slowly and
turns partly toward the target, the screen's brightness ramps up and down (the reference varied
the background between black and grey), the user blinks now and then. Both eyes rotate toward
the target's 3D position on the screen, so the pupils carry the label.

Everything is deterministic in ``seed``. Frames are rendered lazily (one closure per frame), so a
long session never sits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gaze_pipelines.synthetic import face3d as f3

__all__ = ["SessionPlan", "plan_session", "render_session", "target_path"]


def target_path(
    rng: np.random.Generator,
    n_saved: int,
    screen: tuple[int, int],
    record_fps: float = 30.0,
    skip_frames: int = 3,
    speed: float = 280.0,
    focus_edges: bool = True,
    beta: tuple[float, float] = (0.4, 0.4),
) -> np.ndarray:
    """Screen positions (n_saved, 2) of a target moving at ``speed`` px/s between destinations."""
    w, h = screen

    def destination() -> np.ndarray:
        if focus_edges:
            return np.array([rng.beta(*beta) * w, rng.beta(*beta) * h])
        return np.array([rng.uniform(0, w), rng.uniform(0, h)])

    pos = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    dest = destination()
    step = speed / record_fps
    out = np.empty((n_saved, 2))
    frame = 0
    saved = 0
    while saved < n_saved:
        d = dest - pos
        dist = float(np.hypot(*d))
        if dist <= step:
            pos = dest
            dest = destination()
        else:
            pos = pos + d / dist * step
        if frame % skip_frames == 0:
            out[saved] = pos
            saved += 1
        frame += 1
    return np.clip(out, 0, [w, h])


def _smooth_noise(rng: np.random.Generator, n: int, dims: int, corr_frames: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck noise (n, dims) with correlation time ``corr_frames``."""
    a = float(np.exp(-1.0 / max(corr_frames, 1e-6)))
    out = np.empty((n, dims))
    x = rng.standard_normal(dims)
    s = np.sqrt(1 - a * a)
    for i in range(n):
        x = a * x + s * rng.standard_normal(dims)
        out[i] = x
    return out


@dataclass
class SessionPlan:
    """Everything needed to render a session: camera, screen, user and one spec per frame."""

    camera: f3.Camera
    screen: f3.Screen
    user: f3.User
    specs: list[f3.FrameSpec]
    targets_px: np.ndarray
    seed: int
    fps: float


def plan_session(
    seed: int,
    n_frames: int,
    screen_px: tuple[int, int] = (1920, 1080),
    screen_mm: tuple[float, float] = (598.0, 336.0),
    camera_size: tuple[int, int] = (640, 480),
    record_fps: float = 30.0,
    skip_frames: int = 3,
    target_speed: float = 280.0,
    focus_edges: bool = True,
    beta: tuple[float, float] = (0.4, 0.4),
    distance_mm: tuple[float, float] = (500.0, 700.0),
    head_follow: float = 0.35,
    head_sway_deg: float = 4.0,
    head_drift_mm: float = 25.0,
    blink_prob: float = 0.02,
    user_seed: int | None = None,
) -> SessionPlan:
    """Draw the session: target path, head trajectory, blinks, lighting (no rendering yet).

    The user (face shape, look) comes from ``user_seed`` (default ``seed``), so two sessions of
    the same user differ only in what happens during them.
    """
    rng = np.random.default_rng(seed)
    camera = f3.Camera.default(*camera_size)
    screen = f3.Screen.below_camera(screen_mm, screen_px)
    user_seed = seed if user_seed is None else user_seed
    user = f3.sample_user(np.random.default_rng(user_seed), f"webcam-{user_seed}")
    targets = target_path(rng, n_frames, screen_px, record_fps, skip_frames, target_speed,
                          focus_edges, beta)  # fmt: skip
    targets_cam = screen.pixel_to_camera(targets)
    # Head: seated in front of the screen centre, slightly below the camera.
    depth = rng.uniform(*distance_mm)
    ray = camera.ray(np.array([[camera.width * rng.uniform(0.42, 0.58),
                                camera.height * rng.uniform(0.5, 0.62)]]))[0]  # fmt: skip
    base = ray * (depth / ray[2])
    saved_fps = record_fps / skip_frames
    drift = _smooth_noise(rng, n_frames, 3, 8.0 * saved_fps) * head_drift_mm
    drift[:, 2] *= 1.5
    sway = _smooth_noise(rng, n_frames, 3, 3.0 * saved_fps) * np.radians(head_sway_deg)
    sway[:, 2] *= 0.6
    follow = np.clip(
        head_follow + 0.15 * _smooth_noise(rng, n_frames, 1, 5 * saved_fps)[:, 0], 0, 1
    )
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.6, 0.0), -1.0])
    light /= np.linalg.norm(light)
    ambient = float(rng.uniform(0.4, 0.6))
    ramp = np.abs(((np.arange(n_frames) / (20 * saved_fps)) % 2.0) - 1.0)  # screen brightness
    pupil = np.clip(user.face.pupil_radius * (1 + 0.12 * _smooth_noise(rng, n_frames, 1, 40)[:, 0]),
                    1.2, 3.5)  # fmt: skip
    closed = np.zeros(n_frames, bool)
    for start in np.flatnonzero(rng.random(n_frames) < blink_prob):
        closed[start : start + 2] = True
    specs = []
    for i in range(n_frames):
        t = base + drift[i]
        rot = f3.look_rotation(t, follow[i] * targets_cam[i]) @ f3.rotation_from_euler(*sway[i])
        specs.append(
            f3.FrameSpec(
                head_rotation=rot,
                head_translation=t,
                target_cam=targets_cam[i],
                target_px=targets[i],
                eyes_closed=(bool(closed[i]), bool(closed[i])),
                pupil_radius=float(pupil[i]),
                light_dir=light,
                ambient=ambient,
                gain=(0.8 + 0.35 * float(ramp[i]), 0.05, -0.05),
                blur_sigma=0.7,
                noise_sigma=2.5,
                noise_seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return SessionPlan(camera, screen, user, specs, targets, seed, saved_fps)


def render_session(plan: SessionPlan, name_width: int = 6):
    """Lazy frames ``{name: () -> image}``, the targets table and the exact landmarks table.

    Landmarks use the 4 eye corners of the 68-point landmarks and their tight box (the
    ``features.LANDMARK_COLUMNS`` layout).
    """
    from gaze_pipelines.pipelines.webcam.features import FaceLandmarks  # noqa: PLC0415

    renderer = f3.FaceRenderer(plan.camera, seed=plan.seed)
    names = [f"{i:0{name_width}d}" for i in range(len(plan.specs))]
    frames = {
        n: (lambda s=s: renderer.render(plan.user, s).image)
        for n, s in zip(names, plan.specs, strict=True)
    }
    targets = pd.DataFrame({"frame": names, "x": plan.targets_px[:, 0].round(2),
                            "y": plan.targets_px[:, 1].round(2)})  # fmt: skip
    rows = []
    for n, s in zip(names, plan.specs, strict=True):
        geo = f3.frame_geometry(plan.user, s, plan.camera)
        lm = FaceLandmarks.from_68(geo["landmarks_2d"], geo["face_bbox_tight"])
        rows.append({"frame": n, **{k: round(v, 3) for k, v in lm.to_row().items()}})
    return frames, targets, pd.DataFrame(rows)
