"""Kedro datasets for NvGaze raw footage folders and folders of reflection source images.

Raw footage (DESIGN.md section 3): a folder with ``footage_description.csv`` whose column
prefixes give the types (``float_``, ``double_``, ``int_``, ``bool_``, ``string_``; other columns
are strings), an ``archive`` column naming a zip (relative to the folder) that holds the image
files named in ``image_<eye>_<view>`` and ``regionmask_<withskin|withoutskin>_<eye>_<view>``.

``NvGazeFootageDataset(path=...)`` loads either one footage folder or a folder of footage folders
(every sub-folder with a ``footage_description.csv``) as ``{name: RawFootage}``. Nothing is
decoded at load: ``RawFootage.read_image(member)`` reads one archive member when a node asks for
it. Saving takes ``{name: Footage}`` (``gaze_pipelines.synthetic.nvgaze.Footage``: a table and
a frame renderer) and streams the rendered PNGs into the zip; each footage folder is written
into a temporary sibling folder and renamed into place, so a failed render leaves nothing half
written.

``ImageFolderDataset(path=...)`` loads every image file below a folder as ``{name: loader}``
(lazy, grayscale uint8). ``path: null`` (or ``skimage``, when no such folder exists) means the
sample images that scikit-image installs with the package (read from disk only, never
downloaded).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import fsspec
import numpy as np
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from gaze_pipelines.core.progress import progress

logger = logging.getLogger(__name__)

CSV_NAME = "footage_description.csv"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def column_type(name: str) -> str:
    """Type of a footage column from its prefix: float, int, bool or string."""
    prefix = name.strip().split("_", 1)[0]
    return {"float": "float", "double": "float", "int": "int", "bool": "bool"}.get(prefix, "string")


def _to_bool(value: str) -> bool | None:
    low = value.strip().lower()
    if low in ("1", "true", "t", "yes", "y"):
        return True
    if low in ("0", "false", "f", "no", "n"):
        return False
    if low in ("", "nan", "none"):
        return None
    raise ValueError(f"not a boolean: {value!r}")


def parse_footage_csv(text: str, source: str = CSV_NAME) -> pd.DataFrame:
    """Parse ``footage_description.csv`` text into a typed DataFrame (types from column prefixes).

    Empty numeric cells become NaN (so a label can be missing for some rows only). A value that
    does not parse raises ``DatasetError`` naming the row, the column and the value.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DatasetError(f"{source}: empty file")
    header = [h.strip() for h in rows[0]]
    if not any(header):
        raise DatasetError(f"{source}: no column names in the header")
    keep = [i for i, h in enumerate(header) if h]
    names = [header[i] for i in keep]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DatasetError(f"{source}: duplicate columns {dupes}")
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    data: dict[str, list[Any]] = {n: [] for n in names}
    for line, row in enumerate(body, start=2):
        for i, name in zip(keep, names, strict=True):
            cell = row[i].strip() if i < len(row) else ""
            kind = column_type(name)
            try:
                if kind == "float":
                    value: Any = float(cell) if cell else np.nan
                elif kind == "int":
                    value = int(float(cell)) if cell else None
                elif kind == "bool":
                    value = _to_bool(cell)
                else:
                    value = cell
            except ValueError as exc:
                raise DatasetError(f"{source} line {line}, column '{name}': {exc}") from exc
            data[name].append(value)
    out = {}
    for name in names:
        kind = column_type(name)
        if kind == "float":
            out[name] = pd.Series(data[name], dtype="float64")
        elif kind == "int":
            out[name] = pd.Series(data[name], dtype="Int64")
        elif kind == "bool":
            out[name] = pd.Series(data[name], dtype="boolean")
        else:
            out[name] = pd.Series(data[name], dtype=object)
    return pd.DataFrame(out)


