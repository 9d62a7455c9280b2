"""Atomic file writes (temp file + rename) for local and fsspec paths."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import fsspec
from fsspec.utils import infer_storage_options


def _is_local(path: str | os.PathLike) -> bool:
    return infer_storage_options(str(path))["protocol"] in ("file", "local")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary local path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. Use it for
    writers that need a file name (h5py, cv2.imwrite, TFRecordWriter).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (local: temp + ``os.replace``; fsspec: temp + mv)."""
    if _is_local(path):
        local = infer_storage_options(str(path))["path"]
        with atomic_path(local) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
        return
    fs, fs_path = fsspec.core.url_to_fs(str(path))
    tmp = str(PurePosixPath(fs_path).parent / f".{PurePosixPath(fs_path).name}.{uuid.uuid4().hex}")
    with fs.open(tmp, "wb") as fh:
        fh.write(data)
    fs.mv(tmp, fs_path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))
