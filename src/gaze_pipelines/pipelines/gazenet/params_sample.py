"""Parameters of ``gazenet_sample``: the embedded, rendered TAO-layout sample set."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SampleScreenParams(BaseModel):
    """The screen the subjects look at (its pose is drawn from the seed)."""

    model_config = ConfigDict(extra="forbid")
    size_mm: tuple[float, float] = Field((598.0, 336.0), description="physical (W, H), mm")
    resolution: tuple[int, int] = Field((1920, 1080), description="pixels (W, H)")
    size_file: Literal["TV_size", "board_size.txt"] = Field(
        "TV_size", description="which TAO Config file holds the size"
    )

    @model_validator(mode="after")
    def _positive(self) -> SampleScreenParams:
        if min(self.size_mm) <= 0 or min(self.resolution) <= 0:
            raise ValueError("gazenet.sample.screen: size_mm and resolution must be positive")
        return self


class SampleParams(BaseModel):
    """``gazenet.sample``: what ``kedro run --pipeline gazenet_sample`` renders."""

    model_config = ConfigDict(extra="forbid")
    seed: int = Field(2024, description="everything is deterministic by this seed")
    set_id: str = Field(
        "s001_sample",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="written to <gazenet.dataset_convert.data_root_path>/<set_id>",
    )
    n_users: int = Field(8, ge=1, le=1000)
    frames_per_user: int = Field(150, ge=1, le=100_000)
    user_id_format: str = Field(
        "p01-{index}", description="python format with {index} (0-based) or {number} (1-based)"
    )
    image_size: tuple[int, int] = Field((640, 480), description="frame (W, H), pixels")
    closed_eye_fraction: float = Field(0.08, ge=0.0, le=1.0)
    distance_mm: tuple[float, float] = Field((400.0, 900.0), description="head depth range")
    generic_face: bool = Field(False, description="render every user with the generic face shape")
    screen: SampleScreenParams = Field(default_factory=SampleScreenParams)
    workers: int = Field(
        0, ge=0, le=256, description="users rendered in parallel; 0 = one per core"
    )
    png_compression: int = Field(1, ge=0, le=9)

    @model_validator(mode="after")
    def _check(self) -> SampleParams:
        w, h = self.image_size
        if not (64 <= w <= 8192 and 64 <= h <= 8192):
            raise ValueError(
                f"gazenet.sample.image_size: 64..8192 pixels each, got {self.image_size}"
            )
        lo, hi = self.distance_mm
        if not 100.0 <= lo < hi:
            raise ValueError(
                f"gazenet.sample.distance_mm: need 100 <= min < max, got {self.distance_mm}"
            )
        try:
            ids = {self.user_id_format.format(index=i, number=i + 1) for i in range(self.n_users)}
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"gazenet.sample.user_id_format: use {{index}} or {{number}}, got "
                f"'{self.user_id_format}' ({exc})"
            ) from exc
        if len(ids) != self.n_users:
            raise ValueError(
                f"gazenet.sample.user_id_format '{self.user_id_format}' gives duplicate user ids"
            )
        return self


PARAMS_MODELS = {"gazenet.sample": SampleParams}
