"""A typed change from the plan editor (or a client): setting name → value, checked against `adjustable.SETTINGS`,
kept in the conversation as a turn like a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .adjustable import SETTINGS


@dataclass
class Edit:
    """A typed change from the plan editor: setting name → value, each checked against its `Setting`.

    It is a turn of the conversation like a message (so chat and editor never disagree), but it needs no
    words to be parsed back: `{"edit": {"r": 8}}` in the conversation, "✎ rank 8" on the page."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Edit:
        unknown = [k for k in raw if k not in SETTINGS]
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; settings are {', '.join(SETTINGS)}")
        return cls({k: SETTINGS[k].check(v) for k, v in raw.items() if v is not None})

    def words(self, lang: str = "en") -> str:
        return "✎ " + "; ".join(SETTINGS[k].said(v, lang) for k, v in self.values.items())

    def to_turn(self) -> dict:
        return {"edit": dict(self.values)}


def as_edit(turn: Any) -> Edit | None:
    """The typed edit a conversation turn holds (`{"edit": {...}}`), or None for a message in words."""
    if isinstance(turn, dict) and isinstance(turn.get("edit"), dict):
        return Edit.of(turn["edit"])
    return None


def turn_words(turn: Any, lang: str = "en") -> str:
    """A turn as the user sees it: a message as written, a typed edit in words."""
    edit = as_edit(turn)
    return edit.words(lang) if edit is not None else str(turn)
