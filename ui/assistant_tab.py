"""The Assistant tab: the conversation, the plan card, the plan editor, the data preview and Start."""

from __future__ import annotations

from pathlib import Path as _Path

import gradio as gr

from assistant.adjustable import EDITOR, SCHEDULERS, SETTINGS, get_path
from assistant.chat import converse
from assistant.chat.converse import language_of
from assistant.chat.errors_zh import data_error_zh
from assistant.chat.traditional import examples_text, traditional, writes_traditional
from assistant.data import DataError, inspect_file, save_upload
from assistant.data.load import combine_class_files, readable_suffixes
from assistant.edits import Edit, turn_words
from assistant.plan import Plan, PlanError
from assistant.sweeps import trial_settings
from assistant.train import jobs
from assistant.train.outcome import outcome
from assistant.train.sweep import submit_sweep

from .context import Context
from .errors import friendly

MAX_SUGGESTIONS = 6


def new_conversation() -> dict:
    return {"messages": [], "data": None, "plan": None}


FORMAT_WORDS = {"columns": "a table", "alpaca": "Alpaca instructions", "sharegpt": "ShareGPT conversations",
                "messages": "chat messages", "prompt_completion": "prompt/completion pairs"}
FORMAT_WORDS_ZH = {"columns": "表格", "alpaca": "Alpaca 指令", "sharegpt": "ShareGPT 对话", "messages": "聊天消息",
                   "prompt_completion": "prompt/completion 对"}


def _read_note(report, zh: bool) -> str:
    """What the assistant says it read from an attached file, in the user's language."""
    if zh:
        from assistant.chat.warnings_zh import warning_zh

        return (f"读取了 **{report.rows} 行**{FORMAT_WORDS_ZH.get(report.format, report.format)}数据（格式 "
                f"`{report.format}`）。" + ("提示：" + "；".join(map(warning_zh, report.warnings)) if report.warnings
                                           else ""))
    return (f"I read **{report.rows} rows** of {FORMAT_WORDS.get(report.format, report.format)} (format "
            f"`{report.format}`)." + (" Warnings: " + "; ".join(report.warnings) if report.warnings else ""))


def chat(ctx: Context, message: str | Edit, file: str | list[str] | None, history: list, state: dict):
    """One user turn (text, a typed edit from the plan editor, and/or a file — or one .txt file per class)
    → the assistant's reply, the plan card and suggestions."""
    state = dict(state or new_conversation())
    history = list(history or [])
    message = message if isinstance(message, Edit) else (message or "").strip()
    files = [f for f in ([file] if isinstance(file, str) else file or []) if f]
    said = [m for m in [*state.get("messages", []), message] if isinstance(m, str) and m]
    zh = language_of(said) == "zh" if said else None  # None: the data decides
    if files:
        try:
            if len(files) > 1:  # one file per class: combined into one labelled table in the data home
                stored = combine_class_files(files, ctx.home.uploads)
                report = inspect_file(stored)
            else:
                report = inspect_file(files[0])  # validated where Gradio put it; stored only if usable
                stored = save_upload(ctx.home.uploads, files[0])
            state["data"] = str(stored)
            history.append({"role": "user", "content": "📎 " + ", ".join(_Path(f).name for f in files)})
            note = _read_note(report, report.language == "zh" if zh is None else zh)
            history.append({"role": "assistant", "content": _as_written(  # (before any words, the data's script)
                note, [examples_text(report.examples), *said],
                [_Path(f).name for f in files] + report.input_columns + [report.output_column or ""])})
        except DataError as e:
            said_zh = _as_written(f"⚠️ 无法使用这个文件：{data_error_zh(e)}", said, [_Path(f).name for f in files])
            history.append({"role": "assistant", "content": said_zh if zh else f"⚠️ I could not use that file: {e}"})
            return _chat_result(history, state, None, [])
    if message:
        turn = message.to_turn() if isinstance(message, Edit) else message
        state["messages"] = [*state["messages"], turn]
        history.append({"role": "user", "content": turn_words(turn)})
    if not state["messages"] and not state["data"]:
        return _chat_result(history, state, None, [])
    turn = converse(state["messages"] or [""], state["data"], ctx.hardware,
                    ctx.home.load_settings().default_base_model, home_models=ctx.home.models,
                    understander=ctx.understander())
    state["plan"] = turn.plan.to_json() if turn.plan.task.type else None
    state["ready"] = turn.ready
    history.append({"role": "assistant", "content": turn.reply})
    suggestions = turn.questions[0].suggestions if turn.questions else []
    return _chat_result(history, state, turn, suggestions)


