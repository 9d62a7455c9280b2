"""TFRecord dataset: the TAO-written fixture parses with all 83 keys; our writes round trip."""

from __future__ import annotations

import numpy as np
import pytest
from kedro.io import DatasetError

from gaze_pipelines.datasets.tfrecord import FeatureSpec, TFRecordDataset, read_tfrecords
from gaze_pipelines.pipelines.gazenet.features import TAO_GAZE_FEATURES

SPEC = "gaze_pipelines.pipelines.gazenet.features.TAO_GAZE_FEATURES"


def test_tao_fixture_has_all_83_keys(tao_fixtures):
    ds = TFRecordDataset(
        filepath=str(tao_fixtures / "dataio" / "combined.tfrecords"), feature_spec=SPEC
    )
    df = ds.load()
    assert df.shape == (5, 83)
    assert set(df.columns) == set(TAO_GAZE_FEATURES)
    assert df["train/landmarks"].iloc[0].shape == (208,)
    assert df["train/landmarks_occ"].iloc[0].dtype == np.int64
    assert df["label/left_eye_status"].iloc[0] == "open"
    assert df["train/num_keypoints"].iloc[0] == 104


def test_unknown_spec_reads_every_key(tao_fixtures):
    df = read_tfrecords(str(tao_fixtures / "dataio" / "combined.tfrecords"))
    assert df.shape[1] == 83


def test_round_trip(tao_fixtures, tmp_path):
    src = TFRecordDataset(
        filepath=str(tao_fixtures / "dataio" / "combined.tfrecords"), feature_spec=SPEC
    ).load()
    out = TFRecordDataset(filepath=str(tmp_path / "a" / "copy.tfrecords"), feature_spec=SPEC)
    out.save(src)
    back = out.load()
    assert back.shape == src.shape
    for col in src.columns:
        a, b = src[col].tolist(), back[col].tolist()
        if isinstance(a[0], np.ndarray):
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        else:
            assert a == b
    assert not list((tmp_path / "a").glob(".*"))  # no temp files left behind


def test_wrong_type_and_length_are_errors(tmp_path):
    spec = {"a": FeatureSpec("float", 3)}
    ds = TFRecordDataset(filepath=str(tmp_path / "x.tfrecords"), feature_spec=spec)
    with pytest.raises(DatasetError, match="needs 3 values"):
        ds.save(__import__("pandas").DataFrame({"a": [np.zeros(2)]}))
    ds.save(__import__("pandas").DataFrame({"a": [np.zeros(3)]}))
    wrong = TFRecordDataset(
        filepath=str(tmp_path / "x.tfrecords"), feature_spec={"a": FeatureSpec("int64", 3)}
    )
    with pytest.raises(DatasetError, match="spec says int64"):
        wrong.load()


def test_versioned(tmp_path):
    from kedro.io.core import Version

    spec = {"v": FeatureSpec("int64")}
    ds = TFRecordDataset(
        filepath=str(tmp_path / "v.tfrecords"), feature_spec=spec, version=Version(None, None)
    )
    ds.save(__import__("pandas").DataFrame({"v": [1, 2]}))
    assert ds.load()["v"].tolist() == [1, 2]
