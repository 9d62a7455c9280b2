"""A load-only Kedro dataset that yields a ``Predictor`` for the selected model format.

``<model>_evaluate`` takes its model from this dataset, so one parameter (``model_format``:
keras | onnx | onnx_int8 | tensorrt) switches the KPI run between the Keras model and the
exported ones while the KPI code stays the same. Each format names the dataset that stores it
(the same configuration as its own catalog entry: versioned entries load their latest version).
"""

from __future__ import annotations

from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from gaze_pipelines.core.predict import MODEL_FORMATS, Predictor, load_predictor


class PredictorDataset(AbstractDataset[None, Predictor]):
    """Load a model of ``model_format`` through its dataset and wrap it as a ``Predictor``.

    Example catalog entry::

        gazenet_evaluation_model:
          type: gaze_pipelines.datasets.PredictorDataset
          model_format: ${params:gazenet.evaluate.model_format}
          datasets:
            keras: {type: ..., filepath: data/06_models/gazenet/gazenet.keras, versioned: true}
            onnx: {type: gaze_pipelines.datasets.OnnxModelDataset, filepath: ..., versioned: true}
          predictor_args:
            onnx: {intra_op_num_threads: 2}
    """

    def __init__(
        self,
        *,
        model_format: str,
        datasets: dict[str, dict[str, Any]],
        predictor_args: dict[str, dict[str, Any]] | None = None,
        load_version: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if model_format not in MODEL_FORMATS:
            raise DatasetError(
                f"model_format must be one of {list(MODEL_FORMATS)}, got {model_format!r}"
            )
        if model_format not in datasets:
            raise DatasetError(
                f"model_format '{model_format}' has no dataset; configured: {sorted(datasets)}"
            )
        unknown = sorted(set(datasets) - set(MODEL_FORMATS))
        if unknown:
            raise DatasetError(
                f"datasets: unknown formats {unknown}; allowed {list(MODEL_FORMATS)}"
            )
        self._format = model_format
        self._config = dict(datasets[model_format])
        self._args = dict((predictor_args or {}).get(model_format, {}))
        self._dataset = AbstractDataset.from_config(
            f"{model_format}_model", self._config, load_version=load_version
        )
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"model_format": self._format, "dataset": self._config, "predictor_args": self._args}

    def load(self) -> Predictor:
        """Load the model of the selected format and wrap it."""
        return load_predictor(self._format, self._dataset.load(), **self._args)

    def save(self, data: None) -> None:
        """Read-only: models are saved by their own catalog entries."""
        raise DatasetError("PredictorDataset is read-only; save models through their own entries")

    def _exists(self) -> bool:
        return self._dataset.exists()
