"""Sweeps: several trials of one plan, each with other settings, and held-out results choosing the adapter kept.

The part of a plan that says what to try (`SweepSpec`), which fields may vary (`SWEEPABLE`), the trials a spec
makes (a grid's every combination, or a seeded random sample with rates drawn log-uniformly), and each trial's
own plan. Pure: no database, no torch. Running the trials as ordinary jobs is `train/sweep.py`'s.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

SWEEPABLE: dict[str, tuple[str | None, type]] = {
    "lora.r": ("r", int),
    "lora.alpha": ("alpha", int),
    "lora.dropout": ("dropout", float),
    "training.learning_rate": ("learning_rate", float),
    "training.epochs": ("epochs", float),
    "training.batch_size": ("batch_size", int),
    "training.warmup_ratio": ("warmup_ratio", float),
    "training.max_length": ("max_length", int),
    "training.max_steps": ("max_steps", int),
}
"""The fields a sweep may vary → (the `adjustable` setting that bounds it, if any; its type)."""
NAMES = {"lora.r": "rank", "lora.alpha": "alpha", "lora.dropout": "dropout", "training.learning_rate": "learning rate",
         "training.epochs": "epochs", "training.batch_size": "batch size", "training.warmup_ratio": "warm-up",
         "training.max_length": "max length", "training.max_steps": "max steps"}
METHODS = ("none", "grid", "random")
MAX_TRIALS = 64
"""At most this many trials in one sweep."""
DEFAULT_TRIALS = 4
"""Trials of a random search when the user names no count."""
DEFAULT_PATIENCE = 2
"""Evaluations without improvement before a trial stops early, when the plan has none."""
EVALUATIONS = 4
"""Evaluations per trial, so that early stopping and halving have points to compare."""
LOSSES = ("eval_loss",)
"""Winner metrics measured during training (lower is better)."""


@dataclass
class SweepSpec:
    """What a sweep tries, how it picks the winner, and what the whole of it costs."""

    method: str = "none"
    """`none` (one run), `grid` (every combination of `values`) or `random` (`trials` draws from `values`/`ranges`)."""
    values: dict[str, list[float]] = field(default_factory=dict)
    """Field path (one of `SWEEPABLE`) → the values tried, in order."""
    ranges: dict[str, list[float]] = field(default_factory=dict)
    """`random`: field path → [low, high], drawn uniformly (log-uniformly for fields in `log_scale`)."""
    log_scale: list[str] = field(default_factory=list)
    """Fields of `ranges` drawn log-uniformly (learning rates)."""
    trials: int = 0
    """`random`: how many trials; `grid`: the number of combinations (filled in)."""
    metric: str = "eval_loss"
    """What picks the winner: `eval_loss` or one of the plan's evaluation metrics, on the held-out split."""
    halving: bool = False
    """Stop a trial at an evaluation where it is behind the better half of the trials before it (asynchronous
    successive halving); otherwise each trial runs to its end or its own early stop."""
    seed: int = 0
    """Seed of the random draws."""
    estimated_minutes: float = 0.0
    """All trials together."""
    estimated_peak_gb: float = 0.0
    """The largest trial's peak memory (every trial must fit)."""

    @property
    def on(self) -> bool:
        return self.method != "none"

    def varied(self) -> list[str]:
        return [*self.values, *(f for f in self.ranges if f not in self.values)]

    def describe(self) -> str:
        """One line: what varies and how many trials, e.g. "grid: rank 8, 16, 32 → 3 trials"."""
        parts = [f"{NAMES.get(f, f)} {', '.join(_shown(v) for v in vals)}" for f, vals in self.values.items()]
        parts += [f"{NAMES.get(f, f)} {_shown(lo)}–{_shown(hi)}" + (" (log)" if f in self.log_scale else "")
                  for f, (lo, hi) in self.ranges.items()]
        return f"{self.method}: {'; '.join(parts)} → {count(self)} trials"


def _shown(v: float) -> str:
    return f"{v:g}"


def count(spec: SweepSpec) -> int:
    if spec.method == "grid":
        return math.prod(len(v) for v in spec.values.values()) if spec.values else 0
    return spec.trials if spec.method == "random" else 1


