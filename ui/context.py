"""What every handler may use: the data home, its registry, the engine, the GPU and the login state."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

from assistant.chat.llm import understander_for
from assistant.config import Home
from assistant.models.estimate import Hardware
from assistant.registry import Registry
from assistant.serve.engine import Engine


@dataclass
class Context:
    """What every handler may use: the data home, its registry and the inference engine."""

    home: Home
    registry: Registry
    engine: Engine
    hardware: Hardware
    """The GPU plans are sized for (or the CPU)."""
    login_active: bool = False
    """Whether this server runs with a login (read from the settings at start; a new login needs a restart)."""
    _understanders: dict = field(default_factory=dict)

    def understander(self):
        """The understanding backend the settings choose (one per setting, so its answers stay cached)."""
        s = self.home.load_settings()
        key = (s.understanding_backend, s.llm_url, s.llm_model, s.llm_key)
        if key not in self._understanders:
            self._understanders[key] = understander_for(s)
        return self._understanders[key]
    _evaluations: dict = field(default_factory=dict)

    @contextlib.contextmanager
    def evaluation(self, session: str | None):
        """A cancel flag for one browser session's evaluation while it runs (`stop_evaluation` sets it)."""
        flag = threading.Event()
        self._evaluations[session] = flag
        try:
            yield flag
        finally:
            if self._evaluations.get(session) is flag:
                del self._evaluations[session]

    def stop_evaluation(self, session: str | None) -> bool:
        """Ask this session's running evaluation to stop before its next batch; False when none runs."""
        flag = self._evaluations.get(session)
        if flag is not None:
            flag.set()
        return flag is not None
