"""Project hooks: expectation validation of bound datasets, and the run report."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from pydantic import ValidationError

from gaze_pipelines.core.io import atomic_write_text
from gaze_pipelines.params_common import format_validation_error
from gaze_pipelines.validation.suites import SuiteRegistry
from gaze_pipelines.validation.worker import (
    ValidationWorker,
    start_for_cli_run,
    take_early_worker,
    worker_enabled,
)

logger = logging.getLogger(__name__)


class ParameterError(ValueError):
    """A parameter failed validation; the message lists every bad key path and allowed values."""


def _params_models(tops: set[str] | None = None) -> dict[str, type]:
    """Collect ``PARAMS_MODELS`` ({dotted parameter key: pydantic model}) of every family.

    With ``tops`` (top-level parameter keys, e.g. ``gazenet``, ``nvgaze_tune``), only the
    families those keys belong to are imported.
    """
    import gaze_pipelines.pipelines as pkg  # noqa: PLC0415

    wanted = None if tops is None else {pkg.family_of(t) for t in tops}
    models: dict[str, type] = {}
    for family in pkg.model_families():
        if wanted is not None and family not in wanted:
            continue
        fam_pkg = importlib.import_module(f"{pkg.__name__}.{family}")
        for mod in pkgutil.iter_modules(fam_pkg.__path__):
            if mod.name.startswith("params"):
                module = importlib.import_module(f"{fam_pkg.__name__}.{mod.name}")
                models.update(getattr(module, "PARAMS_MODELS", {}))
    return models


def _lookup(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def validate_parameters(params: dict[str, Any], used: set[str] | None = None) -> None:
    """Validate every registered parameter model whose key is present (and used, if given)."""
    problems = []
    tops = None if used is None else {u.split(".", 1)[0] for u in used}
    for key, model in _params_models(tops).items():
        if used is not None and not any(
            u == key or u.startswith(key + ".") or key.startswith(u + ".") for u in used
        ):
            continue
        value = _lookup(params, key)
        if value is None:
            continue
        try:
            model.model_validate(value)
        except ValidationError as exc:
            problems.append(format_validation_error(exc, key, model).split("\n", 1)[1])
    if problems:
        raise ParameterError(
            "invalid parameters (conf/base + conf/local + --params):\n" + "\n".join(problems)
        )


class ParameterValidationHook:
    """Validate the parameters a pipeline uses before any node runs."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        """Fail fast with key paths and allowed values."""
        used = {i[len("params:") :] for i in pipeline.inputs() if i.startswith("params:")}
        if not used:
            return
        params = catalog.load("parameters")
        validate_parameters(params, used)


def requested_outputs() -> set[str] | None:
    """Outputs of the pipelines a ``kedro run`` names (None: no run, or no names given)."""
    from kedro.framework.project import pipelines  # noqa: PLC0415

    from gaze_pipelines.pipeline_registry import requested_pipelines  # noqa: PLC0415

    names = requested_pipelines()
    if not names:
        return None
    outputs: set[str] = set()
    for name in names:
        try:
            outputs |= pipelines[name].all_outputs()
        except Exception:  # noqa: BLE001 - an unknown name fails in KedroSession.run, as usual
            return None
    return outputs


class ExpectationValidationHook:
    """Validate every suite-bound table before it is saved; a failure stops the run.

    When the pipeline saves a bound dataset, a background worker (``validation.worker``) imports
    Great Expectations while Kedro loads the configuration and the first nodes run, and checks
    the tables. In ``kedro run`` the worker is forked when the settings load; once the context
    exists a named run keeps it only if its pipelines save a bound dataset, and
    ``before_pipeline_run`` keeps it only if the pipeline, after its node filters, still does.
    """

    def __init__(self) -> None:
        self._registry: SuiteRegistry | None = None
        self._worker: ValidationWorker | None = None
        start_for_cli_run()  # settings load first in `kedro run`: the import starts at once

    @hook_impl
    def after_context_created(self, context) -> None:
        """Load the suites of ``conf/base/expectations``; start the worker for a named run."""
        conf_source = Path(context.config_loader.conf_source)
        self._registry = SuiteRegistry(conf_source / "base" / "expectations")
        self._stop_worker()
        early = take_early_worker()
        outputs = requested_outputs()
        if worker_enabled() and self._saves_bound(outputs):
            self._worker = early
            if self._worker is None:
                self._start_worker()
        elif outputs is None and early is not None:
            self._worker = early  # no names given: before_pipeline_run decides
        elif early is not None:
            early.close()

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        """Keep (or start) the warm worker if this pipeline saves a suite-bound dataset."""
        if not worker_enabled() or not self._saves_bound(pipeline.all_outputs()):
            self._stop_worker()
        elif self._worker is None:
            self._start_worker()

    def _saves_bound(self, outputs: set[str] | None) -> bool:
        return (
            bool(outputs)
            and self._registry is not None
            and any(self._registry.suites_for(name) for name in outputs or ())
        )

    def _start_worker(self) -> None:
        try:
            self._worker = ValidationWorker()
        except OSError as exc:  # no processes allowed: validate in-process
            logger.warning("expectation worker not started (%s): validating in-process", exc)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        """Run the suites bound to ``dataset_name``; raise ``ExpectationFailure`` on failure."""
        if self._registry is None or not isinstance(data, pd.DataFrame):
            return
        check = self._worker.check if self._worker is not None else None
        self._registry.validate(dataset_name, data, check=check)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Stop the worker."""
        self._stop_worker()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Stop the worker."""
        self._stop_worker()

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


class BackgroundWritesHook:
    """Write-behind saves (``FileTreeDataset(write_behind=True)``) are done before anyone reads.

    A dataset this run saved is complete when it is loaded (a write-behind dataset's own ``load``
    waits for its write). Any other dataset (a raw input, a record reader, another transcoding
    of a saved entry) may read files that a write-behind save is still creating, so loading it
    first waits for every pending write: ``__default__``'s training reads the crops
    ``gazenet_data`` has just handed to its writer. The run ends only when the writes are done
    (before the other ``after_pipeline_run`` hooks, so the run report's seconds include the
    wait); a failed write fails the run.
    """

    def __init__(self) -> None:
        self._saved: set[str] = set()

    @staticmethod
    def _wait() -> None:
        from gaze_pipelines.datasets.file_tree import wait_for_background_writes  # noqa: PLC0415

        wait_for_background_writes()

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Start with no dataset saved."""
        self._saved = set()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """Remember what this run has written."""
        self._saved.add(dataset_name)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        """Wait for pending writes before loading a dataset this run did not save."""
        if (
            dataset_name not in self._saved
            and dataset_name != "parameters"
            and not dataset_name.startswith("params:")
        ):
            self._wait()

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        """Wait for the writes; raise the first failure."""
        self._wait()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Let the writes finish (their failures are logged; the run has failed already)."""
        try:
            self._wait()
        except Exception as exc:  # noqa: BLE001 - the pipeline's own error is the one raised
            logger.error("%s", exc)


class RunReportHook:
    """Write ``data/08_reporting/run_report.json``: node timings, table sizes, rejects by reason."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._node_start: dict[str, float] = {}
        self._nodes: dict[str, float] = {}
        self._tables: dict[str, int] = {}
        self._rejects: dict[str, dict[str, int]] = defaultdict(dict)
        self._t0 = time.perf_counter()

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Start a fresh report."""
        self._reset()
        self._run_params = {k: str(v) for k, v in run_params.items()}

    @hook_impl
    def before_node_run(self, node) -> None:
        """Remember when the node started."""
        self._node_start[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node, outputs: dict[str, Any]) -> None:
        """Record node duration, table sizes and reject counts of its outputs."""
        self._nodes[node.name] = round(time.perf_counter() - self._node_start.get(node.name, 0), 3)
        for name, value in outputs.items():
            if not isinstance(value, pd.DataFrame):
                continue
            self._tables[name] = len(value)
            if name.endswith("rejects") and "reason" in value.columns:
                counts = value["reason"].astype(str).str.split(":").str[0].value_counts()
                self._rejects[name] = {str(k): int(v) for k, v in counts.items()}
                total = int(counts.sum())
                if total:
                    logger.warning(
                        "%s: %d rejected rows (%s)",
                        name,
                        total,
                        ", ".join(f"{k}={v}" for k, v in self._rejects[name].items()),
                    )
                else:
                    logger.info("%s: no rejected rows", name)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Write the report next to the other reporting outputs."""
        project_path = Path(run_params.get("project_path") or ".")
        report = {
            "pipeline": run_params.get("pipeline_names") or run_params.get("pipeline_name"),
            "run_id": run_params.get("run_id") or run_params.get("session_id"),
            "seconds": round(time.perf_counter() - self._t0, 3),
            "nodes": self._nodes,
            "tables": self._tables,
            "rejects": self._rejects,
        }
        out = project_path / "data" / "08_reporting" / "run_report.json"
        try:
            atomic_write_text(out, json.dumps(report, indent=2, default=str))
        except OSError as exc:  # reporting must never mask the run's own outcome
            logger.warning("could not write run report %s: %s", out, exc)
