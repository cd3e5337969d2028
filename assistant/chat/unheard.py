"""What to say when a turn changed nothing (not understood, or already so), and a turn's notes in the
conversation's language."""

from __future__ import annotations

import re
from typing import Any

from ..adjustable import SETTINGS
from ..edits import turn_words
from .about import a_or_an
from .features import feature_note
from .understand import Intents

EXAMPLES = {
    "en": "“use rank 8”, “train 3 epochs”, “learning rate 1e-4”, “halve the learning rate”, “max length 512”, "
          "“use only 100 rows”, “stop after 30 steps”, “finish in 10 minutes”, “use QLoRA”, “I have a 24 GB GPU”, "
          "“switch to Qwen2.5-1.5B”",
    "zh": "“秩 8”、“训练 3 轮”、“学习率 1e-4”、“学习率减半”、“最大长度 512”、“只用 100 条数据”、“训练 30 步”、"
          "“10 分钟内完成”、“用 QLoRA”、“我有 24G 显卡”、“换成 Qwen2.5-1.5B”",
}


def unheard(message: str | dict, it: Intents, changes: list[str], lang: str, plan) -> str | None:
    """What to say when the last turn changed nothing: that it was not understood (with what can be said), or
    that what it asked for is already so. None when it changed the plan or asked to start, or when what it asked
    for could not be done and a data warning says why (a column the file lacks)."""
    if changes or it.start or it.sweep or it.asked:
        return None
    zh = lang == "zh"
    if it.forget or it.undo or it.dropped:  # "never mind the overfitting" after the dropout was set since
        return None if it.notes else "计划没有改变。" if zh else "The plan is unchanged."
    heard = {k: v for k, v in it.values.items() if k != "language"}  # Chinese characters alone say nothing
    if not heard and not it.notes:
        words = turn_words(message).strip()
        if note := feature_note(words.lower(), zh):  # "export to gguf afterwards": where Tailor does that
            return note
        shown = words[:80] + ("…" if len(words) > 80 else "")
        return (f"我没有理解“{shown}”，计划没有改变。可以这样说：{EXAMPLES['zh']}。" if zh else
                f"I did not understand “{shown}”, so the plan is unchanged. You can say, for example: "
                f"{EXAMPLES['en']}.")
    said = "; ".join(said_as(k, v, zh) for k, v in it.values.items()
                     if k in SETTINGS and k not in ("language", "task_type") and (k, v) != ("gpu_name", "")
                     and not any(f"`{v}`" in w for w in plan.data.warnings)  # refused, and said so with the data
                     and not (k == "base_model" and plan.reasons.get("base_model", "").startswith("⚠️")))  # replaced,
    # and said so ("switch to gpt-4": closed)
    if not said and heard.keys() == {"task_type"} and (task := heard["task_type"]) != plan.task.type:
        return (f"任务仍是 {plan.task.type}（这句话也像是在说 {task}；要换任务，请说“换成 {task} 任务”），"
                "计划没有改变。" if zh else f"The task stays {plan.task.type} (your words also read as {task}; to "
                f"switch, say “switch the task to {task}”), so the plan is unchanged.")  # "the answers should be short"
    if not said:
        return None
    return f"计划已经是这样（{said}），没有改变。" if zh else f"The plan already does that ({said}); nothing changed."


def said_as(name: str, value: Any, zh: bool) -> str:
    """A setting's value in words, the machine's as a person says it ("no GPU: the CPU", "a 24 GB GPU")."""
    if name == "gpu_memory_gb":
        return (f"{value:g} GB 显卡" if zh else f"{a_or_an(value)} {value:g} GB GPU") if value else (
            "没有 GPU：用 CPU" if zh else "no GPU: the CPU")
    return SETTINGS[name].said(value, "zh" if zh else "en")


NOT_POSSIBLE = re.compile(r"^“[^”]*” is not possible: it must be .+, so the plan keeps its own value$")
"""A value refused for its bounds (`understand.allowed`), said in English by a message with no Chinese in it."""


def in_language(notes: list[str], zh: bool) -> list[str]:
    """A turn's notes for a Chinese conversation: a refusal that an English-only message ("dropout 1.2") wrote in
    English, in Chinese."""
    if not zh:
        return notes
    from .reasons_zh import to_zh

    return [to_zh(n) if NOT_POSSIBLE.match(n) else n for n in notes]
