"""Running a sweep: each trial an ordinary job in the queue, the winner registered once every trial has ended.

`submit_sweep` stores the plan with its sweep and one queued job per trial (its own plan: the trial's settings,
frequent evaluation, early stopping). A trial trains like any job — resume, cancel and crash recovery are the
queue's — but registers nothing: its final metrics go into the job's `result` and its adapter stays in its job
folder. Whoever ends the last trial (its worker, or `jobs.reconcile` after a crash) calls `settle`, which claims
the sweep in one transaction, picks the best trial by the sweep's metric (pruned and failed trials cannot win)
and registers that trial's adapter under the plan's name, its card saying which trial of which sweep it was.
A resumed trial re-opens its sweep; settling again registers a new version only if the winner changed.
"""

from __future__ import annotations

import json
import os

from ..data.prepare import planned_data
from ..plan import Plan
from ..registry.db import Registry, now
from ..sweeps import NAMES, higher_is_better, trial_plans, trial_settings
from .jobs import JobError, dispatch, is_alive


def submit_sweep(registry: Registry, plan: Plan, conversation: list | None = None, start: bool = True) -> int:
    """Queue every trial of a ready plan with a sweep; returns the sweep id."""
    plan.validate(require_ready=True)
    if not plan.sweep.on:
        raise JobError("this plan has no sweep; train it with `tailor train`")
    planned_data(plan, registry.home.root)
    d = plan.data
    registry.add_dataset(d.sha256 or "", d.path or "", d.rows, d.format or "",
                         {"input_columns": d.input_columns, "output_column": d.output_column})
    parent = registry.add_plan(plan.to_json(), conversation)
    trials = [(registry.add_plan(t.validate(require_ready=True).to_json(), conversation), s)
              for t, s in zip(trial_plans(plan), trial_settings(plan.sweep))]
    sweep_id, _ = registry.add_sweep(parent, plan.sweep.metric, trials)
    if start:
        dispatch(registry.home, registry)
    return sweep_id


def sweep_plan(registry: Registry, sweep_id: int) -> Plan:
    row = registry.sweep(sweep_id)
    if row is None:
        raise JobError(f"no sweep {sweep_id}")
    return Plan.from_json(registry.plan(row["plan_id"])["json"])


def score_of(job, metric: str) -> float | None:
    """A finished trial's value of the sweep's metric; None when it cannot win (not finished, pruned, unscored)."""
    if job.status != "succeeded" or job.result.get("pruned"):
        return None
    value = job.result.get(metric)
    return float(value) if isinstance(value, (int, float)) else None


def ranked(registry: Registry, sweep_id: int) -> list:
    """The sweep's trials best-first by its metric (a tie goes to the lower held-out loss, then the earlier trial);
    those that cannot win after, in trial order."""
    metric = registry.sweep(sweep_id)["metric"]
    sign = -1 if higher_is_better(metric) else 1
    trials = registry.trials(sweep_id)

    def key(t):
        loss = t.result.get("eval_loss")
        return sign * score_of(t, metric), loss if isinstance(loss, (int, float)) else float("inf"), t.trial

    scored = sorted((t for t in trials if score_of(t, metric) is not None), key=key)
    return scored + [t for t in trials if score_of(t, metric) is None]


def settle(registry: Registry, sweep_id: int, log=lambda line: None):
    """When every trial has ended: register the best trial's adapter (once, whoever calls) and close the sweep.
    Returns the registered Adapter, or None (trials still to run, someone else settling, nothing won)."""
    from .worker import read_result, register_result

    row = registry.sweep(sweep_id)
    if row is None or row["status"] not in ("running", "settling"):
        return None
    stale = row["settler_pid"] if row["status"] == "settling" and not is_alive(row["settler_pid"]) else None
    if row["status"] == "settling" and stale is None:
        return None
    if any(t.status in ("queued", "running") for t in registry.trials(sweep_id)):
        return None  # read first: the app polls this, and a claim is a write transaction
    if not registry.claim_settle(sweep_id, os.getpid(), stale):
        return None
    try:
        metric = row["metric"]
        winner = next((t for t in ranked(registry, sweep_id) if score_of(t, metric) is not None
                       and read_result(registry.home.job_dir(t.id)) is not None), None)
        record = None
        if winner is not None:
            done = read_result(registry.home.job_dir(winner.id))
            done["sweep"] = card_section(registry, sweep_id, winner)
            plan = Plan.from_json(registry.plan(winner.plan_id)["json"])
            previous = registry.adapter_by_id(row["adapter_id"]) if row["adapter_id"] else None
            if previous is not None and previous.job_id == winner.id:
                record = previous
            else:
                record = register_result(registry, winner.id, winner.plan_id, plan, done)
                registry.update_job(winner.id, adapter_id=record.id)
                log(f"sweep {sweep_id}: trial {winner.trial} won ({metric} {score_of(winner, metric):.4g}); "
                    f"registered {record.name} v{record.version}")
        status = "cancelled" if row["cancel_requested"] else "succeeded" if record else "failed"
        registry.update_sweep(sweep_id, status=status, settler_pid=None, finished=now(),
                              winner_job_id=winner.id if winner else None, adapter_id=record.id if record else None)
        return record
    except BaseException:
        registry.update_sweep(sweep_id, status="running", settler_pid=None)
        raise


