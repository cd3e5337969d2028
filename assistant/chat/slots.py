"""What the conversation has established so far (`Slots`): each setting's latest value, the sweep asked for, and
the words that named the task. Turn by turn from `chat.understand`'s intents; `chat.planner` builds the plan from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..adjustable import SETTINGS
from .languages import named_language
from .sweep_words import merge as merge_sweep
from .take_back import ALL_CHOICES
from .task_switch import switches_task
from .understand import Intents

CJK = re.compile(r"[\u4e00-\u9fff]")

MIXED = (0.2, 0.8)
"""Data with a share of Chinese examples in this range is mixed: the instruction follows the user's language."""


@dataclass
class Slots:
    """Everything the conversation has established so far: each setting's latest value (the later word
    wins; `s.r`, `s.epochs`, ... read one, None when never said) and the words that named the task."""

    said: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    sweep: dict = field(default_factory=dict)
    """The sweep asked for so far (chat/sweep_words.py's shape, merged turn by turn)."""
    wrote: str = ""
    """Everything the user wrote (the language they write in decides the instruction's on mixed data)."""

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.__dict__.get("said", {}).get(name)
        raise AttributeError(name)

    def _merge_metrics(self, values: dict) -> None:
        """The measures asked for so far, turn upon turn: "also report bleu", then "and chrF": both; "drop f1"
        after "also report f1": not f1; "only accuracy": whatever was asked before it no longer counts."""
        def names(key: str, where: dict) -> list[str]:
            return [n for n in (where.get(key) or "").split(",") if n]

        if values.get("metrics_only"):
            for key in ("metrics", "metrics_off"):
                self.said.pop(key, None)
        added, off = names("metrics", values), names("metrics_off", values)
        for key, merged in (("metrics", [*names("metrics", self.said), *added]),
                            ("metrics_off", [*names("metrics_off", self.said), *off]),
                            ("metrics_only", names("metrics_only", values) or names("metrics_only", self.said))):
            take_out = off if key != "metrics_off" else added  # the later word wins
            kept = [n for n in dict.fromkeys(merged) if n not in take_out]
            if kept:
                values[key] = ",".join(kept)
            else:
                values.pop(key, None)
                self.said.pop(key, None)

    def apply(self, it: Intents, text: str, typed: bool = False) -> None:
        """One more turn (`typed`: an edit typed in a form or sent by a client, which means what it sets)."""
        values = dict(it.values)
        before, now = self.said.get("task_type"), values.get("task_type")
        if before and now and now != before and not typed and not switches_task(text):
            del values["task_type"]  # "the answers should be in Chinese" is about the answers, not a new task
        new_task = values.get("task_type") and values["task_type"] != before
        if (values.get("language") and self.description and not new_task and not typed and not CJK.search(
                self.description) and not named_language(text.lower())):
            del values["language"]  # "秩改成 8" after "classify these reviews": the task's language stays
        for name in it.forget:  # "reset the learning rate": the planner's choice again
            self.said.pop(name, None)
        for name, value in it.dropped.items():  # "forget the overfitting worry": unless changed since
            if self.said.get(name) == value:
                self.said.pop(name)
        self._merge_metrics(values)
        self.said.update(values)
        self.sweep = {} if it.forget == ALL_CHOICES else merge_sweep(self.sweep, it.sweep)
        self.wrote += " " + text
        if new_task:  # the words that named the task
            self.description = text.strip()
