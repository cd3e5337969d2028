"""`tailor mcp`: Tailor's actions as tools for other agents, over stdio, with the official MCP Python SDK.

The tools are thin, like the CLI's commands: plan from words and a data file, start a job (the only way
anything trains: `plan` never does), follow, cancel and resume it, list and show adapters, compare a prompt
across adapters, evaluate, export. Every argument is checked, every failure is one line (the CLI's message),
and nothing a client sends reaches outside the data home: data files must lie inside it (a plan naming a
file elsewhere is refused), exports are written into its `exports/` folder, adapters are named, never pathed.

The comparison engine (the base model and its adapters) is loaded the first time a tool needs it and kept.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .config import Home
from .errors import TailorError

INSTRUCTIONS = ("Tailor fine-tunes language models from a plain-words description and a data file. Call `plan` "
                "with the user's words (English or Chinese) and a data file inside the data home; show the plan and "
                "its reasons; call `start_job` only when the user approves. Follow with `job_status`; compare and "
                "evaluate adapters against the base model; export them (PEFT zip, merged, GGUF for Ollama).")
MAX_TOKENS = 512
MAX_EVAL = 200


class Refused(TailorError, ValueError):
    """A tool argument that cannot be used; the message says which and why."""


def inside_home(home: Home, path: str | Path, what: str) -> Path:
    """The path, resolved (relative paths against the data home), when it lies inside the data home."""
    given = Path(str(path)).expanduser()
    resolved = (given if given.is_absolute() else home.root / given).resolve()
    if not resolved.is_relative_to(home.root):
        raise Refused(f"{what} must be inside the data home {home.root} (copy the file there first): {path}")
    if not resolved.is_file():
        raise Refused(f"{what}: no such file in the data home: {path}")
    return resolved


def build_server(home: Home):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from . import __version__

    server = MCPServer("tailor", instructions=INSTRUCTIONS, version=__version__)
    tools = Tools(home)

    def tool(fn):
        """Register `fn` as a tool whose expected failures come back as one line (is_error), like the CLI's."""
        import functools

        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (TailorError, ValueError, KeyError, OSError) as e:
                raise ToolError(" ".join(str(e).split()) or type(e).__name__) from None

        return server.tool()(run)

    for name in Tools.NAMES:
        tool(getattr(tools, name))
    return server


