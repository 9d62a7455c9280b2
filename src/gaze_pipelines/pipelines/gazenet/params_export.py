"""``gazenet.export``: the export core's parameters (``core.export.ExportParams``), validated at start-up."""

from __future__ import annotations

from gaze_pipelines.core.export import ExportParams

PARAMS_MODELS = {"gazenet.export": ExportParams}