def _chat_result(history, state, turn, suggestions):
    card = (turn.reply if turn is not None and turn.plan.task.type
            else "*No plan yet — describe your task and attach data.*")
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
    if plan.sweep.on:
        n = len(trial_settings(plan.sweep))
        return (f"Start {n} trials · up to ~{plan.sweep.estimated_peak_gb:.1f} GB on {where} · "
                f"about {max(1, round(plan.sweep.estimated_minutes))} min in all")
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
               + (f": input {', '.join(f'`{c}`' for c in r.input_columns)} → output `{r.output_column}`"
                  if r.format == "columns" else "")
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


def plan_fields(plan: Plan) -> dict:
    """The plan editor's fields (`adjustable.EDITOR`) as the plan has them."""
    return {name: get_path(plan, SETTINGS[name].field) for name in EDITOR}


def plan_edit(state: dict, values: dict) -> Edit | None:
    """The editor's changes as a typed edit — a turn of the conversation, so chat and plan never disagree —
    or None when nothing changed. Raises ValueError naming a value out of bounds."""
    if not state or not state.get("plan"):
        return None
    now = plan_fields(Plan.from_json(state["plan"]))
    changed = {k: v for k, v in values.items() if v not in (None, "") and v != now[k]}
    return Edit.of(changed) if changed else None


FOLLOW = "Follow it in the **Jobs** tab; closing this page does not stop it."
FOLLOW_ZH = "在 **Jobs** 标签页查看进度；关闭本页不会停止它。"


def _as_written(text: str, said: list, keep: list[str] = ()) -> str:
    """Tailor's Chinese `text` in traditional characters when the person writes them (`keep`: file and column
    names, shown as they are)."""
    return traditional(text, keep) if writes_traditional(said) else text


def start_training(ctx: Context, state: dict) -> dict:
    """Queue the conversation's plan. Returns the job id, or an error in words (in the conversation's language)."""
    result = _start_training(ctx, state)
    return {**result, "message": _as_written(result["message"], (state or {}).get("messages", []))}


def _start_training(ctx: Context, state: dict) -> dict:
    zh = language_of((state or {}).get("messages", [])) == "zh"
    if not state or not state.get("plan"):
        return {"job_id": None, "message": "There is no plan yet: describe the task and attach data first."}
    try:
        plan = Plan.from_json(state["plan"])
        if plan.sweep.on:
            sweep_id = submit_sweep(ctx.registry, plan, state.get("messages"))
            first, n = ctx.registry.trials(sweep_id)[0].id, len(ctx.registry.trials(sweep_id))
            return {"job_id": first, "sweep_id": sweep_id, "message": (
                f"参数搜索 {sweep_id} 已开始：{n} 组试验，从任务 {first} 起。{FOLLOW_ZH}" if zh else
                f"Sweep {sweep_id} started: {n} trials, jobs {first} on. {FOLLOW}")}
        job_id = jobs.submit(ctx.registry, plan, state.get("messages"))
    except PlanError as e:
        return {"job_id": None, "message": ("计划还不能运行：" if zh else "The plan cannot run yet: ")
                + "; ".join(e.problems)}
    except (DataError, jobs.JobError) as e:  # the data file gone or changed since the plan: said, nothing queued
        return {"job_id": None, "message": f"计划无法运行：{data_error_zh(e) if isinstance(e, DataError) else e}"
                if zh else f"The plan cannot run: {e}"}
    return {"job_id": job_id,
            "message": f"任务 {job_id} 已开始。{FOLLOW_ZH}" if zh else f"Job {job_id} started. {FOLLOW}"}



def run_outcome(ctx: Context, job_id, state: dict, said_for: int | None = None) -> str | None:
    """The chat's message about the started job (or sweep) once it has ended, unless already said (`said_for`)."""
    if not job_id or said_for == int(job_id):
        return None
    messages = (state or {}).get("messages") or []
    zh = any(isinstance(m, str) and any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in messages)
    return _as_written(outcome(ctx.registry, int(job_id), "zh" if zh else "en"), messages)