class Tools:
    """The tools, as plain methods (tested directly, and through the SDK's client over stdio)."""

    NAMES = ("plan", "start_job", "job_status", "cancel_job", "resume_job", "list_adapters", "show_adapter",
             "compare", "evaluate", "export_adapter")

    def __init__(self, home: Home):
        from .registry import Registry

        self.home = home
        self.registry = Registry(home)
        self._engine = None
        self._lock = threading.Lock()

    # -- planning and training ---------------------------------------------------------------------------
    def plan(self, messages: list[str], data_path: str | None = None, gpu_memory_gb: float | None = None) -> dict:
        """Turn the user's words (turns in order, English or Chinese) and a data file inside the data home into
        a fine-tuning plan: {ready, missing, reply, plan, questions, changes}. It never starts training."""
        from .chat import converse
        from .chat.llm import understander_for
        from .models.estimate import CPU, Hardware
        from .models.resolve import detect_gpu

        if not messages or not all(isinstance(m, str) and m.strip() for m in messages):
            raise Refused("messages: give the user's words, one string per turn")
        if gpu_memory_gb is not None and not 0 <= gpu_memory_gb <= 2048:
            raise Refused("gpu_memory_gb: between 0 (no GPU) and 2048")
        data = str(inside_home(self.home, data_path, "data_path")) if data_path else None
        hardware = detect_gpu() if gpu_memory_gb is None else (Hardware("GPU", gpu_memory_gb) if gpu_memory_gb
                                                                else CPU)
        settings = self.home.load_settings()
        turn = converse(messages, data, hardware, settings.default_base_model, home_models=self.home.models,
                        understander=understander_for(settings))
        return turn.to_dict()

    def start_job(self, plan: dict) -> dict:
        """Queue a plan (the `plan` member of `plan`'s answer, or that whole answer) for training; the plan must
        be ready and its data inside the data home. Returns {job_id}; a plan with a sweep queues every trial
        and returns {job_id (the first trial), sweep_id, trial_job_ids}."""
        from .plan import Plan
        from .train import jobs

        raw = plan.get("plan") if isinstance(plan, dict) and isinstance(plan.get("plan"), dict) else plan
        if not isinstance(raw, dict):
            raise Refused("plan: give the plan object that `plan` returned")
        parsed = Plan.from_dict(raw)
        parsed.validate(require_ready=True)
        inside_home(self.home, parsed.data.path or "", "plan.data.path")
        if parsed.sweep.on:  # every trial is a job; the first one's id lets the agent follow it
            from .train.sweep import submit_sweep

            sweep_id = submit_sweep(self.registry, parsed)
            trials = self.registry.trials(sweep_id)
            return {"job_id": trials[0].id, "sweep_id": sweep_id, "trial_job_ids": [t.id for t in trials]}
        return {"job_id": jobs.submit(self.registry, parsed)}

    def job_status(self, job_id: int, log_lines: int = 20) -> dict:
        """A job's state: status, step and total, error, its adapter when registered, and the log's last lines."""
        from .train import jobs

        jobs.dispatch(self.home, self.registry)
        job = self._job(job_id)
        adapter = self.registry.adapter_by_id(job.adapter_id) if job.adapter_id else None
        return {**job.to_dict(), "adapter": adapter.label if adapter else None,
                "log": self.registry.logs(job.id, tail=max(1, min(int(log_lines), 200)))}

    def cancel_job(self, job_id: int) -> dict:
        """Cancel a queued or running job (a running one stops at its next step)."""
        from .train import jobs

        return {"job_id": self._job(job_id).id, "result": jobs.cancel(self.registry, int(job_id))}

    def resume_job(self, job_id: int) -> dict:
        """Resume a failed or cancelled job from its last checkpoint."""
        from .train import jobs

        jobs.resume(self.registry, self._job(job_id).id)
        return {"job_id": int(job_id), "result": "resumed"}

    def _job(self, job_id: int):
        job = self.registry.job(int(job_id))
        if job is None:
            raise Refused(f"no job {job_id}")
        return job

    # -- the registry ------------------------------------------------------------------------------------
    def list_adapters(self, query: str = "", task: str | None = None, sort: str | None = None,
                      limit: int = 50) -> dict:
        """Registered adapters (newest first, or best first by a metric), matching the words and task."""
        from . import plugins

        descending = not sort or plugins.get().higher_is_better(sort)
        rows = self.registry.search(query or "", task=task or None, sort=sort or None, descending=descending,
                                    limit=max(1, min(int(limit), 500)))
        return {"adapters": [{"name": a.label, "task": a.task, "base_model": a.base_model, "metrics": a.metrics,
                              "tags": a.tags, "aliases": a.aliases, "created": a.created} for a in rows]}

    def show_adapter(self, name: str) -> dict:
        """One adapter's page: metrics, plan, the words that asked for it, data fingerprint, job, versions, files."""
        from .registry.store import adapter_page

        self.registry.require_adapter(name)
        page = adapter_page(self.registry, name)
        return {k: v for k, v in page.items() if k != "adapter"} | {"adapter": page["adapter"]}

    def export_adapter(self, name: str, format: str = "peft") -> dict:
        """Write an adapter in a registered format (peft, merged, gguf, gguf_q8_0, gguf_q4_0, or a plugin's)
        into the data home's exports/ folder; returns the path written."""
        from . import plugins

        rec = self.registry.require_adapter(name)
        exporter = plugins.get().exporter(format)
        dest = self.home.root / "exports"
        dest.mkdir(parents=True, exist_ok=True)
        return {"path": str(exporter.export(self.registry, rec, dest, log=lambda m: None))}

    # -- serving -----------------------------------------------------------------------------------------
    def compare(self, prompt: str, adapters: list[str], max_new_tokens: int = 64) -> dict:
        """The prompt answered by the base model and each adapter (at most four), side by side, greedily."""
        from .serve.engine import MAX_SIDE_BY_SIDE, GenerationSettings

        if not isinstance(prompt, str) or not prompt.strip():
            raise Refused("prompt: give the words to answer")
        names = self._labels(adapters, MAX_SIDE_BY_SIDE)
        engine = self._engine_for(names)
        answers = engine.side_by_side(prompt, [None, *names],
                                      GenerationSettings(max_new_tokens=self._tokens(max_new_tokens)))
        return {"answers": [{"model": a.model, "text": a.text, "tokens": a.tokens} for a in answers]}

    def evaluate(self, adapters: list[str], limit: int = 50, max_new_tokens: int = 64) -> dict:
        """The base model and the adapters on the first adapter's held-out rows: each metric of its plan, with a
        paired 95% interval for each adapter's difference from the base. The scores are stored on that adapter."""
        from .evaluate.run import evaluate_adapters
        from .serve.engine import MAX_SIDE_BY_SIDE

        names = self._labels(adapters, MAX_SIDE_BY_SIDE)
        if not names:
            raise Refused("adapters: name at least one adapter to evaluate against the base model")
        run = evaluate_adapters(self._engine_for(names), self.registry, names, limit=min(int(limit), MAX_EVAL),
                                max_new_tokens=self._tokens(max_new_tokens))
        kept = ("models", "metrics", "results", "skipped", "majority", "past_context", "trained_on")
        return {k: run[k] for k in kept if k in run} | {"examples": len(run["examples"])}

    def _labels(self, adapters: list[str], most: int) -> list[str]:
        if not isinstance(adapters, list) or len(adapters) > most:
            raise Refused(f"adapters: a list of at most {most} adapter names")
        return [self.registry.require_adapter(str(a)).label for a in adapters]

    @staticmethod
    def _tokens(n: int) -> int:
        if not 1 <= int(n) <= MAX_TOKENS:
            raise Refused(f"max_new_tokens: between 1 and {MAX_TOKENS}")
        return int(n)

    def _engine_for(self, names: list[str]):
        """The engine serving these adapters' base (loaded once; the settings' default base when none)."""
        from .serve.engine import Engine

        bases = {self.registry.require_adapter(n).base_source for n in names}
        if len(bases) > 1:
            raise Refused("adapters: these adapters were trained on different base models; compare them separately")
        base = next(iter(bases), None) or self.home.load_settings().default_base_model
        with self._lock:
            if self._engine is None or self._engine.base_source != base:
                engine = Engine(self.registry, base)
                engine.start().result()
                engine.wait_ready()
                self._engine = engine
            return self._engine


def serve_stdio(home: Home) -> None:
    build_server(home).run("stdio")
