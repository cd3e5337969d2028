"""Fault points: places where the recovery tests kill the process, to prove every crash is recoverable.

`TAILOR_FAULT=<name>` in a worker's environment makes `fault_point(name)` kill that process on the spot
(SIGKILL: no cleanup, no finally blocks), as a power cut or the OOM killer would. `TAILOR_FAULT=stall:<name>`
makes `stall_point(name)` wait ten minutes, as a slow step would (loading a big model). Unset, nothing happens.
"""

from __future__ import annotations

import os
import signal


def armed(name: str) -> bool:
    return os.environ.get("TAILOR_FAULT") == name


def fault_point(name: str) -> None:
    if armed(name):
        os.kill(os.getpid(), signal.SIGKILL)


def stall_point(name: str) -> None:
    if armed(f"stall:{name}"):
        import time

        time.sleep(600)
