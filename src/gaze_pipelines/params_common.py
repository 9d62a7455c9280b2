"""Shared parameter validation: strict pydantic models and errors that name the key path.

Every family's ``params.py`` builds on these, and the start-up hook uses them, so a bad value
reads the same everywhere: ``gazenet.dataset_convert.workers: Input should be greater than or
equal to 0 (got -3)``; pydantic's messages list the allowed values of enums and literals.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A parameter model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid")


def _member_for_tag(annotation: Any, tag: str) -> type[BaseModel] | None:
    """The member of a (discriminated) union of models whose tag literal is ``tag``."""
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            for field in arg.model_fields.values():
                if get_origin(field.annotation) is Literal and tag in get_args(field.annotation):
                    return arg
        else:
            found = _member_for_tag(arg, tag)
            if found is not None:
                return found
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _walk(
    model: type[BaseModel] | None, loc: tuple[Any, ...]
) -> tuple[list[Any], type[BaseModel] | None]:
    """Displayed path (discriminator tags dropped) and the model owning the last key."""
    shown: list[Any] = []
    current: Any = model
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            shown.append(part)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            if field is not None:
                shown.append(part)
                annotation = field.annotation
                current = _model_in(annotation)
                continue
        tagged = _member_for_tag(annotation, part) if annotation is not None else None
        if tagged is not None:  # pydantic puts the union tag in the path: hide it
            current = tagged
            continue
        shown.append(part)
        current = None
    owner = current if isinstance(current, type) and issubclass(current, BaseModel) else None
    return shown, owner


def format_validation_error(
    exc: ValidationError, key_path: str, model: type[BaseModel] | None = None
) -> str:
    """One line per error: ``key.path: message (got value)``.

    With ``model`` (the validated class), unknown keys list the allowed ones and discriminated
    union tags are left out of the path.
    """
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = err["msg"]
        if model is not None:
            shown, _ = _walk(model, loc)
            if err["type"] == "extra_forbidden":
                _, owner = _walk(model, loc[:-1])
                if owner is not None:
                    allowed = sorted(f.alias or n for n, f in owner.model_fields.items())
                    msg = f"unknown key; allowed keys: {', '.join(allowed)}"
        else:
            shown = list(loc)
        path = ".".join(str(p) for p in (key_path, *shown) if p != "")
        got = err.get("input")
        got_text = "{...}" if isinstance(got, dict) else repr(got)
        lines.append(f"{path}: {msg} (got {got_text[:120]})")
    return "invalid parameters:\n  " + "\n  ".join(lines)


def validate(model: type[M], raw: Any, key_path: str) -> M:
    """Validate ``raw`` against ``model``; ``ValueError`` names the key path and allowed values."""
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, key_path, model)) from None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base`` key by key (dicts recursively, lists replaced)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
