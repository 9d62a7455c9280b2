"""Parameters of ``gazenet_train`` / ``gazenet_evaluate`` / ``gazenet_inference``.

``gazenet.experiment`` is TAO's GazeNet experiment spec key for key (``__class_name__`` fields
included), so a TAO spec YAML pasted there, or named by ``gazenet.spec_file``, validates and
trains. Keys TAO documents but this project cannot honour (``network_inputs`` other than
``face_and_eyes_and_fgrid``, ``use_landmarks_input: true``, ``hooks``) are rejected with a message
saying why. A few extensions (marked "extension" below) have defaults that keep TAO's behaviour.

``gazenet.train``, ``gazenet.evaluate`` and ``gazenet.inference`` hold what is not in a TAO spec:
distribution strategy, output folders, evaluation mode and model format, inference input.

``load_experiment(experiment, spec)`` merges a spec file over the parameters and validates; errors
(``params_common``) name the full key path, the allowed values and, for unknown keys, the
allowed keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from gaze_pipelines.core.predict import MODEL_FORMATS
from gaze_pipelines.params_common import StrictModel, deep_merge, validate

PHASES = ("training", "validation", "testing", "kpi_testing")
LOSS_TYPES = ("l1", "rmse", "cosine", "l1_cosine_joint", "l2_cosine_joint", "logcosh")
METRICS = ("logcosh", "rmse", "l1", "loss", "angular_error", "d_xyz")
NETWORK_INPUTS = ("face_and_eyes_and_fgrid",)
NORMALIZATION_TYPES = ("zero-one", "[-1,1]", "mean-std", "none")


def _check_order(obj: Any, low: str, high: str) -> Any:
    """Raise when ``obj.<low>`` exceeds ``obj.<high>``; return ``obj``."""
    lo, hi = getattr(obj, low), getattr(obj, high)
    if lo > hi:
        raise ValueError(f"{low} ({lo}) > {high} ({hi})")
    return obj


class _Spec(StrictModel):
    """Strict base: unknown keys fail, ``__class_name__`` is accepted by alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """Plain dict with TAO's key names (``__class_name__``)."""
        return self.model_dump(by_alias=True, mode="json")


# --------------------------------------------------------------------------- dataloader


class ImageSize(_Spec):
    """``image_info.<input>``: channels, height, width."""

    channel: Literal[1, 3] = 1
    height: int = Field(224, ge=8, le=4096)
    width: int = Field(224, ge=8, le=4096)


class ImageInfo(_Spec):
    """``image_info``: sizes of the frame, face/eye crops and facegrid."""

    facegrid: ImageSize = Field(default_factory=lambda: ImageSize(channel=1, height=25, width=25))
    image_face: ImageSize = Field(default_factory=ImageSize)
    image_frame: ImageSize = Field(
        default_factory=lambda: ImageSize(channel=1, height=720, width=1280)
    )
    image_left: ImageSize = Field(default_factory=ImageSize)
    image_right: ImageSize = Field(default_factory=ImageSize)

    @model_validator(mode="after")
    def _eyes_match(self) -> ImageInfo:
        if self.image_left != self.image_right:
            raise ValueError("image_left and image_right must have the same channel/height/width")
        if self.facegrid.channel != 1:
            raise ValueError("facegrid.channel must be 1")
        return self


class DatasetInfo(_Spec):
    """``dataset_info``: where the training/validation/test TFRecords are.

    Files are ``<dir>/<set>/<ground truth folder>/<tfrecord folder>/<file name>`` for every
    combination of the four lists. ``root_path`` rebases the frame paths stored in the records
    (TAO writes absolute paths of the machine that converted the data): the part of a stored path
    before ``/<set id>/`` is replaced by ``root_path``. When null, paths are used as stored if they
    exist, else rebased onto the records' ``tfrecords_directory_path``.
    """

    ground_truth_folder_name: list[str] = Field(min_length=1)
    image_extension: Literal["png", "jpg", "jpeg", "bmp"] = "png"
    root_path: str | None = None
    test_file_name: str = "test.tfrecords"
    tfrecord_folder_name: list[str] = Field(min_length=1)
    tfrecords_directory_path: list[str] = Field(min_length=1)
    tfrecords_set_id: list[str] = Field(min_length=1)
    train_file_name: str = "train.tfrecords"
    validate_file_name: str = "validate.tfrecords"

    @field_validator(
        "ground_truth_folder_name",
        "tfrecord_folder_name",
        "tfrecords_directory_path",
        "tfrecords_set_id",
        mode="before",
    )
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


