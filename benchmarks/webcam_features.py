"""Throughput of the webcam feature extraction: rendered frames -> the reference's crops.

Usage: ``python benchmarks/webcam_features.py [--frames 200] [--detector hog|cnn]``. Renders a
session with the shared 3D head model, then times, per frame, (a) rendering, (b) feature
extraction from known landmarks (a ``landmarks.csv``) and (c) dlib detection + 5-point landmarks
+ extraction, and prints frames/s and the eye-corner error of dlib against the renderer's truth.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gaze_pipelines.pipelines.webcam.features import (
    DlibLandmarker,
    FaceLandmarks,
    FeatureError,
    extract_features,
)
from gaze_pipelines.synthetic.webcam import plan_session, render_session


def main() -> None:
    """Render, extract, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--detector", choices=("hog", "cnn"), default="hog")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    plan = plan_session(args.seed, args.frames)
    frames, _, table = render_session(plan)
    t = time.perf_counter()
    images = [frames[n]() for n in frames]
    render_s = time.perf_counter() - t
    truth = [FaceLandmarks.from_row(r) for r in table.to_dict("records")]
    t = time.perf_counter()
    for img, lm in zip(images, truth, strict=True):
        extract_features(img, lm)
    file_s = time.perf_counter() - t
    detector = DlibLandmarker(args.detector)
    errors, misses = [], 0
    t = time.perf_counter()
    for img, lm in zip(images, truth, strict=True):
        try:
            found = detector(img)
        except FeatureError:
            misses += 1
            continue
        extract_features(img, found)
        errors.append(
            max(np.abs(found.l_eye - lm.l_eye).max(), np.abs(found.r_eye - lm.r_eye).max())
        )
    dlib_s = time.perf_counter() - t
    n = len(images)
    print(f"{'step':<34}{'frames/s':>10}{'ms/frame':>10}")
    for name, secs in (("render (face3d, 640x480)", render_s),
                       ("features from landmarks.csv", file_s),
                       (f"dlib {args.detector} + 5-point + features", dlib_s)):  # fmt: skip
        print(f"{name:<34}{n / secs:>10.1f}{1000 * secs / n:>10.2f}")
    if errors:
        print(f"\ndlib found {n - misses}/{n} faces; eye-corner error vs the renderer: "
              f"median {np.median(errors):.2f} px, max {np.max(errors):.2f} px")  # fmt: skip


if __name__ == "__main__":
    main()
