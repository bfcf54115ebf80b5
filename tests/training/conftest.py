"""Shared pieces: the tiny model and a small templated dataset on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.tiny_model import tiny_model_dir
from tests.training.tiny_data import write_dataset


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_model_dir()


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"))
