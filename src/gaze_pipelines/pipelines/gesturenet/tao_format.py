"""TAO GestureNet annotation JSON: parse one image's labels into a class, a hand box and metadata.

A file is a Label Studio task (TAO's "Data Annotation Format" for gestures)::

    {"data": {"image": ..., <metadata>...},
     "completions": [{"result": [
        {"type": "choices", "from_name": "gesture", "value": {"choices": ["thumbs_up"]}},
        {"type": "rectanglelabels", "original_width": 640, "original_height": 480,
         "value": {"x": 40.1, "y": 22.5, "width": 17.0, "height": 31.2, "rotation": 0,
                   "rectanglelabels": ["hand"]}},
        {"type": "choices", "from_name": "location", "value": {"choices": ["outdoor"]}}]}]}

Boxes are in percent of ``original_width/height``; a rotated box (degrees clockwise about its
top-left corner, as Label Studio stores it) becomes its axis-aligned bounding box. Newer Label
Studio exports name the list ``annotations`` instead of ``completions``: both are read.
Every problem raises ``AnnotationError`` with a reject ``code`` and a readable ``detail``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BOX_TOLERANCE_PCT = 1.0  # boxes up to 1 % outside the image are clipped, beyond: rejected
REJECT_CODES = (
    "bad_json",
    "no_completion",
    "no_gesture",
    "unknown_class",
    "no_box",
    "multiple_boxes",
    "bad_box",
    "box_outside",
    "size_mismatch",
    "no_annotation",
    "missing_image",
    "bad_image",
    "bad_layout",
)


class AnnotationError(ValueError):
    """A bad annotation: ``code`` (one of ``REJECT_CODES``) and ``detail``."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")

    @property
    def reason(self) -> str:
        """``"<code>: <detail>"`` as the rejects tables store it."""
        return f"{self.code}: {self.detail}"


@dataclass
class HandAnnotation:
    """One parsed annotation: class, tight box in pixels ``(x1, y1, x2, y2)``, image size, metadata."""

    label: str
    box: tuple[float, float, float, float]
    original_width: int
    original_height: int
    metadata: dict[str, Any] = field(default_factory=dict)


def normalize_label(label: str, aliases: Mapping[str, str] | None = None) -> str:
    """Class name of an annotation label: alias, then lower case with ``-`` and spaces as ``_``."""
    label = str(label).strip()
    if aliases and label in aliases:
        return aliases[label]
    return re.sub(r"[\s\-]+", "_", label.lower())


