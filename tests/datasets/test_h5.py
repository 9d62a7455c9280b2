"""datasets.h5: NvGaze H5 round trip in both label forms, reflection sets, Kedro dataset."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from kedro.io.core import DatasetError, Version

from gaze_pipelines.datasets.h5 import (
    NvGazeH5,
    NvGazeH5Dataset,
    ReflectionSetDataset,
    decode_label,
    read_nvgaze_h5,
    write_nvgaze_h5,
)


def _sample(n: int = 5) -> NvGazeH5:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, 1, 1, 1, 12, 16), dtype=np.uint8)
    labels = pd.DataFrame(
        {
            "float_gaze_x_degree": rng.uniform(-20, 20, n).astype(np.float32),
            "float_pupil_x": rng.uniform(0, 16, n).astype(np.float32),
            "int_frame": np.arange(n),
            "string_eye": ["L"] * n,
            "image_L_0": [f"img_{i}.png" for i in range(n)],
        }
    )
    return NvGazeH5(
        images=images,
        labels=labels,
        attrs={"source": "unit", "sources": ["a", "b"]},
        rejected_samples=np.array([1]),
    )


def test_round_trip_float32_labels(tmp_path):
    data = _sample()
    path = tmp_path / "a.h5"
    write_nvgaze_h5(path, data)
    with h5py.File(path, "r") as h5:
        assert h5["images"].shape == (5, 1, 1, 1, 12, 16)
        assert h5["float_pupil_x"].dtype == np.float32
        assert h5.attrs["eyes"] == "monocular"
        assert list(h5.attrs["image_resolution"]) == [16, 12]
    back = read_nvgaze_h5(path)
    assert np.array_equal(back.images, data.images)
    np.testing.assert_allclose(back.labels["float_pupil_x"], data.labels["float_pupil_x"])
    assert back.labels["int_frame"].tolist() == list(range(5))
    assert back.labels["string_eye"].tolist() == ["L"] * 5
    assert back.rejected_samples.tolist() == [1] and back.valid_samples is None
    assert back.attrs["source"] == "unit" and back.attrs["sources"] == ["a", "b"]
    assert not list(tmp_path.glob(".a.h5*")), "temporary file left behind"


def test_reads_original_byte_string_labels(tmp_path):
    """NvGaze's writer: ``np.array(labels, dtype='S')`` for every label, numbers included."""
    path = tmp_path / "orig.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"eyes": "monocular", "image_resolution": [16, 12]})
        h5.create_dataset("images", data=np.zeros((3, 1, 1, 1, 12, 16), np.uint8))
        for name, values in {
            "float_pupil_x": [1.5, 2.25, 3.0],
            "int_frame": [0, 1, 2],
            "bool_valid": [True, False, True],
            "string_eye": ["L", "L", "R"],
            "archive": ["a.zip"] * 3,
        }.items():
            h5.create_dataset(name, data=np.array(values, dtype="S"))
        h5.create_dataset("validSamples", data=np.array([0, 2]))
    back = read_nvgaze_h5(path)
    assert back.labels["float_pupil_x"].dtype == np.float32
    assert back.labels["float_pupil_x"].tolist() == [1.5, 2.25, 3.0]
    assert back.labels["int_frame"].tolist() == [0, 1, 2]
    assert back.labels["bool_valid"].tolist() == [1.0, 0.0, 1.0]
    assert back.labels["string_eye"].tolist() == ["L", "L", "R"]
    assert back.valid_samples.tolist() == [0, 2]


def test_write_byte_string_form_round_trips(tmp_path):
    data = _sample()
    path = tmp_path / "bytes.h5"
    write_nvgaze_h5(path, data, byte_string_labels=True)
    with h5py.File(path, "r") as h5:
        assert h5["float_pupil_x"].dtype.kind == "S"
    back = read_nvgaze_h5(path)
    np.testing.assert_allclose(
        back.labels["float_pupil_x"], data.labels["float_pupil_x"], rtol=1e-6
    )


def test_decode_label_rejects_garbage_numbers():
    with pytest.raises(DatasetError, match="float_x"):
        decode_label("float_x", np.array([b"1.0", b"abc"]))


def test_labels_only_and_selected_labels(tmp_path):
    path = tmp_path / "a.h5"
    write_nvgaze_h5(path, _sample())
    light = read_nvgaze_h5(path, labels_only=True, label_names=["float_pupil_x"])
    assert list(light.labels.columns) == ["float_pupil_x"] and len(light) == 5
    assert light.images.size == 0 and light.resolution == (16, 12)
    with pytest.raises(DatasetError, match="lacks requested labels"):
        read_nvgaze_h5(path, label_names=["float_nope"])


def test_container_validation_and_subset():
    data = _sample()
    sub = data.subset([4, 1, 0])
    assert len(sub) == 3 and sub.rejected_samples.tolist() == [1]
    assert sub.labels["image_L_0"].tolist() == ["img_4.png", "img_1.png", "img_0.png"]
    with pytest.raises(ValueError, match="label rows"):
        NvGazeH5(images=data.images, labels=data.labels.iloc[:2])
    with pytest.raises(ValueError, match=r"\(N, E, V, C, H, W\)"):
        NvGazeH5(images=data.images[:, 0], labels=data.labels)
    with pytest.raises(ValueError, match="outside"):
        NvGazeH5(images=data.images, labels=data.labels, valid_samples=np.array([7]))


def test_kedro_dataset_versioned(tmp_path):
    ds = NvGazeH5Dataset(filepath=str(tmp_path / "v.h5"), version=Version(None, None))
    assert not ds.exists()
    ds.save(_sample())
    assert ds.exists()
    assert len(ds.load()) == 5
    assert "v.h5" in str(ds._describe()["filepath"])
    with pytest.raises(DatasetError, match="unknown NvGazeH5Dataset arguments"):
        NvGazeH5Dataset(filepath=str(tmp_path / "x.h5"), save_args={"compresion": "gzip"})
    with pytest.raises(DatasetError, match="NvGazeH5 objects"):
        NvGazeH5Dataset(filepath=str(tmp_path / "y.h5")).save({"not": "h5"})


def test_reflection_set_round_trip(tmp_path):
    ds = ReflectionSetDataset(filepath=str(tmp_path / "reflectiondataset.h5"))
    imgs = [np.full((40, 50), i * 20, np.uint8) for i in range(12)]
    ds.save(imgs)
    with h5py.File(tmp_path / "reflectiondataset.h5", "r") as h5:
        assert "image_11" in h5 and h5["image_3"].shape == (40, 50)
    back = ds.load()
    assert [int(b[0, 0]) for b in back] == [i * 20 for i in range(12)]  # numeric order, not lexical
    with pytest.raises(DatasetError, match="2-D grayscale"):
        ds.save([np.zeros((4, 4, 3), np.uint8)])
