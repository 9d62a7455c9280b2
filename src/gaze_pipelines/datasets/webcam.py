"""Datasets of the webcam family: recorded sessions, the positions.csv layout, arrays, models.

- :class:`WebcamSessionDataset`: a recording, either a folder ``<path>/frames/*.png|jpg`` or a
  video file, with optional sidecar tables ``targets.csv`` (``frame, x, y``: the screen target
  of each frame) and ``landmarks.csv`` (``frame`` + ``features.LANDMARK_COLUMNS``). For a video
  ``v.mp4`` the sidecars are ``v.targets.csv`` / ``v.landmarks.csv`` and frames are named
  ``000000``, ``000001``, ... Frames load lazily; saving writes a PNG/JPEG folder, or a video
  when the path ends in ``.mp4`` / ``.avi``.
- :class:`WebcamLayoutDataset`: the reference's layout ``positions.csv`` (``id, x, y,
  head_angle``) and ``{face, face_aligned, l_eye, r_eye, head_pos}/<id>.jpg``.
- :class:`NpzDataset` / :class:`NpyDataset`: numpy archives (versionable).
- :class:`KerasModelsDataset`: a folder of ``<name>.keras`` models, as a dict.

Every file is written atomically (``core.io``); paths may be fsspec URLs for the tables and
arrays; image folders and videos are local (OpenCV writes files).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from kedro.io.core import (
    AbstractDataset,
    DatasetError,
    Version,
)

from gaze_pipelines.core.io import atomic_path, atomic_write_bytes, atomic_write_text
from gaze_pipelines.core.progress import progress
from gaze_pipelines.datasets.files import VersionedFileDataset

IMAGE_KINDS = ("face", "face_aligned", "l_eye", "r_eye", "head_pos")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mov": "mp4v", ".mkv": "MJPG", ".webm": "VP80"}


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _encode(image: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, np.asarray(image), params)
    if not ok:
        raise DatasetError(f"could not encode an image as {suffix}")
    return buf.tobytes()


def _read_image(path: Path, grey: bool = False) -> np.ndarray:
    data = np.frombuffer(path.read_bytes(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"could not decode image {path}")
    return img


# ----------------------------------------------------------------------------------- session


@dataclass
class WebcamSession:
    """A recording: ordered lazy frames, optional targets and landmarks tables, frame rate."""

    frames: dict[str, Callable[[], np.ndarray]]
    targets: pd.DataFrame | None = None
    landmarks: pd.DataFrame | None = None
    fps: float = 30.0
    source: str = ""
    _video: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frames)

    def names(self) -> list[str]:
        """Frame names in recording order."""
        return list(self.frames)

    def iter_frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, image) in order; a video is decoded once, sequentially."""
        if self._video is not None:
            cap = cv2.VideoCapture(self._video)
            try:
                i = 0
                while True:
                    ok, img = cap.read()
                    if not ok:
                        break
                    yield f"{i:06d}", img
                    i += 1
            finally:
                cap.release()
            return
        for name, load in self.frames.items():
            yield name, load()


def _sidecars(path: Path) -> tuple[Path, Path]:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return path.with_suffix(".targets.csv"), path.with_suffix(".landmarks.csv")
    return path / "targets.csv", path / "landmarks.csv"


