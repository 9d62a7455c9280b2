"""Regression losses and training metrics for gaze models (Keras 3, any backend).

Targets are rows of named outputs; ``layout`` says which columns are the 3D point ``(x, y, z)``
and which the gaze angles ``(theta, phi)`` (e.g. GazeNet's 5 outputs ``x, y, z, theta, phi``).
Per-output ``scale`` values divide the residuals so outputs in mm and in radians weigh alike
(pass the training labels' standard deviations); the cosine terms do not use them.

Loss types (TAO GazeNet ``GazeLoss.loss_type``), with ``r = (y_pred - y_true) / scale``:

- ``l1``: ``mean |r|``;  ``rmse``: ``sqrt(mean r^2)`` per sample;  ``logcosh``: ``mean log cosh r``
- ``cosine``: ``1 - cos`` between predicted and true vectors: the ``(x, y, z)`` vector and/or the
  gaze vector ``g(theta, phi) = [-cos t sin p, -sin t, -cos t cos p]`` (averaged when both exist)
- ``l1_cosine_joint`` / ``l2_cosine_joint``: ``mean |r_xyz|`` / ``mean r_xyz^2`` plus the cosine
  term of the gaze vector.

``GazeLoss`` is a registered ``keras.losses.Loss``; ``make_metrics`` builds Keras metric functions
(``l1``, ``rmse``, ``logcosh``, ``angular_error`` in degrees, ``d_xyz`` in target units) that
appear in the logs as ``val_<name>`` for model selection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
from keras import ops

LOSS_TYPES = ("l1", "rmse", "cosine", "l1_cosine_joint", "l2_cosine_joint", "logcosh")
METRIC_NAMES = ("l1", "rmse", "logcosh", "angular_error", "d_xyz")
_EPS = 1e-7


@dataclass(frozen=True)
class OutputLayout:
    """Column indices of the 3D point and of the gaze angles in the target vector."""

    xyz: tuple[int, int, int] | None
    theta_phi: tuple[int, int] | None
    degrees: bool = False

    @classmethod
    def gazenet(cls, num_outputs: int, degrees: bool = False) -> OutputLayout:
        """GazeNet's layouts: 5 = x, y, z, theta, phi; 3 = x, y, z; 2 = theta, phi."""
        if num_outputs == 5:
            return cls((0, 1, 2), (3, 4), degrees)
        if num_outputs == 3:
            return cls((0, 1, 2), None, degrees)
        if num_outputs == 2:
            return cls(None, (0, 1), degrees)
        raise ValueError(f"num_outputs must be 2, 3 or 5, got {num_outputs}")

    def to_config(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"xyz": self.xyz, "theta_phi": self.theta_phi, "degrees": self.degrees}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> OutputLayout:
        """Inverse of ``to_config``."""
        xyz = tuple(cfg["xyz"]) if cfg.get("xyz") is not None else None
        tp = tuple(cfg["theta_phi"]) if cfg.get("theta_phi") is not None else None
        return cls(xyz, tp, bool(cfg.get("degrees", False)))


def gaze_vector(theta: Any, phi: Any) -> Any:
    """Unit gaze vectors ``(..., 3)`` from angles in radians (tensor version of core.geometry)."""
    ct = ops.cos(theta)
    return ops.stack([-ct * ops.sin(phi), -ops.sin(theta), -ct * ops.cos(phi)], axis=-1)


def _columns(x: Any, idx: Sequence[int]) -> Any:
    return ops.stack([x[..., i] for i in idx], axis=-1)


def _cos(a: Any, b: Any) -> Any:
    num = ops.sum(a * b, axis=-1)
    den = ops.sqrt(ops.sum(a * a, axis=-1) * ops.sum(b * b, axis=-1) + _EPS)
    return num / den


def _angles(x: Any, layout: OutputLayout) -> tuple[Any, Any]:
    t, p = x[..., layout.theta_phi[0]], x[..., layout.theta_phi[1]]
    if layout.degrees:
        t, p = t * (math.pi / 180.0), p * (math.pi / 180.0)
    return t, p


def cosine_term(y_true: Any, y_pred: Any, layout: OutputLayout) -> Any:
    """``1 - cos`` per sample, averaged over the xyz and gaze vectors present."""
    terms = []
    if layout.xyz is not None:
        terms.append(1.0 - _cos(_columns(y_true, layout.xyz), _columns(y_pred, layout.xyz)))
    if layout.theta_phi is not None:
        gt = gaze_vector(*_angles(y_true, layout))
        gp = gaze_vector(*_angles(y_pred, layout))
        terms.append(1.0 - _cos(gt, gp))
    return terms[0] if len(terms) == 1 else (terms[0] + terms[1]) / 2.0


