"""core.progress: items pass through; the bar and the throughput line count units."""

from __future__ import annotations

import logging

from gaze_pipelines.core.progress import progress


def test_progress_counts_steps_per_item(caplog):
    with caplog.at_level(logging.INFO, logger="gaze_pipelines.progress"):
        out = list(progress(iter("abc"), "chunks", total=7, unit="frame", steps=[3, 3, 1]))
    assert out == ["a", "b", "c"]
    assert any("chunks" in r.message and " 7 frame" in r.message for r in caplog.records)


def test_progress_defaults_to_one_per_item(caplog):
    with caplog.at_level(logging.INFO, logger="gaze_pipelines.progress"):
        assert list(progress(range(4), "items")) == [0, 1, 2, 3]
    assert any("items" in r.message and " 4 it" in r.message for r in caplog.records)
