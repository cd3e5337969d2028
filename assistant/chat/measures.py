"""The measures a plan's evaluation reports: the task's standard ones, with those the conversation asked for
("also report exact match"), without those it left out ("don't compute f1", "去掉 f1"), or only those it named
("accuracy is enough", "只看准确率"); the words are read in `metric_words.py`."""

from __future__ import annotations

from ..plan import Plan
from .slots import Slots

FREE_TEXT = ("summarization", "translation", "chat", "rewriting")
"""Tasks whose answers are free text: a whole answer rarely equals the reference."""


def choose_metrics(plan: Plan, s: Slots, standard: list[str], task: str, why: dict) -> None:
    """The task's standard measures, with those asked for ("also report exact match"), without those left out
    ("don't compute f1"), or only those named ("accuracy is enough"). One always stays: the held-out rows are
    scored with it."""
    def names(value: str | None) -> list[str]:
        return [n for n in (value or "").split(",") if n]

    only, off = names(s.metrics_only), names(s.metrics_off)
    metrics = [*(only or standard), *(m for m in names(s.metrics) if m not in (only or standard))]
    kept = [m for m in metrics if m not in off]
    if not kept:
        kept = metrics[:1]
        plan.data.warnings.append(f"you asked to leave out {', '.join(metrics)}, but the held-out rows need a "
                                  f"measure, so {kept[0]} stays")
    plan.evaluation.metrics = kept
    if task in FREE_TEXT and (whole := [m for m in kept if m in ("accuracy", "exact_match")]):
        plan.data.warnings.append(f"{' and '.join(whole)} counts only answers equal to the reference, which few "
                                  f"{task} answers are: expect it near 0 (rougeL, bleu and chrf measure how close "
                                  "they come)")
    why["evaluation.metrics"] = f"only {', '.join(only)}, as you asked" if only else \
        f"the standard measures for {task}"
    if extra := [m for m in kept if m not in (only or standard)]:
        why["evaluation.metrics"] += f", and {', '.join(extra)} as you asked"
    if not only and (gone := [m for m in standard if m not in kept]):
        why["evaluation.metrics"] += f", without {', '.join(gone)} as you asked"
