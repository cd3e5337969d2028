"""The plan's sweep from the conversation: what varies (listed values, or ranges for "search the learning rate"),
how many trials, what picks the winner, and what the whole of it costs — every trial estimated like a plan,
the largest of them held to the hardware's memory budget."""

from __future__ import annotations

from ..models.estimate import Hardware
from ..plan import Plan
from ..sweeps import DEFAULT_TRIALS, NAMES, SweepSpec, count, problems, trial_plans

SEARCH_RANGES = {"training.learning_rate": ([5e-5, 1e-3], True)}
"""Searched fields drawn from a range: learning rates log-uniformly over the range LoRA runs use."""
SEARCH_VALUES = {"lora.r": [8.0, 16.0, 32.0, 64.0], "training.epochs": [1.0, 2.0, 3.0, 5.0],
                 "training.batch_size": [4.0, 8.0, 16.0], "lora.dropout": [0.0, 0.05, 0.1]}
"""Searched fields drawn from the usual values."""
ZH_METRICS = {"accuracy": "准确率", "eval_loss": "验证集损失"}
LONG_MINUTES = 60.0
"""A sweep longer than this gets the offer of a smaller one."""


def plan_sweep(plan: Plan, s, hw: Hardware) -> None:
    """Fill `plan.sweep` from what the conversation asked (`s.sweep`), with its estimate and reasons."""
    said, why = s.sweep, plan.reasons
    values = {f: list(v) for f, v in said.get("values", {}).items()}
    ranges, log = {}, []
    for f in said.get("search", []):
        if f in SEARCH_RANGES:  # the range the person gave, else the usual one
            ranges[f], is_log = list(said.get("ranges", {}).get(f) or SEARCH_RANGES[f][0]), SEARCH_RANGES[f][1]
            log += [f] if is_log else []
        else:
            values[f] = list(SEARCH_VALUES[f])
    searched = bool(said.get("search"))
    spec = SweepSpec(method="random" if searched else "grid", values=values, ranges=ranges, log_scale=log,
                     halving=bool(said.get("halving")))
    if searched:
        spec.trials = said.get("trials") or DEFAULT_TRIALS
    spec.metric = said.get("metric") or (plan.evaluation.metrics[0] if plan.evaluation.metrics else "eval_loss")
    if spec.metric != "eval_loss" and spec.metric not in plan.evaluation.metrics:
        plan.evaluation.metrics.append(spec.metric)
    plan.sweep = spec
    if problems(plan):  # e.g. a rank out of bounds: said by the plan's problems, no estimate
        return
    estimate_sweep(plan, hw)
    n = count(spec)
    why["sweep"] = (
        (f"you asked to search {', '.join(NAMES[f] for f in said['search'])}: {n} random trials"
         + (", learning rates drawn log-uniformly from {:g} to {:g}".format(*ranges["training.learning_rate"])
            + (" as you said" if "training.learning_rate" in said.get("ranges", {}) else "")
            if "training.learning_rate" in ranges else "")
         if searched else f"you asked to try {spec.describe().split(': ', 1)[1]}")
        + f"; the winner has the best held-out {spec.metric}"
        + (" (the plan's first measure)" if not said.get("metric") and spec.metric != "eval_loss" else "")
        + "; each trial stops early after 2 evaluations without improvement"
        + ("; trials behind the better half of the earlier ones at an evaluation are stopped (successive halving)"
           if spec.halving else "; every trial runs to its end or its own early stop (say “stop trials that fall "
                                "behind” to prune)"))
    if n > 2 and spec.estimated_minutes > LONG_MINUTES:
        smaller = max(2, int(n * LONG_MINUTES / spec.estimated_minutes))
        why["sweep.estimated_minutes"] = (f"about {spec.estimated_minutes:.0f} min for {n} trials; say “only "
                                          f"{smaller} trials” for a sweep of about "
                                          f"{spec.estimated_minutes * smaller / n:.0f} min")


def sweep_note(plan: Plan, said: dict, zh: bool) -> str | None:
    """What a turn's words about a sweep come to where the plan cannot show them: a measure to judge by with no sweep
    to judge ("pick the winner by accuracy" alone), or a trial count of a grid (`grid_trials`)."""
    if said.get("metric") and plan.sweep.method == "none" and plan.data.rows:
        metric = said["metric"]
        return (f"还没有参数搜索：之后要搜索时（例如“秩试试 8 和 32”），按{ZH_METRICS.get(metric, ' ' + metric + ' ')}"
                f"选出最好的一组" if zh else
                f"there is no sweep yet: when you ask for one (“try ranks 8 and 32”), its winner is the trial with the "
                f"best held-out {metric}")
    return grid_trials(plan, said.get("trials"), zh)


def grid_trials(plan: Plan, trials: int | None, zh: bool) -> str | None:
    """What a trial count said of a grid sweep comes to: a grid runs each combination of its values once."""
    from .about import ASKABLE

    if not trials or plan.sweep.method != "grid" or trials == (n := count(plan.sweep)):
        return None
    names = [ASKABLE.get(f, ("", NAMES.get(f, f), NAMES.get(f, f))) for f in plan.sweep.values]
    if zh:
        return (f"网格把每个取值各试一次：{n} 组试验，不是 {trials} 组；要随机试 {trials} 组，"
                f"请说“用 {trials} 组试验搜索{'和'.join(name[2] for name in names)}”")
    return (f"a grid tries each of its values once: {n} trials, not {trials}; for {trials} random trials, say “search "
            f"the {' and the '.join(name[1] for name in names)} with {trials} trials”")


def estimate_sweep(plan: Plan, hw: Hardware | None = None) -> None:
    """Every trial's memory and time: the sweep's time is their sum (plus each trial's start and scoring), its
    peak the largest trial's; a sweep whose largest trial does not fit makes the plan not fit."""
    from .planner import plan_memory, plan_minutes

    res, spec = plan.resources, plan.sweep
    hw = hw or Hardware(res.gpu_name, res.gpu_memory_gb)
    peaks, minutes = [], []
    for trial in trial_plans(plan):
        e = plan_memory(trial)
        peaks.append(e.peak_gb)
        minutes.append(plan_minutes(trial, total_params=e.total_params) + TRIAL_OVERHEAD_MINUTES)
    spec.estimated_peak_gb = round(max(peaks), 2)
    spec.estimated_minutes = round(sum(minutes), 1)
    if res.device == "cuda" and spec.estimated_peak_gb > hw.budget_gb:
        res.fits = False
        res.estimated_peak_gb = spec.estimated_peak_gb
        plan.reasons["resources.estimated_peak_gb"] = (f"the sweep's largest trial needs about "
                                                       f"{spec.estimated_peak_gb:.1f} GB")


TRIAL_OVERHEAD_MINUTES = 0.5
"""Each trial's start (a new process loading the model) and its held-out scoring, on top of its training."""
