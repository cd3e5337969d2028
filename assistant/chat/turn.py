"""What the conversation answers each turn with (`Turn`), and a question it asks back (`Question`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data import DataReport
from ..plan import Plan


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