def cancel_sweep(registry: Registry, sweep_id: int) -> str:
    """Cancel the trials still queued or running; finished trials stay, and the best of them is registered."""
    from .jobs import cancel

    row = registry.sweep(sweep_id)
    if row is None:
        raise JobError(f"no sweep {sweep_id}")
    if row["status"] not in ("running", "settling"):
        raise JobError(f"sweep {sweep_id} is {row['status']}; only a running sweep can be cancelled")
    registry.update_sweep(sweep_id, cancel_requested=1)
    states = [cancel(registry, t.id) for t in registry.trials(sweep_id) if t.status in ("queued", "running")]
    if "cancelling" not in states:
        settle(registry, sweep_id)
    return "cancelling" if "cancelling" in states else "cancelled"


def reopen(registry: Registry, job) -> None:
    """A trial queued again (resumed): its sweep runs again, and settles again when the trial ends."""
    if job.sweep_id:
        registry.update_sweep(job.sweep_id, status="running", settler_pid=None, finished=None, cancel_requested=0)


def summary(registry: Registry, sweep_id: int) -> dict:
    """The sweep for people: status, metric, what varied, and every trial best-first with settings and scores."""
    row = registry.sweep(sweep_id)
    if row is None:
        return {}
    plan = sweep_plan(registry, sweep_id)
    metric = row["metric"]
    rows = []
    for t in ranked(registry, sweep_id):
        note = ("pruned: " + t.result["pruned"]) if t.result.get("pruned") else (
            t.error or "" if t.status == "failed" else "" if t.status == "succeeded" else t.status)
        rows.append({"trial": t.trial, "job": t.id, "status": t.status, **t.trial_settings,
                     metric: score_of(t, metric), "eval_loss": t.result.get("eval_loss"),
                     "winner": t.id == row["winner_job_id"], "note": note})
    return {"id": sweep_id, "status": row["status"], "metric": metric, "higher_is_better": higher_is_better(metric),
            "varied": plan.sweep.varied(), "describe": plan.sweep.describe(), "halving": plan.sweep.halving,
            "adapter_id": row["adapter_id"], "winner_job_id": row["winner_job_id"], "trials": rows}


def card_section(registry: Registry, sweep_id: int, winner) -> str:
    """The model card's *Sweep* section: which trial won, by what, among which others."""
    s = summary(registry, sweep_id)
    varied, metric = s["varied"], s["metric"]
    head = "| trial | " + " | ".join(NAMES.get(f, f) for f in varied) + f" | {metric} | note |"
    lines = [head, "|" + "---|" * (len(varied) + 3)]
    for r in s["trials"]:
        score = "—" if r[metric] is None else f"{r[metric]:.4g}"
        mark = " (this adapter)" if r["job"] == winner.id else ""
        lines.append(f"| {r['trial']}{mark} | " + " | ".join(f"{r.get(f, '—'):g}" if isinstance(r.get(f), float)
                                                           else str(r.get(f, "—")) for f in varied)
                     + f" | {score} | {r['note'] or r['status']} |")
    return (f"\n## Sweep\n\nChosen from sweep {sweep_id} ({s['describe']}): trial {winner.trial} had the best "
            f"held-out {metric}. Its score was used to choose it, so it is slightly optimistic; evaluate on new "
            f"data for an unbiased figure.\n\n" + "\n".join(lines) + "\n")


def trial_log(job) -> str:
    return f"trial {job.trial}: " + ", ".join(f"{NAMES.get(k, k)} {v:g}" for k, v in job.trial_settings.items())


def result_json(metrics: dict, verdict: str | None, pruned: str | None) -> str:
    extra = {**({"verdict": verdict} if verdict else {}), **({"pruned": pruned} if pruned else {})}
    return json.dumps({**metrics, **extra})


EPOCH_TOLERANCE = 0.15
"""Evaluations of two trials within this many epochs of each other are compared."""


def pruner_for(registry: Registry, job):
    """For a trial of a sweep with halving: a function (epoch, eval_loss) → why the trial should stop, or None.

    Asynchronous successive halving with one rung per evaluation: at each evaluation the trial is compared with
    every earlier trial's evaluation at about the same epoch; when at least two are there and it is worse than
    their median (not in the better half), it stops. The first trials always run to their end."""
    import statistics

    if not sweep_plan(registry, job.sweep_id).sweep.halving:
        return None

    def behind(epoch: float, value: float) -> str | None:
        others = []
        for t in registry.trials(job.sweep_id):
            points = [(m["epoch"], m["eval_loss"]) for m in registry.metrics(t.id)
                      if t.id != job.id and m["eval_loss"] is not None and m["epoch"] is not None]
            near = min(points, key=lambda p: abs(p[0] - epoch), default=None)
            if near is not None and abs(near[0] - epoch) <= EPOCH_TOLERANCE:
                others.append(near[1])
        if len(others) < 2:
            return None
        median = statistics.median(others)
        if value <= median:
            return None
        return (f"at epoch {epoch:.2f} its eval_loss {value:.4g} was behind the median {median:.4g} of "
                f"{len(others)} earlier trials")

    return behind
