"""Small file datasets with atomic writes: raw bytes (PNG crops, engines) and text."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractVersionedDataset, Version, get_filepath_str, get_protocol_and_path

from gaze_pipelines.core.io import atomic_write_bytes


class VersionedFileDataset(AbstractVersionedDataset):
    """Shared base of single-file versioned datasets: fsspec protocol, paths, existence."""

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _full_path(self, path: PurePosixPath) -> str:
        return get_filepath_str(path, self._protocol)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "protocol": self._protocol,
            "version": self._version,
        }

    def _read(self) -> bytes:
        with self._fs.open(self._full_path(self._get_load_path()), "rb") as fh:
            return fh.read()

    def _write(self, data: bytes) -> None:
        path = self._full_path(self._get_save_path())
        atomic_write_bytes(path if self._protocol == "file" else f"{self._protocol}://{path}", data)

    def _exists(self) -> bool:
        return self._fs.exists(self._full_path(self._get_load_path()))


class BytesDataset(VersionedFileDataset):
    """A file as raw bytes (e.g. an encoded PNG), written atomically."""

    def load(self) -> bytes:
        """Read the file."""
        return self._read()

    def save(self, data: bytes) -> None:
        """Write the file atomically."""
        self._write(bytes(data))


class AtomicTextDataset(VersionedFileDataset):
    """A UTF-8 text file written atomically (temp file + rename)."""

    def load(self) -> str:
        """Read the text."""
        return self._read().decode("utf-8")

    def save(self, data: str) -> None:
        """Write the text atomically."""
        self._write(data.encode("utf-8"))
