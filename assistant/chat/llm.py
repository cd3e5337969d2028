"""The optional understanding backend: any OpenAI-compatible chat endpoint (URL, model, key from settings).

It is asked for the same structured intents the rules produce, as one JSON object, and its answer goes
through the same validation as everything else. When the endpoint fails or answers something unusable, the
turn is understood by the rules instead and the reply carries a visible note saying so.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any

from ..models.catalog import find
from ..plan import TASK_TYPES
from .understand import Intents, understand

SYSTEM_PROMPT = """You turn one message from a user who wants to fine-tune a language model into JSON.
Answer with ONE JSON object and nothing else. Use only these keys; leave out what the message does not say:
  task_type: one of TASKS
  language: ISO 639-1 code of the language the task is done in ("en", "zh", ...)
  base_model: the base model the user names, e.g. "Qwen2.5-7B-Instruct"
  gpu_name: the GPU the user names, e.g. "RTX 4090"; "" when they say they have no GPU
  gpu_memory_gb: GPU memory in GB the user has or wants to fit in; 0 when they have no GPU
  method: "lora" or "qlora"
  preference: "fast" or "quality"
  epochs: number of passes over the data
  r: LoRA rank (integer)
  learning_rate: number
  max_length: maximum tokens per example (integer)
  batch_size: integer
  start: true when the user asks to start training now
The message may be in English or Chinese.""".replace("TASKS", ", ".join(TASK_TYPES))

# field → (type, check) for the validation shared with the rules' output.
LIMITS: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "task_type": (str, lambda v: v in TASK_TYPES),
    "language": (str, lambda v: bool(re.fullmatch(r"[a-z]{2}", v))),
    "base_model": (str, lambda v: 0 < len(v) <= 200),
    "gpu_name": (str, lambda v: len(v) <= 100),
    "gpu_memory_gb": ((int, float), lambda v: 0 <= v <= 2048),
    "method": (str, lambda v: v in ("lora", "qlora")),
    "preference": (str, lambda v: v in ("fast", "quality")),
    "epochs": ((int, float), lambda v: 0 < v <= 100),
    "r": (int, lambda v: 1 <= v <= 1024),
    "learning_rate": ((int, float), lambda v: 0 < v < 1),
    "max_length": (int, lambda v: 16 <= v <= 131072),
    "batch_size": (int, lambda v: 1 <= v <= 4096),
    "start": (bool, lambda v: True),
}


class UnusableAnswer(ValueError):
    """The backend's answer is not a valid set of intents; the message says what is wrong."""


def validate_intents(raw: Any) -> Intents:
    """An Intents from a JSON object, or UnusableAnswer naming the first bad field."""
    if not isinstance(raw, dict):
        raise UnusableAnswer(f"expected a JSON object, got {type(raw).__name__}")
    known = {f.name for f in fields(Intents)} - {"notes"}
    it = Intents()
    for key, value in raw.items():
        if key not in known:
            raise UnusableAnswer(f"unknown field {key!r}")
        if value is None:
            continue
        typ, ok = LIMITS[key]
        if typ is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) and typ is not bool or not isinstance(value, typ) or not ok(value):
            raise UnusableAnswer(f"{key}: {value!r} is not allowed")
        if key in ("epochs", "learning_rate", "gpu_memory_gb"):
            value = float(value)
        if key == "base_model" and (entry := find(value)):
            value = entry.name
        setattr(it, key, value)
    return it


class LLMUnderstander:
    """Understands a turn by asking an OpenAI-compatible endpoint; falls back to the rules with a note."""

    def __init__(self, url: str, model: str, key: str = "", timeout: float = 20.0):
        self.url = url.rstrip("/")
        self.model, self.key, self.timeout = model, key, timeout
        self._cache: dict[str, Intents] = {}

    def __call__(self, text: str) -> Intents:
        if text not in self._cache:
            self._cache[text] = self._understand(text)
        return self._cache[text]

    def _understand(self, text: str) -> Intents:
        try:
            return validate_intents(_json_in(self._ask(text)))
        except UnusableAnswer as e:
            why = f"its answer was unusable ({e})"
        except Exception as e:  # noqa: BLE001 - any failure of the endpoint (network, HTTP, shape) falls back
            why = f"the call failed ({type(e).__name__}: {str(e)[:120]})"
        it = understand(text)
        it.notes.append(f"The language-model backend ({self.model} at {self.url}) could not be used: {why}. "
                        "I understood this message with the built-in rules instead.")
        return it

    def _ask(self, text: str) -> str:
        import httpx

        url = self.url if self.url.endswith("/chat/completions") else self.url + "/chat/completions"
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        body = {"model": self.model, "temperature": 0,
                "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]}
        r = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        if r.status_code != 200:
            raise ValueError(f"HTTP {r.status_code}: {r.text[:120]}")
        return r.json()["choices"][0]["message"]["content"]


def _json_in(answer: str) -> Any:
    """The JSON object in an answer (models sometimes wrap it in a code fence)."""
    m = re.search(r"\{.*\}", answer or "", re.S)
    if not m:
        raise UnusableAnswer("no JSON object in the answer")
    try:
        return json.loads(m.group(0))
    except json.JSONDecodeError as e:
        raise UnusableAnswer(f"invalid JSON: {e.msg} at character {e.pos}") from None


def understander_for(settings) -> Any:
    """The understanding backend the settings choose: the rules, or an OpenAI-compatible endpoint."""
    if getattr(settings, "understanding_backend", "rules") == "openai" and settings.llm_url and settings.llm_model:
        return LLMUnderstander(settings.llm_url, settings.llm_model, settings.llm_key)
    return understand
