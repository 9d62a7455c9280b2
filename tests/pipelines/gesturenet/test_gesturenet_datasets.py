"""GestureNet datasets: the TAO tree (lazy groups, atomic writes), optional specs and models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kedro.io.core import DatasetError

from gaze_pipelines.datasets.gesturenet import (
    GestureTreeDataset,
    OptionalKerasModelDataset,
    TaoSpecDataset,
)


def test_tree_round_trip_with_lazy_groups(tmp_path):
    ds = GestureTreeDataset(path=str(tmp_path / "root"))
    calls = []
    image = np.random.default_rng(0).integers(0, 255, (12, 10, 3), dtype=np.uint8)

    def group():
        calls.append(1)
        return {"original/s/u/a/000000.png": image, "annotation/s/u/a/000000.json": {"k": [1, 2]}}

    data = {
        "frame_0": group,
        "notes/readme.txt": "hello",
        "raw.bin": b"\x00\x01",
        "skip.json": lambda: None,
    }
    ds.save(data)
    assert calls == [1]
    tree = ds.load()
    assert tree.list_dirs("original/s") == ["u"]
    assert tree.list_files("original", (".png",)) == ["original/s/u/a/000000.png"]
    assert np.array_equal(tree.read_image("original/s/u/a/000000.png"), image)  # PNG is lossless
    assert tree.read_json("annotation/s/u/a/000000.json") == {"k": [1, 2]}
    assert tree.read_bytes("raw.bin") == b"\x00\x01" and not tree.exists("skip.json")
    assert tree.path("notes/readme.txt").endswith("root/notes/readme.txt")
    assert not list((tmp_path / "root").rglob(".*"))  # no temporary files left behind


def test_tree_rejects_bad_content_and_paths(tmp_path):
    ds = GestureTreeDataset(path=str(tmp_path))
    with pytest.raises(DatasetError, match="image extension"):
        ds.save({"a.json": np.zeros((2, 2), np.uint8)})
    with pytest.raises(DatasetError, match="relative paths only"):
        ds.save({"../escape.txt": "x"})
    with pytest.raises(DatasetError, match="group"):
        ds.save({"group": lambda: "not a mapping"})
    with pytest.raises(ValueError, match="cannot decode"):
        (tmp_path / "bad.png").write_bytes(b"not a png")
        ds.load().read_image("bad.png")


def test_optional_tree_loads_none():
    ds = GestureTreeDataset(path=None)
    assert ds.load() is None and not ds.exists()
    with pytest.raises(DatasetError):
        ds.save({"a.txt": "x"})


def test_spec_files(tmp_path):
    assert TaoSpecDataset(filepath="").load() == {}
    assert TaoSpecDataset(filepath=None).load() == {}
    path = tmp_path / "spec.json"
    TaoSpecDataset(filepath=str(path)).save({"a": np.float32(1.5), "b": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1]}
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(DatasetError, match="not valid"):
        TaoSpecDataset(filepath=str(tmp_path / "bad.json")).load()
    with pytest.raises(DatasetError, match="does not exist"):
        TaoSpecDataset(filepath=str(tmp_path / "missing.json")).load()
    (tmp_path / "spec.yml").write_text("k_folds: 2\n")
    assert TaoSpecDataset(filepath=str(tmp_path / "spec.yml")).load() == {"k_folds": 2}


def test_optional_model(tmp_path):
    assert OptionalKerasModelDataset(filepath=None).load() is None
    with pytest.raises(DatasetError, match="does not exist"):
        OptionalKerasModelDataset(filepath=str(tmp_path / "m.keras")).load()
