"""Shared test fixtures: paths to ../shared/fixtures and an isolated Kedro project runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# no timing assertions in tests: hypothesis' per-example deadline fails on a loaded CI machine
settings.register_profile("gaze_pipelines", deadline=None)
settings.load_profile("gaze_pipelines")

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
TAO_FIXTURES = SHARED_FIXTURES / "tao"
KEDRO_BIN = Path(sys.executable).parent / "kedro"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def tao_fixtures() -> Path:
    """The real TAO files in ../shared/fixtures/tao (fail loudly if the checkout lacks them)."""
    if not TAO_FIXTURES.is_dir():
        pytest.fail(f"shared fixtures not found at {TAO_FIXTURES}: clone with ../shared beside it")
    return TAO_FIXTURES


class KedroProject:
    """A throw-away copy of this project's conf/ in a temp folder, run with ``kedro run``."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(REPO / "conf" / "base", root / "conf" / "base")
        (root / "conf" / "local").mkdir(parents=True)
        shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
        (root / "src").mkdir()  # kedro requires source_dir; the package comes from PYTHONPATH
        (root / ".telemetry").write_text("consent: false\n")
        for layer in (
            "01_raw",
            "02_intermediate",
            "03_primary",
            "04_feature",
            "05_model_input",
            "06_models",
            "07_model_output",
            "08_reporting",
        ):
            (root / "data" / layer).mkdir(parents=True, exist_ok=True)

    def with_src(self) -> KedroProject:
        """Copy ``src/`` in as well (``kedro viz build`` wants it inside the project root)."""
        shutil.copytree(
            REPO / "src",
            self.root / "src",
            ignore=shutil.ignore_patterns("__pycache__"),
            dirs_exist_ok=True,
        )
        return self

    def set_params(self, overrides: dict, name: str = "parameters_test.yml") -> None:
        """Write parameter overrides to conf/local (deep-merged over conf/base)."""
        (self.root / "conf" / "local" / name).write_text(yaml.safe_dump(overrides))

    def run(
        self, *args: str, check: bool = True, timeout: int = 900
    ) -> subprocess.CompletedProcess:
        """Run ``kedro <args>`` in the project; on failure show its output."""
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.run(
            [str(KEDRO_BIN), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"kedro {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
                f"\n--- stderr\n{proc.stderr[-8000:]}"
            )
        return proc

    def path(self, *parts: str) -> Path:
        """A path inside the project."""
        return self.root.joinpath(*parts)

    def latest(self, *parts: str) -> Path:
        """The newest version of a versioned dataset file (``<file>/<version>/<file>``)."""
        folder = self.path(*parts)
        versions = sorted(v for v in folder.iterdir() if (v / folder.name).exists())
        assert versions, f"{folder} holds no saved version"
        return versions[-1] / folder.name


@pytest.fixture
def kedro_project(tmp_path: Path) -> KedroProject:
    """An isolated copy of the project to run pipelines end to end on tiny data."""
    return KedroProject(tmp_path / "project")
