"""The Registry tab: search, an adapter's page, downloads, tags/aliases/descriptions, delete, import."""

from __future__ import annotations

import contextlib
import html
import re
from pathlib import Path

import gradio as gr

from assistant.edits import turn_words
from assistant.registry.store import adapter_page as adapter_page_of
from assistant.sweeps import NAMES
from assistant.train.held_out import BELOW_BASELINE

from .context import Context
from .errors import friendly
from .polling import poll


def adapter_rows(ctx: Context, query: str = "", task: str | None = None, tag: str | None = None,
                 sort: str | None = None) -> list[list]:
    """The registry table: search words, task and tag filters, sort by a final metric, best first."""
    from assistant import plugins

    best_first = not sort or plugins.get().higher_is_better(sort)
    try:
        rows = ctx.registry.search(query or "", task=task or None, tag=(tag or "").strip() or None, sort=sort or None,
                                   descending=best_first, limit=200)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return [[f"{a.label}" + ("" if a.status == "ready" else f" [{a.status}]"), a.task or "",
             a.base_model,
             ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in a.metrics.items()),
             " ".join(a.tags + [f"@{al}" for al in a.aliases]), a.description[:80], a.created] for a in rows]


def adapter_names(ctx: Context) -> list[str]:
    return [a.label for a in ctx.registry.adapters(limit=500)]


def adapter_page(ctx: Context, name: str) -> dict:
    """One adapter: its lineage (conversation → plan → dataset → job → metrics → versions) and its files."""
    return adapter_page_of(ctx.registry, name)


