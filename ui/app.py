"""The web app: `build_app()` returns the Gradio Blocks; `serve()` runs it with the API on one server.

Thin by rule: each tab has a small builder, and each handler calls the library with plain values and
returns named results. Long work never runs in a handler: training runs in worker processes (the page
only reads their state from the registry) and inference in the engine's own thread.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import html
import inspect
import json
import secrets
import sqlite3
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from assistant.chat import converse
from assistant.chat.llm import understander_for
from assistant.config import Home
from assistant.data import DataError, inspect_file, save_upload
from assistant.models.resolve import detect_gpu
from assistant.plan import Plan, PlanError
from assistant.registry import Registry
from assistant.registry.store import export_zip
from assistant.security import bind_refusal, hash_password, is_loopback, settings_refusal, verify_password
from assistant.serve.engine import Engine, EngineError, GenerationSettings
from assistant.train import jobs

MAX_SUGGESTIONS = 6


@dataclass
class Context:
    """What every handler may use: the data home, its registry and the inference engine."""

    home: Home
    registry: Registry
    engine: Engine
    gpu_name: str
    gpu_gb: float
    login_active: bool = False
    """Whether this server runs with a login (read from the settings at start; a new login needs a restart)."""
    _understanders: dict = field(default_factory=dict)

    def understander(self):
        """The understanding backend the settings choose (one per setting, so its answers stay cached)."""
        s = self.home.load_settings()
        key = (s.understanding_backend, s.llm_url, s.llm_model, s.llm_key)
        if key not in self._understanders:
            self._understanders[key] = understander_for(s)
        return self._understanders[key]


def explain(error: BaseException) -> str:
    """An unexpected error in one readable line: what kind of thing failed and its message, no stack trace."""
    from assistant.config import SettingsError
    from assistant.errors import environment_error

    if isinstance(error, (SettingsError, sqlite3.DatabaseError)) or (
            isinstance(error, OSError) and error.errno == errno.ENOSPC):
        return f"Something went wrong: {environment_error(error)}."
    kinds = {MemoryError: "the machine ran out of memory", PermissionError: "a file could not be opened (permission denied)",
             FileNotFoundError: "a file is missing", TimeoutError: "it took too long", ConnectionError: "a connection failed"}
    kind = next((words for t, words in kinds.items() if isinstance(error, t)), type(error).__name__)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"Something went wrong: {kind}" + (f" ({detail[:300]})" if detail else "") + \
        ". The details are in the server's log."


@contextlib.contextmanager
def _readable_errors():
    from gradio.exceptions import Error as GradioError

    try:
        yield
    except GradioError:  # raised on purpose, already in words
        raise
    except Exception as e:  # noqa: BLE001 - shown to the user in words, traced in the log
        traceback.print_exc()
        raise gr.Error(explain(e)) from None


def friendly(fn):
    """Wrap a handler so the page never shows a stack trace: an error it did not expect becomes one
    readable line in the page's error box (the full trace goes to the server's log). Errors handlers raise on
    purpose (`gr.Error`) pass through unchanged. Works for plain and generator (streaming) handlers."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            with _readable_errors():
                yield from fn(*args, **kwargs)
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with _readable_errors():
            return fn(*args, **kwargs)
    return call


# -- Assistant tab ---------------------------------------------------------------------------------------
def new_conversation() -> dict:
    return {"messages": [], "data": None, "plan": None}


def chat(ctx: Context, message: str, file: str | None, history: list, state: dict):
    """One user turn (text and/or a file) → the assistant's reply, the plan card and suggestions."""
    state = dict(state or new_conversation())
    history = list(history or [])
    message = (message or "").strip()
    if file:
        try:
            report = inspect_file(file)  # validated where Gradio put it; stored in the data home only if usable
            stored = save_upload(ctx.home.uploads, file)
            state["data"] = str(stored)
            history.append({"role": "user", "content": f"📎 {stored.name}"})
            note = f"I read **{report.rows} rows** ({report.format})."
            if report.warnings:
                note += " Warnings: " + "; ".join(report.warnings)
            history.append({"role": "assistant", "content": note})
        except DataError as e:
            history.append({"role": "assistant", "content": f"⚠️ I could not use that file: {e}"})
            return _chat_result(history, state, None, [])
    if message:
        state["messages"] = [*state["messages"], message]
        history.append({"role": "user", "content": message})
    if not state["messages"] and not state["data"]:
        return _chat_result(history, state, None, [])
    turn = converse(state["messages"] or [""], state["data"], ctx.gpu_gb, ctx.gpu_name,
                    ctx.home.load_settings().default_base_model, home_models=ctx.home.models,
                    understander=ctx.understander())
    state["plan"] = turn.plan.to_json() if turn.plan.task.type else None
    state["ready"] = turn.ready
    history.append({"role": "assistant", "content": turn.reply})
    suggestions = turn.questions[0].suggestions if turn.questions else []
    return _chat_result(history, state, turn, suggestions)


def _chat_result(history, state, turn, suggestions):
    card = turn.reply if turn is not None and turn.plan.task.type else "*No plan yet — describe your task and attach data.*"
    return {
        "history": history,
        "state": state,
        "card": card,
        "ready": bool(turn and turn.ready),
        "suggestions": suggestions[:MAX_SUGGESTIONS],
        "preview": data_preview(turn),
        "fields": plan_fields(turn.plan) if turn is not None and turn.plan.task.type else None,
        "start_label": start_label(turn.plan) if turn is not None and turn.ready else "Start training",
    }


def start_label(plan: Plan) -> str:
    """The start button says what the run will cost: its memory and time estimate."""
    r = plan.resources
    where = r.gpu_name or ("GPU" if r.device == "cuda" else "CPU")
    minutes = f"about {r.estimated_minutes:.0f} min" if r.estimated_minutes >= 1 else "under a minute"
    return f"Start training · ~{r.estimated_peak_gb:.1f} GB on {where} · {minutes}"


