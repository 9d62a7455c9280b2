"""Kedro dataset for TensorRT engines, versioned, with a JSON sidecar describing the engine.

Data in memory is a ``gaze_pipelines.core.export.TensorRTEngine`` (serialized engine bytes,
precision, max batch size, TensorRT version and the export interface). The engine file is what
``trtexec --loadEngine`` and DeepStream read; ``<engine>.json`` beside it (in the same version
folder) keeps the rest. Saving and loading need no GPU; running the engine does.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from kedro.io.core import DatasetError

from gaze_pipelines.core.export import ModelInterface, TensorRTEngine
from gaze_pipelines.core.io import atomic_write_bytes
from gaze_pipelines.datasets.files import VersionedFileDataset


class TensorRTEngineDataset(VersionedFileDataset):
    """A serialized TensorRT engine plus ``<file>.json`` metadata.

    Example catalog entry::

        gazenet_tensorrt_int8_engine:
          type: gaze_pipelines.datasets.TensorRTEngineDataset
          filepath: data/06_models/gazenet/gazenet_int8.engine
          versioned: true
    """

    @staticmethod
    def _sidecar(path: PurePosixPath) -> PurePosixPath:
        return path.with_name(path.name + ".json")

    def load(self) -> TensorRTEngine:
        """Read the engine and its sidecar (an engine without sidecar loads with defaults)."""
        engine = self._read()
        side = self._full_path(self._sidecar(self._get_load_path()))
        meta: dict[str, Any] = {}
        if self._fs.exists(side):
            with self._fs.open(side, "r") as fh:
                meta = json.load(fh)
        interface = meta.get("interface")
        return TensorRTEngine(
            engine=engine,
            interface=ModelInterface.from_json(json.dumps(interface)) if interface else None,
            precision=str(meta.get("precision", "unknown")),
            max_batch_size=int(meta.get("max_batch_size", 0)),
            tensorrt_version=str(meta.get("tensorrt_version", "unknown")),
        )

    def save(self, data: TensorRTEngine) -> None:
        """Write the engine then its sidecar, each atomically."""
        if not isinstance(data, TensorRTEngine):
            raise DatasetError(f"expected a TensorRTEngine, got {type(data).__name__}")
        save_path = self._get_save_path()  # once: a versioned path may not exist yet
        for path, raw in (
            (save_path, data.engine),
            (self._sidecar(save_path), json.dumps(data.metadata(), indent=2).encode("utf-8")),
        ):
            full = self._full_path(path)
            atomic_write_bytes(
                full if self._protocol == "file" else f"{self._protocol}://{full}", raw
            )