def problems(plan) -> list[str]:
    """What is wrong with a plan's sweep, each naming its field."""
    from .adjustable import SETTINGS

    s, p = plan.sweep, []
    if s.method not in METHODS:
        return [f"sweep.method: {s.method!r} is not one of {', '.join(METHODS)}"]
    if not s.on:
        return []
    for f in s.varied():
        if f not in SWEEPABLE:
            p.append(f"sweep: {f!r} cannot be varied; these can: {', '.join(SWEEPABLE)}")
    for f, vals in s.values.items():
        if f not in SWEEPABLE:
            continue
        if not vals:
            p.append(f"sweep.values.{f}: give at least one value")
        setting = SETTINGS.get(SWEEPABLE[f][0] or "")
        if len(set(vals)) < len(vals):
            twice = sorted({v for v in vals if vals.count(v) > 1})
            p.append(f"sweep.values.{f}: {', '.join(f'{v:g}' for v in twice)} listed more than once (each would "
                     "train the same trial again)")
        for v in vals:
            if SWEEPABLE[f][1] is int and not float(v).is_integer():
                p.append(f"sweep.values.{f}: {v:g} must be a whole number")
            elif setting is not None and not _fits(setting, v):
                p.append(f"sweep.values.{f}: {v:g} must be {setting.bounds}")
            elif setting is None and (v < 0 or (f == "lora.dropout" and v >= 1)):
                p.append(f"sweep.values.{f}: {v:g} is out of range")
    if s.method == "grid" and s.ranges:
        p.append("sweep.ranges: a grid tries listed values; ranges need `random`")
    for f, rng in s.ranges.items():
        setting = SETTINGS.get(SWEEPABLE.get(f, (None,))[0] or "")
        if len(rng) != 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in rng):
            p.append(f"sweep.ranges.{f}: give [low, high], two finite numbers")
        elif rng[0] >= rng[1]:
            p.append(f"sweep.ranges.{f}: give [low, high] with low < high")
        elif f in s.log_scale and rng[0] <= 0:
            p.append(f"sweep.ranges.{f}: a log-scale range must be above 0")
        elif setting is not None and not all(_fits(setting, round(x) if SWEEPABLE[f][1] is int else x) for x in rng):
            p.append(f"sweep.ranges.{f}: {rng[0]:g} to {rng[1]:g} goes outside what it may be ({setting.bounds}); "
                     "every drawn value must be allowed")
    for f in s.log_scale:
        if f not in s.ranges:
            p.append(f"sweep.log_scale: {f!r} has no range")
    n = count(s)
    if not s.varied():
        p.append("sweep: name at least one field to vary")
    elif n < 2:
        p.append(f"sweep.trials: a sweep needs at least 2 trials, this one has {n}")
    elif n > MAX_TRIALS:
        p.append(f"sweep.trials: {n} trials is more than {MAX_TRIALS}; list fewer values")
    if s.metric not in (*LOSSES, *plan.evaluation.metrics):
        p.append(f"sweep.metric: {s.metric!r} is not eval_loss nor one of the plan's evaluation metrics "
                 f"({', '.join(plan.evaluation.metrics) or 'none'})")
    if not plan.data.validation_fraction:
        p.append("sweep: the trials are compared on held-out rows; data.validation_fraction is 0")
    return p


def _fits(setting, value: float) -> bool:
    try:
        setting.check(int(value) if setting.kind is int else float(value))
        return True
    except ValueError:
        return False


def trial_settings(spec: SweepSpec) -> list[dict[str, float]]:
    """The settings of each trial, in order: field path → value."""
    if spec.method == "grid":
        fields = list(spec.values)
        return [dict(zip(fields, combo)) for combo in itertools.product(*(spec.values[f] for f in fields))]
    if spec.method != "random":
        return []
    rng = random.Random(spec.seed)
    out: list[dict[str, float]] = []
    for _ in range(spec.trials):
        trial = {f: rng.choice(vals) for f, vals in spec.values.items()}
        for f, (lo, hi) in spec.ranges.items():
            x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if f in spec.log_scale else rng.uniform(lo, hi)
            trial[f] = round(x) if SWEEPABLE.get(f, (None, float))[1] is int else float(f"{x:.3g}")
        out.append(trial)
    return out


