"""The planner: what the conversation has established (`Slots`, chat/slots.py) and the data → a complete Plan, every
field with its reason. The base model (chat/base_model.py); training settings from the data's token counts;
packing on a GPU; and fitting the memory estimate into the hardware's budget and the time into the user's.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import plugins
from ..data import DataReport, with_output
from ..models.estimate import CPU, Hardware, estimate_memory, estimate_minutes, gpu_info, lacks_bf16
from ..models.fit import checkpoint, halve_batch, use_qlora
from ..plan import Plan
from ..sweeps import DEFAULT_PATIENCE, evaluate_often
from ..train.compiled import COMPILE_SECONDS
from .base_model import choose_model, model_shape
from .measures import choose_metrics
from .slots import CJK, MIXED, Slots
from .token_counts import answer_lengths, cut_at, token_lengths
from .traditional import examples_text, script, traditional


def build_plan(s: Slots, report: DataReport | None, detected: Hardware = CPU,
               default_base_model: str | None = None, home_models: Path | None = None) -> Plan:
    """Every field of the plan, each with its reason. `detected` is this machine's GPU (or the one given on the
    command line); what the user said about their hardware overrides it."""
    plan = Plan()
    why = plan.reasons
    if report is not None and s.output_column:  # "the label column is queue": the file read that way
        report = with_output(report, s.output_column)
    task = s.task_type
    if task is None and report is not None:
        task = _infer_task(report)
        if task:
            why["task.type"] = f"inferred from the data ({report.format} format" + (
                f", {len(report.labels)} labels)" if report.labels else ")")
    elif task:
        why["task.type"] = f"from your words: “{s.description[:80]}”"
    language = s.language or (report.language if report else "en")
    if report is not None and not s.language and MIXED[0] <= report.zh_share <= MIXED[1]:
        language = "zh" if CJK.search(s.description or s.wrote) else "en"  # the words that named the task
        why["task.language"] = (f"your data mixes Chinese ({report.zh_share:.0%} of examples) and English; the "
                                f"instruction is in {'Chinese' if language == 'zh' else 'English'}, the language you "
                                "wrote in")
    plan.task.type, plan.task.language, plan.task.description = task, language, s.description
    if report is not None:
        _apply_data(plan, report, why, s)

    hw = Hardware(s.gpu_name if s.gpu_name is not None else detected.name,
                  s.gpu_memory_gb if s.gpu_memory_gb is not None else detected.memory_gb)
    gpu_gb = hw.memory_gb
    res = plan.resources
    res.device = "cuda" if hw.gpu else "cpu"
    res.gpu_name, res.gpu_memory_gb = (hw.name or ("GPU" if hw.gpu else "")), float(gpu_gb)
    said = s.gpu_memory_gb is not None
    if hw.gpu:
        why["resources.device"] = f"{hw.name or 'GPU'} with {gpu_gb:g} GB " + ("(you said)" if said else "(detected)")
    else:
        why["resources.device"] = "no GPU " + ("(you said)" if said else "detected") + ": training runs on the CPU"

    choose_model(plan, s, language, gpu_gb, default_base_model, why, home_models)
    if task:
        recipe = plugins.get().tasks[task]
        choose_metrics(plan, s, list(recipe.metrics), task, why)
        labels = ", ".join(plan.task.labels) if plan.task.labels else "the labels in the data"
        plan.task.instruction = recipe.instruction_for("zh" if language == "zh" else "en", labels)
        if language == "zh" and _writes_traditional(report, s):  # the characters the data writes
            plan.task.instruction = traditional(plan.task.instruction, plan.task.labels)
        stem = Path(plan.data.path).stem if plan.data.path else "data"
        plan.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{task}-{stem}").strip("-")[:60] or task
    _choose_training(plan, s, report, why, home_models)
    _fit(plan, s, hw, why)
    if not plan.training.early_stopping_patience:
        why["training.early_stopping_patience"] = ("no early stopping: every epoch runs (say “use early stopping” to "
                                                   "stop once the held-out loss stops improving)")
    if s.patience is not None:
        plan.training.early_stopping_patience = s.patience
        why["training.early_stopping_patience"] = (f"you asked for it: stop after {s.patience} evaluations without "
                                                   "improvement" if s.patience else "you asked for no early stopping")
        if s.patience and report is not None:
            evaluate_often(plan)
    for name in ("eval_steps", "save_steps"):  # after early stopping's own schedule: the one asked for wins
        if (value := getattr(s, name)) is not None:
            setattr(plan.training, name, value)
            why[f"training.{name}"] = "you asked for it" + (
                "; with early stopping a checkpoint is also saved at each evaluation, so the best one is kept"
                if name == "save_steps" and plan.training.early_stopping_patience else "")
    if (s.sweep.get("values") or s.sweep.get("search")) and report is not None:  # not a metric alone
        from .sweep_plan import plan_sweep

        plan_sweep(plan, s, hw)
        if not plan.training.early_stopping_patience:  # each trial stops early (`sweeps.evaluate_often`)
            why["training.early_stopping_patience"] = (f"each trial stops after {DEFAULT_PATIENCE} evaluations "
                                                       "without improvement")
    plan.plugins = plugins.get().used_by(plan)
    return plan


def _writes_traditional(report: DataReport | None, s: Slots) -> bool:
    """Whether the instruction is written in traditional characters: when the data's examples are, or the user's
    words are where the data tells neither apart or is not attached."""
    if report is not None and (found := script(examples_text(report.examples))):
        return found == "hant"
    return script(s.wrote) == "hant"


def _infer_task(report: DataReport) -> str | None:
    """The task the data implies: its format's (conversations → chat), or label answers → classification."""
    fmt = plugins.get().formats.get(report.format)
    if fmt is not None and fmt.task:
        return fmt.task
    return "classification" if report.labels else None