class KpisetInfo(_Spec):
    """``kpiset_info``: the KPI folds, read in ``kpi_testing`` mode."""

    ground_truth_folder_name_kpi: list[str] = Field(min_length=1)
    kpi_file_name: str = "test.tfrecords"
    kpi_root_path: str | None = None
    kpi_tfrecords_directory_path: list[str] = Field(min_length=1)
    tfrecord_folder_name_kpi: list[str] = Field(min_length=1)
    tfrecords_set_id_kpi: list[str] = Field(min_length=1)

    @field_validator(
        "ground_truth_folder_name_kpi",
        "kpi_tfrecords_directory_path",
        "tfrecord_folder_name_kpi",
        "tfrecords_set_id_kpi",
        mode="before",
    )
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


class FilterInfo(_Spec):
    """One ``filter_info`` entry: keep records whose features lie in ``[min, max]``."""

    desired_val_max: float
    desired_val_min: float
    feature_names: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> FilterInfo:
        return _check_order(self, "desired_val_min", "desired_val_max")


class BlurAugmentation(_Spec):
    """Gaussian blur with a kernel size drawn from ``kernel_sizes``."""

    blur_probability: float = Field(0.0, ge=0, le=1)
    kernel_sizes: list[int] = Field(default_factory=lambda: [1, 3, 5, 7, 9], min_length=1)

    @field_validator("kernel_sizes")
    @classmethod
    def _odd(cls, value: list[int]) -> list[int]:
        bad = [k for k in value if k < 1 or k % 2 == 0 or k > 63]
        if bad:
            raise ValueError(f"kernel sizes must be odd integers in [1, 63], got {bad}")
        return value


class GammaAugmentation(_Spec):
    """Random gamma ``x ** g`` on [0, 1] intensities."""

    gamma_max: float = Field(1.1, gt=0, le=10)
    gamma_min: float = Field(0.9, gt=0, le=10)
    gamma_probability: float = Field(0.0, ge=0, le=1)
    gamma_type: Literal["uniform", "normal"] = "uniform"

    @model_validator(mode="after")
    def _ordered(self) -> GammaAugmentation:
        return _check_order(self, "gamma_min", "gamma_max")


class ColorAugmentation(_Spec):
    """``modulus_color_augmentation``: contrast about a centre, hue rotation, saturation shift."""

    contrast_center: float = Field(127.5, ge=0, le=255)
    contrast_scale_max: float = Field(0.0, ge=0, le=1)
    hue_rotation_max: float = Field(0.0, ge=0, le=180, description="degrees")
    saturation_shift_max: float = Field(0.0, ge=0, le=1)


class SpatialAugmentation(_Spec):
    """``modulus_spatial_augmentation``: horizontal flip (mirrors labels, swaps eyes), zoom."""

    hflip_probability: float = Field(0.0, ge=0, le=1)
    zoom_max: float = Field(1.0, gt=0, le=4)
    zoom_min: float = Field(1.0, gt=0, le=4)

    @model_validator(mode="after")
    def _ordered(self) -> SpatialAugmentation:
        return _check_order(self, "zoom_min", "zoom_max")


class ShiftAugmentation(_Spec):
    """``random_shift_bbx_augmentation``: shift crop boxes by up to a fraction of their size."""

    shift_percent_max: float = Field(0.0, ge=0, le=1)
    shift_probability: float = Field(0.0, ge=0, le=1)


