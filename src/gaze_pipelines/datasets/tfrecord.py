"""Kedro dataset for TFRecord files of ``tf.train.Example`` records, given a feature spec.

Reads files written by TAO (e.g. GazeNet's ``combined.tfrecords``) and writes files TAO-compatible
tools read. Data in memory is a pandas DataFrame: one row per record, one column per feature;
scalar features are Python scalars (bytes features decoded to ``str``), list features are numpy
arrays. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_protocol_and_path

from gaze_pipelines.core.io import atomic_path

_KINDS = ("bytes", "int64", "float")


@dataclass(frozen=True)
class FeatureSpec:
    """Type of one feature: ``kind`` in bytes/int64/float, ``length`` 1 for scalars."""

    kind: str
    length: int = 1

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"feature kind must be one of {_KINDS}, got {self.kind!r}")
        if self.length < 1:
            raise ValueError(f"feature length must be >= 1, got {self.length}")


def resolve_feature_spec(spec: str | dict[str, Any]) -> dict[str, FeatureSpec]:
    """Accept a dotted import path to a spec dict, or ``{name: {kind, length} | FeatureSpec}``."""
    if isinstance(spec, str):
        module, _, attr = spec.rpartition(".")
        try:
            spec = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise DatasetError(f"cannot import feature spec '{spec}': {exc}") from exc
    out: dict[str, FeatureSpec] = {}
    for name, value in spec.items():
        if isinstance(value, FeatureSpec):
            out[name] = value
        elif isinstance(value, str):
            out[name] = FeatureSpec(value)
        else:
            out[name] = FeatureSpec(**value)
    return out


def _tf():
    import tensorflow as tf  # noqa: PLC0415 - heavy import, only when records are touched

    return tf


def encode_example(row: dict[str, Any], spec: dict[str, FeatureSpec]) -> bytes:
    """Serialize one record (mapping feature -> value) as a ``tf.train.Example``."""
    tf = _tf()
    features = {}
    for name, fs in spec.items():
        if name not in row:
            raise DatasetError(f"record is missing feature '{name}'")
        value = row[name]
        values = (
            [value]
            if np.isscalar(value) or isinstance(value, (str, bytes))
            else list(np.ravel(value))
        )
        if fs.length != len(values) and fs.length > 1:
            raise DatasetError(f"feature '{name}' needs {fs.length} values, got {len(values)}")
        if fs.kind == "bytes":
            values = [v.encode() if isinstance(v, str) else bytes(v) for v in values]
            features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif fs.kind == "int64":
            features[name] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(v) for v in values])
            )
        else:
            features[name] = tf.train.Feature(
                float_list=tf.train.FloatList(value=[float(v) for v in values])
            )
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def decode_example(raw: bytes, spec: dict[str, FeatureSpec] | None) -> dict[str, Any]:
    """Parse one serialized ``tf.train.Example`` into a dict (all features when ``spec`` is None)."""
    tf = _tf()
    example = tf.train.Example.FromString(raw)
    fmap = example.features.feature
    names = spec.keys() if spec is not None else sorted(fmap.keys())
    out: dict[str, Any] = {}
    for name in names:
        if name not in fmap:
            raise DatasetError(f"record has no feature '{name}'")
        feature = fmap[name]
        kind = feature.WhichOneof("kind")
        if kind is None:
            values: list[Any] = []
            kind = spec[name].kind + "_list" if spec else "float_list"
        else:
            values = list(getattr(feature, kind).value)
        expect = spec[name] if spec is not None else None
        if expect is not None and f"{expect.kind}_list" != kind:
            raise DatasetError(f"feature '{name}' is {kind}, spec says {expect.kind}")
        scalar = (expect.length == 1) if expect is not None else len(values) == 1
        if kind == "bytes_list":
            decoded = [v.decode("utf-8", errors="replace") for v in values]
            out[name] = decoded[0] if scalar and decoded else decoded
        else:
            arr = np.asarray(values, dtype=np.int64 if kind == "int64_list" else np.float32)
            out[name] = arr[0].item() if scalar and arr.size == 1 else arr
    return out


def read_tfrecords(
    path: str, spec: dict[str, FeatureSpec] | None = None, compression: str = ""
) -> pd.DataFrame:
    """Read every record of one TFRecord file into a DataFrame."""
    tf = _tf()
    rows = [
        decode_example(r.numpy(), spec)
        for r in tf.data.TFRecordDataset(path, compression_type=compression)
    ]
    columns = list(spec.keys()) if spec is not None else None
    return pd.DataFrame(rows, columns=columns)


def write_tfrecords(
    path: str,
    data: pd.DataFrame | list[dict[str, Any]],
    spec: dict[str, FeatureSpec],
    compression: str = "",
) -> int:
    """Write records atomically; returns the number written."""
    tf = _tf()
    rows = data.to_dict("records") if isinstance(data, pd.DataFrame) else data
    options = tf.io.TFRecordOptions(compression_type=compression) if compression else None
    with (
        atomic_path(path, suffix=".tfrecords") as tmp,
        tf.io.TFRecordWriter(tmp, options) as writer,
    ):
        for row in rows:
            writer.write(encode_example(row, spec))
    return len(rows)


class TFRecordDataset(AbstractVersionedDataset[pd.DataFrame, pd.DataFrame]):
    """A TFRecord file of ``tf.train.Example`` records as a DataFrame.

    Example catalog entry::

        gazenet_fixture_records:
          type: gaze_pipelines.datasets.TFRecordDataset
          filepath: data/03_primary/gazenet/train.tfrecords
          feature_spec: gaze_pipelines.pipelines.gazenet.features.TAO_GAZE_FEATURES
    """

    def __init__(
        self,
        *,
        filepath: str,
        feature_spec: str | dict[str, Any] | None = None,
        compression_type: str = "",
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        if protocol not in ("file", "local"):
            raise DatasetError("TFRecordDataset reads and writes local files (TensorFlow file IO)")
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self._spec = resolve_feature_spec(feature_spec) if feature_spec is not None else None
        self._compression = compression_type
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "features": len(self._spec) if self._spec else "all",
            "compression_type": self._compression or None,
            "version": self._version,
        }

    def load(self) -> pd.DataFrame:
        """Read all records."""
        return read_tfrecords(str(self._get_load_path()), self._spec, self._compression)

    def save(self, data: pd.DataFrame) -> None:
        """Write all records atomically."""
        if self._spec is None:
            raise DatasetError("TFRecordDataset needs a feature_spec to save")
        write_tfrecords(str(self._get_save_path()), data, self._spec, self._compression)

    def _exists(self) -> bool:
        return self._fs.exists(str(self._get_load_path()))
