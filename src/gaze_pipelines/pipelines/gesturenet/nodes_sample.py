"""``gesturenet_sample``: render the embedded sample in TAO GestureNet's layout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from gaze_pipelines.pipelines.gesturenet.params import (
    DatasetConfig,
    DatasetExperimentConfig,
    SampleParams,
    validate,
)
from gaze_pipelines.synthetic.gesturenet import annotation_json, render_frame

logger = logging.getLogger(__name__)

CORRUPTIONS = ("unknown_class", "no_box", "box_outside", "bad_json", "no_annotation")


def _frame_plan(p: SampleParams) -> list[tuple[int, str, int, str, int, str]]:
    """(user index, uid, session index, session name, frame index, gesture) of every frame."""
    plan = []
    for ui, uid in enumerate(p.users):
        for si in range(p.sessions_per_user):
            rng = np.random.default_rng([p.seed, 31, ui, si])
            order = list(p.gestures)
            rng.shuffle(order)  # each session shows the gestures in its own order, in blocks
            frame = 0
            for gesture in order:
                for _ in range(p.frames_per_gesture):
                    plan.append((ui, uid, si, f"session_{si + 1}", frame, gesture))
                    frame += 1
    return plan


def _corrupt(doc: dict[str, Any], kind: str) -> dict[str, Any] | str | None:
    """A deliberately broken copy of an annotation (what real labelling tools produce)."""
    result = doc["completions"][0]["result"]
    if kind == "unknown_class":
        result[0]["value"]["choices"] = ["waving"]
    elif kind == "no_box":
        doc["completions"][0]["result"] = [r for r in result if r["type"] != "rectanglelabels"]
    elif kind == "box_outside":
        box = next(r for r in result if r["type"] == "rectanglelabels")["value"]
        box["x"], box["width"] = 92.0, 25.0
    elif kind == "bad_json":
        return '{"completions": [{"result": [ truncated'
    elif kind == "no_annotation":
        return None
    return doc


def render_sample(
    sample: dict[str, Any], dataset_config: dict[str, Any], experiment_config: dict[str, Any]
) -> dict[str, Callable[[], dict[str, Any]]]:
    """Lazy ``{frame: render}`` groups of images and annotation JSONs (plus the TAO specs)."""
    p = validate(SampleParams, sample, "gesturenet.sample")
    dc = validate(DatasetConfig, dataset_config, "gesturenet.dataset_config")
    plan = _frame_plan(p)
    rng = np.random.default_rng([p.seed, 99])
    candidates = [i for i, row in enumerate(plan) if row[1] not in set(dc.kpi_users)]
    n_bad = min(p.corrupt_annotations, len(candidates))
    corrupt = {
        int(i): CORRUPTIONS[k % len(CORRUPTIONS)]
        for k, i in enumerate(rng.choice(candidates, n_bad, replace=False))
    }
    ann_dir = dc.annotation_config.annotation_path
    task_ids = iter(range(1, len(plan) + 1))

    def job(index: int, row: tuple, task_id: int) -> Callable[[], dict[str, Any]]:
        ui, uid, si, session, frame, gesture = row

        def run() -> dict[str, Any]:
            rendered = render_frame(
                p.seed,
                ui,
                si,
                frame,
                gesture,
                p.image_width,
                p.image_height,
                p.left_handed_fraction,
                p.outdoor_fraction,
            )
            stem = f"{frame:06d}"
            image_rel = f"{dc.org_data_dir}/{p.org_dataset}/{uid}/{session}/{stem}{p.image_ext}"
            ann_rel = f"{ann_dir}/{p.org_dataset}/{uid}/{session}/{stem}.json"
            doc: Any = annotation_json(rendered, image_rel, task_id)
            if index in corrupt:
                doc = _corrupt(doc, corrupt[index])
            files: dict[str, Any] = {image_rel: rendered.image}
            if doc is not None:
                files[ann_rel] = doc
            return files

        return run

    out: dict[str, Callable[[], dict[str, Any]]] = {
        f"frame_{i:07d}": job(i, row, next(task_ids)) for i, row in enumerate(plan)
    }
    if p.write_specs:
        exp = validate(
            DatasetExperimentConfig, experiment_config, "gesturenet.dataset_experiment_config"
        )
        specs = {
            "specs/dataset_config.json": dc.model_dump(mode="json"),
            "specs/dataset_experiment_config.json": exp.model_dump(mode="json", exclude_none=True),
        }
        out["specs"] = lambda: specs
    logger.info(
        "gesturenet sample: %d frames (%d users x %d sessions x %d gestures x %d), %d corrupted annotations",
        len(plan),
        len(p.users),
        p.sessions_per_user,
        len(p.gestures),
        p.frames_per_gesture,
        len(corrupt),
    )
    return out
