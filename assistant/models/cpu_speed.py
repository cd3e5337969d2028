"""How fast this CPU trains, measured instead of assumed.

A CPU plan's time is its training FLOPs over the rate a CPU run reaches. A constant rate (78 GFLOP/s, fitted on
this project's 2-core VM on 2026-11-23) was right that day and 2.1–2.4× too slow on 2026-11-24, when the same
VM ran everything 2–7× faster; on anyone else's CPU it would be a guess. So the rate is measured: a float32 matmul
of a small model's MLP shape (numpy, so planning still imports no torch), the best of five 40 ms samples, times
the share of that rate a training run reaches (`TRAIN_SHARE`, fitted by `bench/time_estimate.py`).

Measurements are kept in the user's cache (`TAILOR_CACHE`/cpu_speed.json, shared by the app, the CLI and the MCP
server) and taken again after `REMEASURE_S`; the rate used is the best of the last `KEEP_S`. A probe taken while
the CPU is busy would plan the next run as if that load were permanent — and the next job runs after the current
one, on a free CPU — and a busy CPU measures far below its share: with a training job beside it the probe read
19 GFLOP/s instead of 299 (two BLAS threads on two cores that another process also wants wait for each other).
So while the load average says the CPU is busy, no new probe is taken if any measurement of the last `OLD_S` is
at hand; the newest is used when none is recent. A CPU busy since it was first measured is planned slow: its
estimate errs long, not short.
`TAILOR_CPU_GFLOPS` fixes the rate (the tests use it, so that plans do not depend on the machine's mood).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time

from ..config import environment

SAMPLE_SECONDS, SAMPLES = 0.04, 5
TRAIN_SHARE = 0.53
"""A training run's effective rate (`estimate.estimate_minutes`' FLOPs over its measured seconds) over the probe's
matmul rate at the same time (bench/time_estimate.py prints both)."""
REMEASURE_S = 300.0
KEEP_S = 1800.0
OLD_S = 86400.0
BUSY_LOAD = 0.5
"""1-minute load average per core above which the CPU is busy (a CPU training job keeps it near 1)."""
ROWS, HIDDEN, INTER = 256, 576, 1536  # SmolLM2-135M's MLP, 256 tokens at a time

_lock = threading.Lock()
_clock = time.time


def busy() -> bool:
    try:
        return os.getloadavg()[0] > BUSY_LOAD * (os.cpu_count() or 1)
    except OSError:  # no load average on this system
        return False


def matmul_gflops(sample_seconds: float = SAMPLE_SECONDS, samples: int = SAMPLES) -> float:
    """float32 matmul GFLOP/s of this CPU now: the best of `samples` runs of about `sample_seconds` (a moment of
    interference lowers one sample, not the result)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((ROWS, HIDDEN), dtype=np.float32)
    b = rng.standard_normal((HIDDEN, INTER), dtype=np.float32)
    a @ b  # the first call sets up the BLAS threads
    best = 0.0
    for _ in range(samples):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < sample_seconds or n < 2:
            a @ b
            n += 1
        best = max(best, 2 * ROWS * HIDDEN * INTER * n / elapsed / 1e9)
    return best


def _load(path) -> list[list[float]]:
    try:
        seen = [[float(t), float(g)] for t, g in json.loads(path.read_text())]
        return [[t, g] for t, g in seen if math.isfinite(t) and math.isfinite(g) and g > 0]
    except (OSError, ValueError, TypeError):
        return []  # none yet, or unreadable: measure


def _save(path, seen: list[list[float]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache: this process measures again next time


def train_gflops() -> float:
    """The rate a CPU training run is planned at, in GFLOP/s (see the module's notes)."""
    env = environment()
    if env.cpu_gflops is not None:
        if not math.isfinite(env.cpu_gflops) or env.cpu_gflops <= 0:
            raise ValueError(f"TAILOR_CPU_GFLOPS must be a positive number of GFLOP/s, not {env.cpu_gflops:g}")
        return env.cpu_gflops
    path = env.cache / "cpu_speed.json"
    with _lock:
        now = _clock()
        seen = sorted([t, g] for t, g in _load(path) if 0 <= now - t < OLD_S)
        stale = not seen or now - seen[-1][0] > REMEASURE_S
        if stale and not (seen and busy()):
            seen.append([now, matmul_gflops()])
            _save(path, seen)
        recent = [g for t, g in seen if now - t < KEEP_S]
        return (max(recent) if recent else seen[-1][1]) * TRAIN_SHARE
