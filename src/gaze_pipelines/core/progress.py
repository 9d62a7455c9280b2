"""Progress bars and throughput logging for long steps."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
logger = logging.getLogger("gaze_pipelines.progress")


def progress(
    items: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "it",
    steps: Iterable[int] | None = None,
) -> Iterator[T]:
    """Iterate with a tqdm bar (to stderr) and log the throughput when done.

    ``steps``: how many ``unit`` each item stands for (e.g. frames per worker task), so the bar
    and the throughput line count units, not items; default one per item.
    """
    start = time.perf_counter()
    count = 0
    bar = tqdm(
        desc=desc,
        total=total,
        unit=unit,
        file=sys.stderr,
        leave=False,
        mininterval=0.5,
        disable=None,
    )
    sizes = iter(steps) if steps is not None else None
    for item in items:
        step = next(sizes) if sizes is not None else 1
        count += step
        bar.update(step)
        yield item
    bar.close()
    log_throughput(desc, count, time.perf_counter() - start, unit)


def log_throughput(desc: str, count: int, seconds: float, unit: str = "it") -> float:
    """Log ``count`` items in ``seconds`` as items/s and return the rate."""
    rate = count / seconds if seconds > 0 else float("inf")
    logger.info("%s: %d %s in %.2f s (%.1f %s/s)", desc, count, unit, seconds, rate, unit)
    return rate
