"""The machine's cores and memory, and sharing the cores between a CPU training job and the engine.

torch runs its CPU work on OpenMP threads, one a core, which spin at every barrier waiting for each other. Two
processes doing that on the same cores slow each other far more than twice: a thread that loses its core leaves
its partners spinning until it gets one back, at every one of the many small operations of a step. On the
2-core machine a job trained 24x slower beside the engine answering, and each answer took 39x longer
(`bench/cpu_share.py`); each with its own cores, 1.7x and 1.5x.

So each heavy CPU user in Tailor — a training worker on the CPU for its whole run, the engine for each call it
answers on the CPU — holds a marker in the user's cache (`<TAILOR_CACHE>/cpu-share/`, one folder for every data
home on the machine) while it works and, between steps, sizes its threads to its share of the cores among the
markers of live processes: all the cores alone, half of them with one other, and so on. A marker left by a
process that died is ignored and removed; `TAILOR_CPU_SHARE=0` turns the sharing off (every user then takes
every core, as before).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CHECK_SECONDS = 0.5
"""How often `apply` looks at the markers (it is called at every step; looking costs a directory listing)."""
QUIET_SECONDS = 60.0
"""A process that shares again after this long without sharing says so again in its log."""


def share_folder() -> Path:
    """Where the processes sharing this machine's CPU leave their markers."""
    from .config import environment

    return environment().cache / "cpu-share"


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory() -> int:
    """Bytes of memory available to this process (Linux's MemAvailable; 4 GiB where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot, from /proc), or None where it cannot be read: with
    the pid it names one process, so a recycled pid is not taken for the process that left a marker."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _who(role: str) -> str:
    if role == "engine":
        return "the engine answering"
    if role.startswith("train-"):
        return f"job {role[6:]} training"
    return role


def is_alive(pid: int | None) -> bool:
    """True when a process `pid` exists (any program; see `jobs.is_worker_alive` for a Tailor worker)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pid: int, started: str) -> bool:
    """Whether the process that left a marker lives: its pid with the start time it wrote (no /proc, as on
    macOS: the pid alone)."""
    now = _start_time(pid)
    return now == started if now is not None else is_alive(pid)


class CpuShare:
    """This process's part of the CPU while it holds a marker in `folder` (default `share_folder()`), as a
    context manager.

    `role` names the marker (`train-12`, `engine`); `alone` is the threads to use with no one else working
    (default: every core). `apply()` sets torch's threads to the share and returns it; call it between steps,
    in the thread that computes (torch's thread count is kept per thread).
    """

    def __init__(self, role: str, alone: int | None = None, log=None, folder: Path | None = None):
        from .config import environment

        self.folder = Path(folder) if folder is not None else share_folder()
        self.role = role
        self.marker = self.folder / f"{role}-{os.getpid()}"
        self.alone = max(1, alone or cores())
        self.enabled = environment().cpu_share
        self.log = log
        self.threads: int | None = None
        self.others: list[str] = []
        self._checked = 0.0
        self._shared = -QUIET_SECONDS - 1.0

    def __enter__(self) -> CpuShare:
        import torch

        self._before = torch.get_num_threads()
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.marker.write_text(_start_time(os.getpid()) or "", encoding="utf-8")
        self.apply(force=True)
        return self

    def __exit__(self, *exc) -> None:
        """Remove the marker; the calling thread gets back the threads it had."""
        import torch

        self.marker.unlink(missing_ok=True)
        if self.threads != self._before:
            torch.set_num_threads(self._before)
        self.threads = None

    def users(self) -> int:
        """Live processes holding a marker, this one included; a dead one's marker is removed. The others'
        roles are kept in `self.others`."""
        self.others = []
        if not self.enabled:
            return 1
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return 1
        for path in entries:
            if path == self.marker:
                continue
            try:
                role, pid_text = path.name.rsplit("-", 1)
                pid = int(pid_text)
                if path.is_symlink() or not path.is_file():  # a marker is a small plain file, nothing else
                    continue
                with open(path, "rb") as f:
                    started = f.read(32).decode("ascii").strip()
            except (ValueError, OSError, UnicodeDecodeError):
                continue
            if _alive(pid, started):  # another process's, or another share of this one's
                self.others.append(role)
            else:
                path.unlink(missing_ok=True)
        return 1 + len(self.others)

    def share(self) -> int:
        """The threads this process should use now."""
        return max(1, min(self.alone, cores() // self.users()))

    def apply(self, force: bool = False) -> int:
        """Set torch's threads (in the calling thread) to this process's share; at most every `CHECK_SECONDS`
        unless `force`. Returns the threads in use. The first time it shares (and again after `QUIET_SECONDS`
        without sharing) it says so through `log`."""
        now = time.monotonic()
        if not force and self.threads is not None and now - self._checked < CHECK_SECONDS:
            return self.threads
        self._checked = now
        want = self.share()
        if want != self.threads:
            import torch

            torch.set_num_threads(want)
            self.threads = want
        if others := sorted({_who(r) for r in self.others if r != self.role}):  # not this job's other ranks
            if self.log is not None and now - self._shared > QUIET_SECONDS:
                self.log(f"sharing the CPU with {', '.join(others)} while it works: {want} of {cores()} cores")
            self._shared = now
        return want


def trainer_callback(share: CpuShare):
    """A `TrainerCallback` that applies `share` before every micro-batch and every evaluation batch."""
    from transformers import TrainerCallback

    class ShareTheCpu(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            share.apply()

        on_substep_end = on_prediction_step = on_step_begin

    return ShareTheCpu()
