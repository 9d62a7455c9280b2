"""Kedro datasets of the GestureNet family: a TAO gesture data tree and optional TAO spec files.

``GestureTreeDataset`` is a folder in TAO GestureNet's layout (``mount_dir_path``):
``<org_data_dir>/<set>/<uid>/<session>/<frame>.png`` images, ``<annotation_path>/<set>/<uid>/
<session>/<frame>.json`` annotations, ``<post_data_dir>/...`` crops.

- ``load()`` returns a ``GestureTree``: a lazy reader (lists files, reads an image or a JSON on
  demand), so a node never holds the whole data set in memory.
- ``save(mapping)`` writes ``{relative path: content}``. Content is an image array (PNG/JPEG by
  the extension, through OpenCV), a dict/list (JSON), ``bytes`` or ``str``. A value may be a
  zero-argument callable (evaluated lazily, one at a time, so renderers and croppers stream).
  A key without a file extension names a *group*: its value (or its callable's result) is a
  mapping of further ``{relative path: content}``, e.g. an image and its annotation rendered
  together. Every file is written atomically (temp file + rename); a progress bar and the
  throughput are logged.

``TaoSpecDataset`` is a JSON object file written atomically: TAO's spec files
(``dataset_config.json``, ``dataset_experiment_config.json``, ...), ``data.json``, KPI summaries.
An empty or null ``filepath`` loads ``{}``, so the catalog can always name an optional spec file
and the parameters decide whether one is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import cv2
import fsspec
import numpy as np
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from gaze_pipelines.core.io import atomic_write_bytes
from gaze_pipelines.core.progress import progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _full_path(protocol: str, path: str) -> str:
    return path if protocol in ("file", "local") else f"{protocol}://{path}"


class GestureTree:
    """Read access to a gesture data tree: list files, read images and JSON lazily."""

    def __init__(self, root: str, protocol: str = "file", fs: Any = None):
        if protocol in ("file", "local"):
            root = os.path.abspath(root)
        self.root = root.rstrip("/") or "/"
        self.protocol = protocol
        self.fs = fs or fsspec.filesystem(protocol)

    def __repr__(self) -> str:
        return f"GestureTree({self.path('')!r})"

    def path(self, rel: str) -> str:
        """Full path (with protocol when remote) of a relative path."""
        rel = str(rel).strip("/")
        return _full_path(self.protocol, f"{self.root}/{rel}" if rel else self.root)

    def _abs(self, rel: str) -> str:
        rel = str(rel).strip("/")
        return f"{self.root}/{rel}" if rel else self.root

    def exists(self, rel: str) -> bool:
        """Whether a file or folder exists."""
        return self.fs.exists(self._abs(rel))

    def isdir(self, rel: str) -> bool:
        """Whether a folder exists."""
        return self.fs.isdir(self._abs(rel))

    def list_dirs(self, rel: str) -> list[str]:
        """Names of the sub-folders of a folder (sorted; hidden ones skipped)."""
        base = self._abs(rel)
        if not self.fs.isdir(base):
            return []
        out = []
        for entry in self.fs.ls(base, detail=True):
            name = PurePosixPath(entry["name"]).name
            if entry.get("type") == "directory" and not name.startswith("."):
                out.append(name)
        return sorted(out)

    def list_files(self, rel: str, extensions: tuple[str, ...] | None = None) -> list[str]:
        """Relative paths (to the root) of all files below a folder, sorted."""
        base = self._abs(rel)
        if not self.fs.isdir(base):
            return []
        found = []
        for path in self.fs.find(base):
            name = PurePosixPath(path).name
            if name.startswith("."):
                continue
            if extensions and not name.lower().endswith(extensions):
                continue
            found.append(str(PurePosixPath(path).relative_to(self.root)))
        return sorted(found)

    def read_bytes(self, rel: str) -> bytes:
        """Raw bytes of a file."""
        with self.fs.open(self._abs(rel), "rb") as fh:
            return fh.read()

    def read_json(self, rel: str) -> Any:
        """Parsed JSON of a file (``json.JSONDecodeError`` on malformed files)."""
        return json.loads(self.read_bytes(rel).decode("utf-8"))

    def read_image(self, rel: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
        """Decoded image (BGR or grayscale by ``flags``); ``ValueError`` if it cannot be decoded."""
        data = np.frombuffer(self.read_bytes(rel), np.uint8)
        image = cv2.imdecode(data, flags)
        if image is None:
            raise ValueError(f"cannot decode image {self.path(rel)}")
        return image

    def image_size(self, rel: str) -> tuple[int, int]:
        """``(width, height)`` from the image header (PIL), without decoding the pixels."""
        from PIL import Image  # noqa: PLC0415

        with self.fs.open(self._abs(rel), "rb") as fh, Image.open(fh) as im:
            return int(im.size[0]), int(im.size[1])


def encode_content(rel: str, content: Any) -> bytes:
    """Bytes of ``content`` for a file named ``rel`` (image by extension, JSON, bytes, text)."""
    suffix = PurePosixPath(rel).suffix.lower()
    if isinstance(content, np.ndarray):
        if suffix not in IMAGE_EXTENSIONS:
            raise DatasetError(f"an image needs an image extension {IMAGE_EXTENSIONS}, got '{rel}'")
        ok, buf = cv2.imencode(suffix, content)
        if not ok:
            raise DatasetError(
                f"cannot encode image '{rel}' (shape {content.shape}, {content.dtype})"
            )
        return buf.tobytes()
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (dict, list)):
        return json.dumps(content, indent=1, sort_keys=False).encode("utf-8")
    raise DatasetError(f"cannot write {type(content).__name__} to '{rel}'")


class GestureTreeDataset(AbstractDataset[Mapping[str, Any], GestureTree]):
    """A TAO GestureNet data tree: lazy reader on load, streaming atomic writer on save.

    Example::

        gesturenet_raw:
          type: gaze_pipelines.datasets.GestureTreeDataset
          path: ${params:gesturenet.dataset_config.mount_dir_path}
    """

    def __init__(
        self,
        *,
        path: str | None,
        desc: str = "write files",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Point the dataset at the root folder ``path`` (local or any fsspec URL).

        An empty or null ``path`` is an optional, absent tree: it loads ``None`` (e.g. TAO's
        ``cal_image_dir`` when calibration uses the training crops).
        """
        self._optional = path in (None, "", "null", "None")
        protocol, root = get_protocol_and_path(str(path)) if not self._optional else ("file", "")
        self._protocol = protocol
        self._root = root.rstrip("/")
        self._fs = fsspec.filesystem(protocol)
        self._desc = desc
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._root, "protocol": self._protocol}

    def load(self) -> GestureTree | None:
        """A lazy reader of the tree (nothing is read until a node lists or reads files)."""
        if self._optional:
            return None
        return GestureTree(self._root, self._protocol, self._fs)

    def _write(self, rel: str, content: Any) -> None:
        rel = str(PurePosixPath(rel))
        if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
            raise DatasetError(f"relative paths only inside the tree, got '{rel}'")
        atomic_write_bytes(
            _full_path(self._protocol, f"{self._root}/{rel}"), encode_content(rel, content)
        )

    def _items(self, data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
        for key, value in data.items():
            if callable(value):
                value = value()
            if value is None:
                continue
            if not PurePosixPath(key).suffix:
                if not isinstance(value, Mapping):
                    raise DatasetError(
                        f"group '{key}' must yield a mapping of files, got {type(value).__name__}"
                    )
                yield from value.items()
            else:
                yield key, value

    def save(self, data: Mapping[str, Any]) -> None:
        """Write every ``{relative path: content}`` (callables and groups resolved lazily)."""
        if self._optional:
            raise DatasetError("GestureTreeDataset without a path cannot be saved")
        if not isinstance(data, Mapping):
            raise DatasetError(f"GestureTreeDataset saves a mapping, got {type(data).__name__}")
        self._fs.makedirs(self._root, exist_ok=True)
        for key in progress(list(data), desc=self._desc, total=len(data), unit="item"):
            for rel, content in self._items({key: data[key]}):
                self._write(rel, content)

    def _exists(self) -> bool:
        return not self._optional and self._fs.isdir(self._root)


class _OptionalFileDataset(AbstractDataset[Any, Any]):
    """A file a parameter may leave unset (null or empty ``filepath``)."""

    def __init__(
        self, *, filepath: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        """Name the file, or leave ``filepath`` empty."""
        self._filepath = str(filepath).strip() if filepath not in (None, "", "null", "None") else ""
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath or None}

    def _exists(self) -> bool:
        return True


class TaoSpecDataset(_OptionalFileDataset):
    """A JSON (or YAML, read-only) object file, saved atomically; no ``filepath`` loads ``{}``."""

    def load(self) -> dict:
        """The parsed spec, or ``{}`` when no file is configured."""
        if not self._filepath:
            return {}
        protocol, path = get_protocol_and_path(self._filepath)
        fs = fsspec.filesystem(protocol)
        if not fs.exists(path):
            raise DatasetError(f"spec file '{self._filepath}' does not exist")
        with fs.open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
        try:
            if path.lower().endswith((".yml", ".yaml")):
                import yaml  # noqa: PLC0415

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except (json.JSONDecodeError, ValueError) as exc:
            raise DatasetError(f"spec file '{self._filepath}' is not valid: {exc}") from exc
        if not isinstance(data, dict):
            raise DatasetError(
                f"spec file '{self._filepath}' must hold an object, got {type(data).__name__}"
            )
        return data

    def save(self, data: dict) -> None:
        """Write the spec as JSON (atomically); needs a ``filepath``."""
        if not self._filepath:
            raise DatasetError("TaoSpecDataset without a filepath cannot be saved")
        text = json.dumps(data, indent=1, default=_json_default)
        atomic_write_bytes(self._filepath, text.encode("utf-8"))


class OptionalKerasModelDataset(_OptionalFileDataset):
    """A Keras model file to start training from (``.keras`` or ``.h5``), or ``None`` without a path.

    TAO's ``model_config.weights_init``: the node copies its weights by layer name into the new
    network. A null or empty ``filepath`` loads ``None``.
    """

    def load(self) -> Any:
        """The model (not compiled), or ``None`` when no file is configured."""
        if not self._filepath:
            return None
        import keras  # noqa: PLC0415 - heavy import, only when a model is configured

        protocol, path = get_protocol_and_path(self._filepath)
        fs = fsspec.filesystem(protocol)
        if not fs.exists(path):
            raise DatasetError(f"model file '{self._filepath}' does not exist")
        if protocol not in ("file", "local"):
            import tempfile  # noqa: PLC0415

            with tempfile.TemporaryDirectory() as tmp:
                local = os.path.join(tmp, PurePosixPath(path).name)
                fs.get(path, local)
                return keras.models.load_model(local, compile=False)
        return keras.models.load_model(path, compile=False)

    def save(self, data: Any) -> None:
        """Read-only."""
        raise DatasetError("OptionalKerasModelDataset is read-only")
