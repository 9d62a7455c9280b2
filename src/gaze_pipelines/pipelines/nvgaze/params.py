"""Parameters of the NvGaze family (``nvgaze.*`` in ``conf/base/parameters_nvgaze.yml``).

The training section keeps the names of NvGaze's ``config.py`` (``input_resolution``,
``strides``, ``kernel_sizes``, ``output_channel_counts``, ``fc_node_counts``, ``dropout``,
``num_epochs``, ``rampup_length``, ``rampdown_length``, ``batch_size``, ``learning_rate``,
``adam_beta1`` ...), so the guide's ``-v strides 2 2 2 2 2 2`` becomes
``kedro run --params "nvgaze.train.strides=[2,2,2,2,2,2]"`` (docs/nvgaze.md has the mapping).

Every model is pydantic with ``extra="forbid"`` (``params_common.StrictModel``);
``validate(model, raw, key_path)`` raises a ``ValueError`` naming the dotted key path, what is
wrong and the allowed values. ``PARAMS_MODELS`` registers the whole ``nvgaze`` tree with the
start-up validation hook, so a bad value anywhere fails before any node runs.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, field_validator, model_validator

from gaze_pipelines.core.export import ExportParams
from gaze_pipelines.params_common import StrictModel
from gaze_pipelines.pipelines.nvgaze.resolution import check_resolution

# label columns a network can regress, by group
PUPIL_CENTER = ("float_pupil_x", "float_pupil_y")
GAZE_ANGLES = ("float_gaze_x_degree", "float_gaze_y_degree")
OUTPUT_LABELS = (*PUPIL_CENTER, *GAZE_ANGLES)


def _is_sequence_field(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin in (Union, UnionType):
        return any(_is_sequence_field(a) for a in get_args(annotation) if a is not type(None))
    return False


class CliModel(StrictModel):
    """Accepts NvGaze's space-separated ``-v key v1 v2 ...`` values for list fields.

    ``kedro run --params`` splits on commas, so ``--params "nvgaze.train.strides=2 2 2 2 2 2"``
    (a string) is read as the list ``[2, 2, 2, 2, 2, 2]``; ``null`` / ``none`` give None.
    """

    @model_validator(mode="before")
    @classmethod
    def _split_strings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            value = out.get(name)
            if isinstance(value, str) and _is_sequence_field(field.annotation):
                text = value.strip().strip("[]()").replace(",", " ")
                if text.lower() in ("null", "none", "~"):
                    out[name] = None
                else:
                    out[name] = text.split()
        return out


# ------------------------------------------------------------------------------------ sample


class SampleParams(CliModel):
    """``nvgaze.sample``: the near-eye renderer writing NvGaze raw footage folders."""

    seed: int = 5
    subjects: int = Field(2, ge=1, le=100, description="one footage folder per subject")
    frames_per_subject: int = Field(1000, ge=1, le=1_000_000)
    image_size: tuple[int, int] = Field((192, 192), description="W, H in pixels")
    focal_px: float = Field(157.5, gt=0)
    eye_distance_mm: float = Field(38.0, gt=15, le=200)
    gaze_range_deg: tuple[float, float] = Field((30.0, 20.0), description="+- x, +- y")
    pupil_diameter_mm: tuple[float, float] = (2.0, 7.0)
    slippage_sigma_mm: tuple[float, float, float] = (1.2, 1.2, 1.5)
    blink_probability: float = Field(0.06, ge=0, le=1)
    glint_count: int = Field(6, ge=0, le=16)
    noise_sigma: tuple[float, float] = (1.5, 6.0)
    blur_probability: float = Field(0.3, ge=0, le=1)
    supersample: int = Field(2, ge=1, le=4)
    include_ellipse_labels: bool = Field(
        False,
        description="write the analytic ellipse labels into the CSV; false leaves them to be "
        "fitted from the region masks by nvgaze_data, as for NvGaze's own synthetic footage",
    )

    @field_validator("image_size")
    @classmethod
    def _size(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 16:
            raise ValueError("image_size needs W, H >= 16")
        return v


# -------------------------------------------------------------------------------------- data


class DataParams(CliModel):
    """``nvgaze.data``: raw footage -> one H5 file per footage (``convertRawToH5``)."""

    output_resolution: tuple[int, int] = Field((127, 127), description="W, H of the H5 images")
    crop_fraction: float = Field(
        1.0, gt=0.1, le=1.0, description="centre crop before resizing (NvGaze used 51/60)"
    )
    max_aspect_change: float = Field(
        0.02, ge=0, description="allowed relative change of aspect ratio from crop to output"
    )
    convert_to_grayscale: bool = True
    fit_labels: Literal["missing", "always", "never"] = Field(
        "missing",
        description="fit pupil/iris/eyeball ellipses from the region masks where the CSV lacks "
        "them (missing), for every sample (always) or never",
    )
    mask_margin: int = Field(10, ge=0, le=127, description="colour tolerance of the region masks")
    region_maps: bool = Field(False, description="also store integer region maps in the H5")
    reject_blink_above: float | None = Field(
        0.6, ge=0, le=1, description="flag samples as rejected when float_blink exceeds this"
    )
    reject_pupil_outside: bool = Field(True, description="flag samples whose pupil is off-image")
    log_every: int = Field(100, ge=1, description="log 'image i / N' every this many images")


class MergeParams(CliModel):
    """``nvgaze.merge``: several H5 files -> train / test H5 (``mergeH5Files``)."""

    ratios: dict[str, float] = Field(
        default_factory=dict, description="sampling ratio per source file name (0-1)"
    )
    default_ratio: float = Field(1.0, ge=0, le=1)
    skip_rejected: bool | dict[str, bool] = True
    keep_only_accepted: bool | dict[str, bool] = False
    required_labels: list[str] = Field(
        default_factory=lambda: [
            "float_pupil_x",
            "float_pupil_y",
            "float_gaze_x_degree",
            "float_gaze_y_degree",
        ],
        min_length=1,
    )
    test_ratio: float = Field(0.2, ge=0, lt=1)
    test_sources: list[str] = Field(
        default_factory=list, description="sources held out whole as test (cross-subject test)"
    )
    output_resolution: tuple[int, int] | None = Field(
        None, description="W, H; null keeps the sources' (which must then agree)"
    )
    shuffle: bool = True
    seed: int = 1

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: r for k, r in v.items() if not 0 <= r <= 1}
        if bad:
            raise ValueError(f"ratios must be within [0, 1], got {bad}")
        return v


class ReflectionParams(CliModel):
    """``nvgaze.reflections``: the reflection set (``create_reflection_dataset``)."""

    source_dir: str | None = Field(
        None, description="folder of images; null = the sample images scikit-image installs"
    )
    max_images: int = Field(500, ge=1)
    min_size: tuple[int, int] = Field((128, 128), description="W, H; smaller images are skipped")
    shuffle: bool = True
    fallback_count: int = Field(16, ge=1, description="rendered textures when no image loads")
    fallback_size: tuple[int, int] = (320, 320)
    seed: int = 0


# ------------------------------------------------------------------------------------- train


class AffineAug(CliModel):
    """Rotation about the pupil and shift (labels transformed with the image)."""

    probability: float = Field(1.0, ge=0, le=1)
    max_angle_deg: float = Field(45.0, ge=0, le=180)
    max_translation: float = Field(0.25, ge=0, le=1, description="fraction of the input size")
    max_tries: int = Field(10, ge=1, description="re-draws to keep the pupil in the valid range")


class NoiseAug(CliModel):
    """Per-pixel uniform intensity noise of +- ``max_noise`` grey levels."""

    probability: float = Field(0.5, ge=0, le=1)
    max_noise: float = Field(10.0, ge=0, le=255)


class OffsetAug(CliModel):
    """Global intensity offset of +- ``max_offset`` grey levels (then min-max normalised)."""

    probability: float = Field(0.5, ge=0, le=1)
    max_offset: float = Field(40.0, ge=0, le=255)


class BlurAug(CliModel):
    """Gaussian blur, sigma 0.5 + U(0.1, max_sigma), 7x7 kernel."""

    probability: float = Field(0.5, ge=0, le=1)
    max_sigma: float = Field(1.0, gt=0.1, le=10)


class DownscaleAug(CliModel):
    """Down- then up-scaling by a factor in [min_scale, 1] (bicubic)."""

    probability: float = Field(0.5, ge=0, le=1)
    min_scale: float = Field(0.25, gt=0, le=1)


class ReflectionAug(CliModel):
    """Screen-blend of a random crop of a reflection-set image."""

    probability: float = Field(0.25, ge=0, le=1)
    opacity: tuple[float, float] = (0.1, 0.2)

    @field_validator("opacity")
    @classmethod
    def _opacity(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 1:
            raise ValueError("opacity needs 0 <= min <= max <= 1")
        return v


class RemapAug(CliModel):
    """Piecewise-linear intensity remap: black, mid grey and white points each perturbed."""

    probability: float = Field(1.0, ge=0, le=1)
    lower: float = Field(0.1, ge=0, le=0.5)
    center: float = Field(0.15, ge=0, le=0.5)
    upper: float = Field(0.1, ge=0, le=0.5)


class AugmentationParams(CliModel):
    """``nvgaze.train.augmentation``: NvGaze's training augmentations, each with a probability."""

    enabled: bool = True
    affine: AffineAug = Field(default_factory=AffineAug)
    intensity_noise: NoiseAug = Field(default_factory=NoiseAug)
    global_offset: OffsetAug = Field(default_factory=OffsetAug)
    blur: BlurAug = Field(default_factory=BlurAug)
    downscale: DownscaleAug = Field(default_factory=DownscaleAug)
    reflection: ReflectionAug = Field(default_factory=ReflectionAug)
    intensity_remap: RemapAug = Field(default_factory=RemapAug)


