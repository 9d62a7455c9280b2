"""Parsers for the TAO GazeNet dataset layout: ``Config/`` text files and JSON label files.

Every parser is a pure function of text. Config-level faults raise ``ConfigError`` naming the
file; frame-level faults raise ``LabelError`` with a short reason code that the pipeline turns
into a row of the rejects table.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

N_FIDUCIAL = 104
EYE_STATUSES = ("open", "closed", "occluded", "half_open", "missing")


class ConfigError(ValueError):
    """A set-level configuration problem (missing or malformed ``Config/`` file)."""


class LabelError(ValueError):
    """A frame-level label problem; ``code`` is the reject reason code."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


# --------------------------------------------------------------------------- Config/


def _numbers(text: str, name: str) -> list[float]:
    tokens = [t for t in re.split(r"[,\s]+", text.strip()) if t]
    try:
        values = [float(t) for t in tokens]
    except ValueError as exc:
        raise ConfigError(f"{name}: not numeric ({exc})") from exc
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{name}: contains NaN or infinite values")
    return values


def parse_camera_parameters(
    text: str, name: str = "camera_parameters.txt"
) -> tuple[np.ndarray, np.ndarray]:
    """``camera_parameters.txt``: 3 comma-separated rows of K, a blank line, distortion coefficients."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if len(blocks) < 1:
        raise ConfigError(f"{name}: empty")
    k_vals = _numbers(blocks[0], name)
    if len(k_vals) != 9:
        raise ConfigError(f"{name}: the camera matrix needs 9 values, found {len(k_vals)}")
    K = np.asarray(k_vals, np.float64).reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1:
        raise ConfigError(f"{name}: camera matrix must have positive focal lengths and K[2,2] = 1")
    dist = np.zeros(5)
    if len(blocks) > 1:
        d = _numbers("\n".join(blocks[1:]), name)
        dist[: min(5, len(d))] = d[:5]
    return K, dist


def parse_matrix(text: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A whitespace/comma separated matrix of a fixed shape (``R.txt`` 3x3, ``T.txt`` 3)."""
    values = _numbers(text, name)
    if len(values) != int(np.prod(shape)):
        raise ConfigError(f"{name}: expected {int(np.prod(shape))} numbers, found {len(values)}")
    return np.asarray(values, np.float64).reshape(shape)


def parse_rotation(text: str, name: str = "R.txt") -> np.ndarray:
    """``R.txt``: a 3x3 rotation matrix (checked orthonormal within 1e-2)."""
    R = parse_matrix(text, (3, 3), name)
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-2):
        raise ConfigError(f"{name}: not a rotation matrix (R R^T differs from I)")
    return R


def parse_pair(text: str, name: str, positive: bool = True) -> tuple[float, float]:
    """Two numbers (W, H) one per line: ``TV_size``, ``board_size.txt``, ``resolution.txt``."""
    values = _numbers(text, name)
    if len(values) != 2:
        raise ConfigError(f"{name}: expected 2 numbers (width, height), found {len(values)}")
    if positive and (values[0] <= 0 or values[1] <= 0):
        raise ConfigError(f"{name}: width and height must be positive, got {values}")
    return float(values[0]), float(values[1])


@dataclass
class SetConfig:
    """Calibration of one set: camera intrinsics, screen extrinsics, size and resolution."""

    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    T: np.ndarray
    screen_mm: tuple[float, float]
    screen_px: tuple[int, int]
    source_files: dict[str, str] = field(default_factory=dict)


def parse_set_config(files: dict[str, str | None], where: str) -> SetConfig:
    """Parse a ``Config/`` folder given as {file name: text or None if absent}.

    Exactly one of ``TV_size`` / ``board_size.txt`` must exist; ``resolution.txt`` defaults to
    1920x1080 when absent, as in TAO.
    """

    def need(name: str) -> str:
        text = files.get(name)
        if text is None:
            raise ConfigError(f"{where}/{name}: missing (required Config file)")
        return text

    K, dist = parse_camera_parameters(
        need("camera_parameters.txt"), f"{where}/camera_parameters.txt"
    )
    R = parse_rotation(need("R.txt"), f"{where}/R.txt")
    T = parse_matrix(need("T.txt"), (3,), f"{where}/T.txt")
    tv, board = files.get("TV_size"), files.get("board_size.txt")
    if tv is not None and board is not None:
        raise ConfigError(f"{where}: both TV_size and board_size.txt exist; keep exactly one")
    if tv is None and board is None:
        raise ConfigError(f"{where}: neither TV_size nor board_size.txt exists; one is required")
    size_name = "TV_size" if tv is not None else "board_size.txt"
    screen_mm = parse_pair(tv if tv is not None else board, f"{where}/{size_name}")
    res_text = files.get("resolution.txt")
    screen_px = (1920, 1080)
    if res_text is not None:
        w, h = parse_pair(res_text, f"{where}/resolution.txt")
        screen_px = (int(w), int(h))
    return SetConfig(
        K, dist, R, T, screen_mm, screen_px, {k: v for k, v in files.items() if v is not None}
    )