def _read_table(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    df = pd.read_csv(path, dtype={"frame": str})
    if "frame" not in df.columns:
        raise DatasetError(f"{path}: needs a 'frame' column, has {list(df.columns)}")
    df["frame"] = df["frame"].astype(str)
    return df


class WebcamSessionDataset(AbstractDataset[WebcamSession, WebcamSession]):
    """A recorded session: a frames folder or a video file, plus optional sidecar tables.

    Args:
        path: session folder (frames in ``<path>/frames``) or a video file.
        image_suffix: format of saved frames in a folder (``.png`` or ``.jpg``).
        jpeg_quality: JPEG quality of saved frames.
        fps: frame rate written to videos (a loaded video reports its own).
    """

    def __init__(
        self,
        *,
        path: str,
        image_suffix: str = ".png",
        jpeg_quality: int = 95,
        fps: float = 30.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if image_suffix not in IMAGE_SUFFIXES:
            raise DatasetError(
                f"image_suffix must be one of {IMAGE_SUFFIXES}, got {image_suffix!r}"
            )
        self._path = Path(path)
        self._suffix = image_suffix
        self._quality = jpeg_quality
        self._fps = fps
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "image_suffix": self._suffix, "fps": self._fps}

    @property
    def is_video(self) -> bool:
        """Whether the path names a video file."""
        return self._path.suffix.lower() in VIDEO_SUFFIXES

    def load(self) -> WebcamSession:
        """Frames (lazy) and the sidecar tables that exist."""
        targets_path, landmarks_path = _sidecars(self._path)
        if self.is_video:
            if not self._path.is_file():
                raise DatasetError(f"video {self._path} does not exist")
            cap = cv2.VideoCapture(str(self._path))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS) or self._fps)
            cap.release()
            names = [f"{i:06d}" for i in range(max(n, 0))]
            frames = {name: _VideoFrame(str(self._path), i) for i, name in enumerate(names)}
            return WebcamSession(frames, _read_table(targets_path), _read_table(landmarks_path),
                                 fps, str(self._path), str(self._path))  # fmt: skip
        folder = self._path / "frames"
        if not folder.is_dir():
            raise DatasetError(f"session {self._path} has no frames/ folder")
        files = sorted(
            (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda p: _natural_key(p.stem),
        )
        frames = {p.stem: (lambda p=p: _read_image(p)) for p in files}
        return WebcamSession(frames, _read_table(targets_path), _read_table(landmarks_path),
                             self._fps, str(self._path))  # fmt: skip

    def save(self, data: WebcamSession) -> None:
        """Write frames (folder or video) and the sidecar tables."""
        targets_path, landmarks_path = _sidecars(self._path)
        if self.is_video:
            self._write_video(data)
        else:
            folder = self._path / "frames"
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                if old.suffix.lower() in IMAGE_SUFFIXES:
                    old.unlink()
            for name, img in progress(data.iter_frames(), "write frames", len(data), "frame"):
                atomic_write_bytes(folder / f"{name}{self._suffix}",
                                   _encode(img, self._suffix, self._quality))  # fmt: skip
        for table, path in ((data.targets, targets_path), (data.landmarks, landmarks_path)):
            if table is not None:
                atomic_write_text(path, table.to_csv(index=False))

    def _write_video(self, data: WebcamSession) -> None:
        fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(self._path.suffix.lower(), "mp4v"))
        writer = None
        with atomic_path(self._path, suffix=self._path.suffix) as tmp:
            try:
                for _, img in progress(data.iter_frames(), "write video", len(data), "frame"):
                    img = np.asarray(img)
                    if img.ndim == 2:
                        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                    if writer is None:
                        size = (img.shape[1], img.shape[0])
                        writer = cv2.VideoWriter(tmp, fourcc, float(data.fps or self._fps), size)
                        if not writer.isOpened():
                            raise DatasetError(f"OpenCV cannot write {self._path.suffix} videos")
                    writer.write(img)
            finally:
                if writer is not None:
                    writer.release()

    def _exists(self) -> bool:
        return self._path.is_file() if self.is_video else (self._path / "frames").is_dir()


@dataclass(frozen=True)
class _VideoFrame:
    """Lazy loader of frame ``index`` of a video (random access; prefer ``iter_frames``)."""

    path: str
    index: int

    def __call__(self) -> np.ndarray:
        cap = cv2.VideoCapture(self.path)
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, self.index)
            ok, img = cap.read()
        finally:
            cap.release()
        if not ok:
            raise DatasetError(f"cannot read frame {self.index} of {self.path}")
        return img


# ------------------------------------------------------------------------------------ layout


@dataclass
class WebcamLayout:
    """The positions table and the crops: ``images[kind][id]`` is an array or a lazy loader."""

    positions: pd.DataFrame
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: str = ""

    def read(self, kind: str, sample_id: Any) -> np.ndarray:
        """The ``kind`` crop of sample ``sample_id`` (uint8; head_pos one channel)."""
        item = self.images[kind][str(sample_id)]
        return item() if callable(item) else np.asarray(item)

    def has(self, kind: str, sample_id: Any) -> bool:
        """Whether the crop exists."""
        return str(sample_id) in self.images.get(kind, {})