def _apply_data(plan: Plan, report: DataReport, why: dict, s: Slots) -> None:
    d = plan.data
    d.path, d.format, d.sha256, d.rows = report.path, report.format, report.sha256, report.rows
    if s.max_rows:
        d.max_rows = s.max_rows
        why["data.max_rows"] = (f"you asked for {s.max_rows} rows: a random sample of the {report.rows}"
                                if s.max_rows < report.rows else
                                f"you asked for {s.max_rows} rows; the file has {report.rows}, so all are used")
    d.warnings = list(report.warnings)
    d.input_columns, d.output_column = list(report.input_columns), report.output_column
    mapping = f": input {', '.join(report.input_columns)} → output {report.output_column}" + (
        " (the output you named)" if s.output_column and str(report.output_column).lower() == s.output_column else "")
    why["data.format"] = f"detected {report.format}" + (mapping if report.format == "columns" else "")
    recipe = plugins.get().tasks.get(plan.task.type or "")
    if (recipe is None or recipe.labels) and report.labels:
        plan.task.labels = list(report.labels)
    d.stratify, d.group_inputs = recipe is not None and recipe.labels and bool(report.labels), True  # DataSpec
    rows = d.used_rows
    d.validation_fraction = 0.1 if rows >= 50 else (0.2 if rows >= 10 else 0.0)
    why["data.validation_fraction"] = (
        f"hold out {d.validation_fraction:.0%} of {rows} rows to measure the result"
        + (", stratified by label" if d.stratify else "") if d.validation_fraction
        else f"only {rows} rows: too few to hold any out")
    if s.validation_fraction is not None:
        d.validation_fraction = s.validation_fraction
        why["data.validation_fraction"] = (f"you asked for it: {d.validation_fraction:.0%} of {rows} rows held out"
                                           if d.validation_fraction else "you asked to hold no rows out")
    for column, only in ((s.input_column, True), (s.exclude_column, False)):
        if column and report.format == "columns":
            _exclude(d, column, why, only)


