"""``nvgaze_sample`` and ``nvgaze_data`` nodes: render, convert raw footage to H5, merge, reflections.

Conversion follows NvGaze's ``convert_raw_to_pupil_iris_eyeball.py`` + ``createDataset``: where
the footage table lacks pupil / iris / eyeball labels they are fitted from the skin-less region
mask (``cv2.fitEllipse`` semantics, see ``core.ellipse``); images are optionally centre-cropped,
resized to ``output_resolution`` and stored (N, E, V, C, H, W) with every label column. Samples
that cannot be converted are dropped with a reason; samples that convert but should not be
trained on (blinks) are kept and listed in ``rejectedSamples``. Both appear in the rejects table.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd

from gaze_pipelines.core.ellipse import (
    EYEBALL_BGR,
    GLINT_BGR,
    IRIS_BGR,
    PUPIL_BGR,
    SKIN_BGR,
    Ellipse,
    colour_mask,
    fit_mask_ellipse,
    scale_ellipse,
)
from gaze_pipelines.core.progress import progress
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.datasets.nvgaze_footage import RawFootage
from gaze_pipelines.params_common import validate
from gaze_pipelines.pipelines.nvgaze.params import (
    DataParams,
    MergeParams,
    ReflectionParams,
    SampleParams,
)
from gaze_pipelines.synthetic.nvgaze import (
    Footage,
    RenderConfig,
    make_subjects,
    reflection_textures,
    render_footage,
)

logger = logging.getLogger(__name__)

IMAGE_COL = re.compile(r"^image_([LR])_(\d+)$")
PUPIL_COLS = (
    "float_pupil_x",
    "float_pupil_y",
    "float_pupilellipse_major",
    "float_pupilellipse_minor",
    "float_pupilellipse_angle",
)
IRIS_COLS = (
    "float_iris_x",
    "float_iris_y",
    "float_irisellipse_major",
    "float_irisellipse_minor",
    "float_irisellipse_angle",
)
EYEBALL_COLS = ("float_eyeball_x", "float_eyeball_y", "float_eyeball_diameter")
ELLIPSE_GROUPS = {"pupil": PUPIL_COLS, "iris": IRIS_COLS, "eyeball": EYEBALL_COLS}
REJECT_COLUMNS = ["source", "sample", "image", "action", "reason"]


class FootageConfigError(ValueError):
    """A parameter does not fit the footage (stops the run; not a per-sample reject)."""


# region map codes (NvGaze generateRegionMap, limited to uint8)
REGION_PUPIL, REGION_IRIS, REGION_SCLERA, REGION_SKIN, REGION_GLINT = 1, 2, 3, 10, 100


# ------------------------------------------------------------------------------------ sample


def render_sample(params: Mapping[str, Any]) -> dict[str, Footage]:
    """Render one footage folder per synthetic subject (frames are rendered while saving)."""
    p: SampleParams = validate(SampleParams, params, "nvgaze.sample")
    cfg = RenderConfig(
        image_size=tuple(p.image_size),
        focal_px=p.focal_px,
        eye_distance_mm=p.eye_distance_mm,
        gaze_range_deg=tuple(p.gaze_range_deg),
        pupil_diameter_mm=tuple(p.pupil_diameter_mm),
        slippage_sigma_mm=tuple(p.slippage_sigma_mm),
        blink_probability=p.blink_probability,
        glint_count=p.glint_count,
        noise_sigma=tuple(p.noise_sigma),
        blur_probability=p.blur_probability,
        supersample=p.supersample,
    )
    out = {}
    for i, subject in enumerate(make_subjects(p.subjects, p.seed)):
        footage = render_footage(
            subject,
            p.frames_per_subject,
            cfg,
            seed=p.seed * 1000 + i,
            include_ellipse_labels=p.include_ellipse_labels,
        )
        out[footage.name] = footage
    logger.info(
        "nvgaze sample: %d subjects x %d frames at %dx%d",
        p.subjects,
        p.frames_per_subject,
        *p.image_size,
    )
    return out


# -------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Layout:
    """Eyes and views of a footage: ``image_<eye>_<view>`` columns."""

    eyes: tuple[str, ...]
    views: int

    def image_column(self, eye: str, view: int) -> str:
        return f"image_{eye}_{view}"


def footage_layout(table: pd.DataFrame, source: str) -> _Layout:
    """Eyes (L before R) and views from the image columns; every eye needs the same views."""
    found: dict[str, set[int]] = {}
    for col in table.columns:
        m = IMAGE_COL.match(col)
        if m:
            found.setdefault(m.group(1), set()).add(int(m.group(2)))
    if not found:
        raise ValueError(f"footage '{source}': no image_<L|R>_<view> column in its table")
    if "archive" not in table.columns:
        raise ValueError(f"footage '{source}': no 'archive' column in its table")
    views = {tuple(sorted(v)) for v in found.values()}
    if len(views) != 1:
        raise ValueError(f"footage '{source}': eyes have different views {found}")
    (v,) = views
    if v != tuple(range(len(v))):
        raise ValueError(f"footage '{source}': views must be numbered 0..{len(v) - 1}, got {v}")
    return _Layout(tuple(sorted(found, key="LR".index)), len(v))


@dataclass(frozen=True)
class CropResize:
    """Centre crop then resize, applied to images and to pixel labels."""

    in_size: tuple[int, int]
    out_size: tuple[int, int]
    fraction: float

    @property
    def crop(self) -> tuple[int, int, int, int]:
        """x0, y0, width, height of the crop in the input image."""
        w, h = self.in_size
        cw, ch = max(1, int(round(w * self.fraction))), max(1, int(round(h * self.fraction)))
        return (w - cw) // 2, (h - ch) // 2, cw, ch

    @property
    def scale(self) -> tuple[float, float]:
        """Horizontal and vertical scale from the crop to the output."""
        _, _, cw, ch = self.crop
        return self.out_size[0] / cw, self.out_size[1] / ch

    def image(self, img: np.ndarray, nearest: bool = False) -> np.ndarray:
        """Crop and resize one image (area for shrinking, cubic for enlarging)."""
        x0, y0, cw, ch = self.crop
        cropped = img[y0 : y0 + ch, x0 : x0 + cw]
        if (cw, ch) == tuple(self.out_size):
            return cropped
        sx, sy = self.scale
        if nearest:
            interp = cv2.INTER_NEAREST
        else:
            interp = cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_CUBIC
        return cv2.resize(cropped, tuple(self.out_size), interpolation=interp)

    def point(self, x: float, y: float) -> tuple[float, float]:
        """Map a pixel-centre coordinate."""
        x0, y0, _, _ = self.crop
        sx, sy = self.scale
        return (x - x0 + 0.5) * sx - 0.5, (y - y0 + 0.5) * sy - 0.5

    def ellipse(self, e: Ellipse) -> Ellipse:
        """Map an ellipse exactly."""
        cx, cy = self.point(e.cx, e.cy)
        sx, sy = self.scale
        s = scale_ellipse(Ellipse(0.0, 0.0, e.major, e.minor, e.angle), sx, sy)
        return Ellipse(cx, cy, s.major, s.minor, s.angle)


def fit_region_ellipses(mask_bgr: np.ndarray, margin: int) -> dict[str, Ellipse | None]:
    """Pupil, iris (with pupil) and eyeball (with iris and pupil) ellipses of a skin-less mask."""
    pupil = colour_mask(mask_bgr, PUPIL_BGR, margin)
    iris = colour_mask(mask_bgr, IRIS_BGR, margin) | pupil
    eyeball = colour_mask(mask_bgr, EYEBALL_BGR, margin) | iris
    return {
        "pupil": fit_mask_ellipse(pupil),
        "iris": fit_mask_ellipse(iris, exclude_border=True),
        "eyeball": fit_mask_ellipse(eyeball, exclude_border=True),
    }


def region_map(without_skin: np.ndarray, with_skin: np.ndarray | None, margin: int) -> np.ndarray:
    """NvGaze integer region map: pupil 1, iris 2, sclera 3, +10 under skin, +100 on a glint."""
    out = np.zeros(without_skin.shape[:2], np.uint8)
    out[colour_mask(without_skin, EYEBALL_BGR, margin)] = REGION_SCLERA
    out[colour_mask(without_skin, IRIS_BGR, margin)] = REGION_IRIS
    out[colour_mask(without_skin, PUPIL_BGR, margin)] = REGION_PUPIL
    if with_skin is not None:
        out[colour_mask(with_skin, SKIN_BGR, margin)] += REGION_SKIN
        out[colour_mask(with_skin, GLINT_BGR, margin)] += REGION_GLINT
    return out


def _ellipse_from_row(row: pd.Series, group: str) -> Ellipse | None:
    cols = ELLIPSE_GROUPS[group]
    values = [row.get(c) for c in cols]
    if any(v is None or pd.isna(v) for v in values):
        return None
    if group == "eyeball":
        x, y, d = (float(v) for v in values)
        return Ellipse(x, y, d, d, 0.0)
    return Ellipse.make(*(float(v) for v in values))


def _ellipse_values(e: Ellipse, group: str) -> dict[str, float]:
    cols = ELLIPSE_GROUPS[group]
    if group == "eyeball":
        return dict(zip(cols, (e.cx, e.cy, e.major), strict=True))
    return dict(zip(cols, e.as_tuple(), strict=True))


def _reject(source: str, sample: int, image: str, action: str, reason: str) -> dict[str, Any]:
    return {"source": source, "sample": sample, "image": image, "action": action, "reason": reason}


def footage_to_h5(raw: RawFootage, params: DataParams) -> tuple[NvGazeH5, pd.DataFrame, list[dict]]:
    """Convert one footage: images to (N, E, V, C, H, W), labels fitted where missing; rejects."""
    start = time.perf_counter()
    table = raw.table
    layout = footage_layout(table, raw.name)
    out_w, out_h = params.output_resolution
    channels = 1 if params.convert_to_grayscale else 3
    mask_col = f"regionmask_withoutskin_{layout.eyes[0]}_0"
    skin_col = f"regionmask_withskin_{layout.eyes[0]}_0"
    missing_groups = [
        g for g, cols in ELLIPSE_GROUPS.items() if any(c not in table.columns for c in cols)
    ]
    fit_groups = list(ELLIPSE_GROUPS) if params.fit_labels == "always" else missing_groups
    if params.fit_labels == "never":
        fit_groups = []
    if (fit_groups or params.region_maps) and mask_col not in table.columns:
        raise ValueError(
            f"footage '{raw.name}': fitting {fit_groups or 'region maps'} needs the column "
            f"{mask_col} (nvgaze.data.fit_labels={params.fit_labels}, "
            f"region_maps={params.region_maps}) but the table has no such column"
        )
    logger.info(
        "footage %s: %d samples, eyes %s, %d view(s) -> %dx%d, fitting %s",
        raw.name,
        len(table),
        "".join(layout.eyes),
        layout.views,
        out_w,
        out_h,
        fit_groups or ("empty cells" if params.fit_labels == "missing" else "nothing"),
    )
    images: list[np.ndarray] = []
    maps: list[np.ndarray] = []
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    rejects: list[dict[str, Any]] = []
    flagged: list[int] = []
    geometry: CropResize | None = None
    n = len(table)
    for i in progress(range(n), desc=f"convert {raw.name}", total=n, unit="image"):
        if (i + 1) % params.log_every == 0 or i + 1 == n:
            logger.info("   image %d / %d", i + 1, n)
        row = table.iloc[i]
        archive = str(row["archive"])
        first_image = str(row[layout.image_column(layout.eyes[0], 0)])
        sample = np.zeros((len(layout.eyes), layout.views, channels, out_h, out_w), np.uint8)
        try:
            for e, eye in enumerate(layout.eyes):
                for v in range(layout.views):
                    name = str(row[layout.image_column(eye, v)])
                    img = raw.read_image(archive, name, colour=not params.convert_to_grayscale)
                    if geometry is None:
                        geometry = _geometry(img.shape[1], img.shape[0], params, raw.name)
                    elif (img.shape[1], img.shape[0]) != geometry.in_size:
                        raise ValueError(
                            f"size_mismatch: {img.shape[1]}x{img.shape[0]}, footage is "
                            f"{geometry.in_size[0]}x{geometry.in_size[1]}"
                        )
                    res = geometry.image(img)
                    sample[e, v] = (
                        res[None] if res.ndim == 2 else res[:, :, ::-1].transpose(2, 0, 1)
                    )
        except FootageConfigError:
            raise
        except KeyError as exc:
            rejects.append(_reject(raw.name, i, first_image, "dropped", f"missing_image: {exc}"))
            continue
        except (ValueError, FileNotFoundError) as exc:
            code = str(exc) if str(exc).startswith("size_mismatch") else f"unreadable_image: {exc}"
            rejects.append(_reject(raw.name, i, first_image, "dropped", code))
            continue
        labels = {c: row[c] for c in table.columns}
        mask = skin = None
        needs_fit = params.fit_labels == "always" or (
            params.fit_labels == "missing"
            and any(_ellipse_from_row(row, g) is None for g in ELLIPSE_GROUPS)
        )
        if needs_fit or params.region_maps:
            try:
                mask = raw.read_image(archive, str(row[mask_col]), colour=True)
                if params.region_maps and skin_col in table.columns:
                    skin = raw.read_image(archive, str(row[skin_col]), colour=True)
            except (KeyError, ValueError) as exc:
                rejects.append(_reject(raw.name, i, first_image, "dropped", f"missing_mask: {exc}"))
                continue
        fitted = fit_region_ellipses(mask, params.mask_margin) if needs_fit else {}
        failed = None
        for group in ELLIPSE_GROUPS:
            given = _ellipse_from_row(row, group)
            if params.fit_labels == "always" or (params.fit_labels == "missing" and given is None):
                ell = fitted.get(group)
                if ell is None:
                    failed = f"{group}_fit: no {group} region in {row[mask_col]}"
                    break
            else:
                ell = given
            if ell is not None:
                labels.update(_ellipse_values(geometry.ellipse(ell), group))
        if failed:
            rejects.append(_reject(raw.name, i, first_image, "dropped", failed))
            continue
        px, py = labels.get("float_pupil_x"), labels.get("float_pupil_y")
        if (
            params.reject_pupil_outside
            and px is not None
            and not pd.isna(px)
            and not (-0.5 <= px <= out_w - 0.5 and -0.5 <= py <= out_h - 0.5)
        ):
            reason = f"pupil_outside: ({px:.1f}, {py:.1f}) not in {out_w}x{out_h}"
            rejects.append(_reject(raw.name, i, first_image, "dropped", reason))
            continue
        blink = labels.get("float_blink")
        index = len(kept)
        limit = params.reject_blink_above
        if limit is not None and blink is not None and not pd.isna(blink) and float(blink) > limit:
            flagged.append(index)
            reason = f"blink: {float(blink):.2f} > {limit}"
            rejects.append(_reject(raw.name, i, first_image, "flagged", reason))
        images.append(sample)
        kept.append(i)
        rows.append(labels)
        if params.region_maps:
            rm = geometry.image(region_map(mask, skin, params.mask_margin), nearest=True)
            maps.append(
                np.broadcast_to(rm, (len(layout.eyes), layout.views, channels, out_h, out_w))
            )
    label_table = pd.DataFrame(rows, columns=_label_columns(table, rows))
    for col in label_table.columns:
        if col.startswith(("float_", "double_", "int_", "bool_")):
            label_table[col] = pd.to_numeric(label_table[col], errors="coerce").astype("float32")
    stack = (
        np.stack(images)
        if images
        else np.zeros((0, len(layout.eyes), layout.views, channels, out_h, out_w), np.uint8)
    )
    h5 = NvGazeH5(
        images=stack,
        labels=label_table,
        attrs={
            "eyes": "binocular" if len(layout.eyes) > 1 else "monocular",
            "image_resolution": [out_w, out_h],
            "source": raw.name,
        },
        region_maps=np.stack(maps) if maps else None,
        rejected_samples=np.asarray(flagged, dtype=np.int64),
    )
    logger.info(
        "footage %s: %d of %d samples converted (%d dropped, %d flagged) in %.1f s",
        raw.name,
        len(kept),
        n,
        n - len(kept),
        len(flagged),
        time.perf_counter() - start,
    )
    return h5, label_table, rejects


def _label_columns(table: pd.DataFrame, rows: list[dict[str, Any]]) -> list[str]:
    cols = list(table.columns)
    for row in rows:
        for c in row:
            if c not in cols:
                cols.append(c)
    return cols


def _geometry(w: int, h: int, params: DataParams, source: str) -> CropResize:
    geo = CropResize((w, h), tuple(params.output_resolution), params.crop_fraction)
    _, _, cw, ch = geo.crop
    out_w, out_h = params.output_resolution
    change = abs((out_w / out_h) / (cw / ch) - 1.0)
    if change > params.max_aspect_change:
        raise FootageConfigError(
            f"footage '{source}': cropping {w}x{h} by {params.crop_fraction} gives {cw}x{ch}, "
            f"whose aspect ratio differs by {change:.1%} from output_resolution {out_w}x{out_h} "
            f"(allowed nvgaze.data.max_aspect_change={params.max_aspect_change}); choose an "
            "output resolution with the source's aspect ratio"
        )
    return geo


def convert_footages(
    footages: Mapping[str, RawFootage], params: Mapping[str, Any]
) -> tuple[dict[str, NvGazeH5], pd.DataFrame, pd.DataFrame]:
    """Convert every footage folder to its own H5; the label table and the rejects of all."""
    p: DataParams = validate(DataParams, params, "nvgaze.data")
    if not footages:
        raise ValueError("nvgaze_data: no footage folders found in nvgaze.raw_dir")
    h5s: dict[str, NvGazeH5] = {}
    tables, rejects = [], []
    for name in sorted(footages):
        raw = footages[name]
        try:
            h5, labels, rej = footage_to_h5(raw, p)
        finally:
            raw.close()
        h5s[name] = h5
        rejects.extend(rej)
        if len(labels):
            t = labels.select_dtypes(include="number").copy()
            t.insert(0, "source", name)
            t.insert(1, "sample", np.arange(len(labels)))
            t["image_width"], t["image_height"] = h5.resolution
            t["rejected"] = np.isin(np.arange(len(labels)), h5.rejected_samples)
            tables.append(t)
    label_table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return h5s, label_table, pd.DataFrame(rejects, columns=REJECT_COLUMNS)


# ------------------------------------------------------------------------------------- merge


def _per_source(value: bool | dict[str, bool], source: str) -> bool:
    return value.get(source, False) if isinstance(value, dict) else bool(value)


def _resize_h5(data: NvGazeH5, size: tuple[int, int]) -> NvGazeH5:
    """Resize images and rescale every pixel label (NvGaze's merge rescaled only some)."""
    if data.resolution == tuple(size):
        return data
    geo = CropResize(data.resolution, tuple(size), 1.0)
    n, e, v, c = data.images.shape[:4]
    flat = data.images.reshape(-1, *data.images.shape[-2:])
    images = np.stack([geo.image(img) for img in flat]).reshape(n, e, v, c, size[1], size[0])
    labels = data.labels.copy()
    for group in ELLIPSE_GROUPS:
        cols = ELLIPSE_GROUPS[group]
        if not all(col in labels.columns for col in cols):
            if {cols[0], cols[1]} <= set(labels.columns):
                xy = [
                    geo.point(x, y) for x, y in zip(labels[cols[0]], labels[cols[1]], strict=True)
                ]
                labels[cols[0]] = np.float32([p[0] for p in xy])
                labels[cols[1]] = np.float32([p[1] for p in xy])
            continue
        for i in range(len(labels)):
            ell = _ellipse_from_row(labels.iloc[i], group)
            if ell is not None:
                for col, val in _ellipse_values(geo.ellipse(ell), group).items():
                    labels.at[i, col] = val
    regions = None
    if data.region_maps is not None:
        flat = data.region_maps.reshape(-1, *data.region_maps.shape[-2:])
        regions = np.stack([geo.image(m, nearest=True) for m in flat]).reshape(
            n, e, v, c, size[1], size[0]
        )
    attrs = {**data.attrs, "image_resolution": list(size)}
    return NvGazeH5(images, labels, attrs, regions, None, data.valid_samples, data.rejected_samples)


def _concat(parts: list[NvGazeH5], order: np.ndarray, attrs: dict[str, Any]) -> NvGazeH5:
    if not parts:
        raise ValueError("nothing to concatenate")
    common = [c for c in parts[0].labels.columns if all(c in p.labels.columns for p in parts)]
    images = np.concatenate([p.images for p in parts])[order]
    labels = pd.concat([p.labels[common] for p in parts], ignore_index=True).iloc[order]
    with_maps = all(p.region_maps is not None for p in parts)
    maps = np.concatenate([p.region_maps for p in parts])[order] if with_maps else None
    return NvGazeH5(images, labels.reset_index(drop=True), attrs, maps)


def merge_h5(
    sources: Mapping[str, Callable[[], NvGazeH5] | NvGazeH5], params: Mapping[str, Any]
) -> tuple[NvGazeH5, NvGazeH5, pd.DataFrame, pd.DataFrame]:
    """Merge H5 files with a sampling ratio each into train / test files; report and rejects."""
    p: MergeParams = validate(MergeParams, params, "nvgaze.merge")
    if not sources:
        raise ValueError("nvgaze.merge: no H5 files to merge")
    unknown = sorted((set(p.ratios) | set(p.test_sources)) - set(sources))
    if unknown:
        raise ValueError(
            f"nvgaze.merge names sources {unknown} that do not exist; sources are {sorted(sources)}"
        )
    rng = np.random.default_rng(p.seed)
    selections: dict[str, NvGazeH5] = {}
    report, rejects = [], []
    resolution = tuple(p.output_resolution) if p.output_resolution else None
    for name in sorted(sources):
        item = sources[name]
        data = item() if callable(item) else item
        missing = [label for label in p.required_labels if label not in data.labels.columns]
        if missing:
            raise ValueError(
                f"nvgaze.merge: source '{name}' lacks required labels {missing} "
                f"(nvgaze.merge.required_labels); it has {sorted(data.labels.columns)}"
            )
        n = len(data)
        selected = np.arange(n)
        n_rejected = 0 if data.rejected_samples is None else len(data.rejected_samples)
        if _per_source(p.keep_only_accepted, name):
            if data.valid_samples is None:
                raise ValueError(
                    f"nvgaze.merge.keep_only_accepted is set for '{name}' but the file has no "
                    "validSamples list (written by an annotation tool)"
                )
            dropped = np.setdiff1d(selected, data.valid_samples)
            rejects += [
                _reject(name, int(i), "", "skipped", "not_accepted: not in validSamples")
                for i in dropped
            ]
            selected = np.intersect1d(selected, data.valid_samples)
        elif _per_source(p.skip_rejected, name):
            if data.rejected_samples is None:
                logger.warning("merge: '%s' has no rejectedSamples list: nothing to skip", name)
            else:
                for i in np.intersect1d(selected, data.rejected_samples):
                    rejects.append(
                        _reject(name, int(i), "", "skipped", "rejected: in rejectedSamples")
                    )
                selected = np.setdiff1d(selected, data.rejected_samples)
        values = data.labels[p.required_labels].apply(pd.to_numeric, errors="coerce")
        bad = values.iloc[selected].isna().any(axis=1).to_numpy()
        for i in selected[bad]:
            cols = [c for c in p.required_labels if pd.isna(values.at[int(i), c])]
            rejects.append(
                _reject(name, int(i), "", "skipped", f"missing_label: {', '.join(cols)}")
            )
        selected = selected[~bad]
        if p.shuffle:
            selected = rng.permutation(selected)
        ratio = p.ratios.get(name, p.default_ratio)
        chosen = selected[: int(len(selected) * ratio)]
        if resolution is None:
            resolution = data.resolution
        part = data.subset(chosen)
        if part.resolution != resolution:
            if p.output_resolution is None:
                raise ValueError(
                    f"nvgaze.merge: '{name}' is {part.resolution[0]}x{part.resolution[1]}, others "
                    f"{resolution[0]}x{resolution[1]}; set nvgaze.merge.output_resolution to resize"
                )
            part = _resize_h5(part, resolution)
        part.labels["string_source"] = name
        selections[name] = part
        report.append(
            {
                "source": name,
                "samples": n,
                "rejected": n_rejected,
                "valid": len(selected),
                "ratio": ratio,
                "selected": len(chosen),
            }
        )
        logger.info(
            "num all samples %d, num rejected %d, num valid %d, num selected %d : %s",
            n,
            n_rejected,
            len(selected),
            len(chosen),
            name,
        )
    attrs = {"sources": sorted(selections), "image_resolution": list(resolution)}
    if p.test_sources:
        train_parts = [selections[s] for s in sorted(selections) if s not in p.test_sources]
        test_parts = [selections[s] for s in sorted(p.test_sources)]
        if not train_parts:
            raise ValueError(
                "nvgaze.merge.test_sources holds out every source: nothing to train on"
            )
        train = _concat(train_parts, rng.permutation(sum(len(t) for t in train_parts)), attrs)
        test = _concat(test_parts, np.arange(sum(len(t) for t in test_parts)), attrs)
    else:
        parts = [selections[s] for s in sorted(selections)]
        total = sum(len(t) for t in parts)
        order = rng.permutation(total) if p.shuffle else np.arange(total)
        n_test = int(p.test_ratio * total)
        merged = _concat(parts, order, attrs)
        test = merged.subset(np.arange(n_test))
        train = merged.subset(np.arange(n_test, total))
    if len(train) == 0:
        raise ValueError("nvgaze.merge: the training split is empty (check ratios and rejects)")
    frame = pd.DataFrame(report)
    frame["train"] = [int((train.labels["string_source"] == s).sum()) for s in frame["source"]]
    frame["test"] = [int((test.labels["string_source"] == s).sum()) for s in frame["source"]]
    logger.info(
        "merged %d samples: %d train, %d test", len(train) + len(test), len(train), len(test)
    )
    return train, test, frame, pd.DataFrame(rejects, columns=REJECT_COLUMNS)


# ------------------------------------------------------------------------------- reflections


def build_reflection_set(
    images: Mapping[str, Callable[[], np.ndarray | None]], params: Mapping[str, Any]
) -> list[np.ndarray]:
    """Grey images large enough to crop reflections from; rendered textures if none qualify."""
    p: ReflectionParams = validate(ReflectionParams, params, "nvgaze.reflections")
    names = sorted(images)
    if p.shuffle:
        names = list(np.random.default_rng(p.seed).permutation(names))
    min_w, min_h = p.min_size
    out: list[np.ndarray] = []
    skipped = {"undecodable": 0, "too_small": 0}
    for i, name in enumerate(names):
        if len(out) >= p.max_images:
            break
        img = images[name]()
        if img is None:
            skipped["undecodable"] += 1
            continue
        if img.shape[1] < min_w or img.shape[0] < min_h:
            skipped["too_small"] += 1
            continue
        logger.debug("loading image %d / collected %d: %s", i + 1, len(out), name)
        out.append(np.ascontiguousarray(img, dtype=np.uint8))
    logger.info(
        "%d reflection images loaded from %s (skipped %d undecodable, %d smaller than %dx%d)",
        len(out),
        p.source_dir or "scikit-image's sample images",
        skipped["undecodable"],
        skipped["too_small"],
        min_w,
        min_h,
    )
    if not out:
        logger.warning("no usable reflection image: rendering %d textures", p.fallback_count)
        out = reflection_textures(p.fallback_count, tuple(p.fallback_size), p.seed)
    return out
