"""nvgaze_evaluate KPIs (mean-predictor baseline, angles) and the explorer CLI."""

from __future__ import annotations

import subprocess
import sys

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.datasets.h5 import NvGazeH5, read_nvgaze_h5, write_nvgaze_h5
from gaze_pipelines.pipelines.nvgaze.explore import contact_sheet, main, summarize
from gaze_pipelines.pipelines.nvgaze.nodes_evaluate import (
    evaluate,
    kpis,
    plot_errors,
    predictions_table,
)
from gaze_pipelines.pipelines.nvgaze.nodes_evaluate import (
    summarize as summarize_kpis,
)
from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams

TINY_TRAIN = {
    "input_resolution": [31, 31],
    "strides": [2, 2, 2, 2],
    "kernel_sizes": [3, 3, 3, 3],
    "output_channel_counts": [4, 4, 4, 4],
}


def _h5(n: int, seed: int) -> NvGazeH5:
    rng = np.random.default_rng(seed)
    labels = pd.DataFrame(
        {
            "float_pupil_x": rng.uniform(8, 22, n).astype(np.float32),
            "float_pupil_y": rng.uniform(8, 22, n).astype(np.float32),
            "float_gaze_x_degree": rng.uniform(-20, 20, n).astype(np.float32),
            "float_gaze_y_degree": rng.uniform(-10, 10, n).astype(np.float32),
            "float_pupilellipse_major": np.full(n, 6.0, np.float32),
            "float_pupilellipse_minor": np.full(n, 5.0, np.float32),
            "float_pupilellipse_angle": np.full(n, 30.0, np.float32),
            "string_source": ["s1" if i % 2 else "s2" for i in range(n)],
            "image_L_0": [f"img_{i}.png" for i in range(n)],
        }
    )
    images = rng.integers(0, 255, (n, 1, 1, 1, 31, 31), dtype=np.uint8)
    return NvGazeH5(images=images, labels=labels, rejected_samples=np.array([0]))


class Oracle:
    """A predictor that knows the truth (plus a fixed offset) for the KPI maths."""

    input_names = ["image"]
    output_names = ["outputs"]

    def __init__(self, truth: np.ndarray, offset: np.ndarray):
        self.truth, self.offset, self.i = truth, offset, 0

    def predict(self, inputs):
        n = len(inputs["image"])
        out = self.truth[self.i : self.i + n] + self.offset
        self.i += n
        return out


def test_kpis_with_known_errors_and_mean_predictor_baseline():
    params = NvGazeParams.model_validate({"train": TINY_TRAIN, "evaluate": {"batch_size": 7}})
    test, train = _h5(20, 1), _h5(50, 2)
    truth = test.labels[list(params.train.output_description)].to_numpy(np.float32)
    table = predictions_table(
        Oracle(truth, np.array([3.0, 4.0, 0.0, 0.0], np.float32)), test, train, params
    )
    assert np.allclose(table["pupil_error_px"], 5.0)
    assert np.allclose(table["gaze_error_deg"], 0.0, atol=1e-3)
    base = train.labels[["float_gaze_x_degree", "float_gaze_y_degree"]].mean().to_numpy()
    assert table["pred_gaze_x_degree"].iloc[0] == pytest.approx(truth[0, 2])
    assert table["baseline_gaze_error_deg"].iloc[0] > 0
    s = summarize_kpis(table)
    assert s["pupil_rms_px"] == pytest.approx(5.0) and s["samples"] == 20
    assert set(s["by_source"]) == {"s1", "s2"}
    assert base.shape == (2,)
    # a gaze error of 2 degrees along x only: angular error 2 degrees, ratio against the baseline
    truth_at_zero = truth.copy()
    truth_at_zero[:, 3] = 0.0
    test.labels["float_gaze_y_degree"] = 0.0
    t2 = predictions_table(
        Oracle(truth_at_zero, np.array([0, 0, 2.0, 0], np.float32)), test, train, params
    )
    assert np.allclose(t2["gaze_error_deg"], 2.0, atol=1e-3)
    k = summarize_kpis(t2)
    assert k["gaze_improvement_over_mean_predictor"] == pytest.approx(
        k["baseline_gaze_mean_deg"] / 2.0, rel=1e-3
    )


def test_evaluate_node_and_plot_with_a_keras_model():
    from gaze_pipelines.pipelines.nvgaze.model import build_model

    raw = {"train": TINY_TRAIN}
    model = build_model(NvGazeParams.model_validate(raw).train)
    table, summary = evaluate(model, _h5(12, 3), _h5(12, 4), raw)
    assert len(table) == 12 and {"pupil_rms_px", "gaze_mean_deg", "baseline_gaze_mean_deg"} <= set(
        summary
    )
    assert set(kpis(model, _h5(12, 3), _h5(12, 4), raw)) >= {"pupil_rms_px", "gaze_mean_deg"}
    fig = plot_errors(table, raw)
    assert len(fig.axes) >= 3
    with pytest.raises(ValueError, match="predicts"):
        evaluate(
            build_model(
                NvGazeParams.model_validate(
                    {
                        "train": {
                            **TINY_TRAIN,
                            "output_description": ["float_pupil_x", "float_pupil_y"],
                        }
                    }
                ).train
            ),
            _h5(4, 3),
            _h5(4, 4),
            raw,
        )


def test_explorer_cli_summary_and_contact_sheet(tmp_path, capsys):
    data = _h5(6, 5)
    path = tmp_path / "x.h5"
    write_nvgaze_h5(path, data)
    assert main([str(path), "--samples", "4", "--columns", "2"]) == 0
    out = capsys.readouterr().out
    assert "samples: N=6 eyes=1 views=1 channels=1 height=31 width=31" in out
    assert "rejectedSamples: 1" in out and "float_pupil_x" in out and "string_source" in out
    sheet = cv2.imread(str(tmp_path / "x_contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 2 * 31 and sheet.shape[1] > 2 * 62
    # labels are drawn: the tile is no longer grey only
    tile = contact_sheet(data, [1], columns=1, scale=2)
    assert (np.abs(tile[..., 1].astype(int) - tile[..., 0].astype(int)) > 50).any()


def test_explorer_on_byte_string_file_and_reflection_set(tmp_path):
    path = tmp_path / "orig.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=np.zeros((2, 1, 1, 1, 8, 8), np.uint8))
        h5.create_dataset("float_pupil_x", data=np.array([b"3.5", b"4.0"]))
    text = summarize(path, read_nvgaze_h5(path))
    assert "byte strings" in text and "float_pupil_x" in text
    refl = tmp_path / "reflectiondataset.h5"
    with h5py.File(refl, "w") as h5:
        h5.create_dataset("image_0", data=np.full((40, 60), 128, np.uint8))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gaze_pipelines.pipelines.nvgaze.explore",
            str(refl),
            "--sheet",
            str(tmp_path / "r.png"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "reflection set" in proc.stdout and (tmp_path / "r.png").is_file()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "gaze_pipelines.pipelines.nvgaze.explore",
            str(tmp_path / "none.h5"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr
