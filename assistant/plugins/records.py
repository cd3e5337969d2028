"""What a plugin registers: plain records, checked when they are registered.

A hook returns a list of these and does no work; the functions inside them run only when Tailor needs them
(a format's `to_example` when data is read, a metric's functions when answers are scored, an exporter's
`export` when a user asks for the files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
"""Task, format, metric and exporter names: they appear in plans, the registry and URLs."""


class Invalid(ValueError):
    """A registration that cannot be used; the message says which and why."""


def _name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise Invalid(f"{kind} name {name!r} must be letters, digits and _ (at most 40, a letter first)")


def _callable(kind: str, name: str, what: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not callable(value):
        raise Invalid(f"{kind} {name!r}: {what} must be a function, got {type(value).__name__}")


@dataclass(frozen=True)
class TaskRecipe:
    """A kind of job a model can be fine-tuned for, and how the assistant recognises and plans it."""

    name: str
    """The plan's `task.type`."""
    patterns: str
    """A regular expression over the lower-cased message whose match says the user wants this task; write
    the English and the Chinese words in it (`extract (the )?(people|names)|人名|地名`)."""
    instruction: dict[str, str]
    """The system prompt by language (`en` required, `zh` and others optional); `{labels}` is replaced by
    the labels found in the data."""
    metrics: tuple[str, ...]
    """The plan's default evaluation metrics, best first (names of registered metrics)."""
    suggestion: dict[str, str] = field(default_factory=dict)
    """The words of the quick answer offered when the assistant asks what the model should do, by language;
    they must match `patterns`. Empty: the task is not offered as a quick answer."""
    labels: bool = False
    """Answers are labels from a fixed set: the labels are read from the data, the held-out split is
    stratified by them, and baselines are computed."""
    priority: int = 100
    """Patterns are tried from the highest priority down; built-ins use 10–80, so a plugin's more specific
    task is tried first."""
    description: str = ""

    def check(self) -> None:
        _name("task", self.name)
        try:
            re.compile(self.patterns)
        except (re.error, TypeError) as e:
            raise Invalid(f"task {self.name!r}: patterns is not a regular expression ({e})") from None
        if not isinstance(self.instruction, dict) or not isinstance(self.instruction.get("en"), str):
            raise Invalid(f"task {self.name!r}: instruction needs at least an English text ({{'en': ...}})")
        if isinstance(self.metrics, str) or not self.metrics or not all(isinstance(m, str) for m in self.metrics):
            raise Invalid(f"task {self.name!r}: metrics must be a non-empty list of metric names")
        for lang, words in self.suggestion.items():
            if not re.search(self.patterns, words.lower()):
                raise Invalid(f"task {self.name!r}: its {lang} suggestion {words!r} does not match its own patterns")

    def instruction_for(self, language: str, labels: str) -> str:
        text = self.instruction.get(language) or self.instruction["en"]
        return text.replace("{labels}", labels)


@dataclass(frozen=True)
class DataFormat:
    """A shape of data rows: how to recognise it and how one row becomes a training example."""

    name: str
    """The plan's `data.format`."""
    detect: Callable[[list[dict[str, Any]]], bool]
    """True when these rows (the whole file, read as a list of objects) are in this format."""
    to_example: Callable[[dict[str, Any], Any], dict[str, Any]]
    """One row (and the data's mapping: `input_columns`, `output_column`) → {"prompt": str or
    [{"role", "content"}...], "completion": str}. An empty completion or prompt drops the row."""
    map_columns: Callable[[str, list[dict[str, Any]]], tuple[list[str], str]] | None = None
    """Optional: (path, rows) → (input columns, output column) for formats whose mapping is found."""
    suffixes: tuple[str, ...] = ()
    """File suffixes this format reads itself (`.conll`); others are read as CSV/TSV/JSON/JSONL/Parquet."""
    read: Callable[[Path, str], list[dict[str, Any]]] | None = None
    """With `suffixes`: (path, the file's decoded text) → rows. Raise ValueError naming the line."""
    task: str | None = None
    """The task this data implies when the user names none (`chat` for conversations)."""
    priority: int = 100
    """Formats are tried from the highest priority down; the built-in `columns` (any table) is last."""
    description: str = ""

    def check(self) -> None:
        _name("format", self.name)
        _callable("format", self.name, "detect", self.detect)
        _callable("format", self.name, "to_example", self.to_example)
        _callable("format", self.name, "map_columns", self.map_columns, optional=True)
        if self.suffixes and self.read is None:
            raise Invalid(f"format {self.name!r}: suffixes {self.suffixes} need a read function")
        if not all(isinstance(s, str) and re.fullmatch(r"\.[a-z0-9]{1,10}", s) for s in self.suffixes):
            raise Invalid(f"format {self.name!r}: suffixes must look like '.conll' (lower case)")


@dataclass(frozen=True)
class Metric:
    """A score of answers against references. With only `per_example`, the corpus score is their mean; with
    `corpus`, the corpus score (and every bootstrap resample) is `corpus(preds, refs)`."""

    name: str
    per_example: Callable[[str, str], float] | None = None
    """(answer, reference) → a score, for the per-example table and the disagreements view."""
    corpus: Callable[[Sequence[str], Sequence[str]], float] | None = None
    """(answers, references) → the score over a set (macro F1, entity-level micro F1, ...)."""
    higher_is_better: bool = True
    """Sorting, "best", and the sign of a difference read this."""
    from_loss: bool = False
    """Measured from the held-out loss when training ends (perplexity), not from answers: evaluating answers
    leaves it out and says so."""
    description: str = ""

    @property
    def scores_answers(self) -> bool:
        return not self.from_loss

    def check(self) -> None:
        _name("metric", self.name)
        if self.per_example is None and self.corpus is None and not self.from_loss:
            raise Invalid(f"metric {self.name!r}: give per_example, corpus or both")
        _callable("metric", self.name, "per_example", self.per_example, optional=True)
        _callable("metric", self.name, "corpus", self.corpus, optional=True)

    def score(self, preds: Sequence[str], refs: Sequence[str], per: Sequence[float] | None = None) -> float:
        if self.corpus is not None:
            return float(self.corpus(preds, refs))
        per = per if per is not None else [self.per_example(p, r) for p, r in zip(preds, refs)]
        return sum(per) / len(per) if per else 0.0


@dataclass(frozen=True)
class Exporter:
    """A way to hand a registered adapter over as files."""

    name: str
    export: Callable[..., Path]
    """(registry, adapter record, destination folder, log) → the file written inside that folder."""
    description: str = ""
    """One line for the CLI's help and the page's menu."""

    def check(self) -> None:
        _name("exporter", self.name)
        _callable("exporter", self.name, "export", self.export)


@dataclass(frozen=True)
class Command:
    """A `tailor` subcommand."""

    name: str
    help: str
    run: Callable[[Any], int]
    """(parsed arguments) → the exit status."""
    arguments: Callable[[Any], None] | None = None
    """(its argparse parser) → adds its arguments."""

    def check(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", self.name):
            raise Invalid(f"command name {self.name!r} must be lower-case letters, digits and -")
        _callable("command", self.name, "run", self.run)
        _callable("command", self.name, "arguments", self.arguments, optional=True)
