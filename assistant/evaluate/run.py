"""Batch evaluation: base and adapters answer the same held-out examples; metrics with paired intervals.

The eval set is an adapter's own held-out split (rebuilt exactly as its job split it: same plan, seed and
stratification) or an uploaded file read with the plan's mapping. Every model answers every example with
the same generation settings, in batches that mix models (one `generate` per batch). Each metric is
computed per example and for the corpus, and each adapter's difference from the base gets a paired
bootstrap 95% interval. The run is stored in the registry with the settings and the eval set's sha256.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data import DataError, chat_examples, planned_data
from ..data.prepare import held_out_split, seen_in
from ..errors import TailorError
from ..plan import Plan
from ..registry.db import Registry
from ..registry.records import Adapter
from ..registry.store import adapter_dir, read_plan, used_plugins
from ..serve.engine import Engine, GenerationSettings
from ..serve.shapes import Shape
from .metrics import corpus_score, paired_bootstrap, per_example, supported

MAX_EXAMPLES = 200
"""Held-out examples one evaluation in the page answers (every model answers each; more belongs in a batch job)."""


class EvalError(TailorError, ValueError):
    """The evaluation cannot run; the message says why."""


class EvalCancelled(EvalError):
    """The person stopped the evaluation; nothing was stored."""


@dataclass
class Progress:
    """How far an evaluation is: examples answered, examples per second and the time left, in words."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def advance(self, n: int) -> None:
        self.done += n

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    def words(self) -> str:
        left = self.seconds_left
        eta = "" if left is None or self.done >= self.total else f" · about {_duration(left)} left"
        return f"{self.done}/{self.total} examples · {self.rate:.2f} examples/s{eta}"


def _duration(seconds: float) -> str:
    s = max(1, round(seconds))
    return f"{s} s" if s < 90 else f"{round(s / 60)} min"


