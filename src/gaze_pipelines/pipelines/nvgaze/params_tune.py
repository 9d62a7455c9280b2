"""Parameters of ``nvgaze_tune`` (top-level key ``nvgaze_tune``; searched keys are under ``nvgaze``)."""

from __future__ import annotations

from pydantic import Field

from gaze_pipelines.core.tune import SweepParams


class NvGazeTuneParams(SweepParams):
    """``nvgaze_tune``: a Ray Tune ASHA sweep of ``nvgaze_train`` (``core.tune``)."""

    storage_path: str | None = Field(
        "data/06_models/nvgaze_tune", description="Ray's experiment folder (None: temporary)"
    )


PARAMS_MODELS = {"nvgaze_tune": NvGazeTuneParams}