# --------------------------------------------------------------------------- file names

_INT_TOKEN = re.compile(r"(?<![\d.])-?\d+(?![\d.])")


def target_from_filename(name: str) -> tuple[float, float]:
    """Screen target pixel encoded in a frame name: its first two integer tokens.

    ``frame_1194_881_vc0_02.png`` -> (1194, 881); ``video1_15_330_vc00_010.png`` -> (15, 330)
    (a token glued to letters, like ``video1``, does not count).
    """
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    tokens = [t for t in stem.split("_") if re.fullmatch(r"-?\d+", t)]
    if len(tokens) < 2:
        raise LabelError(
            "bad_filename", f"{name}: no screen target (two integer tokens) in the name"
        )
    return float(tokens[0]), float(tokens[1])


# --------------------------------------------------------------------------- JSON labels


@dataclass
class FrameLabel:
    """The labels of one frame, in TAO's conventions (left = subject's left)."""

    filename: str
    face_box: tuple[float, float, float, float]  # x1, y1, x2, y2 (tight box)
    landmarks: np.ndarray  # (104, 2), -1 where absent
    occluded: np.ndarray  # (104,) int: 1 occluded, 0 visible, -1 absent
    num_keypoints: int
    left_eye_status: str
    right_eye_status: str
    source: str  # json_datafactory_v2 | json_datafactory (legacy)


