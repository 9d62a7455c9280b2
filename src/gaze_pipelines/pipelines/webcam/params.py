"""Parameters of the webcam screen-gaze family (``webcam.*``), validated with pydantic.

Every model is ``extra="forbid"``; :func:`validate_params` raises a ``ValueError`` that names the
dotted key path (``webcam.models.full.face.n_convs``), the message and the allowed values.
``PARAMS_MODELS`` maps the top-level key to its model, for start-up validation.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from gaze_pipelines.core.tune import SweepParams
from gaze_pipelines.params_common import StrictModel, validate

VARIANTS = ("face", "eyes", "full")
IMAGE_KINDS = ("face", "face_aligned", "l_eye", "r_eye", "head_pos")
SPLITS = ("train", "val", "test")


_Strict = StrictModel


# ------------------------------------------------------------------------------------ screen


class ScreenParams(_Strict):
    """The screen the targets are shown on (pixels; physical size for the renderer)."""

    width: int = Field(1920, ge=64, le=16384)
    height: int = Field(1080, ge=64, le=16384)
    width_mm: float = Field(598.0, gt=0)
    height_mm: float = Field(336.0, gt=0)


# ------------------------------------------------------------------------------------ sample


class SampleParams(_Strict):
    """``webcam.sample``: the rendered collection session (one user, one webcam)."""

    seed: int = 11
    n_frames: int = Field(3000, ge=10, le=200000, description="saved frames of the session")
    clip_frames: int = Field(90, ge=0, le=10000, description="frames of the inference demo clip")
    camera_width: int = Field(640, ge=160, le=4096)
    camera_height: int = Field(480, ge=120, le=4096)
    record_fps: float = Field(30.0, gt=0, description="frame rate of the recording loop")
    skip_frames: int = Field(3, ge=1, description="save every n-th recorded frame (reference: 3)")
    target_speed: float = Field(280.0, gt=0, description="target speed in screen px/s")
    focus_edges: bool = Field(True, description="draw target destinations from Beta(a, b) (edges)")
    beta_a: float = Field(0.4, gt=0)
    beta_b: float = Field(0.4, gt=0)
    distance_mm: tuple[float, float] = (500.0, 700.0)
    head_follow: float = Field(
        0.35, ge=0, le=1, description="how much the head turns to the target"
    )
    head_sway_deg: float = Field(4.0, ge=0, le=30, description="slow random head rotation, sd")
    head_drift_mm: float = Field(25.0, ge=0, le=200, description="slow random head translation, sd")
    blink_prob: float = Field(0.02, ge=0, le=1)
    jpeg_quality: int = Field(95, ge=50, le=100)
    write_landmarks: bool = Field(
        False, description="also write the renderer's exact landmarks.csv (else dlib finds them)"
    )

    @field_validator("distance_mm")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 150 <= v[0] <= v[1] <= 3000:
            raise ValueError("distance_mm must be [near, far] with 150 <= near <= far <= 3000")
        return v


# ---------------------------------------------------------------------------------- features


class FeatureParams(_Strict):
    """``webcam.features``: the reference's feature extraction from a frame and its landmarks."""

    image_size: int = Field(64, ge=16, le=512, description="side of every crop (reference: 64)")
    eye_position: tuple[float, float] = Field(
        (0.35, 0.5), description="where the image-left eye centre lands in face crops (x, y)"
    )
    landmarks: Literal["auto", "file", "dlib"] = Field(
        "auto", description="auto: the session's landmarks.csv if present, else dlib"
    )
    detector: Literal["hog", "cnn"] = Field("hog", description="dlib face detector")
    upsample: int = Field(0, ge=0, le=3, description="dlib detector upsampling passes")
    multiple_faces: Literal["reject", "largest"] = "reject"
    min_eye_width_px: float = Field(4.0, gt=0, description="smaller eyes are rejected")
    jpeg_quality: int = Field(95, ge=50, le=100, description="quality of the written crops")

    @field_validator("eye_position")
    @classmethod
    def _eye(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0.05 <= v[0] < 0.5 and 0.05 <= v[1] <= 0.95):
            raise ValueError(
                "eye_position must be (x, y) with 0.05 <= x < 0.5 and 0.05 <= y <= 0.95"
            )
        return v


# -------------------------------------------------------------------------------------- data


