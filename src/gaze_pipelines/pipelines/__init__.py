"""Model family packages (``gazenet``, ``gesturenet``, ``nvgaze``, ``webcam``) and the naming rule
that ties pipelines, parameter keys and config files to them."""

from __future__ import annotations

import functools
import pkgutil


@functools.cache
def model_families() -> tuple[str, ...]:
    """The family packages in this folder, sorted (found without importing them)."""
    return tuple(
        sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg and m.name[0] != "_")
    )


def family_of(name: str) -> str | None:
    """The family a name belongs to: itself or ``<family>_...`` (``gazenet_data``,
    ``nvgaze_tune``); None when no family owns it."""
    for family in model_families():
        if name == family or name.startswith(family + "_"):
            return family
    return None
