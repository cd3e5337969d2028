"""The training worker: one process runs one job, from plan to registered adapter.

    python -m assistant.train.worker --home HOME --job ID

It reads the job and its plan from the registry, trains with TRL's SFTTrainer and a PEFT LoRA config,
streams step metrics and a log back to the registry, checkpoints as the plan says (a resumed job continues
from its last checkpoint), and on success stores and registers the adapter. SIGTERM cancels cleanly: the
step in progress finishes, nothing is registered, the job is marked cancelled. When it ends it starts the
next queued job, so the queue drains with no daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from ..config import Home
from ..faults import fault_point, stall_point
from ..models.tokenize import DEFAULT_CHAT_TEMPLATE
from ..plan import Plan
from ..registry.db import Registry, now
from .recipe import precision_on_this_gpu


class Cancelled(Exception):
    pass


def rank() -> int:
    """This process's rank under `accelerate launch` (0 when training in one process)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def run_job(home: Home, job_id: int, cancel: dict | None = None) -> str:
    """Train the job; returns its final status. Never raises for training failures (they are recorded).

    `cancel["flag"]` turning true (SIGTERM, or the job's cancel_requested in the registry) stops it.
    """
    registry = Registry(home)
    job = registry.job(job_id)
    plan_row = registry.plan(job.plan_id)
    plan = Plan.from_json(plan_row["json"])
    out = home.job_dir(job_id)
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / "training_log.jsonl"
    cancel = cancel if cancel is not None else {"flag": False}
    if rank() != 0:
        return _follow(plan, registry, job_id, job.plan_id, out, log_file, cancel)
    registry.update_job(job_id, pid=os.getpid(), status="running")

    def log(line: str) -> None:
        registry.add_log(job_id, line)
        print(line, flush=True)

    if world_size() > 1:
        log(f"data parallel: {world_size()} processes")
    if job.sweep_id:
        from .sweep import trial_log

        log(f"sweep {job.sweep_id}, {trial_log(job)}")
    try:
        record = train(plan, registry, job_id, job.plan_id, out, log, log_file, cancel)
        if record is not None:
            registry.update_job(job_id, status="succeeded", finished=now(), adapter_id=record.id, pid=None)
            log(f"registered adapter {record.name} v{record.version}")
        status = "succeeded"
    except Cancelled:
        _cancelled(registry, job_id, log)
        status = "cancelled"
    except Exception as e:  # noqa: BLE001 - every failure is recorded in plain words
        failure, reason = explain_failure(e, plan)
        registry.update_job(job_id, status="failed", finished=now(), failure=failure, error=reason, pid=None)
        log(f"failed: {reason}")
        (out / "traceback.txt").write_text(traceback.format_exc())
        status = "failed"
    _settle_sweep(registry, job.sweep_id, log)
    return status


def _settle_sweep(registry: Registry, sweep_id: int | None, log) -> None:
    if sweep_id:  # the last trial to end registers the sweep's winner
        from .sweep import settle

        settle(registry, sweep_id, log)


def _cancelled(registry: Registry, job_id: int, log, when: str = "") -> None:
    registry.update_job(job_id, status="cancelled", finished=now(), pid=None)
    log(f"cancelled{when}: nothing was registered")


def _cancel_at_start_up(registry: Registry, job_id: int, cancel: dict, log):
    """A `StartUpWatch` that ends a job cancelled while it starts up as `run_job` and `main` would (recorded, the
    sweep settled, the next job started); the first step's end closes it (progress.py). With data parallelism
    rank 0 decides and records; every other rank leaves once the job is recorded cancelled (rank 0 has then
    left, so nothing is waiting for it in a collective)."""
    from .start_up import StartUpWatch

    if rank() != 0:
        return StartUpWatch(lambda: registry.job(job_id).status == "cancelled", lambda: None)

    def finish():  # on the watch's thread (the registry gives each thread its own connection)
        _cancelled(registry, job_id, log, " while starting up")
        _settle_sweep(registry, registry.job(job_id).sweep_id, log)
        from .jobs import dispatch

        dispatch(registry.home, registry)

    return StartUpWatch(lambda: cancel["flag"] or registry.cancel_requested(job_id), finish)


def _follow(plan: Plan, registry: Registry, job_id: int, plan_id: int, out: Path, log_file: Path, cancel: dict) -> str:
    """A non-zero rank: trains its shard of each batch; rank 0 alone writes the registry and the adapter."""
    try:
        train(plan, registry, job_id, plan_id, out, lambda line: print(f"[rank {rank()}] {line}", flush=True),
              log_file, cancel)
        return "succeeded"
    except Cancelled:
        return "cancelled"
    except Exception:  # noqa: BLE001 - rank 0 records the job's failure; this rank just reports its own
        traceback.print_exc()
        return "failed"


