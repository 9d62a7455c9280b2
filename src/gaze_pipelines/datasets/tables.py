"""pandas Parquet / CSV datasets that write atomically (temp file + rename).

Same arguments, loading, versioning and ``_describe`` as kedro-datasets' ``pandas.ParquetDataset``
and ``pandas.CSVDataset``; only ``save`` differs: the table is serialized in memory and moved
into place in one rename, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import io

import pandas as pd
from kedro.io.core import get_filepath_str
from kedro_datasets.pandas import CSVDataset, ParquetDataset

from gaze_pipelines.core.io import atomic_write_bytes


def _target(dataset) -> str:
    path = get_filepath_str(dataset._get_save_path(), dataset._protocol)
    return path if dataset._protocol in ("file", "local") else f"{dataset._protocol}://{path}"


class AtomicParquetDataset(ParquetDataset):
    """``pandas.ParquetDataset`` with an atomic save."""

    def save(self, data: pd.DataFrame) -> None:
        """Serialize to Parquet in memory, then write it atomically."""
        buf = io.BytesIO()
        data.to_parquet(buf, **self._save_args)
        atomic_write_bytes(_target(self), buf.getvalue())
        self._invalidate_cache()


class AtomicCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` with an atomic save."""

    def save(self, data: pd.DataFrame) -> None:
        """Serialize to CSV in memory, then write it atomically."""
        text = data.to_csv(**self._save_args)
        atomic_write_bytes(_target(self), text.encode("utf-8"))
        self._invalidate_cache()