def tab(ctx: Context) -> None:
    from assistant.models.catalog import models

    state = gr.State(new_conversation())
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            chatbot = gr.Chatbot(label="Assistant", height=460, buttons=["copy", "copy_all"], elem_id="chatbot")
            with gr.Row():
                msg = gr.Textbox(label="Message", placeholder="e.g. I want to classify customer reviews by sentiment",
                                 show_label=False, scale=5, elem_id="message")
                send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
            data = gr.File(label="Attach data (CSV, TSV, JSON, JSONL, Parquet, Excel; or one .txt file per class"
                           + "".join(f", {s}" for s in readable_suffixes()[7:]) + ")", file_types=readable_suffixes(),
                           file_count="multiple",
                           height=140, elem_id="data-file")
            with gr.Row():
                buttons = [gr.Button(visible=False, size="sm", elem_classes="suggestion")
                           for _ in range(MAX_SUGGESTIONS)]
        with gr.Column(scale=2, min_width=300):
            card = gr.Markdown("*No plan yet — describe your task and attach data.*", elem_id="plan-card")
            start = gr.Button("Start training", variant="primary", interactive=False, elem_id="start")
            started = gr.Markdown(elem_id="start-status")
            with gr.Accordion("Edit the plan", open=False, elem_id="plan-editor"):
                gr.Markdown("Changes go into the conversation as a turn of their own, so the chat and the plan stay "
                            "in step.")
                f_model = gr.Dropdown([m.name for m in models()], label="Base model", allow_custom_value=True,
                                      elem_id="edit-model")
                f_method = gr.Radio(["lora", "qlora"], label="Method", elem_id="edit-method")
                with gr.Row():
                    f_r = gr.Number(label="LoRA rank", precision=0, minimum=1, elem_id="edit-r")
                    f_epochs = gr.Number(label="Epochs", minimum=0.1, elem_id="edit-epochs")
                with gr.Row():
                    f_lr = gr.Number(label="Learning rate", elem_id="edit-lr")
                    f_len = gr.Number(label="Max length", precision=0, minimum=16, elem_id="edit-max-length")
                    f_batch = gr.Number(label="Batch size", precision=0, minimum=1, elem_id="edit-batch")
                with gr.Row():
                    f_alpha = gr.Number(label="LoRA alpha", precision=0, minimum=1, elem_id="edit-alpha")
                    f_dropout = gr.Number(label="LoRA dropout", minimum=0, maximum=0.99, elem_id="edit-dropout")
                    f_warmup = gr.Number(label="Warm-up ratio", minimum=0, maximum=0.5, elem_id="edit-warmup")
                with gr.Row():
                    f_schedule = gr.Dropdown(list(SCHEDULERS), label="Schedule", elem_id="edit-scheduler")
                    f_seed = gr.Number(label="Seed", precision=0, minimum=0, elem_id="edit-seed")
                    f_accum = gr.Number(label="Gradient accumulation", precision=0, minimum=1,
                                        elem_id="edit-accumulation")
                    f_ckpt = gr.Checkbox(label="Gradient checkpointing", elem_id="edit-checkpointing")
                apply_edits = gr.Button("Apply edits", elem_id="apply-edits")
    with gr.Accordion("Your data", open=False, elem_id="data-preview"):
        mapping = gr.Markdown(elem_id="data-mapping")
        preview = gr.Dataframe(interactive=False, wrap=True, elem_id="data-rows")
        histogram = gr.BarPlot(x="tokens", y="examples", color="kept", title="Tokens per example", height=220,
                               elem_id="token-histogram")
        examples = gr.Markdown(elem_id="rendered-examples")
    by_setting = {"base_model": f_model, "method": f_method, "r": f_r, "epochs": f_epochs, "learning_rate": f_lr,
                  "max_length": f_len, "batch_size": f_batch, "alpha": f_alpha, "dropout": f_dropout,
                  "warmup_ratio": f_warmup, "scheduler": f_schedule, "seed": f_seed, "checkpointing": f_ckpt,
                  "accumulation": f_accum}
    fields = [by_setting[name] for name in EDITOR]  # in the table's order, as plan_fields and plan_edit use it

    def render(r) -> dict:
        """A turn's result, component by component (a component left out keeps what it shows)."""
        import pandas as pd

        out = {chatbot: r["history"], state: r["state"], card: r["card"], msg: "",
               start: gr.update(interactive=r["ready"], value=r["start_label"])}
        shown = r["suggestions"]
        out.update({b: gr.update(value=shown[i], visible=True) if i < len(shown) else gr.update(visible=False)
                    for i, b in enumerate(buttons)})
        if p := r["preview"]:
            out.update({mapping: p["mapping"], preview: pd.DataFrame(p["rows"], columns=p["columns"]),
                        # bins in numeric order (as strings, "110–131" would sort before "44–65")
                        histogram: gr.update(value=pd.DataFrame(p["histogram"], columns=["tokens", "examples", "kept"]),
                                             sort=[row[0] for row in p["histogram"]] or None),
                        examples: "\n\n".join(f"Example {i + 1}, exactly as trained:\n\n```\n{e}\n```"
                                               for i, e in enumerate(p["examples"]))})
        if f := r["fields"]:
            out.update({by_setting[k]: gr.update(value=f[k]) for k in EDITOR})
        return out

    def on_chat(message, file, history, st):
        """Show the turn at once with a working note, then the reply paragraph by paragraph, then everything."""
        pending = list(history or [])
        if file:
            names = [_Path(f).name for f in ([file] if isinstance(file, str) else file)]
            pending.append({"role": "user", "content": "📎 " + ", ".join(names)})
        if (message or "").strip():
            pending.append({"role": "user", "content": message.strip()})
        if len(pending) > len(history or []):
            waiting = "*Reading your data and planning…*" if file else "*Planning…*"
            pending.append({"role": "assistant", "content": waiting})
            yield {chatbot: pending, msg: ""}
        r = chat(ctx, message, file, history, st)
        last = r["history"][-1] if r["history"] else None
        if last and last["role"] == "assistant":
            parts = last["content"].split("\n\n")
            for i in range(1, len(parts)):
                yield {chatbot: [*r["history"][:-1], {"role": "assistant", "content": "\n\n".join(parts[:i])}]}
        yield render(r)

    def on_edit(history, st, *values):
        try:
            change = plan_edit(st, dict(zip(EDITOR, values)))
        except ValueError as e:
            raise gr.Error(str(e)) from None
        if change is None:
            gr.Info("Nothing changed.")
        return render(chat(ctx, change or "", None, history, st))

    # The file box is not an output of a turn: an event's outputs are locked while it runs, and a keyboard user
    # on the upload button would find it dead. It is emptied after its own upload instead.
    outputs = [chatbot, state, card, start, msg, *buttons, mapping, preview, histogram, examples, *fields]
    send.click(friendly(on_chat), [msg, data, chatbot, state], outputs, api_name="chat")
    msg.submit(friendly(on_chat), [msg, data, chatbot, state], outputs, api_visibility="private")
    data.upload(friendly(on_chat), [msg, data, chatbot, state], outputs, api_visibility="private").then(
        lambda: None, None, data, api_visibility="private", show_progress="hidden")
    for b in buttons:
        b.click(friendly(lambda text, h, st: on_chat(text, None, h, st)), [b, chatbot, state], outputs,
                api_visibility="private")
    apply_edits.click(friendly(on_edit), [chatbot, state, *fields], outputs, api_name="edit_plan")

    # Ticks only between a start and the chat's word on how it went (an idle page polls nothing).
    watch = gr.Timer(3, active=False)

    def on_start(st):
        r = start_training(ctx, st)
        return r["message"], r["job_id"]

    job_id_out = gr.Number(visible=False)
    # The API's /start answers (message, job id); the timer is the page's business, a step of its own.
    start.click(friendly(on_start), [state], [started, job_id_out], api_name="start").then(
        lambda job_id: gr.Timer(active=bool(job_id)), [job_id_out], [watch], api_visibility="private",
        show_progress="hidden")

    told = gr.State(None)  # the job whose outcome the chat has said (apart from the conversation's state)

    def on_tick(job_id, history, st, said_for):
        """When the run started from this conversation ends, the assistant says how it went, once."""
        said = run_outcome(ctx, job_id, st, said_for)
        if said is None:
            return gr.update(), gr.update(), gr.Timer(active=bool(job_id) and said_for != int(job_id))
        return [*(history or []), {"role": "assistant", "content": said}], int(job_id), gr.Timer(active=False)

    watch.tick(friendly(on_tick), [job_id_out, chatbot, state, told], [chatbot, told, watch], api_visibility="private",
               show_progress="hidden")
