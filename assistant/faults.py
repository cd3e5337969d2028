"""Fault points: places where the recovery tests kill the process, to prove every crash is recoverable.

`TAILOR_FAULT=<name>` in a worker's environment makes `fault_point(name)` kill that process on the spot
(SIGKILL: no cleanup, no finally blocks), as a power cut or the OOM killer would. Unset, nothing happens.
"""

from __future__ import annotations

import os
import signal


def armed(name: str) -> bool:
    return os.environ.get("TAILOR_FAULT") == name


def fault_point(name: str) -> None:
    if armed(name):
        os.kill(os.getpid(), signal.SIGKILL)
