"""The Jobs tab: the queue, a job's progress, loss curve and log; cancel, resume, apply a fix."""

from __future__ import annotations

import gradio as gr

from assistant.sweeps import NAMES
from assistant.train import jobs
from assistant.train.sweep import cancel_sweep, summary, trial_log
from assistant.train.worker import read_result

from .charts import sweep_chart
from .context import Context
from .errors import friendly
from .polling import poll


def job_view(ctx: Context, job_id: int | None) -> dict:
    """A job's state: status, progress, loss curve and log tail (reads only the registry)."""
    jobs.dispatch(ctx.home, ctx.registry)  # drain the queue if a worker ended while nobody watched
    table = [[j.id, j.status, f"{j.step}/{j.total_steps or '?'}", j.created,
              f"sweep {j.sweep_id} · trial {j.trial}" if j.sweep_id else "", j.error or ""]
             for j in ctx.registry.jobs()]
    job_id = shown_job(ctx, job_id)
    job = ctx.registry.job(job_id) if job_id else None
    if job is None:
        return {"table": table, "job": None, "status": "No jobs yet.", "loss": [], "log": "", "fix": None,
                "sweep": None}
    metrics = ctx.registry.metrics(job.id)
    loss = [{"step": m["step"], "loss": m["loss"], "kind": "train"} for m in metrics if m["loss"] is not None]
    loss += [{"step": m["step"], "loss": m["eval_loss"], "kind": "eval"} for m in metrics if m["eval_loss"] is not None]
    last = metrics[-1] if metrics else {}
    status = f"**Job {job.id}: {job.status}** — step {job.step}/{job.total_steps or '?'}"
    sweep = summary(ctx.registry, job.sweep_id) if job.sweep_id else None
    if sweep:
        status = (f"**Sweep {sweep['id']}** ({sweep['status']}; {sweep['describe']}, best held-out {sweep['metric']} "
                  f"wins) — {trial_log(job)}\n\n") + status
    logs = ctx.registry.logs(job.id)
    if job.status == "running" and logs and logs[-1].startswith(("evaluating", "measuring")):
        status = f"**Job {job.id}: evaluating** — training done; {logs[-1]}"
    if last.get("eta_seconds") and job.status == "running":
        status += f", about {last['eta_seconds']:.0f} s left"
    if last.get("tokens_per_second"):
        status += f", {last['tokens_per_second']:.0f} tokens/s"
    lr = next((m["learning_rate"] for m in reversed(metrics) if m["learning_rate"] is not None), None)
    if lr is not None:
        status += f", learning rate {lr:.2g}"
    evals = [m for m in metrics if m["eval_loss"] is not None]
    if evals:  # in words too: a single evaluation is one point, which the chart's line cannot draw
        status += (f", held-out loss {evals[-1]['eval_loss']:.3f} at step {evals[-1]['step']}"
                   + (f" ({len(evals)} evaluations)" if len(evals) > 1 else ""))
    if last.get("peak_memory_gb"):
        status += f", peak memory {last['peak_memory_gb']:.1f} GB"
    if job.total_steps:
        pct = min(100, round(100 * job.step / job.total_steps))
        status += (f"\n\n<div class='bar'><div style='width:{pct}%'></div></div>")
    if job.error:
        status += f"\n\n⚠️ {job.error}"
    if job.adapter_id:
        rec = ctx.registry.adapter_by_id(job.adapter_id)
        status += f"\n\n✅ Adapter **{rec.label}** is in the registry."
        status += time_line(ctx, job, rec)
        done = read_result(ctx.home.job_dir(job.id)) or {}
        if verdict := done.get("verdict"):
            status += f"\n\n⚠️ On its held-out rows it is {verdict}."
    if job.sweep_id and job.result.get("pruned"):
        status += f"\n\n✂️ Stopped early: {job.result['pruned']}."
    if sweep and sweep["adapter_id"]:
        rec = ctx.registry.adapter_by_id(sweep["adapter_id"])
        status += f"\n\n🏆 The sweep's winner is registered as **{rec.label}**."
    fix = jobs.suggested_fix(ctx.registry, job.id)
    return {"table": table, "job": job, "status": status, "loss": loss, "log": "\n".join(logs),
            "fix": fix["label"] if fix else None, "sweep": sweep}


