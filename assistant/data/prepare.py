"""Turn a plan's data into conversational prompt/completion examples and a train/validation split."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .inspect import DataReport, detect_format, to_examples
from .load import read_rows

if TYPE_CHECKING:  # the plan is read, never imported at run time: data/ stays below plan
    from ..plan import Plan


def chat_examples(plan: Plan) -> list[dict[str, Any]]:
    """Every usable row of the plan's data as {"prompt": [messages], "completion": [assistant message]}.

    The plan's instruction becomes the system message, so the model learns the task as it will be used.
    """
    rows = read_rows(plan.data.path)
    report = DataReport(path=plan.data.path, sha256="", format=plan.data.format or detect_format(rows), rows=len(rows),
                        input_columns=list(plan.data.input_columns), output_column=plan.data.output_column)
    out = []
    for ex in to_examples(rows, report):
        prompt = ex["prompt"]
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if not ex["completion"] or not any(m["content"] for m in messages):
            continue
        if plan.task.instruction and not any(m["role"] == "system" for m in messages):
            messages = [{"role": "system", "content": plan.task.instruction}, *messages]
        out.append({"prompt": messages, "completion": [{"role": "assistant", "content": ex["completion"]}]})
    if plan.data.max_rows and len(out) > plan.data.max_rows:
        out = sample_examples(out, plan.data.max_rows, plan.data.split_seed, plan.data.stratify)
    return out


def sample_examples(examples: list[dict[str, Any]], n: int, seed: int, stratify: bool) -> list[dict[str, Any]]:
    """`n` of the examples at random (the same ones for the same seed), in file order; stratified by answer
    when asked, so each label keeps its share (every label at least once while `n` allows)."""
    rng = random.Random(seed)
    if not stratify:
        return [examples[i] for i in sorted(rng.sample(range(len(examples)), n))]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex["completion"][0]["content"]].append(i)
    quota = {k: max(1, round(n * len(v) / len(examples))) for k, v in groups.items()}
    while sum(quota.values()) > n:  # rounding up gave too many: take from the largest
        quota[max(quota, key=lambda k: quota[k])] -= 1
    while sum(quota.values()) < n:  # too few: give to the label with the most left over
        quota[max(groups, key=lambda k: len(groups[k]) - quota[k])] += 1
    chosen = [i for k, idx in groups.items() for i in rng.sample(idx, min(quota[k], len(idx)))]
    return [examples[i] for i in sorted(chosen)]


def split_examples(examples: list[dict[str, Any]], fraction: float, seed: int, stratify: bool):
    """(train, validation). Stratified by completion when asked, so every label is seen in both."""
    if fraction <= 0 or len(examples) < 4:
        return examples, []
    rng = random.Random(seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex["completion"][0]["content"] if stratify else ""].append(i)
    val: set[int] = set()
    for idx in groups.values():
        rng.shuffle(idx)
        n = round(len(idx) * fraction)
        if stratify and len(idx) >= 2:
            n = max(1, n)
        val.update(idx[:n])
    if not val:
        val = {rng.randrange(len(examples))}
    train = [e for i, e in enumerate(examples) if i not in val]
    return train, [e for i, e in enumerate(examples) if i in val]
