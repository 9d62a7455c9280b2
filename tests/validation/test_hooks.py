"""ExpectationValidationHook: suites bound to catalog entries validate tables before they are saved."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from gaze_pipelines.hooks import ExpectationValidationHook
from gaze_pipelines.validation.suites import ExpectationFailure

SUITE = {
    "name": "toy_suite",
    "meta": {"kedro_datasets": ["toy_table"]},
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}}
    ],
}


def _hook(tmp_path) -> ExpectationValidationHook:
    suites = tmp_path / "conf" / "base" / "expectations"
    suites.mkdir(parents=True)
    (suites / "toy.json").write_text(json.dumps(SUITE))
    hook = ExpectationValidationHook()
    context = SimpleNamespace(config_loader=SimpleNamespace(conf_source=str(tmp_path / "conf")))
    hook.after_context_created(context)
    return hook


def test_bound_table_validated_before_save(tmp_path):
    hook = _hook(tmp_path)
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1, 2]}), None)
    with pytest.raises(ExpectationFailure, match="toy_suite"):
        hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [-1, 2]}), None)
    # tables without a suite, and non-tables, are not validated
    hook.before_dataset_saved("other_table", pd.DataFrame({"x": [-1]}), None)
    hook.before_dataset_saved("toy_table", {"x": [-1]}, None)


def _pipeline(*outputs: str) -> SimpleNamespace:
    return SimpleNamespace(all_outputs=lambda: set(outputs))


def test_worker_validates_like_the_process_and_stops(tmp_path, monkeypatch):
    monkeypatch.delenv("GAZE_PIPELINES_VALIDATION_WORKER", raising=False)
    hook = _hook(tmp_path)
    hook.before_pipeline_run({}, _pipeline("other_table"), None)
    assert hook._worker is None  # nothing bound is saved: no worker
    hook.before_pipeline_run({}, _pipeline("toy_table", "other_table"), None)
    worker = hook._worker
    assert worker is not None
    calls = []
    real = worker.check
    monkeypatch.setattr(worker, "check", lambda *a: calls.append(a[1]) or real(*a))
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1, 2]}), None)
    with pytest.raises(ExpectationFailure, match="toy_suite") as err:
        hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [-1, 2]}), None)
    assert calls == ["toy_table", "toy_table"]  # both checks ran in the worker
    assert err.value.summary.failures[0].unexpected_count == 1  # the summary crossed over whole
    hook.on_pipeline_error()
    assert hook._worker is None and worker._pool is None


def test_worker_switch_off_and_broken_worker_fall_back(tmp_path, monkeypatch):
    from gaze_pipelines.validation.worker import ValidationWorker

    monkeypatch.setenv("GAZE_PIPELINES_VALIDATION_WORKER", "0")
    hook = _hook(tmp_path)
    hook.before_pipeline_run({}, _pipeline("toy_table"), None)
    assert hook._worker is None
    worker = ValidationWorker()
    worker._pool.shutdown(wait=True)  # a dead pool: checks run in this process
    worker._pool = type(worker._pool)(max_workers=1)
    worker._pool.submit(int).result()
    for proc in worker._pool._processes.values():
        proc.kill()
    summaries = worker.check([SUITE], "toy_table", pd.DataFrame({"x": [3]}))
    assert summaries[0].success and worker._pool is None


def test_named_run_starts_the_worker_with_the_context(tmp_path, monkeypatch):
    import gaze_pipelines.hooks as hooks

    monkeypatch.delenv("GAZE_PIPELINES_VALIDATION_WORKER", raising=False)
    monkeypatch.setattr(hooks, "requested_outputs", lambda: {"toy_table", "other"})
    hook = _hook(tmp_path)  # after_context_created: `kedro run --pipeline x` saving toy_table
    early = hook._worker
    assert early is not None
    hook.before_pipeline_run({}, _pipeline("toy_table"), None)
    assert hook._worker is early  # kept, already warm
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1]}), None)
    # node filters left nothing bound to save: the worker goes
    hook.before_pipeline_run({}, _pipeline("other"), None)
    assert hook._worker is None and early._pool is None
    # no named pipelines (plain `kedro run`, notebooks): the context starts nothing
    monkeypatch.setattr(hooks, "requested_outputs", lambda: None)
    assert _hook(tmp_path / "again")._worker is None


def test_kedro_run_forks_the_worker_when_settings_load(tmp_path, monkeypatch):
    import gaze_pipelines.hooks as hooks
    from gaze_pipelines.validation import worker as vw

    assert vw.cli_run_requested(["/venv/bin/kedro", "run", "--pipeline", "x"])
    assert vw.cli_run_requested(["/lib/kedro/__main__.py", "run"])  # python -m kedro run
    assert not vw.cli_run_requested(["/venv/bin/kedro", "registry", "list"])
    assert not vw.cli_run_requested(["/venv/bin/pytest", "run"])
    monkeypatch.delenv("GAZE_PIPELINES_VALIDATION_WORKER", raising=False)
    monkeypatch.setattr(vw.sys, "argv", ["/venv/bin/kedro", "run", "--pipeline", "x"])
    # the named pipelines save a bound table: the hook adopts the worker forked at start-up
    monkeypatch.setattr(hooks, "requested_outputs", lambda: {"toy_table"})
    hook = _hook(tmp_path / "a")
    assert hook._worker is not None and vw._early is None
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1]}), None)
    hook.after_pipeline_run()
    # they save nothing bound: the early worker is terminated at once, mid-import or not
    monkeypatch.setattr(hooks, "requested_outputs", lambda: {"other"})
    hook = ExpectationValidationHook()
    early = vw._early
    processes = list(early._pool._processes.values())
    context = SimpleNamespace(config_loader=SimpleNamespace(conf_source=str(tmp_path / "conf")))
    hook.after_context_created(context)
    assert hook._worker is None and vw._early is None and early._pool is None
    for proc in processes:
        proc.join(timeout=10)
        if proc.exitcode is not None:  # terminated mid-import, not left to finish it
            assert proc.exitcode == -signal.SIGTERM
        else:  # the pool's manager thread reaped it first: is_alive/exitcode cannot tell
            assert sys.platform == "linux" and _process_ended(proc.pid)


def _process_ended(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` is gone or a zombie (read from /proc, not from ``Process.is_alive``: the
    pool's manager thread may reap the child first, and ``is_alive`` then reads ECHILD as alive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
