"""Shared parameter validation: strict pydantic models and errors that name the key path.

Every family's ``params.py`` builds on these, and the start-up hook uses them, so a bad value
reads the same everywhere: ``gazenet.dataset_convert.workers: Input should be greater than or
equal to 0 (got -3)``; pydantic's messages list the allowed values of enums and literals.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A parameter model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid")


def format_validation_error(exc: ValidationError, key_path: str) -> str:
    """One line per error: ``key.path: message (got value)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (key_path, *err["loc"]) if p != "")
        lines.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return "invalid parameters:\n  " + "\n  ".join(lines)


def validate(model: type[M], raw: Any, key_path: str) -> M:
    """Validate ``raw`` against ``model``; ``ValueError`` names the key path and allowed values."""
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, key_path)) from None