def format_footage_csv(table: pd.DataFrame) -> str:
    """Write a footage table as CSV text (numbers with full float precision, NaN as empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(table.columns))
    for row in table.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
                cells.append("")
            elif isinstance(value, (float, np.floating)):
                cells.append(repr(float(value)))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return buf.getvalue()


@dataclass
class RawFootage:
    """One footage folder: its typed label table and lazy access to its archive members."""

    name: str
    root: str
    table: pd.DataFrame
    protocol: str = "file"
    _zips: dict[str, zipfile.ZipFile] = field(default_factory=dict, repr=False)
    _files: list[Any] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.table)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_zips"], state["_files"] = {}, []
        return state

    def _zip(self, archive: str) -> zipfile.ZipFile:
        if archive not in self._zips:
            path = archive if os.path.isabs(archive) else f"{self.root}/{archive}"
            fs = fsspec.filesystem(self.protocol)
            if not fs.exists(path):
                raise FileNotFoundError(f"archive '{archive}' not found in {self.root}")
            fh = fs.open(path, "rb")
            self._files.append(fh)
            self._zips[archive] = zipfile.ZipFile(fh)
        return self._zips[archive]

    def read_bytes(self, archive: str, member: str) -> bytes:
        """Raw bytes of one archive member (``KeyError`` if the archive lacks it)."""
        return self._zip(archive).read(member)

    def read_image(self, archive: str, member: str, colour: bool = False) -> np.ndarray:
        """Decode one archive image: HxW uint8 grey (mean of channels) or HxWx3 BGR."""
        buf = np.frombuffer(self.read_bytes(archive, member), dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f"cannot decode image '{member}' in '{archive}'")
        if img.dtype != np.uint8:
            img = cv2.convertScaleAbs(img, alpha=255.0 / max(1.0, float(img.max())))
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[:, :, :3]
        if colour:
            return img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if img.ndim == 3:
            # NvGaze converts to grey as the mean of the channels
            img = np.rint(img.astype(np.float32).mean(axis=2)).astype(np.uint8)
        return img

    def close(self) -> None:
        """Close the open archives."""
        for z in self._zips.values():
            z.close()
        for fh in self._files:
            fh.close()
        self._zips.clear()
        self._files.clear()


def _write_footage(folder: Path, footage: Any) -> None:
    """Render a ``Footage`` into ``folder`` (CSV + zip) through a temp sibling folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        table = footage.table
        archives = sorted(set(table["archive"].astype(str)))
        if len(archives) != 1:
            raise DatasetError(f"footage '{footage.name}' must use one archive, got {archives}")
        image_cols = [c for c in table.columns if c.startswith(("image_", "regionmask_"))]
        with zipfile.ZipFile(tmp / archives[0], "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for i in progress(range(len(table)), desc=f"render {footage.name}", unit="frame"):
                frame = footage.render(i)
                arrays = {
                    "image": frame.image,
                    "regionmask_withskin": frame.mask_withskin,
                    "regionmask_withoutskin": frame.mask_withoutskin,
                }
                for col in image_cols:
                    kind = "image" if col.startswith("image_") else col.rsplit("_", 2)[0]
                    ok, png = cv2.imencode(".png", arrays[kind])
                    if not ok:
                        raise DatasetError(f"cannot encode {col} of frame {i}")
                    zf.writestr(str(table.at[i, col]), png.tobytes())
        (tmp / CSV_NAME).write_text(format_footage_csv(table))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class NvGazeFootageDataset(AbstractDataset[dict[str, Any], dict[str, RawFootage]]):
    """NvGaze raw footage: one folder, or a folder of footage folders, as ``{name: RawFootage}``.

    Example catalog entry::

        nvgaze_raw:
          type: gaze_pipelines.datasets.NvGazeFootageDataset
          path: ${params:nvgaze.raw_dir}
    """

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        protocol, fs_path = get_protocol_and_path(path)
        self._protocol = protocol
        self._path = fs_path.rstrip("/")
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "protocol": self._protocol}

    def _folders(self) -> dict[str, str]:
        if self._fs.exists(f"{self._path}/{CSV_NAME}"):
            return {PurePosixPath(self._path).name: self._path}
        if not self._fs.isdir(self._path):
            raise DatasetError(f"NvGaze raw path {self._path} does not exist")
        found = {}
        for entry in sorted(self._fs.ls(self._path, detail=False)):
            entry = str(entry).rstrip("/")
            if self._fs.isdir(entry) and self._fs.exists(f"{entry}/{CSV_NAME}"):
                found[PurePosixPath(entry).name] = entry
        if not found:
            raise DatasetError(
                f"no {CSV_NAME} in {self._path} or in its sub-folders: expected one footage "
                "folder or a folder of footage folders"
            )
        return found

    def load(self) -> dict[str, RawFootage]:
        """List the footage folders and parse their CSV tables (images stay in the archives)."""
        out = {}
        for name, folder in self._folders().items():
            with self._fs.open(f"{folder}/{CSV_NAME}", "r", encoding="utf-8-sig") as fh:
                table = parse_footage_csv(fh.read(), source=f"{folder}/{CSV_NAME}")
            out[name] = RawFootage(name=name, root=folder, table=table, protocol=self._protocol)
            logger.info("footage %s: %d samples, %d columns", name, len(table), table.shape[1])
        return out

    def save(self, data: dict[str, Any]) -> None:
        """Render ``{name: Footage}`` into sub-folders ``<path>/<name>`` (local paths only)."""
        if self._protocol not in ("file", "local"):
            raise DatasetError("NvGazeFootageDataset writes local folders only")
        if not isinstance(data, dict):
            raise DatasetError("save takes {footage name: Footage}")
        for name, footage in data.items():
            _write_footage(Path(self._path) / name, footage)

    def _exists(self) -> bool:
        try:
            return bool(self._folders())
        except DatasetError:
            return False


