"""Shared fixtures: model directories made by create_model and one sidecar process per session."""

import sys
from pathlib import Path

import pytest

# Import the package from this checkout even when it is not installed with `pip install -e`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sidecar_process import SidecarProcess, create_model_dir  # noqa: E402


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `test` preset, seed 0."""
    return create_model_dir("test", 0, tmp_path_factory.mktemp("models") / "test-seed0")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `tiny` preset, seed 0: the untrained default model."""
    return create_model_dir("tiny", 0, tmp_path_factory.mktemp("models") / "tiny-seed0")


@pytest.fixture(scope="session")
def sidecar():
    """One sidecar process shared by the session; tests load the model they need first."""
    process = SidecarProcess()
    yield process
    process.stop()
