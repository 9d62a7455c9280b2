"""Worker pools for per-frame work: forked processes where the platform has fork, else threads.

Forked workers inherit the imported modules and run Python-heavy per-frame code (PnP, warps,
PNG encoding) without the GIL; results come back pickled, in task order. One worker (or one
task) runs in this process, with no pool to start.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Literal, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WorkerKind = Literal["processes", "threads"]


def worker_pool(workers: int, kind: WorkerKind = "processes") -> Executor:
    """``workers`` forked processes (``kind="processes"`` where fork exists), else threads."""
    if kind == "processes" and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork")
        )
    return ThreadPoolExecutor(max_workers=max(1, workers))


def parallel_map(
    func: Callable[[T], R],
    tasks: Sequence[T],
    workers: int,
    kind: WorkerKind = "processes",
    wrap: Callable[[Iterable[R]], Iterable[R]] | None = None,
) -> Iterator[R]:
    """``func`` over ``tasks`` in order, on a pool when there are several of both.

    ``wrap`` wraps the result iterator (a progress bar) while the pool is alive.
    """
    if workers <= 1 or len(tasks) <= 1:
        results: Iterable[R] = map(func, tasks)
        yield from wrap(results) if wrap else results
        return
    with worker_pool(min(workers, len(tasks)), kind) as pool:
        results = pool.map(func, tasks)
        yield from wrap(results) if wrap else results


def chunks(n: int, size: int) -> list[slice]:
    """Slices cutting ``range(n)`` into pieces of at most ``size``."""
    return [slice(start, min(start + size, n)) for start in range(0, n, max(1, size))]
