"""gazenet_data workers: processes, threads or in-process, ISA-L or OpenCV PNGs: same outputs."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.datasets.gazenet_raw import GazeNetRawDataset
from gaze_pipelines.pipelines.gazenet import nodes_data as nd
from gaze_pipelines.synthetic.gazenet import make_setup, render_set


@pytest.fixture(scope="module")
def geometry(tmp_path_factory):
    root = tmp_path_factory.mktemp("norm")
    setup = make_setup(seed=6, set_id="workers-set", n_users=2)
    files = render_set(setup, 5, closed_eye_fraction=0.0, workers=1)
    for rel, data in files.items():
        path = root / "workers-set" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    raw = GazeNetRawDataset(path=str(root)).load()
    base = {"data_root_path": str(root), "workers": 2}
    labels, configs, _ = nd.ingest_labels(raw, base)
    frames, _ = nd.build_frame_table(labels, configs)
    # one frame truncated after its header checks: unreadable at normalize, a reject either way
    first = frames["image_path"].iloc[0]
    with open(first, "r+b") as fh:
        fh.truncate(200)
    return nd.compute_geometry(frames, configs), configs, base, frames


def test_processes_and_threads_agree(geometry):
    geo, configs, base, _ = geometry
    out = {
        kind: nd.normalize_frames(geo, configs, {**base, "worker_kind": kind})
        for kind in ("processes", "threads")
    }
    (t_p, img_p, rej_p), (t_t, img_t, rej_t) = out["processes"], out["threads"]
    assert len(rej_p) == 1 and "unreadable_image" in rej_p["reason"].iloc[0]
    pd.testing.assert_frame_equal(rej_p, rej_t)
    assert img_p == img_t and len(img_p) == 4 * len(t_p)
    pd.testing.assert_frame_equal(t_p, t_t)
    assert len(t_p) == len(geo) - 1


def test_outputs_identical_across_codecs(geometry):
    """Same frames in, same pixels out, whichever codec reads and writes the PNGs."""
    geo, configs, base, _ = geometry
    outs = {}
    for codec in ("isal", "opencv"):
        _, images, rejects = nd.normalize_frames(geo, configs, {**base, "png_codec": codec})
        assert len(rejects) == 1 and len(images) == 4 * (len(geo) - 1)
        outs[codec] = {
            k: cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_GRAYSCALE)
            for k, v in images.items()
        }
    assert outs["isal"].keys() == outs["opencv"].keys()
    for key, img in outs["isal"].items():
        assert np.array_equal(img, outs["opencv"][key]), key


def test_geometry_same_in_workers_and_in_process(geometry, monkeypatch):
    """Geometry split into tasks over worker processes: the same table as in this process."""
    geo, configs, base, frames = geometry
    monkeypatch.setattr(nd, "GEOMETRY_CHUNK", 3)  # 10 frames: 4 tasks over 2 processes
    pooled = nd.compute_geometry(frames, configs, {**base, "worker_kind": "processes"})
    pd.testing.assert_frame_equal(pooled, geo)  # geo: computed in this process
