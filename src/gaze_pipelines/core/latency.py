"""Latency of a ``Predictor`` per batch size: p50/p95 wall time of ``predict`` calls."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def tile_batch(inputs: Mapping[str, np.ndarray], batch_size: int) -> dict[str, np.ndarray]:
    """A batch of exactly ``batch_size`` samples, cycling through the given samples."""
    out = {}
    for name, value in inputs.items():
        value = np.asarray(value)
        if len(value) == 0:
            raise ValueError(f"input '{name}' has no samples to build a batch from")
        idx = np.arange(batch_size) % len(value)
        out[name] = np.ascontiguousarray(value[idx])
    return out


def measure_latency(
    predictor: Any,
    inputs: Mapping[str, np.ndarray],
    *,
    batch_sizes: Sequence[int] = (1, 32),
    warmup: int = 3,
    repeats: int = 20,
) -> pd.DataFrame:
    """Time ``predictor.predict`` on batches built from ``inputs``; one row per batch size.

    Each row has ``batch_size``, ``p50_ms``, ``p95_ms``, ``mean_ms``, ``min_ms`` and
    ``samples_per_s`` (from p50). ``warmup`` calls are run and discarded first.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    rows = []
    for batch_size in batch_sizes:
        batch = tile_batch(inputs, int(batch_size))
        for _ in range(warmup):
            predictor.predict(batch)
        times = np.empty(repeats, dtype=np.float64)
        for i in range(repeats):
            start = time.perf_counter()
            predictor.predict(batch)
            times[i] = (time.perf_counter() - start) * 1e3
        p50 = float(np.percentile(times, 50))
        rows.append(
            {
                "batch_size": int(batch_size),
                "p50_ms": p50,
                "p95_ms": float(np.percentile(times, 95)),
                "mean_ms": float(times.mean()),
                "min_ms": float(times.min()),
                "samples_per_s": float(batch_size * 1e3 / p50) if p50 > 0 else float("inf"),
                "repeats": int(repeats),
            }
        )
    return pd.DataFrame(rows)