def _number(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise AnnotationError("bad_box", f"{what} is not a number ({value!r})") from None
    if not math.isfinite(out):
        raise AnnotationError("bad_box", f"{what} is not finite ({value!r})")
    return out


def _completion(doc: Mapping[str, Any]) -> list[Any]:
    for key in ("completions", "annotations"):
        items = doc.get(key)
        if items:
            if not isinstance(items, list):
                raise AnnotationError("bad_json", f"'{key}' is not a list")
            for item in items:
                if isinstance(item, Mapping) and not item.get("was_cancelled", False):
                    result = item.get("result")
                    if not isinstance(result, list):
                        raise AnnotationError("bad_json", f"'{key}[].result' is not a list")
                    return result
    raise AnnotationError("no_completion", "no completions/annotations with a result list")


def _choice(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("value") or {}
    choices = value.get("choices") if isinstance(value, Mapping) else None
    if isinstance(choices, list) and choices:
        return str(choices[0])
    if isinstance(choices, str):
        return choices
    return None


def rect_to_box(
    value: Mapping[str, Any], width: float, height: float
) -> tuple[float, float, float, float]:
    """Pixel box ``(x1, y1, x2, y2)`` of a Label Studio rectangle (percent, rotation in degrees)."""
    x = _number(value.get("x"), "x")
    y = _number(value.get("y"), "y")
    w = _number(value.get("width"), "width")
    h = _number(value.get("height"), "height")
    if w <= 0 or h <= 0:
        raise AnnotationError("bad_box", f"empty box (width {w:g} %, height {h:g} %)")
    px, py, pw, ph = x * width / 100.0, y * height / 100.0, w * width / 100.0, h * height / 100.0
    angle = math.radians(_number(value.get("rotation", 0.0) or 0.0, "rotation"))
    if abs(angle) > 1e-9:
        c, s = math.cos(angle), math.sin(angle)
        xs, ys = [], []
        for dx, dy in ((0, 0), (pw, 0), (pw, ph), (0, ph)):
            xs.append(px + dx * c - dy * s)
            ys.append(py + dx * s + dy * c)
        return min(xs), min(ys), max(xs), max(ys)
    return px, py, px + pw, py + ph


def parse_annotation(
    doc: Any,
    classes: Sequence[str],
    image_size: tuple[int, int] | None = None,
    gesture_from_names: Sequence[str] = ("gesture", "label", "class", "choice", "choices"),
    class_aliases: Mapping[str, str] | None = None,
) -> HandAnnotation:
    """Parse one annotation; ``image_size`` ``(width, height)`` of the real image checks the box."""
    if not isinstance(doc, Mapping):
        raise AnnotationError("bad_json", f"expected an object, got {type(doc).__name__}")
    result = _completion(doc)
    choices: list[tuple[str, str]] = []
    rects: list[Mapping[str, Any]] = []
    for entry in result:
        if not isinstance(entry, Mapping):
            continue
        kind = str(entry.get("type", "")).lower()
        if kind == "choices":
            choice = _choice(entry)
            if choice is not None:
                choices.append((str(entry.get("from_name", "")), choice))
        elif kind in ("rectanglelabels", "rectangle"):
            rects.append(entry)

    gesture_entry = None
    priority = {name: i for i, name in enumerate(gesture_from_names)}
    named = sorted((priority[n], i) for i, (n, _) in enumerate(choices) if n in priority)
    if named:
        gesture_entry = named[0][1]
    else:
        for i, (_, choice) in enumerate(choices):
            if normalize_label(choice, class_aliases) in classes:
                gesture_entry = i
                break
    if gesture_entry is None:
        raise AnnotationError("no_gesture", "no 'choices' entry with the gesture class")
    raw_label = choices[gesture_entry][1]
    label = normalize_label(raw_label, class_aliases)
    if label not in classes:
        raise AnnotationError("unknown_class", f"{raw_label!r} is not one of {list(classes)}")

    if not rects:
        raise AnnotationError("no_box", "no 'rectanglelabels' entry")
    if len(rects) > 1:
        raise AnnotationError(
            "multiple_boxes", f"{len(rects)} boxes; GestureNet crops one hand per image"
        )
    rect = rects[0]
    ow = rect.get("original_width", doc.get("original_width"))
    oh = rect.get("original_height", doc.get("original_height"))
    if ow is None or oh is None:
        if image_size is None:
            raise AnnotationError("bad_box", "no original_width/original_height and no image size")
        ow, oh = image_size
    ow_i, oh_i = int(_number(ow, "original_width")), int(_number(oh, "original_height"))
    if ow_i <= 0 or oh_i <= 0:
        raise AnnotationError("bad_box", f"image size {ow_i}x{oh_i}")
    if image_size is not None and (ow_i, oh_i) != tuple(int(v) for v in image_size):
        raise AnnotationError(
            "size_mismatch",
            f"annotation is for {ow_i}x{oh_i}, image is {image_size[0]}x{image_size[1]}",
        )
    value = rect.get("value")
    if not isinstance(value, Mapping):
        raise AnnotationError("bad_box", "rectangle without a 'value' object")
    x1, y1, x2, y2 = rect_to_box(value, ow_i, oh_i)
    tol_x, tol_y = BOX_TOLERANCE_PCT * ow_i / 100.0, BOX_TOLERANCE_PCT * oh_i / 100.0
    if x1 < -tol_x or y1 < -tol_y or x2 > ow_i + tol_x or y2 > oh_i + tol_y:
        raise AnnotationError(
            "box_outside",
            f"box ({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}) outside the {ow_i}x{oh_i} image",
        )
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(float(ow_i), x2), min(float(oh_i), y2)
    if x2 - x1 < 1.0 or y2 - y1 < 1.0:
        raise AnnotationError(
            "bad_box", f"box smaller than a pixel ({x2 - x1:.2f} x {y2 - y1:.2f})"
        )

    metadata: dict[str, Any] = {}
    data = doc.get("data")
    if isinstance(data, Mapping):
        for key, val in data.items():
            if key != "image" and isinstance(val, (str, int, float, bool)):
                metadata[str(key)] = val
    meta = doc.get("meta")
    if isinstance(meta, Mapping):
        metadata.update(
            {str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool))}
        )
    for i, (name, choice) in enumerate(choices):
        if i != gesture_entry and name:
            metadata[name] = choice
    return HandAnnotation(label, (x1, y1, x2, y2), ow_i, oh_i, metadata)


def matches_filter(metadata: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether metadata satisfies every ``key: value`` (or ``key: [values]``) of a filter entry."""
    for key, wanted in condition.items():
        if key not in metadata:
            return False
        have = metadata[key]
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(str(have).lower() == str(o).lower() for o in options):
            return False
    return True
