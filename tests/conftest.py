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
# CPU plans at a fixed training rate (the 2026-11-23 calibration), not at what this machine measures at the moment:
# a plan's time, and what depends on it ("make it finish in 10 minutes"), must not depend on the machine's load.
os.environ["TAILOR_CPU_GFLOPS"] = "78"
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


def _processes_under(folder: Path) -> list[int]:
    """Processes (not this one) working in `folder`: training workers run with their data home as cwd."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/cwd").exists() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(autouse=True, scope="module")
def no_worker_outlives_its_module(tmp_path_factory):
    """A job a test module leaves running (an app server stopped mid-job, a failed assertion) would train on
    through the next modules and slow them all down: at the module's end it is stopped, and named."""
    yield
    import signal
    import warnings

    base = tmp_path_factory.getbasetemp()
    for pid in _processes_under(base):
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        warnings.warn(f"stopped a process the tests left running: {pid} {cmd[:200]}", stacklevel=1)


# -- an engine serving the tiny model with two adapters, and the API in front of it (test_serving,
# test_completions) --------------------------------------------------------------------------------------------
@pytest.fixture
def served(tiny_model, tmp_path):
    """A registry with two adapters of the tiny model, and an engine serving it."""
    from test_adapters import register

    from assistant.config import Home
    from assistant.registry import Registry
    from assistant.serve.engine import Engine

    reg = Registry(Home.resolve())
    register(reg, tiny_model, tmp_path, "alpha", 1)
    register(reg, tiny_model, tmp_path, "beta", 2)
    engine = Engine(reg, str(tiny_model))
    engine.start().result()
    return reg, engine


@pytest.fixture
def api(served):
    """The API alone (`tailor serve --api-only`) on a free local port, its key `sk-tailor-test`: (its /v1 address,
    the registry, the engine)."""
    import socket
    import threading
    import time

    import uvicorn

    from assistant.config import Settings
    from assistant.models.estimate import CPU
    from ui.app import build_server
    from ui.context import Context

    reg, engine = served
    reg.home.save_settings(Settings(api_key="sk-tailor-test"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            build_server(Context(reg.home, reg, engine, CPU), api_only=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1", reg, engine
    server.should_exit = True
