"""Nodes of ``webcam_sample``: render the collection session and the inference demo clip."""

from __future__ import annotations

from typing import Any

from gaze_pipelines.datasets.webcam import WebcamSession
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.synthetic.webcam import plan_session, render_session


def _render(webcam: dict[str, Any], n_frames: int, seed: int, landmarks: bool) -> WebcamSession:
    p = validate_params(webcam)
    s = p.sample
    plan = plan_session(
        seed, n_frames, (p.screen.width, p.screen.height), (p.screen.width_mm, p.screen.height_mm),
        (s.camera_width, s.camera_height), s.record_fps, s.skip_frames, s.target_speed,
        s.focus_edges, (s.beta_a, s.beta_b), s.distance_mm, s.head_follow, s.head_sway_deg,
        s.head_drift_mm, s.blink_prob, user_seed=s.seed,
    )  # fmt: skip
    frames, targets, table = render_session(plan)
    return WebcamSession(frames, targets, table if landmarks else None, plan.fps, "rendered")


def render_collection_session(webcam: dict[str, Any]) -> WebcamSession:
    """The rendered collection session (frames, targets; exact landmarks when asked)."""
    s = validate_params(webcam).sample
    return _render(webcam, s.n_frames, s.seed, s.write_landmarks)


def render_demo_clip(webcam: dict[str, Any]) -> WebcamSession:
    """A short clip of the same user for ``webcam_inference`` (targets kept, no landmarks)."""
    s = validate_params(webcam).sample
    return _render(webcam, max(s.clip_frames, 1), s.seed + 1000, False)
