"""The conversation: user turns (+ an attached file) → slots → a complete, justified Plan and a reply.

Stateless by design: the whole conversation is replayed on each turn, applying turns in order so the later
word wins. The reply says what the last turn changed, and why anything else had to change with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..adjustable import SETTINGS, as_edit, get_path, turn_words
from ..data import DataReport, inspect_file
from ..models import catalog
from ..models.estimate import estimate_memory, estimate_minutes, gpu_info
from ..models.tokenize import model_text
from ..plan import Plan
from .understand import Intents, understand

METRICS_BY_TASK = {
    "classification": ["accuracy", "f1"],
    "extraction": ["json_valid", "exact_match"],
    "summarization": ["rougeL"],
    "translation": ["bleu", "chrf"],
    "qa": ["token_f1", "exact_match"],
    "chat": ["rougeL", "perplexity"],
    "code": ["exact_match", "perplexity"],
    "rewriting": ["rougeL"],
}
INSTRUCTIONS = {
    "en": {
        "classification": "Classify the text. Answer with exactly one of: {labels}.",
        "extraction": "Extract the requested information from the text. Answer in the same format as the examples.",
        "summarization": "Summarize the text concisely.",
        "translation": "Translate the text.",
        "qa": "Answer the question accurately and concisely.",
        "chat": "You are a helpful assistant.",
        "code": "Write correct, idiomatic code for the request.",
        "rewriting": "Rewrite the text as requested, keeping its meaning.",
    },
    "zh": {
        "classification": "对文本进行分类。只回答以下之一：{labels}。",
        "extraction": "从文本中抽取所需信息，并按示例的格式回答。",
        "summarization": "请简明地总结这段文本。",
        "translation": "翻译这段文本。",
        "qa": "准确、简洁地回答问题。",
        "chat": "你是一个乐于助人的助手。",
        "code": "根据要求编写正确、规范的代码。",
        "rewriting": "按要求改写文本，保持原意。",
    },
}
TASK_SUGGESTIONS = {
    "en": ["Classify text into labels", "Summarize documents", "Extract fields as JSON", "Answer questions",
           "Translate text", "Chat like our support agent"],
    "zh": ["文本分类", "文档摘要", "抽取字段为 JSON", "问答", "翻译", "客服对话"],
}


@dataclass
class Slots:
    """Everything the conversation has established so far: each setting's latest value (the later word
    wins; `s.r`, `s.epochs`, ... read one, None when never said) and the words that named the task."""

    said: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.__dict__.get("said", {}).get(name)
        raise AttributeError(name)

    def apply(self, it: Intents, text: str) -> None:
        self.said.update(it.values)
        if it.task_type:
            self.description = text.strip()


@dataclass
class Question:
    slot: str
    text: str
    suggestions: list[str] = field(default_factory=list)


@dataclass
class Turn:
    """The answer to the latest user turn."""

    ready: bool
    missing: list[str]
    reply: str
    plan: Plan
    questions: list[Question] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    data: DataReport | None = None
    examples: list[str] = field(default_factory=list)
    """Two examples rendered through the base model's chat template: exactly what training sees."""
    notes: list[str] = field(default_factory=list)
    """Things the user must see, e.g. that the language-model backend failed and the rules stood in."""
    token_lengths: list[int] = field(default_factory=list)
    """Tokens per example (sorted), as trained: for the data preview's histogram."""

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "missing": self.missing,
            "reply": self.reply,
            "plan": self.plan.to_dict(),
            "questions": [q.__dict__ for q in self.questions],
            "changes": self.changes,
            "notes": self.notes,
            "data": None if self.data is None else {
                "format": self.data.format, "rows": self.data.rows, "labels": self.data.labels,
                "warnings": self.plan.data.warnings, "tokens": self.plan.data.tokens.__dict__,
                "examples": self.examples,
            },
        }


WATCHED = ("task.type", "task.language", "base_model.name", "resources.device", "resources.gpu_memory_gb",
           "lora.method", "lora.r", "lora.alpha", "training.epochs", "training.learning_rate",
           "training.max_length", "training.batch_size", "training.gradient_accumulation",
           "training.packing", "training.gradient_checkpointing", "training.precision", "resources.fits")


