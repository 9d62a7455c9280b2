"""Load Great Expectations 1.x suites from JSON and validate pandas tables against them.

A suite file is the JSON form of ``gx.ExpectationSuite`` plus ``meta.kedro_datasets``: the catalog
entries the suite is bound to. Great Expectations is imported lazily (it is slow to import and only
needed when a bound dataset is saved) and with analytics off, so nothing reaches the network.
"""

from __future__ import annotations

import json
import keyword
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)


class ExpectationFailure(RuntimeError):
    """Raised when a dataset does not meet its expectation suite."""

    def __init__(self, summary: ValidationSummary):
        self.summary = summary
        super().__init__(summary.render())

    def __reduce__(self):  # picklable (raised across the validation worker's process boundary)
        return (type(self), (self.summary,))


@dataclass
class FailedExpectation:
    """One failed expectation: its type, arguments, how many rows failed and examples."""

    expectation_type: str
    kwargs: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    observed_value: Any = None

    def render(self) -> str:
        """One readable line for the failure summary."""
        column = self.kwargs.get("column") or self.kwargs.get("column_list") or ""
        args = {k: v for k, v in self.kwargs.items() if k not in ("column", "batch_id")}
        parts = [f"{self.expectation_type}({column}{', ' if column and args else ''}"]
        parts.append(", ".join(f"{k}={v!r}" for k, v in args.items()) + ")")
        line = "".join(parts)
        if self.unexpected_count is not None:
            pct = (
                f" ({self.unexpected_percent:.2f}%)" if self.unexpected_percent is not None else ""
            )
            line += f": {self.unexpected_count} rows{pct}"
        if self.examples:
            line += f", e.g. {self.examples[:5]!r}"
        if self.observed_value is not None and self.unexpected_count is None:
            line += f": observed {self.observed_value!r}"
        return line


@dataclass
class ValidationSummary:
    """Outcome of validating one dataset against one suite."""

    dataset: str
    suite: str
    n_rows: int
    evaluated: int
    failures: list[FailedExpectation]

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return not self.failures

    def render(self) -> str:
        """Short human-readable summary: which expectations failed, how many rows, examples."""
        head = (
            f"dataset '{self.dataset}' failed suite '{self.suite}': "
            f"{len(self.failures)} of {self.evaluated} expectations on {self.n_rows} rows"
        )
        return "\n".join([head] + [f"  - {f.render()}" for f in self.failures])


def _gx():
    """Import Great Expectations lazily, with analytics disabled."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx  # noqa: PLC0415

    return gx


def load_suite_dict(path: str | Path) -> dict[str, Any]:
    """Read a suite JSON file and check its basic shape."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"expectation suite {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "name" not in data or "expectations" not in data:
        raise ValueError(f"expectation suite {path} needs 'name' and 'expectations' keys")
    return data


def build_suite(data: dict[str, Any]):
    """Build a ``gx.ExpectationSuite`` from its dict form, failing on any invalid expectation."""
    gx = _gx()
    suite = gx.ExpectationSuite(
        name=data["name"],
        expectations=[],
        meta=data.get("meta", {}),
    )
    for raw in data["expectations"]:
        exp_type = raw.get("type") or raw.get("expectation_type")
        config = gx.expectations.expectation_configuration.ExpectationConfiguration(
            type=exp_type, kwargs=raw.get("kwargs", {}), meta=raw.get("meta", {})
        )
        try:
            suite.add_expectation_configuration(config)
        except Exception as exc:  # noqa: BLE001 - re-raised with the suite name
            raise ValueError(f"suite '{data['name']}': invalid expectation {raw!r}: {exc}") from exc
    return suite


def _summarise(result: Any, dataset: str, suite_name: str, n_rows: int) -> ValidationSummary:
    failures: list[FailedExpectation] = []
    results = list(result.results)
    for res in results:
        if res.success:
            continue
        cfg = res.expectation_config
        info = res.result or {}
        failures.append(
            FailedExpectation(
                expectation_type=cfg.type,
                kwargs={k: v for k, v in dict(cfg.kwargs).items() if k != "batch_id"},
                unexpected_count=info.get("unexpected_count"),
                unexpected_percent=info.get("unexpected_percent"),
                examples=list(info.get("partial_unexpected_list") or [])[:5],
                observed_value=info.get("observed_value"),
            )
        )
        if res.exception_info and res.exception_info.get("raised_exception"):
            failures[-1].observed_value = res.exception_info.get("exception_message")
    return ValidationSummary(dataset, suite_name, n_rows, len(results), failures)


def validate_dataframe(
    df: pd.DataFrame, suite_dict: dict[str, Any], dataset: str = ""
) -> ValidationSummary:
    """Validate a pandas DataFrame against a suite (dict form) with an ephemeral GX context."""
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas(name="kedro")
    asset = source.add_dataframe_asset(name=dataset or "table")
    batch_def = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(build_suite(suite_dict))
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format={"result_format": "SUMMARY"})
    return _summarise(result, dataset, suite_dict["name"], len(df))


