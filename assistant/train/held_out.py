"""The plan's own metrics, measured on the held-out rows as soon as training ends — with baselines.

A loss of 0.12 says little; "accuracy 0.52 where always answering 正面 scores 0.50" says the adapter learned
nothing. So the finished model (still in memory) answers the held-out rows, greedily and in batches, the
plan's answer metrics are computed, and for a task whose answers are labels the majority-class baseline
(always the most frequent training label) is scored beside it. An adapter that does not beat it is
marked: the verdict goes into the job's log, the adapter's metrics and tags, its page and its card.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

MAX_SCORED = 200
"""Held-out rows answered when a job ends (the first ones of the split; the rest cost time, not insight)."""
BELOW_BASELINE = "below-baseline"
"""The tag of an adapter that does not beat always answering the most frequent label."""


def answer_rows(model: Any, tokenizer: Any, rows: list[dict], max_new_tokens: int, batch_size: int = 16,
                progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Greedy answers of `model` to each row's prompt messages, left-padded batches, special tokens dropped."""
    import torch

    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()
    out: list[str] = []
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
                     for r in chunk]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                     pad_token_id=pad)
            new = ids[:, enc["input_ids"].shape[1]:]
            out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
            if progress:
                progress(len(out), len(rows))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def reference(row: dict) -> str:
    return row["completion"][0]["content"]


def answer_budget(tokenizer: Any, refs: list[str]) -> int:
    """New tokens to allow: the longest reference plus a margin, between 8 and 256."""
    longest = max((len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in refs), default=8)
    return max(8, min(256, longest + 8))


def score(plan: Any, answers: list[str], refs: list[str], train_refs: list[str]) -> tuple[dict[str, Any], str | None]:
    """The plan's answer metrics and, for a label task, two baselines: always answering the most frequent
    training label (`baseline_*`), and guessing labels at random in the training proportions (`chance_*`,
    the mean of 50 draws). The verdict says when the adapter is clearly better than neither: for no metric
    does the 95% paired interval of its difference lie above zero against both."""
    import random

    from .. import plugins
    from ..evaluate.metrics import corpus_score, paired_bootstrap, supported

    metrics = [m for m in plan.evaluation.metrics if supported(m)]
    out: dict[str, Any] = {m: round(corpus_score(m, answers, refs), 4) for m in metrics}
    out["held_out_scored"] = len(refs)
    if not plugins.get().answers_are_labels(plan.task.type) or not train_refs or not metrics:
        return out, None
    majority = Counter(train_refs).most_common(1)[0][0]
    always = [majority] * len(refs)
    rng = random.Random(0)
    draws = [[rng.choice(train_refs) for _ in refs] for _ in range(50)]
    clearly_better = False
    for m in metrics:
        out[f"baseline_{m}"] = round(corpus_score(m, always, refs), 4)
        out[f"chance_{m}"] = round(sum(corpus_score(m, d, refs) for d in draws) / len(draws), 4)
        versus = [paired_bootstrap(m, answers, other, refs, samples=500) for other in (always, draws[0])]
        clearly_better |= all(ci["low"] > 0 for ci in versus)
    out["baseline_label"] = majority
    if clearly_better:
        return out, None
    shown = ", ".join(f"{m} {out[m]:.2f} vs {out[f'baseline_{m}']:.2f} always “{majority}”, "
                      f"{out[f'chance_{m}']:.2f} guessing" for m in metrics)
    return out, (f"not clearly better than always answering “{majority}” or guessing ({shown}; {len(refs)} "
                 "held-out rows, 95% paired intervals); try more epochs, more (or more balanced) data, or a larger "
                 "base model — one strong in the data's language")
