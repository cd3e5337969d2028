"""`tailor sweep`: try several settings of a plan and keep the one the held-out rows prefer.

    tailor sweep PLAN.json --grid lora.r=8,16,32 --grid training.learning_rate=1e-4,2e-4
    tailor sweep PLAN.json --random 6 --range training.learning_rate=1e-5:1e-3:log [--grid lora.r=8,16]
                           [--metric accuracy] [--halving] [--patience 2] [--seed 0] [--dry-run] [--no-wait]
    tailor sweep --list | --show ID | --cancel ID

A plan that already has a sweep (from the conversation, "try ranks 8, 16 and 32") runs as it is. Each trial is
an ordinary job in the queue (`tailor jobs` shows it; resume and cancel work on it); the winner is registered
under the plan's name. Registered as a built-in command, like a plugin's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .arguments import ROW_ID
from .config import Home
from .errors import TailorError
from .plugins import Command, hookimpl


class SweepArgumentError(TailorError, ValueError):
    """A --grid or --range that cannot be read; the message names it."""


def with_sweep(plan, args):
    """The plan with the sweep its command line describes (the plan's own sweep when none is given)."""
    from .sweeps import SweepSpec, parse_range, parse_values

    if not (args.grid or args.range or args.random):
        spec = plan.sweep
    else:
        values, ranges, log = {}, {}, []
        try:
            for item in args.grid or []:
                path, _, text = item.partition("=")
                values[path.strip()] = parse_values(path.strip(), text)
            for item in args.range or []:
                path, bounds, is_log = parse_range(item)
                ranges[path] = bounds
                log += [path] if is_log else []
        except ValueError as e:
            raise SweepArgumentError(str(e)) from None
        spec = SweepSpec(method="random" if args.random or ranges else "grid", values=values, ranges=ranges,
                         log_scale=log, trials=args.random or 0)
    spec.metric = args.metric or (spec.metric if spec.on and spec.metric != "eval_loss" else "eval_loss")
    spec.halving = args.halving or spec.halving
    spec.seed = args.seed if args.seed is not None else spec.seed
    plan.sweep = spec
    if args.patience is not None:
        plan.training.early_stopping_patience = args.patience
    return plan


def cmd_sweep(args) -> int:
    from .plan import Plan, PlanError
    from .registry import Registry
    from .train.sweep import cancel_sweep, submit_sweep, summary

    registry = Registry(Home.resolve(args.home))
    if args.list:
        for row in registry.sweeps():
            s = summary(registry, row["id"])
            print(f"{row['id']:>4}  {row['status']:<10} {s['describe']}  by {row['metric']}")
        return 0
    if args.show is not None:
        print(json.dumps(_need(summary(registry, args.show), args.show), indent=2))
        return 0
    if args.cancel is not None:
        _need(registry.sweep(args.cancel), args.cancel)
        print(cancel_sweep(registry, args.cancel))
        return 0
    if not args.plan:
        raise SweepArgumentError("give a PLAN.json, or --list, --show ID or --cancel ID")
    try:
        plan = Plan.from_json(Path(args.plan).read_text(encoding="utf-8"), accept_turn=True)
        with_sweep(plan, args).validate(require_ready=True)
    except (OSError, PlanError) as e:
        print(f"error: {args.plan}: {e}", file=sys.stderr)
        return 2
    if not plan.sweep.on:
        raise SweepArgumentError(f"{args.plan} has no sweep: add --grid FIELD=V1,V2 or --random N --range FIELD=LO:HI")
    if args.dry_run:
        from .chat.sweep_plan import estimate_sweep
        from .sweeps import trial_plans

        estimate_sweep(plan)
        for i, t in enumerate(trial_plans(plan), 1):
            print(f"trial {i}: " + ", ".join(f"{f} {_value(t, f):g}" for f in plan.sweep.varied()))
        print(f"{plan.sweep.describe()}; about {plan.sweep.estimated_minutes:.1f} min in all")
        return 0
    from .train.jobs import locate_data

    locate_data(plan, Path.cwd(), Path(args.plan).parent)
    sweep_id = submit_sweep(registry, plan)
    print(f"sweep {sweep_id}: {plan.sweep.describe()}, the winner by {plan.sweep.metric}")
    return 0 if args.no_wait else follow_sweep(registry, sweep_id)


def _value(plan, path: str) -> float:
    section, name = path.split(".")
    return getattr(getattr(plan, section), name)


def _need(found, sweep_id: int):
    if not found:
        raise SweepArgumentError(f"no sweep {sweep_id} (`tailor sweep --list` shows them)")
    return found


def follow_sweep(registry, sweep_id: int, check_every: float = 3.0) -> int:
    """Print each trial's end and the winner; every few seconds, settle dead workers and start the next trial."""
    from .train import jobs
    from .train.sweep import summary

    said: set[tuple[int, str]] = set()
    checked = 0.0
    while True:
        if time.time() - checked >= check_every:
            jobs.dispatch(registry.home, registry)
            checked = time.time()
        for t in registry.trials(sweep_id):
            if t.status != "queued" and (t.id, t.status) not in said:
                said.add((t.id, t.status))
                print(f"  trial {t.trial} (job {t.id}) {t.status}"
                      + (f": {t.error}" if t.error else f": {_scores(t.result)}" if t.result else ""))
        row = registry.sweep(sweep_id)
        if row["status"] in ("succeeded", "failed", "cancelled"):
            s = summary(registry, sweep_id)
            winner = next((r for r in s["trials"] if r["winner"]), None)
            if winner and row["adapter_id"]:
                a = registry.adapter_by_id(row["adapter_id"])
                print(f"sweep {sweep_id} {row['status']}: trial {winner['trial']} won ({s['metric']} "
                      f"{winner[s['metric']]:.4g}); registered {a.name} v{a.version}")
                return 0
            print(f"sweep {sweep_id} {row['status']}: no trial finished with a {s['metric']}", file=sys.stderr)
            return 1
        time.sleep(1)


def _scores(result: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in result.items() if k in ("eval_loss", "accuracy", "f1", "pruned")
                     or not isinstance(v, (int, float)))


def _sweep_arguments(p) -> None:
    p.add_argument("plan", nargs="?", help="PLAN.json: a plan, or the whole output of `tailor plan --json`")
    p.add_argument("--grid", action="append", metavar="FIELD=V1,V2", help="try each value (every combination)")
    p.add_argument("--random", type=int, metavar="N", help="N random trials drawn from --grid values and --range")
    p.add_argument("--range", action="append", metavar="FIELD=LOW:HIGH[:log]", help="random: draw from this range")
    p.add_argument("--metric", help="what picks the winner: eval_loss (default) or one of the plan's metrics")
    p.add_argument("--halving", action="store_true", help="stop trials behind the better half at each evaluation")
    p.add_argument("--patience", type=int, help="evaluations without improvement before a trial stops (default 2)")
    p.add_argument("--seed", type=int, help="seed of the random draws")
    p.add_argument("--dry-run", action="store_true", help="print the trials and the time estimate; run nothing")
    p.add_argument("--no-wait", action="store_true", help="return once queued")
    p.add_argument("--list", action="store_true", help="the sweeps, newest first")
    p.add_argument("--show", type=ROW_ID, metavar="ID", help="one sweep's trials, best first, as JSON")
    p.add_argument("--cancel", type=ROW_ID, metavar="ID",
                   help="cancel its unfinished trials; the finished best is kept")


@hookimpl
def register_commands():
    return [Command("sweep", "try several settings; the held-out results choose the adapter kept", cmd_sweep,
                    _sweep_arguments)]
