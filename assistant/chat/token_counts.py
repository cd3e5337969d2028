"""The data's token counts a plan is sized from: every example rendered through the base model's chat template
(memory, max_length, packing), and the tokens its loss is on — its answers — which the LM head pays for."""

from __future__ import annotations

from pathlib import Path

from ..data import DataReport
from ..data.inspect import earlier_answers
from ..models.tokenize import model_text
from ..plan import Plan


def training_messages(instruction: str, example: dict) -> list[dict]:
    """An example as the chat the trainer renders: system instruction, the prompt, the answer."""
    p = example["prompt"]
    msgs = [{"role": "user", "content": p}] if isinstance(p, str) else list(p)
    if instruction and not any(m["role"] == "system" for m in msgs):
        msgs = [{"role": "system", "content": instruction}, *msgs]
    return [*msgs, {"role": "assistant", "content": example["completion"]}]


def answers_of(example: dict) -> list[str]:
    """The texts an example trains: its answer, and a conversation's earlier answers (train/turns.py)."""
    p = example["prompt"]
    earlier = [] if isinstance(p, str) else [str(p[i]["content"]) for i in earlier_answers(list(p))]
    return [*earlier, str(example["completion"])]


def token_lengths(plan: Plan, report: DataReport, home_models: Path | None):
    """Sorted token counts of every example rendered through the base model's chat template (cached), and the
    model's text (`ModelText`). The answers' counts are taken at the same time (`answer_lengths`)."""
    mt = model_text(plan.base_model.source, home_models)
    key = _key(plan, mt)
    if key not in report.cache:
        per_token = 1.5 if report.language in ("zh", "ja", "ko") else 3.5  # characters a token, where not counted
        texts = [mt.render(training_messages(plan.task.instruction, e)) for e in report.examples]
        totals = mt.count(texts, per_token)
        report.cache[key] = sorted(totals)
        answers = [answers_of(e) for e in report.examples]  # each answer's end-of-turn token is trained too
        counts = iter(mt.count([a for some in answers for a in some], per_token))
        report.cache[("answers", *key)] = [(n, sum(next(counts) + 1 for _ in some)) for n, some in zip(totals, answers)]
    return report.cache[key], mt


def answer_lengths(plan: Plan, report: DataReport, mt) -> list[tuple[int, int]]:
    """(tokens, of which answers) of every example, in the data's order (`token_lengths` counts them)."""
    return report.cache.get(("answers", *_key(plan, mt)), [])


def _key(plan: Plan, mt) -> tuple:
    """What the counts depend on: the tokenizer, its template and the instruction (the rows are the report's)."""
    return mt.name, mt.exact, mt.template, plan.task.instruction


def cut_at(ts, lengths: list[int], max_length: int, answers: list[tuple[int, int]] = ()) -> None:
    """The examples' counts at rows of `max_length` tokens: how many are cut, the mean example's tokens, each
    cut there (what a packed run trains on), and the mean tokens of its answers left (a row is cut at its end,
    so a long example loses its answer first)."""
    ts.truncated = sum(n > max_length for n in lengths)
    ts.mean = round(sum(min(n, max_length) for n in lengths) / len(lengths))
    if answers:
        ts.answers = round(sum(max(0, min(a, max_length - (n - a))) for n, a in answers) / len(answers))
