"""Fixtures: every test gets its own data home; models are built in code (no downloads, no network)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import tiny_model_dir, write_classification_csv  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Only the built-in plugins load unless a test installs or chooses one (tests/test_plugins.py).
os.environ["TAILOR_PLUGINS"] = "none"
# Tokenizers read from the embedded GGUF are cached per checkout (read once per clean clone, ~7 s).
os.environ.setdefault("TAILOR_CACHE", str(Path(__file__).parent / ".cache" / "tailor"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """A fresh data home for each test; nothing leaks into the checkout."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TAILOR_HOME", str(home))
    monkeypatch.delenv("TAILOR_GPU_MEMORY", raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_model_dir()


@pytest.fixture
def topic_csv(tmp_path) -> Path:
    return write_classification_csv(tmp_path / "topics.csv")
