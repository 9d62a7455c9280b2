"""Explore an NvGaze H5 file: a printed summary and a contact sheet with the labels drawn.

Usage::

    python -m gaze_pipelines.pipelines.nvgaze.explore FILE.h5 [--sheet OUT.png] [--samples 16]
        [--columns 4] [--start 0 | --random] [--scale 2] [--no-sheet]

Replaces NvGaze's Qt ``H5Explorer``: prints the attributes, every dataset with its shape and
stored type (noting byte-string labels of the original writer), statistics of the numeric
labels, the values of the string labels and the accepted / rejected sample lists; then writes a
PNG contact sheet (default ``FILE_contact_sheet.png``) with pupil ellipse and centre (green),
iris ellipse (yellow), eyeball outline (orange) and a gaze arrow (cyan); rejected samples get a
red frame. Reflection sets (``image_<i>`` entries) are summarised and tiled too.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd

from gaze_pipelines.core.ellipse import Ellipse, to_cv
from gaze_pipelines.core.io import atomic_path
from gaze_pipelines.datasets.h5 import (
    NvGazeH5,
    read_nvgaze_h5,
    read_reflection_h5,
)

GREEN, YELLOW, ORANGE, CYAN, RED, WHITE = (
    (0, 220, 0),
    (0, 230, 230),
    (0, 140, 255),
    (255, 220, 0),
    (0, 0, 255),
    (255, 255, 255),
)


def _value(row: pd.Series, key: str) -> float | None:
    v = row.get(key)
    if v is None or pd.isna(v):
        return None
    return float(v)


def _ellipse(row: pd.Series, prefix: str, center: str) -> Ellipse | None:
    vals = [_value(row, f"float_{center}_{a}") for a in ("x", "y")]
    axes = [_value(row, f"float_{prefix}ellipse_{a}") for a in ("major", "minor", "angle")]
    if None in vals or None in axes:
        return None
    return Ellipse.make(vals[0], vals[1], axes[0], axes[1], axes[2])


def draw_labels(
    image: np.ndarray, row: pd.Series, scale: int = 2, rejected: bool = False
) -> np.ndarray:
    """A BGR tile of one grey image (upscaled ``scale``x) with its labels drawn."""
    img = image if image.ndim == 2 else image[0] if image.shape[0] in (1, 3) else image
    if img.ndim == 3:  # (C, H, W) colour
        img = img.transpose(1, 2, 0)[:, :, ::-1]
    tile = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if tile.ndim == 2:
        tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
    tile = np.ascontiguousarray(tile)

    def _s(e: Ellipse) -> tuple:
        (cx, cy), (a, b), ang = to_cv(e)
        return ((cx + 0.5) * scale - 0.5, (cy + 0.5) * scale - 0.5), (a * scale, b * scale), ang

    eyeball = [
        _value(row, k) for k in ("float_eyeball_x", "float_eyeball_y", "float_eyeball_diameter")
    ]
    if None not in eyeball:
        e = Ellipse(eyeball[0], eyeball[1], eyeball[2], eyeball[2], 0.0)
        cv2.ellipse(tile, _s(e), ORANGE, 1, cv2.LINE_AA)
    iris = _ellipse(row, "iris", "iris")
    if iris is not None:
        cv2.ellipse(tile, _s(iris), YELLOW, 1, cv2.LINE_AA)
    pupil = _ellipse(row, "pupil", "pupil")
    if pupil is not None:
        cv2.ellipse(tile, _s(pupil), GREEN, 1, cv2.LINE_AA)
    px, py = _value(row, "float_pupil_x"), _value(row, "float_pupil_y")
    if px is not None and py is not None:
        c = (int(round((px + 0.5) * scale)), int(round((py + 0.5) * scale)))
        cv2.drawMarker(tile, c, GREEN, cv2.MARKER_CROSS, 6 + 2 * scale, 1)
        gx, gy = _value(row, "float_gaze_x_degree"), _value(row, "float_gaze_y_degree")
        if gx is not None and gy is not None:
            length = tile.shape[1] / 60.0  # px per degree
            tip = (int(round(c[0] + gx * length)), int(round(c[1] - gy * length)))
            cv2.arrowedLine(tile, c, tip, CYAN, 1, cv2.LINE_AA, tipLength=0.2)
    if rejected:
        cv2.rectangle(tile, (0, 0), (tile.shape[1] - 1, tile.shape[0] - 1), RED, 2)
    return tile


def contact_sheet(
    data: NvGazeH5, indices: Sequence[int], columns: int = 4, scale: int = 2
) -> np.ndarray:
    """Tiles of the samples at ``indices`` (first eye, first view) with labels and captions."""
    rejected = set() if data.rejected_samples is None else set(data.rejected_samples.tolist())
    tiles = []
    for i in indices:
        tile = draw_labels(data.images[i, 0, 0], data.labels.iloc[i], scale, i in rejected)
        caption = f"#{i}"
        gx, gy = (
            _value(data.labels.iloc[i], k) for k in ("float_gaze_x_degree", "float_gaze_y_degree")
        )
        if gx is not None and gy is not None:
            caption += f" gaze {gx:+.1f},{gy:+.1f}"
        band = np.zeros((16, tile.shape[1], 3), np.uint8)
        cv2.putText(band, caption, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, WHITE, 1, cv2.LINE_AA)
        tiles.append(np.vstack([tile, band]))
    return _grid(tiles, columns)


def _grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    if not tiles:
        return np.zeros((16, 16, 3), np.uint8)
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    columns = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * (h + 2), columns * (w + 2), 3), 40, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        if t.ndim == 2:
            t = cv2.cvtColor(t, cv2.COLOR_GRAY2BGR)
        sheet[r * (h + 2) : r * (h + 2) + t.shape[0], c * (w + 2) : c * (w + 2) + t.shape[1]] = t
    return sheet


def summarize(path: str | Path, data: NvGazeH5 | None = None) -> str:
    """A printable summary of an NvGaze H5 file (or of a reflection set)."""
    lines = [f"file: {path}"]
    with h5py.File(str(path), "r") as h5:
        lines.append("attributes:")
        for key, value in h5.attrs.items():
            lines.append(f"  {key}: {value!r}")
        lines.append("datasets:")
        for key in h5:
            ds = h5[key]
            if not isinstance(ds, h5py.Dataset):
                continue
            form = "byte strings" if ds.dtype.kind == "S" else str(ds.dtype)
            if h5py.check_string_dtype(ds.dtype) is not None and ds.dtype.kind != "S":
                form = "utf-8 strings"
            lines.append(f"  {key:<40} {str(ds.shape):<26} {form}")
        if "images" not in h5:
            lines.append("no 'images' dataset: a reflection set or another kind of H5 file")
            return "\n".join(lines)
    assert data is not None
    n, e, v, c, hh, ww = data.images.shape
    lines.append(f"samples: N={n} eyes={e} views={v} channels={c} height={hh} width={ww}")
    for name, idx in (
        ("validSamples", data.valid_samples),
        ("rejectedSamples", data.rejected_samples),
    ):
        lines.append(f"{name}: {'absent' if idx is None else len(idx)}")
    numeric = data.labels.select_dtypes(include="number")
    if not numeric.empty:
        stats = numeric.agg(["min", "mean", "max"]).T
        stats["nan"] = numeric.isna().sum()
        lines.append("numeric labels:")
        lines.append(stats.to_string(float_format=lambda x: f"{x:.3f}"))
    strings = [col for col in data.labels.columns if col not in numeric.columns]
    if strings:
        lines.append("string labels:")
        for col in strings:
            values = data.labels[col].astype(str)
            top = ", ".join(f"{k} ({cnt})" for k, cnt in values.value_counts().head(4).items())
            lines.append(f"  {col:<40} {values.nunique()} distinct: {top}")
    return "\n".join(lines)


def _write_png(path: Path, image: np.ndarray) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, image):
            raise OSError(f"cannot write {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m gaze_pipelines.pipelines.nvgaze.explore",
        description="Summarise an NvGaze H5 file and write a contact sheet with labels drawn.",
    )
    parser.add_argument("file", type=Path, help="NvGaze H5 file (or reflectiondataset.h5)")
    parser.add_argument(
        "--sheet", type=Path, help="contact sheet PNG (default FILE_contact_sheet.png)"
    )
    parser.add_argument("--samples", type=int, default=16, help="tiles on the sheet (default 16)")
    parser.add_argument("--columns", type=int, default=4, help="tiles per row (default 4)")
    parser.add_argument("--start", type=int, default=0, help="first sample index")
    parser.add_argument("--random", action="store_true", help="random samples instead of a range")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random")
    parser.add_argument("--scale", type=int, default=2, help="tile upscaling (default 2)")
    parser.add_argument("--no-sheet", action="store_true", help="only print the summary")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file} does not exist")
    try:
        with h5py.File(args.file, "r") as h5:
            has_images = "images" in h5
    except OSError as exc:
        parser.error(f"{args.file} is not an HDF5 file: {exc}")
    data = read_nvgaze_h5(args.file) if has_images else None
    print(summarize(args.file, data))
    if args.no_sheet:
        return 0
    sheet_path = args.sheet or args.file.with_name(f"{args.file.stem}_contact_sheet.png")
    if data is None:
        images = read_reflection_h5(args.file)[: args.samples]
        tiles = [cv2.resize(i, (160, 160 * i.shape[0] // max(1, i.shape[1]))) for i in images]
        sheet = _grid(tiles, args.columns)
    else:
        n = len(data)
        if n == 0:
            print("no samples: no contact sheet written")
            return 0
        count = min(args.samples, n)
        if args.random:
            indices = sorted(
                np.random.default_rng(args.seed).choice(n, count, replace=False).tolist()
            )
        else:
            start = min(max(0, args.start), n - 1)
            indices = list(range(start, min(n, start + count)))
        sheet = contact_sheet(data, indices, args.columns, args.scale)
    _write_png(sheet_path, sheet)
    print(f"contact sheet: {sheet_path} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in tests
    sys.exit(main())
