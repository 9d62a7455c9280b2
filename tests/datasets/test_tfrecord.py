"""TFRecord dataset: the TAO-written fixture parses with all 83 keys; our writes round trip."""

from __future__ import annotations

import numpy as np
import pytest
from kedro.io import DatasetError

from gaze_pipelines.datasets.tfrecord import (
    FeatureSpec,
    TFRecordDataset,
    encode_example,
    frame_records,
    masked_crc32c,
    read_tfrecords,
    serialized_table,
)
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


def test_pre_serialized_examples_write_the_same_file(tao_fixtures, tmp_path):
    src = TFRecordDataset(
        filepath=str(tao_fixtures / "dataio" / "combined.tfrecords"), feature_spec=SPEC
    ).load()
    rows = TFRecordDataset(filepath=str(tmp_path / "rows.tfrecords"), feature_spec=SPEC)
    rows.save(src)
    table = serialized_table([encode_example(r, TAO_GAZE_FEATURES) for r in src.to_dict("records")])
    pre = TFRecordDataset(filepath=str(tmp_path / "pre.tfrecords"), feature_spec=SPEC)
    pre.save(table)
    assert (tmp_path / "pre.tfrecords").read_bytes() == (tmp_path / "rows.tfrecords").read_bytes()
    assert pre.load().shape == src.shape
    with pytest.raises(DatasetError, match="serialized examples"):
        pre.save(serialized_table(["not bytes"]))


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


def _reference_example(row, spec):
    """The record built with TensorFlow's own protobuf classes (the previous encoder)."""
    import tensorflow as tf

    feats = {}
    for name, fs in spec.items():
        v = row[name]
        vals = [v] if np.isscalar(v) or isinstance(v, (str, bytes)) else list(np.ravel(v))
        if fs.kind == "bytes":
            vals = [x.encode() if isinstance(x, str) else bytes(x) for x in vals]
            feats[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=vals))
        elif fs.kind == "int64":
            feats[name] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(x) for x in vals])
            )
        else:
            feats[name] = tf.train.Feature(
                float_list=tf.train.FloatList(value=[float(x) for x in vals])
            )
    return tf.train.Example(features=tf.train.Features(feature=feats))


def test_direct_encoder_parses_to_the_tensorflow_message(tao_fixtures):
    import tensorflow as tf

    from gaze_pipelines.datasets.tfrecord import encode_example, resolve_feature_spec

    spec = resolve_feature_spec(SPEC)
    rows = read_tfrecords(str(tao_fixtures / "dataio" / "combined.tfrecords"), spec)
    edge_spec = {
        "f": FeatureSpec("float"),
        "big": FeatureSpec("float"),
        "i": FeatureSpec("int64", 4),
        "s": FeatureSpec("bytes"),
        "b": FeatureSpec("bytes"),
        "empty": FeatureSpec("float"),
        "ext": FeatureSpec("int64", 2),
        "neg": FeatureSpec("int64"),
    }
    edges = [
        {
            "f": 0.1,
            "big": 1e39,
            "i": np.array([-1, 0, 127, 2**62]),
            "s": "é",
            "b": b"\x00\xff",
            "empty": [],
            "ext": [-(2**63), 2**63 - 1],
            "neg": -5,
        },
        {
            "f": np.float32(2.5),
            "big": np.array([3]),
            "i": [True, False, 128, 300],
            "s": np.str_("x"),
            "b": "",
            "empty": np.zeros(0),
            "ext": np.array([1, -1]),
            "neg": np.int64(-(2**40)),
        },
    ]
    cases = [(r, spec) for r in rows.to_dict("records")] + [(r, edge_spec) for r in edges]
    for row, sp in cases:
        ours = tf.train.Example.FromString(encode_example(row, sp))
        assert ours == _reference_example(row, sp)


def test_direct_encoder_rejects_out_of_range_int(tmp_path):
    from gaze_pipelines.datasets.tfrecord import encode_example

    with pytest.raises(DatasetError, match="int64"):
        encode_example({"v": 2**63}, {"v": FeatureSpec("int64")})
    with pytest.raises(DatasetError, match="missing feature"):
        encode_example({}, {"v": FeatureSpec("int64")})


def test_native_framing_is_byte_identical_to_tensorflow(tao_fixtures, tmp_path):
    import tensorflow as tf

    src = TFRecordDataset(
        filepath=str(tao_fixtures / "dataio" / "combined.tfrecords"), feature_spec=SPEC
    ).load()
    payloads = [encode_example(r, TAO_GAZE_FEATURES) for r in src.to_dict("records")]
    payloads += [b"", b"x" * 70000]  # empty record, multi-byte length
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecords")) as writer:
        for p in payloads:
            writer.write(p)
    assert frame_records(payloads) == (tmp_path / "tf.tfrecords").read_bytes()
    # TAO's own file re-framed from its records is the same file
    fixture = (tao_fixtures / "dataio" / "combined.tfrecords").read_bytes()
    records = [
        r.numpy()
        for r in tf.data.TFRecordDataset(str(tao_fixtures / "dataio" / "combined.tfrecords"))
    ]
    assert frame_records(records) == fixture
    assert masked_crc32c(b"") == 0xA282EAD8  # CRC-32C of nothing is 0: only the mask delta


def test_compressed_records_round_trip(tao_fixtures, tmp_path):
    src = TFRecordDataset(
        filepath=str(tao_fixtures / "dataio" / "combined.tfrecords"), feature_spec=SPEC
    ).load()
    out = TFRecordDataset(
        filepath=str(tmp_path / "z.tfrecords"), feature_spec=SPEC, compression_type="GZIP"
    )
    out.save(src)
    assert (tmp_path / "z.tfrecords").read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    assert out.load()["train/num_keypoints"].tolist() == src["train/num_keypoints"].tolist()
