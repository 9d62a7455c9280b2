"""``gesturenet_data``: TAO GestureNet ``dataset_convert`` as Kedro nodes.

resolve specs -> index frames (parse annotations, crop boxes; rejects) -> crop hands ->
split users (kpi / train / validation, k folds, metadata filters) -> balance classes ->
``data.json`` with ``train_set``, ``validation_set``, ``kpi_set`` (and ``folds``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core.crops import enlarge_box
from gaze_pipelines.core.progress import progress
from gaze_pipelines.datasets.gesturenet import IMAGE_EXTENSIONS, GestureTree
from gaze_pipelines.params_common import format_validation_error
from gaze_pipelines.pipelines.gesturenet.params import (
    DatasetConfig,
    DatasetExperimentConfig,
    GestureDataConfigs,
    TrainDatasetConfig,
    validate,
)
from gaze_pipelines.pipelines.gesturenet.tao_format import (
    AnnotationError,
    matches_filter,
    parse_annotation,
)

logger = logging.getLogger(__name__)

FRAME_COLUMNS = [
    "set",
    "uid",
    "session",
    "frame",
    "image_relpath",
    "annotation_relpath",
    "image_width",
    "image_height",
    "class",
    "class_id",
    "hand_x1",
    "hand_y1",
    "hand_x2",
    "hand_y2",
    "crop_x1",
    "crop_y1",
    "crop_x2",
    "crop_y2",
    "crop_relpath",
    "metadata",
]
REJECT_COLUMNS = ["set", "uid", "session", "image_relpath", "annotation_relpath", "reason"]


def class_names(dataset_config: dict[str, Any]) -> list[str]:
    """Class names ordered by index, from ``gesturenet.train.dataset_config.classes``."""
    raw = (dataset_config or {}).get("classes")
    spec = validate(
        TrainDatasetConfig, {"classes": raw} if raw else {}, "gesturenet.train.dataset_config"
    )
    return [name for name, _ in sorted(spec.classes.items(), key=lambda kv: kv[1])]


def resolve_specs(
    dataset_config_file: dict[str, Any],
    experiment_file: dict[str, Any],
    dataset_config: dict[str, Any],
    experiment_config: dict[str, Any],
    train_dataset_config: dict[str, Any],
) -> GestureDataConfigs:
    """Validated specs: a TAO JSON file when given, else the parameters (data root = parameter)."""
    from pydantic import ValidationError  # noqa: PLC0415

    mount = (dataset_config or {}).get("mount_dir_path") or DatasetConfig().mount_dir_path
    dc_raw = dict(dataset_config_file) if dataset_config_file else dict(dataset_config or {})
    dc_key = (
        "gesturenet.dataset_config_file" if dataset_config_file else "gesturenet.dataset_config"
    )
    if dataset_config_file and dc_raw.get("mount_dir_path") not in (None, mount):
        logger.warning(
            "dataset_config file: mount_dir_path '%s' replaced by the parameter "
            "gesturenet.dataset_config.mount_dir_path = '%s' (the catalog's data root)",
            dc_raw.get("mount_dir_path"),
            mount,
        )
    dc_raw["mount_dir_path"] = mount
    ex_raw = dict(experiment_file) if experiment_file else dict(experiment_config or {})
    ex_key = (
        "gesturenet.dataset_experiment_config_file"
        if experiment_file
        else "gesturenet.dataset_experiment_config"
    )
    for raw, key, model in (
        (dc_raw, dc_key, DatasetConfig),
        (ex_raw, ex_key, DatasetExperimentConfig),
    ):
        try:
            model.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(format_validation_error(exc, key, model)) from None
    try:
        return GestureDataConfigs(
            dataset_config=dc_raw,
            experiment=ex_raw,
            classes=class_names(train_dataset_config or {}),
        )
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, "gesturenet")) from None


def effective_specs(cfg: GestureDataConfigs) -> dict[str, Any]:
    """The two specs as used, in TAO's JSON form (to keep next to the outputs)."""
    return {
        "dataset_config": cfg.dataset_config.model_dump(mode="json"),
        "dataset_experiment_config": cfg.experiment.model_dump(mode="json"),
        "classes": cfg.classes,
    }


def _reject(
    set_name: str, uid: str, session: str, image: str, ann: str, reason: str
) -> dict[str, str]:
    return {
        "set": set_name,
        "uid": uid,
        "session": session,
        "image_relpath": image,
        "annotation_relpath": ann,
        "reason": reason,
    }


