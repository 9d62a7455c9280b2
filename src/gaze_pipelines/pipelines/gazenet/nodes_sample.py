"""``gazenet_sample`` nodes: render the embedded TAO-layout sample set (no file I/O here)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from gaze_pipelines.pipelines.gazenet.params_sample import SampleParams
from gaze_pipelines.synthetic import gazenet as sample

logger = logging.getLogger(__name__)


def validate_sample_params(params: dict[str, Any]) -> SampleParams:
    """Check ``gazenet.sample`` (errors name the key and the allowed values)."""
    return SampleParams.model_validate(params)


def sample_setup(p: SampleParams) -> sample.SampleSetup:
    """Draw the camera, screen pose and users of the set from the seed."""
    return sample.make_setup(
        seed=p.seed,
        set_id=p.set_id,
        n_users=p.n_users,
        image_size=p.image_size,
        screen_size_mm=p.screen.size_mm,
        screen_resolution=p.screen.resolution,
        size_file=p.screen.size_file,
        user_id_format=p.user_id_format,
        distance_mm=p.distance_mm,
        generic_face=p.generic_face,
    )


def render_sample_set(setup: sample.SampleSetup, p: SampleParams) -> dict[str, bytes]:
    """Render every user's frames and labels plus Config/: ``{relative path: bytes}``."""
    files = sample.render_set(
        setup,
        frames_per_user=p.frames_per_user,
        closed_eye_fraction=p.closed_eye_fraction,
        workers=p.workers,
        png_compression=p.png_compression,
    )
    n_png = sum(rel.endswith(".png") for rel in files)
    logger.info(
        "gazenet_sample: set %s, %d users, %d frames, %.1f MB",
        setup.set_id,
        len(setup.users),
        n_png,
        sum(len(v) for v in files.values()) / 1e6,
    )
    return files


def sample_pipeline() -> Pipeline:
    """``gazenet_sample``: parameters -> set-up -> rendered set (written by the catalog)."""
    return pipeline(
        [
            node(
                validate_sample_params,
                "params:gazenet.sample",
                "gazenet_sample_params",
                name="gazenet_sample_validate_params",
            ),
            node(
                sample_setup,
                "gazenet_sample_params",
                "gazenet_sample_setup",
                name="gazenet_sample_setup",
            ),
            node(
                render_sample_set,
                ["gazenet_sample_setup", "gazenet_sample_params"],
                "gazenet_raw_sets@sample_tree",
                name="gazenet_sample_render",
            ),
        ],
        tags=["gazenet", "sample"],
    )
