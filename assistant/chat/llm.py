"""The optional understanding backend: any OpenAI-compatible chat endpoint (URL, model, key from settings).

It is asked for the same structured intents the rules produce, as one JSON object, and its answer goes
through the same validation as everything else. When the endpoint fails or answers something unusable, the
turn is understood by the rules instead and the reply carries a visible note saying so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..adjustable import SETTINGS
from ..models.catalog import find
from .understand import Intents, understand


def system_prompt() -> str:
    """What the backend is asked: every setting with its meaning (the task types as plugins registered them)."""
    return ("You turn one message from a user who wants to fine-tune a language model into JSON.\n"
            "Answer with ONE JSON object and nothing else. Use only these keys; leave out what the message "
            "does not say:\n" + "".join(f"  {s.name}: {s.means}\n" for s in SETTINGS.values())
            + "  start: true when the user asks to start training now\n"
            "The message may be in English or Chinese.")


class UnusableAnswer(ValueError):
    """The backend's answer is not a valid set of intents; the message says what is wrong."""


def validate_intents(raw: Any) -> Intents:
    """An Intents from a JSON object, or UnusableAnswer naming the first bad field."""
    if not isinstance(raw, dict):
        raise UnusableAnswer(f"expected a JSON object, got {type(raw).__name__}")
    it = Intents()
    for key, value in raw.items():
        if key not in SETTINGS and key != "start":
            raise UnusableAnswer(f"unknown field {key!r}")
        if value is None:
            continue
        if key == "start":
            if not isinstance(value, bool):
                raise UnusableAnswer(f"start: {value!r} is not allowed; it must be true or false")
            it.start = value
            continue
        try:
            value = SETTINGS[key].check(value)
        except ValueError as e:
            raise UnusableAnswer(str(e)) from None
        if key == "base_model" and (entry := find(value)):
            value = entry.name
        it.values[key] = value
    return it


class LLMUnderstander:
    """Understands a turn by asking an OpenAI-compatible endpoint; falls back to the rules with a note."""

    def __init__(self, url: str, model: str, key: str = "", timeout: float = 20.0):
        self.url = url.rstrip("/")
        self.model, self.key, self.timeout = model, key, timeout
        self._cache: dict[str, Intents] = {}

    def __call__(self, text: str) -> Intents:
        if text not in self._cache:
            rules = understand(text)  # a turn about the conversation needs the turns before it, which the
            about = (rules.that, rules.switch, rules.again, rules.added, rules.undo or None, rules.asked or None,
                     rules.forget or rules.dropped or None)  # endpoint does not see: "make that 8", "undo", "why rank
            # 16?", "never mind the overfitting"
            self._cache[text] = rules if any(x is not None for x in about) else self._understand(text)
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
                "messages": [{"role": "system", "content": system_prompt()}, {"role": "user", "content": text}]}
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
