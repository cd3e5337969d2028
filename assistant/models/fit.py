"""Making a plan fit in memory: the moves, and the one ladder they form.

Each move lowers the memory a run needs and, given a cause, records why in the plan's reasons (the planner
writes its own reasons once its search is over):

- `use_qlora`: the base in 4 bits instead of 16 (a GPU only) — the largest saving;
- `halve_batch`: half the rows per step, twice the accumulation — the same effective batch;
- `checkpoint`: recompute activations in the backward pass — most of their memory, a third more compute.

`LADDER` is their order for a run that failed for want of memory (`train.jobs.suggested_fix`): the biggest
saving first, one move per retry. The planner (`chat.planner`) uses the same moves to choose, among the
configurations that fit the estimate, the fastest (halving the batch before checkpointing, LoRA before QLoRA).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..plan import Plan


def use_qlora(plan: Plan, because: str | None = None) -> None:
    plan.lora.method = "qlora"
    if because:
        plan.reasons["lora.method"] = f"QLoRA: {because}"


def halve_batch(plan: Plan, because: str | None = None) -> None:
    t = plan.training
    t.batch_size //= 2
    t.gradient_accumulation *= 2
    if because:
        plan.reasons["training.batch_size"] = (f"{t.batch_size} × {t.gradient_accumulation} accumulation steps: the "
                                               f"same effective batch in less memory ({because})")


def checkpoint(plan: Plan, because: str | None = None) -> None:
    plan.training.gradient_checkpointing = True
    if because:
        plan.reasons["training.gradient_checkpointing"] = f"on: {because}"


@dataclass(frozen=True)
class Move:
    label: str
    """What the retry button says."""
    possible: Callable[[Plan], bool]
    apply: Callable[[Plan, str], None]


LADDER: tuple[Move, ...] = (
    Move("Switch to QLoRA and retry", lambda p: p.resources.device == "cuda" and p.lora.method == "lora", use_qlora),
    Move("Use batch {batch} × {accumulation} accumulation and retry", lambda p: p.training.batch_size > 1, halve_batch),
    Move("Turn on gradient checkpointing and retry", lambda p: not p.training.gradient_checkpointing, checkpoint),
)


def next_move(plan: Plan, because: str) -> str | None:
    """Apply the ladder's first possible move to `plan`; its label, or None when no move is left."""
    for move in LADDER:
        if move.possible(plan):
            move.apply(plan, because)
            t = plan.training
            return move.label.format(batch=t.batch_size, accumulation=t.gradient_accumulation)
    return None
