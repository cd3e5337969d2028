"""The conversation: user turns (+ an attached file) → slots → a complete, justified Plan and a reply.

Stateless by design: the whole conversation is replayed on each turn, applying turns in order so the later
word wins. The reply says what the last turn changed, and why anything else had to change with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..data import DataReport, inspect_file
from ..models import catalog
from ..models.estimate import estimate_memory, estimate_minutes, gpu_info
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
    """Everything the conversation has established so far."""

    task_type: str | None = None
    task_inferred: bool = False
    language: str | None = None
    base_model: str | None = None
    gpu_name: str | None = None
    gpu_memory_gb: float | None = None
    method: str | None = None
    preference: str | None = None
    epochs: float | None = None
    r: int | None = None
    learning_rate: float | None = None
    max_length: int | None = None
    batch_size: int | None = None
    description: str = ""

    def apply(self, it: Intents, text: str) -> None:
        for f in fields(Intents):
            if f.name in ("notes", "start"):
                continue
            v = getattr(it, f.name)
            if v is not None and hasattr(self, f.name):
                setattr(self, f.name, v)
        if it.task_type:
            self.description = text.strip()
            self.task_inferred = False


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

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "missing": self.missing,
            "reply": self.reply,
            "plan": self.plan.to_dict(),
            "questions": [q.__dict__ for q in self.questions],
            "changes": self.changes,
        }


def converse(messages: list[str], data_path: str | None = None, gpu_memory_gb: float | None = None,
             gpu_name: str = "", default_base_model: str | None = None, report: DataReport | None = None) -> Turn:
    """Plan from the whole conversation. `gpu_memory_gb` is the detected (or given) GPU; 0 means CPU.

    Raises DataError when the attached file is unusable.
    """
    if data_path and report is None:
        report = inspect_file(data_path)
    before = _slots(messages[:-1])
    now = _slots(messages)
    env = (gpu_name, gpu_memory_gb or 0.0, default_base_model)
    plan = build_plan(now, report, *env)
    changes = _diff(build_plan(before, report, *env), plan) if len(messages) > 1 else []
    missing = []
    if plan.task.type is None:
        missing.append("task")
    if report is None:
        missing.append("data")
    ready = not missing and not plan.problems(require_ready=True)
    lang = now.language or (report.language if report else None) or _lang_of(messages)
    questions = _questions(missing, lang, plan)
    return Turn(ready, missing, _reply(plan, questions, changes, now, lang, ready), plan, questions, changes, report)


def _lang_of(messages: list[str]) -> str:
    return "zh" if any(re.search(r"[\u4e00-\u9fff]", m) for m in messages) else "en"


def _slots(messages: list[str]) -> Slots:
    s = Slots()
    for m in messages:
        s.apply(understand(m), m)
    return s


def build_plan(s: Slots, report: DataReport | None, detected_gpu: str, detected_gb: float,
               default_base_model: str | None) -> Plan:
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

    _choose_model(plan, s, language, gpu_gb, default_base_model, why)
    _choose_training(plan, s, report, why)
    _fit(plan, s, gpu_name, why)
    if task:
        plan.evaluation.metrics = list(METRICS_BY_TASK[task])
        why["evaluation.metrics"] = f"the standard measures for {task}"
        labels = ", ".join(plan.task.labels) if plan.task.labels else "the labels in the data"
        plan.task.instruction = INSTRUCTIONS["zh" if language == "zh" else "en"][task].format(labels=labels)
        stem = Path(plan.data.path).stem if plan.data.path else "data"
        plan.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{task}-{stem}").strip("-")[:60] or task
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


def _choose_model(plan: Plan, s: Slots, language: str, gpu_gb: float, default: str | None, why: dict) -> None:
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
        b.name, b.source = entry.name, entry.name
        why["base_model"] = reason
    entry = catalog.find(b.source)
    if entry:
        b.params_b, b.chat_template = entry.params_b, entry.chat_template
        if language not in entry.languages and language != "en":
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
                      bool(c.get("tie_word_embeddings", False)))


def _shape(plan: Plan):
    entry = catalog.find(plan.base_model.source)
    return entry.shape if entry else (local_shape(plan.base_model.source) or catalog.DEFAULT.shape)


def _choose_training(plan: Plan, s: Slots, report: DataReport | None, why: dict) -> None:
    t, lo = plan.training, plan.lora
    rows = report.rows if report else 0
    fast, best = s.preference == "fast", s.preference == "quality"
    lo.r = s.r or (8 if fast else 32 if best else 16)
    lo.alpha = 2 * lo.r
    why["lora.r"] = "you asked for it" if s.r else (
        "rank 8: fast, enough for a narrow task" if fast else "rank 32: more capacity for best quality" if best
        else "rank 16: the usual balance of capacity and speed")
    lo.dropout = 0.05
    if s.epochs:
        t.epochs, why["training.epochs"] = s.epochs, "you asked for it"
    else:
        t.epochs = 1.0 if fast or rows > 20000 else 2.0 if rows > 2000 else 3.0
        why["training.epochs"] = ("one pass: you asked for speed" if fast else
                                  f"{t.epochs:g} passes suit {rows or 'your'} rows without over-fitting")
    t.learning_rate = s.learning_rate or (1e-4 if lo.r >= 64 else 2e-4)
    why["training.learning_rate"] = "you asked for it" if s.learning_rate else "the usual LoRA rate for this rank"
    if s.max_length:
        t.max_length, why["training.max_length"] = s.max_length, "you asked for it"
    elif report is not None:
        chars_per_token = 1.5 if report.language == "zh" else 3.5
        need = int(report.chars_p95 / chars_per_token) + 64  # + chat template and instruction
        t.max_length = max(128, min(4096, -(-need // 64) * 64))
        why["training.max_length"] = f"covers 95% of your rows (about {need} tokens with the template)"
    cpu = plan.resources.device == "cpu"
    t.precision = "fp32" if cpu else "bf16"
    why["training.precision"] = "fp32 on the CPU" if cpu else "bf16: half the memory of fp32 at the same quality"
    t.batch_size = s.batch_size or 8
    t.packing = False
    t.gradient_checkpointing = False


def _fit(plan: Plan, s: Slots, gpu_name: str, why: dict) -> None:
    """Choose LoRA vs QLoRA, checkpointing and batch size so the estimate fits the memory."""
    shape, t, lo, res = _shape(plan), plan.training, plan.lora, plan.resources

    def est():
        return estimate_memory(shape, method=lo.method, r=lo.r, batch_size=t.batch_size, seq_len=t.max_length,
                               gradient_checkpointing=t.gradient_checkpointing, device=res.device)

    if res.device == "cpu":
        if s.method == "qlora":
            why["lora.method"] = "QLoRA needs a CUDA GPU, so plain LoRA on the CPU"
        else:
            why["lora.method"] = "LoRA: the only method on a CPU"
        lo.method = "lora"
    else:
        budget = res.gpu_memory_gb * 0.92
        lo.method = s.method or "lora"
        if s.method:
            why["lora.method"] = "you asked for it"
        else:
            why["lora.method"] = "LoRA on a 16-bit base fits your GPU: faster and slightly better than QLoRA"
            if est().peak_gb > budget:
                lo.method = "qlora"
                why["lora.method"] = "QLoRA: the 16-bit base does not fit, the 4-bit base does"
        batch_said = s.batch_size is not None
        if est().peak_gb > budget:
            t.gradient_checkpointing = True
            why["training.gradient_checkpointing"] = "on: recomputing activations saves most of their memory"
        while est().peak_gb > budget and t.batch_size > 1 and not batch_said:
            t.batch_size //= 2
            t.gradient_accumulation *= 2
        if t.gradient_accumulation > 1:
            why["training.batch_size"] = (f"{t.batch_size} × {t.gradient_accumulation} accumulation steps: "
                                          "the same effective batch in less memory")
    why.setdefault("training.batch_size", "you asked for it" if s.batch_size else "8 rows per step")
    e = est()
    res.estimated_peak_gb = round(e.peak_gb, 2)
    res.fits = res.device == "cpu" or e.peak_gb <= res.gpu_memory_gb * 0.92
    why["resources.estimated_peak_gb"] = e.breakdown()
    tokens = plan.data.rows * (1 - plan.data.validation_fraction) * t.epochs * min(t.max_length, 256)
    info = gpu_info(gpu_name) if gpu_name else None
    res.estimated_minutes = round(estimate_minutes(e.total_params, int(tokens), device=res.device,
                                                   gpu_tflops=info[1] if info else 100.0,
                                                   gradient_checkpointing=t.gradient_checkpointing), 1)


def _diff(old: Plan, new: Plan) -> list[str]:
    out = []
    for path in ("task.type", "task.language", "base_model.name", "lora.method", "lora.r", "training.epochs",
                 "training.learning_rate", "training.max_length", "training.batch_size",
                 "training.gradient_checkpointing", "resources.gpu_memory_gb", "resources.device"):
        a, b = _get(old, path), _get(new, path)
        if a != b:
            out.append(f"{path}: {a} → {b}")
    return out


def _get(plan: Plan, path: str):
    obj = plan
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _questions(missing: list[str], lang: str, plan: Plan) -> list[Question]:
    zh = lang == "zh"
    if "task" in missing:
        return [Question("task", "你希望模型做什么？" if zh else "What should the model do?",
                         TASK_SUGGESTIONS["zh" if zh else "en"])]
    if "data" in missing:
        return [Question("data", "请附上训练数据（CSV、TSV、JSON、JSONL 或 Parquet）。" if zh else
                         "Please attach your training data (CSV, TSV, JSON, JSONL or Parquet).", [])]
    return []


def _reply(plan: Plan, questions: list[Question], changes: list[str], s: Slots, lang: str, ready: bool) -> str:
    from .card import render_card

    parts = []
    if changes:
        parts.append(("已更新：" if lang == "zh" else "Changed: ") + "; ".join(changes))
    if questions:
        parts.append(questions[0].text)
        return "\n\n".join(parts)
    parts.append(render_card(plan, lang))
    if not plan.resources.fits:
        parts.append(f"This plan needs about {plan.resources.estimated_peak_gb:.1f} GB but your GPU has "
                     f"{plan.resources.gpu_memory_gb:g} GB. Try a smaller model or QLoRA.")
    elif ready:
        parts.append("准备就绪：点击“开始训练”。" if lang == "zh" else "Ready: press **Start training**, or tell me what to change.")
    return "\n\n".join(parts)
