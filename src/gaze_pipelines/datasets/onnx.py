"""Kedro datasets for ONNX models (FP32, FP16, Q/DQ INT8), versioned, written atomically.

Data in memory is an ``onnx.ModelProto``; the export interface (exported names, layouts, the
Keras names they map to) travels in the model's metadata, so a loaded model is ready for
``gaze_pipelines.core.predict.OnnxPredictor``.
"""

from __future__ import annotations

from typing import Any

from kedro.io.core import DatasetError, Version

from gaze_pipelines.datasets.files import VersionedFileDataset

_PROTOBUF_LIMIT = 2**31 - 1


class OnnxModelDataset(VersionedFileDataset):
    """An ONNX model file as an ``onnx.ModelProto``.

    Example catalog entry::

        gazenet_onnx_model:
          type: gaze_pipelines.datasets.OnnxModelDataset
          filepath: data/06_models/gazenet/gazenet.onnx
          versioned: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        check_model: bool = True,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath=filepath, version=version, metadata=metadata)
        self._check = check_model

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "check_model": self._check}

    def load(self) -> Any:
        """Read and parse the model (ONNX-checked when ``check_model``)."""
        import onnx  # noqa: PLC0415

        try:
            model = onnx.load_model_from_string(self._read())
        except Exception as exc:  # protobuf DecodeError and friends
            raise DatasetError(f"{self._filepath}: not a readable ONNX model ({exc})") from exc
        if self._check:
            onnx.checker.check_model(model)
        return model

    def save(self, data: Any) -> None:
        """Serialize an ``onnx.ModelProto`` (or already serialized bytes) atomically."""
        if isinstance(data, (bytes, bytearray)):
            raw = bytes(data)
        elif hasattr(data, "SerializeToString"):
            if data.ByteSize() > _PROTOBUF_LIMIT:
                raise DatasetError(
                    f"ONNX model is {data.ByteSize() / 2**30:.2f} GiB: over protobuf's 2 GiB limit"
                )
            raw = data.SerializeToString()
        else:
            raise DatasetError(f"expected an onnx.ModelProto or bytes, got {type(data).__name__}")
        self._write(raw)
