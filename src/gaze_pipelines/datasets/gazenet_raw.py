"""Read-only dataset over a GazeNet data root in TAO's layout (or MPIIFaceGaze's native one).

``load()`` lists every set below the root without decoding any image: Config texts, label files
(bytes) and frame paths per user. Images are read later, in parallel, by the normalization node.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

CONFIG_FILES = (
    "camera_parameters.txt",
    "R.txt",
    "T.txt",
    "TV_size",
    "board_size.txt",
    "resolution.txt",
)
LABEL_FOLDERS = ("json_datafactory_v2", "json_datafactory")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


@dataclass
class RawSet:
    """One set: where it is, its Config texts, label files and frames per user."""

    set_id: str
    root: str
    layout: str  # "tao" or "mpiifacegaze"
    config: dict[str, str | None] = field(default_factory=dict)
    label_folder: str | None = None
    label_files: dict[str, bytes] = field(default_factory=dict)
    frames: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> {relative name: path}
    extra: dict[str, Any] = field(default_factory=dict)


def _list_images(fs, folder: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(fs.find(folder)):
        if path.lower().endswith(IMAGE_EXTENSIONS):
            rel = str(PurePosixPath(path).relative_to(folder))
            out[rel] = path
    return out


def _read_tao_set(fs, set_path: str, set_id: str) -> RawSet:
    raw = RawSet(set_id=set_id, root=set_path, layout="tao")
    cfg = f"{set_path}/Config"
    for name in CONFIG_FILES:
        p = f"{cfg}/{name}"
        raw.config[name] = (
            fs.cat_file(p).decode("utf-8", errors="replace") if fs.isfile(p) else None
        )
    for folder in LABEL_FOLDERS:
        lp = f"{set_path}/{folder}"
        if fs.isdir(lp):
            raw.label_folder = folder
            for path in sorted(fs.ls(lp, detail=False)):
                if path.endswith(".json"):
                    raw.label_files[PurePosixPath(path).name] = fs.cat_file(path)
            break
    data = f"{set_path}/Data"
    if fs.isdir(data):
        for user_path in sorted(fs.ls(data, detail=False)):
            user = PurePosixPath(user_path).name
            if user.startswith(".") or not fs.isdir(user_path):
                continue
            raw.frames[user] = _list_images(fs, user_path)
    return raw


def _read_mpii_set(fs, root: str, set_id: str) -> RawSet:
    raw = RawSet(set_id=set_id, root=root, layout="mpiifacegaze")
    for user_path in sorted(fs.ls(root, detail=False)):
        user = PurePosixPath(user_path).name
        if not re.fullmatch(r"p\d+", user) or not fs.isdir(user_path):
            continue
        txt = f"{user_path}/{user}.txt"
        if fs.isfile(txt):
            raw.label_files[f"{user}.txt"] = fs.cat_file(txt)
        calib = {}
        for name in ("Camera.mat", "monitorPose.mat", "screenSize.mat"):
            p = f"{user_path}/Calibration/{name}"
            calib[name] = fs.cat_file(p) if fs.isfile(p) else None
        raw.extra[user] = calib
        raw.frames[user] = {
            rel: path
            for rel, path in _list_images(fs, user_path).items()
            if not rel.startswith("Calibration")
        }
    return raw


class GazeNetRawDataset(AbstractDataset[None, dict[str, RawSet]]):
    """All sets under a GazeNet data root, as ``{set_id: RawSet}`` (read-only).

    A set is a folder with ``Data/`` (TAO layout); a root whose children are ``pXX`` folders with
    ``pXX.txt`` is read as one MPIIFaceGaze set named after the root folder.
    """

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        protocol, root = get_protocol_and_path(str(path))
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self._root = root.rstrip("/")
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._root, "protocol": self._protocol}

    def load(self) -> dict[str, RawSet]:
        """List every set below the root."""
        fs, root = self._fs, self._root
        if not fs.isdir(root):
            raise DatasetError(
                f"GazeNet data root '{root}' does not exist: set gazenet.dataset_convert.data_root_path "
                "(conf/local/parameters_gazenet.yml) or run `kedro run --pipeline gazenet_sample`"
            )
        children = [p for p in sorted(fs.ls(root, detail=False)) if fs.isdir(p)]
        names = {PurePosixPath(p).name for p in children}
        if any(re.fullmatch(r"p\d+", n) for n in names) and not any(
            fs.isdir(f"{p}/Data") for p in children
        ):
            set_id = PurePosixPath(root).name
            return {set_id: _read_mpii_set(fs, root, set_id)}
        sets = {}
        for path in children:
            if fs.isdir(f"{path}/Data"):
                set_id = PurePosixPath(path).name
                sets[set_id] = _read_tao_set(fs, path, set_id)
        return sets

    def save(self, data: None) -> None:
        """Raw data is read-only."""
        raise DatasetError("GazeNetRawDataset is read-only")

    def _exists(self) -> bool:
        return self._fs.isdir(self._root)


def local_path(path: str) -> str:
    """Strip a ``file://`` prefix for OpenCV."""
    return path[7:] if path.startswith("file://") else os.fspath(path)
