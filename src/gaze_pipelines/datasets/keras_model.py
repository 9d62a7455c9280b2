"""Keras 3 models as ``.keras`` files: versioned, written atomically, optionally absent.

``filepath`` may be empty or null when the model is optional (e.g. a ``pretrained_model_path``
left null in the experiment spec): ``load()`` then returns ``None`` and ``save()`` refuses.
``spec_file`` + ``spec_key`` let a spec YAML override ``filepath`` (a TAO spec file's
``model.model_parameters.pretrained_model_path``).
Models load with ``compile=False`` by default (custom losses need not be importable to read the
weights) and in Keras' safe mode.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_protocol_and_path

from gaze_pipelines.core.io import atomic_write_bytes
from gaze_pipelines.datasets.spec_file import spec_value


class KerasModelDataset(AbstractVersionedDataset[Any, Any]):
    """A Keras model saved with ``model.save`` to a ``.keras`` file (local or fsspec).

    Example catalog entry::

        gazenet_model:
          type: gaze_pipelines.datasets.KerasModelDataset
          filepath: data/06_models/gazenet/gazenet.keras
          versioned: true
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {"compile": False, "safe_mode": True}

    def __init__(
        self,
        *,
        filepath: str | None,
        load_args: dict[str, Any] | None = None,
        version: Version | None = None,
        spec_file: str | None = None,
        spec_key: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if spec_file and spec_key:
            # e.g. a TAO spec's model.model_parameters.pretrained_model_path overrides filepath
            filepath = spec_value(spec_file, spec_key, filepath)
        self._optional_empty = not filepath
        path_str = str(filepath) if filepath else "__no_model__.keras"
        protocol, path = get_protocol_and_path(path_str, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": None if self._optional_empty else str(self._filepath),
            "load_args": self._load_args,
            "version": self._version,
        }

    def load(self) -> Any:
        """The model, or ``None`` when no file path is configured."""
        if self._optional_empty:
            return None
        import keras  # noqa: PLC0415

        self._check_suffix()
        path = str(self._get_load_path())
        if not self._fs.exists(path):
            raise DatasetError(f"no Keras model at '{path}'")
        if self._protocol in ("file", "local"):
            return keras.models.load_model(path, **self._load_args)
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "model.keras")
            self._fs.get(path, local)
            return keras.models.load_model(local, **self._load_args)

    def save(self, data: Any) -> None:
        """Write ``data.save(...)`` to a temp file, then move it into place."""
        if self._optional_empty:
            raise DatasetError("KerasModelDataset has no filepath to save to")
        self._check_suffix()
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "model.keras")
            data.save(local)
            with open(local, "rb") as fh:
                payload = fh.read()
        path = str(self._get_save_path())
        dest = path if self._protocol in ("file", "local") else f"{self._protocol}://{path}"
        atomic_write_bytes(dest, payload)

    def _check_suffix(self) -> None:
        if not str(self._filepath).endswith(".keras"):
            raise DatasetError(
                f"'{self._filepath}' is not a '.keras' file: only Keras 3 models saved by this "
                "project load here (TAO .tlt/.hdf5 models are encrypted TF1 files)"
            )

    def _exists(self) -> bool:
        if self._optional_empty:
            return False
        try:
            return self._fs.exists(str(self._get_load_path()))
        except DatasetError:
            return False
