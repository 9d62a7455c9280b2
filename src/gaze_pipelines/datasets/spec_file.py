"""An optional experiment-spec YAML file (e.g. a TAO GazeNet spec), read-only.

``filepath`` null or empty means "no spec file": ``load()`` returns ``{}``. ``spec_value`` looks up
a dotted key in a spec file, for datasets whose location a spec file may override.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
import yaml
from kedro.io.core import AbstractDataset, DatasetError

_MISSING = object()


def read_spec(filepath: str | None) -> dict[str, Any]:
    """The YAML mapping at ``filepath`` (``{}`` when no path is given)."""
    if not filepath:
        return {}
    try:
        with fsspec.open(str(filepath), "r", encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise DatasetError(f"spec file '{filepath}' does not exist") from exc
    except yaml.YAMLError as exc:
        raise DatasetError(f"spec file '{filepath}' is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DatasetError(f"spec file '{filepath}' must hold a mapping, got {type(data).__name__}")
    return data


def spec_value(filepath: str | None, dotted: str, default: Any = None) -> Any:
    """Value of ``a.b.c`` in the spec file, or ``default`` when absent or null."""
    node: Any = read_spec(filepath)
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


class SpecFileDataset(AbstractDataset[None, dict]):
    """A YAML spec file as a dict; ``{}`` when ``filepath`` is null.

    Example catalog entry::

        gazenet_spec_file:
          type: gaze_pipelines.datasets.SpecFileDataset
          filepath: ${params:gazenet.spec_file, null}
    """

    def __init__(
        self, *, filepath: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self._filepath = str(PurePosixPath(filepath)) if filepath else None
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}

    def load(self) -> dict[str, Any]:
        """The spec as a dict (``{}`` without a file)."""
        return read_spec(self._filepath)

    def save(self, data: Any) -> None:
        """Read-only."""
        raise DatasetError("SpecFileDataset is read-only")

    def _exists(self) -> bool:
        if not self._filepath:
            return True
        fs, path = fsspec.core.url_to_fs(self._filepath)
        return fs.exists(path)
