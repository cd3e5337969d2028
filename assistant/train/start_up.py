"""A cancel while a worker starts up ends it within a second.

Starting up — converting or downloading the base model, loading it (minutes for an 8B model in 4 bits),
tokenizing the data, compiling the first step — runs no code of Tailor's that could look at a cancel, so a
cancel used to wait for training to begin. `StartUpWatch` looks every half second; on a cancel it records the job
as cancelled (`finish`, from its own thread with its own registry connection) and ends the process with
`os._exit`. That is safe only while nothing has been written that a later run would read: the model cache is
written to a `.partial` folder and renamed, checkpoints do not exist yet. The watch ends at the first training
step's end, where the trainer's own cancel check takes over (`progress.progress_callback`). With data
parallelism a process leaving on its own would leave the others waiting in a collective, so rank 0 alone decides
(and records the cancel); every other rank's watch leaves once the job is recorded cancelled, and closes only
after the first step's cancel broadcast, by when rank 0's watch is closed (`worker._cancel_at_start_up`).
"""

from __future__ import annotations

import os
import sys
import threading


class StartUpWatch:
    def __init__(self, should_stop, finish, every: float = 0.5):
        """`should_stop()` is asked every `every` seconds from the watch's thread; when it says yes, `finish()`
        runs there and the process exits (status 0: the job ended as asked; 1 if `finish` failed)."""
        self._lock = threading.Lock()
        self._open = True
        self._done = threading.Event()
        self._should_stop, self._finish, self._every = should_stop, finish, every
        self._thread = threading.Thread(target=self._watch, name="start-up-cancel", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(self._every):
            try:
                stop = self._should_stop()
            except Exception:  # noqa: BLE001 - a registry busy for a moment: ask again at the next look
                continue
            if not stop:
                continue
            with self._lock:  # close() waits here: the process ends before the main thread goes on
                if not self._open:
                    return
                code = 1  # the job could not be recorded as cancelled: the app marks a vanished worker failed
                try:
                    self._finish()
                    code = 0
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)

    def close(self) -> None:
        """Start-up is over: from here the trainer's own checks see a cancel. Idempotent."""
        with self._lock:
            self._open = False
        self._done.set()