def adapter_card(page: dict) -> str:
    """One adapter's page in words: what it is, its metrics, its plan, where it came from, its files."""
    if not page or not page.get("adapter"):
        return "*Pick an adapter to see its page.*"
    a, esc = page["adapter"], html.escape

    def num(v):
        return f"{v:.4g}" if isinstance(v, float) else esc(str(v))

    state = "" if a.get("status", "ready") == "ready" else f" ({esc(a['status'])})"
    out = [f"### {esc(a['name'])}:{a['version']}{state}",
           esc(a.get("description") or "") or "*No description.*",
           f"**Base model** {esc(a['base_model'])} · **task** {esc(a.get('task') or '—')} · "
           f"**created** {esc(a['created'])}"
           f" · **size** {a['size_bytes'] / 1e6:.1f} MB"
           + (f" · **tags** {esc(', '.join(a['tags']))}" if a.get("tags") else "")
           + (f" · **aliases** {esc(', '.join(a['aliases']))}" if a.get("aliases") else "")]
    m = page.get("metrics") or {}
    metrics = dict(m.get("final") or {})
    if "baseline_label" in metrics:  # a label task: what always answering the most frequent label scores
        label = metrics.pop("baseline_label")
        base = {k[len("baseline_"):]: metrics.pop(k) for k in list(metrics) if k.startswith("baseline_")}
        chance = {k[len("chance_"):]: metrics.pop(k) for k in list(metrics) if k.startswith("chance_")}
        warn = BELOW_BASELINE in (a.get("tags") or [])
        out.append(("⚠️ **Not clearly better than the baselines**" if warn else "**Baselines**")
                   + f" — always answering “{esc(str(label))}” scores "
                   + ", ".join(f"{esc(k)} {num(v)}" for k, v in base.items())
                   + "; guessing in the training proportions "
                   + ", ".join(f"{esc(k)} {num(v)}" for k, v in chance.items())
                   + (". Try more epochs, more (or more balanced) data, or a larger base model." if warn else "."))
    if seen := metrics.get("held_out_seen"):
        out.append(f"⚠️ {num(seen)} of the {num(metrics.get('held_out_scored', '?'))} held-out rows ask what a "
                   "training row asks (the data repeats them): the held-out scores flatter this adapter.")
    if m.get("first_loss") is not None:
        metrics["loss (first → last)"] = f"{m['first_loss']:.3f} → {m['last_loss']:.3f}"
    if metrics:
        out.append("| metric | value |\n|---|---|\n"
                   + "\n".join(f"| {esc(k)} | {num(v)} |" for k, v in metrics.items()))
    plan = page.get("plan")
    if plan:
        lora, tr = plan.get("lora", {}), plan.get("training", {})
        out.append(f"**Plan** {esc(str(lora.get('method', '')).upper())} r={lora.get('r')} alpha={lora.get('alpha')}"
                   f" · lr {tr.get('learning_rate')} · {tr.get('epochs')} epochs · batch {tr.get('batch_size')}"
                   f" × {tr.get('gradient_accumulation', 1)} · max length {tr.get('max_length')}")
    if page.get("plugins"):
        out.append("**Plugins** " + ", ".join(
            f"{esc(p['name'])} {esc(p['version'])}" + ("" if p["installed"] else " (⚠️ not installed here)")
            for p in page["plugins"]))
    ds, job = page.get("dataset"), page.get("job")
    if ds:
        out.append(f"**Data** `{esc(ds['path'].rsplit('/', 1)[-1])}` — {ds['rows']} rows, {esc(ds['format'])}, sha256 "
                   f"`{ds['sha256'][:12]}…`")
    if page.get("conversation"):
        out.append("**Asked for**\n\n" + "\n".join(f"1. {esc(turn_words(t))}" for t in page["conversation"]))
    if job:
        out.append(f"**Trained by** job {job['id']} ({esc(job['status'])}, {job['step']} steps)")
    if sw := page.get("sweep"):
        winner = next((r for r in sw["trials"] if r["job"] == (job or {}).get("id")), None)
        out.append(f"**From sweep {sw['id']}** ({esc(sw['describe'])}): " + (
            f"trial {winner['trial']} had the best held-out {esc(sw['metric'])}. " if winner else "")
                   + "The others: " + "; ".join(
            f"trial {r['trial']} " + ", ".join(f"{esc(NAMES.get(f, f))} {r[f]:g}" for f in sw["varied"]
                                               if isinstance(r.get(f), (int, float)))
            + (f" → {r[sw['metric']]:.4g}" if isinstance(r[sw["metric"]], (int, float)) else f" ({esc(r['status'])})")
            for r in sw["trials"] if r is not winner) + f" (Jobs tab, job {sw['trials'][0]['job']}, shows them all).")
    if page.get("parent"):
        out.append(f"**Parent** {esc(page['parent']['name'])}:{page['parent']['version']}")
    if re.fullmatch(r"[A-Za-z0-9_.-]+:\d+", label := f"{a['name']}:{a['version']}"):  # a cleaned name
        out.append(f"**Over the API** (docs/SERVING.md) `model=\"{label}\"`: chat at `/v1/chat/completions` with "
                   "any OpenAI client; benchmarks with lm-evaluation-harness, `lm_eval --model local-completions "
                   f"--model_args model={label},base_url=http://HOST:PORT/v1/completions --tasks …`")
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


def export_as(ctx: Context, name: str, exporter: str = "peft", log=lambda line: None) -> str:
    """One adapter through a registered exporter (built-in `peft` and `merged`, or a plugin's), written to a
    private download folder; a folder is zipped, since the browser downloads one file."""
    import shutil

    from assistant import plugins

    rec = ctx.registry.require_adapter(name)
    chosen = plugins.get().exporter(exporter)
    written = Path(chosen.export(ctx.registry, rec, download_folder(), log=log))
    if written.is_dir():
        written = Path(shutil.make_archive(str(written), "zip", written.parent, written.name))
    return str(written)


def adapter_action(ctx: Context, action: str, name: str, value: str = "") -> str:
    """Tag, alias, describe or delete one adapter; returns what happened, in words."""
    from assistant.registry.manage import RegistryError, delete_adapter

    rec = ctx.registry.require_adapter(name)
    label = f"{rec.label}"
    value = (value or "").strip()
    try:
        if action == "tag":
            ctx.registry.tag(rec.id, value.split())
            return f"Tagged {label}: {value}"
        if action == "alias":
            ctx.registry.set_alias(value, rec.id)
            return f"{value} → {label}"
        if action == "describe":
            ctx.registry.update_adapter(rec.id, description=value)
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
    from assistant.registry.store import missing_plugins

    missing = missing_plugins(ctx.registry, rec)
    return f"Imported **{rec.label}** (base {rec.base_model})." + (
        f" ⚠️ Its plan was made with plugin {', '.join(missing)}, not installed here: it can be compared, but "
        "evaluating or retraining it needs the plugin." if missing else "")