class WebcamLayoutDataset(AbstractDataset[WebcamLayout, WebcamLayout]):
    """``positions.csv`` + ``<kind>/<id>.jpg`` folders (the reference's data layout).

    Args:
        path: folder holding ``positions.csv`` and the five image folders.
        jpeg_quality: quality of written crops.
    """

    def __init__(
        self, *, path: str, jpeg_quality: int = 95, metadata: dict[str, Any] | None = None
    ) -> None:
        self._path = Path(path)
        self._quality = jpeg_quality
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "jpeg_quality": self._quality}

    def load(self) -> WebcamLayout:
        """The positions table (as written) and lazy loaders of every crop found."""
        csv = self._path / "positions.csv"
        if not csv.is_file():
            raise DatasetError(f"{csv} does not exist (expected the positions.csv layout)")
        positions = pd.read_csv(csv)
        images: dict[str, dict[str, Any]] = {}
        for kind in IMAGE_KINDS:
            folder = self._path / kind
            files = folder.iterdir() if folder.is_dir() else []
            images[kind] = {
                p.stem: (lambda p=p, g=(kind == "head_pos"): _read_image(p, grey=g))
                for p in files
                if p.suffix.lower() in IMAGE_SUFFIXES
            }
        return WebcamLayout(positions, images, str(self._path))

    def save(self, data: WebcamLayout) -> None:
        """Write ``positions.csv`` and every crop as ``<kind>/<id>.jpg`` (older crops are removed)."""
        for kind, items in data.images.items():
            folder = self._path / kind
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.jpg"):
                if old.stem not in items:
                    old.unlink()
            for sid, img in progress(items.items(), f"write {kind}", len(items), "img"):
                arr = img() if callable(img) else img
                atomic_write_bytes(folder / f"{sid}.jpg", _encode(arr, ".jpg", self._quality))
        atomic_write_text(self._path / "positions.csv", data.positions.to_csv(index=False))

    def _exists(self) -> bool:
        return (self._path / "positions.csv").is_file()


# ------------------------------------------------------------------------------------ arrays


class NpzDataset(VersionedFileDataset):
    """A dict of numpy arrays in one ``.npz`` file (uncompressed unless ``compress``)."""

    def __init__(self, *, filepath: str, compress: bool = False, version: Version | None = None,
                 metadata: dict[str, Any] | None = None) -> None:  # fmt: skip
        super().__init__(filepath=filepath, version=version, metadata=metadata)
        self._compress = compress

    def load(self) -> dict[str, np.ndarray]:
        """All arrays (object arrays are refused)."""
        with np.load(io.BytesIO(self._read()), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def save(self, data: Mapping[str, np.ndarray]) -> None:
        """Write the arrays atomically."""
        buf = io.BytesIO()
        arrays = {k: np.asarray(v) for k, v in data.items()}
        (np.savez_compressed if self._compress else np.savez)(buf, **arrays)
        self._write(buf.getvalue())


class NpyDataset(VersionedFileDataset):
    """One numpy array in a ``.npy`` file."""

    def load(self) -> np.ndarray:
        """The array."""
        return np.load(io.BytesIO(self._read()), allow_pickle=False)

    def save(self, data: np.ndarray) -> None:
        """Write the array atomically."""
        buf = io.BytesIO()
        np.save(buf, np.asarray(data), allow_pickle=False)
        self._write(buf.getvalue())


class KerasModelsDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A folder of Keras 3 models ``<name>.keras``, loaded and saved as ``{name: model}``."""

    def __init__(self, *, path: str, compile: bool = False,  # noqa: A002 - keras' own name
                 metadata: dict[str, Any] | None = None) -> None:  # fmt: skip
        self._path = Path(path)
        self._compile = compile
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "compile": self._compile}

    def load(self) -> dict[str, Any]:
        """Every ``*.keras`` model of the folder, by file stem."""
        import keras  # noqa: PLC0415 - heavy import

        files = sorted(self._path.glob("*.keras"))
        if not files:
            raise DatasetError(f"no .keras models in {self._path}")
        return {p.stem: keras.models.load_model(p, compile=self._compile) for p in files}

    def save(self, data: Mapping[str, Any]) -> None:
        """Write each model atomically; other ``.keras`` files of the folder are removed, so the
        folder always holds exactly the last run's models."""
        self._path.mkdir(parents=True, exist_ok=True)
        for stale in self._path.glob("*.keras"):
            if stale.stem not in data:
                stale.unlink()
        for name, model in data.items():
            with atomic_path(self._path / f"{name}.keras", suffix=".keras") as tmp:
                model.save(tmp)

    def _exists(self) -> bool:
        return any(self._path.glob("*.keras"))