class TrainParams(CliModel):
    """``nvgaze.train``: network, optimizer, schedule, augmentation and run folder."""

    output_description: list[str] = Field(
        default_factory=lambda: list(OUTPUT_LABELS),
        min_length=1,
        description=f"label columns to regress, from {list(OUTPUT_LABELS)}",
    )
    input_resolution: tuple[int, int] = Field((127, 127), description="W, H")
    strides: list[int] = Field(default_factory=lambda: [2, 2, 2, 2, 2, 2], min_length=1)
    kernel_sizes: list[int] = Field(default_factory=lambda: [3, 3, 3, 3, 3, 3], min_length=1)
    output_channel_counts: list[int] = Field(
        default_factory=lambda: [32, 48, 72, 104, 160, 248], min_length=1
    )
    fc_node_counts: list[int] | None = Field(
        None,
        description="fully connected layer sizes ending with the output count; null = [outputs]",
    )
    dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="spatial dropout after each convolution (NvGaze used 0.1; before instance "
        "norm it shifts eval-mode outputs, see docs/nvgaze.md)",
    )
    input_norm: bool = Field(
        True,
        description="instance-normalise the input image (per image and channel: zero mean, unit "
        "variance) before conv1 instead of NvGaze's fixed 2 x / 255 - 1 scaling: brightness and "
        "contrast invariance for one small float op (see docs/nvgaze.md)",
    )
    instance_norm_layers: int = Field(
        0,
        ge=0,
        description="instance norm after the first N convs (NvGaze's layout: 4; each costs "
        "~0.03 ms of INT8 CPU latency and INT8 accuracy, see docs/nvgaze.md)",
    )
    batch_norm_layers: int | None = Field(
        None,
        ge=0,
        description="batch norm between conv and ReLU on the N convs after the instance-norm "
        "ones (onnxruntime folds it into the convolution: free at inference); null = all of "
        "them; NvGaze's layout: 0",
    )
    num_epochs: int = Field(60, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    rampup_length: int = Field(0, ge=0, description="epochs of exp(-5(1-t)^2) ramp-up")
    rampdown_length: int = Field(20, ge=0, description="epochs of exp(-(0.5 t)^2/len) ramp-down")
    adam_beta1: float = Field(0.9, gt=0, lt=1)
    adam_beta2: float = Field(0.999, gt=0, lt=1)
    adam_epsilon: float = Field(1e-8, gt=0)
    checkpoint_frequency: int = Field(10, ge=1, description="epochs between latest-weight dumps")
    valid_pupil_range: tuple[float, float] = Field(
        (0.1, 0.9), description="samples whose pupil lies outside this fraction of W/H are excluded"
    )
    used_data_percentage: float = Field(100.0, gt=0, le=100)
    seed: int = 42
    deterministic: bool = False
    distribution: Literal["default", "mirrored", "multi_worker"] = "default"
    run_dir: str = Field("data/06_models/nvgaze/runs", description="parent folder of run folders")
    run_name: str | None = Field(None, description="null: from the overridden parameters")
    resume: bool = True
    augmentation: AugmentationParams = Field(default_factory=AugmentationParams)

    @field_validator("output_description")
    @classmethod
    def _outputs(cls, v: list[str]) -> list[str]:
        unknown = [o for o in v if o not in OUTPUT_LABELS]
        if unknown:
            raise ValueError(f"unknown outputs {unknown}; allowed {list(OUTPUT_LABELS)}")
        if len(set(v)) != len(v):
            raise ValueError("output_description lists a label twice")
        return v

    @model_validator(mode="after")
    def _network(self) -> TrainParams:
        n = len(self.strides)
        if len(self.kernel_sizes) != n or len(self.output_channel_counts) != n:
            raise ValueError(
                f"strides ({n}), kernel_sizes ({len(self.kernel_sizes)}) and "
                f"output_channel_counts ({len(self.output_channel_counts)}) need the same length"
            )
        if (
            min(self.strides) < 1
            or min(self.kernel_sizes) < 1
            or min(self.output_channel_counts) < 1
        ):
            raise ValueError("strides, kernel_sizes and output_channel_counts must be >= 1")
        fc = self.fc_node_counts
        if fc is not None and (not fc or fc[-1] != len(self.output_description)):
            raise ValueError(
                f"fc_node_counts must end with the number of outputs "
                f"{len(self.output_description)} ({self.output_description}), "
                f"got {self.fc_node_counts}"
            )
        if self.instance_norm_layers + (self.batch_norm_layers or 0) > n:
            raise ValueError(
                f"instance_norm_layers ({self.instance_norm_layers}) + batch_norm_layers "
                f"({self.batch_norm_layers}) exceed the {n} convolutions"
            )
        check_resolution(self.input_resolution, self.strides, self.kernel_sizes)
        lo, hi = self.valid_pupil_range
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"valid_pupil_range needs 0 <= low < high <= 1, got {[lo, hi]}")
        return self

    @property
    def batch_norm_count(self) -> int:
        """Convolutions with a batch norm (``batch_norm_layers``; null: all after the instance norms)."""
        if self.batch_norm_layers is not None:
            return self.batch_norm_layers
        return max(0, len(self.strides) - self.instance_norm_layers)

    @property
    def fc_layers(self) -> list[int]:
        """Fully connected layer sizes (the last is the output count)."""
        return list(self.fc_node_counts or [len(self.output_description)])


