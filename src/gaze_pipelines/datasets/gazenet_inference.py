"""Read-only input of ``gazenet_inference``: a folder in TAO's inference-set layout, or one image.

A folder holds frames (under ``Data/`` or directly inside, any depth), optional JSON label files
(``json_datafactory_v2/`` or ``json_datafactory/``, TAO's DataFactory format: face box and
fiducial points per frame) and an optional ``Config/``. A single image inside a TAO set finds the
set's label files in its parent folders. ``load()`` returns an ``InferenceInput``
whose frames are loaded lazily (``frames[name]()`` -> grey or BGR ``uint8`` array).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from kedro.io.core import AbstractDataset, DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
LABEL_FOLDERS = ("json_datafactory_v2", "json_datafactory")


@dataclass
class InferenceInput:
    """Frames (name -> lazy loader), their paths, and label files (name -> bytes)."""

    root: str
    frames: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    label_files: dict[str, bytes] = field(default_factory=dict)
    label_folder: str | None = None


def _loader(path: str, grey: bool) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"cannot decode image '{path}'")
        return img

    return load


class GazeNetInferenceDataset(AbstractDataset[None, InferenceInput]):
    """Frames and labels to run GazeNet inference on.

    Example catalog entry::

        gazenet_inference_input:
          type: gaze_pipelines.datasets.gazenet_inference.GazeNetInferenceDataset
          path: ${params:gazenet.inference.input_path}
    """

    def __init__(
        self, *, path: str, grey: bool = True, metadata: dict[str, Any] | None = None
    ) -> None:
        self._path = str(path)
        self._grey = grey
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "grey": self._grey}

    def load(self) -> InferenceInput:
        """List frames and read label files (images are decoded on demand)."""
        root = Path(self._path)
        if root.is_file():
            if root.suffix.lower() not in IMAGE_EXTENSIONS:
                raise DatasetError(f"'{root}' is not an image ({', '.join(IMAGE_EXTENSIONS)})")
            out = InferenceInput(
                str(root.parent),
                {root.name: _loader(str(root), self._grey)},
                {root.name: str(root)},
            )
            # an image inside a TAO set (<set>/Data/<user>/<frame>) finds the set's label files
            for parent in list(root.parents)[:4]:
                if self._read_labels(parent, out):
                    break
            return out
        if not root.is_dir():
            raise DatasetError(
                f"inference input '{root}' does not exist: set gazenet.inference.input_path to a "
                "TAO inference-set folder (Data/, json_datafactory_v2/, Config/) or an image"
            )
        data = root / "Data" if (root / "Data").is_dir() else root
        out = InferenceInput(str(root))
        for dirpath, dirnames, filenames in os.walk(data):
            dirnames[:] = sorted(d for d in dirnames if d not in LABEL_FOLDERS and d != "Config")
            for name in sorted(filenames):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, data)
                    out.frames[rel] = _loader(path, self._grey)
                    out.paths[rel] = path
        self._read_labels(root, out)
        if not out.frames:
            raise DatasetError(f"no images under '{data}'")
        return out

    @staticmethod
    def _read_labels(root: Path, out: InferenceInput) -> bool:
        for folder in LABEL_FOLDERS:
            lp = root / folder
            if lp.is_dir():
                out.label_folder = folder
                for f in sorted(lp.glob("*.json")):
                    out.label_files[f.name] = f.read_bytes()
                return True
        return False

    def save(self, data: Any) -> None:
        """Read-only."""
        raise DatasetError("GazeNetInferenceDataset is read-only")

    def _exists(self) -> bool:
        return os.path.exists(self._path)
