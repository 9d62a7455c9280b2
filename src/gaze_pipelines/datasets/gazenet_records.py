"""Read-only dataset: the GazeNet TFRecords an experiment spec names, with frame paths resolved.

TAO's ``dataset_info`` names ``<dir>/<set>/<ground truth folder>/<tfrecord folder>/<file>`` for
every combination of its lists (``train_file_name``, ``validate_file_name``,
``test_file_name``), and ``kpiset_info`` the KPI folds (``kpi_file_name``). ``load()`` reads them
all into one DataFrame: one row per record with the 83 TAO features, plus

- ``phase``: training | validation | testing | kpi_testing; ``set_id``; ``user`` (the frame's
  folder); ``source_file``;
- ``frame_path`` / ``frame_exists``: the frame on this machine. Records written by TAO hold
  absolute paths of the converting machine, so a stored path is rebased: with ``root_path`` the
  part before ``/<set id>/`` is replaced by it; without, the path is used if it exists, else it is
  rebased onto the records' ``tfrecords_directory_path`` (the usual layout: frames under
  ``<dir>/<set>/Data``);
- ``norm_frame_path`` / ``norm_frame_exists``: the same for ``train/norm_frame_path``.

Files that do not exist are listed in ``df.attrs["missing_files"]``; a phase with no file at all
is simply absent (the nodes decide whether that is an error).
"""

from __future__ import annotations

import logging
import os
from itertools import product
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError

from gaze_pipelines.datasets.spec_file import spec_value
from gaze_pipelines.datasets.tfrecord import read_tfrecords, resolve_feature_spec

logger = logging.getLogger(__name__)

DEFAULT_SPEC = "gaze_pipelines.pipelines.gazenet.features.TAO_GAZE_FEATURES"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def rebase_path(stored: str, set_id: str, root_path: str | None, records_dir: str) -> list[str]:
    """Candidate local paths for a frame path stored in a record, best first."""
    stored = str(stored)
    if not stored:
        return []
    marker = f"/{set_id}/"
    tail = stored[stored.index(marker) + 1 :] if marker in stored else None
    out: list[str] = []
    if root_path:
        if tail is not None:
            out.append(os.path.join(root_path, tail))
        elif not os.path.isabs(stored):
            out.append(os.path.join(root_path, stored))
    out.append(stored)
    if tail is not None:
        out.append(os.path.join(records_dir, tail))
    elif not os.path.isabs(stored):
        out.append(os.path.join(records_dir, stored))
    return list(dict.fromkeys(out))


def resolve_path(
    stored: str, set_id: str, root_path: str | None, records_dir: str
) -> tuple[str, bool]:
    """The first existing candidate of ``rebase_path`` (or the first candidate, ``False``)."""
    candidates = rebase_path(stored, set_id, root_path, records_dir)
    for path in candidates:
        if os.path.isfile(path):
            return path, True
    return (candidates[0] if candidates else ""), False


def _user_of(stored: str) -> str:
    parts = PurePosixPath(str(stored)).parts
    return parts[-2] if len(parts) >= 2 else ""


