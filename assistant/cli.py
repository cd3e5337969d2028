"""The `tailor` command's library commands: a thin layer over the library. One function per command.

    tailor serve [--host 127.0.0.1] [--port 7860]        the web app (added by ui/cli.py, the installed entry point)
    tailor plan --json [--data FILE] [--gpu-memory GB] MESSAGE...
    tailor train PLAN.json [--no-wait]                    queue a plan and follow it to its adapter
    tailor jobs list | show ID | cancel ID | resume ID
    tailor adapters list|search|show|export|import|tag|alias|describe|rename|delete|check ...
    tailor evaluate NAME... [--data FILE] [--limit N] [--json]   metrics vs the base, with 95% intervals
    tailor mcp                                            Tailor's actions as MCP tools, over stdio
    tailor plugins list [--json]                          what each installed plugin adds, or why it is disabled

Commands are registered like a plugin's (`register_commands` below); installed plugins add more.

Every command takes `--home DIR` (default: $TAILOR_HOME, else the working directory).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .arguments import COUNT, ROW_ID
from .config import Home
from .errors import TailorError, environment_error
from .plugins import Command, hookimpl


def cmd_plan(args) -> int:
    from .chat import converse
    from .chat.llm import understander_for
    from .models.estimate import CPU, Hardware
    from .models.resolve import detect_gpu

    home = Home.resolve(args.home)
    if args.gpu_memory is not None:
        hardware = Hardware("GPU", args.gpu_memory) if args.gpu_memory > 0 else CPU
    else:
        hardware = detect_gpu()
    settings = home.load_settings()
    data = str(Path(args.data[0]).resolve()) if args.data and len(args.data) == 1 else None  # read from anywhere
    if args.data and len(args.data) > 1:
        from .data.load import combine_class_files

        data = str(combine_class_files(args.data, home.uploads))
    turn = converse(args.message, data, hardware, settings.default_base_model,
                    home_models=home.models, understander=understander_for(settings))
    if args.json:
        print(json.dumps(turn.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(turn.reply)
    return 0


def cmd_train(args) -> int:
    from .plan import Plan, PlanError
    from .registry import Registry
    from .train import jobs

    try:
        plan = Plan.from_json(Path(args.plan).read_text(encoding="utf-8"), accept_turn=True)
        plan.validate(require_ready=True)
    except (OSError, PlanError) as e:
        print(f"error: {args.plan}: {e}", file=sys.stderr)
        return 2
    jobs.locate_data(plan, Path.cwd(), Path(args.plan).parent)
    registry = Registry(Home.resolve(args.home))
    job_id = jobs.submit(registry, plan)
    print(f"job {job_id} queued")
    return 0 if args.no_wait else follow(registry, job_id)


def follow(registry, job_id: int, check_every: float = 3.0) -> int:
    """Print a job's progress until it ends. Every few seconds it checks that the job's worker is alive, so a
    killed worker is noticed (and the job settled: failed, or registered if training had finished) at once."""
    from .train import jobs

    seen_logs, last_step, checked = 0, -1, time.time()
    while True:
        if time.time() - checked >= check_every:
            jobs.dispatch(registry.home, registry)  # reconciles first, then starts the next job if idle
            checked = time.time()
        job = registry.job(job_id)
        logs = registry.logs(job_id, tail=1000)
        for line in logs[seen_logs:]:
            print(f"  {line}")
        seen_logs = len(logs)
        if job.step != last_step and job.total_steps:
            last_step = job.step
            m = registry.metrics(job_id)
            loss = next((r["loss"] for r in reversed(m) if r["loss"] is not None), None)
            print(f"  step {job.step}/{job.total_steps}" + (f"  loss {loss:.4f}" if loss is not None else ""))
        if job.status not in ("queued", "running"):
            print(f"job {job_id} {job.status}" + (f": {job.error}" if job.error else ""),
                  file=sys.stdout if job.status == "succeeded" else sys.stderr)
            if job.status == "failed" and job.failure != "bad_data":  # resuming runs the same file again
                print(f"resume it with `tailor jobs resume {job_id}`", file=sys.stderr)
            return 0 if job.status == "succeeded" else 1
        time.sleep(1)


def cmd_jobs(args) -> int:
    from .registry import Registry
    from .train import jobs

    registry = Registry(Home.resolve(args.home))
    jobs.reconcile(registry)
    if args.action != "list" and registry.job(args.id) is None:
        raise jobs.JobError(f"no job {args.id} (`tailor jobs list` shows them)")
    if args.action == "list":
        if not (listed := registry.jobs()):  # said on stderr: stdout stays what scripts read
            print("no jobs yet: `tailor train PLAN.json` queues one", file=sys.stderr)
        for j in listed:
            print(f"{j.id:>4}  {j.status:<10} step {j.step}/{j.total_steps or '?'}  {j.created}"
                  + (f"  {j.error}" if j.error else ""))
    elif args.action == "show":
        print(json.dumps({**registry.job(args.id).to_dict(), "log": registry.logs(args.id),
                          "metrics": registry.metrics(args.id)[-5:]}, indent=2))
    elif args.action == "cancel":
        print(jobs.cancel(registry, args.id))
    elif args.action == "resume":
        jobs.resume(registry, args.id)
        print(f"job {args.id} resumed")
    return 0


def cmd_adapters(args) -> int:
    from .registry import Registry

    return ADAPTER_ACTIONS[args.action](Registry(Home.resolve(args.home)), args)


def _need(args, n: int, usage: str) -> list[str]:
    from .registry.manage import RegistryError

    if len(args.args) < n:
        raise RegistryError(f"usage: tailor adapters {args.action} {usage}")
    return args.args


def _print_adapters(rows: list) -> None:
    for a in rows:
        metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in a.metrics.items())
        extra = "".join(f" #{t}" for t in a.tags) + "".join(f" @{al}" for al in a.aliases)
        status = "" if a.status == "ready" else f" [{a.status}]"
        print(f"{a.label}{status}  {a.task or '-'}  base {a.base_model}  {metrics}{extra}")


def _adapters_list(registry, args) -> int:
    from . import plugins

    query = " ".join(args.args) if args.action == "search" else ""
    best_first = not args.ascending and (args.sort is None or plugins.get().higher_is_better(args.sort))
    rows = registry.search(query, task=args.task, base_model=args.base, tag=args.tag, sort=args.sort,
                           descending=best_first, limit=args.limit)
    if not rows:  # said on stderr: stdout stays what scripts read
        print("no adapter matches" if query or args.task or args.base or args.tag else "no adapters yet",
              file=sys.stderr)
    _print_adapters(rows)
    return 0


def _adapters_show(registry, args) -> int:
    rec = registry.require_adapter(_need(args, 1, "NAME")[0])
    print(json.dumps(registry.lineage(rec.id), indent=2, ensure_ascii=False, default=str))
    return 0


def _adapters_export(registry, args) -> int:
    from . import plugins

    if args.vllm:  # several adapters, one server: print the command, write nothing
        from .registry.vllm import vllm_command

        print(vllm_command(registry, _need(args, 1, "NAME... --vllm [--max-lora-rank N]"), args.max_lora_rank))
        return 0
    rec = registry.require_adapter(_need(args, 1, "NAME [--format NAME] [--out PATH]")[0])
    name = "merged" if args.merged else ("gguf" if args.quant == "f16" else f"gguf_{args.quant}") if args.gguf \
        else args.format
    exporter = plugins.get().exporter(name)
    out = Path(args.out) if args.out else registry.home.root / "exports"
    as_file = out.suffix == ".zip"
    folder = out.parent if as_file else out
    folder.mkdir(parents=True, exist_ok=True)
    written = Path(exporter.export(registry, rec, folder, log=lambda m: print(m, file=sys.stderr)))
    if as_file and written != out:
        written = written.replace(out)
    print(written)
    return 0


def _adapters_import(registry, args) -> int:
    from .registry.manage import import_adapter

    path = _need(args, 1, "ZIP_OR_FOLDER [--name NAME] [--base BASE]")[0]
    rec = import_adapter(registry, path, name=args.name, base_source=args.base, description=args.description or "")
    print(f"imported {rec.label} (base {rec.base_model}, sha256 {rec.weights_sha256[:12]})")
    from .registry.store import missing_plugins

    if missing := missing_plugins(registry, rec):
        print(f"warning: its plan was made with plugin {', '.join(missing)}, not installed here: it can be served, "
              "but evaluating or retraining it needs the plugin", file=sys.stderr)
    return 0


def _adapters_tag(registry, args) -> int:
    name, *tags = _need(args, 2, "NAME TAG... [--remove]")
    rec = registry.require_adapter(name)
    registry.tag(rec.id, tags, remove=args.remove)
    print(f"{rec.label} tags: {', '.join(registry.adapter_by_id(rec.id).tags) or '-'}")
    return 0


def _adapters_alias(registry, args) -> int:
    from .registry.manage import RegistryError

    if args.remove:
        alias = _need(args, 1, "--remove ALIAS")[0]
        if not registry.remove_alias(alias):
            raise RegistryError(f"no alias {alias!r}")
        print(f"alias {alias} removed")
        return 0
    alias, ref = _need(args, 2, "ALIAS NAME[:VERSION]")[:2]
    rec = registry.require_adapter(ref)
    registry.set_alias(alias, rec.id)
    print(f"{alias} → {rec.label}")
    return 0


def _adapters_describe(registry, args) -> int:
    name, *words = _need(args, 2, "NAME TEXT...")
    rec = registry.require_adapter(name)
    registry.update_adapter(rec.id, description=" ".join(words))
    print(f"{rec.label} described")
    return 0


def _adapters_rename(registry, args) -> int:
    from .registry.manage import rename_adapter

    old, new = _need(args, 2, "OLD NEW")[:2]
    rows = rename_adapter(registry, old, new)
    print(f"renamed {old} → {new} ({len(rows)} version{'s' if len(rows) != 1 else ''})")
    return 0


def _adapters_delete(registry, args) -> int:
    from .registry.manage import RegistryError, delete_adapter

    ref = _need(args, 1, "NAME:VERSION | NAME --all")[0]
    one = registry.require_adapter(ref)  # a name that is not there is said before anything is asked
    if ":" not in ref and not args.all:
        raise RegistryError(f"say which version (`{ref}:N`), or `--all` to delete every version of {ref}")
    targets = registry.versions(ref) if args.all and ":" not in ref else [one]
    if not targets:  # --all of an alias: which name is meant is said, nothing deleted
        raise RegistryError(f"{ref} is an alias of {one.label}: delete `{one.label}`, or `{one.name} --all`")
    for rec in targets:
        delete_adapter(registry, rec)
        print(f"deleted {rec.label}")
    return 0


def _adapters_check(registry, args) -> int:
    from .registry.manage import check

    problems = check(registry, repair=args.repair)
    for p in problems:
        print(p)
    if not problems:
        print(f"registry and folders agree ({registry.count_adapters()} adapters)")
    return 1 if problems and not args.repair else 0


ADAPTER_ACTIONS = {
    "list": _adapters_list, "search": _adapters_list, "show": _adapters_show, "export": _adapters_export,
    "import": _adapters_import, "tag": _adapters_tag, "alias": _adapters_alias, "describe": _adapters_describe,
    "rename": _adapters_rename, "delete": _adapters_delete, "check": _adapters_check,
}


def _plan_arguments(p) -> None:
    p.add_argument("message", nargs="+", help="user turns, in order")
    p.add_argument("--json", action="store_true", help="print the JSON contract instead of the reply")
    p.add_argument("--data", action="append", help="the attached data file; give it once per file for one .txt "
                                                   "file per class (positive.txt, negative.txt)")
    p.add_argument("--gpu-memory", type=float, help="GPU memory in GB (0: CPU); default: detected")


def _train_arguments(p) -> None:
    p.add_argument("plan", help="PLAN.json: a plan, or the whole output of `tailor plan --json`")
    p.add_argument("--no-wait", action="store_true", help="return once queued")


def _jobs_arguments(p) -> None:
    p.add_argument("action", choices=["list", "show", "cancel", "resume"])
    p.add_argument("id", type=ROW_ID, nargs="?")


def _adapters_arguments(p) -> None:
    p.add_argument("action", choices=list(ADAPTER_ACTIONS))
    p.add_argument("args", nargs="*", help="name (name, name:version or alias), query words, tags, path...")
    p.add_argument("--task", help="list/search: only this task")
    p.add_argument("--base", help="list/search: only this base model; import: the base model to check against")
    p.add_argument("--tag", help="list/search: only adapters with this tag")
    p.add_argument("--sort", help="list/search: sort by this final metric (e.g. accuracy)")
    p.add_argument("--ascending", action="store_true",
                   help="sort smallest first (default: best first — largest, or smallest for losses and perplexity)")
    p.add_argument("--limit", type=COUNT, default=50)
    p.add_argument("--out", help="export: the folder to write into (or, for the zips, the file)")
    p.add_argument("--format", default="peft", help="export: an exporter (`tailor plugins list`); default peft")
    p.add_argument("--merged", action="store_true", help="export: the same as --format merged")
    p.add_argument("--gguf", action="store_true", help="export: merged, as GGUF with an Ollama Modelfile")
    p.add_argument("--quant", choices=["f16", "q8_0", "q4_0"], default="f16", help="export --gguf: the quantisation")
    p.add_argument("--vllm", action="store_true", help="export: print the `vllm serve` command for the adapters named")
    p.add_argument("--max-lora-rank", type=COUNT,
                   help="export --vllm: the server's --max-lora-rank (default: fits all)")
    p.add_argument("--name", help="import: register under this name")
    p.add_argument("--description", help="import: a description")
    p.add_argument("--remove", action="store_true", help="tag/alias: remove instead of add")
    p.add_argument("--all", action="store_true", help="delete: every version of the name")
    p.add_argument("--repair", action="store_true", help="check: fix what disagrees")


def _evaluate_arguments(p) -> None:
    p.add_argument("adapters", nargs="+", help="adapters (name, name:version or alias); the first one's plan "
                                               "gives the metrics and, without --data, its held-out rows")
    p.add_argument("--data", help="an eval file, read with the first adapter's mapping")
    p.add_argument("--limit", type=COUNT, default=200, help="at most this many examples (default 200)")
    p.add_argument("--max-new-tokens", type=COUNT, default=64)
    p.add_argument("--json", action="store_true", help="print the whole run as JSON")


def cmd_evaluate(args) -> int:
    """The base model and the adapters answer the same examples; each metric with its paired 95% interval."""
    from .evaluate.run import adapter_plan, eval_notes, evaluate_adapters
    from .registry import Registry
    from .serve.engine import Engine

    registry = Registry(Home.resolve(args.home))
    records = [registry.require_adapter(a) for a in args.adapters]
    adapter_plan(registry, records[0].label)  # a missing plan or plugin is said before the model loads, not after
    engine = Engine(registry, records[0].base_source)
    engine.start().result()
    engine.wait_ready()
    run = evaluate_adapters(engine, registry, [r.label for r in records], data=args.data, limit=args.limit,
                            max_new_tokens=args.max_new_tokens,
                            progress=lambda p: print(f"\r{p.words()}   ", end="", file=sys.stderr))
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(run, ensure_ascii=False, indent=2))
        return 0
    for model in run["models"]:
        for metric in run["metrics"]:
            ci = run["results"][model].get("vs_" + run["baseline"], {}).get(metric)
            shown = f"  {ci['difference']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}] vs base" if ci else ""
            print(f"{model}  {metric} {run['results'][model]['metrics'][metric]:.4f}{shown}")
    if majority := run.get("majority"):
        scores = ", ".join(f"{m} {majority[m]:.4f}" for m in run["metrics"])
        print(f"always “{majority['label']}” (baseline)  {scores}")
    for metric, why in run.get("skipped", {}).items():
        print(f"({metric} not scored: {why})")
    for _, note in eval_notes(run):
        print(f"({note})")
    return 0


def cmd_mcp(args) -> int:
    """Serve Tailor's actions to another agent over stdio (Model Context Protocol)."""
    from .mcp_server import serve_stdio

    serve_stdio(Home.resolve(args.home))
    return 0


