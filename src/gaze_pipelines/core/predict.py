"""One interface for every deployable model format, so KPI code runs unchanged on each.

A ``Predictor`` maps a dict of named numpy inputs to one numpy output array. Keras models are
wrapped here; the export core adds ONNX (onnxruntime, FP32 and INT8) and TensorRT predictors.
Evaluators take a ``Predictor`` (or anything ``as_predictor`` accepts) from the catalog.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """Run a model on a batch of named inputs."""

    input_names: list[str]
    output_names: list[str]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Return the first output for a batch of inputs."""
        ...


class KerasPredictor:
    """A Keras model behind the ``Predictor`` interface (inputs by layer name)."""

    def __init__(self, model: Any, batch_size: int = 256):
        self.model = model
        self.batch_size = batch_size
        self.input_names = [t.name.split(":")[0] for t in model.inputs]
        self.output_names = [t.name.split(":")[0] for t in model.outputs]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Predict in batches; returns the first output as float32 numpy."""
        ordered = [np.asarray(inputs[name]) for name in self.input_names]
        n = len(ordered[0])
        outs = []
        for start in range(0, n, self.batch_size):
            batch = [x[start : start + self.batch_size] for x in ordered]
            out = self.model(batch if len(batch) > 1 else batch[0], training=False)
            if isinstance(out, (list, tuple)):
                out = out[0]
            elif isinstance(out, dict):
                out = next(iter(out.values()))
            outs.append(np.asarray(out, dtype=np.float32))
        return np.concatenate(outs, axis=0) if outs else np.zeros((0,), np.float32)


def as_predictor(model: Any) -> Predictor:
    """Wrap a Keras model; pass through anything that already is a ``Predictor``."""
    if isinstance(model, Predictor):
        return model
    if hasattr(model, "inputs") and hasattr(model, "outputs") and callable(model):
        return KerasPredictor(model)
    raise TypeError(f"cannot make a Predictor from {type(model).__name__}")
