"""The Compare tab: side by side (streaming), evaluation on held-out data, and the blind arena."""

from __future__ import annotations

import html

import gradio as gr

from assistant.data.load import readable_suffixes
from assistant.serve.engine import MAX_SIDE_BY_SIDE, GenerationSettings

from .context import Context
from .errors import friendly
from .polling import poll
from .registry_tab import adapter_names


def compare(ctx: Context, prompt: str, adapters: list[str], max_new_tokens: int = 64) -> list[dict]:
    """The prompt answered by the base model and each chosen adapter, side by side in one batched call."""
    return list(compare_stream(ctx, prompt, adapters, max_new_tokens))[-1]


def compare_stream(ctx: Context, prompt: str, adapters: list[str], max_new_tokens: int = 64):
    """Like `compare`, yielding every side's text so far as the tokens arrive. A side whose prompt and answer
    passed the model's context is still shown, with `past_context` (the context) set, and the page says so."""
    for answers in ctx.engine.stream_side_by_side(prompt, [None, *(adapters or [])[:MAX_SIDE_BY_SIDE]],
                                                  GenerationSettings(max_new_tokens=int(max_new_tokens))):
        context = ctx.engine.context
        yield [{**a.__dict__, "past_context": context if a.past(context) else 0} for a in answers]


def run_evaluation(ctx: Context, adapters: list[str], eval_file: str | None, max_new_tokens: int = 64,
                   progress=None, cancel=None):
    """Base + adapters on the first adapter's held-out split (or an uploaded file): (summary rows, run)."""
    from assistant.evaluate.run import evaluate_adapters

    if not adapters:
        raise gr.Error("Choose at least one adapter to evaluate against the base model.")
    run = evaluate_adapters(ctx.engine, ctx.registry, adapters[:MAX_SIDE_BY_SIDE], data=eval_file,
                            max_new_tokens=int(max_new_tokens), progress=progress, cancel=cancel)
    return eval_rows(run), run


def eval_rows(run: dict) -> list[list]:
    from assistant.evaluate.run import eval_notes

    rows = []
    for model in run["models"]:
        r = run["results"][model]
        for metric in run["metrics"]:
            ci = r.get("vs_" + run["baseline"], {}).get(metric)
            rows.append([model, metric, round(r["metrics"][metric], 4),
                         "" if ci is None else f"{ci['difference']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]"])
    for metric, why in (run.get("skipped") or {}).items():  # said, not dropped silently
        rows.append(["(not scored)", metric, None, why])
    for what, note in eval_notes(run):  # examples past the context, examples an adapter was trained on
        rows.append([f"({what})", "", None, note])
    if majority := run.get("majority"):  # a label task: the score of always answering the most frequent label
        rows += [[f"always “{majority['label']}” (baseline)", metric, round(majority[metric], 4), ""]
                 for metric in run["metrics"]]
    return rows


def disagreement_rows(run: dict | None, only: str = "all", model: str | None = None) -> list[list]:
    """The examples where `model` (default: the first adapter) and the base scored differently."""
    from assistant.evaluate.run import disagreements

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
    from assistant.evaluate.arena import battle

    if not (prompt or "").strip():
        raise gr.Error("Write a prompt first.")
    models = ["base", *(a.label for a in ctx.registry.search(limit=8))]
    try:
        return battle(ctx.engine, prompt, models)
    except ValueError as e:
        raise gr.Error(str(e)) from None


def arena_vote(ctx: Context, token: str | None, winner: str) -> str:
    from assistant.evaluate.arena import vote

    if not token:
        return "Start a battle first."
    try:
        r = vote(ctx.registry, token, winner)
    except ValueError as e:
        return f"⚠️ {e}"
    return f"A was **{r['a']}**, B was **{r['b']}**. Vote recorded: {winner}."


def leaderboard_rows(ctx: Context) -> list[list]:
    from assistant.evaluate.arena import standings

    return [[r["model"], r["rating"], f"[{r['low']}, {r['high']}]", r["votes"]] for r in standings(ctx.registry, 100)]


def confusion_html(matrix: dict | None, model: str = "") -> str:
    """A confusion matrix as a picture: reference labels down, answers across, each cell shaded by its share of
    its row (the diagonal is what the model got right)."""
    if not matrix:
        return ""
    labels, counts = matrix["labels"], matrix["counts"]
    answers = [*labels, *(["other"] if any("other" in row for row in counts.values()) else [])]
    esc = html.escape
    head = "".join(f"<th>{esc(a)}</th>" for a in answers)
    body = []
    for ref in labels:
        total = sum(counts[ref].values()) or 1
        cells = []
        for a in answers:
            n = counts[ref].get(a, 0)
            alpha = round(0.85 * n / total, 2)
            color = "22, 163, 74" if a == ref else "220, 38, 38"
            cells.append(f"<td style='background: rgba({color}, {alpha}); text-align: center'>{n}</td>")
        body.append(f"<tr><th style='text-align: left'>{esc(ref)}</th>{''.join(cells)}</tr>")
    return (f"<div class='confusion'><p><b>{esc(model)}</b>: reference down, answer across</p>"
            f"<table><tr><th></th>{head}</tr>{''.join(body)}</table></div>")


def answers_html(answers: list[dict]) -> str:
    cols = "".join(
        f"<div class='side'><h4>{html.escape(a['model'])}</h4><pre>{html.escape(a['text'])}</pre>"
        f"<small>{a['tokens']} tokens · {a['latency_s']:.2f} s · {a['tokens_per_second']:.1f} tok/s</small>"
        + (f"<small class='warn'> · ⚠️ past the model's context of {a['past_context']:,} tokens: read past the "
           "positions it learned</small>" if a.get("past_context") else "") + "</div>"
        for a in answers)
    return f"<div class='sides'>{cols}</div>"



