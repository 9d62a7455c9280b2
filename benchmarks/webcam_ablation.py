"""Test-split RMSE of one webcam variant under parameter overrides, plus a linear reference.

Usage::

    python benchmarks/webcam_ablation.py full                         # conf/base defaults
    python benchmarks/webcam_ablation.py full --set "{models: {full: {bn_momentum: 0.99}}}"
    python benchmarks/webcam_ablation.py --ridge                      # linear reference only

Reads ``data/05_model_input/webcam_arrays.npz`` and ``webcam_split.csv`` (run ``webcam_sample``
and ``webcam_data`` first, or pass ``--project``), deep-merges the ``--set`` YAML over
``conf/base/parameters_webcam.yml`` (``webcam`` tree), trains the variant with the pipeline's
``train_variant`` and prints one line per epoch and the test RMSE with its ratio to the mean
predictor. ``--ridge`` fits ridge regressions (alpha chosen on the validation split) on 16x16 grey
versions of the face / eye / full inputs: a floor any trained network should beat, which tells
whether the crops carry the gaze (the data) or the network does not learn it (the training).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

from gaze_pipelines.params_common import deep_merge
from gaze_pipelines.pipelines.webcam.nodes_evaluate import error_stats
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.pipelines.webcam.training import model_inputs, split_indices, train_variant

REPO = Path(__file__).resolve().parents[1]
RIDGE_INPUTS = {"face": ["face_aligned"], "eyes": ["l_eye", "r_eye"],
                "full": ["face_aligned", "l_eye", "r_eye", "head_pos", "head_angle"]}  # fmt: skip


def _grey16(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1:
        return a[:, None].astype(np.float64)
    out = [cv2.resize(x if x.shape[-1] == 1 else cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), (16, 16),
                      interpolation=cv2.INTER_AREA) for x in a]  # fmt: skip
    return np.stack(out).reshape(len(a), -1) / 255.0


def ridge_rmse(arrays: dict, split: pd.DataFrame, names: list[str]) -> float:
    """Test RMSE (px) of a ridge regression on 16x16 grey inputs, alpha picked on val."""
    x = np.hstack([_grey16(np.asarray(arrays[n])) for n in names])
    xy = np.asarray(arrays["xy"], np.float64)
    tr, va, te = (split_indices(arrays, split, s) for s in ("train", "val", "test"))
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
    xs, ym = (x - mu) / sd, xy[tr].mean(0)
    gram, rhs = xs[tr].T @ xs[tr], xs[tr].T @ (xy[tr] - ym)
    best = None
    for alpha in np.logspace(-1, 4, 11):
        pred = xs @ np.linalg.solve(gram + alpha * np.eye(len(gram)), rhs) + ym
        val = error_stats(pred[va], xy[va])["rmse_px"]
        if best is None or val < best[0]:
            best = (val, pred)
    return error_stats(best[1][te], xy[te])["rmse_px"]


def main() -> None:
    """Train (or fit the ridge reference) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", nargs="?", choices=["face", "eyes", "full"])
    ap.add_argument("--set", default="{}", help="YAML deep-merged over the webcam parameters")
    ap.add_argument("--project", type=Path, default=REPO)
    ap.add_argument("--ridge", action="store_true", help="print the linear reference too")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raw = yaml.safe_load((args.project / "conf/base/parameters_webcam.yml").read_text())["webcam"]
    p = validate_params(deep_merge(raw, yaml.safe_load(args.set) or {}))
    with np.load(args.project / "data/05_model_input/webcam_arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    split = pd.read_csv(args.project / "data/05_model_input/webcam_split.csv")
    xy = np.asarray(arrays["xy"], np.float64)
    tr, te = split_indices(arrays, split, "train"), split_indices(arrays, split, "test")
    base = error_stats(np.repeat(xy[tr].mean(0)[None], len(te), 0), xy[te])["rmse_px"]
    print(f"test split {len(te)} samples, mean predictor {base:.1f} px")
    if args.ridge:
        for variant, names in RIDGE_INPUTS.items():
            r = ridge_rmse(arrays, split, names)
            print(f"ridge[{variant}] 16x16 grey: {r:.1f} px, ratio {r / base:.3f}")
    if args.variant is None:
        return
    start = time.perf_counter()

    def on_epoch(epoch: int, m: dict[str, float]) -> None:
        print(f"  epoch {epoch:3d}  train rmse {m.get('rmse_px', float('nan')):7.1f}  "
              f"val rmse {m.get('val_rmse_px', float('nan')):7.1f}  "
              f"{time.perf_counter() - start:6.0f} s", flush=True)  # fmt: skip

    model, _, summary = train_variant(arrays, split, args.variant, p, on_epoch=on_epoch)
    names = [t.name for t in model.inputs]
    pred = model.predict(model_inputs(arrays, names, te), verbose=0, batch_size=256)
    r = error_stats(pred, xy[te])["rmse_px"]
    print(
        f"{args.variant}: test RMSE {r:.1f} px, ratio {r / base:.3f}, best epoch "
        f"{summary['best_epoch']} of {summary['epochs_run']}, {summary['params']} parameters, "
        f"{summary['train_seconds'] / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