def sweep_frames(sweep: dict | None, against: str | None = None):
    """The sweep's trials best-first (a table) and their scores against one varied setting (the points
    `charts.sweep_chart` draws)."""
    import pandas as pd

    if not sweep:
        return pd.DataFrame(), [], []
    metric, varied = sweep["metric"], sweep["varied"]
    names = [NAMES.get(f, f) for f in varied]
    rows = [[r["trial"], r["status"] + (" 🏆" if r["winner"] else ""), *(r.get(f) for f in varied), r[metric],
             r["eval_loss"], r["note"]] for r in sweep["trials"]]
    table = pd.DataFrame(rows, columns=["trial", "status", *names, metric, "eval_loss", "note"])
    x = against if against in names else names[0]
    field = varied[names.index(x)]
    points = [{"value": float(r[field]), "score": float(r[metric]), "trial": str(r["trial"]),
               "winner": bool(r["winner"])}
              for r in sweep["trials"] if r.get(field) is not None and r[metric] is not None]
    return table, points, names


def time_line(ctx: Context, job, rec) -> str:
    """Estimated beside measured training time, once a job has finished (how far to trust the next estimate)."""
    import json

    try:
        estimated = json.loads(ctx.registry.plan(job.plan_id)["json"])["resources"]["estimated_minutes"] * 60
    except (KeyError, TypeError, ValueError):
        return ""
    measured = rec.metrics.get("train_seconds")
    if not isinstance(measured, (int, float)) or measured <= 0 or not estimated:
        return ""
    return f" Training took {measured:.0f} s; the plan estimated {estimated:.0f} s."


def shown_job(ctx: Context, job_id: int | None) -> int | None:
    """The job the Jobs tab shows: the one typed in its field, else the newest."""
    if job_id:
        return int(job_id)
    latest = ctx.registry.jobs(limit=1)
    return latest[0].id if latest else None


def _job_action(ctx: Context, job_id: int | None, act) -> str:
    try:
        jid = shown_job(ctx, job_id)
        return "⚠️ There is no job yet." if jid is None else act(jid)
    except (jobs.JobError, TypeError, ValueError) as e:
        return f"⚠️ {e}"


def cancel_job(ctx: Context, job_id: int | None) -> str:
    return _job_action(ctx, job_id, lambda j: f"Job {j}: {jobs.cancel(ctx.registry, j)}")


def resume_job(ctx: Context, job_id: int | None) -> str:
    def act(j):
        jobs.resume(ctx.registry, j)
        return f"Job {j} resumed from its last checkpoint."
    return _job_action(ctx, job_id, act)


def cancel_the_sweep(ctx: Context, job_id: int | None) -> str:
    """Cancel the sweep the shown job belongs to: its unfinished trials stop, the best finished one is kept."""
    def act(j):
        job = ctx.registry.job(j)
        if job is None or not job.sweep_id:
            return f"⚠️ Job {j} is not part of a sweep."
        return f"Sweep {job.sweep_id}: {cancel_sweep(ctx.registry, job.sweep_id)}; finished trials are kept."
    return _job_action(ctx, job_id, act)


def fix_job(ctx: Context, job_id: int | None) -> str:
    """Apply a failed job's suggested fix (e.g. QLoRA after running out of memory) as a new job."""
    return _job_action(ctx, job_id, lambda j: f"Job {jobs.apply_fix(ctx.registry, j)} started with the fix "
                                              f"(job {j} stays in the list for the record).")



