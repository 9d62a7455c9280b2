"""A folder of files saved as one ``{relative path: bytes | str}`` mapping, atomically.

``save`` writes every file of the mapping into a staging folder next to the target and then
swaps it in with two renames, so readers see either the old tree or the new one, never a half
written one (local file systems). On other fsspec file systems each file is written atomically
(temp + move). ``load`` returns ``{relative path: loader}`` (call a loader to read that file's
bytes), like ``PartitionedDataset``, so listing a large tree reads nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from gaze_pipelines.core.io import atomic_write_bytes

FileContent = bytes | str


def _check_rel(rel: str) -> str:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts:
        raise DatasetError(
            f"FileTreeDataset: paths must be relative and inside the tree, got '{rel}'"
        )
    return str(p)


def _as_bytes(rel: str, content: Any) -> bytes:
    if callable(content):
        content = content()
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8")
    raise DatasetError(
        f"FileTreeDataset: '{rel}' must be bytes or str, got {type(content).__name__}"
    )


class FileTreeDataset(AbstractDataset[Mapping[str, Any], dict[str, Callable[[], bytes]]]):
    """A folder tree written from a ``{relative path: bytes | str | () -> bytes}`` mapping.

    ``mode="replace"`` (default) makes the folder exactly the mapping (the previous content
    of ``path`` is replaced as a whole); ``mode="merge"`` writes the files into the existing
    folder and keeps the others. Example::

        gazenet_raw_sets@sample_tree:
          type: gaze_pipelines.datasets.file_tree.FileTreeDataset
          path: ${params:gazenet.dataset_convert.data_root_path}/${params:gazenet.sample.set_id}
    """

    def __init__(
        self,
        *,
        path: str,
        mode: str = "replace",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Point the dataset at the folder ``path`` (local or any fsspec URL)."""
        if not path:
            raise DatasetError("FileTreeDataset needs a non-empty 'path'")
        if mode not in ("replace", "merge"):
            raise DatasetError(f"FileTreeDataset: mode must be 'replace' or 'merge', got '{mode}'")
        protocol, root = get_protocol_and_path(str(path))
        self._protocol = protocol
        self._root = root.rstrip("/")
        self._fs = fsspec.filesystem(protocol)
        self._mode = mode
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._root, "protocol": self._protocol, "mode": self._mode}

    def _url(self, rel: str = "") -> str:
        path = f"{self._root}/{rel}" if rel else self._root
        return path if self._protocol == "file" else f"{self._protocol}://{path}"

    def load(self) -> dict[str, Callable[[], bytes]]:
        """``{relative path: loader}`` for every file below the folder, sorted."""
        if not self._fs.isdir(self._root):
            raise DatasetError(f"FileTreeDataset: folder '{self._url()}' does not exist")
        out: dict[str, Callable[[], bytes]] = {}
        for full in sorted(self._fs.find(self._root)):
            rel = str(PurePosixPath(full).relative_to(PurePosixPath(self._root)))
            out[rel] = lambda full=full: self._fs.cat_file(full)
        return out

    def save(self, data: Mapping[str, Any]) -> None:
        """Write the mapping (see the class docstring for ``mode``)."""
        if not isinstance(data, Mapping):
            raise DatasetError(f"FileTreeDataset saves a mapping, got {type(data).__name__}")
        items = [(_check_rel(str(k)), v) for k, v in data.items()]
        if self._protocol == "file" and self._mode == "replace":
            self._save_local_swap(items)
            return
        for rel, content in items:
            atomic_write_bytes(self._url(rel), _as_bytes(rel, content))

    def _save_local_swap(self, items: list[tuple[str, Any]]) -> None:
        root = Path(self._root)
        root.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        staging = root.parent / f".{root.name}.tmp-{token}"
        old = root.parent / f".{root.name}.old-{token}"
        try:
            for rel, content in items:
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_as_bytes(rel, content))
            staging.mkdir(parents=True, exist_ok=True)
            if root.exists():
                os.replace(root, old)
            os.replace(staging, root)
        except BaseException:
            if old.exists() and not root.exists():
                os.replace(old, root)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(old)

    def _exists(self) -> bool:
        return self._fs.isdir(self._root)