def train(plan: Plan, registry: Registry, job_id: int, plan_id: int, out: Path, log, log_file: Path,
          cancel: dict) -> dict | None:
    """resolve model → load data → build trainer → train → save → register. A job whose training had
    finished before an interruption (its result is in the job folder) only registers."""
    precision_on_this_gpu(plan, log)  # a bf16 plan on a card without bf16 trains (and is registered) in fp16
    if (done := read_result(out)) is None:
        if not _train_to_result(plan, registry, job_id, out, log, log_file, cancel):
            return None  # a non-zero rank: rank 0 writes the result and registers
        done = read_result(out)
    elif rank() != 0:
        return None
    else:
        log("training had finished before the interruption; registering its adapter")
    fault_point("before_register")
    job = registry.job(job_id)
    if job.sweep_id:
        finish_trial(registry, job, done, log)
        return None
    return register_result(registry, job_id, plan_id, plan, done)


def finish_trial(registry: Registry, job, done: dict, log) -> None:
    """A sweep's trial registers nothing: its result is kept on the job (its adapter stays in the job folder)
    until the sweep settles and registers the best trial's."""
    from .sweep import result_json

    registry.update_job(job.id, status="succeeded", finished=now(), pid=None,
                        result=result_json(done["metrics"], done.get("verdict"), done.get("pruned")))
    log(f"trial {job.trial} finished: " + ", ".join(f"{k} {v}" for k, v in done["metrics"].items())
        + (f"; pruned: {done['pruned']}" if done.get("pruned") else ""))


RESULT = "result.json"
"""Written into the job folder once the adapter is saved: from then on, registering is all that is left."""


def _train_to_result(plan: Plan, registry: Registry, job_id: int, out: Path, log, log_file: Path, cancel: dict) -> bool:
    """Train (from the last checkpoint, if any), save the adapter and write the result. False on ranks > 0."""
    cancel["start_up"] = _cancel_at_start_up(registry, job_id, cancel, log)
    share = None
    if plan.resources.device == "cpu":  # the cores are shared with the engine while it answers (machine.py)
        from ..machine import CpuShare

        share = cancel["cpu_share"] = CpuShare(f"train-{job_id}", log=log)
    try:
        with share or contextlib.nullcontext():
            return _train_from_start(plan, registry, job_id, out, log, log_file, cancel)
    finally:
        end_start_up(cancel)


def end_start_up(cancel: dict) -> None:
    """Start-up is over (the first step has ended, or training returned without one): the watch closes."""
    if (watch := cancel.pop("start_up", None)) is not None:
        watch.close()