def tab(ctx: Context) -> list:
    with gr.Row():
        job_id = gr.Number(label="Job (0: the newest)", precision=0, elem_id="job-id")
        refresh = gr.Button("Refresh", size="sm")
        cancel = gr.Button("Cancel", size="sm", variant="stop", elem_id="cancel")
        resume = gr.Button("Resume", size="sm", elem_id="resume")
        fix = gr.Button("Apply the suggested fix", size="sm", variant="primary", visible=False, elem_id="fix")
    status = gr.Markdown(elem_id="job-status")
    plot = gr.LinePlot(x="step", y="loss", color="kind", title="Loss", height=260, elem_id="loss-plot")
    with gr.Column(visible=False, elem_id="sweep") as sweep_box:
        with gr.Row():
            trials = gr.Dataframe(interactive=False, label="Trials, best first", elem_id="sweep-trials", scale=3)
            with gr.Column(scale=2):
                against = gr.Dropdown(label="Score against", choices=[], elem_id="sweep-against")
                chart = gr.HTML(elem_id="sweep-plot")
        cancel_all = gr.Button("Cancel the sweep", size="sm", variant="stop", elem_id="cancel-sweep")
    log = gr.Textbox(label="Log", lines=6, max_lines=12, elem_id="job-log")
    table = gr.Dataframe(headers=["job", "status", "progress", "created", "sweep", "error"], interactive=False,
                         label="Queue")
    action = gr.Markdown()

    def view(jid, x=None) -> dict:
        import pandas as pd

        r = job_view(ctx, jid)
        rows, scores, names = sweep_frames(r["sweep"], x)
        chosen = x if x in names else (names[0] if names else None)
        # Numeric columns (an object frame makes the axes categorical: every loss value its own label), and one
        # empty (NaN) point of each kind always: a chart first drawn without a series never draws that series'
        # line later (measured in Chromium: the job page opened before the first logged step stayed blank).
        points = [*r["loss"], *({"step": 0, "loss": float("nan"), "kind": k} for k in ("train", "eval"))]
        curve = pd.DataFrame(points, columns=["step", "loss", "kind"]).astype({"step": "int64", "loss": "float64"})
        state = r["job"].status if r["job"] else None
        return {table: r["table"], status: r["status"], plot: curve, log: r["log"],
                fix: gr.update(visible=True, value=r["fix"]) if r["fix"] else gr.update(visible=False),
                cancel: gr.update(interactive=state in ("queued", "running")),
                resume: gr.update(interactive=state in ("failed", "cancelled")),
                sweep_box: gr.update(visible=bool(r["sweep"])), trials: rows,
                against: gr.update(choices=names, value=chosen),
                chart: sweep_chart(scores, r["sweep"]["metric"], chosen) if r["sweep"] else "",
                cancel_all: gr.update(visible=bool(r["sweep"]) and r["sweep"]["status"] == "running")}

    def job_status(job_id: int) -> dict:
        """A job's record (status, step, error, adapter_id) by id."""
        job = ctx.registry.job(int(job_id))
        return job.to_dict() if job else {}

    outs = [table, status, plot, log, fix, cancel, resume, sweep_box, trials, against, chart, cancel_all]
    refresh.click(friendly(view), [job_id, against], outs, api_visibility="private")
    against.input(friendly(view), [job_id, against], outs, api_visibility="private")
    polls = [poll(2, view, [job_id, against], outs)]
    cancel_all.click(friendly(lambda j: cancel_the_sweep(ctx, j)), [job_id], action, api_name="cancel_sweep")
    gr.api(job_status, api_name="job_status")
    cancel.click(friendly(lambda j: cancel_job(ctx, j)), [job_id], action, api_name="cancel")
    resume.click(friendly(lambda j: resume_job(ctx, j)), [job_id], action, api_name="resume")
    fix.click(friendly(lambda j: fix_job(ctx, j)), [job_id], action, api_name="fix")
    return polls
