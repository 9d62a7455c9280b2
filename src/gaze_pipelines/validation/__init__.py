"""Great Expectations suites (``conf/base/expectations``) and their validation."""

from gaze_pipelines.validation.suites import (
    ExpectationFailure,
    SuiteRegistry,
    ValidationSummary,
    validate_dataframe,
)

__all__ = ["ExpectationFailure", "SuiteRegistry", "ValidationSummary", "validate_dataframe"]
