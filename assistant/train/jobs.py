"""The job queue: submit, dispatch, cancel, resume, and reconcile after a restart.

The queue lives in the registry database. One job runs at a time; each runs in its own worker process,
started in a new session so that neither a closed browser nor a stopped web server stops it. Whoever
notices the queue idle (the app at start and on each poll, a worker when it ends) dispatches the next job.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..config import Home, environment
from ..data.prepare import planned_data
from ..errors import TailorError
from ..machine import is_alive
from ..models.fit import next_move
from ..plan import Plan
from ..registry.db import Registry, now


class JobError(TailorError, RuntimeError):
    """A job operation that cannot be done (unknown job, wrong state); the message says why."""


def locate_data(plan: Plan, *folders: Path) -> None:
    """A relative data path (a plan written by `tailor plan` elsewhere, or by hand) made absolute from the first
    of `folders` that holds it (the command's working directory, then the plan file's), so the worker, which
    runs in the data home, reads the file the user meant. Left as it is when none holds it."""
    given = Path(plan.data.path or "")
    if plan.data.path and not given.is_absolute():
        found = next((f / given for f in folders if (f / given).is_file()), None)
        if found is not None:
            plan.data.path = str(found.resolve())


def submit(registry: Registry, plan: Plan, conversation: list[str | dict] | None = None, start: bool = True) -> int:
    """Queue a validated, ready plan; start it when nothing else runs. Returns the job id."""
    plan.validate(require_ready=True)
    if plan.sweep.on:
        raise JobError(f"this plan is a sweep of {plan.sweep.describe()}: run it with `tailor sweep PLAN.json` "
                       "(the page's Start button does), or remove its `sweep`")
    planned_data(plan, registry.home.root)  # there, and unchanged: said now, not by a failed job a minute on
    d = plan.data
    registry.add_dataset(d.sha256 or "", d.path or "", d.rows, d.format or "",
                         {"input_columns": d.input_columns, "output_column": d.output_column})
    plan_id = registry.add_plan(plan.to_json(), conversation)
    job_id = registry.submit_job(plan_id)
    if start:
        dispatch(registry.home, registry)
    return job_id


def dispatch(home: Home, registry: Registry | None = None) -> int | None:
    """Start a worker for the oldest queued job if none is running. Returns the started job's id."""
    registry = registry or Registry(home)
    reconcile(registry)
    job = registry.claim_next_job()
    if job is None:
        return None
    out = home.job_dir(job.id)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "worker.log", "ab") as logf:
        proc = subprocess.Popen(
            worker_command(home, job.id),
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=str(home.root), env=worker_env(),
        )
    registry.update_job(job.id, pid=proc.pid)
    return job.id


def worker_env() -> dict[str, str]:
    """The worker's environment: this one, with the folder holding the `assistant` package first on its path,
    so the worker runs the same code whether Tailor is installed or run from a checkout."""
    package_parent = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def train_processes() -> tuple[int, bool]:
    """(processes, on_cpu): one per visible GPU (data parallel when there are several), or
    `TAILOR_TRAIN_PROCESSES`; on_cpu when no GPU is visible."""
    from ..models.resolve import visible_gpus

    gpus = len(visible_gpus())
    return max(1, environment().train_processes or gpus), gpus == 0