class SplitParams(_Strict):
    """Seeded random split (reference: 80/10/10, seed 87)."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    seed: int = 87

    @model_validator(mode="after")
    def _room_for_test(self) -> SplitParams:
        if self.train + self.val >= 1:
            raise ValueError("train + val must be < 1 (the rest is the test split)")
        return self


class DataParams(_Strict):
    """``webcam.data``: ingestion of the positions.csv layout."""

    split: SplitParams = Field(default_factory=SplitParams)
    map_scale: int = Field(10, ge=1, le=200, description="screen px per density-map cell")


# ------------------------------------------------------------------------------------ models


class BranchParams(_Strict):
    """One convolutional image branch: a plain conv, then ``n_convs`` conv-ReLU-BN-pool blocks."""

    filter_size: int = Field(5, ge=1, le=15)
    n_filters: int = Field(16, ge=1, le=512)
    filter_growth: int = Field(2, ge=1, le=4)
    n_convs: int = Field(2, ge=0, le=6)

    def feature_size(self, image_size: int) -> int:
        """Spatial size of the branch output for a square input of ``image_size``."""
        size = image_size - (self.filter_size - 1)
        for _ in range(self.n_convs):
            size = (size - (self.filter_size - 1)) // 2
        return size


class ModelParams(_Strict):
    """A variant's network: its branches and the dense head (reference: dropout 0.2)."""

    face: BranchParams = Field(default_factory=BranchParams)
    eye: BranchParams = Field(default_factory=BranchParams)
    head_pos: BranchParams = Field(
        default_factory=lambda: BranchParams(filter_size=3, n_filters=4, n_convs=1)
    )
    dense_nodes: int = Field(128, ge=2, le=8192)
    dropout: float = Field(0.2, ge=0, lt=1)
    face_image: Literal["face", "face_aligned"] = Field(
        "face_aligned", description="face crop of the face and full variants"
    )
    bn_momentum: float = Field(
        0.9, ge=0, lt=1, description="batch-norm running-statistics momentum (PyTorch's: 0.9)"
    )
    share_eye_weights: bool = Field(
        False, description="one eye branch for both eye crops (eyes and full variants)"
    )
    head_angle_scale: float = Field(
        0.1, gt=0, le=10, description="head_angle (degrees) is multiplied by this in the model"
    )
    learning_rate: float | None = Field(
        None, gt=0, le=1, description="this variant's rate (None: train.learning_rate)"
    )


# ------------------------------------------------------------------------------------- train


class AugmentParams(_Strict):
    """Colour jitter of the face and eye crops (reference: ColorJitter(0.3, 0.3, 0.3, 0.1))."""

    enabled: bool = True
    brightness: float = Field(0.3, ge=0, lt=1)
    contrast: float = Field(0.3, ge=0, lt=1)
    saturation: float = Field(0.3, ge=0, lt=1)
    hue: float = Field(0.1, ge=0, le=0.5)
    per_frame: bool = Field(
        False, description="one jitter draw for all crops of a sample (else one per crop)"
    )


class ScheduleParams(_Strict):
    """Learning-rate schedule: ``constant``, ``cosine`` (per step, linear warm-up) or ``plateau``.

    ``cosine`` decays from ``learning_rate`` to ``min_lr_ratio x learning_rate`` over the
    epochs after ``warmup_epochs``; ``plateau`` multiplies the rate by ``factor`` after
    ``patience`` epochs without a better validation loss (not below the same floor).
    """

    type: Literal["constant", "cosine", "plateau"] = "constant"
    warmup_epochs: int = Field(0, ge=0, le=1000, description="cosine: linear warm-up epochs")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="floor, as a fraction of the rate")
    factor: float = Field(0.5, gt=0, lt=1, description="plateau: multiplier of the rate")
    patience: int = Field(2, ge=0, le=1000, description="plateau: epochs without improvement")


class TrainParams(_Strict):
    """``webcam.train``: which variants to train and how."""

    variants: list[Literal[VARIANTS]] = Field(default_factory=lambda: list(VARIANTS), min_length=1)
    epochs: int = Field(20, ge=1, le=10000)
    batch_size: int = Field(32, ge=1, le=4096)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    weight_decay: float = Field(
        0.0, ge=0, le=1, description="decoupled weight decay (adamw; others: the optimizer's)"
    )
    schedule: ScheduleParams = Field(default_factory=ScheduleParams)
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many epochs without a better val loss (None: off)"
    )
    seed: int = 87
    deterministic: bool = True
    augment: AugmentParams = Field(default_factory=AugmentParams)
    log_every_n_secs: float = Field(60.0, gt=0)

    @field_validator("variants")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"variants must be unique, allowed {list(VARIANTS)}")
        return v


