"""Atomic Parquet/CSV datasets: same behaviour as kedro-datasets', no partial files."""

from __future__ import annotations

import pandas as pd
import pytest

from gaze_pipelines.datasets.tables import AtomicCSVDataset, AtomicParquetDataset


@pytest.mark.parametrize(
    "cls, name", [(AtomicParquetDataset, "t.parquet"), (AtomicCSVDataset, "t.csv")]
)
def test_round_trip_and_no_temp_files(tmp_path, cls, name):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    kwargs = {"save_args": {"index": False}} if cls is AtomicCSVDataset else {}
    ds = cls(filepath=str(tmp_path / "sub" / name), **kwargs)
    ds.save(df)
    pd.testing.assert_frame_equal(ds.load(), df)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == [name]


def test_failed_save_keeps_previous_file(tmp_path):
    ds = AtomicParquetDataset(filepath=str(tmp_path / "t.parquet"))
    ds.save(pd.DataFrame({"a": [1]}))
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own type for mixed objects
        ds.save(pd.DataFrame({"a": [object()]}))
    assert ds.load()["a"].tolist() == [1]
    assert len(list(tmp_path.iterdir())) == 1