def _train_from_start(plan: Plan, registry: Registry, job_id: int, out: Path, log, log_file: Path, cancel: dict):
    from ..data import chat_examples, planned_data
    from ..data.prepare import held_out_split
    from ..models.catalog import find
    from ..models.resolve import resolve_source

    planned_data(plan)  # the file the plan was made from, before minutes go into loading the model
    source = resolve_source(plan.base_model.source, registry.home.models, log)
    log(f"base model: {plan.base_model.name} from {source}")
    examples = chat_examples(plan)
    train_rows, val_rows = held_out_split(examples, plan.data)
    log(f"data: {len(train_rows)} training rows, {len(val_rows)} held out")
    trainer = build_trainer(plan, source, train_rows, val_rows, out, registry, job_id, log, log_file, cancel)
    if cancel["flag"] or registry.cancel_requested(job_id):
        raise Cancelled()
    checkpoint = latest_checkpoint(out)
    if checkpoint:
        log(f"resuming from {checkpoint.name}")
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    end_start_up(cancel)  # before anything is saved, however many steps ran
    if cancel["flag"]:
        raise Cancelled()
    metrics = {"train_loss": round(train_loss(result, trainer.state.log_history), 4),
               "train_seconds": round(time.time() - started, 1)}
    if val_rows:
        eval_loss = final_eval_loss(trainer, log)
        metrics["eval_loss"] = round(eval_loss, 4)
        if "perplexity" in plan.evaluation.metrics:  # the one metric measured from the loss, not from answers
            metrics["perplexity"] = round(math.exp(min(eval_loss, 50.0)), 4)
    if cancel["flag"]:
        raise Cancelled()
    if rank() != 0:
        return False
    partial, final = out / "adapter.partial", out / "adapter"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    trainer.model.save_pretrained(partial)
    fault_point("adapter_save")
    tokenizer = trainer.processing_class
    extra = []
    if tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE:  # the base had none: the adapter carries the one it learned
        tokenizer.save_pretrained(partial)
        extra = [n for n in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")]
    partial.rename(final)
    verdict = None
    if val_rows and not cancel.get("pruned"):  # a pruned trial cannot win: no need to score its answers
        scores, verdict = score_held_out(plan, trainer, train_rows, val_rows, log, cancel.get("cpu_share"))
        metrics.update(scores)
    entry = find(plan.base_model.source)
    _write_json(out / RESULT, {"metrics": metrics, "verdict": verdict, "pruned": cancel.get("pruned"),
                               "base_source": source, "extra_files": extra,
                               "base_hub_id": entry.hub_id if entry else plan.base_model.source,
                               "library_versions": library_versions()})
    return True


def final_eval_loss(trainer, log) -> float:
    """The held-out loss of the model as saved. The trainer has usually just measured it (evaluation at the
    end of the last epoch or step interval); measuring again cost a full pass over the held-out rows."""
    last = next((h for h in reversed(trainer.state.log_history) if "eval_loss" in h), None)
    if last is not None and last.get("step") == trainer.state.global_step and not trainer.args.load_best_model_at_end:
        return float(last["eval_loss"])
    log("measuring the held-out loss")
    return float(trainer.evaluate()["eval_loss"])


def score_held_out(plan: Plan, trainer, train_rows: list[dict], val_rows: list[dict], log,
                   share=None) -> tuple[dict, str | None]:
    """The plan's answer metrics on the held-out rows (and the majority baseline for label tasks). `share`: the
    job's part of the CPU (`machine.CpuShare`), applied between batches."""
    from ..data.prepare import seen_in
    from .held_out import MAX_SCORED, answer_budget, answer_rows, reference, score

    rows = val_rows[:MAX_SCORED]
    refs = [reference(r) for r in rows]
    tokenizer = trainer.processing_class
    log(f"evaluating: the adapter answers {len(rows)} held-out rows")
    answers = answer_rows(trainer.model, tokenizer, rows, answer_budget(tokenizer, refs),
                          progress=lambda done, total: (log(f"evaluating: {done}/{total} held-out rows answered"),
                                                        share and share.apply()))
    scores, verdict = score(plan, answers, refs, [reference(r) for r in train_rows])
    if seen := len(seen_in(train_rows, rows)):  # a row the data repeats, one copy on each side of the split
        scores["held_out_seen"] = seen
        log(f"warning: {seen} of {len(rows)} held-out rows ask what a training row asks (the data repeats them): "
            "the held-out scores flatter the adapter")
    log("held-out scores: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
    if verdict:
        log(f"warning: this adapter is {verdict}")
    return scores, verdict


def train_loss(result, log_history: list[dict]) -> float:
    """The run's mean training loss. A run resumed from its last checkpoint trains no step, and the trainer
    then reports 0; the mean of the losses it logged before the interruption is the true figure."""
    logged = [h["loss"] for h in log_history if "loss" in h and h.get("loss") is not None]
    if result.training_loss == 0 and logged:
        return float(sum(logged) / len(logged))
    return float(result.training_loss)


def read_result(out: Path) -> dict | None:
    """The job's saved result, when training finished and its adapter is on disk; else None."""
    try:
        done = json.loads((out / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    from ..registry.store import WEIGHTS

    return done if (out / "adapter" / WEIGHTS).exists() else None


def register_result(registry: Registry, job_id: int, plan_id: int, plan: Plan, done: dict) -> dict:
    """Register a finished job's adapter with its full lineage (idempotent: see `store_adapter`)."""
    from ..registry.store import store_adapter

    final = (out := registry.home.job_dir(job_id)) / "adapter"
    record = store_adapter(registry, final, plan.to_dict(), job_id=job_id, plan_id=plan_id,
                           base_hub_id=done["base_hub_id"], base_source=done["base_source"], metrics=done["metrics"],
                           log_file=out / "training_log.jsonl", extra_files=[final / n for n in done["extra_files"]],
                           library_versions=done["library_versions"], verdict=done.get("verdict"),
                           sweep=done.get("sweep", ""))
    if done.get("verdict"):
        from .held_out import BELOW_BASELINE

        registry.tag(record.id, [BELOW_BASELINE])
    return record


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def build_trainer(plan: Plan, source: str, train_rows, val_rows, out: Path, registry: Registry, job_id: int,
                  log, log_file: Path, cancel: dict):
    from datasets import Dataset
    from trl import SFTConfig

    from ..models.resolve import load_tokenizer
    from . import recipe
    from .progress import progress_callback
    from .turns import every_turn

    tokenizer = load_tokenizer(source)
    recipe.ensure_chat_template(tokenizer)
    stall_point("load")
    model = recipe.load_base(plan, source)
    args = SFTConfig(**recipe.sft_config_kwargs(plan, out, has_eval=bool(val_rows)))
    from ..sweeps import steps_over

    total = steps_over(len(train_rows), plan.training)  # until the trainer counts its own (packed rows are fewer)
    registry.update_job(job_id, total_steps=total)
    pruner = None
    if (job := registry.job(job_id)).sweep_id and world_size() == 1:
        from .sweep import pruner_for

        pruner = pruner_for(registry, job)
    callbacks = [progress_callback(registry, job_id, total, log_file, cancel, pruner, log)]
    if (share := cancel.get("cpu_share")) is not None:
        from ..machine import trainer_callback

        callbacks.append(trainer_callback(share))
    if val_rows and plan.training.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=plan.training.early_stopping_patience))
    train_set, eval_set = train_rows, val_rows
    if plan.training.completion_only_loss and (turns := every_turn(tokenizer, [*train_rows, *val_rows])):
        log(turns.summary())  # tokenized here, every answer in the completion mask (train/turns.py)
        train_set, eval_set = turns.rows[:len(train_rows)], turns.rows[len(train_rows):]
    trainer = recipe.trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(train_set),
                      eval_dataset=Dataset.from_list(eval_set) if eval_set else None, processing_class=tokenizer,
                      peft_config=recipe.lora_config(plan), callbacks=callbacks)
    if plan.training.packing and args.eval_steps:  # the plan counted packed rows from the median example
        _evaluate_as_planned(trainer, plan, log)
    if plan.training.compile:  # after the PEFT wrap, before the optimizer exists (train/compiled.py)
        from .compiled import compile_layers

        trainer.compiled_layers = compile_layers(trainer.model, log)
    return trainer


def _evaluate_as_planned(trainer, plan: Plan, log) -> None:
    """Evaluate (and checkpoint) about `sweeps.EVALUATIONS` times over the rows the trainer actually packed, as
    the plan meant to: its step count was an estimate (the median example's tokens for the mean). A schedule the
    person set (not the plan's own) is kept as set."""
    from ..sweeps import evaluation_steps, optimizer_steps, steps_over

    steps = steps_over(len(trainer.train_dataset), plan.training, world_size())
    every = evaluation_steps(steps)
    if every != trainer.args.eval_steps == evaluation_steps(optimizer_steps(plan)):
        log(f"packed into {len(trainer.train_dataset)} rows ({steps} steps): evaluating every {every} steps "
            f"(the plan estimated {trainer.args.eval_steps})")
        trainer.args.eval_steps = trainer.args.save_steps = every


def latest_checkpoint(out: Path) -> Path | None:
    cps = sorted((p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").exists()),
                 key=lambda p: int(p.name.split("-")[-1]))
    return cps[-1] if cps else None


def library_versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def explain_failure(e: Exception, plan: Plan) -> tuple[str, str]:
    """(the kind of failure, the failure in plain words with what to do). The kind is the job's `failure`:
    out_of_memory, bad_data, missing_model or error."""
    from ..data import DataError
    from ..data.prepare import DataChanged
    from ..models.resolve import ModelNotFound

    text = str(e)
    if isinstance(e, DataError):  # a plan runs only on the file it was made from: a fixed file needs a new plan
        return "bad_data", f"bad data: {text}" + ("." if isinstance(e, DataChanged) else
                                                  ". Fix the file and make the plan again.")
    if isinstance(e, ModelNotFound):
        return "missing_model", f"missing model: {text}"
    if "out of memory" in text.lower() or type(e).__name__ == "OutOfMemoryError":
        r = plan.resources
        return "out_of_memory", (f"out of memory: the plan needs about {r.estimated_peak_gb:.1f} GB, your GPU has "
                                 f"{r.gpu_memory_gb:g} GB; try QLoRA or a smaller batch (say “make it fit in "
                                 f"{max(1, int(r.gpu_memory_gb * 0.8))}GB”)")
    return "error", f"{type(e).__name__}: {text[:500]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--job", type=int, required=True)
    args = ap.parse_args(argv)
    # Catch SIGTERM before anything slow is imported, so a cancel during start-up is a clean cancel too.
    cancel = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: cancel.__setitem__("flag", True))
    home = Home.resolve(args.home)
    status = run_job(home, args.job, cancel)
    if rank() == 0:
        from .jobs import dispatch

        dispatch(home)
    return 0 if status in ("succeeded", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