def tab(ctx: Context) -> list:
    prompt = gr.Textbox(label="Prompt", lines=3, elem_id="compare-prompt")
    with gr.Row():
        pick = gr.Dropdown(label=f"Adapters (up to {MAX_SIDE_BY_SIDE})", multiselect=True, max_choices=MAX_SIDE_BY_SIDE,
                           choices=[],
                           allow_custom_value=True, elem_id="compare-pick")
        max_new = gr.Slider(8, 512, value=64, step=8, label="Max new tokens")
        go = gr.Button("Compare", variant="primary", elem_id="compare-go")
    sides = gr.HTML(elem_id="compare-sides")
    raw = gr.JSON(visible=False)

    def run(p, picked, n):
        for answers in compare_stream(ctx, p, picked, n):
            yield {sides: answers_html(answers), raw: answers}

    go.click(friendly(run), [prompt, pick, max_new], [sides, raw], api_name="compare")
    polls = [poll(3, lambda: gr.update(choices=adapter_names(ctx)), None, pick)]

    with gr.Accordion("Evaluate on held-out data", open=False, elem_id="eval-section"):
        gr.Markdown("The base model and the chosen adapters answer the first adapter's held-out rows (or your "
                    "file) with the same settings; each adapter's difference from the base comes with a 95% interval.")
        with gr.Row():
            eval_file = gr.File(label="Eval file (optional)", file_types=readable_suffixes())
            eval_go = gr.Button("Evaluate", elem_id="eval-go")
            eval_stop = gr.Button("Stop the evaluation", elem_id="eval-stop", variant="stop", visible=False)
        eval_table = gr.Dataframe(headers=["model", "metric", "score", "vs base [95% CI]"], interactive=False,
                                  elem_id="eval-table")
        with gr.Row():
            diff_model = gr.Dropdown(label="Examples where this adapter and the base differ", choices=[],
                                     elem_id="eval-diff-model")
            only = gr.Radio(["all", "wins", "losses"], value="all", label="Show", elem_id="eval-diff-only")
        diff_table = gr.Dataframe(headers=["result", "prompt", "reference", "adapter's answer", "base's answer"],
                                  interactive=False, wrap=True, elem_id="eval-diffs",
                                  column_widths=["8%", "32%", "16%", "22%", "22%"])  # the answers get room
        with gr.Row():
            scores_plot = gr.BarPlot(x="model", y="score", title="Score by model (the plan's first metric)",
                                     height=240, elem_id="eval-scores")
            matrix = gr.HTML(elem_id="eval-confusion")
        run_state = gr.State(None)

        def on_eval(picked, f, n, o, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio's way
            import pandas as pd

            from assistant.evaluate.run import confusion, score_by_model

            def said(p):  # examples done, examples/s and the time left, above the results table
                progress((p.done, p.total), desc=p.words())

            progress(0, desc="loading the models…")
            with ctx.evaluation(request.session_hash) as cancel:
                rows, run_ = run_evaluation(ctx, picked, f, n, progress=said, cancel=cancel)
            first = run_["models"][1] if len(run_["models"]) > 1 else None
            bars = pd.DataFrame(score_by_model(run_), columns=["model", "score", "metric"])
            return {eval_table: rows, run_state: run_, diff_model: gr.update(choices=run_["models"][1:], value=first),
                    diff_table: disagreement_rows(run_, o, first),
                    scores_plot: gr.update(value=bars, sort=list(bars["model"])),
                    matrix: confusion_html(confusion(run_, first), first or "")}

        def stop_shown(shown):
            return lambda: gr.update(visible=shown)

        # The stop button shows while this session's evaluation runs. Gradio 6 runs no `.then` after a failed event
        # (tried in Chromium), so the button goes on success and on failure alike.
        evaluated = eval_go.click(stop_shown(True), None, eval_stop, api_visibility="private",
                                  show_progress="hidden").then(
            friendly(on_eval), [pick, eval_file, max_new, only],
            [eval_table, run_state, diff_model, diff_table, scores_plot, matrix], api_name="evaluate")
        for after in (evaluated.success, evaluated.failure):
            after(stop_shown(False), None, eval_stop, api_visibility="private", show_progress="hidden")
        # Only this browser session's evaluation stops, before its next batch; nothing of it is stored.
        def on_stop(request: gr.Request):
            if ctx.stop_evaluation(request.session_hash):
                gr.Info("Stopping the evaluation after the batch it is answering.")
            else:
                gr.Info("No evaluation is running.")

        eval_stop.click(on_stop, None, None, api_visibility="private", show_progress="hidden")
        for control in (only, diff_model):
            control.change(friendly(lambda r, o, m: disagreement_rows(r, o, m)), [run_state, only, diff_model],
                           diff_table, api_visibility="private")

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
                     for w, label in (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"),
                                      ("both_bad", "Both bad"))}
        revealed = gr.Markdown(elem_id="arena-result")
        board = gr.Dataframe(headers=["model", "rating", "95% CI", "votes"], interactive=False, elem_id="leaderboard")

        def on_battle(p):
            b = arena_battle(ctx, p)
            return {side_a: b["a"], side_b: b["b"], token: b["battle"], revealed: ""}

        battle_b.click(friendly(on_battle), [arena_prompt], [side_a, side_b, token, revealed], api_name="arena_battle")
        def on_vote(t, winner: str) -> dict:
            return {revealed: arena_vote(ctx, t, winner), token: None, board: leaderboard_rows(ctx)}

        for w, button in votes.items():
            button.click(friendly(lambda t, w=w: on_vote(t, w)), [token], [revealed, token, board],
                         api_name=f"vote_{w}")
    return polls
