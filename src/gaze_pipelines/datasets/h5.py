"""Kedro datasets for NvGaze H5 containers and reflection sets.

An NvGaze H5 file (DESIGN.md section 3) holds ``images`` uint8 shaped (N, E, V, C, H, W) (eyes,
views, channels), an optional ``region_maps`` of the same shape, optional ``aperture_masks``
(E, V, C, H, W), optional ``validSamples`` / ``rejectedSamples`` index lists (written by
annotation tools) and one 1-D dataset of length N per label column (``float_gaze_x_degree``,
``float_pupil_x``, ``string_eye``, ...). File attributes: ``eyes`` (monocular / binocular) and
``image_resolution`` (W, H).

NvGaze's own scripts wrote every label as a byte string (``np.array(values, dtype="S")``). We
write numeric labels as float32 and strings as UTF-8, and read both forms: a byte-string column
whose name has a numeric type prefix (``float_``, ``double_``, ``int_``, ``bool_``) is parsed to
float32, any other byte-string column is decoded to ``str``.

In memory a file is an ``NvGazeH5`` (images + a label DataFrame + attributes + index lists).
Writes are atomic (temp file + rename; remote fsspec targets are uploaded after the local write)
and log progress like the original converter ("writing images", "writing label ...", time).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import h5py
import numpy as np
import pandas as pd
from kedro.io.core import DatasetError, Version, get_protocol_and_path

from gaze_pipelines.core.io import atomic_path
from gaze_pipelines.core.progress import progress
from gaze_pipelines.datasets.files import VersionedFileDataset

logger = logging.getLogger(__name__)

NUMERIC_PREFIXES = ("float_", "double_", "int_", "bool_")
ARRAY_KEYS = ("images", "region_maps", "aperture_masks")
INDEX_KEYS = ("validSamples", "rejectedSamples")


def _is_numeric_label(name: str) -> bool:
    return name.startswith(NUMERIC_PREFIXES)


def _parse_number(raw: bytes | str) -> float:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return 1.0 if low == "true" else 0.0
    if low in ("", "nan", "none"):
        return float("nan")
    return float(text)


def decode_label(name: str, values: np.ndarray) -> np.ndarray:
    """Decode one stored label column: numbers to float32, byte strings to ``str`` objects."""
    arr = np.asarray(values)
    if arr.dtype.kind in "SO" or h5py.check_string_dtype(arr.dtype) is not None:
        flat = arr.reshape(-1)
        if _is_numeric_label(name):
            try:
                return np.array([_parse_number(v) for v in flat], dtype=np.float32)
            except ValueError as exc:
                raise DatasetError(f"label '{name}' has a non-numeric value: {exc}") from exc
        return np.array(
            [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in flat],
            dtype=object,
        )
    if arr.dtype.kind == "U":
        return arr.astype(object)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float32)
    raise DatasetError(f"label '{name}' has unsupported dtype {arr.dtype}")


@dataclass
class NvGazeH5:
    """The content of one NvGaze H5 file.

    ``labels`` has one row per sample and one column per label dataset; ``valid_samples`` /
    ``rejected_samples`` are sample indices (or None when the file has no such list).
    """

    images: np.ndarray
    labels: pd.DataFrame
    attrs: dict[str, Any] = field(default_factory=dict)
    region_maps: np.ndarray | None = None
    aperture_masks: np.ndarray | None = None
    valid_samples: np.ndarray | None = None
    rejected_samples: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 6:
            raise ValueError(f"images must be (N, E, V, C, H, W), got shape {self.images.shape}")
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {self.images.dtype}")
        n = self.images.shape[0]
        if len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} label rows for {n} images")
        if self.region_maps is not None and self.region_maps.shape[0] != n:
            raise ValueError(f"region_maps has {self.region_maps.shape[0]} samples, images {n}")
        for name in ("valid_samples", "rejected_samples"):
            idx = getattr(self, name)
            if idx is None:
                continue
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{name} has indices outside [0, {n})")
            setattr(self, name, idx)
        self.labels = self.labels.reset_index(drop=True)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def resolution(self) -> tuple[int, int]:
        """Image (W, H) (from the attributes when the images were not loaded)."""
        if self.images.shape[-1] == 0 and len(self.attrs.get("image_resolution", ())) == 2:
            w, h = self.attrs["image_resolution"]
            return int(w), int(h)
        return int(self.images.shape[-1]), int(self.images.shape[-2])

    def subset(self, indices: np.ndarray | list[int]) -> NvGazeH5:
        """A new container with the samples at ``indices`` (index lists remapped)."""
        idx = np.asarray(indices, dtype=np.int64)
        remap = {int(old): new for new, old in enumerate(idx)}

        def _map(lst: np.ndarray | None) -> np.ndarray | None:
            if lst is None:
                return None
            return np.array([remap[int(i)] for i in lst if int(i) in remap], dtype=np.int64)

        return NvGazeH5(
            images=self.images[idx],
            labels=self.labels.iloc[idx].reset_index(drop=True),
            attrs=dict(self.attrs),
            region_maps=None if self.region_maps is None else self.region_maps[idx],
            aperture_masks=self.aperture_masks,
            valid_samples=_map(self.valid_samples),
            rejected_samples=_map(self.rejected_samples),
        )


def _read(h5: h5py.File, labels_only: bool, label_names: list[str] | None) -> NvGazeH5:
    if "images" not in h5:
        raise DatasetError("H5 file has no 'images' dataset")
    images_ds = h5["images"]
    n = images_ds.shape[0]
    if labels_only:
        lead = images_ds.shape[1:-2] if images_ds.ndim == 6 else (1, 1, *images_ds.shape[1:-2])
        images = np.zeros((n, *lead, 0, 0), dtype=np.uint8)
    else:
        images = np.asarray(images_ds[...])
        if images.ndim == 4:  # (N, C, H, W) files from other tools: one eye, one view
            images = images[:, None, None]
    columns: dict[str, np.ndarray] = {}
    for key in h5:
        if key in ARRAY_KEYS or key in INDEX_KEYS:
            continue
        ds = h5[key]
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] != n:
            logger.debug("skipping H5 entry '%s' (not a per-sample label)", key)
            continue
        if label_names is not None and key not in label_names:
            continue
        columns[key] = decode_label(key, ds[...])
    if label_names is not None:
        missing = [name for name in label_names if name not in columns]
        if missing:
            raise DatasetError(f"H5 file lacks requested labels {missing}; has {sorted(columns)}")
    attrs = {}
    for key, value in h5.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif isinstance(value, np.ndarray):
            value = [
                v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else v.item()
                for v in value
            ]
        elif isinstance(value, np.generic):
            value = value.item()
        attrs[key] = value

    def _opt(key: str) -> np.ndarray | None:
        return np.asarray(h5[key][...]) if key in h5 else None

    return NvGazeH5(
        images=images,
        labels=pd.DataFrame(columns, index=pd.RangeIndex(n)),
        attrs=attrs,
        region_maps=None if labels_only else _opt("region_maps"),
        aperture_masks=_opt("aperture_masks"),
        valid_samples=_opt("validSamples"),
        rejected_samples=_opt("rejectedSamples"),
    )


def read_nvgaze_h5(
    path: str | Path, labels_only: bool = False, label_names: list[str] | None = None
) -> NvGazeH5:
    """Read an NvGaze H5 file (local path or fsspec URL); both label forms are accepted."""
    protocol, _ = get_protocol_and_path(str(path))
    if protocol in ("file", "local"):
        with h5py.File(str(path), "r") as h5:
            return _read(h5, labels_only, label_names)
    with fsspec.open(str(path), "rb") as fh, h5py.File(fh, "r") as h5:
        return _read(h5, labels_only, label_names)


def _write(
    h5: h5py.File, data: NvGazeH5, compression: str | None, byte_string_labels: bool, chunk: int
) -> None:
    start = time.perf_counter()
    w, h = data.resolution
    attrs = {"eyes": "binocular" if data.images.shape[1] > 1 else "monocular", **data.attrs}
    attrs["image_resolution"] = [w, h]
    for key, value in attrs.items():
        if isinstance(value, (list, tuple)):
            if all(isinstance(v, str) for v in value):
                value = np.array(value, dtype=h5py.string_dtype("utf-8"))
            else:
                value = np.array(value)
        h5.attrs[key] = value
    n, e, v, c, hh, ww = data.images.shape
    logger.info("N E V C H W for h5 file (images): (%d, %d, %d, %d, %d, %d)", n, e, v, c, hh, ww)
    chunks = (1, e, v, c, hh, ww) if n else None
    images = h5.create_dataset(
        "images", shape=data.images.shape, dtype=np.uint8, chunks=chunks, compression=compression
    )
    for lo in progress(range(0, n, chunk), desc="writing images", total=-(-n // chunk) or None):
        images[lo : lo + chunk] = data.images[lo : lo + chunk]
    if data.region_maps is not None:
        h5.create_dataset(
            "region_maps", data=data.region_maps, compression=compression, chunks=chunks
        )
    if data.aperture_masks is not None:
        h5.create_dataset("aperture_masks", data=data.aperture_masks)
    for name in data.labels.columns:
        logger.info("writing label %s", name)
        col = data.labels[name]
        if (
            _is_numeric_label(name)
            or pd.api.types.is_numeric_dtype(col)
            or pd.api.types.is_bool_dtype(col)
        ):
            values = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float32)
            if byte_string_labels:
                h5.create_dataset(name, data=np.array([repr(float(x)) for x in values], dtype="S"))
            else:
                h5.create_dataset(name, data=values, dtype=np.float32)
        else:
            strings = [str(x) for x in col.tolist()]
            if byte_string_labels:
                h5.create_dataset(name, data=np.array(strings, dtype="S"))
            else:
                h5.create_dataset(name, data=strings, dtype=h5py.string_dtype("utf-8"))
    if data.valid_samples is not None:
        h5.create_dataset("validSamples", data=np.asarray(data.valid_samples, dtype=np.int64))
    if data.rejected_samples is not None:
        h5.create_dataset("rejectedSamples", data=np.asarray(data.rejected_samples, dtype=np.int64))
    logger.info("number of frames written for dataset : %d", n)
    logger.info("H5 file written in %.2f seconds", time.perf_counter() - start)


def write_nvgaze_h5(
    path: str | Path,
    data: NvGazeH5,
    compression: str | None = "gzip",
    byte_string_labels: bool = False,
    chunk: int = 256,
) -> None:
    """Write ``data`` atomically. ``byte_string_labels`` reproduces NvGaze's original label form."""
    protocol, fs_path = get_protocol_and_path(str(path))
    logger.info("write h5 file : %s", path)
    if protocol in ("file", "local"):
        with atomic_path(fs_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
            _write(h5, data, compression, byte_string_labels, chunk)
        return
    fs = fsspec.filesystem(protocol)
    with tempfile.TemporaryDirectory() as tmpdir:
        local = Path(tmpdir) / PurePosixPath(fs_path).name
        with h5py.File(local, "w") as h5:
            _write(h5, data, compression, byte_string_labels, chunk)
        tmp_remote = f"{fs_path}.tmp-upload"
        fs.put_file(str(local), tmp_remote)
        fs.mv(tmp_remote, fs_path)


class _H5DatasetBase(VersionedFileDataset):
    """Versioned H5 file datasets (paths and existence from the shared file base)."""


class NvGazeH5Dataset(_H5DatasetBase):
    """An NvGaze H5 file as an ``NvGazeH5`` (images, labels, attributes, sample lists).

    Example catalog entry::

        nvgaze_train_h5:
          type: gaze_pipelines.datasets.NvGazeH5Dataset
          filepath: data/05_model_input/nvgaze/merged_train.h5
          save_args: {compression: gzip}
          load_args: {labels_only: false}

    ``load_args``: ``labels_only`` (skip the image array), ``labels`` (only these label columns;
    fails if one is missing). ``save_args``: ``compression`` (gzip, lzf or null),
    ``byte_string_labels`` (write labels in NvGaze's original byte-string form).
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"compression": "gzip", "byte_string_labels": False}
    DEFAULT_LOAD_ARGS: dict[str, Any] = {"labels_only": False, "labels": None}

    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        unknown = set(self._load_args) - set(self.DEFAULT_LOAD_ARGS)
        unknown |= set(self._save_args) - set(self.DEFAULT_SAVE_ARGS)
        if unknown:
            raise DatasetError(
                f"unknown NvGazeH5Dataset arguments {sorted(unknown)}; load_args take "
                f"{sorted(self.DEFAULT_LOAD_ARGS)}, save_args take {sorted(self.DEFAULT_SAVE_ARGS)}"
            )
        super().__init__(filepath=filepath, version=version, metadata=metadata)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._full_path(self._filepath),
            "protocol": self._protocol,
            "load_args": self._load_args,
            "save_args": self._save_args,
            "version": self._version,
        }

    def load(self) -> NvGazeH5:
        """Read the file."""
        return read_nvgaze_h5(
            self._full_path(self._get_load_path()),
            labels_only=bool(self._load_args["labels_only"]),
            label_names=self._load_args["labels"],
        )

    def save(self, data: NvGazeH5) -> None:
        """Write the file atomically."""
        if not isinstance(data, NvGazeH5):
            raise DatasetError(f"NvGazeH5Dataset saves NvGazeH5 objects, got {type(data).__name__}")
        write_nvgaze_h5(
            self._full_path(self._get_save_path()),
            data,
            compression=self._save_args["compression"],
            byte_string_labels=bool(self._save_args["byte_string_labels"]),
        )


def read_reflection_h5(path: str | Path) -> list[np.ndarray]:
    """Read ``image_<i>`` grayscale images of a reflection set, in index order."""
    protocol, _ = get_protocol_and_path(str(path))

    def _collect(h5: h5py.File) -> list[np.ndarray]:
        keys = [k for k in h5 if isinstance(h5[k], h5py.Dataset) and h5[k].ndim == 2]
        keys.sort(
            key=lambda k: (int(k.split("_")[-1]) if k.split("_")[-1].isdigit() else 1 << 30, k)
        )
        images = []
        for k in keys:
            img = np.asarray(h5[k][...])
            if img.dtype != np.uint8:
                img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
            images.append(img)
        return images

    if protocol in ("file", "local"):
        with h5py.File(str(path), "r") as h5:
            return _collect(h5)
    with fsspec.open(str(path), "rb") as fh, h5py.File(fh, "r") as h5:
        return _collect(h5)


def write_reflection_h5(path: str | Path, images: list[np.ndarray]) -> None:
    """Write grayscale images as ``image_<i>`` datasets (one per image: sizes may differ)."""
    protocol, fs_path = get_protocol_and_path(str(path))
    if protocol not in ("file", "local"):
        raise DatasetError("ReflectionSetDataset writes local files only")
    with atomic_path(fs_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
        for i, img in enumerate(images):
            arr = np.asarray(img)
            if arr.ndim != 2:
                raise DatasetError(f"reflection image {i} must be 2-D grayscale, got {arr.shape}")
            h5.create_dataset(f"image_{i}", data=arr, compression="gzip")
    logger.info("%d images written to h5 file.", len(images))


class ReflectionSetDataset(_H5DatasetBase):
    """NvGaze's ``reflectiondataset.h5``: a list of 2-D grayscale images (``image_<i>``)."""

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._full_path(self._filepath), "version": self._version}

    def load(self) -> list[np.ndarray]:
        """Read all images."""
        return read_reflection_h5(self._full_path(self._get_load_path()))

    def save(self, data: list[np.ndarray]) -> None:
        """Write all images atomically."""
        write_reflection_h5(self._full_path(self._get_save_path()), list(data))
