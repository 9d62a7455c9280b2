"""Parameters of ``gazenet_data``: TAO ``dataset_convert`` flags plus our extensions."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PHASES = ("training", "validation", "testing", "kpi_testing")


class Bound(BaseModel):
    """Keep rows whose ``feature`` lies in ``[min, max]`` (either side optional)."""

    model_config = ConfigDict(extra="forbid")
    feature: str = Field(description="frame-table column or TFRecord key, e.g. label/theta")
    min: float | None = None
    max: float | None = None
    absolute: bool = Field(False, description="compare |value| instead of value")


class DataFilter(BaseModel):
    """``filter_info`` and ``filter_phases`` applied at conversion time."""

    model_config = ConfigDict(extra="forbid")
    filter_phases: list[Literal["training", "validation", "testing", "kpi_testing"]] = Field(
        default_factory=list, description="splits the bounds apply to"
    )
    filter_info: list[Bound] = Field(default_factory=list)
    drop_invalid_theta_phi: bool = Field(
        False, description="drop frames whose gaze labels failed TAO's validity checks"
    )
    eye_status: list[Literal["open", "closed", "occluded", "half_open", "missing"]] | None = Field(
        None, description="keep only frames where both eyes have one of these statuses"
    )


class DatasetConvertParams(BaseModel):
    """``gazenet.dataset_convert``: mirrors ``tao gazenet dataset_convert`` flags."""

    model_config = ConfigDict(extra="forbid")
    data_root_path: str = Field(description="-data_root_path: folder holding the sets")
    sets: list[str] | Literal["all"] = Field("all", description="-sets: set ids to convert")
    folder_suffix: str = Field(
        "pipeline", description="-folder-suffix: Ground_Truth_DataFactory_<suffix>"
    )
    norm_folder_name: str = Field("Norm_Data", description="-norm_folder_name")
    output_root: str = Field("data/03_primary/gazenet", description="root of the output tree")
    workers: int = Field(0, ge=0, le=256, description="parallel user workers; 0 = one per CPU core")
    worker_kind: Literal["processes", "threads"] = Field(
        "processes",
        description="workers of the geometry and normalize steps: forked processes "
        "(per-frame Python runs without the GIL; threads where fork is unavailable) or threads",
    )
    face_size: int = Field(224, ge=32, le=1024)
    eye_size: int = Field(120, ge=16, le=512)
    frame_scale_factor: float = Field(
        2.0, gt=0, le=8, description="TAO full-frame normalization scale"
    )
    normalization_distance_mm: float = Field(600.0, gt=0)
    write_norm_frame: bool = Field(True, description="also write the normalized full frame")
    png_codec: Literal["isal", "opencv"] = Field(
        "isal",
        description="isal: SUB filter + ISA-L deflate at level min(png_compression, 3), ~3x faster "
        "(other images go through OpenCV); opencv: cv2.imencode with the options below",
    )
    png_compression: int = Field(
        1, ge=0, le=9, description="deflate level of the written PNGs (0 = stored, ~4x larger)"
    )
    png_strategy: Literal["default", "filtered", "huffman_only", "rle", "fixed"] = Field(
        "huffman_only",
        description="zlib strategy (png_codec opencv); huffman_only is ~2x faster than default",
    )
    png_filter: Literal["none", "sub", "up", "avg", "paeth", "fast", "all"] = Field(
        "sub",
        description="PNG row filter (png_codec opencv); sub is the cheapest that still compresses",
    )
    kpi_set_marker: str = Field("kpi", description="a set id containing this is a KPI set")
    filters: DataFilter = Field(default_factory=DataFilter)

    @field_validator("sets", mode="before")
    @classmethod
    def _sets(cls, value):
        if isinstance(value, str) and value != "all":
            return [s for s in value.replace(",", " ").split() if s]
        return value

    def n_workers(self) -> int:
        """Resolved worker count."""
        return self.workers or max(1, os.cpu_count() or 1)

    def is_kpi_set(self, set_id: str) -> bool:
        """TAO puts every user of a KPI set in test."""
        return self.kpi_set_marker.lower() in set_id.lower()


PARAMS_MODELS = {"gazenet.dataset_convert": DatasetConvertParams}
