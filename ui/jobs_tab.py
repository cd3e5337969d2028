"""The Jobs tab: the queue, a job's progress, loss curve and log; cancel, resume, apply a fix."""

from __future__ import annotations

import gradio as gr

from assistant.train import jobs
from assistant.train.worker import read_result

from .context import Context
from .errors import friendly


def job_view(ctx: Context, job_id: int | None) -> dict:
    """A job's state: status, progress, loss curve and log tail (reads only the registry)."""
    jobs.dispatch(ctx.home, ctx.registry)  # drain the queue if a worker ended while nobody watched
    table = [[j.id, j.status, f"{j.step}/{j.total_steps or '?'}", j.created, j.error or ""]
             for j in ctx.registry.jobs()]
    job_id = shown_job(ctx, job_id)
    job = ctx.registry.job(job_id) if job_id else None
    if job is None:
        return {"table": table, "job": None, "status": "No jobs yet.", "loss": [], "log": "", "fix": None}
    metrics = ctx.registry.metrics(job.id)
    loss = [{"step": m["step"], "loss": m["loss"], "kind": "train"} for m in metrics if m["loss"] is not None]
    loss += [{"step": m["step"], "loss": m["eval_loss"], "kind": "eval"} for m in metrics if m["eval_loss"] is not None]
    last = metrics[-1] if metrics else {}
    status = f"**Job {job.id}: {job.status}** — step {job.step}/{job.total_steps or '?'}"
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
    fix = jobs.suggested_fix(ctx.registry, job.id)
    return {"table": table, "job": job, "status": status, "loss": loss, "log": "\n".join(logs),
            "fix": fix["label"] if fix else None}


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


def fix_job(ctx: Context, job_id: int | None) -> str:
    """Apply a failed job's suggested fix (e.g. QLoRA after running out of memory) as a new job."""
    return _job_action(ctx, job_id, lambda j: f"Job {jobs.apply_fix(ctx.registry, j)} started with the fix "
                                              f"(job {j} stays in the list for the record).")



def tab(ctx: Context) -> None:
    with gr.Row():
        job_id = gr.Number(label="Job (0: the newest)", precision=0, elem_id="job-id")
        refresh = gr.Button("Refresh", size="sm")
        cancel = gr.Button("Cancel", size="sm", variant="stop", elem_id="cancel")
        resume = gr.Button("Resume", size="sm", elem_id="resume")
        fix = gr.Button("Apply the suggested fix", size="sm", variant="primary", visible=False, elem_id="fix")
    status = gr.Markdown(elem_id="job-status")
    plot = gr.LinePlot(x="step", y="loss", color="kind", title="Loss", height=260, elem_id="loss-plot")
    log = gr.Textbox(label="Log", lines=6, max_lines=12, elem_id="job-log")
    table = gr.Dataframe(headers=["job", "status", "progress", "created", "error"], interactive=False, label="Queue")
    action = gr.Markdown()

    def view(jid) -> dict:
        import pandas as pd

        r = job_view(ctx, jid)
        # Numeric columns (an object frame makes the axes categorical: every loss value its own label), and one
        # empty (NaN) point of each kind always: a chart first drawn without a series never draws that series'
        # line later (measured in Chromium: the job page opened before the first logged step stayed blank).
        points = [*r["loss"], *({"step": 0, "loss": float("nan"), "kind": k} for k in ("train", "eval"))]
        curve = pd.DataFrame(points, columns=["step", "loss", "kind"]).astype({"step": "int64", "loss": "float64"})
        state = r["job"].status if r["job"] else None
        return {table: r["table"], status: r["status"], plot: curve, log: r["log"],
                fix: gr.update(visible=True, value=r["fix"]) if r["fix"] else gr.update(visible=False),
                cancel: gr.update(interactive=state in ("queued", "running")),
                resume: gr.update(interactive=state in ("failed", "cancelled"))}

    def job_status(job_id: int) -> dict:
        """A job's record (status, step, error, adapter_id) by id."""
        job = ctx.registry.job(int(job_id))
        return job.to_dict() if job else {}

    outs = [table, status, plot, log, fix, cancel, resume]
    refresh.click(friendly(view), [job_id], outs, api_name=False)
    gr.Timer(2).tick(friendly(view), [job_id], outs, api_name=False, show_progress="hidden")
    gr.api(job_status, api_name="job_status")
    cancel.click(friendly(lambda j: cancel_job(ctx, j)), [job_id], action, api_name="cancel")
    resume.click(friendly(lambda j: resume_job(ctx, j)), [job_id], action, api_name="resume")
    fix.click(friendly(lambda j: fix_job(ctx, j)), [job_id], action, api_name="fix")
