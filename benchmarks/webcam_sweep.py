"""Wall time of a webcam Ray Tune ASHA sweep (``core.tune``) on the webcam model input.

Usage::

    python benchmarks/webcam_sweep.py                      # 8 trials x 3 epochs, conf/base space
    python benchmarks/webcam_sweep.py --trials 4 --epochs 2 --max-train-samples 512

Reads ``data/05_model_input/webcam_arrays.npz`` and ``webcam_split.csv`` (run ``webcam_sample``
and ``webcam_data`` first, or pass ``--project`` pointing at a project that has them), runs the
sweep of ``webcam.tune`` with the overrides given, and prints one row per trial and the totals.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gaze_pipelines.core.tune import best_params_tree, run_sweep
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.pipelines.webcam.training import tune_trainable

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the sweep and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, default=REPO)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-train-samples", type=int, default=None)
    ap.add_argument("--cpus-per-trial", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raw = yaml.safe_load((args.project / "conf/base/parameters_webcam.yml").read_text())["webcam"]
    p = validate_params(raw)
    t = p.tune.model_copy(update={"num_samples": args.trials, "epochs": args.epochs,
                                  "cpus_per_trial": args.cpus_per_trial, "storage_path": None})  # fmt: skip
    base = p.model_dump(mode="json")
    base["train"]["variants"] = [t.variant]
    with np.load(args.project / "data/05_model_input/webcam_arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    split = pd.read_csv(args.project / "data/05_model_input/webcam_split.csv")
    data = {"arrays": arrays, "split": split, "variant": t.variant,
            "max_train_samples": args.max_train_samples}  # fmt: skip
    start = time.perf_counter()
    result = run_sweep(tune_trainable, data, base, t.space(), t.settings("webcam_bench"))
    wall = time.perf_counter() - start
    cols = [c for c in result.trials.columns if c.startswith(("rank", "config/", "iterations",
                                                              "best_", "last_val_rmse"))]  # fmt: skip
    print(result.trials[cols].to_string(index=False))
    n_train = int((split["split"] == "train").sum())
    print(f"\n{len(result.trials)} trials x <= {t.epochs} epochs (ASHA grace 1, factor 2) of the "
          f"'{t.variant}' variant on {min(n_train, args.max_train_samples or n_train)} training "
          f"samples: sweep {result.seconds:.1f} s, with Ray start/stop {wall:.1f} s")  # fmt: skip
    print("best:", yaml.safe_dump(best_params_tree("webcam", result.best_config)))


if __name__ == "__main__":
    main()
