"""Expectation checks in a background process that imports Great Expectations while the run works.

Importing Great Expectations takes about 2.5 s of CPU, paid at the first validated save: in
``gazenet_data`` that was a quarter of the whole conversion. The validation hook starts this
worker when a run will save a suite-bound dataset (for ``kedro run --pipeline <name>`` as soon as
the context exists, else when the pipeline begins): a forked process imports Great Expectations
(and runs one tiny validation to load its lazy parts) on the core that Kedro's configuration
loading and the mostly serial ingest steps leave idle. At each bound save the hook sends the
table and the suites and waits for the summaries, so a failure still stops the run before
anything is written, with the same ``ExpectationFailure`` as in-process validation.

For ``kedro run`` the worker is forked even earlier, when the project's settings load (Kedro
reads them before it parses the configuration): :func:`start_for_cli_run`. The hook adopts it
once the context exists, or stops it (the process is terminated, so a run that needs no
validation never waits for the import).

If the worker cannot start or dies, validation falls back to this process (with a warning);
``GAZE_PIPELINES_VALIDATION_WORKER=0`` turns the worker off.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pandas as pd

from gaze_pipelines.validation.suites import ValidationSummary, check_suites

logger = logging.getLogger(__name__)

ENV_SWITCH = "GAZE_PIPELINES_VALIDATION_WORKER"

_WARM_SUITE = {
    "name": "warm_up",
    "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}}],
}


def worker_enabled() -> bool:
    """False when ``GAZE_PIPELINES_VALIDATION_WORKER`` is 0 / false / no / off."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _warm_up() -> None:
    """Worker initializer: import Great Expectations and exercise one validation."""
    check_suites([_WARM_SUITE], "warm_up", pd.DataFrame({"x": [1]}))


class ValidationWorker:
    """One worker process that runs ``check_suites``; started warm (see the module docstring)."""

    def __init__(self) -> None:
        # fork shares the modules this process has loaded (pandas, numpy, ...) so the child only
        # imports Great Expectations; spawn (a fresh interpreter) when threads make fork unsafe
        method = (
            "fork"
            if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
            else "spawn"
        )
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context(method),
            initializer=_warm_up,
        )
        self._pool.submit(int)  # start the process now, so the import overlaps the run

    def check(
        self, suites: list[dict[str, Any]], dataset: str, df: pd.DataFrame
    ) -> list[ValidationSummary]:
        """Summaries of ``df`` against ``suites`` (in the worker; in this process if it broke)."""
        if self._pool is not None:
            try:
                return self._pool.submit(check_suites, suites, dataset, df).result()
            except BrokenProcessPool as exc:
                logger.warning("expectation worker stopped (%s): validating in-process", exc)
                self.close()
        return check_suites(suites, dataset, df)

    def close(self) -> None:
        """Stop the worker process (idempotent), even in the middle of its warm-up import."""
        if self._pool is not None:
            # the pool would let a worker finish its initializer (seconds of import) and the
            # interpreter would wait for it at exit: terminate it (no check is in flight here)
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
            self._pool = None


_early: ValidationWorker | None = None


def cli_run_requested(argv: list[str] | None = None) -> bool:
    """True when this process is ``kedro run ...`` (or ``python -m kedro run ...``)."""
    argv = sys.argv if argv is None else argv
    return (
        len(argv) > 1
        and argv[1] == "run"
        and (Path(argv[0]).name == "kedro" or Path(argv[0]).parent.name == "kedro")
    )


def start_for_cli_run() -> None:
    """Fork the worker now if this process is ``kedro run`` (see the module docstring)."""
    global _early  # noqa: PLW0603 - one early worker per process
    if _early is None and worker_enabled() and cli_run_requested():
        try:
            _early = ValidationWorker()
        except OSError as exc:
            logger.debug("early expectation worker not started: %s", exc)


def take_early_worker() -> ValidationWorker | None:
    """The worker :func:`start_for_cli_run` forked, handed over once (None if there is none)."""
    global _early  # noqa: PLW0603
    worker, _early = _early, None
    return worker
