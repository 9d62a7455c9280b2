"""nvgaze_data nodes: conversion with fitted labels, rejects, crop/resize maths, merge, reflections."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.core.ellipse import Ellipse
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.datasets.nvgaze_footage import (
    CSV_NAME,
    NvGazeFootageDataset,
    format_footage_csv,
    parse_footage_csv,
)
from gaze_pipelines.pipelines.nvgaze.nodes_data import (
    CropResize,
    build_reflection_set,
    convert_footages,
    footage_layout,
    merge_h5,
    render_sample,
)


def _convert(raw_root, **params):
    footages = NvGazeFootageDataset(path=str(raw_root)).load()
    return convert_footages(footages, {"output_resolution": [32, 32], **params})


def test_convert_fits_labels_matching_the_analytic_ones(tiny_raw, tiny_sample_params):
    h5s, labels, rejects = _convert(tiny_raw)
    analytic = render_sample({**tiny_sample_params, "include_ellipse_labels": True})
    assert sorted(h5s) == sorted(analytic)
    for name, h5 in h5s.items():
        assert h5.images.shape[1:] == (1, 1, 1, 32, 32) and h5.images.dtype == np.uint8
        truth = analytic[name].table.set_index("int_frame")
        frames = h5.labels["int_frame"].astype(int)
        for col, tol in (("float_pupil_x", 0.15), ("float_pupil_y", 0.15), ("float_iris_x", 0.3)):
            want = (truth.loc[frames, col].to_numpy() + 0.5) * 0.5 - 0.5  # 64 -> 32 px
            np.testing.assert_allclose(h5.labels[col].to_numpy(), want, atol=tol)
        d = truth.loc[frames, "float_eyeball_diameter"].to_numpy() * 0.5
        np.testing.assert_allclose(h5.labels["float_eyeball_diameter"], d, rtol=0.03)
    # the label table carries what the expectation suite needs
    assert {"source", "sample", "image_width", "image_height", "rejected"} <= set(labels.columns)
    assert len(labels) == sum(len(h) for h in h5s.values())
    # blinks are flagged (kept, listed in rejectedSamples), with a reason
    flagged = rejects[rejects["action"] == "flagged"]
    assert len(flagged) == sum(len(h.rejected_samples) for h in h5s.values())
    assert flagged["reason"].str.match(r"^blink: ").all()


def test_convert_keeps_csv_labels_unless_always(tiny_raw, tmp_path):
    raw = NvGazeFootageDataset(path=str(tiny_raw)).load()
    name = sorted(raw)[0]
    table = raw[name].table.copy()
    table["float_pupil_x"] = 10.0  # deliberately wrong, must survive with fit_labels=missing
    for col in (
        "float_pupil_y",
        "float_pupilellipse_major",
        "float_pupilellipse_minor",
        "float_pupilellipse_angle",
    ):
        table[col] = 5.0
    table.loc[1, "float_pupil_x"] = np.nan  # one empty cell: fitted
    folder = tmp_path / name
    folder.mkdir()
    (folder / "footage_image_data.zip").write_bytes(
        (tiny_raw / name / "footage_image_data.zip").read_bytes()
    )
    (folder / CSV_NAME).write_text(format_footage_csv(table))
    kept, _, _ = _convert(folder, reject_blink_above=None)
    labels = kept[name].labels.set_index(kept[name].labels["int_frame"].astype(int))
    assert labels.loc[0, "float_pupil_x"] == pytest.approx((10.0 + 0.5) * 0.5 - 0.5)
    assert labels.loc[1, "float_pupil_x"] != pytest.approx((10.0 + 0.5) * 0.5 - 0.5)
    refit, _, _ = _convert(folder, fit_labels="always", reject_blink_above=None)
    assert not np.allclose(refit[name].labels["float_pupil_x"], 4.75)


def test_convert_rejects_broken_samples(tiny_raw, tmp_path):
    name = "broken"
    src = NvGazeFootageDataset(path=str(tiny_raw)).load()
    first = sorted(src)[0]
    table = src[first].table.copy()
    folder = tmp_path / name
    folder.mkdir()
    with (
        zipfile.ZipFile(tiny_raw / first / "footage_image_data.zip") as zin,
        zipfile.ZipFile(folder / "footage_image_data.zip", "w") as zout,
    ):
        for item in zin.namelist():
            if item == table.at[0, "image_L_0"]:
                continue  # frame 0: image missing from the archive
            data = zin.read(item)
            if item == table.at[1, "regionmask_withoutskin_L_0"]:
                data = b"not a png"  # frame 1: unreadable mask
            if item == table.at[2, "regionmask_withoutskin_L_0"]:
                import cv2

                data = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[
                    1
                ].tobytes()  # no pupil
            zout.writestr(item, data)
    (folder / CSV_NAME).write_text(format_footage_csv(table))
    h5s, _, rejects = _convert(folder, reject_blink_above=None)
    dropped = rejects[rejects["action"] == "dropped"].set_index("sample")["reason"]
    assert dropped[0].startswith("missing_image: ")
    assert dropped[1].startswith("missing_mask: ")
    assert dropped[2].startswith("pupil_fit: ")
    assert len(h5s[name]) == len(table) - 3
    assert rejects["reason"].str.match(r"^[a-z_]+: .+").all()


def test_layout_and_errors():
    t = parse_footage_csv("archive,image_L_0,image_L_1,image_R_0,image_R_1\na,b,c,d,e\n")
    lay = footage_layout(t, "x")
    assert lay.eyes == ("L", "R") and lay.views == 2
    with pytest.raises(ValueError, match="different views"):
        footage_layout(parse_footage_csv("archive,image_L_0,image_R_0,image_R_1\na,b,c,d\n"), "x")
    with pytest.raises(ValueError, match="no image_"):
        footage_layout(parse_footage_csv("archive,float_a\na,1\n"), "x")


def test_aspect_ratio_change_is_refused(tiny_raw):
    with pytest.raises(ValueError, match="aspect ratio"):
        _convert(tiny_raw, output_resolution=[40, 20])


def test_crop_resize_maps_points_and_ellipses_exactly():
    geo = CropResize((100, 80), (40, 40), 0.8)
    assert geo.crop == (10, 8, 80, 64)
    img = np.zeros((80, 100), np.uint8)
    img[40, 50] = 255
    out = geo.image(img.astype(np.float32))
    y, x = np.unravel_index(np.argmax(out), out.shape)
    px, py = geo.point(50, 40)
    assert abs(px - x) <= 0.6 and abs(py - y) <= 0.6
    e = geo.ellipse(Ellipse(50, 40, 20, 10, 0))
    assert e.major == pytest.approx(20 * 0.5) and e.minor == pytest.approx(10 * 40 / 64)


def _h5(n: int, source: str, res: int = 16, rejected=(), valid=None, nan_rows=()) -> NvGazeH5:
    labels = pd.DataFrame(
        {
            "float_pupil_x": np.full(n, res / 2, np.float32),
            "float_pupil_y": np.full(n, res / 2, np.float32),
            "float_gaze_x_degree": np.arange(n, dtype=np.float32),
            "float_gaze_y_degree": np.zeros(n, np.float32),
            "string_tag": [f"{source}-{i}" for i in range(n)],
        }
    )
    for i in nan_rows:
        labels.loc[i, "float_gaze_x_degree"] = np.nan
    images = np.zeros((n, 1, 1, 1, res, res), np.uint8)
    images[:, 0, 0, 0, 0, 0] = np.arange(n)
    return NvGazeH5(
        images=images,
        labels=labels,
        rejected_samples=np.array(rejected, dtype=np.int64),
        valid_samples=None if valid is None else np.array(valid),
    )


def test_merge_ratios_rejects_and_split():
    sources = {"a": _h5(40, "a", rejected=[0, 1]), "b": _h5(20, "b", nan_rows=[3])}
    train, test, report, rejects = merge_h5(
        sources, {"ratios": {"b": 0.5}, "test_ratio": 0.25, "seed": 3}
    )
    rep = report.set_index("source")
    assert rep.loc["a", "selected"] == 38 and rep.loc["b", "selected"] == 9  # int(19 * 0.5)
    assert len(train) + len(test) == 47 and len(test) == int(0.25 * 47)
    assert set(rejects["reason"].str.split(":").str[0]) == {"rejected", "missing_label"}
    assert (rejects["action"] == "skipped").all()
    assert not set(train.labels["string_tag"]) & set(test.labels["string_tag"])
    assert {"a-0", "a-1", "b-3"}.isdisjoint(
        set(train.labels["string_tag"]) | set(test.labels["string_tag"])
    )
    assert set(train.labels["string_source"]) == {"a", "b"}
    # deterministic in the seed
    again = merge_h5(sources, {"ratios": {"b": 0.5}, "test_ratio": 0.25, "seed": 3})[0]
    assert again.labels["string_tag"].tolist() == train.labels["string_tag"].tolist()


def test_merge_accepted_only_test_sources_and_resize():
    sources = {"a": _h5(10, "a", valid=[1, 2, 3]), "b": _h5(6, "b", res=32)}
    with pytest.raises(ValueError, match="output_resolution"):
        merge_h5(sources, {})
    train, test, report, rejects = merge_h5(
        sources,
        {"keep_only_accepted": {"a": True}, "test_sources": ["b"], "output_resolution": [16, 16]},
    )
    assert len(train) == 3 and len(test) == 6
    assert test.resolution == (16, 16)
    assert test.labels["float_pupil_x"].iloc[0] == pytest.approx((16 + 0.5) * 0.5 - 0.5)
    assert (rejects["reason"].str.startswith("not_accepted: ")).sum() == 7
    with pytest.raises(ValueError, match="validSamples"):
        merge_h5({"a": _h5(4, "a")}, {"keep_only_accepted": True})
    with pytest.raises(ValueError, match="lacks required labels"):
        merge_h5({"a": _h5(4, "a")}, {"required_labels": ["float_missing"]})
    with pytest.raises(ValueError, match="do not exist"):
        merge_h5({"a": _h5(4, "a")}, {"ratios": {"zz": 0.5}})


def test_reflection_set_filters_and_falls_back():
    imgs = {
        "big.png": lambda: np.full((200, 300), 7, np.uint8),
        "small.png": lambda: np.zeros((20, 20), np.uint8),
        "bad.png": lambda: None,
    }
    out = build_reflection_set(imgs, {"min_size": [128, 128]})
    assert len(out) == 1 and out[0].shape == (200, 300)
    fallback = build_reflection_set(
        {"bad.png": lambda: None}, {"fallback_count": 3, "fallback_size": [64, 48]}
    )
    assert len(fallback) == 3 and fallback[0].shape == (48, 64) and fallback[0].dtype == np.uint8


def test_binocular_footage_and_region_maps(tiny_raw, tmp_path):
    raw = NvGazeFootageDataset(path=str(tiny_raw)).load()
    name = sorted(raw)[0]
    table = raw[name].table.copy()
    table["image_R_0"] = table["image_L_0"]  # a second eye (same pictures, enough for the layout)
    folder = tmp_path / "bino"
    folder.mkdir()
    (folder / "footage_image_data.zip").write_bytes(
        (tiny_raw / name / "footage_image_data.zip").read_bytes()
    )
    (folder / CSV_NAME).write_text(format_footage_csv(table))
    h5s, _, _ = _convert(folder, region_maps=True, convert_to_grayscale=False)
    h5 = h5s["bino"]
    assert h5.images.shape[1:4] == (2, 1, 3) and h5.attrs["eyes"] == "binocular"
    assert h5.region_maps is not None and h5.region_maps.shape == h5.images.shape
    codes = set(np.unique(h5.region_maps).tolist())
    assert {1, 2, 3} <= codes and any(c >= 10 for c in codes)  # pupil, iris, sclera, skin


def test_fit_labels_never_leaves_them_out(tiny_raw):
    h5s, labels, _ = _convert(tiny_raw, fit_labels="never")
    assert "float_pupil_x" not in next(iter(h5s.values())).labels.columns
    with pytest.raises(ValueError, match="lacks required labels"):
        merge_h5(h5s, {})