def apply_settings(plan, settings: dict[str, float], number: int, of: int):
    """The plan of one trial: a copy with the trial's settings and no sweep. Alpha follows a varied rank, keeping
    the plan's alpha / rank (the scale of the LoRA update: 2 by default, whatever the user set otherwise), unless
    alpha is varied too; a varied max_length recounts the examples' tokens at it (`TokenStats.recount`, what a
    packed trial's steps and time come from); each varied field's reason says it is the trial's. Each trial
    evaluates a few times for the halving and early stopping (`evaluate_often`), unless the person set the steps
    between evaluations or checkpoints: those are kept."""
    trial = copy.deepcopy(plan)
    trial.sweep = SweepSpec()
    for path, value in settings.items():
        section, name = path.split(".")
        typed: Any = int(value) if SWEEPABLE[path][1] is int else float(value)
        setattr(getattr(trial, section), name, typed)
        trial.reasons[path] = f"sweep trial {number} of {of}: {NAMES.get(path, path)} {typed:g}"
    if "training.max_length" in settings:  # its examples, counted at its rows
        trial.data.tokens.recount(trial.training.max_length, trial.data.used_rows)
    if "lora.r" in settings and "lora.alpha" not in settings:
        trial.lora.alpha = max(1, round(plan.lora.alpha / plan.lora.r * trial.lora.r))
        trial.reasons["lora.alpha"] = (f"sweep trial {number} of {of}: {trial.lora.alpha:g}, the plan's alpha / rank "
                                       f"({plan.lora.alpha / plan.lora.r:g}) times the trial's rank")
    evaluate_often(trial, trials=True)
    for path in ("training.eval_steps", "training.save_steps"):  # "evaluate every 7 steps": the person's schedule
        if plan.reasons.get(path, "").startswith("you asked for it"):  # in every trial, not the trials' own
            setattr(trial.training, path.split(".")[1], getattr(plan.training, path.split(".")[1]))
            trial.reasons[path] = plan.reasons[path]
    return trial


def steps_over(rows: int, t, processes: int = 1) -> int:
    """Optimizer steps of a run over `rows` training rows with training settings `t`: its step limit, or its
    epochs over the rows in batches of batch size × accumulation × processes."""
    per_epoch = math.ceil(rows / (t.batch_size * t.gradient_accumulation * processes))
    return max(1, t.max_steps if t.max_steps > 0 else math.ceil(per_epoch * t.epochs))


def evaluation_steps(steps: int) -> int:
    """Steps between evaluations for about `EVALUATIONS` of them in a run of `steps`."""
    return max(1, steps // EVALUATIONS)


def optimizer_steps(plan) -> int:
    """How many optimizer steps the plan's run takes, estimated before the data is tokenized. A packed run's rows
    are the packed ones: about the training tokens (the mean example's, each cut at the row length) over the row
    length; the worker corrects its evaluation steps to the packed data it gets."""
    t, d = plan.training, plan.data
    train_rows = max(1, int(d.used_rows * (1 - d.validation_fraction)))
    if t.packing and d.tokens.median:
        train_rows = max(1, math.ceil(train_rows * d.tokens.packed(t.max_length) / max(1, t.max_length)))
    return steps_over(train_rows, t)


def evaluate_often(plan, trials: bool = False) -> None:
    """Evaluate a few times per run (early stopping and a sweep's halving compare evaluations), checkpointing with
    them (the best evaluation's checkpoint is the adapter kept)."""
    t = plan.training
    t.eval_steps = evaluation_steps(optimizer_steps(plan))
    t.save_steps = t.eval_steps
    if t.early_stopping_patience <= 0:
        t.early_stopping_patience = DEFAULT_PATIENCE
    plan.reasons["training.eval_steps"] = (f"every {t.eval_steps} steps: about {EVALUATIONS} evaluations, for early "
                                           "stopping" + (" and comparing trials" if trials else ""))


def trial_plans(plan) -> list:
    """Every trial's plan, in order."""
    settings = trial_settings(plan.sweep)
    return [apply_settings(plan, s, i + 1, len(settings)) for i, s in enumerate(settings)]


def higher_is_better(metric: str) -> bool:
    from . import plugins

    return plugins.get().higher_is_better(metric)


def parse_values(field_path: str, text: str) -> list[float]:
    """`8,16,32` → [8.0, 16.0, 32.0] for `--grid lora.r=8,16,32`; ValueError naming what is wrong."""
    try:  # a value listed twice is one trial, as in the chat
        return list(dict.fromkeys(float(x) for x in text.split(",") if x.strip()))
    except ValueError:
        raise ValueError(f"{field_path}: {text!r} is not a comma-separated list of numbers") from None


def parse_range(text: str) -> tuple[str, list[float], bool]:
    """`training.learning_rate=1e-5:1e-3:log` → (field, [low, high], log)."""
    path, _, rest = text.partition("=")
    bits = rest.split(":")
    if not path or len(bits) not in (2, 3) or (len(bits) == 3 and bits[2] not in ("log", "linear")):
        raise ValueError(f"{text!r}: write FIELD=LOW:HIGH or FIELD=LOW:HIGH:log")
    try:
        low, high = float(bits[0]), float(bits[1])
    except ValueError:
        raise ValueError(f"{text!r}: LOW and HIGH must be numbers") from None
    return path.strip(), [low, high], len(bits) == 3 and bits[2] == "log"