def _exclude(d, column: str, why: dict, only: bool = False) -> None:
    """Leave an input column out of the prompt, as the user asked (never the last one); `only`: every other one."""
    said = column.strip().lower()
    names = [said] if not only or any(str(c).strip().lower() == said for c in d.input_columns) else said.split(", ")
    matches = [c for c in d.input_columns if str(c).strip().lower() in names]  # "subject, body": "use the body too"
    match = matches[0] if len(matches) == len(names) else None
    if match is None:
        d.warnings.append(f"you asked to {'read only' if only else 'leave out'} `{column}`, but the input columns are "
                          f"{', '.join(f'`{c}`' for c in d.input_columns)}; nothing was left out")
    elif only:
        d.input_columns = matches
        why["data.input_columns"] = f"only `{'`, `'.join(matches)}`, as you asked"
    elif len(d.input_columns) == 1:
        d.warnings.append(f"`{match}` is the only input column, so it stays: the model needs something to read")
    else:
        d.input_columns = [c for c in d.input_columns if c != match]
        why["data.input_columns"] = f"without `{match}`, as you asked"


def _choose_training(plan: Plan, s: Slots, report: DataReport | None, why: dict, home_models: Path | None) -> None:
    t, lo = plan.training, plan.lora
    rows = plan.data.used_rows if report else 0
    fast, best = s.preference == "fast", s.preference == "quality"
    lo.r = s.r or (8 if fast else 32 if best else 16)
    lo.alpha = 2 * lo.r
    why["lora.r"] = "you asked for it" if s.r else (
        "rank 8: fast, enough for a narrow task" if fast else "rank 32: more capacity for best quality" if best
        else "rank 16: the usual balance of capacity and speed")
    if s.alpha is not None:
        lo.alpha, why["lora.alpha"] = s.alpha, "you asked for it"
    else:
        why["lora.alpha"] = "2 × rank: the update's scale (alpha / rank) stays the same whatever the rank"
    if s.dropout is not None:
        lo.dropout, why["lora.dropout"] = s.dropout, "you asked for it"
    elif plan.resources.device == "cpu":
        lo.dropout = 0.0
        why["lora.dropout"] = ("0 on a CPU: drawing dropout masks costs about a seventh of each step, and short runs "
                               "gain little from it")
    else:
        lo.dropout = 0.05
        why["lora.dropout"] = "0.05: a little regularisation, nearly free on a GPU"
    for name, path in (("warmup_ratio", "training.warmup_ratio"), ("scheduler", "training.scheduler"),
                       ("seed", "training.seed")):
        if (value := getattr(s, name)) is not None:
            setattr(t, path.split(".")[1], value)
            why[path] = "you asked for it"
    if s.epochs:
        t.epochs, why["training.epochs"] = s.epochs, "you asked for it"
    else:
        t.epochs = 1.0 if fast or rows > 20000 else 2.0 if rows > 2000 else 3.0
        why["training.epochs"] = ("one pass: you asked for speed" if fast else
                                  f"{t.epochs:g} passes suit {rows or 'your'} rows without over-fitting")
    if s.max_steps:
        t.max_steps = s.max_steps
        why["training.max_steps"] = f"you asked for it: training stops after {s.max_steps} steps"
    t.learning_rate = s.learning_rate or (1e-4 if lo.r >= 64 else 2e-4)
    why["training.learning_rate"] = "you asked for it" if s.learning_rate else (
        "1e-4: a lower rate keeps a high-rank adapter stable" if lo.r >= 64 else "2e-4: the usual LoRA rate")
    if report is not None:
        _choose_max_length(plan, s, report, why, home_models)
    elif s.max_length:
        t.max_length, why["training.max_length"] = s.max_length, "you asked for it"
    cpu = plan.resources.device == "cpu"
    if cpu:
        t.precision, why["training.precision"] = "fp32", "fp32 on the CPU"
    elif lacks_bf16(plan.resources.gpu_name):  # a T4, a V100: emulated bf16 would be slow and compile nothing
        t.precision = "fp16"
        why["training.precision"] = (f"fp16: the {plan.resources.gpu_name} has no bf16 (it is older than NVIDIA's "
                                     "Ampere cards); fp16 takes the same memory, with the loss scaled so that small "
                                     "gradients are not lost")
    else:
        t.precision, why["training.precision"] = "bf16", "bf16: half the memory of fp32 at the same quality"
    t.batch_size, t.gradient_accumulation = s.batch_size or 8, s.accumulation or 1
    t.compile = not cpu
    why["training.compile"] = ("on: each decoder layer compiled (faster steps and less activation memory; the "
                               "first steps include about a minute of compiling)") if not cpu else \
        "off: on a CPU compiling would cost minutes for little"
    t.packing = False
    t.gradient_checkpointing = bool(s.checkpointing)  # on a GPU, `_fit` decides unless the user said
    if cpu and s.checkpointing is not None:
        why["training.gradient_checkpointing"] = "you asked for it"
    if not cpu and report is not None:
        _choose_packing(plan, s, report, why, home_models)