def _image_size(raw: GestureTree, rel: str) -> tuple[int, int]:
    """``(width, height)`` of an image, or a ``bad_image`` reject."""
    from PIL import UnidentifiedImageError  # noqa: PLC0415

    try:
        return raw.image_size(rel)
    except (UnidentifiedImageError, OSError) as exc:
        raise AnnotationError("bad_image", f"cannot read image header ({exc})") from None


def index_frames(raw: GestureTree, cfg: GestureDataConfigs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per usable frame (class, hand box, crop box, metadata) and the rejected frames."""
    dc = cfg.dataset_config
    ann_root = dc.annotation_config.annotation_path.strip("/")
    kpi_users = set(dc.kpi_users)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, str]] = []
    jobs: list[tuple[str, str, str, str]] = []
    for set_name in dc.sets:
        set_dir = f"{dc.org_data_dir.strip('/')}/{set_name}"
        if not raw.isdir(set_dir):
            raise ValueError(
                f"gesturenet.dataset_config: images of set '{set_name}' not found at {raw.path(set_dir)} "
                "(check mount_dir_path, org_data_dir and org_dataset)"
            )
        images = raw.list_files(set_dir, IMAGE_EXTENSIONS)
        by_session: dict[tuple[str, str], list[str]] = {}
        for rel in images:
            parts = PurePosixPath(rel).relative_to(set_dir).parts
            if len(parts) != 3:
                rejects.append(
                    _reject(
                        set_name,
                        parts[0] if parts else "",
                        "",
                        rel,
                        "",
                        f"bad_layout: expected <uid>/<session>/<image>, got {'/'.join(parts)}",
                    )
                )
                continue
            by_session.setdefault((parts[0], parts[1]), []).append(rel)
        for (uid, session), frames in sorted(by_session.items()):
            rate = 1 if uid in kpi_users else dc.sampling_rate
            for rel in sorted(frames)[::rate]:
                jobs.append((set_name, uid, session, rel))
        ann_dir = f"{ann_root}/{set_name}"
        image_stems = {str(PurePosixPath(r).relative_to(set_dir).with_suffix("")) for r in images}
        for ann in raw.list_files(ann_dir, (".json",)):
            stem = str(PurePosixPath(ann).relative_to(ann_dir).with_suffix(""))
            if stem not in image_stems:
                parts = PurePosixPath(stem).parts
                rejects.append(
                    _reject(
                        set_name,
                        parts[0] if parts else "",
                        parts[1] if len(parts) > 1 else "",
                        "",
                        ann,
                        "missing_image: annotation without an image",
                    )
                )
    if dc.sampling_rate > 1:
        logger.info(
            "sampling_rate %d: %d frames kept (KPI users %s at every frame)",
            dc.sampling_rate,
            len(jobs),
            sorted(kpi_users),
        )
    class_id = {name: i for i, name in enumerate(cfg.classes)}
    for set_name, uid, session, rel in progress(jobs, desc="gesturenet index frames", unit="frame"):
        stem = PurePosixPath(rel).stem
        ann = f"{ann_root}/{set_name}/{uid}/{session}/{stem}.json"
        try:
            if not raw.exists(ann):
                raise AnnotationError("no_annotation", "image without an annotation file")
            try:
                doc = raw.read_json(ann)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise AnnotationError("bad_json", str(exc)) from None
            size = _image_size(raw, rel)
            hand = parse_annotation(
                doc,
                cfg.classes,
                size,
                dc.annotation_config.gesture_from_names,
                dc.annotation_config.class_aliases,
            )
        except AnnotationError as exc:
            rejects.append(_reject(set_name, uid, session, rel, ann, exc.reason))
            continue
        crop = enlarge_box(
            hand.box, dc.bbox_enlarge_ratio, dc.convert_bbox_square, size[0], size[1]
        )
        crop_rel = f"{dc.post_data_dir.strip('/')}/{set_name}/{uid}/{session}/{stem}.png"
        rows.append(
            {
                "set": set_name,
                "uid": uid,
                "session": session,
                "frame": stem,
                "image_relpath": rel,
                "annotation_relpath": ann,
                "image_width": size[0],
                "image_height": size[1],
                "class": hand.label,
                "class_id": class_id[hand.label],
                "hand_x1": hand.box[0],
                "hand_y1": hand.box[1],
                "hand_x2": hand.box[2],
                "hand_y2": hand.box[3],
                "crop_x1": crop[0],
                "crop_y1": crop[1],
                "crop_x2": crop[2],
                "crop_y2": crop[3],
                "crop_relpath": crop_rel,
                "metadata": json.dumps(hand.metadata, sort_keys=True),
            }
        )
    frames = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    for col in (
        "image_width",
        "image_height",
        "class_id",
        "crop_x1",
        "crop_y1",
        "crop_x2",
        "crop_y2",
    ):
        frames[col] = frames[col].astype("int64")
    for col in ("hand_x1", "hand_y1", "hand_x2", "hand_y2"):
        frames[col] = frames[col].astype("float64")
    rejected = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    logger.info("gesturenet index: %d frames, %d rejected", len(frames), len(rejected))
    return frames, rejected


def crop_hands(raw: GestureTree, frames: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    """Lazy ``{crop path: crop}`` of every indexed frame (written under ``post_data_dir``)."""

    def job(image_rel: str, box: tuple[int, int, int, int]) -> Callable[[], Any]:
        def run() -> Any:
            image = raw.read_image(image_rel)
            x1, y1, x2, y2 = box
            return np.ascontiguousarray(image[y1:y2, x1:x2])

        return run

    return {
        r.crop_relpath: job(
            r.image_relpath, (int(r.crop_x1), int(r.crop_y1), int(r.crop_x2), int(r.crop_y2))
        )
        for r in frames.itertuples(index=False)
    }


def _filtered(
    frames: pd.DataFrame, per_set: dict[str, list[dict[str, Any]]], mode: str
) -> pd.Series:
    """Boolean mask of the frames the metadata filters remove."""
    if frames.empty or not per_set:
        return pd.Series(False, index=frames.index)
    meta = frames["metadata"].map(json.loads)
    hit = pd.Series(False, index=frames.index)
    for set_name, conditions in per_set.items():
        in_set = (
            frames["set"].eq(set_name) if set_name != "*" else pd.Series(True, index=frames.index)
        )
        for cond in conditions or []:
            hit |= in_set & meta.map(lambda m, c=cond: matches_filter(m, c))
    if mode == "include":
        applies = pd.Series(False, index=frames.index)
        for set_name in per_set:
            applies |= frames["set"].eq(set_name) if set_name != "*" else True
        return applies & ~hit
    return hit


def split_users(frames: pd.DataFrame, cfg: GestureDataConfigs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign users to kpi / validation / train (and folds); returns frames with ``split``, ``fold``
    and one row per user (its split, fold and frame counts)."""
    ex = cfg.experiment
    uid = ex.uid_list
    kpi_users = set(uid.kpi)
    out = frames.copy()
    in_kpi_sets = out["set"].isin(ex.set_list.kpi)
    in_tv_sets = out["set"].isin(ex.set_list.train_val)
    is_kpi_user = out["uid"].isin(kpi_users)
    out["split"] = np.where(
        is_kpi_user & in_kpi_sets, "kpi_set", np.where(~is_kpi_user & in_tv_sets, "train_val", "")
    )
    missing_kpi = sorted(kpi_users - set(out.loc[out["split"] == "kpi_set", "uid"]))
    if missing_kpi:
        logger.warning("uid_list.kpi users without frames in set_list.kpi sets: %s", missing_kpi)
    not_sampled = sorted(kpi_users - set(cfg.dataset_config.kpi_users))
    if not_sampled and cfg.dataset_config.sampling_rate > 1:
        logger.warning(
            "KPI users %s are not in dataset_config.kpi_users: they were sub-sampled", not_sampled
        )

    tv_users = sorted(set(out.loc[out["split"] == "train_val", "uid"]))
    rng = np.random.default_rng(ex.seed)
    if uid.predefined_val_users:
        val_users = [u for u in uid.validation if u in tv_users]
        absent = sorted(set(uid.validation) - set(tv_users))
        if absent:
            logger.warning("uid_list.validation users without train_val frames: %s", absent)
    else:
        n_val = int(round(uid.val_fraction * len(tv_users)))
        if uid.val_fraction > 0 and n_val == 0 and len(tv_users) >= 2:
            n_val = 1
        val_users = sorted(rng.permutation(tv_users)[:n_val].tolist())
    is_tv = out["split"] == "train_val"
    out.loc[is_tv, "split"] = np.where(
        out.loc[is_tv, "uid"].isin(val_users), "validation_set", "train_set"
    )

    out["fold"] = -1
    fold_of: dict[str, int] = {}
    if ex.k_folds > 0:
        if ex.k_folds > len(tv_users):
            raise ValueError(
                f"gesturenet.dataset_experiment_config.k_folds: {ex.k_folds} folds need at least as many "
                f"train_val users, have {len(tv_users)}"
            )
        order = rng.permutation(tv_users).tolist()
        fold_of = {u: i % ex.k_folds for i, u in enumerate(order)}
        out["fold"] = out["uid"].map(fold_of).fillna(-1).astype("int64")

    excluded = out["split"] == ""
    tv_filter = ex.image_feature_filter.get("train_val", {})
    kpi_filter = ex.image_feature_filter.get("kpi", {})
    removed = pd.Series(False, index=out.index)
    tv_rows = out["split"].isin(["train_set", "validation_set"])
    removed[tv_rows] = _filtered(out[tv_rows], tv_filter, ex.image_feature_filter_mode)
    kpi_rows = out["split"] == "kpi_set"
    removed[kpi_rows] = _filtered(out[kpi_rows], kpi_filter, ex.image_feature_filter_mode)
    if removed.any():
        logger.info(
            "image_feature_filter (%s) removed %d frames",
            ex.image_feature_filter_mode,
            int(removed.sum()),
        )

    users = (
        out.assign(excluded=excluded, filtered=removed, kept=~excluded & ~removed)
        .groupby("uid", sort=True)
        .agg(
            split=("split", lambda s: ",".join(sorted(set(s) - {""})) or "excluded"),
            fold=("fold", "max"),
            n_frames=("frame", "size"),
            n_kept=("kept", "sum"),
            n_filtered=("filtered", "sum"),
            n_excluded=("excluded", "sum"),
        )
        .reset_index()
    )
    for col in ("n_frames", "n_kept", "n_filtered", "n_excluded", "fold"):
        users[col] = users[col].astype("int64")
    assigned = out[~excluded & ~removed].reset_index(drop=True)
    logger.info(
        "gesturenet split: train %d users / %d frames, validation %d / %d, kpi %d / %d, folds %d",
        assigned.loc[assigned.split == "train_set", "uid"].nunique(),
        int((assigned.split == "train_set").sum()),
        assigned.loc[assigned.split == "validation_set", "uid"].nunique(),
        int((assigned.split == "validation_set").sum()),
        assigned.loc[assigned.split == "kpi_set", "uid"].nunique(),
        int((assigned.split == "kpi_set").sum()),
        ex.k_folds,
    )
    return assigned, users


def target_counts(counts: dict[str, int], weights: dict[str, float], mode: str) -> dict[str, int]:
    """Per-class sample counts for a sampling mode and target class weights (shares)."""
    present = {c: n for c, n in counts.items() if n > 0 and weights.get(c, 0) > 0}
    if mode == "none" or not present:
        return dict(counts)
    total_w = sum(weights[c] for c in present)
    share = {c: weights[c] / total_w for c in present}
    if mode == "max":
        total = max(n / share[c] for c, n in present.items())
    elif mode == "min":
        total = min(n / share[c] for c, n in present.items())
    else:  # average: keep the size of the set
        total = float(sum(counts.values()))
    out = {c: 0 for c in counts}
    for c in present:
        out[c] = max(1, int(math.floor(share[c] * total + 0.5)))
    if mode == "min":
        for c in present:
            out[c] = min(out[c], present[c])
    return out


def _resample(group: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of ``group``: a subset without replacement, or all rows plus random repeats."""
    if n <= len(group):
        return group.iloc[np.sort(rng.choice(len(group), n, replace=False))]
    extra = rng.choice(len(group), n - len(group), replace=True)
    return pd.concat([group, group.iloc[np.sort(extra)]])


def balance_classes(
    assigned: pd.DataFrame, cfg: GestureDataConfigs
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """data.json entries (training sets re-sampled per ``sampling``) and the class balance table."""
    s = cfg.experiment.sampling
    weights = s.class_weights if s.use_class_weights else {c: 1.0 for c in cfg.classes}
    rng = np.random.default_rng(cfg.experiment.seed + 1)
    parts: list[pd.DataFrame] = []
    groups: list[tuple[str, pd.DataFrame, bool]] = [
        ("train_set", assigned[assigned.split == "train_set"], True),
        ("validation_set", assigned[assigned.split == "validation_set"], False),
        ("kpi_set", assigned[assigned.split == "kpi_set"], False),
    ]
    for k in range(cfg.experiment.k_folds):
        tv = assigned[assigned.split.isin(["train_set", "validation_set"])]
        groups.append((f"fold_{k}_train_set", tv[tv.fold != k], True))
        groups.append((f"fold_{k}_validation_set", tv[tv.fold == k], False))
    balance_rows = []
    for name, part, resample in groups:
        counts = {c: int((part["class"] == c).sum()) for c in cfg.classes}
        targets = target_counts(counts, weights, s.sampling_mode) if resample else counts
        pieces = []
        for c in cfg.classes:
            group = part[part["class"] == c]
            if targets[c] and len(group):
                pieces.append(_resample(group, targets[c], rng) if resample else group)
        sampled = pd.concat(pieces) if pieces else part.iloc[0:0]
        parts.append(sampled.assign(data_split=name))
        total = max(1, sum(targets.values()))
        w_total = sum(weights.get(c, 0.0) for c in cfg.classes if counts[c] > 0) or 1.0
        for c in cfg.classes:
            target_share = weights.get(c, 0.0) / w_total if counts[c] > 0 else 0.0
            share = targets[c] / total
            balance_rows.append(
                {
                    "data_split": name,
                    "class": c,
                    "n_before": counts[c],
                    "n_after": targets[c],
                    "share": share,
                    "target_share": target_share
                    if resample and s.sampling_mode != "none"
                    else np.nan,
                    "share_error": abs(share - target_share)
                    if resample and s.sampling_mode != "none"
                    else np.nan,
                }
            )
    samples = pd.concat(parts, ignore_index=True) if parts else assigned.assign(data_split=[])
    balance = pd.DataFrame(balance_rows)
    logger.info(
        "gesturenet sampling (%s%s): train %d -> %d entries",
        s.sampling_mode,
        ", class weights" if s.use_class_weights else "",
        int((assigned.split == "train_set").sum()),
        int((samples.data_split == "train_set").sum()),
    )
    return samples, balance


def build_data_json(
    samples: pd.DataFrame, raw: GestureTree, cfg: GestureDataConfigs
) -> dict[str, Any]:
    """TAO's data.json: ``train_set``, ``validation_set``, ``kpi_set`` (and ``folds`` when k > 0)."""
    uid_name = cfg.experiment.uid_list.uid_name

    def entries_from_records(name: str) -> list[dict[str, Any]]:
        out = []
        for rec in samples[samples.data_split == name].to_dict("records"):
            out.append(
                {
                    uid_name: rec["uid"],
                    "set": rec["set"],
                    "session": rec["session"],
                    "image_path": raw.path(rec["image_relpath"]),
                    "image_relpath": rec["image_relpath"],
                    "crop_path": raw.path(rec["crop_relpath"]),
                    "crop_relpath": rec["crop_relpath"],
                    "bbox": {k: int(rec[f"crop_{k}"]) for k in ("x1", "y1", "x2", "y2")},
                    "hand_bbox": {k: float(rec[f"hand_{k}"]) for k in ("x1", "y1", "x2", "y2")},
                    "image_width": int(rec["image_width"]),
                    "image_height": int(rec["image_height"]),
                    "class": rec["class"],
                    "class_id": int(rec["class_id"]),
                    "metadata": json.loads(rec["metadata"]),
                }
            )
        return out

    data: dict[str, Any] = {
        "uid_name": uid_name,
        "classes": {c: i for i, c in enumerate(cfg.classes)},
        "train_set": entries_from_records("train_set"),
        "validation_set": entries_from_records("validation_set"),
        "kpi_set": entries_from_records("kpi_set"),
        "k_folds": cfg.experiment.k_folds,
    }
    if cfg.experiment.k_folds > 0:
        data["folds"] = [
            {
                "fold": k,
                "train_set": entries_from_records(f"fold_{k}_train_set"),
                "validation_set": entries_from_records(f"fold_{k}_validation_set"),
            }
            for k in range(cfg.experiment.k_folds)
        ]
    return data


def crop_table(frames: pd.DataFrame) -> pd.DataFrame:
    """The crop boxes with their image sizes (validated: boxes inside images)."""
    cols = [
        "set",
        "uid",
        "session",
        "frame",
        "class",
        "image_width",
        "image_height",
        "crop_x1",
        "crop_y1",
        "crop_x2",
        "crop_y2",
        "crop_relpath",
    ]
    out = frames[cols].copy()
    out["crop_w"] = out["crop_x2"] - out["crop_x1"]
    out["crop_h"] = out["crop_y2"] - out["crop_y1"]
    return out