def _plugins_arguments(p) -> None:
    p.add_argument("action", choices=["list"], nargs="?", default="list")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_plugins(args) -> int:
    from . import plugins

    loaded = plugins.get()
    if args.json:
        print(json.dumps([{"name": p.name, "version": p.version, "source": p.source, "adds": p.adds,
                           "error": p.error or None} for p in loaded.plugins], indent=2, ensure_ascii=False))
        return 0
    for p in loaded.plugins:
        state = f"DISABLED: {p.error}" if p.error else p.summary()
        print(f"{p.name} {p.version}  ({p.source})\n    {state}")
    return 0


@hookimpl
def register_commands():
    """The library's own commands, registered like a plugin's."""
    return [
        Command("plan", "turn a conversation (and a data file) into a plan", cmd_plan, _plan_arguments),
        Command("train", "queue a plan and follow it", cmd_train, _train_arguments),
        Command("jobs", "the training queue", cmd_jobs, _jobs_arguments),
        Command("adapters", "the adapter registry", cmd_adapters, _adapters_arguments),
        Command("evaluate", "base model and adapters on held-out rows: metrics with paired 95% intervals",
                cmd_evaluate, _evaluate_arguments),
        Command("plugins", "the installed plugins: what each adds, where it came from, or why it is disabled",
                cmd_plugins, _plugins_arguments),
        Command("mcp", "serve Tailor's actions to other agents over stdio (Model Context Protocol)", cmd_mcp),
    ]


