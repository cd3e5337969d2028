"""The training callback: streams step metrics to the registry and the job's log file, stops at a cancel (and
ends the start-up watch, which covers the time before the first step), prunes a sweep's trial that is behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..faults import armed, fault_point
from ..registry.db import Registry
from .worker import end_start_up, rank, world_size


def progress_callback(registry: Registry, job_id: int, total: int, log_file: Path, cancel: dict, pruner=None,
                       log=print):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Streams metrics to the registry and stops training when a cancel arrives."""

        def __init__(self):
            self.t0 = time.time()
            self.tokens0 = 0
            self.step0 = None

        def on_train_begin(self, args, state, control, **kw):
            nonlocal total
            self.t0, self.step0, self.tokens0 = time.time(), state.global_step, state.num_input_tokens_seen or 0
            if state.max_steps and state.max_steps != total and state.is_world_process_zero:
                total = state.max_steps  # the trainer's own count (packed rows are fewer than examples)
                registry.update_job(job_id, total_steps=total)

        def on_step_end(self, args, state, control, **kw):
            if rank() == 0:
                end_start_up(cancel)  # from here the check below sees a cancel
            fault_point(f"step:{state.global_step}")
            stop = cancel["flag"] or (rank() == 0 and registry.cancel_requested(job_id))
            if world_size() > 1:  # rank 0 decides, so every process stops at the same step
                import torch.distributed as dist

                if dist.is_available() and dist.is_initialized():
                    box = [stop]
                    dist.broadcast_object_list(box, src=0)
                    stop = box[0]
            # Another rank's start-up watch closes only now: rank 0 closed its own before this broadcast, so it
            # can no longer leave at a start-up cancel while this process waits for it in a collective.
            end_start_up(cancel)
            if stop:
                cancel["flag"] = True
                control.should_training_stop = True
                control.should_save = False

        def on_evaluate(self, args, state, control, metrics=None, **kw):
            """A sweep's trial with halving stops where it is behind the better half of the trials before it."""
            value = (metrics or {}).get("eval_loss")
            if pruner is not None and value is not None and (why := pruner(state.epoch or 0.0, float(value))):
                cancel["pruned"] = why
                control.should_training_stop = True
                log(f"pruned: {why}")

        def on_save(self, args, state, control, **kw):
            if armed("checkpoint"):  # as if killed while writing: the checkpoint lacks its last file
                (Path(args.output_dir) / f"checkpoint-{state.global_step}" / "trainer_state.json").unlink()
                fault_point("checkpoint")

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero:
                return
            logs = logs or {}
            if "loss" not in logs and "eval_loss" not in logs:
                return
            elapsed = max(1e-6, time.time() - self.t0)
            done = state.global_step - (self.step0 or 0)
            tokens = (state.num_input_tokens_seen or 0) - self.tokens0
            eta = (total - state.global_step) * elapsed / done if done else None
            peak = None
            try:
                import torch

                if torch.cuda.is_available():
                    peak = torch.cuda.max_memory_allocated() / 1024**3
            except ImportError:
                pass
            if peak is None:  # on a CPU: the worker's peak resident memory, what the plan's estimate predicts
                import resource

                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
            metric = {"step": state.global_step, "epoch": state.epoch, "loss": logs.get("loss"),
                      "eval_loss": logs.get("eval_loss"), "learning_rate": logs.get("learning_rate"),
                      "tokens_per_second": tokens / elapsed if tokens else None, "peak_memory_gb": peak,
                      "eta_seconds": eta}
            registry.add_metric(job_id, metric)
            registry.update_job(job_id, step=state.global_step)
            with open(log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({k: v for k, v in metric.items() if v is not None}) + "\n")

    return Progress()