def converse(messages: list[str | dict], data_path: str | None = None, gpu_memory_gb: float | None = None,
             gpu_name: str = "", default_base_model: str | None = None, report: DataReport | None = None, *,
             home_models: Path | None = None, understander: Callable[[str], Intents] | None = None) -> Turn:
    """Plan from the whole conversation. `gpu_memory_gb` is the detected (or given) GPU; 0 means CPU.

    A turn is a message in words, read by `understander` (default: the offline rules), or a typed edit from
    the plan editor (`{"edit": {"r": 8}}`, see `adjustable.Edit`). Raises DataError when the file is unusable.
    """
    understander = understander or understand
    if data_path and report is None:
        report = inspect_file(data_path)
    intents = [Intents(edit.values) if (edit := as_edit(m)) is not None else understander(m) for m in messages]
    before, now = _slots(messages[:-1], intents[:-1]), _slots(messages, intents)
    env = (gpu_name, gpu_memory_gb or 0.0, default_base_model, home_models)
    plan = build_plan(now, report, *env)
    changes = _diff(build_plan(before, report, *env), plan, intents[-1]) if len(messages) > 1 else []
    missing = []
    if plan.task.type is None:
        missing.append("task")
    if report is None:
        missing.append("data")
    ready = not missing and not plan.problems(require_ready=True)
    lang = now.language or (report.language if report else None) or _lang_of(messages)
    questions = _questions(missing, lang, plan)
    lengths, examples = [], []
    if report is not None:  # the same tokenizer and template the plan's max_length was measured with
        lengths, mt = _token_lengths(plan, report, home_models)
        examples = [mt.render(_messages(plan.task.instruction, e)) for e in report.examples[:2]]
    notes = list(intents[-1].notes) if intents else []
    notes = [n for n in notes if n != "fit"]
    reply = _reply(plan, questions, changes, now, lang, ready, examples, notes)
    return Turn(ready, missing, reply, plan, questions, changes, report, examples, notes, list(lengths))


def _lang_of(messages: list[str | dict]) -> str:
    return "zh" if any(isinstance(m, str) and re.search(r"[\u4e00-\u9fff]", m) for m in messages) else "en"


def _slots(messages: list[str | dict], intents: list[Intents]) -> Slots:
    s = Slots()
    for m, it in zip(messages, intents):
        s.apply(it, turn_words(m))
    return s


def build_plan(s: Slots, report: DataReport | None, detected_gpu: str, detected_gb: float,
               default_base_model: str | None, home_models: Path | None = None) -> Plan:
    """Every field of the plan, each with its reason."""
    plan, why = Plan(), {}
    task = s.task_type
    if task is None and report is not None:
        task = _infer_task(report)
        if task:
            why["task.type"] = f"inferred from the data ({report.format} format" + (
                f", {len(report.labels)} labels)" if report.labels else ")")
    elif task:
        why["task.type"] = f"from your words: “{s.description[:80]}”"
    language = s.language or (report.language if report else "en")
    plan.task.type, plan.task.language, plan.task.description = task, language, s.description
    if report is not None:
        _apply_data(plan, report, why)

    gpu_gb = s.gpu_memory_gb if s.gpu_memory_gb is not None else detected_gb
    gpu_name = s.gpu_name if s.gpu_name is not None else detected_gpu
    res = plan.resources
    res.device = "cuda" if gpu_gb > 0 else "cpu"
    res.gpu_name, res.gpu_memory_gb = (gpu_name or ("GPU" if gpu_gb else "")), float(gpu_gb)
    why["resources.device"] = (f"{gpu_name or 'GPU'} with {gpu_gb:g} GB" + (" (you said)" if s.gpu_memory_gb is not None else " (detected)")
                               if gpu_gb > 0 else "no GPU " + ("(you said)" if s.gpu_memory_gb is not None else "detected") + ": training runs on the CPU")

    _choose_model(plan, s, language, gpu_gb, default_base_model, why, home_models)
    if task:
        plan.evaluation.metrics = list(METRICS_BY_TASK[task])
        why["evaluation.metrics"] = f"the standard measures for {task}"
        labels = ", ".join(plan.task.labels) if plan.task.labels else "the labels in the data"
        plan.task.instruction = INSTRUCTIONS["zh" if language == "zh" else "en"][task].format(labels=labels)
        stem = Path(plan.data.path).stem if plan.data.path else "data"
        plan.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{task}-{stem}").strip("-")[:60] or task
    _choose_training(plan, s, report, why, home_models)
    _fit(plan, s, gpu_name, why)
    plan.reasons = why
    return plan