class AugmentationInfo(_Spec):
    """``augmentation_info``; ``enable_online_augmentation`` switches all of it."""

    blur_augmentation: BlurAugmentation = Field(default_factory=BlurAugmentation)
    enable_online_augmentation: bool = False
    gamma_augmentation: GammaAugmentation = Field(default_factory=GammaAugmentation)
    modulus_color_augmentation: ColorAugmentation = Field(default_factory=ColorAugmentation)
    modulus_spatial_augmentation: SpatialAugmentation = Field(default_factory=SpatialAugmentation)
    random_shift_bbx_augmentation: ShiftAugmentation = Field(default_factory=ShiftAugmentation)


class DataloaderSpec(_Spec):
    """``dataloader``: records, crops, labels and augmentation."""

    class_name: Literal["GazeNetDataloaderAugV2", "GazeNetDataloader"] = Field(
        "GazeNetDataloaderAugV2", alias="__class_name__"
    )
    augmentation_info: AugmentationInfo = Field(default_factory=AugmentationInfo)
    batch_size: int = Field(128, ge=1, le=65536)
    dataset_info: DatasetInfo
    eye_scale_factor: float = Field(1.8, gt=0, le=10)
    face_scale_factor: float = Field(1.3, gt=0, le=10)
    filter_phases: list[Literal["training", "validation", "testing", "kpi_testing"]] = Field(
        default_factory=list
    )
    filter_info: list[FilterInfo] = Field(default_factory=list)
    image_info: ImageInfo = Field(default_factory=ImageInfo)
    input_normalization_type: Literal["zero-one", "[-1,1]", "mean-std", "none"] = "zero-one"
    kpiset_info: KpisetInfo | None = None
    learn_delta: bool = False
    use_head_norm: bool = False
    num_outputs: Literal[2, 3, 5] = 5
    theta_phi_degrees: bool = False
    use_narrow_eye: bool = True
    add_test_to: Literal["training", "validation"] | None = None

    @field_validator("add_test_to", mode="before")
    @classmethod
    def _null_string(cls, value: Any) -> Any:
        return (
            None
            if isinstance(value, str) and value.strip().lower() in ("", "null", "none")
            else value
        )


# --------------------------------------------------------------------------- model, loss, optimizer