PACK_ROW_TOKENS = 2048
"""Length of a packed row on a GPU (longer when the longest examples need it)."""
STEP_TOKENS = 16384
"""Tokens per step the GPU planner aims for: 8 packed rows of 2,048, enough to keep a GPU's matmuls busy."""
MIN_PACKED_STEPS = 100
"""Packing only when the packed run still takes this many optimizer steps (a small dataset packed into a few
big steps would learn less than it does in many small ones)."""
MIN_STEP_TOKENS = 4096
"""Before switching on gradient checkpointing, the GPU planner halves the batch down to this many tokens."""


def _choose_packing(plan: Plan, s: Slots, report: DataReport, why: dict, home_models: Path | None) -> None:
    """On a GPU, pack short examples into full rows of 2,048 tokens when the data is big enough to keep many steps.

    Padded batches spend the GPU on padding (a batch is as long as its longest row; with a median of 245 and a
    longest of 1,024 tokens, most of it is padding), and small batches of short rows leave its matmuls half idle.
    Packed rows keep each example to itself (see train/lean_trainer.py)."""
    t, ts, lo = plan.training, plan.data.tokens, plan.lora
    lengths, mt = token_lengths(plan, report, home_models)
    if not lengths:
        return
    row = s.max_length or max(PACK_ROW_TOKENS, t.max_length)
    train_rows = plan.data.used_rows * (1 - plan.data.validation_fraction)
    run_tokens = sum(lengths) / len(lengths) * train_rows * t.epochs
    rows_per_step = s.batch_size or max(1, STEP_TOKENS // row)
    steps = run_tokens / (rows_per_step * row)
    if ts.median * 2 > row or steps < MIN_PACKED_STEPS:
        why["training.packing"] = (
            f"off: your examples (median {ts.median} tokens) nearly fill a {row}-token row" if ts.median * 2 > row else
            f"off: packed, your data would make only {max(1, round(steps))} optimizer "
            f"step{'s' if max(1, round(steps)) != 1 else ''}; unpacked batches of "
            f"{t.batch_size} give more, smaller steps, and the run is short either way")
        return
    t.packing, t.max_length, t.batch_size = True, row, rows_per_step
    cut_at(ts, lengths, row, answer_lengths(plan, report, mt))
    plan.data.warnings = [w for w in plan.data.warnings if "are longer than max_length=" not in w]
    if ts.truncated:
        plan.data.warnings.append(f"{ts.truncated} rows are longer than max_length={row} tokens and will be "
                                  f"truncated (the longest has {ts.longest})")
    why["training.packing"] = (f"on: your examples have a median of {ts.median} tokens, so whole examples are packed "
                               f"into rows of {row} tokens (no compute on padding); examples never attend to each "
                               "other")
    why["training.max_length"] = ("you asked for it: rows of that many tokens" if s.max_length else
                                  f"packed rows of {row} tokens") + (
        f"; {ts.truncated} examples are longer and will be cut" if ts.truncated else "; no example is cut")
    if not s.batch_size:
        why["training.batch_size"] = (f"{rows_per_step} packed rows × {row} tokens: about {rows_per_step * row:,} "
                                      "tokens per step")
    if s.dropout is None:  # a dropout the user asked for stays
        lo.dropout = 0.0
        why["lora.dropout"] = ("0 for a packed run: with this much data it needs no extra regularisation, and "
                               "dropout would add half again to the activation memory and its own time")


def _choose_max_length(plan: Plan, s: Slots, report: DataReport, why: dict, home_models: Path | None) -> None:
    t, ts = plan.training, plan.data.tokens
    lengths, mt = token_lengths(plan, report, home_models)
    if not lengths:
        return
    ts.tokenizer, ts.exact = mt.name, mt.exact
    n = len(lengths)
    ts.median, ts.p95, ts.longest = lengths[n // 2], lengths[min(n - 1, int(n * 0.95))], lengths[-1]
    ts.quantiles = [lengths[min(n - 1, int((i + 0.5) * n / 20))] for i in range(20)]
    how = (f"counted with the {mt.name} tokenizer" if mt.exact else
           f"estimated from characters: the {mt.name} tokenizer is not on this machine")
    if s.max_length:
        t.max_length = s.max_length
        why["training.max_length"] = "you asked for it"
    else:
        t.max_length = max(128, min(4096, -(-ts.p95 // 64) * 64))
        why["training.max_length"] = f"covers 95% of your examples ({ts.p95} tokens with the chat template, {how})"
    cut_at(ts, lengths, t.max_length, answer_lengths(plan, report, mt))
    if ts.truncated:
        why["training.max_length"] += (f"; {ts.truncated} of {len(lengths)} examples are longer (up to {ts.longest} "
                                       "tokens) and will be cut")
        plan.data.warnings.append(f"{ts.truncated} rows are longer than max_length={t.max_length} tokens and will be "
                                  f"truncated (the longest has {ts.longest})")
    else:
        why["training.max_length"] += "; no example is cut"


def _fit_time(plan: Plan, budget: float, minutes, why: dict) -> None:
    """Shrink the run (epochs, or steps when it is bounded by steps) so its time estimate fits the budget."""
    t, res = plan.training, plan.resources
    if res.estimated_minutes <= budget:
        why["resources.estimated_minutes"] = f"within the {budget:g} minutes you gave"
        return
    factor = budget / res.estimated_minutes
    if t.max_steps > 0:
        old, t.max_steps = t.max_steps, max(1, int(t.max_steps * factor))
        why["training.max_steps"] = f"{old} → {t.max_steps} steps to finish within the {budget:g} minutes you gave"
    else:
        old, t.epochs = t.epochs, max(0.05, int(t.epochs * factor * 100) / 100)
        why["training.epochs"] = (f"{old:g} → {t.epochs:g} passes to finish within the {budget:g} minutes you gave"
                                  + ("; less than one pass sees only part of the data" if t.epochs < 1 else ""))
    res.estimated_minutes = minutes()
    why["resources.estimated_minutes"] = f"shrunk to fit the {budget:g} minutes you gave"


def _fit(plan: Plan, s: Slots, hw: Hardware, why: dict) -> None:
    """Choose LoRA vs QLoRA, checkpointing and batch size so the estimate fits the hardware's budget: the
    fastest configuration that fits, made with the moves of `models.fit`."""
    shape, t, lo, res = model_shape(plan), plan.training, plan.lora, plan.resources
    start_batch = t.batch_size

    def est():
        return plan_memory(plan, shape)

    if res.device == "cpu":
        if s.method == "qlora":
            why["lora.method"] = "QLoRA needs a CUDA GPU, so plain LoRA on the CPU"
        else:
            why["lora.method"] = "LoRA: the only method on a CPU"
        lo.method = "lora"
    else:
        budget = hw.budget_gb
        batch_said, start_accumulation = s.batch_size is not None, t.gradient_accumulation

        def halve(floor: int) -> None:
            while est().peak_gb > budget and t.batch_size > floor and not batch_said:
                halve_batch(plan)
                t.gradient_accumulation = s.accumulation or t.gradient_accumulation  # as said, if it was

        def shrink(floor: int) -> bool:
            """Fit the memory at the least cost in speed: first halve the batch (accumulating, so the effective
            batch stays, unless the user said the accumulation) while a step still holds MIN_STEP_TOKENS; then
            recompute activations (a third more compute) from the full batch, halving again down to `floor` rows.
            Checkpointing the user switched on or off stays as they said."""
            t.batch_size, t.gradient_accumulation = start_batch, start_accumulation
            t.gradient_checkpointing = bool(s.checkpointing)
            halve(max(floor, -(-MIN_STEP_TOKENS // t.max_length)) if s.checkpointing is None else floor)
            if est().peak_gb <= budget or s.checkpointing is not None:
                return est().peak_gb <= budget
            t.batch_size, t.gradient_accumulation = start_batch, start_accumulation
            checkpoint(plan)
            halve(floor)
            return est().peak_gb <= budget

        if s.method:
            lo.method = s.method
            why["lora.method"] = "you asked for it"
            shrink(1)
        else:
            lo.method = "lora"
            why["lora.method"] = "LoRA on a 16-bit base fits your GPU: faster and slightly better than QLoRA"
            if not shrink(2):
                use_qlora(plan, "the 16-bit base does not fit your GPU, the 4-bit base does")
                shrink(1)
        if s.checkpointing is not None:
            why["training.gradient_checkpointing"] = "you asked for it" + (
                "" if est().peak_gb <= budget or s.checkpointing else
                ": the estimate does not fit without it (turn it back on, shorten the examples or use QLoRA)")
        elif t.gradient_checkpointing:
            why["training.gradient_checkpointing"] = "on: recomputing activations saves most of their memory"
        if t.gradient_accumulation > 1:
            why["training.batch_size"] = (f"{t.batch_size} × {t.gradient_accumulation} accumulation steps: "
                                          "the same effective batch in less memory")
        if not t.gradient_checkpointing and s.checkpointing is None:
            why["training.gradient_checkpointing"] = ("off: the activations fit, and recomputing them would cost a "
                                                      "third more time")
    why.setdefault("training.batch_size", "you asked for it" if s.batch_size else "8 rows per step")
    halved = t.batch_size < start_batch
    why["training.gradient_accumulation"] = (
        ("you asked for it" + ("; the batch was halved to fit the memory, so a step sees fewer rows"
                               if halved else "")) if s.accumulation else
        "doubled each time the batch was halved to fit the memory: the same effective batch"
        if t.gradient_accumulation > 1 else "1: every batch is one optimizer step")
    e = est()
    res.estimated_peak_gb = round(e.peak_gb, 2)
    res.fits = res.device == "cpu" or e.peak_gb <= hw.budget_gb
    why["resources.estimated_peak_gb"] = e.breakdown()

    def minutes() -> float:
        return plan_minutes(plan, shape, e.total_params)

    res.estimated_minutes = minutes()
    if s.time_budget_minutes:
        _fit_time(plan, s.time_budget_minutes, minutes, why)


def plan_memory(plan: Plan, shape=None):
    """The memory estimate of a plan as it stands (its method, rank, batch, length, checkpointing)."""
    t, lo = plan.training, plan.lora
    return estimate_memory(shape or model_shape(plan), method=lo.method, r=lo.r, batch_size=t.batch_size,
                           seq_len=t.max_length, gradient_checkpointing=t.gradient_checkpointing,
                           device=plan.resources.device, dropout=lo.dropout, precision=t.precision,
                           compiled=t.compile)


def plan_minutes(plan: Plan, shape=None, total_params: int | None = None) -> float:
    """The training time of a plan as it stands, in minutes: its tokens (per example the mean length packed,
    about the batch's longest padded), of them its answers' (`TokenStats.answers`), at the hardware's speed."""
    t, ts, res = plan.training, plan.data.tokens, plan.resources
    shape = shape or model_shape(plan)
    per_row = (ts.packed(t.max_length) if t.packing else min(t.max_length, ts.p95)) if ts.median \
        else min(t.max_length, 256)
    tokens = plan.data.used_rows * (1 - plan.data.validation_fraction) * t.epochs * per_row
    if t.max_steps > 0:  # a run bounded by steps stops at whichever comes first
        tokens = min(tokens, t.max_steps * t.batch_size * t.gradient_accumulation * per_row)
    info = gpu_info(res.gpu_name) if res.gpu_name else None
    total = total_params if total_params is not None else plan_memory(plan, shape).total_params
    compiling = COMPILE_SECONDS / 60 if t.compile else 0.0
    trained = tokens * (min(1.0, ts.answers / max(1, per_row)) if t.completion_only_loss else 1.0)  # the head's
    return round(estimate_minutes(shape, total, int(tokens), device=res.device, gpu_tflops=info[1] if info else 100.0,
                                  gradient_checkpointing=t.gradient_checkpointing, trained_tokens=int(trained))
                 + compiling, 1)