def gaze_loss(
    y_true: Any,
    y_pred: Any,
    loss_type: str,
    layout: OutputLayout,
    scale: Sequence[float] | None = None,
) -> Any:
    """Per-sample loss values of ``loss_type`` (see the module docstring)."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    n = y_pred.shape[-1]
    s = ops.convert_to_tensor([1.0] * n if scale is None else [float(v) for v in scale], "float32")
    r = (y_pred - y_true) / s
    if loss_type == "l1":
        return ops.mean(ops.abs(r), axis=-1)
    if loss_type == "rmse":
        return ops.sqrt(ops.mean(ops.square(r), axis=-1) + _EPS)
    if loss_type == "logcosh":
        return ops.mean(_logcosh(r), axis=-1)
    if loss_type == "cosine":
        return cosine_term(y_true, y_pred, layout)
    if loss_type in ("l1_cosine_joint", "l2_cosine_joint"):
        if layout.xyz is None or layout.theta_phi is None:
            raise ValueError(f"{loss_type} needs both xyz and theta/phi outputs")
        rx = _columns(r, layout.xyz)
        point = ops.mean(ops.abs(rx) if loss_type.startswith("l1") else ops.square(rx), axis=-1)
        gaze_only = OutputLayout(None, layout.theta_phi, layout.degrees)
        return point + cosine_term(y_true, y_pred, gaze_only)
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")


def _logcosh(x: Any) -> Any:
    # log(cosh(x)) = |x| + log1p(exp(-2|x|)) - log 2, stable for large |x|
    a = ops.abs(x)
    return a + ops.log1p(ops.exp(-2.0 * a)) - math.log(2.0)


@keras.saving.register_keras_serializable(package="gaze_pipelines")
class GazeLoss(keras.losses.Loss):
    """TAO GazeNet's ``GazeLoss`` as a Keras loss (mean over the batch of per-sample values)."""

    def __init__(
        self,
        loss_type: str = "logcosh",
        layout: dict[str, Any] | OutputLayout | None = None,
        scale: Sequence[float] | None = None,
        name: str = "gaze_loss",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
        self.loss_type = loss_type
        self.layout = (
            layout
            if isinstance(layout, OutputLayout)
            else OutputLayout.from_config(layout or OutputLayout.gazenet(5).to_config())
        )
        self.scale = None if scale is None else [float(v) for v in scale]

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss."""
        return gaze_loss(y_true, y_pred, self.loss_type, self.layout, self.scale)

    def get_config(self) -> dict[str, Any]:
        """Serializable configuration."""
        cfg = super().get_config()
        cfg.update(
            {"loss_type": self.loss_type, "layout": self.layout.to_config(), "scale": self.scale}
        )
        return cfg


def angular_error_deg(y_true: Any, y_pred: Any, layout: OutputLayout) -> Any:
    """Per-sample angle in degrees between true and predicted gaze vectors (theta/phi outputs)."""
    gt = gaze_vector(*_angles(ops.cast(y_true, "float32"), layout))
    gp = gaze_vector(*_angles(ops.cast(y_pred, "float32"), layout))
    cos = ops.clip(_cos(gt, gp), -1.0, 1.0)
    return ops.arccos(cos) * (180.0 / math.pi)


def point_error(y_true: Any, y_pred: Any, layout: OutputLayout) -> Any:
    """Per-sample Euclidean distance between true and predicted 3D points (target units)."""
    d = _columns(ops.cast(y_pred, "float32"), layout.xyz) - _columns(
        ops.cast(y_true, "float32"), layout.xyz
    )
    return ops.sqrt(ops.sum(d * d, axis=-1) + _EPS)


def make_metrics(
    names: Sequence[str], layout: OutputLayout, scale: Sequence[float] | None = None
) -> list[Callable[[Any, Any], Any]]:
    """Keras metric functions by name (normalized ``l1``/``rmse``/``logcosh``; degrees; units)."""
    out: list[Callable[[Any, Any], Any]] = []
    for name in dict.fromkeys(names):
        if name in ("l1", "rmse", "logcosh"):
            fn = _named(name, lambda t, p, k=name: gaze_loss(t, p, k, layout, scale))
        elif name == "angular_error":
            if layout.theta_phi is None:
                continue
            fn = _named(name, lambda t, p: angular_error_deg(t, p, layout))
        elif name == "d_xyz":
            if layout.xyz is None:
                continue
            fn = _named(name, lambda t, p: point_error(t, p, layout))
        else:
            raise ValueError(f"metric must be one of {METRIC_NAMES}, got {name!r}")
        out.append(fn)
    return out


def _named(name: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    fn.__name__ = name
    return fn