class ModelParameters(_Spec):
    """``model.model_parameters`` of ``GazeNetBaseModel``."""

    dropout_rate: float = Field(0.25, ge=0, lt=1)
    frozen_blocks: int = Field(0, ge=0, le=6)
    num_outputs: Literal[2, 3, 5] = 5
    pretrained_model_path: str | None = None
    regularizer_type: Literal["l1", "l2", "none"] = "l2"
    regularizer_weight: float = Field(0.002, ge=0, le=1)
    type: Literal["GazeNet_public"] = "GazeNet_public"
    use_batch_norm: bool = True
    width_multiplier: float = Field(
        1.0, gt=0, le=4, description="extension: scales every layer width (1.0 = TAO's network)"
    )

    @field_validator("regularizer_type", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return (
            "none"
            if value is None or (isinstance(value, str) and value.lower() == "none")
            else value
        )

    @model_validator(mode="after")
    def _pretrained(self) -> ModelParameters:
        if self.frozen_blocks > 0 and not self.pretrained_model_path:
            raise ValueError(
                f"frozen_blocks={self.frozen_blocks} needs pretrained_model_path "
                "(a .keras model saved by gazenet_train)"
            )
        return self


class ModelSpec(_Spec):
    """``model``."""

    class_name: Literal["GazeNetBaseModel"] = Field("GazeNetBaseModel", alias="__class_name__")
    model_parameters: ModelParameters = Field(default_factory=ModelParameters)
    visualization_parameters: None = None


class LossSpec(_Spec):
    """``loss``: TAO's ``GazeLoss`` with ``loss_type``."""

    class_name: Literal["GazeLoss"] = Field("GazeLoss", alias="__class_name__")
    loss_type: Literal["l1", "rmse", "cosine", "l1_cosine_joint", "l2_cosine_joint", "logcosh"] = (
        "logcosh"
    )


class SoftstartAnnealingSchedule(_Spec):
    """``SoftstartAnnealingLearningRateSchedule``; ``last_step`` is recomputed from the run."""

    class_name: Literal["SoftstartAnnealingLearningRateSchedule"] = Field(
        "SoftstartAnnealingLearningRateSchedule", alias="__class_name__"
    )
    annealing: float = Field(0.8, ge=0, le=1)
    base_learning_rate: float = Field(0.003, gt=0, le=10)
    last_step: int | None = Field(None, ge=1)
    min_learning_rate: float = Field(5e-7, gt=0, le=10)
    soft_start: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SoftstartAnnealingSchedule:
        if self.soft_start > self.annealing:
            raise ValueError(f"soft_start ({self.soft_start}) > annealing ({self.annealing})")
        if self.min_learning_rate > self.base_learning_rate:
            raise ValueError(
                f"min_learning_rate ({self.min_learning_rate}) > base_learning_rate "
                f"({self.base_learning_rate})"
            )
        return self


class ConstantSchedule(_Spec):
    """``ConstantLearningRateSchedule``."""

    class_name: Literal["ConstantLearningRateSchedule"] = Field(
        "ConstantLearningRateSchedule", alias="__class_name__"
    )
    learning_rate: float = Field(0.001, gt=0, le=10)


class ExponentialDecaySchedule(_Spec):
    """``ExponentialDecayLearningRateSchedule``."""

    class_name: Literal["ExponentialDecayLearningRateSchedule"] = Field(
        "ExponentialDecayLearningRateSchedule", alias="__class_name__"
    )
    learning_rate: float = Field(0.001, gt=0, le=10)
    decay_steps: int = Field(1000, ge=1)
    decay_rate: float = Field(0.9, gt=0, le=1)
    staircase: bool = False
    min_learning_rate: float = Field(0.0, ge=0)


Schedule = Annotated[
    SoftstartAnnealingSchedule | ConstantSchedule | ExponentialDecaySchedule,
    Field(discriminator="class_name"),
]


class AdamOptimizer(_Spec):
    """``AdamOptimizer``."""

    class_name: Literal["AdamOptimizer"] = Field("AdamOptimizer", alias="__class_name__")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    epsilon: float = Field(1e-8, gt=0, le=1)
    learning_rate_schedule: Schedule = Field(default_factory=SoftstartAnnealingSchedule)


class AdadeltaOptimizer(_Spec):
    """``AdadeltaOptimizer``."""

    class_name: Literal["AdadeltaOptimizer"] = Field("AdadeltaOptimizer", alias="__class_name__")
    rho: float = Field(0.95, gt=0, lt=1)
    epsilon: float = Field(1e-8, gt=0, le=1)
    learning_rate_schedule: Schedule = Field(default_factory=SoftstartAnnealingSchedule)


class GradientDescentOptimizer(_Spec):
    """``GradientDescentOptimizer``."""

    class_name: Literal["GradientDescentOptimizer"] = Field(
        "GradientDescentOptimizer", alias="__class_name__"
    )
    learning_rate_schedule: Schedule = Field(default_factory=SoftstartAnnealingSchedule)


Optimizer = Annotated[
    AdamOptimizer | AdadeltaOptimizer | GradientDescentOptimizer,
    Field(discriminator="class_name"),
]


class PathInfo(_Spec):
    """``post_evaluate.path_info``."""

    ground_truth_file_folder_name: list[str] = Field(default_factory=list)
    ground_truth_folder_name: list[str] = Field(default_factory=list)
    root_path: str | None = None
    set_directory_path: list[str] = Field(default_factory=list)


class PostEvaluate(_Spec):
    """``post_evaluate``: TAO's per-bucket KPI post-processing.

    When ``enable_post_evaluate`` is true the evaluator writes the buckets named in
    ``buckets_to_visualize`` that exist in the records (others are listed as unavailable),
    drops ``filter_users`` from the KPI, and writes the per-bucket CSVs when ``write_csv``.
    ``gaze_origin`` picks the eye origin of the 3D-derived gaze angle. The ground-truth text
    files named by ``path_info`` are not needed: the records carry the same labels.
    """

    results_folder: str = "KPI_TMP"
    buckets_to_visualize: str = "all clean hard easy"
    enable_post_evaluate: bool = False
    filter_users: str = ""
    gaze_origin: Literal["mid_eyes", "left_eye", "right_eye", "delta"] = "mid_eyes"
    ground_truth_file_extension: str | None = None
    kpi_bucket_file: str | None = None
    model_type: Literal["joint", "xyz", "theta_phi", "joint_xyz", "joint_tp"] = "joint"
    path_info: PathInfo = Field(default_factory=PathInfo)
    theta_phi_degrees: bool = False
    time_instance_info_path: str | None = None
    visualize_set_id: list[str] = Field(default_factory=list)
    write_csv: bool = False

    @model_validator(mode="after")
    def _unsupported(self) -> PostEvaluate:
        if self.kpi_bucket_file:
            raise ValueError(
                "kpi_bucket_file is not supported: buckets come from the records (eye status, "
                "user, head pose); set it to null"
            )
        if self.time_instance_info_path:
            raise ValueError(
                "time_instance_info_path is not supported (per-time-instance KPI needs TAO's "
                "internal metadata); set it to null"
            )
        return self


class GazeNetExperiment(_Spec):
    """TAO's GazeNet experiment spec (``GazeNetTrainer``)."""

    class_name: Literal["GazeNetTrainer"] = Field("GazeNetTrainer", alias="__class_name__")
    checkpoint_dir: str | None = None
    checkpoint_n_epoch: int = Field(1, ge=1)
    dataloader: DataloaderSpec
    enable_visualization: bool = False
    evaluation_metric: Literal["rmse", "l1", "logcosh", "angular_error", "d_xyz"] = "rmse"
    network_inputs: str = "face_and_eyes_and_fgrid"
    use_landmarks_input: bool = False
    hooks: None = None
    infrequent_summary_every_n_steps: int = Field(0, ge=0)
    log_every_n_secs: int = Field(10, ge=0)
    loss: LossSpec = Field(default_factory=LossSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    model_selection_metric: Literal["logcosh", "rmse", "l1", "loss", "angular_error", "d_xyz"] = (
        "logcosh"
    )
    num_epoch: int = Field(40, ge=1, le=100000)
    optimizer: Optimizer = Field(default_factory=AdamOptimizer)
    post_evaluate: PostEvaluate | None = None
    random_seed: int = Field(42, ge=0, le=2**31 - 1)
    visualize_bins_2d: int = Field(5, ge=1, le=1000)
    visualize_bins_3d: int = Field(100, ge=1, le=10000)
    visualize_num_images: int = Field(3, ge=0, le=100)

    @field_validator("network_inputs")
    @classmethod
    def _inputs(cls, value: str) -> str:
        if value not in NETWORK_INPUTS:
            raise ValueError(
                f"network_inputs '{value}' is not supported: only 'face_and_eyes_and_fgrid' "
                "(the GazeNet_public network with face, both eyes and the facegrid) is implemented"
            )
        return value

    @field_validator("use_landmarks_input")
    @classmethod
    def _landmarks(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "use_landmarks_input: true is not supported (the landmarks-input GazeNet variant "
                "is not public); set it to false"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GazeNetExperiment:
        if self.checkpoint_n_epoch > self.num_epoch:
            raise ValueError(
                f"checkpoint_n_epoch ({self.checkpoint_n_epoch}) must be in 1..num_epoch ({self.num_epoch})"
            )
        if self.model.model_parameters.num_outputs != self.dataloader.num_outputs:
            raise ValueError(
                f"model.model_parameters.num_outputs ({self.model.model_parameters.num_outputs}) "
                f"must equal dataloader.num_outputs ({self.dataloader.num_outputs})"
            )
        joint = ("l1_cosine_joint", "l2_cosine_joint")
        if self.loss.loss_type in joint and self.dataloader.num_outputs != 5:
            raise ValueError(
                f"loss_type {self.loss.loss_type} needs num_outputs 5 (x, y, z, theta, phi), "
                f"got {self.dataloader.num_outputs}"
            )
        return self

    @field_validator("hooks", mode="before")
    @classmethod
    def _hooks(cls, value: Any) -> Any:
        if value not in (None, [], {}):
            raise ValueError(
                "hooks are TAO's TF1 session hooks and are not supported; use Kedro hooks instead "
                "and set hooks: null"
            )
        return None


# --------------------------------------------------------------------------- project sections


class TrainParams(_Spec):
    """``gazenet.train``: what a TAO spec does not say."""

    distribution: Literal["default", "mirrored", "multi_worker"] = "default"
    checkpoint_root: str = Field(
        "data/06_models/gazenet/checkpoints",
        description="used when experiment.checkpoint_dir is null",
    )
    tensorboard_dir: str | None = "data/08_reporting/gazenet/tensorboard"
    resume: bool = True
    deterministic: bool = True
    keep_checkpoints: int = Field(3, ge=1, le=1000)
    shuffle_buffer: int = Field(0, ge=0, description="0 = the whole training split")
    parallel_calls: int = Field(0, ge=0, le=64, description="tf.data map parallelism; 0 = AUTOTUNE")
    steps_per_epoch: int | None = Field(
        None, ge=1, description="cap on steps per epoch; null = one pass"
    )
    cache_frames: bool = Field(
        True, description="decode each frame once and keep a window around the face in memory"
    )
    verbose: Literal[0, 1, 2] = 0


class EvaluateParams(_Spec):
    """``gazenet.evaluate``."""

    mode: Literal["testing", "kpi_testing"] = "testing"
    model_format: Literal[MODEL_FORMATS] = "keras"  # type: ignore[valid-type]
    batch_size: int = Field(64, ge=1, le=65536)
    top_n_users: int = Field(5, ge=1, le=10000)
    head_pose_edges_deg: list[float] = Field(
        default_factory=lambda: [0.0, 10.0, 20.0, 30.0, 45.0, 90.0]
    )
    screen_resolution: tuple[int, int] | None = Field(
        None, description="screen pixels (W, H) of the heat maps; null = from the labels' range"
    )
    heatmap_grid: tuple[int, int] = (18, 9)
    projection_distance_cm: float = Field(100.0, gt=0)

    @field_validator("head_pose_edges_deg")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if len(value) < 2 or any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"head_pose_edges_deg must be >= 2 increasing values, got {value}")
        return value


class InferenceParams(_Spec):
    """``gazenet.inference``: a TAO inference-set folder (frames + JSON + Config) or one image."""

    input_path: str = "data/01_raw/gazenet/inference-set"
    output_dir: str = "data/07_model_output/gazenet/inference"
    model_format: Literal[MODEL_FORMATS] = "keras"  # type: ignore[valid-type]
    batch_size: int = Field(32, ge=1, le=65536)
    arrow_length_px: float = Field(80.0, gt=0, le=10000)
    draw_boxes: bool = True
    max_frames: int | None = Field(None, ge=1, description="process at most this many frames")
    face_box: tuple[float, float, float, float] | None = Field(
        None, description="(x, y, w, h) face box for frames without labels (eyes estimated in it)"
    )


# --------------------------------------------------------------------------- helpers


def validate_section(raw: dict[str, Any] | None, model: type[_Spec], root: str) -> Any:
    """Validate one parameter section; raise ``ValueError`` with key paths on failure."""
    return validate(model, raw or {}, root)


def load_experiment(
    experiment: dict[str, Any] | None, spec: dict[str, Any] | None = None
) -> GazeNetExperiment:
    """Merge a TAO spec (``gazenet.spec_file`` contents) over ``gazenet.experiment``; validate."""
    merged = deep_merge(experiment or {}, spec or {})
    return validate_section(merged, GazeNetExperiment, "gazenet.experiment")


PARAMS_MODELS = {
    "gazenet.experiment": GazeNetExperiment,
    "gazenet.train": TrainParams,
    "gazenet.evaluate": EvaluateParams,
    "gazenet.inference": InferenceParams,
}