def worker_command(home: Home, job_id: int) -> list[str]:
    """The worker's command line: one process, or `accelerate launch` with one process per GPU (DDP)."""
    worker = ["-m", "assistant.train.worker", "--home", str(home.root), "--job", str(job_id)]
    n, cpu = train_processes()
    if n == 1:
        return [sys.executable, *worker]
    return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(n), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
            "--multi_gpu", *(["--num_cpu_threads_per_process", "1"] if cpu else []), *worker]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_worker_alive(pid: int | None) -> bool:
    """True when `pid` is a live Tailor worker (not a zombie, not a recycled pid of another program)."""
    if not is_alive(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            _reap(pid)
            return False
        return b"assistant.train.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def reconcile(registry: Registry) -> list[int]:
    """Settle running jobs whose worker died. Returns the ids of those marked failed (they can be resumed).

    A job whose training had finished (its adapter saved) is registered here and succeeds: a crash between
    "trained" and "registered" loses nothing. A job whose cancel was requested before its worker died is
    simply cancelled.
    """
    from .sweep import settle
    from .worker import finish_trial, read_result, register_result

    dead = []
    for job in registry.jobs(status="running"):
        if not job.pid or is_worker_alive(job.pid):
            continue
        done = read_result(registry.home.job_dir(job.id))
        if done is not None and job.sweep_id:
            finish_trial(registry, job, done, lambda line, j=job.id: registry.add_log(j, line))
            continue
        if done is not None:
            plan = Plan.from_json(registry.plan(job.plan_id)["json"])
            rec = register_result(registry, job.id, job.plan_id, plan, done)
            registry.update_job(job.id, status="succeeded", finished=now(), adapter_id=rec.id, pid=None)
            registry.add_log(job.id, f"worker died after training; registered adapter {rec.name} v{rec.version}")
            continue
        if job.cancel_requested:
            registry.update_job(job.id, status="cancelled", finished=now(), pid=None)
            continue
        registry.update_job(job.id, status="failed", finished=now(), pid=None, failure="worker_died",
                            error="the worker process died (killed or crashed); resume continues from the last "
                                  "checkpoint")
        registry.add_log(job.id, "worker died; marked failed")
        dead.append(job.id)
    for row in [*registry.sweeps("running"), *registry.sweeps("settling")]:  # a sweep whose last trial ended
        settle(registry, row["id"])
    return dead


def cancel(registry: Registry, job_id: int) -> str:
    """Cancel a queued or running job. A running worker stops after its current step.

    The request goes through the registry, not a signal: the worker checks it before training and after
    every step, so a cancel that arrives while the worker is still starting up is not lost.
    """
    job = _get(registry, job_id)
    if job.status == "queued":
        registry.update_job(job_id, status="cancelled", finished=now())
        return "cancelled"
    if job.status != "running":
        raise JobError(f"job {job_id} is {job.status}; only queued or running jobs can be cancelled")
    registry.update_job(job_id, cancel_requested=1)
    return "cancelling"


def resume(registry: Registry, job_id: int) -> int | None:
    """Queue a failed or cancelled job again; it continues from its last checkpoint."""
    job = _get(registry, job_id)
    if job.status not in ("failed", "cancelled"):
        raise JobError(f"job {job_id} is {job.status}; only failed or cancelled jobs can be resumed")
    registry.update_job(job_id, status="queued", cancel_requested=0, error=None, failure=None, finished=None)
    registry.add_log(job_id, "resumed")
    if job.sweep_id:
        from .sweep import reopen

        reopen(registry, job)
    return dispatch(registry.home, registry)


def _get(registry: Registry, job_id: int) -> dict:
    job = registry.job(job_id)
    if job is None:
        raise JobError(f"no job {job_id}")
    return job


def suggested_fix(registry: Registry, job_id: int) -> dict | None:
    """For a job that failed for want of memory, the change that makes it fit: {"label", "plan"}; else None.

    The next move of the one ladder in `models.fit`: QLoRA instead of LoRA on a GPU, then half the batch
    (accumulating twice as many steps, so the effective batch is unchanged), then gradient checkpointing.
    """
    job = _get(registry, job_id)
    if job.status != "failed" or job.failure != "out_of_memory":
        return None
    plan = Plan.from_json(registry.plan(job.plan_id)["json"])
    label = next_move(plan, f"job {job_id} ran out of memory")
    return {"label": label, "plan": plan} if label else None


def apply_fix(registry: Registry, job_id: int, start: bool = True) -> int:
    """Queue the suggested fix of a failed job as a new job (the failed one stays, for the record)."""
    fix = suggested_fix(registry, job_id)
    if fix is None:
        raise JobError(f"job {job_id} has no suggested fix")
    conversation = registry.plan(_get(registry, job_id).plan_id).get("conversation")
    import json

    return submit(registry, fix["plan"], json.loads(conversation) if conversation else None, start=start)