def data_preview(turn) -> dict | None:
    """First rows, the detected mapping, two rendered training examples and a token-length histogram."""
    if turn is None or turn.data is None:
        return None
    r, d = turn.data, turn.plan.data
    columns = list(r.preview[0].keys()) if r.preview else []
    rows = [[str(row.get(c, ""))[:120] for c in columns] for row in r.preview]
    mapping = (f"**{r.rows} rows**, format `{r.format}`"
               + (f": input {', '.join(f'`{c}`' for c in r.input_columns)} → output `{r.output_column}`" if r.format == "columns" else "")
               + (f"; labels {', '.join(f'{k} ({v})' for k, v in r.labels.items())}" if r.labels else "")
               + (f". Tokens per example ({'exact' if d.tokens.exact else 'estimated'}, {d.tokens.tokenizer}): "
                  f"median {d.tokens.median}, 95% ≤ {d.tokens.p95}, longest {d.tokens.longest}; max_length "
                  f"{turn.plan.training.max_length} cuts {d.tokens.truncated}" if d.tokens.tokenizer else ""))
    return {"columns": columns, "rows": rows, "mapping": mapping, "examples": turn.examples,
            "histogram": token_histogram(turn.token_lengths, turn.plan.training.max_length)}


def token_histogram(lengths: list[int], max_length: int, bins: int = 12) -> list[list]:
    """[[bucket label, count, within|cut]] for a bar chart of tokens per example."""
    if not lengths:
        return []
    top = max(lengths[-1], max_length)
    width = max(1, -(-top // bins))
    counts: dict[int, int] = {}
    for n in lengths:
        counts[n // width] = counts.get(n // width, 0) + 1
    return [[f"{b * width}–{(b + 1) * width - 1}", c, "cut" if b * width >= max_length else "kept"]
            for b, c in sorted(counts.items())]


EDITABLE = ("base_model", "method", "r", "epochs", "learning_rate", "max_length", "batch_size")


def plan_fields(plan: Plan) -> dict:
    return {"base_model": plan.base_model.name, "method": plan.lora.method, "r": plan.lora.r,
            "epochs": plan.training.epochs, "learning_rate": plan.training.learning_rate,
            "max_length": plan.training.max_length, "batch_size": plan.training.batch_size}


def edits_as_message(state: dict, values: dict) -> str | None:
    """The plan editor's changes said in words, so the chat (which replays every turn) stays the one truth."""
    if not state or not state.get("plan"):
        return None
    now = plan_fields(Plan.from_json(state["plan"]))
    said = []
    for key in EDITABLE:
        new = values.get(key)
        if new in (None, "") or str(new) == str(now[key]) or (isinstance(now[key], float) and new is not None
                                                               and float(new) == now[key]):
            continue
        said.append({"base_model": f"switch to {new}", "method": "use QLoRA" if new == "qlora" else "no QLoRA",
                     "r": f"rank {int(new)}", "epochs": f"train {float(new):g} epochs",
                     "learning_rate": f"learning rate {float(new):g}", "max_length": f"max length {int(new)}",
                     "batch_size": f"batch size {int(new)}"}[key])
    return ("✎ " + "; ".join(said)) if said else None


def start_training(ctx: Context, state: dict) -> dict:
    """Queue the conversation's plan. Returns the job id, or an error in words."""
    if not state or not state.get("plan"):
        return {"job_id": None, "message": "There is no plan yet: describe the task and attach data first."}
    try:
        plan = Plan.from_json(state["plan"])
        job_id = jobs.submit(ctx.registry, plan, state.get("messages"))
    except PlanError as e:
        return {"job_id": None, "message": "The plan cannot run yet: " + "; ".join(e.problems)}
    return {"job_id": job_id, "message": f"Job {job_id} started. Follow it in the **Jobs** tab; closing this page does not stop it."}


# -- Jobs tab --------------------------------------------------------------------------------------------
def job_view(ctx: Context, job_id: int | None) -> dict:
    """A job's state: status, progress, loss curve and log tail (reads only the registry)."""
    jobs.dispatch(ctx.home, ctx.registry)  # drain the queue if a worker ended while nobody watched
    table = [[j["id"], j["status"], f"{j['step']}/{j['total_steps'] or '?'}", j["created"], j["error"] or ""]
             for j in ctx.registry.jobs()]
    job_id = shown_job(ctx, job_id)
    job = ctx.registry.job(job_id) if job_id else None
    if job is None:
        return {"table": table, "job": None, "status": "No jobs yet.", "loss": [], "log": "", "fix": None}
    metrics = ctx.registry.metrics(job["id"])
    loss = [{"step": m["step"], "loss": m["loss"], "kind": "train"} for m in metrics if m["loss"] is not None]
    loss += [{"step": m["step"], "loss": m["eval_loss"], "kind": "eval"} for m in metrics if m["eval_loss"] is not None]
    last = metrics[-1] if metrics else {}
    status = f"**Job {job['id']}: {job['status']}** — step {job['step']}/{job['total_steps'] or '?'}"
    if last.get("eta_seconds") and job["status"] == "running":
        status += f", about {last['eta_seconds']:.0f} s left"
    if last.get("tokens_per_second"):
        status += f", {last['tokens_per_second']:.0f} tokens/s"
    lr = next((m["learning_rate"] for m in reversed(metrics) if m["learning_rate"] is not None), None)
    if lr is not None:
        status += f", learning rate {lr:.2g}"
    if last.get("peak_memory_gb"):
        status += f", peak memory {last['peak_memory_gb']:.1f} GB"
    if job["total_steps"]:
        pct = min(100, round(100 * job["step"] / job["total_steps"]))
        status += (f"\n\n<div class='bar'><div style='width:{pct}%'></div></div>")
    if job["error"]:
        status += f"\n\n⚠️ {job['error']}"
    if job["adapter_id"]:
        rec = ctx.registry.adapter_by_id(job["adapter_id"])
        status += f"\n\n✅ Adapter **{rec['name']}:{rec['version']}** is in the registry."
    fix = jobs.suggested_fix(ctx.registry, job["id"])
    return {"table": table, "job": job, "status": status, "loss": loss, "log": "\n".join(ctx.registry.logs(job["id"])),
            "fix": fix["label"] if fix else None}


def shown_job(ctx: Context, job_id: int | None) -> int | None:
    """The job the Jobs tab shows: the one typed in its field, else the newest."""
    if job_id:
        return int(job_id)
    latest = ctx.registry.jobs(limit=1)
    return latest[0]["id"] if latest else None


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


# -- Registry tab ----------------------------------------------------------------------------------------
def adapter_rows(ctx: Context, query: str = "", task: str | None = None, tag: str | None = None,
                 sort: str | None = None) -> list[list]:
    """The registry table: search words, task and tag filters, sort by a final metric."""
    try:
        rows = ctx.registry.search(query or "", task=task or None, tag=(tag or "").strip() or None, sort=sort or None,
                                   limit=200)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return [[f"{a['name']}:{a['version']}" + ("" if a["status"] == "ready" else f" [{a['status']}]"), a["task"] or "",
             a["base_model"], ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in a["metrics"].items()),
             " ".join(a["tags"] + [f"@{al}" for al in a["aliases"]]), a["description"][:80], a["created"]] for a in rows]


def adapter_names(ctx: Context) -> list[str]:
    return [f"{a['name']}:{a['version']}" for a in ctx.registry.adapters(limit=500)]


def _record(ctx: Context, name: str) -> dict:
    rec = ctx.registry.adapter(name or "")
    if rec is None:
        raise gr.Error(f"No adapter named {name!r}.")
    return rec


def adapter_page(ctx: Context, name: str) -> dict:
    """One adapter: its lineage (conversation → plan → dataset → job → metrics → versions) and its files."""
    from assistant.registry.store import adapter_dir

    rec = ctx.registry.adapter(name or "")
    if rec is None:
        return {}
    folder = adapter_dir(ctx.registry, rec)
    files = {f.name: f"{f.stat().st_size:,} bytes" for f in sorted(folder.iterdir()) if f.is_file()} if folder.exists() else {}
    page = {**ctx.registry.lineage(rec["id"]), "files": files}
    if not page.get("plan") and (folder / "plan.json").exists():  # imported, or registered outside a job
        try:
            page["plan"] = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        except ValueError:
            pass
    return page


def adapter_card(page: dict) -> str:
    """One adapter's page in words: what it is, its metrics, its plan, where it came from, its files."""
    if not page or not page.get("adapter"):
        return "*Pick an adapter to see its page.*"
    a, esc = page["adapter"], html.escape

    def num(v):
        return f"{v:.4g}" if isinstance(v, float) else esc(str(v))

    out = [f"### {esc(a['name'])}:{a['version']}" + ("" if a.get("status", "ready") == "ready" else f" ({esc(a['status'])})"),
           esc(a.get("description") or "") or "*No description.*",
           f"**Base model** {esc(a['base_model'])} · **task** {esc(a.get('task') or '—')} · **created** {esc(a['created'])}"
           f" · **size** {a['size_bytes'] / 1e6:.1f} MB"
           + (f" · **tags** {esc(', '.join(a['tags']))}" if a.get("tags") else "")
           + (f" · **aliases** {esc(', '.join(a['aliases']))}" if a.get("aliases") else "")]
    m = page.get("metrics") or {}
    metrics = dict(m.get("final") or {})
    if m.get("first_loss") is not None:
        metrics["loss (first → last)"] = f"{m['first_loss']:.3f} → {m['last_loss']:.3f}"
    if metrics:
        out.append("| metric | value |\n|---|---|\n" + "\n".join(f"| {esc(k)} | {num(v)} |" for k, v in metrics.items()))
    plan = page.get("plan")
    if plan:
        lora, tr = plan.get("lora", {}), plan.get("training", {})
        out.append(f"**Plan** {esc(str(lora.get('method', '')).upper())} r={lora.get('r')} alpha={lora.get('alpha')}"
                   f" · lr {tr.get('learning_rate')} · {tr.get('epochs')} epochs · batch {tr.get('batch_size')}"
                   f" × {tr.get('gradient_accumulation', 1)} · max length {tr.get('max_length')}")
    ds, job = page.get("dataset"), page.get("job")
    if ds:
        out.append(f"**Data** `{esc(ds['path'].rsplit('/', 1)[-1])}` — {ds['rows']} rows, {esc(ds['format'])}, sha256 "
                   f"`{ds['sha256'][:12]}…`")
    if page.get("conversation"):
        out.append("**Asked for**\n\n" + "\n".join(f"1. {esc(t)}" for t in page["conversation"]))
    if job:
        out.append(f"**Trained by** job {job['id']} ({esc(job['status'])}, {job['step']} steps)")
    if page.get("parent"):
        out.append(f"**Parent** {esc(page['parent']['name'])}:{page['parent']['version']}")
    versions = page.get("versions") or []
    if len(versions) > 1:
        out.append("**Versions** " + ", ".join(f"v{v['version']} ({esc(v['created'][:10])})" for v in versions))
    files = page.get("files") or {}
    if files:
        out.append("| file | size |\n|---|---|\n" + "\n".join(f"| `{esc(k)}` | {esc(v)} |" for k, v in files.items()))
    else:
        out.append("⚠️ Its folder is missing on disk: run `tailor adapters check --repair`.")
    return "\n\n".join(out)


def download_folder() -> Path:
    """A fresh private folder for one download, outside the data home.

    Gradio copies a returned file into its own cache and serves that copy; the file route never reaches the
    data home. Folders of earlier downloads older than an hour are removed here.
    """
    import shutil
    import tempfile
    import time

    root = Path(tempfile.gettempdir()) / "tailor-downloads"
    root.mkdir(mode=0o700, exist_ok=True)
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def download_adapter(ctx: Context, name: str) -> str:
    rec = _record(ctx, name)
    return str(export_zip(ctx.registry, rec, download_folder() / f"{rec['name']}-v{rec['version']}.zip"))


def download_merged(ctx: Context, name: str) -> str:
    from assistant.registry.manage import export_merged

    rec = _record(ctx, name)
    return str(export_merged(ctx.registry, rec, download_folder() / f"{rec['name']}-v{rec['version']}-merged.zip",
                             log=lambda m: None))


def adapter_action(ctx: Context, action: str, name: str, value: str = "") -> str:
    """Tag, alias, describe or delete one adapter; returns what happened, in words."""
    from assistant.registry.manage import RegistryError, delete_adapter

    rec = _record(ctx, name)
    label = f"{rec['name']}:{rec['version']}"
    value = (value or "").strip()
    try:
        if action == "tag":
            ctx.registry.tag(rec["id"], value.split())
            return f"Tagged {label}: {value}"
        if action == "alias":
            if not value or ctx.registry.versions(value):
                return "An alias needs a name of its own (not an adapter's name)."
            ctx.registry.set_alias(value, rec["id"])
            return f"{value} → {label}"
        if action == "describe":
            ctx.registry.update_adapter(rec["id"], description=value)
            return f"Described {label}"
        if action == "delete":
            delete_adapter(ctx.registry, rec)
            return f"Deleted {label}"
    except RegistryError as e:
        return f"⚠️ {e}"
    return f"unknown action {action!r}"


def import_upload(ctx: Context, file: str | None, name: str = "") -> str:
    from assistant.registry.manage import RegistryError, import_adapter

    if not file:
        return "Choose a zip of a PEFT adapter first."
    try:
        rec = import_adapter(ctx.registry, file, name=(name or "").strip() or None,
                             base_source=ctx.engine.base_source, home_models=ctx.home.models)
    except RegistryError as e:
        return f"⚠️ Not imported: {e}"
    return f"Imported **{rec['name']}:{rec['version']}** (base {rec['base_model']})."


# -- Compare tab -----------------------------------------------------------------------------------------
def compare(ctx: Context, prompt: str, adapters: list[str], max_new_tokens: int = 64) -> list[dict]:
    """The prompt answered by the base model and each chosen adapter, side by side in one batched call."""
    return list(compare_stream(ctx, prompt, adapters, max_new_tokens))[-1]


def compare_stream(ctx: Context, prompt: str, adapters: list[str], max_new_tokens: int = 64):
    """Like `compare`, yielding every side's text so far as the tokens arrive."""
    try:
        for answers in ctx.engine.stream_side_by_side(prompt, [None, *(adapters or [])[:4]],
                                                      GenerationSettings(max_new_tokens=int(max_new_tokens))):
            yield [a.__dict__ for a in answers]
    except EngineError as e:
        raise gr.Error(str(e)) from None


def run_evaluation(ctx: Context, adapters: list[str], eval_file: str | None, max_new_tokens: int = 64):
    """Base + adapters on the first adapter's held-out split (or an uploaded file): (summary rows, run)."""
    from assistant.data import DataError
    from assistant.serve.evaluate import EvalError, adapter_plan, evaluate, from_file, held_out

    if not adapters:
        raise gr.Error("Choose at least one adapter to evaluate against the base model.")
    try:
        _, plan = adapter_plan(ctx.registry, adapters[0])
        examples = from_file(plan, eval_file) if eval_file else held_out(plan)
        run = evaluate(ctx.engine, [None, *adapters[:4]], examples[:200], plan.evaluation.metrics,
                       GenerationSettings(max_new_tokens=int(max_new_tokens)), registry=ctx.registry)
    except (EvalError, DataError, EngineError) as e:
        raise gr.Error(str(e)) from None
    return eval_rows(run), run


def eval_rows(run: dict) -> list[list]:
    rows = []
    for model in run["models"]:
        r = run["results"][model]
        for metric in run["metrics"]:
            ci = r.get("vs_" + run["baseline"], {}).get(metric)
            rows.append([model, metric, round(r["metrics"][metric], 4),
                         "" if ci is None else f"{ci['difference']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]"])
    return rows


def disagreement_rows(run: dict | None, only: str = "all", model: str | None = None) -> list[list]:
    """The examples where `model` (default: the first adapter) and the base scored differently."""
    from assistant.serve.evaluate import disagreements

    if not run or len(run.get("models", [])) < 2:
        return []
    base = run["baseline"]
    if model not in run["models"][1:]:
        model = run["models"][1]
    metric = next((m for m in run["metrics"] if m in run["results"][model]["per_example"]), None)
    if metric is None:
        return []
    return [[d["result"], d["prompt"][:200], d["reference"][:120], d[model][:200], d[base][:200]]
            for d in disagreements(run, model, metric, only)]


def arena_battle(ctx: Context, prompt: str) -> dict:
    from assistant.serve.arena import battle

    if not (prompt or "").strip():
        raise gr.Error("Write a prompt first.")
    models = ["base", *(f"{a['name']}:{a['version']}" for a in ctx.registry.search(limit=8))]
    try:
        return battle(ctx.engine, prompt, models)
    except (ValueError, EngineError) as e:
        raise gr.Error(str(e)) from None


def arena_vote(ctx: Context, token: str | None, winner: str) -> str:
    from assistant.serve.arena import vote

    if not token:
        return "Start a battle first."
    try:
        r = vote(ctx.registry, token, winner)
    except ValueError as e:
        return f"⚠️ {e}"
    return f"A was **{r['a']}**, B was **{r['b']}**. Vote recorded: {winner}."


def leaderboard_rows(ctx: Context) -> list[list]:
    from assistant.serve.arena import standings

    return [[r["model"], r["rating"], f"[{r['low']}, {r['high']}]", r["votes"]] for r in standings(ctx.registry, 100)]


def answers_html(answers: list[dict]) -> str:
    cols = "".join(
        f"<div class='side'><h4>{html.escape(a['model'])}</h4><pre>{html.escape(a['text'])}</pre>"
        f"<small>{a['tokens']} tokens · {a['latency_s']:.2f} s · {a['tokens_per_second']:.1f} tok/s</small></div>"
        for a in answers)
    return f"<div class='sides'>{cols}</div>"


CSS = """
.sides {display:flex; gap:12px; flex-wrap:wrap}
.side {flex:1 1 260px; border:1px solid var(--border-color-primary); border-radius:8px; padding:8px}
.side pre {white-space:pre-wrap}
#plan-card table {display:block; overflow-x:auto}
#plan-card td:first-child, #plan-card th:first-child {white-space:nowrap}
/* keyboard users always see where they are */
button:focus-visible, input:focus-visible, textarea:focus-visible, [role=tab]:focus-visible, a:focus-visible
  {outline:2px solid var(--color-accent) !important; outline-offset:2px}
.bar {height:8px; background:var(--border-color-primary); border-radius:4px; overflow:hidden}
.bar div {height:100%; background:var(--color-accent)}
/* the selected tab is marked by its accent underline; its words keep the body's contrast */
[role=tab][aria-selected=true] {color:var(--body-text-color) !important; font-weight:600}
footer button, footer a {color:var(--body-text-color) !important}
@media (max-width: 640px) {
  .side {flex-basis:100%}
  #chatbot {height:360px !important}
}
"""


def theme():
    """Gradio's default look with its accents darkened so text on them keeps WCAG AA contrast (4.5:1)."""
    red = gr.themes.colors.red
    return gr.themes.Default().set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800", button_primary_background_fill_hover_dark="*primary_800",
        button_cancel_background_fill=red.c700, button_cancel_background_fill_dark=red.c700,
        button_cancel_background_fill_hover=red.c800, button_cancel_background_fill_hover_dark=red.c800)


# -- building ----------------------------------------------------------------------------------------------
def build_app(ctx: Context) -> gr.Blocks:
    with gr.Blocks(title="Tailor") as demo:
        gr.Markdown("# Tailor\nDescribe the task, attach your data, get a fine-tuned adapter.")
        engine_status = gr.Markdown(f"Base model: {ctx.engine.status}", elem_id="engine-status")
        with gr.Tabs():
            with gr.Tab("Assistant", id="assistant"):
                _assistant_tab(ctx)
            with gr.Tab("Jobs", id="jobs"):
                _jobs_tab(ctx)
            with gr.Tab("Registry", id="registry"):
                _registry_tab(ctx)
            with gr.Tab("Compare", id="compare"):
                _compare_tab(ctx)
            with gr.Tab("Settings", id="settings"):
                _settings_tab(ctx)
        gr.Timer(2).tick(friendly(lambda: f"Base model: {ctx.engine.status}"), outputs=engine_status, api_name=False,
                         show_progress="hidden")
    return demo


def _assistant_tab(ctx: Context) -> None:
    from assistant.models.catalog import CATALOG

    state = gr.State(new_conversation())
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            chatbot = gr.Chatbot(label="Assistant", height=460, buttons=["copy", "copy_all"], elem_id="chatbot")
            with gr.Row():
                msg = gr.Textbox(label="Message", placeholder="e.g. I want to classify customer reviews by sentiment", show_label=False,
                                 scale=5, elem_id="message")
                send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
            data = gr.File(label="Attach data (CSV, TSV, JSON, JSONL, Parquet)", file_types=[".csv", ".tsv", ".json", ".jsonl", ".parquet"],
                           height=140, elem_id="data-file")
            with gr.Row():
                buttons = [gr.Button(visible=False, size="sm", elem_classes="suggestion") for _ in range(MAX_SUGGESTIONS)]
        with gr.Column(scale=2, min_width=300):
            card = gr.Markdown("*No plan yet — describe your task and attach data.*", elem_id="plan-card")
            start = gr.Button("Start training", variant="primary", interactive=False, elem_id="start")
            started = gr.Markdown(elem_id="start-status")
            with gr.Accordion("Edit the plan", open=False, elem_id="plan-editor"):
                gr.Markdown("Changes go into the conversation as your words, so the chat and the plan stay in step.")
                f_model = gr.Dropdown([m.name for m in CATALOG], label="Base model", allow_custom_value=True,
                                      elem_id="edit-model")
                f_method = gr.Radio(["lora", "qlora"], label="Method", elem_id="edit-method")
                with gr.Row():
                    f_r = gr.Number(label="LoRA rank", precision=0, minimum=1, elem_id="edit-r")
                    f_epochs = gr.Number(label="Epochs", minimum=0.1, elem_id="edit-epochs")
                with gr.Row():
                    f_lr = gr.Number(label="Learning rate", elem_id="edit-lr")
                    f_len = gr.Number(label="Max length", precision=0, minimum=16, elem_id="edit-max-length")
                    f_batch = gr.Number(label="Batch size", precision=0, minimum=1, elem_id="edit-batch")
                apply_edits = gr.Button("Apply edits", elem_id="apply-edits")
    with gr.Accordion("Your data", open=False, elem_id="data-preview"):
        mapping = gr.Markdown(elem_id="data-mapping")
        preview = gr.Dataframe(interactive=False, wrap=True, elem_id="data-rows")
        histogram = gr.BarPlot(x="tokens", y="examples", color="kept", title="Tokens per example", height=220,
                               elem_id="token-histogram")
        examples = gr.Markdown(elem_id="rendered-examples")
    fields = [f_model, f_method, f_r, f_epochs, f_lr, f_len, f_batch]

    def render(r):
        import pandas as pd

        sugg = [gr.update(value=s, visible=True) for s in r["suggestions"]]
        sugg += [gr.update(visible=False)] * (MAX_SUGGESTIONS - len(sugg))
        p = r["preview"]
        preview_out = [gr.update(), gr.update(), gr.update(), gr.update()]
        if p:
            preview_out = [p["mapping"], pd.DataFrame(p["rows"], columns=p["columns"]),
                           pd.DataFrame(p["histogram"], columns=["tokens", "examples", "kept"]),
                           "\n\n".join(f"Example {i + 1}, exactly as trained:\n\n```\n{e}\n```" for i, e in enumerate(p["examples"]))]
        f = r["fields"]
        field_out = [gr.update(value=f[k]) for k in EDITABLE] if f else [gr.update()] * len(EDITABLE)
        return [r["history"], r["state"], r["card"], gr.update(interactive=r["ready"], value=r["start_label"]), "",
                *sugg, *preview_out, *field_out]

    def on_chat(message, file, history, st):
        """Show the turn at once with a working note, then the reply paragraph by paragraph, then everything."""
        from pathlib import Path as _Path

        keep = [gr.update()] * (len(outputs) - 1)
        pending = list(history or [])
        if file:
            pending.append({"role": "user", "content": f"📎 {_Path(file).name}"})
        if (message or "").strip():
            pending.append({"role": "user", "content": message.strip()})
        if len(pending) > len(history or []):
            pending.append({"role": "assistant", "content": "*Reading your data and planning…*" if file else "*Planning…*"})
            yield [pending, *keep[:3], "", *keep[4:]]
        r = chat(ctx, message, file, history, st)
        last = r["history"][-1] if r["history"] else None
        if last and last["role"] == "assistant":
            parts = last["content"].split("\n\n")
            for i in range(1, len(parts)):
                yield [[*r["history"][:-1], {"role": "assistant", "content": "\n\n".join(parts[:i])}], *keep]
        yield render(r)

    def on_edit(history, st, *values):
        said = edits_as_message(st, dict(zip(EDITABLE, values)))
        if said is None:
            gr.Info("Nothing changed.")
        return render(chat(ctx, said or "", None, history, st))

    # The file box is not an output of a turn: an event's outputs are locked while it runs, and a keyboard user
    # on the upload button would find it dead. It is emptied after its own upload instead.
    outputs = [chatbot, state, card, start, msg, *buttons, mapping, preview, histogram, examples, *fields]
    send.click(friendly(on_chat), [msg, data, chatbot, state], outputs, api_name="chat")
    msg.submit(friendly(on_chat), [msg, data, chatbot, state], outputs, api_name=False)
    data.upload(friendly(on_chat), [msg, data, chatbot, state], outputs, api_name=False).then(
        lambda: None, None, data, api_name=False, show_progress="hidden")
    for b in buttons:
        b.click(friendly(lambda text, h, st: on_chat(text, None, h, st)), [b, chatbot, state], outputs, api_name=False)
    apply_edits.click(friendly(on_edit), [chatbot, state, *fields], outputs, api_name="edit_plan")

    def on_start(st):
        r = start_training(ctx, st)
        return r["message"], r["job_id"]

    job_id_out = gr.Number(visible=False)
    start.click(friendly(on_start), [state], [started, job_id_out], api_name="start")


def _jobs_tab(ctx: Context) -> None:
    with gr.Row():
        job_id = gr.Number(label="Job", precision=0, elem_id="job-id")
        refresh = gr.Button("Refresh", size="sm")
        cancel = gr.Button("Cancel", size="sm", variant="stop", elem_id="cancel")
        resume = gr.Button("Resume", size="sm", elem_id="resume")
        fix = gr.Button("Apply the suggested fix", size="sm", variant="primary", visible=False, elem_id="fix")
    status = gr.Markdown(elem_id="job-status")
    plot = gr.LinePlot(x="step", y="loss", color="kind", title="Loss", height=260, elem_id="loss-plot")
    log = gr.Textbox(label="Log", lines=6, max_lines=12, elem_id="job-log")
    table = gr.Dataframe(headers=["job", "status", "progress", "created", "error"], interactive=False, label="Queue")
    action = gr.Markdown()

    def view(jid):
        import pandas as pd

        r = job_view(ctx, jid)
        df = pd.DataFrame(r["loss"], columns=["step", "loss", "kind"])
        button = gr.update(visible=True, value=r["fix"]) if r["fix"] else gr.update(visible=False)
        return r["table"], r["status"], df, r["log"], button

    def job_status(job_id: int) -> dict:
        """A job's record (status, step, error, adapter_id) by id."""
        return ctx.registry.job(int(job_id)) or {}

    outs = [table, status, plot, log, fix]
    refresh.click(friendly(view), [job_id], outs, api_name=False)
    gr.Timer(2).tick(friendly(view), [job_id], outs, api_name=False, show_progress="hidden")
    gr.api(job_status, api_name="job_status")
    cancel.click(friendly(lambda j: cancel_job(ctx, j)), [job_id], action, api_name="cancel")
    resume.click(friendly(lambda j: resume_job(ctx, j)), [job_id], action, api_name="resume")
    fix.click(friendly(lambda j: fix_job(ctx, j)), [job_id], action, api_name="fix")


def _registry_tab(ctx: Context) -> None:
    from assistant.plan import TASK_TYPES

    with gr.Row():
        query = gr.Textbox(label="Search adapters", placeholder="search names, descriptions, tags…", show_label=False, scale=3, elem_id="adapter-search")
        task = gr.Dropdown(["", *TASK_TYPES], value="", label="Task", scale=1, elem_id="adapter-task")
        tag = gr.Textbox(label="Tag", scale=1, elem_id="adapter-tag")
        sort = gr.Dropdown(["", "accuracy", "f1", "rougeL", "eval_loss", "train_loss"], value="", label="Sort by",
                           scale=1, elem_id="adapter-sort")
    table = gr.Dataframe(headers=["adapter", "task", "base model", "metrics", "tags", "description", "created"],
                         interactive=False, elem_id="adapters-table")
    with gr.Row():
        pick = gr.Dropdown(label="Adapter", choices=[], allow_custom_value=True, elem_id="adapter-pick")
        download = gr.Button("Download zip", elem_id="download")
        merged = gr.Button("Download merged model", elem_id="download-merged")
    zip_file = gr.File(label="Download", elem_id="adapter-zip")
    with gr.Row():
        value = gr.Textbox(label="Tag / alias / description", elem_id="adapter-value")
        tag_b = gr.Button("Add tags", size="sm")
        alias_b = gr.Button("Set alias", size="sm")
        desc_b = gr.Button("Describe", size="sm")
        delete_b = gr.Button("Delete version", size="sm", variant="stop", elem_id="adapter-delete")
    message = gr.Markdown(elem_id="registry-message")
    with gr.Accordion("Import an adapter (zip of a PEFT adapter, safetensors only)", open=False):
        with gr.Row():
            upload = gr.File(label="Adapter zip", file_types=[".zip"], elem_id="import-file")
            import_name = gr.Textbox(label="Name (optional)")
            import_b = gr.Button("Import", elem_id="import")
    card = gr.Markdown("*Pick an adapter to see its page.*", elem_id="adapter-card")
    with gr.Accordion("Full lineage (conversation → plan → dataset → job → metrics → versions)", open=False):
        details = gr.JSON(show_label=False)

    filters = [query, task, tag, sort]

    def refresh(q, t, tg, so):
        return adapter_rows(ctx, q, t, tg, so), gr.update(choices=adapter_names(ctx))

    for box in filters:
        box.change(friendly(refresh), filters, [table, pick], api_name=False)
    gr.Timer(3).tick(friendly(refresh), filters, [table, pick], api_name=False, show_progress="hidden")

    def show(n):
        page = adapter_page(ctx, n)
        return adapter_card(page), page

    pick.change(friendly(show), [pick], [card, details], api_name=False)
    download.click(friendly(lambda n: download_adapter(ctx, n)), [pick], zip_file, api_name="download")
    merged.click(friendly(lambda n: download_merged(ctx, n)), [pick], zip_file, api_name="download_merged")
    for button, action in ((tag_b, "tag"), (alias_b, "alias"), (desc_b, "describe"), (delete_b, "delete")):
        button.click(friendly(lambda n, v, a=action: adapter_action(ctx, a, n, v)), [pick, value], message,
                     api_name=f"adapter_{action}").then(friendly(show), [pick], [card, details], api_name=False)
    import_b.click(friendly(lambda f, n: import_upload(ctx, f, n)), [upload, import_name], message, api_name="import_adapter")

    def adapters(query: str = "", task: str = "", tag: str = "") -> list:
        """Registered adapters (newest first) matching the words, task and tag; their folder under `folder`."""
        rows = ctx.registry.search(query or "", task=task or None, tag=tag or None, limit=1000)
        return [{("folder" if k == "path" else k): v for k, v in a.items()} for a in rows]

    gr.api(adapters, api_name="adapters")


def _compare_tab(ctx: Context) -> None:
    prompt = gr.Textbox(label="Prompt", lines=3, elem_id="compare-prompt")
    with gr.Row():
        pick = gr.Dropdown(label="Adapters (up to four)", multiselect=True, max_choices=4, choices=[],
                           allow_custom_value=True, elem_id="compare-pick")
        max_new = gr.Slider(8, 512, value=64, step=8, label="Max new tokens")
        go = gr.Button("Compare", variant="primary", elem_id="compare-go")
    sides = gr.HTML(elem_id="compare-sides")
    raw = gr.JSON(visible=False)

    def run(p, picked, n):
        for answers in compare_stream(ctx, p, picked, n):
            yield answers_html(answers), answers

    go.click(friendly(run), [prompt, pick, max_new], [sides, raw], api_name="compare")
    gr.Timer(3).tick(friendly(lambda: gr.update(choices=adapter_names(ctx))), None, pick, api_name=False, show_progress="hidden")

    with gr.Accordion("Evaluate on held-out data", open=False, elem_id="eval-section"):
        gr.Markdown("The base model and the chosen adapters answer the first adapter's held-out rows (or your "
                    "file) with the same settings; each adapter's difference from the base comes with a 95% interval.")
        with gr.Row():
            eval_file = gr.File(label="Eval file (optional)", file_types=[".csv", ".tsv", ".json", ".jsonl", ".parquet"])
            eval_go = gr.Button("Evaluate", elem_id="eval-go")
        eval_table = gr.Dataframe(headers=["model", "metric", "score", "vs base [95% CI]"], interactive=False,
                                  elem_id="eval-table")
        with gr.Row():
            diff_model = gr.Dropdown(label="Examples where this adapter and the base differ", choices=[],
                                     elem_id="eval-diff-model")
            only = gr.Radio(["all", "wins", "losses"], value="all", label="Show", elem_id="eval-diff-only")
        diff_table = gr.Dataframe(headers=["result", "prompt", "reference", "adapter's answer", "base's answer"],
                                  interactive=False, wrap=True, elem_id="eval-diffs")
        run_state = gr.State(None)

        def on_eval(picked, f, n, o):
            rows, run_ = run_evaluation(ctx, picked, f, n)
            first = run_["models"][1] if len(run_["models"]) > 1 else None
            return rows, run_, gr.update(choices=run_["models"][1:], value=first), disagreement_rows(run_, o, first)

        eval_go.click(friendly(on_eval), [pick, eval_file, max_new, only], [eval_table, run_state, diff_model, diff_table],
                      api_name="evaluate")
        for control in (only, diff_model):
            control.change(friendly(lambda r, o, m: disagreement_rows(r, o, m)), [run_state, only, diff_model], diff_table,
                           api_name=False)

    with gr.Accordion("Blind arena", open=False, elem_id="arena-section"):
        gr.Markdown("Two anonymous models answer your prompt. Vote; the names are revealed after.")
        arena_prompt = gr.Textbox(label="Prompt", elem_id="arena-prompt")
        battle_b = gr.Button("Battle", elem_id="arena-go")
        with gr.Row():
            side_a = gr.Textbox(label="A", lines=4, interactive=False, elem_id="arena-a")
            side_b = gr.Textbox(label="B", lines=4, interactive=False, elem_id="arena-b")
        token = gr.State(None)
        with gr.Row():
            votes = {w: gr.Button(label, size="sm", elem_id=f"vote-{w}")
                     for w, label in (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"), ("both_bad", "Both bad"))}
        revealed = gr.Markdown(elem_id="arena-result")
        board = gr.Dataframe(headers=["model", "rating", "95% CI", "votes"], interactive=False, elem_id="leaderboard")

        def on_battle(p):
            b = arena_battle(ctx, p)
            return b["a"], b["b"], b["battle"], ""

        battle_b.click(friendly(on_battle), [arena_prompt], [side_a, side_b, token, revealed], api_name="arena_battle")
        for w, button in votes.items():
            button.click(friendly(lambda t, w=w: (arena_vote(ctx, t, w), None, leaderboard_rows(ctx))), [token],
                         [revealed, token, board], api_name=f"vote_{w}")


SECRETS = ("API key", "endpoint key", "login")
MIN_PASSWORD = 8


def save_settings(ctx: Context, default_base_model: str, api_key: str, backend: str, llm_url: str, llm_model: str,
                  llm_key: str, login_username: str, login_password: str, clear: list[str] | None = None, *,
                  username: str | None = None, client_host: str | None = None) -> str:
    """Validate and store the settings; say what takes effect when.

    Secrets are never shown, so an empty secret box keeps the stored one; `clear` names those to remove.
    Only a client with authority may save (`assistant.security.settings_refusal`)."""
    import dataclasses

    if (why := settings_refusal(ctx.login_active, username, client_host)) is not None:
        return f"⚠️ Not saved: {why}."
    clear = set(clear or [])
    backend = backend or "rules"
    llm_url, login_username = (llm_url or "").strip(), (login_username or "").strip()
    old = ctx.home.load_settings()
    if backend == "openai" and not (llm_url and (llm_model or "").strip()):
        return "⚠️ The language-model backend needs its URL and model name."
    if llm_url and not llm_url.startswith(("http://", "https://")):
        return "⚠️ The endpoint URL must start with http:// or https://"
    new_hash = "" if "login" in clear else (hash_password(login_password) if login_password else old.login_password_hash)
    if "login" in clear:
        login_username = ""
    if bool(login_username) != bool(new_hash):
        return "⚠️ A login needs both a username and a password (or neither)."
    if login_password and len(login_password) < MIN_PASSWORD:
        return f"⚠️ A login password needs at least {MIN_PASSWORD} characters."
    new = dataclasses.replace(
        old, default_base_model=(default_base_model or "").strip() or old.default_base_model,
        api_key="" if "API key" in clear else ((api_key or "").strip() or old.api_key),
        understanding_backend=backend, llm_url=llm_url, llm_model=(llm_model or "").strip(),
        llm_key="" if "endpoint key" in clear else ((llm_key or "").strip() or old.llm_key),
        login_username=login_username, login_password_hash=new_hash)
    ctx.home.save_settings(new)
    notes = ["Saved."]
    if new.default_base_model != old.default_base_model:
        notes.append("The new default base model is used by new plans; the comparison engine switches at the next start.")
    if (new.login_username, new.login_password_hash) != (old.login_username, old.login_password_hash):
        notes.append("The login takes effect at the next start.")
    return " ".join(notes)


def secrets_line(settings) -> str:
    """Which secrets are set, in words: the secrets themselves never reach the page."""
    p = settings.public()
    said = {True: "set", False: "not set"}
    return (f"API key: **{said[p['api_key_set']]}** · endpoint key: **{said[p['llm_key_set']]}** · "
            f"login: **{said[p['login_set']]}**. Secret boxes start empty: type a new value to replace one, or "
            "tick it under *Remove* to delete it.")


def _settings_tab(ctx: Context) -> None:
    s = ctx.home.load_settings()
    gr.Markdown(f"Data home: `{ctx.home.root}` (registry, adapters, models, uploads and jobs live here).")
    status = gr.Markdown(secrets_line(s), elem_id="settings-secrets")
    base = gr.Textbox(value=s.default_base_model, label="Default base model (catalog name, hub id or local folder)",
                      elem_id="settings-base")
    api_key = gr.Textbox(label="API key for /v1 (empty: keep the current one)", type="password",
                         elem_id="settings-api-key")
    backend = gr.Radio(["rules", "openai"], value=s.understanding_backend, label="How the assistant understands you",
                       info="rules: built in, offline. openai: any OpenAI-compatible endpoint (falls back to the rules).")
    with gr.Row():
        url = gr.Textbox(value=s.llm_url, label="Endpoint URL", placeholder="http://127.0.0.1:8000/v1")
        model = gr.Textbox(value=s.llm_model, label="Model")
        key = gr.Textbox(label="Key (empty: keep)", type="password", elem_id="settings-llm-key")
    with gr.Row():
        user = gr.Textbox(value=s.login_username, label="Login username (optional)", elem_id="settings-user")
        password = gr.Textbox(label="Login password (empty: keep)", type="password", elem_id="settings-password")
    clear = gr.CheckboxGroup(list(SECRETS), label="Remove", elem_id="settings-clear")
    save = gr.Button("Save settings", variant="primary", elem_id="settings-save")
    result = gr.Markdown(elem_id="settings-result")

    def on_save(b, k, bk, u, m, lk, user_, pw, cl, request: gr.Request):
        said = save_settings(ctx, b, k, bk, u, m, lk, user_, pw, cl, username=getattr(request, "username", None),
                             client_host=request.client.host if request and request.client else None)
        return said, secrets_line(ctx.home.load_settings()), "", "", "", []

    save.click(friendly(on_save), [base, api_key, backend, url, model, key, user, password, clear],
               [result, status, api_key, key, password, clear], api_name="save_settings")


def make_context(home: Home, base_model: str | None = None) -> Context:
    registry = Registry(home)
    jobs.reconcile(registry)
    jobs.dispatch(home, registry)
    gpu_name, gpu_gb = detect_gpu()
    settings = home.load_settings()
    engine = Engine(registry, base_model or settings.default_base_model)
    return Context(home, registry, engine, gpu_name, gpu_gb, login_active=settings.login_set)


def max_upload_bytes() -> int:
    """The largest upload the page accepts: the larger of the data file and adapter import limits."""
    from assistant.data.load import max_data_bytes
    from assistant.registry.imports import max_import_bytes

    return max(max_data_bytes(), max_import_bytes())


def login_checker(home: Home):
    """Gradio's auth callable: the login in the settings, its password checked against the stored hash."""
    def check(username: str, password: str) -> bool:
        s = home.load_settings()
        return bool(s.login_set) and secrets.compare_digest(username.encode(), s.login_username.encode()) \
            and verify_password(password, s.login_password_hash)
    return check


def build_server(ctx: Context, api_only: bool = False, allow_anonymous: bool = False):
    """The FastAPI app: the OpenAI-compatible API under /v1 and (unless api_only) the web app at /.

    No OpenAPI pages (/docs, /redoc, /openapi.json): they describe the routes to anyone, login or not. The
    file route serves Gradio's own uploads and the copies of what a click produced, never the data home."""
    from fastapi import FastAPI, HTTPException

    from assistant.serve.openai_api import openai_router

    app = FastAPI(title="Tailor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/openapi.json", include_in_schema=False)  # Gradio's own schema page, mounted below, stays shut too
    def no_schema():
        raise HTTPException(404)

    app.include_router(openai_router(ctx.engine, lambda: ctx.home.load_settings().api_key,
                                     allow_anonymous=allow_anonymous))
    if not api_only:
        h = ctx.home
        private = [h.settings_path, h.db_path, h.adapters, h.models, h.uploads, h.jobs, h.root / "exports"]
        app = gr.mount_gradio_app(app, build_app(ctx), path="/", css=CSS, theme=theme(),
                                  blocked_paths=[str(p) for p in private], max_file_size=max_upload_bytes(),
                                  auth=login_checker(h) if ctx.login_active else None, auth_message="Tailor: sign in")
    return app


def serve(home: Home, host: str = "127.0.0.1", port: int = 7860, base_model: str | None = None,
          api_only: bool = False, allow_anonymous: bool = False) -> None:
    """Start the engine in the background and serve the app and the API on one port."""
    import uvicorn

    settings = home.load_settings()
    # A login (web app) or an API key (API only) is what stands between the network and the data.
    guarded, guard = (bool(settings.api_key), "an API key") if api_only else (settings.login_set, "a login")
    if (why := bind_refusal(host, guarded, allow_anonymous, guard)) is not None:
        raise ServeRefused(why)
    if allow_anonymous and not guarded and not is_loopback(host):
        print(f"Tailor: WARNING: listening on {host} with no login (--allow-anonymous): anyone who can reach "
              "it can use and change everything but the settings", flush=True)
    print(f"Tailor: data home {home.root}", flush=True)
    home.save_settings(settings)  # writes any plain-text password as its hash, and the file as 0600
    # The page is up at once; the engine loads the base model in its thread (converting the embedded GGUF
    # the first time) and shows its status on the page. A job started meanwhile waits on the conversion lock.
    ctx = make_context(home, base_model)
    ctx.engine.start()
    app = build_server(ctx, api_only, allow_anonymous)
    print(f"Tailor: {'API at' if api_only else 'open'} http://{host}:{port}" + ("/v1" if api_only else ""), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


class ServeRefused(RuntimeError):
    """The server will not start as asked; the message says why and what to do."""