def _infer_task(report: DataReport) -> str | None:
    if report.format in ("messages", "sharegpt"):
        return "chat"
    if report.labels:
        return "classification"
    return None


def _apply_data(plan: Plan, report: DataReport, why: dict) -> None:
    d = plan.data
    d.path, d.format, d.sha256, d.rows = report.path, report.format, report.sha256, report.rows
    d.warnings = list(report.warnings)
    d.input_columns, d.output_column = list(report.input_columns), report.output_column
    why["data.format"] = f"detected {report.format}" + (
        f": input {', '.join(report.input_columns)} → output {report.output_column}" if report.format == "columns" else "")
    if plan.task.type in (None, "classification") and report.labels:
        plan.task.labels = list(report.labels)
    d.stratify = plan.task.type == "classification" and bool(report.labels)
    d.validation_fraction = 0.1 if report.rows >= 50 else (0.2 if report.rows >= 10 else 0.0)
    why["data.validation_fraction"] = (f"hold out {d.validation_fraction:.0%} of {report.rows} rows to measure the result"
                                       + (", stratified by label" if d.stratify else "") if d.validation_fraction
                                       else f"only {report.rows} rows: too few to hold any out")


def _on_this_machine(entry: catalog.CatalogModel, home_models: Path | None) -> bool:
    """Whether a catalog model's weights are here: in the data home's models/ or the Hugging Face cache."""
    if home_models is not None and (home_models / entry.name / "config.json").exists():
        return True
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub")
    return any((hub / f"models--{entry.hub_id.replace('/', '--')}" / "snapshots").glob("*/config.json"))


def _choose_model(plan: Plan, s: Slots, language: str, gpu_gb: float, default: str | None, why: dict,
                  home_models: Path | None = None) -> None:
    b = plan.base_model
    if s.base_model:
        entry = catalog.find(s.base_model)
        b.name, b.source = (entry.name, entry.name) if entry else (s.base_model, s.base_model)
        why["base_model"] = "you asked for it"
    elif gpu_gb <= 0 and default and not catalog.find(default):
        b.name, b.source = Path(default).name, default
        why["base_model"] = "the default base model in your settings"
    else:
        entry, reason = catalog.choose(plan.task.type, language, gpu_gb)
        if gpu_gb <= 0 and default and catalog.find(default):
            entry = catalog.find(default)
        if gpu_gb <= 0 and language not in entry.languages:
            # On a CPU a small model strong in the task's language beats the embedded English one, if it is here.
            better = sorted((m for m in catalog.CATALOG if language in m.languages and m.params_b <= 1.6 and not m.code),
                            key=lambda m: m.params_b)
            here = next((m for m in better if _on_this_machine(m, home_models)), None)
            if here is not None:
                entry, reason = here, f"no GPU: {here.name} is small enough for a CPU and strong in {language}, and it is on this machine"
            elif better:
                reason += (f" (note: {entry.name} is weak in {language}; {better[0].name} is better — it is not on "
                           f"this machine: put it in models/{better[0].name} or ask for it by name)")
        b.name, b.source = entry.name, entry.name
        why["base_model"] = reason
    entry = catalog.find(b.source)
    if entry:
        b.params_b, b.chat_template = entry.params_b, entry.chat_template
        if language not in entry.languages and language != "en" and "weak in" not in why["base_model"]:
            why["base_model"] += f" (note: {entry.name} is weak in {language})"
    elif (shape := local_shape(b.source)) is not None:
        from ..models.estimate import param_count
        b.params_b = round(param_count(shape) / 1e9, 4)


def local_shape(source: str):
    """The shape of a local model folder, read from its config.json."""
    from ..models.catalog import ModelShape

    cfg_path = Path(source).expanduser() / "config.json"
    if not cfg_path.exists():
        return None
    c = json.loads(cfg_path.read_text())
    return ModelShape(c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["num_attention_heads"],
                      c.get("num_key_value_heads", c["num_attention_heads"]), c["vocab_size"],
                      bool(c.get("tie_word_embeddings", False)), c.get("final_logit_softcapping") is not None)


def _shape(plan: Plan):
    entry = catalog.find(plan.base_model.source)
    return entry.shape if entry else (local_shape(plan.base_model.source) or catalog.DEFAULT.shape)