def build_parser(extra: Iterable[Callable] = ()) -> argparse.ArgumentParser:
    """The parser of every registered command (`register_commands`: the library's, then installed plugins');
    each of `extra` adds more (`extra(subparsers)`), such as `serve`, which the web app adds from above
    (ui/cli.py), so this module never imports the web app."""
    from . import plugins

    ap = argparse.ArgumentParser(prog="tailor", description="Describe a task, attach data, get a fine-tuned adapter.")
    ap.add_argument("--home", help="data home (default: $TAILOR_HOME, else the working directory)")
    sub = ap.add_subparsers(dest="command", required=True)
    for add in extra:
        add(sub)
    for line in plugins.add_commands(sub):  # a plugin command that cannot be built is left out, said in one line
        print(f"warning: {line}", file=sys.stderr)
    return ap


def main(argv: list[str] | None = None, extra: Iterable[Callable] = ()) -> int:
    from . import plugins

    for problem in plugins.get().problems():  # a broken plugin is disabled, said in one line, and Tailor goes on
        print(f"warning: {problem}", file=sys.stderr)
    args = build_parser(extra).parse_args(argv)
    if args.command == "jobs" and args.action != "list" and args.id is None:
        print(f"error: `tailor jobs {args.action}` needs a job id", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except TailorError as e:  # what the user can fix: bad data, an invalid plan, an unknown adapter, ...
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.DatabaseError) as e:
        print(f"error: {environment_error(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