# ---------------------------------------------------------------------------------- evaluate


class EvaluateParams(_Strict):
    """``webcam.evaluate``: which split is scored and how the maps are drawn."""

    split: Literal["train", "val", "test"] = "test"
    error_map_split: Literal["train", "val", "test", "all"] = Field(
        "test", description="samples interpolated onto the screen grid"
    )
    batch_size: int = Field(256, ge=1)
    histogram_bins: int = Field(20, ge=2, le=500)


# --------------------------------------------------------------------------------- inference


class InferenceParams(_Strict):
    """``webcam.inference``: predict on a frames folder or a video, smooth and draw."""

    source: str = Field("data/01_raw/webcam/clip", description="frames folder or video file")
    output: str = Field(
        "data/07_model_output/webcam_inference", description="PNG folder, or a .mp4/.avi video"
    )
    variant: Literal[VARIANTS] = "full"
    window: int = Field(5, ge=1, le=100, description="frames of the linearly weighted average")
    radius_window_factor: int = Field(2, ge=1, le=10, description="error window = factor x window")
    radius_scale: float = Field(0.75, gt=0, le=10, description="circle radius = scale x map error")
    min_radius_px: float = Field(5.0, ge=0)
    canvas_scale: float = Field(0.5, gt=0, le=2, description="drawn screen size / screen size")
    show_webcam: bool = Field(True, description="draw face_aligned, head_pos and eyes as an inset")
    fps: float = Field(12.0, gt=0, description="frame rate of a written video")


# -------------------------------------------------------------------------------------- tune


class TuneParams(SweepParams):
    """``webcam.tune``: a Ray Tune ASHA sweep over dotted ``webcam`` keys (``core.tune``)."""

    variant: Literal[VARIANTS] = "full"
    storage_path: str | None = Field(
        "data/06_models/webcam_tune", description="Ray's experiment folder (None: temporary)"
    )
    max_train_samples: int | None = Field(None, ge=1, description="subsample the training split")


# ------------------------------------------------------------------------------------- root


class WebcamParams(_Strict):
    """All ``webcam.*`` parameters."""

    screen: ScreenParams = Field(default_factory=ScreenParams)
    session_path: str = "data/01_raw/webcam/session"
    layout_path: str = "data/01_raw/webcam/data"
    sample: SampleParams = Field(default_factory=SampleParams)
    features: FeatureParams = Field(default_factory=FeatureParams)
    data: DataParams = Field(default_factory=DataParams)
    models: dict[Literal[VARIANTS], ModelParams] = Field(
        default_factory=lambda: {v: ModelParams() for v in VARIANTS}
    )
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    inference: InferenceParams = Field(default_factory=InferenceParams)
    tune: TuneParams = Field(default_factory=TuneParams)
    deploy_variant: Literal[VARIANTS] = Field(
        "full", description="the variant webcam_export exports"
    )
    export: dict[str, Any] = Field(
        default_factory=dict, description="export core parameters (core.export.ExportParams)"
    )

    @model_validator(mode="after")
    def _architectures_fit(self) -> WebcamParams:
        size = self.features.image_size
        for variant, model in self.models.items():
            for name in ("face", "eye", "head_pos"):
                branch = getattr(model, name)
                if branch.feature_size(size) < 1:
                    raise ValueError(
                        f"models.{variant}.{name}: filter_size {branch.filter_size} with n_convs "
                        f"{branch.n_convs} shrinks the {size}x{size} input below one pixel; "
                        f"allowed n_convs <= {max_convs(branch.filter_size, size)}"
                    )
        for variant in self.train.variants:
            if variant not in self.models:
                raise ValueError(f"train.variants: '{variant}' has no models.{variant} block")
        return self


def max_convs(filter_size: int, image_size: int) -> int:
    """Largest ``n_convs`` that keeps a branch output at least one pixel wide."""
    n = 0
    size = image_size - (filter_size - 1)
    while (size - (filter_size - 1)) // 2 >= 1:
        size = (size - (filter_size - 1)) // 2
        n += 1
    return n


def validate_params(raw: Any) -> WebcamParams:
    """Validate the whole ``webcam`` tree (key paths start with ``webcam``)."""
    return validate(WebcamParams, raw, "webcam")


PARAMS_MODELS: dict[str, type[BaseModel]] = {"webcam": WebcamParams}
