"""Understanding one user turn: intents and slots from free text, in English and Chinese.

The rule-based understander always works offline. Each turn yields an `Intents` object holding only what
that turn said; the conversation applies turns in order, so the later word wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .. import plugins
from ..adjustable import SETTINGS
from ..models.catalog import find, models
from ..models.estimate import gpu_info

NUM = r"(\d+(?:\.\d+)?)"


@dataclass
class Intents:
    """What one turn said: the settings it mentioned (names from `adjustable.SETTINGS`), whether it asked
    to start, and notes for the user. `it.r`, `it.task_type`, ... read a setting (None when not said)."""

    values: dict[str, Any] = field(default_factory=dict)
    start: bool = False
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.__dict__.get("values", {}).get(name)
        raise AttributeError(name)

    def said(self) -> dict:
        return dict(self.values)


def understand(text: str) -> Intents:
    t = text.strip()
    low = t.lower()
    said: dict[str, Any] = {"task_type": _task(low),
                            "language": _language(t, low), "base_model": _model(low)}
    notes: list[str] = []
    _gpu(low, said, notes)
    if re.search(r"\bno\s*qlora|without qlora|don'?t use qlora|不用\s*qlora|不要\s*qlora|full lora|plain lora", low):
        said["method"] = "lora"
    elif re.search(r"qlora|4[- ]?bit|quantiz|量化", low):
        said["method"] = "qlora"
    if re.search(r"\bfast|quick|asap|hurry|快速|尽快|快一点|快点", low):
        said["preference"] = "fast"
    elif re.search(r"best quality|high quality|highest quality|accura|质量最好|效果最好|高质量|最好的效果", low):
        said["preference"] = "quality"
    for setting in SETTINGS.values():  # the numbers each setting declares how people say
        if setting.patterns:
            said[setting.name] = setting.read(low)
    start = bool(re.search(r"^(start|go|run it|train|yes,? start|开始|开始训练)\b", low))
    return Intents({k: v for k, v in said.items() if v is not None}, start, notes)


def _task(low: str) -> str | None:
    """The registered task whose words the message uses (tasks tried by priority: the more specific first)."""
    return next((t.name for t in plugins.get().task_order() if re.search(t.patterns, low)), None)


def _language(t: str, low: str) -> str | None:
    if re.search(r"in chinese|chinese (text|review|data|document)|mandarin|中文|汉语|简体|繁体", low):
        return "zh"
    if re.search(r"in english|english (text|review|data)|英文|英语", low):
        return "en"
    cjk = len(re.findall(r"[\u4e00-\u9fff]", t))
    return "zh" if cjk >= 4 else None


def _model(low: str) -> str | None:
    # Exact catalog names or hub ids first.
    for m in sorted(models(), key=lambda m: len(m.name), reverse=True):
        if m.name.lower() in low or m.hub_id.lower() in low:
            return m.name
    # "qwen 7b", "Qwen2.5-1.5B", "llama 8b", "mistral 7b", "smollm2".
    if m := re.search(r"(qwen|llama|mistral|gemma|phi|smollm2?)[\w.\- ]*?(\d+(?:\.\d+)?)\s*b\b", low):
        family, size = m.group(1), float(m.group(2))
        cands = [c for c in models() if c.name.lower().startswith(family[:4]) and not c.code]
        if cands:
            return min(cands, key=lambda c: abs(c.params_b - size)).name
    for word in re.findall(r"[a-z][\w.\-]+", low):
        entry = find(word)
        if entry and len(word) > 3:
            return entry.name
    return None


def _gpu(low: str, said: dict[str, Any], notes: list[str]) -> None:
    if re.search(r"no gpu|without (a )?gpu|cpu only|only (a )?cpu|on (my )?cpu|laptop without|"
                 r"没有\s*gpu|没有显卡|无显卡|只有\s*cpu|用\s*cpu", low):
        said["gpu_name"], said["gpu_memory_gb"] = "", 0.0
        return
    m = re.search(r"(rtx\s*\d{4}|gtx\s*\d{4}|(?<!\d)\d{4}(?!\d)|\bh200\b|\bh100\b|\ba100\b|\ba6000\b|\bl40s?\b|"
                  r"\ba10\b|\bl4\b|\bt4\b|\bv100\b)", low)
    if m and (info := gpu_info(m.group(1))):
        said["gpu_name"] = m.group(1).upper().replace("RTX", "RTX ").replace("  ", " ").strip()
        said["gpu_memory_gb"] = info[0]
    if mm := re.search(NUM + r"\s*(?:gb|gib|g\b|g的|g显存|gb显存|g 显存)", low):
        said["gpu_memory_gb"] = float(mm.group(1))
        if "fit" in low or "适配" in low or "放进" in low:
            notes.append("fit")