def skimage_data_dir() -> str:
    """Folder of the sample images installed with scikit-image (no download involved)."""
    import skimage.data  # noqa: PLC0415

    return os.path.dirname(skimage.data.__file__)


def _load_grey(fs: Any, path: str) -> Callable[[], np.ndarray | None]:
    def load() -> np.ndarray | None:
        with fs.open(path, "rb") as fh:
            buf = np.frombuffer(fh.read(), dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        return img  # None when the file is not a decodable image

    return load


class ImageFolderDataset(AbstractDataset[None, dict[str, Callable[[], np.ndarray | None]]]):
    """Image files below a folder as ``{relative name: loader}`` (grey uint8, None if undecodable).

    ``path: null`` selects scikit-image's installed sample images, and so does ``skimage`` when
    there is no folder of that name (Kedro makes relative catalog paths absolute).
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        extensions: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._raw_path = path
        use_skimage = not path or (
            PurePosixPath(str(path)).name.lower() == "skimage" and not os.path.isdir(str(path))
        )
        resolved = skimage_data_dir() if use_skimage else str(path)
        protocol, fs_path = get_protocol_and_path(resolved)
        self._protocol = protocol
        self._path = fs_path.rstrip("/")
        self._fs = fsspec.filesystem(protocol)
        self._ext = tuple(e.lower() for e in (extensions or IMAGE_EXTENSIONS))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._raw_path, "resolved": self._path, "extensions": self._ext}

    def load(self) -> dict[str, Callable[[], np.ndarray | None]]:
        """List the image files (decoded on demand)."""
        if not self._fs.isdir(self._path):
            raise DatasetError(f"image folder {self._path} does not exist")
        out = {}
        for path in sorted(self._fs.find(self._path)):
            if str(path).lower().endswith(self._ext):
                rel = str(PurePosixPath(path).relative_to(self._path))
                out[rel] = _load_grey(self._fs, path)
        return out

    def save(self, data: Any) -> None:
        """Read-only."""
        raise DatasetError("ImageFolderDataset is read-only")

    def _exists(self) -> bool:
        return self._fs.isdir(self._path)
