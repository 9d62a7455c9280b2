"""Hyper-parameter sweeps with Ray Tune and ASHA, for any model family (no Kedro imports).

A family supplies a *trainable*: a module-level function
``trainable(params: dict, data: Any, report: Callable[[dict], None]) -> None`` that trains with
the (nested) parameter tree ``params`` and calls ``report(metrics)`` once per epoch. This module

- turns a search space declared in parameters into Ray Tune domains (:func:`build_search_space`):
  ``{"train.learning_rate": {"type": "loguniform", "lower": 1e-4, "upper": 1e-2}, ...}`` with
  types ``choice`` / ``grid`` (``values``), ``uniform`` / ``loguniform`` / ``quniform`` /
  ``qloguniform`` (``lower``, ``upper``, ``q``), ``randint`` / ``lograndint`` / ``qrandint``
  (integers in ``[lower, upper)``), ``randn`` (``mean``, ``sd``); keys are dotted paths into
  the family's parameter tree;
- runs the sweep (:func:`run_sweep`) with ``ASHAScheduler(max_t=epochs, grace_period=1,
  reduction_factor=2)`` on a local Ray sized to this machine (dashboard and usage statistics
  off, nothing downloaded), or on an existing cluster given its ``address``;
- returns every trial as a table and the best configuration as a nested parameters tree
  (:func:`best_params_tree`) that a user drops into ``conf/local``.

Large inputs reach the trials once, through Ray's object store (``tune.with_parameters``).
A trial whose configuration is invalid (the trainable raises ``ValueError``) is reported with
the worst metric instead of failing the sweep.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger("gaze_pipelines.tune")

Trainable = Callable[[dict[str, Any], Any, Callable[[dict[str, float]], None]], None]

DOMAIN_TYPES = (
    "choice", "grid", "uniform", "quniform", "loguniform", "qloguniform", "randint", "qrandint",
    "lograndint", "randn",
)  # fmt: skip

# Ray must stay local and quiet: no usage statistics, no dashboard, no log deduplication noise.
# Reported for an invalid configuration: finite (ASHA's percentiles choke on inf), read back as inf.
_WORST = 1e300

_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_TRAIN_V2_ENABLED": "0",
}


# --------------------------------------------------------------------------------- parameters


class SearchDomain(BaseModel):
    """One searched parameter: ``type`` and its arguments (Ray Tune's sampling functions)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal[DOMAIN_TYPES]  # type: ignore[valid-type]
    values: list[Any] | None = None
    lower: float | None = None
    upper: float | None = None
    q: float | None = None
    mean: float | None = None
    sd: float | None = None


class SweepParams(BaseModel):
    """A family's ``<model>.tune`` parameters (families may subclass to add their own keys)."""

    model_config = ConfigDict(extra="forbid")

    num_samples: int = Field(8, ge=1, le=100000)
    epochs: int = Field(3, ge=1, le=10000, description="ASHA max_t (training iterations)")
    grace_period: int = Field(1, ge=1)
    reduction_factor: float = Field(2.0, gt=1)
    metric: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    seed: int = 7
    address: str | None = Field(None, description="existing Ray cluster ('auto', 'ray://h:10001')")
    num_cpus: int | None = Field(None, ge=1, description="local Ray CPUs; default: this machine")
    cpus_per_trial: float = Field(1.0, gt=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    storage_path: str | None = Field(None, description="Ray's experiment folder (None: temporary)")
    search_space: dict[str, SearchDomain | None] = Field(
        default_factory=dict,
        description="dotted key -> domain; null drops a key inherited from conf/base",
    )

    def settings(self, name: str) -> SweepSettings:
        """The ``SweepSettings`` of these parameters."""
        return SweepSettings(
            epochs=self.epochs, num_samples=self.num_samples, metric=self.metric, mode=self.mode,
            grace_period=self.grace_period, reduction_factor=self.reduction_factor,
            seed=self.seed, address=self.address, num_cpus=self.num_cpus,
            cpus_per_trial=self.cpus_per_trial, max_concurrent_trials=self.max_concurrent_trials,
            storage_path=self.storage_path, name=name,
        )  # fmt: skip

    def space(self) -> dict[str, dict[str, Any]]:
        """The search space as plain dicts (input of :func:`run_sweep`)."""
        return {
            k: v.model_dump(exclude_none=True)
            for k, v in self.search_space.items()
            if v is not None
        }


# ------------------------------------------------------------------------------- search space


def _domain(key: str, spec: Mapping[str, Any]):
    from ray import tune  # noqa: PLC0415 - Ray is the optional `tune` extra

    kind = spec.get("type")
    if kind not in DOMAIN_TYPES:
        raise ValueError(
            f"search_space.{key}.type: must be one of {list(DOMAIN_TYPES)}, got {kind!r}"
        )

    def need(*names: str) -> list[Any]:
        missing = [n for n in names if spec.get(n) is None]
        if missing:
            raise ValueError(f"search_space.{key}: type '{kind}' needs {', '.join(missing)}")
        return [spec[n] for n in names]

    if kind in ("choice", "grid"):
        (values,) = need("values")
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(f"search_space.{key}.values: must be a non-empty list")
        return tune.choice(list(values)) if kind == "choice" else tune.grid_search(list(values))
    if kind == "randn":
        mean, sd = need("mean", "sd")
        return tune.randn(float(mean), float(sd))
    lower, upper = need("lower", "upper")
    if not lower < upper:
        raise ValueError(f"search_space.{key}: lower ({lower}) must be < upper ({upper})")
    if kind in ("loguniform", "qloguniform", "lograndint") and lower <= 0:
        raise ValueError(f"search_space.{key}: '{kind}' needs lower > 0, got {lower}")
    if kind == "uniform":
        return tune.uniform(float(lower), float(upper))
    if kind == "loguniform":
        return tune.loguniform(float(lower), float(upper))
    if kind == "randint":
        return tune.randint(int(lower), int(upper))
    if kind == "lograndint":
        return tune.lograndint(int(lower), int(upper))
    (q,) = need("q")
    if kind == "quniform":
        return tune.quniform(float(lower), float(upper), float(q))
    if kind == "qloguniform":
        return tune.qloguniform(float(lower), float(upper), float(q))
    return tune.qrandint(int(lower), int(upper), int(q))


def build_search_space(space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Ray Tune domains for a parameters-declared search space (flat dotted keys)."""
    if not space:
        raise ValueError("search_space: declare at least one parameter to search")
    return {key: _domain(key, dict(spec)) for key, spec in space.items()}


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``'a.b.c'``, creating dicts on the way."""
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def check_paths(tree: Mapping[str, Any], keys: list[str], root: str) -> None:
    """Fail early when a searched key does not exist in the parameter tree."""
    for key in keys:
        node: Any = tree
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ValueError(f"search_space.{key}: '{root}.{key}' is not a parameter")
            node = node[part]


def apply_config(base: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with every dotted ``config`` key set."""
    out = copy.deepcopy(dict(base))
    for key, value in config.items():
        set_dotted(out, key, _plain(value))
    return out


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (so YAML and pydantic see plain values)."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def best_params_tree(root: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The best configuration as a nested parameters tree under ``root`` (e.g. ``webcam``)."""
    tree: dict[str, Any] = {}
    for key in sorted(config):
        set_dotted(tree, key, _plain(config[key]))
    out: dict[str, Any] = {}
    set_dotted(out, root, tree)
    return out


# ----------------------------------------------------------------------------------- ray setup


@dataclass
class SweepSettings:
    """How to run a sweep (mirrors a family's ``<model>.tune`` parameters)."""

    epochs: int
    num_samples: int = 8
    metric: str = "val_loss"
    mode: str = "min"
    grace_period: int = 1
    reduction_factor: float = 2.0
    seed: int = 0
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_trial: float = 1.0
    max_concurrent_trials: int | None = None
    storage_path: str | None = None
    name: str = "sweep"
    env: dict[str, str] = field(default_factory=dict)


def _runtime_env(settings: SweepSettings) -> dict[str, Any]:
    threads = str(max(1, math.floor(settings.cpus_per_trial)))
    env = {
        **_RAY_ENV,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": threads,
        "KEDRO_DISABLE_TELEMETRY": "true",
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env.update(settings.env)
    return {"env_vars": env}


def init_ray(settings: SweepSettings) -> bool:
    """Start a local Ray sized to this machine, or connect to ``address``; True if we started it."""
    for k, v in _RAY_ENV.items():
        os.environ.setdefault(k, v)
    import ray  # noqa: PLC0415

    logging.getLogger("tensorboardX").setLevel(logging.ERROR)
    if ray.is_initialized():
        return False
    common = {"runtime_env": _runtime_env(settings), "log_to_driver": False,
              "logging_level": logging.WARNING, "ignore_reinit_error": True}  # fmt: skip
    if settings.address:
        logger.info("tune: connecting to the Ray cluster at %s", settings.address)
        ray.init(address=settings.address, **common)
        return True
    cpus = settings.num_cpus or os.cpu_count() or 1
    logger.info("tune: starting a local Ray with %d CPUs (no dashboard, no usage stats)", cpus)
    ray.init(num_cpus=cpus, num_gpus=0, include_dashboard=False, **common)
    return True


def _wrap(trainable: Trainable, metric: str, mode: str) -> Callable[..., None]:
    worst = _WORST if mode == "min" else -_WORST

    def run(config: dict[str, Any], base: dict[str, Any], data: Any) -> None:
        from ray import tune  # noqa: PLC0415

        params = apply_config(base, config)
        try:
            trainable(params, data, lambda metrics: tune.report(dict(metrics)))
        except ValueError as exc:  # an invalid sampled configuration is a bad trial, not a crash
            tune.report({metric: worst, "invalid_config": str(exc)[:500]})

    run.__name__ = getattr(trainable, "__name__", "trainable")
    return run


@dataclass
class SweepResult:
    """Every trial (one row each), the best configuration and its metric, wall time."""

    trials: pd.DataFrame
    best_config: dict[str, Any]
    best_metric: float
    best_trial: str
    seconds: float
    storage_path: str


def run_sweep(
    trainable: Trainable,
    data: Any,
    base_params: Mapping[str, Any],
    search_space: Mapping[str, Mapping[str, Any]],
    settings: SweepSettings,
) -> SweepResult:
    """Run an ASHA sweep of ``trainable`` over ``search_space`` and return the trials and best."""
    check_paths(base_params, list(search_space), settings.name)
    space = build_search_space(search_space)
    if settings.mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {settings.mode!r}")
    started = init_ray(settings)
    from ray import tune  # noqa: PLC0415
    from ray.tune.schedulers import ASHAScheduler  # noqa: PLC0415
    from ray.tune.search import BasicVariantGenerator  # noqa: PLC0415

    tmp = None
    storage = settings.storage_path
    if storage is None:
        tmp = tempfile.TemporaryDirectory(prefix="gaze_tune_")
        storage = tmp.name
    storage = str(Path(storage).resolve()) if "://" not in storage else storage
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=settings.epochs,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
    )
    run = tune.with_parameters(
        _wrap(trainable, settings.metric, settings.mode), base=dict(base_params), data=data
    )
    run = tune.with_resources(run, {"cpu": settings.cpus_per_trial})
    tuner = tune.Tuner(
        run,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=settings.metric,
            mode=settings.mode,
            scheduler=scheduler,
            num_samples=settings.num_samples,
            max_concurrent_trials=settings.max_concurrent_trials,
            search_alg=BasicVariantGenerator(random_state=settings.seed),
            reuse_actors=False,  # function trainables cannot be reset; Ray would log an error
        ),
        run_config=tune.RunConfig(
            name=f"{settings.name}_{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=storage,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    start = time.perf_counter()
    try:
        grid = tuner.fit()
        seconds = time.perf_counter() - start
        trials = _trials_table(grid, list(search_space), settings.metric, settings.mode)
        errors = [str(e) for e in grid.errors]
    finally:
        if started:
            import ray  # noqa: PLC0415

            ray.shutdown()
        if tmp is not None:
            tmp.cleanup()
    finite = trials[trials["best_" + settings.metric].map(_is_finite)]
    if finite.empty:
        detail = "; ".join(errors[:3]) or "every configuration was invalid"
        raise RuntimeError(f"tune: no trial produced a finite '{settings.metric}': {detail}")
    best = finite.iloc[0]
    config = {k: _plain(best[f"config/{k}"]) for k in search_space}
    logger.info(
        "tune: %d trials in %.1f s, best %s = %.6g (%s)",
        len(trials), seconds, settings.metric, best["best_" + settings.metric], best["trial_id"],
    )  # fmt: skip
    return SweepResult(
        trials=trials,
        best_config=config,
        best_metric=float(best["best_" + settings.metric]),
        best_trial=str(best["trial_id"]),
        seconds=seconds,
        storage_path=settings.storage_path or "",
    )


def sweep_summary(result: SweepResult, params: SweepParams, tuned_file: str) -> dict[str, Any]:
    """JSON-able summary of a sweep: counts, best trial and configuration, scheduler, Ray."""
    return {
        "trials": int(len(result.trials)),
        "epochs": params.epochs,
        "metric": params.metric,
        "best_metric": result.best_metric,
        "best_trial": result.best_trial,
        "best_config": result.best_config,
        "wall_seconds": round(result.seconds, 2),
        "scheduler": {
            "name": "ASHA",
            "max_t": params.epochs,
            "grace_period": params.grace_period,
            "reduction_factor": params.reduction_factor,
        },  # fmt: skip
        "ray": {"address": params.address or "local", "cpus_per_trial": params.cpus_per_trial},
        "use": f"copy {tuned_file} into conf/local/ to train with the best configuration",
    }


def _is_finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _trials_table(grid: Any, keys: list[str], metric: str, mode: str) -> pd.DataFrame:
    rows = []
    for result in grid:
        df = result.metrics_dataframe
        row: dict[str, Any] = {"trial_id": (result.metrics or {}).get("trial_id")}
        for k in keys:
            row[f"config/{k}"] = _plain((result.config or {}).get(k))
        if df is not None and metric in getattr(df, "columns", []):
            values = pd.to_numeric(df[metric], errors="coerce")
            values = values.mask(values.abs() >= _WORST, math.inf if mode == "min" else -math.inf)
            row["iterations"] = int(len(values))
            row["best_" + metric] = float(values.min() if mode == "min" else values.max())
            row["last_" + metric] = float(values.iloc[-1])
        else:
            row["iterations"] = 0
            row["best_" + metric] = math.nan
            row["last_" + metric] = math.nan
        metrics = result.metrics or {}
        for k, v in metrics.items():
            if (
                k.startswith(("val_", "rmse", "loss"))
                and k != metric
                and isinstance(v, int | float)
            ):
                row[f"last_{k}"] = float(v)
        row["invalid_config"] = metrics.get("invalid_config", "")
        row["error"] = str(result.error) if result.error else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    ascending = mode == "min"
    key = "best_" + metric
    table["_order"] = table[key].map(
        lambda v: v if _is_finite(v) else math.inf * (1 if ascending else -1)
    )
    table = table.sort_values("_order", ascending=ascending, kind="stable").drop(columns="_order")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)