def _choose_training(plan: Plan, s: Slots, report: DataReport | None, why: dict, home_models: Path | None) -> None:
    t, lo = plan.training, plan.lora
    rows = report.rows if report else 0
    fast, best = s.preference == "fast", s.preference == "quality"
    lo.r = s.r or (8 if fast else 32 if best else 16)
    lo.alpha = 2 * lo.r
    why["lora.r"] = "you asked for it" if s.r else (
        "rank 8: fast, enough for a narrow task" if fast else "rank 32: more capacity for best quality" if best
        else "rank 16: the usual balance of capacity and speed")
    if plan.resources.device == "cpu":
        lo.dropout = 0.0
        why["lora.dropout"] = "0 on a CPU: drawing dropout masks costs about a seventh of each step, and short runs gain little from it"
    else:
        lo.dropout = 0.05
        why["lora.dropout"] = "0.05: a little regularisation, nearly free on a GPU"
    if s.epochs:
        t.epochs, why["training.epochs"] = s.epochs, "you asked for it"
    else:
        t.epochs = 1.0 if fast or rows > 20000 else 2.0 if rows > 2000 else 3.0
        why["training.epochs"] = ("one pass: you asked for speed" if fast else
                                  f"{t.epochs:g} passes suit {rows or 'your'} rows without over-fitting")
    t.learning_rate = s.learning_rate or (1e-4 if lo.r >= 64 else 2e-4)
    why["training.learning_rate"] = "you asked for it" if s.learning_rate else (
        "1e-4: a lower rate keeps a high-rank adapter stable" if lo.r >= 64 else "2e-4: the usual LoRA rate")
    if report is not None:
        _choose_max_length(plan, s, report, why, home_models)
    elif s.max_length:
        t.max_length, why["training.max_length"] = s.max_length, "you asked for it"
    cpu = plan.resources.device == "cpu"
    t.precision = "fp32" if cpu else "bf16"
    why["training.precision"] = "fp32 on the CPU" if cpu else "bf16: half the memory of fp32 at the same quality"
    t.batch_size = s.batch_size or 8
    t.packing = False
    t.gradient_checkpointing = False
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
    lengths, _ = _token_lengths(plan, report, home_models)
    if not lengths:
        return
    row = s.max_length or max(PACK_ROW_TOKENS, t.max_length)
    train_rows = report.rows * (1 - plan.data.validation_fraction)
    run_tokens = sum(lengths) / len(lengths) * train_rows * t.epochs
    rows_per_step = s.batch_size or max(1, STEP_TOKENS // row)
    steps = run_tokens / (rows_per_step * row)
    if ts.median * 2 > row or steps < MIN_PACKED_STEPS:
        why["training.packing"] = (
            f"off: your examples (median {ts.median} tokens) nearly fill a {row}-token row" if ts.median * 2 > row else
            f"off: packed, your data would make only {max(1, round(steps))} optimizer steps; unpacked batches of "
            f"{t.batch_size} give more, smaller steps, and the run is short either way")
        return
    t.packing, t.max_length, t.batch_size = True, row, rows_per_step
    ts.truncated = sum(n > row for n in lengths)
    plan.data.warnings = [w for w in plan.data.warnings if "are longer than max_length=" not in w]
    if ts.truncated:
        plan.data.warnings.append(f"{ts.truncated} rows are longer than max_length={row} tokens and will be "
                                  f"truncated (the longest has {ts.longest})")
    why["training.packing"] = (f"on: your examples have a median of {ts.median} tokens, so whole examples are packed "
                               f"into rows of {row} tokens (no compute on padding); examples never attend to each other")
    why["training.max_length"] = ("you asked for it: rows of that many tokens" if s.max_length else
                                  f"packed rows of {row} tokens") + (
        f"; {ts.truncated} examples are longer and will be cut" if ts.truncated else "; no example is cut")
    if not s.batch_size:
        why["training.batch_size"] = f"{rows_per_step} packed rows × {row} tokens: about {rows_per_step * row:,} tokens per step"
    lo.dropout = 0.0
    why["lora.dropout"] = ("0 for a packed run: with this much data it needs no extra regularisation, and dropout "
                           "would add half again to the activation memory and its own time")


def _messages(instruction: str, example: dict) -> list[dict]:
    """An example as the chat the trainer renders: system instruction, the prompt, the answer."""
    p = example["prompt"]
    msgs = [{"role": "user", "content": p}] if isinstance(p, str) else list(p)
    if instruction and not any(m["role"] == "system" for m in msgs):
        msgs = [{"role": "system", "content": instruction}, *msgs]
    return [*msgs, {"role": "assistant", "content": example["completion"]}]


def _token_lengths(plan: Plan, report: DataReport, home_models: Path | None):
    """Sorted token counts of every example rendered through the base model's chat template (cached)."""
    mt = model_text(plan.base_model.source, home_models)
    key = (mt.name, mt.exact, mt.template, plan.task.instruction)
    if key not in report.cache:
        texts = [mt.render(_messages(plan.task.instruction, e)) for e in report.examples]
        report.cache[key] = sorted(mt.count(texts, 1.5 if report.language == "zh" else 3.5))
    return report.cache[key], mt


def _choose_max_length(plan: Plan, s: Slots, report: DataReport, why: dict, home_models: Path | None) -> None:
    t, ts = plan.training, plan.data.tokens
    lengths, mt = _token_lengths(plan, report, home_models)
    if not lengths:
        return
    ts.tokenizer, ts.exact = mt.name, mt.exact
    ts.median, ts.p95, ts.longest = lengths[len(lengths) // 2], lengths[min(len(lengths) - 1, int(len(lengths) * 0.95))], lengths[-1]
    how = (f"counted with the {mt.name} tokenizer" if mt.exact else
           f"estimated from characters: the {mt.name} tokenizer is not on this machine")
    if s.max_length:
        t.max_length = s.max_length
        why["training.max_length"] = "you asked for it"
    else:
        t.max_length = max(128, min(4096, -(-ts.p95 // 64) * 64))
        why["training.max_length"] = f"covers 95% of your examples ({ts.p95} tokens with the chat template, {how})"
    ts.truncated = sum(n > t.max_length for n in lengths)
    if ts.truncated:
        why["training.max_length"] += (f"; {ts.truncated} of {len(lengths)} examples are longer (up to {ts.longest} "
                                       "tokens) and will be cut")
        plan.data.warnings.append(f"{ts.truncated} rows are longer than max_length={t.max_length} tokens and will be "
                                  f"truncated (the longest has {ts.longest})")
    else:
        why["training.max_length"] += "; no example is cut"


def _fit(plan: Plan, s: Slots, gpu_name: str, why: dict) -> None:
    """Choose LoRA vs QLoRA, checkpointing and batch size so the estimate fits the memory."""
    shape, t, lo, res = _shape(plan), plan.training, plan.lora, plan.resources

    def est():
        return estimate_memory(shape, method=lo.method, r=lo.r, batch_size=t.batch_size, seq_len=t.max_length,
                               gradient_checkpointing=t.gradient_checkpointing, device=res.device, dropout=lo.dropout)

    if res.device == "cpu":
        if s.method == "qlora":
            why["lora.method"] = "QLoRA needs a CUDA GPU, so plain LoRA on the CPU"
        else:
            why["lora.method"] = "LoRA: the only method on a CPU"
        lo.method = "lora"
    else:
        budget = res.gpu_memory_gb * 0.92
        batch_said, start_batch = s.batch_size is not None, t.batch_size

        def halve(floor: int) -> None:
            while est().peak_gb > budget and t.batch_size > floor and not batch_said:
                t.batch_size //= 2
                t.gradient_accumulation *= 2

        def shrink(floor: int) -> bool:
            """Fit the memory at the least cost in speed: first halve the batch (accumulating, so the effective
            batch stays) while a step still holds MIN_STEP_TOKENS; then recompute activations (a third more
            compute) from the full batch, halving again down to `floor` rows."""
            t.batch_size, t.gradient_accumulation, t.gradient_checkpointing = start_batch, 1, False
            halve(max(floor, -(-MIN_STEP_TOKENS // t.max_length)))
            if est().peak_gb <= budget:
                return True
            t.batch_size, t.gradient_accumulation, t.gradient_checkpointing = start_batch, 1, True
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
                lo.method = "qlora"
                why["lora.method"] = "QLoRA: the 16-bit base does not fit your GPU, the 4-bit base does"
                shrink(1)
        if t.gradient_checkpointing:
            why["training.gradient_checkpointing"] = "on: recomputing activations saves most of their memory"
        if t.gradient_accumulation > 1:
            why["training.batch_size"] = (f"{t.batch_size} × {t.gradient_accumulation} accumulation steps: "
                                          "the same effective batch in less memory")
        if not t.gradient_checkpointing:
            why["training.gradient_checkpointing"] = "off: the activations fit, and recomputing them would cost a third more time"
    why.setdefault("training.batch_size", "you asked for it" if s.batch_size else "8 rows per step")
    e = est()
    res.estimated_peak_gb = round(e.peak_gb, 2)
    res.fits = res.device == "cpu" or e.peak_gb <= res.gpu_memory_gb * 0.92
    why["resources.estimated_peak_gb"] = e.breakdown()
    ts = plan.data.tokens  # tokens computed per example: its own length packed, about the batch's longest padded
    per_row = (ts.median if t.packing else min(t.max_length, ts.p95)) if ts.median else min(t.max_length, 256)
    tokens = plan.data.rows * (1 - plan.data.validation_fraction) * t.epochs * per_row
    info = gpu_info(gpu_name) if gpu_name else None
    res.estimated_minutes = round(estimate_minutes(e.total_params, int(tokens), device=res.device,
                                                   gpu_tflops=info[1] if info else 100.0,
                                                   gradient_checkpointing=t.gradient_checkpointing), 1)


def _diff(old: Plan, new: Plan, said: Intents) -> list[str]:
    """What the last turn changed: first what it asked for, then each knock-on change with its reason."""
    direct_paths = {p for k in said.said() for p in SETTINGS[k].sets}
    asked, knock_on = [], []
    for path in WATCHED:
        a, b = get_path(old, path), get_path(new, path)
        if a == b:
            continue
        if path in direct_paths:
            asked.append(f"{path}: {a} → {b}")
        else:
            knock_on.append(f"{path}: {a} → {b} (because {_knock_on_reason(path, new)})")
    return asked + knock_on


def _knock_on_reason(path: str, plan: Plan) -> str:
    r = plan.reasons
    if path == "lora.alpha":
        return "alpha stays 2 × rank, so the update's scale is unchanged"
    if path in ("training.gradient_accumulation", "training.batch_size"):
        return r.get("training.batch_size", "the batch was resized to fit the memory")
    if path == "training.gradient_checkpointing":
        return r.get(path, "the plan fits without recomputing activations") if get_path(plan, path) else \
            "the plan now fits without recomputing activations, which is faster"
    if path == "base_model.name":
        return r.get("base_model", "")
    if path == "resources.fits":
        return "the memory estimate is now " + f"{plan.resources.estimated_peak_gb:.1f} GB of {plan.resources.gpu_memory_gb:g} GB"
    return r.get(path, "it follows from the change above")


def _questions(missing: list[str], lang: str, plan: Plan) -> list[Question]:
    zh = lang == "zh"
    if "task" in missing:
        return [Question("task", "你希望模型做什么？" if zh else "What should the model do?",
                         TASK_SUGGESTIONS["zh" if zh else "en"])]
    if "data" in missing:
        return [Question("data", "请附上训练数据（CSV、TSV、JSON、JSONL 或 Parquet）。" if zh else
                         "Please attach your training data (CSV, TSV, JSON, JSONL or Parquet).", [])]
    return []


def _reply(plan: Plan, questions: list[Question], changes: list[str], s: Slots, lang: str, ready: bool,
           examples: list[str], notes: list[str]) -> str:
    from .card import render_card

    zh = lang == "zh"
    parts = [f"*{n}*" for n in notes]
    if changes:
        parts.append(("已更新：\n" if zh else "Changed:\n") + "\n".join(f"- {c}" for c in changes))
    if questions:
        parts.append(questions[0].text)
        return "\n\n".join(parts)
    parts.append(render_card(plan, lang))
    if plan.data.warnings:
        parts.append(("数据提示：\n" if zh else "About your data:\n") + "\n".join(f"- {w}" for w in plan.data.warnings))
    if examples:
        head = "训练时模型看到的样例（已套用对话模板）：" if zh else "What the model is trained on (first example, through its chat template):"
        parts.append(f"{head}\n\n```\n{examples[0]}\n```")
    if not plan.resources.fits:
        parts.append(f"This plan needs about {plan.resources.estimated_peak_gb:.1f} GB but your GPU has "
                     f"{plan.resources.gpu_memory_gb:g} GB. Try a smaller model or QLoRA.")
    elif ready:
        parts.append("准备就绪：点击“开始训练”。" if zh else "Ready: press **Start training**, or tell me what to change.")
    return "\n\n".join(parts)