class EvaluateParams(CliModel):
    """``nvgaze.evaluate``: KPI computation and plots."""

    batch_size: int = Field(256, ge=1)
    gaze_bin_deg: float = Field(5.0, gt=0, description="bin width of the error-vs-angle plot")


def default_export_params() -> ExportParams:
    """Export defaults of the family: INT8 on convolutions and the head, percentile ranges.

    Quantizing the instance-norm arithmetic too only adds Q/DQ pairs (slower on CPU, no gain);
    ReLU is quantized so the U8S8 CPU model folds it into ``QLinearConv``; entropy calibration
    clipped the regression outputs (pupil RMS 1.73 -> 2.03 px on the sample, percentile 1.71 px).
    conv1 (one grey input channel) stays FP32: its QLinearConv plus the input QuantizeLinear took
    longer than the FP32 convolution (batch-1 latency 0.49 -> 0.35 ms min on a loaded machine).
    """
    return ExportParams.model_validate(
        {
            "int8": {
                "op_types_to_quantize": ["Conv", "MatMul", "Gemm", "Relu"],
                "calibration_method": "percentile",
                "keep_input_layers_float": True,
            },
            "benchmark": {"repeats": 200},
        }
    )


class NvGazeParams(CliModel):
    """The whole ``nvgaze`` parameter tree."""

    raw_dir: str = "data/01_raw/nvgaze"
    sample: SampleParams = Field(default_factory=SampleParams)
    data: DataParams = Field(default_factory=DataParams)
    merge: MergeParams = Field(default_factory=MergeParams)
    reflections: ReflectionParams = Field(default_factory=ReflectionParams)
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    export: ExportParams = Field(default_factory=lambda: default_export_params())


def overridden(
    params: BaseModel, defaults: BaseModel | None = None, prefix: str = ""
) -> dict[str, Any]:
    """``{dotted key: value}`` of the fields of ``params`` that differ from the defaults."""
    defaults = defaults if defaults is not None else type(params)()
    out: dict[str, Any] = {}
    for name in type(params).model_fields:
        value, default = getattr(params, name), getattr(defaults, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel) and isinstance(default, BaseModel):
            out.update(overridden(value, default, f"{key}."))
        elif value != default:
            out[key] = value
    return out


PARAMS_MODELS: dict[str, type[BaseModel]] = {"nvgaze": NvGazeParams}