class GazeNetRecordsDataset(AbstractDataset[None, pd.DataFrame]):
    """The records of an experiment's ``dataset_info`` (and ``kpiset_info``) as one DataFrame.

    Example catalog entry::

        gazenet_experiment_records:
          type: gaze_pipelines.datasets.GazeNetRecordsDataset
          dataset_info: ${params:gazenet.experiment.dataloader.dataset_info}
          kpiset_info: ${params:gazenet.experiment.dataloader.kpiset_info, null}
          spec_file: ${params:gazenet.spec_file, null}

    A ``spec_file`` (TAO spec YAML) overrides ``dataset_info`` / ``kpiset_info`` key by key.
    """

    def __init__(
        self,
        *,
        dataset_info: dict[str, Any],
        kpiset_info: dict[str, Any] | None = None,
        feature_spec: str | dict[str, Any] = DEFAULT_SPEC,
        phases: list[str] | None = None,
        spec_file: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(dataset_info, dict):
            raise DatasetError(f"dataset_info must be a mapping, got {type(dataset_info).__name__}")
        self._spec_file = spec_file or None
        info = dict(dataset_info)
        kpi = dict(kpiset_info) if kpiset_info else None
        if self._spec_file:
            # a TAO spec file named by gazenet.spec_file overrides the parameters' record locations
            info.update(spec_value(self._spec_file, "dataloader.dataset_info", {}) or {})
            spec_kpi = spec_value(self._spec_file, "dataloader.kpiset_info", None)
            if spec_kpi:
                kpi = {**(kpi or {}), **spec_kpi}
        self._info = info
        self._kpi = kpi
        self._spec_name = feature_spec if isinstance(feature_spec, str) else "custom"
        self._spec = resolve_feature_spec(feature_spec)
        self._phases = phases
        self.metadata = metadata

    def files(self) -> list[tuple[str, str, str, str]]:
        """``(phase, set_id, records_dir, file)`` of every file the spec names."""
        info = self._info
        out = []
        names = {
            "training": info.get("train_file_name", "train.tfrecords"),
            "validation": info.get("validate_file_name", "validate.tfrecords"),
            "testing": info.get("test_file_name", "test.tfrecords"),
        }
        combos = product(
            _as_list(info.get("tfrecords_directory_path")),
            _as_list(info.get("tfrecords_set_id")),
            _as_list(info.get("ground_truth_folder_name")),
            _as_list(info.get("tfrecord_folder_name")),
        )
        for directory, set_id, gt, folder in combos:
            for phase, name in names.items():
                out.append(
                    (phase, set_id, directory, os.path.join(directory, set_id, gt, folder, name))
                )
        if self._kpi:
            kpi = self._kpi
            combos = product(
                _as_list(kpi.get("kpi_tfrecords_directory_path")),
                _as_list(kpi.get("tfrecords_set_id_kpi")),
                _as_list(kpi.get("ground_truth_folder_name_kpi")),
                _as_list(kpi.get("tfrecord_folder_name_kpi")),
            )
            name = kpi.get("kpi_file_name", "test.tfrecords")
            for directory, set_id, gt, folder in combos:
                out.append(
                    (
                        "kpi_testing",
                        set_id,
                        directory,
                        os.path.join(directory, set_id, gt, folder, name),
                    )
                )
        if self._phases is not None:
            out = [f for f in out if f[0] in self._phases]
        return out

    def _describe(self) -> dict[str, Any]:
        return {
            "dataset_info": self._info,
            "kpiset_info": self._kpi,
            "spec_file": self._spec_file,
            "feature_spec": self._spec_name,
            "phases": self._phases,
        }

    def load(self) -> pd.DataFrame:
        """Read every named file that exists; resolve frame paths; list the missing files."""
        frames, missing = [], []
        for phase, set_id, directory, path in self.files():
            if not os.path.isfile(path):
                missing.append(path)
                continue
            root = (
                (self._kpi or {}).get("kpi_root_path")
                if phase == "kpi_testing"
                else self._info.get("root_path")
            )
            df = read_tfrecords(path, self._spec)
            df.insert(0, "phase", phase)
            df.insert(1, "set_id", set_id)
            df.insert(2, "source_file", path)
            stored = df["train/image_frame_name"].astype(str)
            resolved = [resolve_path(p, set_id, root, directory) for p in stored]
            df["user"] = [_user_of(p) for p in stored]
            df["frame_path"] = [r[0] for r in resolved]
            df["frame_exists"] = [r[1] for r in resolved]
            norm = [
                resolve_path(p, set_id, root, directory)
                for p in df["train/norm_frame_path"].astype(str)
            ]
            df["norm_frame_path"] = [r[0] for r in norm]
            df["norm_frame_exists"] = [r[1] for r in norm]
            logger.info("%s: %d records (%s, set %s)", path, len(df), phase, set_id)
            frames.append(df)
        if missing:
            logger.warning(
                "%d record files named by the spec do not exist: %s",
                len(missing),
                ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""),
            )
        if frames:
            out = pd.concat(frames, ignore_index=True)
        else:
            out = pd.DataFrame(
                columns=[
                    "phase",
                    "set_id",
                    "source_file",
                    *self._spec,
                    "user",
                    "frame_path",
                    "frame_exists",
                    "norm_frame_path",
                    "norm_frame_exists",
                ]
            )
        out.attrs["missing_files"] = missing
        out.attrs["files"] = [f[3] for f in self.files()]
        return out

    def save(self, data: None) -> None:
        """Read-only: records are written by ``gazenet_data``."""
        raise DatasetError("GazeNetRecordsDataset is read-only; gazenet_data writes the records")

    def _exists(self) -> bool:
        return any(os.path.isfile(f[3]) for f in self.files())
