"""Throughput of the 3D face renderer (``synthetic/face3d.py``) on one core.

Prints frames/s for: geometry only (labels), rendering, rendering + PNG encoding, and the
``gazenet_sample`` per-user task (render + PNG + JSON + truth CSV).

    .venv/bin/python benchmarks/render_throughput.py [--frames 400] [--size 640 480]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from gaze_pipelines.synthetic import gazenet as sample
from gaze_pipelines.synthetic.face3d import (
    Camera,
    FaceRenderer,
    Screen,
    frame_geometry,
    sample_frame,
    sample_user,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    args = ap.parse_args()
    cv2.setNumThreads(1)
    camera = Camera.default(*args.size)
    screen = Screen.below_camera()
    rng = np.random.default_rng(0)
    users = [sample_user(rng, f"p01-{i}") for i in range(4)]
    specs = [sample_frame(rng, users[i % 4], camera, screen) for i in range(args.frames)]
    renderer = FaceRenderer(camera, seed=0)
    png = sample.png_params(1)
    for i in range(4):  # warm the background cache
        renderer.render(users[i], specs[i])

    def rate(fn) -> float:
        start = time.perf_counter()
        for i, spec in enumerate(specs):
            fn(users[i % 4], spec)
        return len(specs) / (time.perf_counter() - start)

    rows = [
        ("geometry only", rate(lambda u, s: frame_geometry(u, s, camera))),
        ("render", rate(renderer.render)),
        ("render + PNG", rate(lambda u, s: cv2.imencode(".png", renderer.render(u, s).image, png))),
    ]
    setup = sample.make_setup(seed=0, set_id="bench", n_users=1, image_size=tuple(args.size))
    start = time.perf_counter()
    sample.render_user(setup, 0, frames_per_user=args.frames, closed_eye_fraction=0.08)
    rows.append(("gazenet_sample user task", args.frames / (time.perf_counter() - start)))
    print(f"renderer throughput, {args.size[0]}x{args.size[1]}, {args.frames} frames, 1 process")
    print(f"{'step':<28}{'frames/s':>10}")
    for name, fps in rows:
        print(f"{name:<28}{fps:>10.1f}")


if __name__ == "__main__":
    main()