def tab(ctx: Context) -> list:
    from assistant import plugins
    from assistant.plan import task_types

    with gr.Row():
        query = gr.Textbox(label="Search adapters", placeholder="search names, descriptions, tags…", show_label=False,
                           scale=3, elem_id="adapter-search")
        task = gr.Dropdown(["", *task_types()], value="", label="Task", scale=1, elem_id="adapter-task")
        tag = gr.Textbox(label="Tag", scale=1, elem_id="adapter-tag")
        sort = gr.Dropdown(["", *ctx.registry.metric_names()], value="", label="Sort by",
                           scale=1, elem_id="adapter-sort")
    table = gr.Dataframe(headers=["adapter", "task", "base model", "metrics", "tags", "description", "created"],
                         interactive=False, elem_id="adapters-table")
    with gr.Row():
        pick = gr.Dropdown(label="Adapter", choices=[], allow_custom_value=True, elem_id="adapter-pick")
        download = gr.Button("Download zip", elem_id="download")
        merged = gr.Button("Download merged model", elem_id="download-merged")
    others = {e.name: e.description for e in plugins.get().exporters.values() if e.name not in ("peft", "merged")}
    with gr.Row(visible=bool(others)):  # GGUF and any exporters installed plugins add
        other = gr.Dropdown(list(others), value=next(iter(others), None), label="Export as",
                            info="; ".join(f"{k}: {v}" for k, v in others.items()), elem_id="adapter-exporter")
        other_b = gr.Button("Export", elem_id="export-other")
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
        return {table: adapter_rows(ctx, q, t, tg, so), pick: gr.update(choices=adapter_names(ctx))}

    for box in filters:
        box.change(friendly(refresh), filters, [table, pick], api_visibility="private")
    polls = [poll(3, refresh, filters, [table, pick]),
             poll(10, lambda: gr.update(choices=["", *ctx.registry.metric_names()]), None, sort)]  # new metrics

    def show(n):
        page = adapter_page(ctx, n)
        return {card: adapter_card(page), details: page}

    pick.change(friendly(show), [pick], [card, details], api_visibility="private")
    def exporting(exporter: str):
        """An export with its progress in words on the page (merging, writing GGUF, ...)."""
        def run(name, chosen=None, progress=gr.Progress()):  # noqa: B008 - how Gradio passes progress in
            progress(None, desc="exporting…")
            return export_as(ctx, name, chosen or exporter, log=lambda line: progress(None, desc=line))
        return run

    download.click(friendly(exporting("peft")), [pick], zip_file, api_name="download")
    merged.click(friendly(exporting("merged")), [pick], zip_file, api_name="download_merged")
    other_b.click(friendly(exporting("peft")), [pick, other], zip_file, api_name="export_adapter")
    for button, action in ((tag_b, "tag"), (alias_b, "alias"), (desc_b, "describe"), (delete_b, "delete")):
        button.click(friendly(lambda n, v, a=action: adapter_action(ctx, a, n, v)), [pick, value], message,
                     api_name=f"adapter_{action}").then(friendly(show), [pick], [card, details],
                                                        api_visibility="private")
    import_b.click(friendly(lambda f, n: import_upload(ctx, f, n)), [upload, import_name], message,
                   api_name="import_adapter")

    def adapters(query: str = "", task: str = "", tag: str = "") -> list:
        """Registered adapters (newest first) matching the words, task and tag; their folder under `folder`."""
        rows = ctx.registry.search(query or "", task=task or None, tag=tag or None, limit=1000)
        return [{("folder" if k == "path" else k): v for k, v in a.to_dict().items()} for a in rows]

    gr.api(adapters, api_name="adapters")
    return polls