def _finite(value: object, what: str, filename: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise LabelError(
            "bad_coordinates", f"{filename}: {what} is not a number ({value!r})"
        ) from exc
    if not math.isfinite(v):
        raise LabelError("bad_coordinates", f"{filename}: {what} is {v}")
    return v


_FIDUCIAL_KEY = re.compile(r"P(\d+)(x|y|occluded)", flags=re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _fiducial_key(key: str) -> tuple[int, str] | None:
    """``"P12x"`` -> ``(12, "x")``; None for other keys (parsed once per distinct key)."""
    m = _FIDUCIAL_KEY.fullmatch(key)
    return (int(m.group(1)), m.group(2).lower()) if m else None


@dataclass(frozen=True)
class _FiducialLayout:
    """Where the fiducial values sit in a label chunk with a given key order."""

    coord_pos: tuple[int, ...]  # positions of the P<n>x / P<n>y keys
    rows: np.ndarray  # their point index (0-based)
    cols: np.ndarray  # 0 for x, 1 for y
    occ_pos: tuple[int, ...]  # positions of the P<n>occluded keys
    occ_rows: tuple[int, ...]
    highest: int  # highest point number present


@functools.lru_cache(maxsize=256)
def _fiducial_layout(keys: tuple[object, ...]) -> _FiducialLayout:
    """The layout of one key order (a labelling tool writes the same order for every frame)."""
    coord_pos: list[int] = []
    rows: list[int] = []
    cols: list[int] = []
    occ_pos: list[int] = []
    occ_rows: list[int] = []
    highest = 0
    for pos, key in enumerate(keys):
        parsed = _fiducial_key(str(key))
        if parsed is None:
            continue
        idx, kind = parsed
        if idx < 1 or idx > N_FIDUCIAL:
            continue
        highest = max(highest, idx)
        if kind == "occluded":
            occ_pos.append(pos)
            occ_rows.append(idx - 1)
        else:
            coord_pos.append(pos)
            rows.append(idx - 1)
            cols.append(0 if kind == "x" else 1)
    return _FiducialLayout(
        tuple(coord_pos),
        np.array(rows, np.int64),
        np.array(cols, np.int64),
        tuple(occ_pos),
        tuple(occ_rows),
        highest,
    )


def _fiducials(chunk: dict, filename: str) -> tuple[np.ndarray, np.ndarray, int]:
    pts = np.full((N_FIDUCIAL, 2), -1.0)
    occ = np.full(N_FIDUCIAL, -1, np.int64)
    lay = _fiducial_layout(tuple(chunk))
    values_in_order = list(chunk.values())
    raw = [values_in_order[i] for i in lay.coord_pos]
    values = None
    if all(type(v) is float or type(v) is int for v in raw):  # the usual JSON numbers: at once
        values = np.array(raw, np.float64)
        if not np.isfinite(values).all():
            values = None
    if values is None:  # strings, nulls, NaN ...: one by one, for the exact reason
        values = np.array(
            [
                _finite(v, f"P{r + 1}{'xy'[c]}", filename)
                for r, c, v in zip(lay.rows, lay.cols, raw, strict=True)
            ],
            np.float64,
        )
    if raw:
        pts[lay.rows, lay.cols] = values
    occluded = [r for r, i in zip(lay.occ_rows, lay.occ_pos, strict=True) if values_in_order[i]]
    occ[occluded] = 1
    occ[: lay.highest][occ[: lay.highest] == -1] = 0
    return pts, occ, lay.highest


def _status(value: object) -> str:
    s = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return s if s in EYE_STATUSES else "missing"


def parse_frame(frame: dict, source: str) -> FrameLabel:
    """Parse one frame entry of a label file (DataFactory v2 or the legacy ``rect`` variant)."""
    if not isinstance(frame, dict):
        raise LabelError("bad_label", f"frame entry is {type(frame).__name__}, not an object")
    filename = frame.get("filename")
    if not isinstance(filename, str) or not filename:
        raise LabelError("bad_label", "frame entry without a 'filename'")
    annotations = frame.get("annotations")
    if not isinstance(annotations, list):
        raise LabelError("no_annotations", f"{filename}: no 'annotations' list")
    face = None
    rect_area = None
    landmarks = None
    left_status = right_status = "missing"
    for chunk in annotations:
        if not isinstance(chunk, dict) or "class" not in chunk:
            continue
        cls = str(chunk["class"]).lower()
        if cls == "facebbox":
            keys = (
                "face_tight_bboxx",
                "face_tight_bboxy",
                "face_tight_bboxwidth",
                "face_tight_bboxheight",
            )
            if all(k in chunk for k in keys):
                x, y, w, h = (_finite(chunk[k], k, filename) for k in keys)
                face = (
                    max(int(x), 0),
                    max(int(y), 0),
                    max(int(x), 0) + max(int(w), 0),
                    max(int(y), 0) + max(int(h), 0),
                )
        elif cls == "rect":
            x, y, w, h = (_finite(chunk.get(k), k, filename) for k in ("x", "y", "width", "height"))
            area = w * h
            if rect_area is None or area < rect_area:  # the smallest rect is the face
                rect_area = area
                face = (
                    max(int(x), 0),
                    max(int(y), 0),
                    max(int(w), 0) + max(int(x), 0),
                    max(int(h), 0) + max(int(y), 0),
                )
        elif cls == "fiducialpoints":
            landmarks = _fiducials(chunk, filename)
        elif cls == "eyes":
            # Labels are in the labeller's view: r_status is the subject's left eye.
            if "r_status" in chunk:
                left_status = _status(chunk["r_status"])
            if "l_status" in chunk:
                right_status = _status(chunk["l_status"])
        elif cls == "eyeopen":
            left_status = right_status = "open"
        elif cls == "eyeclose":
            left_status = right_status = "closed"
    if face is None:
        raise LabelError("no_face_box", f"{filename}: no FaceBbox / rect annotation")
    if face[2] <= face[0] or face[3] <= face[1]:
        raise LabelError("bad_face_box", f"{filename}: empty face box {face}")
    if landmarks is None:
        raise LabelError("no_landmarks", f"{filename}: no FiducialPoints annotation")
    pts, occ, highest = landmarks
    if highest < 68 or np.any(pts[:68] < 0):
        raise LabelError(
            "too_few_landmarks", f"{filename}: points 1-68 are required, found {highest}"
        )
    return FrameLabel(filename, face, pts, occ, highest, left_status, right_status, source)


def parse_label_file(
    text: str | bytes, source: str
) -> tuple[list[FrameLabel], list[tuple[str, str]]]:
    """Parse a label file: (frames, rejects as (filename or '?', "code: detail")).

    A file that is not a JSON list raises ``LabelError('bad_json', ...)``; bad frames inside a good
    file are returned as rejects so the rest of the file is kept.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabelError("bad_json", f"not valid JSON ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(data, list):
        raise LabelError(
            "bad_json", f"top level is {type(data).__name__}, expected a list of frames"
        )
    frames: list[FrameLabel] = []
    rejects: list[tuple[str, str]] = []
    for entry in data:
        try:
            frames.append(parse_frame(entry, source))
        except LabelError as err:
            name = entry.get("filename", "?") if isinstance(entry, dict) else "?"
            rejects.append((str(name), f"{err.code}: {err.detail}"))
    return frames, rejects