def even_calls(examples: int, most: int) -> int:
    """Examples a call takes so that `examples` need as few calls of at most `most` as can be, as even as can be:
    103 at most 102 a call are calls of 52 and 51 (on a GPU the smaller padded to 52), not of 102 and 1 (101
    padding rows)."""
    return -(-examples // -(-examples // most))


def _prompt_chars(example: dict) -> int:
    return sum(len(str(m.get("content", ""))) for m in example["messages"])


def _longest_prompt(examples: list[dict]) -> int:
    """A generous token count for the longest prompt (characters / 2, plus the chat template's own tokens)."""
    return max(_prompt_chars(e) for e in examples) // 2 + 32


def adapter_plan(registry: Registry, ref: str) -> tuple[Adapter, Plan]:
    from .. import plugins

    rec = registry.require_adapter(ref)
    plan = read_plan(adapter_dir(registry, rec))
    if not plan:
        raise EvalError(f"{rec.label} has no plan.json (imported?): upload an eval file instead")
    missing = plugins.get().missing(used_plugins(plan))
    if missing:
        raise EvalError(f"{rec.label} was planned with plugin {', '.join(missing)}, which is not installed here: "
                        "install it (pip) to evaluate this adapter")
    return rec, Plan.from_dict(plan)


def held_out(plan: Plan) -> list[dict]:
    """The validation split the job held out, as [{"messages", "reference"}]."""
    return _as_eval(_job_split(plan)[1])


def _as_eval(rows: list[dict]) -> list[dict]:
    return [{"messages": e["prompt"], "reference": e["completion"][0]["content"]} for e in rows]


def _job_split(plan: Plan) -> tuple[list[dict], list[dict]]:
    """(training rows, held-out rows) as the adapter's job split them, from its data file as it was then."""
    if not Path(plan.data.path or "").exists():
        raise EvalError(f"the training data {plan.data.path} is no longer on this machine: upload an eval file")
    try:
        planned_data(plan)
    except DataError:  # a split of changed rows could hold rows the adapter was trained on
        raise EvalError(f"the training data {plan.data.path} has changed since this adapter was trained, so its "
                        "held-out rows cannot be told apart from the rows it learned: upload an eval file") from None
    train, val = held_out_split(chat_examples(plan), plan.data)
    if not val:
        raise EvalError("this adapter's plan held out no rows (validation_fraction 0): upload an eval file")
    return train, val


def from_file(plan: Plan, path: str) -> list[dict]:
    """An uploaded eval file read like the plan's data (same format detection, same instruction)."""
    from ..data.inspect import inspect_file

    try:
        report = inspect_file(path, least=1)  # one example is an evaluation, if not a fine-tune
    except DataError as e:  # an eval file is scored, not learned from
        raise DataError(path, e.message.replace("there is nothing to learn", "there is nothing to score the answers "
                                                "against"), e.line) from None
    p = Plan.from_dict(plan.to_dict())
    p.data.path, p.data.format = str(path), report.format
    if report.format == "columns":
        # The plan's own mapping when the file has those columns; else the mapping detected in the file.
        columns = set(report.preview[0]) if report.preview else set()
        wanted = [*plan.data.input_columns, plan.data.output_column]
        if plan.data.input_columns and all(c in columns for c in wanted):
            p.data.input_columns, p.data.output_column = plan.data.input_columns, plan.data.output_column
        else:
            p.data.input_columns, p.data.output_column = report.input_columns, report.output_column
    return _as_eval(chat_examples(p))


def fingerprint(examples: list[dict]) -> str:
    return hashlib.sha256(json.dumps(examples, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def evaluate(engine: Engine, models: list[str | None], examples: list[dict], metrics: list[str],
             settings: GenerationSettings | None = None, rows_per_call: int | None = None,
             registry: Registry | None = None, progress=None, labels_task: bool = False, cancel=None) -> dict:
    """Answers, per-example scores, corpus metrics and paired intervals vs the base (the first model if none).

    Many examples go into one `generate`: every model answers each example of a call in its own row, and a
    call holds as many rows as the engine's memory allows (`Engine.rows_per_call`; on a CPU, where a decoding
    step reads every weight once for the whole batch, 40 rows answer about 3x faster than 5). Examples are
    ordered by prompt length, longest first: a call's rows need little padding, the call needing the most memory
    comes first, and every call asks the first's shape (`shapes.Shape`; the calls as even as their number allows,
    `even_calls`), so on a GPU the compiled decoding step is compiled once for the run. The answers come back in
    the set's order.
    `progress(Progress)` is called after each call; `cancel` (a threading.Event) set stops before the next
    call with `EvalCancelled`."""
    if not examples:
        raise EvalError("the eval set is empty")
    skipped = {m: _why_not(m) for m in metrics if not supported(m)}
    metrics = [m for m in metrics if supported(m)] or ["exact_match", "token_f1"]
    settings = settings or GenerationSettings(max_new_tokens=64)
    labels = ["base" if m is None else m for m in models]
    if len(set(labels)) != len(labels):
        raise EvalError("each model may be evaluated once per run")
    answers: dict[str, list[str]] = {lab: [""] * len(examples) for lab in labels}
    past: set[int] = set()  # examples whose prompt and answer passed the context in some model's row
    tokens = settings.max_new_tokens + _longest_prompt(examples)
    order = sorted(range(len(examples)), key=lambda i: _prompt_chars(examples[i]), reverse=True)
    cache = 0  # the static cache the run's calls have needed: its first call's, whose prompts are longest
    per_call = None  # examples a call: the run's, from its first call's room (again if the engine moved)
    clock = Progress(total=len(examples))
    start = 0
    while start < len(order):
        if cancel is not None and cancel.is_set():
            raise EvalCancelled(f"evaluation cancelled after {clock.done} of {clock.total} examples; nothing was "
                                "stored")
        # Sized before each call where the engine will serve it: a training job starting or ending meanwhile
        # moves the engine between the GPU and the CPU, whose calls hold very different numbers of rows.
        rows = rows_per_call if rows_per_call is not None else engine.rows_per_call(tokens, place=True)
        most = max(1, rows // len(models))
        if per_call is None or most < per_call or most > 2 * per_call:  # kept while it fits (one shape) and the
            per_call = even_calls(len(order) - start, most)  # room has not doubled (a move to the GPU)
        chunk = order[start:start + per_call]
        start += len(chunk)
        out = engine.generate([(m, examples[i]["messages"]) for i in chunk for m in models], settings,
                              shape=Shape(per_call * len(models), cache))
        cache = max(cache, max(a.prompt_tokens for a in out) + settings.max_new_tokens)
        for j, a in enumerate(out):
            answers[labels[j % len(models)]][chunk[j // len(models)]] = a.text
            if a.past(engine.context):
                past.add(chunk[j // len(models)])
        clock.advance(len(chunk))
        if progress:
            progress(clock)
    refs = [ex["reference"] for ex in examples]
    results: dict[str, Any] = {}
    for lab in labels:
        per = {m: scores for m in metrics if (scores := per_example(m, answers[lab], refs)) is not None}
        results[lab] = {"metrics": {m: corpus_score(m, answers[lab], refs, per.get(m)) for m in metrics},
                        "per_example": per}
    baseline = "base" if "base" in labels else labels[0]
    for lab in labels:
        if lab != baseline:
            results[lab]["vs_" + baseline] = {m: paired_bootstrap(m, answers[lab], answers[baseline], refs)
                                              for m in metrics}
    run = {
        "models": labels, "baseline": baseline, "metrics": metrics, "eval_sha256": fingerprint(examples),
        "examples": [{"prompt": ex["messages"][-1]["content"], "reference": r,
                      **{lab: answers[lab][i] for lab in labels}} for i, (ex, r) in enumerate(zip(examples, refs))],
        "results": results, "settings": asdict(settings), "skipped": skipped,
    }
    if past:  # answered, and said
        run["past_context"] = {"context": engine.context, "examples": sorted(past)}
    if labels_task:  # what always answering the most frequent label of these rows scores
        majority = Counter(refs).most_common(1)[0][0]
        run["majority"] = {"label": majority, **{m: corpus_score(m, [majority] * len(refs), refs) for m in metrics}}
    if registry is not None:
        run["id"] = registry.add_eval_run(run["eval_sha256"], run["settings"], {
            "models": labels, "baseline": baseline, "results": results, "examples": run["examples"]})
    return run


def past_context_words(run: dict) -> str | None:
    """What to tell a person about examples longer than the model's context, or None when there were none."""
    past = run.get("past_context")
    if not past:
        return None
    rows = ", ".join(str(i + 1) for i in past["examples"][:8]) + (", …" if len(past["examples"]) > 8 else "")
    return (f"{len(past['examples'])} of {len(run['examples'])} examples (row {rows}) need more tokens than the "
            f"model's context of {past['context']:,}: their answers were read past the positions it learned, so "
            "their scores mean little; shorten those examples or leave them out")


def trained_on(registry: Registry, labels: list[str], examples: list[dict],
               known: dict[str, list[dict]] | None = None) -> dict[str, list[int]]:
    """For each adapter trained here, the examples whose input (the turns before the answer) it was trained on: its
    plan's training rows rebuilt as its job split them, where its data file is still here and unchanged. An eval file
    cut from the training data, another adapter's training data, or a row repeated in the data (one copy on
    each side of the split) all flatter a score; said, not hidden. `known`: training rows already rebuilt, by label
    (the file is not read and hashed again)."""
    out = {}
    for label in labels:
        if (train := (known or {}).get(label)) is not None:
            if hits := seen_in(train, examples):
                out[label] = hits
            continue
        try:
            record, plan = adapter_plan(registry, label)
            if record.origin == "imported":  # its plan names a file of the archive author's choosing: not read
                continue
            planned_data(plan)
            train, _ = held_out_split(chat_examples(plan), plan.data)
        except Exception:  # noqa: BLE001 - no plan, its data gone, changed or unreadable: nothing to compare with
            continue
        if hits := seen_in(train, examples):
            out[label] = hits
    return out


def eval_notes(run: dict) -> list[tuple[str, str]]:
    """What a person must know to read the run's scores, as (what, words): examples past the context, examples an
    adapter was trained on."""
    notes = [("past the context", past)] if (past := past_context_words(run)) else []
    for label, rows in (run.get("trained_on") or {}).items():
        shown = ", ".join(str(i + 1) for i in rows[:8]) + (", …" if len(rows) > 8 else "")
        notes.append((f"trained on by {label}",
                      f"{len(rows)} of {len(run['examples'])} examples (row {shown}) are inputs {label} was trained "
                      "on, so its scores on them flatter it: evaluate on rows it has not seen (or remove the rows "
                      "its data repeats)"))
    return notes


def evaluate_adapters(engine: Engine, registry: Registry, adapters: list[str], *, data: str | None = None,
                      limit: int = MAX_EXAMPLES, max_new_tokens: int = 64, progress=None, cancel=None) -> dict:
    """The base model and `adapters` (labels) on the first adapter's held-out rows, or on a file read with its
    mapping: its plan's metrics, paired intervals vs the base and, for a label task, the majority baseline.
    Scores on its own held-out rows are stored on that adapter. What the CLI, the page and the MCP tool run."""
    from .. import plugins

    if not adapters:
        raise EvalError("name at least one adapter to evaluate against the base model")
    record, plan = adapter_plan(registry, adapters[0])
    if not data and record.origin == "imported":  # its plan.json's data path is the archive author's words
        raise EvalError(f"{record.label} was imported: its plan's data file is not one this machine trained it on; "
                        "upload an eval file")
    if data:
        examples, known = from_file(plan, data)[:max(1, limit)], {}
    else:  # the split is rebuilt once: its training rows serve the trained-on check too
        train, val = _job_split(plan)
        examples, known = _as_eval(val)[:max(1, limit)], {adapters[0]: train}
    seen = trained_on(registry, adapters, examples, known)  # before the answers: a check never costs them
    run = evaluate(engine, [None, *adapters], examples, plan.evaluation.metrics,
                   GenerationSettings(max_new_tokens=max_new_tokens), registry=registry, progress=progress,
                   cancel=cancel, labels_task=plugins.get().answers_are_labels(plan.task.type))
    if seen:
        run["trained_on"] = seen
    if not data:  # its own held-out rows: the scores become the adapter's (sortable in the registry)
        record_scores(registry, record, run)
    return run


def confusion(run: dict, model: str) -> dict | None:
    """For a label task: how often each reference label got each answer from `model` — {"labels": the labels in
    the references (answers outside them counted as "other"), "counts": {reference: {answer: n}}}; else None."""
    from .metrics import _norm

    if not run.get("majority") or model not in run.get("models", []):
        return None
    labels = sorted({ex["reference"] for ex in run["examples"]})
    by_norm = {_norm(label): label for label in labels}
    counts: dict[str, dict[str, int]] = {label: {} for label in labels}
    for ex in run["examples"]:
        answer = by_norm.get(_norm(ex[model]), "other")
        counts[ex["reference"]][answer] = counts[ex["reference"]].get(answer, 0) + 1
    return {"labels": labels, "counts": counts}


def score_by_model(run: dict) -> list[dict]:
    """The first metric's score for each model (and the majority baseline, for a label task), for a bar chart."""
    metric = run["metrics"][0]
    rows = [{"model": m, "score": run["results"][m]["metrics"][metric], "metric": metric} for m in run["models"]]
    if majority := run.get("majority"):
        rows.append({"model": f"always “{majority['label']}”", "score": majority[metric], "metric": metric})
    return rows


def record_scores(registry: Registry, record: Adapter, run: dict) -> Adapter:
    """Store an evaluation's corpus scores among the adapter's metrics (only for the adapter whose held-out
    split was evaluated, so a score in the registry always means "on its own held-out rows")."""
    scores = run["results"].get(record.label, {}).get("metrics")
    if not scores:
        return record
    merged = {**record.metrics, **{m: round(float(v), 4) for m, v in scores.items()},
              "eval_examples": len(run["examples"])}
    return registry.update_adapter(record.id, metrics=merged)


def _why_not(name: str) -> str:
    from .. import plugins

    m = plugins.get().metrics.get(name)
    if m is None:
        return "no installed plugin registers this metric (`tailor plugins list`)"
    return "measured from the held-out loss when training ends (the adapter's metrics show it), not from answers"


def disagreements(run: dict, model: str, metric: str, only: str = "all") -> list[dict]:
    """Examples where `model` and the baseline score differently on `metric`; `only` = wins | losses | all."""
    base = run["baseline"]
    if metric not in run["results"][model]["per_example"]:
        scored = ", ".join(run["results"][model]["per_example"])
        raise EvalError(f"{metric} has no per-example score; choose one of {scored}")
    mine, theirs = run["results"][model]["per_example"][metric], run["results"][base]["per_example"][metric]
    out = []
    for ex, a, b in zip(run["examples"], mine, theirs):
        if a == b or (only == "wins" and a < b) or (only == "losses" and a > b):
            continue
        out.append({"prompt": ex["prompt"], "reference": ex["reference"], model: ex[model], base: ex[base],
                    "result": "win" if a > b else "loss", metric: a, f"{metric} ({base})": b})
    return out


__all__ = ["EvalCancelled", "EvalError", "DataError", "Progress", "adapter_plan",
           "disagreements", "evaluate", "from_file", "held_out", "past_context_words"]
