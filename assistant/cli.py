"""The `tailor` command: a thin layer over the library. One function per command, one table of commands.

    tailor serve [--host 127.0.0.1] [--port 7860]        the web app
    tailor plan --json [--data FILE] [--gpu-memory GB] MESSAGE...
    tailor train PLAN.json [--no-wait]                    queue a plan and follow it to its adapter
    tailor jobs list | show ID | cancel ID | resume ID
    tailor adapters list | show NAME | export NAME [--out FILE]

Every command takes `--home DIR` (default: $TAILOR_HOME, else the working directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import Home


def cmd_plan(args) -> int:
    from .chat import converse
    from .chat.llm import understander_for
    from .data import DataError
    from .models.resolve import detect_gpu

    home = Home.resolve(args.home)
    if args.gpu_memory is not None:
        gpu_name, gpu_gb = ("GPU" if args.gpu_memory > 0 else ""), args.gpu_memory
    else:
        gpu_name, gpu_gb = detect_gpu()
    try:
        settings = home.load_settings()
        turn = converse(args.message, args.data, gpu_gb, gpu_name, settings.default_base_model,
                        home_models=home.models, understander=understander_for(settings))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(turn.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(turn.reply)
    return 0


def cmd_train(args) -> int:
    from .plan import Plan, PlanError
    from .registry import Registry
    from .train import jobs

    home = Home.resolve(args.home)
    try:
        plan = Plan.from_json(Path(args.plan).read_text(encoding="utf-8"))
        plan.validate(require_ready=True)
    except (OSError, PlanError) as e:
        print(f"error: {args.plan}: {e}", file=sys.stderr)
        return 2
    registry = Registry(home)
    job_id = jobs.submit(registry, plan)
    print(f"job {job_id} queued")
    return 0 if args.no_wait else follow(registry, job_id)


def follow(registry, job_id: int) -> int:
    """Print a job's progress until it ends."""
    seen_logs, last_step = 0, -1
    while True:
        job = registry.job(job_id)
        logs = registry.logs(job_id, tail=1000)
        for line in logs[seen_logs:]:
            print(f"  {line}")
        seen_logs = len(logs)
        if job["step"] != last_step and job["total_steps"]:
            last_step = job["step"]
            m = registry.metrics(job_id)
            loss = next((r["loss"] for r in reversed(m) if r["loss"] is not None), None)
            print(f"  step {job['step']}/{job['total_steps']}" + (f"  loss {loss:.4f}" if loss is not None else ""))
        if job["status"] not in ("queued", "running"):
            print(f"job {job_id} {job['status']}" + (f": {job['error']}" if job["error"] else ""))
            return 0 if job["status"] == "succeeded" else 1
        time.sleep(1)


def cmd_jobs(args) -> int:
    from .registry import Registry
    from .train import jobs

    registry = Registry(Home.resolve(args.home))
    jobs.reconcile(registry)
    try:
        if args.action == "list":
            for j in registry.jobs():
                print(f"{j['id']:>4}  {j['status']:<10} step {j['step']}/{j['total_steps'] or '?'}  {j['created']}"
                      + (f"  {j['error']}" if j["error"] else ""))
        elif args.action == "show":
            print(json.dumps({**registry.job(args.id), "log": registry.logs(args.id),
                              "metrics": registry.metrics(args.id)[-5:]}, indent=2))
        elif args.action == "cancel":
            print(jobs.cancel(registry, args.id))
        elif args.action == "resume":
            jobs.resume(registry, args.id)
            print(f"job {args.id} resumed")
    except jobs.JobError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_adapters(args) -> int:
    from .registry import Registry
    from .registry.store import export_zip

    registry = Registry(Home.resolve(args.home))
    if args.action == "list":
        for a in registry.adapters():
            metrics = ", ".join(f"{k} {v}" for k, v in a["metrics"].items())
            print(f"{a['name']}:{a['version']}  {a['task'] or '-'}  base {a['base_model']}  {metrics}")
        return 0
    rec = registry.adapter(args.name or "")
    if rec is None:
        print(f"error: no adapter named {args.name!r}", file=sys.stderr)
        return 2
    if args.action == "show":
        print(json.dumps(rec, indent=2))
    else:
        print(export_zip(registry, rec, Path(args.out) if args.out else None))
    return 0


def cmd_serve(args) -> int:
    from ui.app import serve

    serve(Home.resolve(args.home), host=args.host, port=args.port, base_model=args.base_model)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tailor", description="Describe a task, attach data, get a fine-tuned adapter.")
    ap.add_argument("--home", help="data home (default: $TAILOR_HOME, else the working directory)")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--base-model", help="base model served for comparison (default: the settings' default)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("plan", help="turn a conversation (and a data file) into a plan")
    p.add_argument("message", nargs="+", help="user turns, in order")
    p.add_argument("--json", action="store_true", help="print the JSON contract instead of the reply")
    p.add_argument("--data", help="the attached data file")
    p.add_argument("--gpu-memory", type=float, help="GPU memory in GB (0: CPU); default: detected")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("train", help="queue a plan and follow it")
    p.add_argument("plan", help="PLAN.json")
    p.add_argument("--no-wait", action="store_true", help="return once queued")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("jobs", help="the training queue")
    p.add_argument("action", choices=["list", "show", "cancel", "resume"])
    p.add_argument("id", type=int, nargs="?")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("adapters", help="the adapter registry")
    p.add_argument("action", choices=["list", "show", "export"])
    p.add_argument("name", nargs="?", help="name, name:version or alias")
    p.add_argument("--out", help="export: the zip to write")
    p.set_defaults(func=cmd_adapters)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "jobs" and args.action != "list" and args.id is None:
        print(f"error: `tailor jobs {args.action}` needs a job id", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