def check_suites(
    suites: list[dict[str, Any]], dataset: str, df: pd.DataFrame
) -> list[ValidationSummary]:
    """Validate ``df`` against each suite in turn, stopping after the first that fails."""
    summaries = []
    for suite in suites:
        summaries.append(validate_dataframe(df, suite, dataset))
        if not summaries[-1].success:
            break
    return summaries


# expectations that look at the table as a whole (its column list or count): validated on the
# full table; every other expectation names the columns it reads in these kwargs
_WHOLE_TABLE = re.compile(r"^expect_table_(columns?_|column_count)")
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_NAME = re.compile(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*)")


def suite_columns(suite: dict[str, Any]) -> set[str] | None:
    """Columns the suite's expectations read (kwargs and row conditions); None = the whole table.

    None when an expectation checks the column list or count, or names no column and is not a
    row-count check, so an unknown expectation type always sees every column.
    """
    used: set[str] = set()
    for raw in suite.get("expectations", []):
        exp_type = str(raw.get("type") or raw.get("expectation_type") or "")
        kwargs = raw.get("kwargs", {}) or {}
        if _WHOLE_TABLE.match(exp_type):
            return None
        named = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
        named += list(kwargs.get("column_list") or [])
        if not named and not exp_type.startswith("expect_table_row_count"):
            return None
        used.update(str(c) for c in named)
        condition = kwargs.get("row_condition")
        if isinstance(condition, str):
            names = (a or b for a, b in _NAME.findall(condition))
            used.update(n for n in names if not keyword.iskeyword(n))
    return used


def project_for_suites(df: pd.DataFrame, suites: list[dict[str, Any]]) -> pd.DataFrame:
    """``df`` cut to the columns ``suites`` read (same rows, same order), or ``df`` itself.

    Great Expectations hashes (pickles) the whole frame for each batch and the hook sends it to
    its worker process: array-valued columns no expectation reads only cost time there.
    """
    wanted: set[str] = set()
    for suite in suites:
        cols = suite_columns(suite)
        if cols is None:
            return df
        wanted |= cols
    keep = [c for c in df.columns if c in wanted]
    return df if len(keep) == df.shape[1] else df.loc[:, keep]


class SuiteRegistry:
    """Suites found in a directory, indexed by the catalog entries they are bound to."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.by_dataset: dict[str, list[dict[str, Any]]] = {}
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            data = load_suite_dict(path)
            for name in data.get("meta", {}).get("kedro_datasets", []):
                self.by_dataset.setdefault(name, []).append(data)

    def suites_for(self, dataset_name: str) -> list[dict[str, Any]]:
        """Suites bound to a catalog entry (namespaced names match on their last part too)."""
        found = self.by_dataset.get(dataset_name)
        if found is None and "." in dataset_name:
            found = self.by_dataset.get(dataset_name.rsplit(".", 1)[-1])
        return found or []

    def datasets(self) -> Iterable[str]:
        """Names of all bound catalog entries."""
        return self.by_dataset.keys()

    def validate(
        self,
        dataset_name: str,
        df: pd.DataFrame,
        check: Callable[[list[dict[str, Any]], str, pd.DataFrame], list[ValidationSummary]]
        | None = None,
    ) -> list[ValidationSummary]:
        """Validate a table against every suite bound to it; raise on the first failure.

        ``check`` runs the suites (default :func:`check_suites` in this process; the hook passes
        its background worker's).
        """
        suites = self.suites_for(dataset_name)
        if not suites:
            return []
        table = project_for_suites(df, suites)
        summaries = (check or check_suites)(suites, dataset_name, table)
        for summary in summaries:
            if not summary.success:
                raise ExpectationFailure(summary)
            logger.info(
                "expectations: '%s' passed suite '%s' (%d expectations, %d rows)",
                dataset_name,
                summary.suite,
                summary.evaluated,
                summary.n_rows,
            )
        return summaries
