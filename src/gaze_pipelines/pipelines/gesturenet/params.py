"""Parameters of the GestureNet family, key for key as TAO GestureNet's JSON specs.

- ``gesturenet.sample``: the embedded sample renderer.
- ``gesturenet.dataset_config`` / ``gesturenet.dataset_experiment_config``: TAO's two
  ``dataset_convert`` specs. A TAO user may instead point ``gesturenet.dataset_config_file`` /
  ``gesturenet.dataset_experiment_config_file`` at the JSON files they already have; a file is
  then the whole spec (the parameter block is not merged into it), except ``mount_dir_path``,
  which is always the parameter (the catalog's data root; TAO's value is a container path).
- ``gesturenet.train``: TAO's training spec (``random_seed``, ``model_config``,
  ``dataset_config``, ``train_config`` with ``stage_order`` and one block per stage).
- ``gesturenet.evaluate``, ``gesturenet.inference``, ``gesturenet.export``.

Every model is a ``params_common.StrictModel`` (``extra="forbid"``); ``params_common.validate(model,
raw, key_path)`` raises a ``ValueError`` naming the dotted key path, the message and the allowed
values.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gaze_pipelines.core.export import ExportParams
from gaze_pipelines.params_common import StrictModel, validate  # noqa: F401 - re-exported for the nodes
from gaze_pipelines.synthetic.gesturenet import GESTURES

RESNET_DEPTHS = (6, 10, 12, 18, 26, 34, 50, 101, 152)
STAGES = ("top_training", "finetuning")
SPLITS = ("train_set", "validation_set", "kpi_set")


_Strict = StrictModel


# ----------------------------------------------------------------------------------- sample


class SampleParams(_Strict):
    """``gesturenet.sample``: what the articulated-hand renderer writes."""

    seed: int = Field(
        7, description="base seed; every frame is deterministic in (seed, user, session, frame)"
    )
    org_dataset: str = Field("data", min_length=1, description="set name (TAO org_dataset)")
    users: list[str] = Field(
        default_factory=lambda: [f"uid_{i}" for i in range(1, 9)],
        min_length=1,
        description="user ids (folders under the set)",
    )
    sessions_per_user: int = Field(2, ge=1, le=50)
    frames_per_gesture: int = Field(
        10, ge=1, le=1000, description="frames of each class per session"
    )
    gestures: list[Literal[GESTURES]] = Field(default_factory=lambda: list(GESTURES), min_length=1)
    image_width: int = Field(320, ge=64, le=4096)
    image_height: int = Field(240, ge=64, le=4096)
    image_ext: Literal[".png", ".jpg"] = ".png"
    left_handed_fraction: float = Field(0.25, ge=0.0, le=1.0)
    outdoor_fraction: float = Field(0.5, ge=0.0, le=1.0)
    corrupt_annotations: int = Field(
        4, ge=0, description="annotations deliberately broken (unknown class, box outside, ...)"
    )
    write_specs: bool = Field(
        True, description="also write TAO dataset_config.json / dataset_experiment_config.json"
    )


# -------------------------------------------------------------------------- dataset_config


class AnnotationConfig(_Strict):
    """TAO ``annotation_config``."""

    annotation_path: str = Field(
        "annotation", description="annotation folder, relative to mount_dir_path"
    )
    gesture_from_names: list[str] = Field(
        default_factory=lambda: ["gesture", "label", "class", "choice", "choices"],
        description="(extension) from_name of the choices entry holding the class, in priority order",
    )
    class_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="(extension) annotation label -> class name, e.g. {Thumbs-up: thumbs_up}",
    )


class DatasetConfig(_Strict):
    """TAO ``dataset_config``: where the images are and how hands are cropped."""

    org_dataset: str | list[str] = Field("data", description="set name(s) to extract")
    mount_dir_path: str = Field("data/01_raw/gesturenet", description="root of the data tree")
    org_data_dir: str = Field(
        "original", description="images: <mount>/<org_data_dir>/<set>/<uid>/<session>/"
    )
    post_data_dir: str = Field(
        "extracted", description="crops: <mount>/<post_data_dir>/<set>/<uid>/<session>/"
    )
    kpi_users: list[str] = Field(
        default_factory=list, description="users extracted at every frame (no sampling)"
    )
    sampling_rate: int = Field(
        1, ge=1, description="keep every n-th frame of a session (non-KPI users)"
    )
    convert_bbox_square: bool = Field(True, description="make the hand box square (longer side)")
    bbox_enlarge_ratio: float = Field(
        1.1, ge=1.0, le=4.0, description="scale of the box about its centre"
    )
    annotation_config: AnnotationConfig = Field(default_factory=AnnotationConfig)

    @property
    def sets(self) -> list[str]:
        """The set names as a list."""
        return [self.org_dataset] if isinstance(self.org_dataset, str) else list(self.org_dataset)

    @field_validator("org_dataset")
    @classmethod
    def _non_empty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("org_dataset needs at least one set name")
        return value


# --------------------------------------------------------------- dataset_experiment_config


class SetList(_Strict):
    """TAO ``set_list``: the sets feeding train/validation and the KPI set."""

    train_val: list[str] = Field(default_factory=lambda: ["data"])
    kpi: list[str] = Field(default_factory=lambda: ["data"])


class UidList(_Strict):
    """TAO ``uid_list``: how users are split."""

    uid_name: str = Field(
        "user_id", min_length=1, description="key of the user id in data.json entries"
    )
    predefined_val_users: bool = Field(
        False, description="use `validation` instead of a random fraction"
    )
    val_fraction: float = Field(
        0.25, ge=0.0, lt=1.0, description="share of train_val users for validation"
    )
    validation: list[str] = Field(
        default_factory=list, description="validation users when predefined"
    )
    kpi: list[str] = Field(default_factory=list, description="users of the KPI set")


class Sampling(_Strict):
    """TAO ``sampling``: class balance of the training set."""

    sampling_mode: Literal["none", "average", "min", "max"] = Field(
        "average",
        description="none: keep the data; average: keep the total size; min: under-sample to the "
        "rarest class; max: over-sample to the commonest class",
    )
    use_class_weights: bool = Field(
        False, description="target class shares from class_weights (else equal)"
    )
    class_weights: dict[str, float] = Field(
        default_factory=dict, description="class -> relative weight"
    )

    @field_validator("class_weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v >= 0}
        if bad:
            raise ValueError(f"class weights must be >= 0, got {bad}")
        return value


FeatureFilter = dict[str, list[dict[str, Any]]]


class DatasetExperimentConfig(_Strict):
    """TAO ``dataset_experiment_config``: splits, filters, sampling, folds."""

    mount_dir_path: str | None = Field(
        None, description="TAO container path; the data root is the parameter"
    )
    save_path: str | None = Field(
        None, description="TAO's data.json path; here the catalog decides"
    )
    set_list: SetList = Field(default_factory=SetList)
    uid_list: UidList = Field(default_factory=UidList)
    image_feature_filter: dict[Literal["train_val", "kpi"], FeatureFilter] = Field(
        default_factory=dict,
        description="per split, per set ('*' = all sets): metadata matches, e.g. [{location: outdoor}]",
    )
    image_feature_filter_mode: Literal["exclude", "include"] = Field(
        "exclude", description="(extension) drop matching images (TAO) or keep only them"
    )
    sampling: Sampling = Field(default_factory=Sampling)
    k_folds: int = Field(
        0, ge=0, description="k user-disjoint folds of the train_val users when > 0"
    )
    seed: int = Field(42, description="(extension) seed of the user split, folds and sampling")


# ------------------------------------------------------------------------------------ train


class ModelConfig(_Strict):
    """TAO ``model_config``: the ResNet "vanilla" classifier."""

    model_type: Literal["resnet", "resnet_vanilla"] = "resnet"
    num_layers: Literal[RESNET_DEPTHS] = Field(18, description=f"one of {RESNET_DEPTHS}")
    weights_init: str | None = Field(
        None, description="Keras model/weights to start from (by layer name)"
    )
    gray_scale_input: bool = False
    data_format: Literal["channels_first", "channels_last"] = Field(
        "channels_first", description="layout of the deployed (ONNX) input; Keras runs NHWC on CPU"
    )
    image_height: int = Field(160, ge=16, le=1024)
    image_width: int = Field(160, ge=16, le=1024)
    use_batch_norm: bool = True
    kernel_regularizer_type: Literal["l1", "l2", "none"] | None = "l2"
    kernel_regularizer_factor: float = Field(1e-4, ge=0.0)
    all_projections: bool = False
    use_pooling: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="(extension) dropout before the head")


class GammaAug(_Strict):
    """Random gamma ``x ** g``, g in ``gamma_range``."""

    probability: float = Field(0.5, ge=0.0, le=1.0)
    gamma_range: tuple[float, float] = (0.7, 1.5)


class RotationAug(_Strict):
    """Random rotation about the crop centre, up to ``max_angle`` degrees."""

    probability: float = Field(0.5, ge=0.0, le=1.0)
    max_angle: float = Field(15.0, ge=0.0, le=180.0)


class BrightnessAug(_Strict):
    """Random brightness offset (``max_delta`` of the 0-1 range) and contrast scale."""

    probability: float = Field(0.5, ge=0.0, le=1.0)
    max_delta: float = Field(0.2, ge=0.0, le=1.0)
    contrast_range: tuple[float, float] = (0.8, 1.2)


class ColorAug(_Strict):
    """(extension) hue rotation and saturation scale: skin tones and white balance vary by user."""

    probability: float = Field(0.5, ge=0.0, le=1.0)
    hue_max_deg: float = Field(15.0, ge=0.0, le=180.0)
    saturation_max: float = Field(0.3, ge=0.0, le=1.0)


class OcclusionAug(_Strict):
    """A random rectangle of the crop filled with noise (up to ``max_fraction`` of each side)."""

    probability: float = Field(0.25, ge=0.0, le=1.0)
    max_fraction: float = Field(0.3, gt=0.0, le=1.0)


class FlipAug(_Strict):
    """Horizontal flip (left hand <-> right hand)."""

    probability: float = Field(0.5, ge=0.0, le=1.0)


class ShiftAug(_Strict):
    """(extension) random translation and zoom: detector boxes are never centred exactly."""

    probability: float = Field(0.5, ge=0.0, le=1.0)
    max_shift: float = Field(0.08, ge=0.0, le=0.5)
    zoom_range: tuple[float, float] = (0.9, 1.1)


class AugmentationConfig(_Strict):
    """Training augmentation; each transform has its own probability."""

    enable_augmentation: bool = True
    gamma: GammaAug = Field(default_factory=GammaAug)
    rotation: RotationAug = Field(default_factory=RotationAug)
    brightness: BrightnessAug = Field(default_factory=BrightnessAug)
    occlusion: OcclusionAug = Field(default_factory=OcclusionAug)
    flip: FlipAug = Field(default_factory=FlipAug)
    shift: ShiftAug = Field(default_factory=ShiftAug)
    color: ColorAug = Field(default_factory=ColorAug)


class TrainDatasetConfig(_Strict):
    """Training inputs: classes, batch size, the data.json split, augmentation."""

    classes: dict[str, int] = Field(
        default_factory=lambda: {g: i for i, g in enumerate(GESTURES)},
        description="class name -> index",
    )
    batch_size: int = Field(32, ge=1, le=4096)
    fold: int | None = Field(
        None, ge=0, description="train on data.json fold k instead of train/validation_set"
    )
    shuffle_buffer: int = Field(2048, ge=1)
    augmentation_config: AugmentationConfig = Field(default_factory=AugmentationConfig)

    @field_validator("classes")
    @classmethod
    def _dense(cls, value: dict[str, int]) -> dict[str, int]:
        if sorted(value.values()) != list(range(len(value))):
            raise ValueError(
                f"class indices must be 0..{len(value) - 1} without gaps, got {sorted(value.values())}"
            )
        return value


class StageConfig(_Strict):
    """One trainer stage: epochs, how many top layers train, optimizer, step learning-rate decay."""

    stage_epochs: int = Field(5, ge=1)
    num_layers_unfreeze: int = Field(
        3, ge=0, description="trainable layers with weights counted from the output; larger = all"
    )
    optimizer: Literal["sgd", "adam", "rmsprop"] = "sgd"
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="(extension) sgd momentum")
    loss_fn: Literal["categorical_crossentropy", "sparse_categorical_crossentropy"] = (
        "categorical_crossentropy"
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    initial_lrate: float = Field(1e-3, gt=0.0)
    decay_step_size: int = Field(
        10, ge=1, description="epochs (or steps, see decay_unit) between drops"
    )
    lr_drop_rate: float = Field(0.5, gt=0.0, le=1.0)
    decay_unit: Literal["epoch", "step"] = Field(
        "epoch", description="(extension) unit of decay_step_size"
    )
    enable_checkpointing: bool = True


class TrainConfig(_Strict):
    """TAO ``train_config``: stages run in ``stage_order``."""

    stage_order: list[Literal[STAGES]] = Field(default_factory=lambda: list(STAGES), min_length=1)
    top_training: StageConfig = Field(default_factory=StageConfig)
    finetuning: StageConfig = Field(default_factory=lambda: StageConfig(num_layers_unfreeze=10_000))
    checkpoint_dir: str = Field(
        "data/06_models/gesturenet/checkpoints", description="per-stage checkpoints"
    )
    resume: bool = True
    selection_metric: str = Field(
        "val_loss", description="epoch kept per stage (val_loss, val_accuracy, ...)"
    )
    tensorboard_dir: str | None = None

    @field_validator("stage_order")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"stage_order repeats a stage: {value}")
        return value


class TrainSpec(_Strict):
    """``gesturenet.train``: TAO's GestureNet training spec."""

    random_seed: int = 108
    key: str | None = Field(
        None, description="TAO encryption key: accepted, not used (files are plain)"
    )
    deterministic: bool = True
    model_config_: ModelConfig = Field(default_factory=ModelConfig, alias="model_config")
    dataset_config: TrainDatasetConfig = Field(default_factory=TrainDatasetConfig)
    train_config: TrainConfig = Field(default_factory=TrainConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def model(self) -> ModelConfig:
        """The ``model_config`` block."""
        return self.model_config_


# ------------------------------------------------------------------ evaluate / inference


class EvaluateParams(_Strict):
    """``gesturenet.evaluate``: which data.json split and how predictions are batched."""

    data_type: Literal[SPLITS] = "kpi_set"
    batch_size: int = Field(64, ge=1)
    evaluation_exp_name: str = Field("results", description="TAO: name of the evaluation run")


class InferenceParams(_Strict):
    """``gesturenet.inference``: a data.json split, or every image of a folder."""

    source: Literal["data_json", "image_dir"] = "data_json"
    data_type: Literal[SPLITS] = "kpi_set"
    image_dir: str = Field("data/01_raw/gesturenet/extracted", description="folder of hand crops")
    batch_size: int = Field(64, ge=1)


PARAMS_MODELS: dict[str, type[BaseModel]] = {
    "gesturenet.sample": SampleParams,
    "gesturenet.dataset_config": DatasetConfig,
    "gesturenet.dataset_experiment_config": DatasetExperimentConfig,
    "gesturenet.train": TrainSpec,
    "gesturenet.evaluate": EvaluateParams,
    "gesturenet.inference": InferenceParams,
    "gesturenet.export": ExportParams,
}


class GestureDataConfigs(_Strict):
    """Both dataset specs after merging files and parameters; checks their cross-references."""

    dataset_config: DatasetConfig
    experiment: DatasetExperimentConfig
    classes: list[str]

    @model_validator(mode="after")
    def _cross_checks(self) -> GestureDataConfigs:
        sets = set(self.dataset_config.sets)
        for split in ("train_val", "kpi"):
            unknown = [s for s in getattr(self.experiment.set_list, split) if s not in sets]
            if unknown:
                raise ValueError(
                    f"dataset_experiment_config.set_list.{split}: sets {unknown} are not extracted "
                    f"(dataset_config.org_dataset = {sorted(sets)})"
                )
        uid = self.experiment.uid_list
        overlap = set(uid.validation) & set(uid.kpi)
        if uid.predefined_val_users and overlap:
            raise ValueError(
                f"dataset_experiment_config.uid_list: users {sorted(overlap)} are both validation and kpi"
            )
        unknown = sorted(set(self.experiment.sampling.class_weights) - set(self.classes))
        if unknown:
            raise ValueError(
                f"dataset_experiment_config.sampling.class_weights: unknown classes {unknown} "
                f"(allowed: {self.classes})"
            )
        if self.experiment.sampling.use_class_weights:
            w = self.experiment.sampling.class_weights
            missing = [c for c in self.classes if c not in w]
            if missing:
                raise ValueError(
                    f"dataset_experiment_config.sampling.class_weights: missing classes {missing} "
                    "(use_class_weights needs a weight for every class)"
                )
            if sum(w.values()) <= 0:
                raise ValueError(
                    "dataset_experiment_config.sampling.class_weights: weights sum to 0"
                )
        for split, per_set in self.experiment.image_feature_filter.items():
            for set_name in per_set:
                if set_name != "*" and set_name not in sets:
                    raise ValueError(
                        f"dataset_experiment_config.image_feature_filter.{split}.{set_name}: "
                        f"unknown set (allowed: '*' or {sorted(sets)})"
                    )
        return self
