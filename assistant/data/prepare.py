"""Turn a plan's data into conversational prompt/completion examples and a train/validation split."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .inspect import DataReport, detect_format, to_examples
from .load import DataError, read_rows, sha256_file

if TYPE_CHECKING:  # the plan is read, never imported at run time: data/ stays below plan
    from ..plan import Plan


class DataChanged(DataError):
    """The plan's data file is not the one the plan was made from; the message says to plan again."""


def planned_data(plan: Plan, root: Path | None = None) -> Path:
    """The plan's data file (a relative path read from `root`, the worker's working directory), when it is there
    and is the file the plan was made from. Training or holding out rows from a file edited since would break
    the plan's sizing and the registry's fingerprint, and a held-out split of changed rows could hold rows
    the adapter trained on: raises DataError, saying so."""
    given = Path(plan.data.path or "")
    path = root / given if root is not None and not given.is_absolute() else given
    if not plan.data.path or not path.is_file():
        raise DataError(plan.data.path or "(no data file)", f"file not found ({path.absolute()})")
    if plan.data.sha256 and sha256_file(path) != plan.data.sha256:
        raise DataChanged(path, "the file has changed since the plan was made (its sha256 is not the plan's "
                              f"{plan.data.sha256[:12]}…): make the plan again, so that its settings fit the data "
                              "as it is now")
    return path


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


def input_key(messages: list[dict]) -> tuple:
    """What an example asks, for telling whether a model was trained on it: its turns before the answer, the
    system message left out (an instruction is not an input), spacing collapsed."""
    return tuple((m["role"], " ".join(str(m["content"]).split())) for m in messages if m["role"] != "system")


def seen_in(train: list[dict], rows: list[dict]) -> list[int]:
    """The indices of `rows` (training examples, or {"messages"} eval examples) whose input a training row has."""
    seen = {input_key(e["prompt"]) for e in train}
    return [i for i, r in enumerate(rows) if input_key(r["prompt"] if "prompt" in r else r["messages"]) in seen]


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


def held_out_split(examples: list[dict[str, Any]], data) -> tuple[list, list]:
    """(train, validation) as the plan's `data` (a DataSpec) says: its share, seed, strata and grouping."""
    return split_examples(examples, data.validation_fraction, data.split_seed, data.stratify, data.group_inputs)


def split_examples(examples: list[dict[str, Any]], fraction: float, seed: int, stratify: bool, group: bool = False):
    """(train, validation). Stratified by completion when asked, so every label is seen in both. With `group`,
    rows with the same input (`input_key`) go to the same side, whole: a held-out row never repeats a training
    input. Without it, row by row (the split of plans made before grouping, rebuilt exactly)."""
    if fraction <= 0 or len(examples) < 4:
        return examples, []
    if group:
        return _grouped_split(examples, fraction, seed, stratify)
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


def _grouped_split(examples: list[dict[str, Any]], fraction: float, seed: int, stratify: bool):
    """`split_examples` with rows of one input kept together: each stratum's groups in a seeded random order, a
    group held out while the stratum's share has room for all of it. Stratified, a stratum of two groups or more
    gives at least its smallest, so every label is seen on both sides where it can be."""
    rng = random.Random(seed)
    groups: dict[tuple, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(input_key(ex["prompt"]), []).append(i)
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for rows in groups.values():  # a group's stratum is its first row's answer
        strata[examples[rows[0]]["completion"][0]["content"] if stratify else ""].append(rows)
    val: set[int] = set()
    for stratum in strata.values():
        rng.shuffle(stratum)
        size = sum(map(len, stratum))
        room = max(1, round(size * fraction)) if stratify and size >= 2 else round(size * fraction)
        taken = 0
        for rows in stratum:
            if len(rows) <= room and len(stratum) > 1:
                val.update(rows)
                room -= len(rows)
                taken += 1
        if stratify and not taken and len(stratum) > 1:
            val.update(min(stratum, key=len))
    if not val:  # nothing fitted: the smallest group, when it leaves rows to train on
        smallest = min(groups.values(), key=len)
        val = set(smallest) if len(smallest) < len(examples) else set()
    train = [e for i, e in enumerate(examples) if i not in val]
    return train, [e for i, e in enumerate(examples) if i in val]
