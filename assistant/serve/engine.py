"""The inference engine: one base model, many adapters, one worker thread that owns the model.

Adapters are loaded onto the base with PEFT under their registry name (`name:version`), with an LRU limit
on how many stay loaded. Side by side is one batched `generate` in which each row has its own adapter
(`kernels.per_row_lora`: two batched matmuls per layer; PEFT's mixed adapter batch where that cannot run),
identical sampling settings and a recorded seed, so the comparison is fair by construction.
Request handlers never touch the model: they submit work to the engine's queue and wait for the result.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..config import environment
from ..data.load import sha256_file
from ..errors import TailorError
from ..machine import CpuShare, available_memory
from ..models.resolve import resolve_source
from ..registry.db import Registry
from ..registry.store import WEIGHTS, adapter_dir, read_plan
from . import kernels
from .kernels import BASE, deferred_stop, fusable, per_row_lora
from .prompts import Echo, Row, encode, is_raw
from .sampling import Sampling, processors
from .shapes import Shape, cache_length, interactive, padded
from .streaming import Answer, BatchStreamer, updates

MAX_SIDE_BY_SIDE = 4
"""Adapters answering beside the base model in one comparison (a batch row each; the page shows five columns)."""
CPU_ROWS_PER_CALL = 40
"""Rows in one batch evaluation call on a CPU: a decoding step reads every weight once for the whole batch, so
40 rows answer about 3x faster per row than 5; 80 were no faster than 40 (SmolLM2-135M, 2 cores,
bench/evaluation.py)."""
GPU_ROWS_PER_CALL = 512
KV_BUDGET_FRACTION = 0.5
"""Share of the memory left free after the weights that one call's key/value cache may take."""


class EngineError(TailorError, RuntimeError):
    """A request the engine refuses; the message says why."""


class Loaded(NamedTuple):
    """An adapter the engine has loaded: its name (`name:version`) and the instruction it was trained under."""

    key: str
    instruction: str


class EngineNotReady(EngineError):
    """The base model is still loading, or failed to load."""


class AdapterUnusable(EngineError):
    """A registered adapter that cannot be served now (folder missing, weights changed, broken files)."""


@dataclass
class GenerationSettings:
    max_new_tokens: int = 64
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()  # texts that end an answer where they first appear (left out), as OpenAI's `stop`
    within_context: bool = False  # refuse a row whose prompt and answer pass the model's context (the API's rule)
    sampling: Sampling = field(default_factory=Sampling)  # penalties, logit_bias, logprobs (OpenAI's)
    extra: dict = field(default_factory=dict)


def _side_rows(prompt: str, models: list[str | None]) -> list[tuple[str | None, list[dict]]]:
    """One row per model (None = base), all asked the same prompt; refuses what side by side cannot show."""
    if not prompt.strip():
        raise EngineError("the prompt is empty")
    if not models:
        raise EngineError("choose at least one model")
    if len(models) > 1 + MAX_SIDE_BY_SIDE:
        raise EngineError(f"at most the base model and {MAX_SIDE_BY_SIDE} adapters side by side")
    return [(m, [{"role": "user", "content": prompt}]) for m in models]


def serve_on_gpu() -> bool:
    """Serve from the GPU when there is one, unless `TAILOR_SERVE_DEVICE=cpu`. A training plan sizes its batches
    to the whole card, so the engine moves off the GPU while a job is queued or running and comes back when none
    is (`Engine.place`); its CUDA context (about half a GiB) stays, inside the share every plan leaves free."""
    import torch

    return environment().serve_device != "cpu" and torch.cuda.is_available()


WATCH_SECONDS = 3.0
"""How often an engine serving from a GPU checks whether a training job needs the card."""
MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailor-engine")
"""The one thread every engine of the process runs its model on, for the process's life: torch 2.11's compiler
(the GPU machine's) crashed compiling a new engine's decoding step after the old engine's thread had exited."""


class Engine:
    def __init__(self, registry: Registry, base_source: str, max_loaded: int = 4):
        self.registry = registry
        self.base_source = base_source
        self.max_loaded = max_loaded
        self._pool = MODEL_THREAD
        self._loaded: OrderedDict[str, int] = OrderedDict()
        self.holder = f"engine-{id(self):x}@{os.getpid()}"
        self.pack_cpu = environment().cpu_pack
        """On a CPU, prepack Linear weights for oneDNN: a batch of rows then costs far less than that many calls."""
        self.packed_layers = 0
        self.fused = True
        """Per-row adapters as batched matmuls (`kernels.per_row_lora`); False uses PEFT's mixed-batch forward."""
        self.defer_stop = True
        """On a GPU, decoding reads its stop flag a step late (`kernels.deferred_stop`); False waits every step."""
        self.model = None
        self.tokenizer = None
        self.status = "not loaded"
        self._ready = threading.Event()
        self.error: str | None = None
        self.home_device = "cpu"
        """Where the engine serves from when no training job needs the GPU (`cuda` on a GPU machine)."""
        self.placed = "cpu"
        """Where the model is now."""
        self.away_for: int | None = None
        """The training job the engine left the GPU for."""
        self.decode_compile = None
        """A `transformers.CompileConfig` when decoding uses a static key/value cache and a compiled step (CUDA
        graphs on a GPU); None decodes eagerly. A compiler failure switches it off for good and says why."""
        self.decode_note = ""
        self.cpu_threads: int | None = None
        """torch's threads on the CPU when the engine has the cores to itself (its default, read at load)."""
        self._watcher: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Future:
        """Load the base model in the engine's thread; the app stays responsive meanwhile."""
        self.status = "loading the base model…"
        return self._pool.submit(self._load)

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM

            from ..models.resolve import load_tokenizer, native_bf16

            path = resolve_source(self.base_source, self.registry.home.models, log=self._log)
            self.resolved = path
            self.tokenizer = load_tokenizer(path)
            self.tokenizer.padding_side = "left"
            if serve_on_gpu():  # bf16 where the card has it, else fp16 (emulated bf16 is slow and compiles nothing)
                from transformers import CompileConfig

                dtype = torch.bfloat16 if native_bf16() else torch.float16
                self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
                self.home_device = "cuda"
                if environment().serve_compile:
                    self.decode_compile = CompileConfig()  # inductor with CUDA graphs ("reduce-overhead")
            else:
                self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
            self.model.eval()
            self.cpu_threads = torch.get_num_threads()
            if self.pack_cpu and self.home_device == "cpu":
                self.packed_layers = kernels.pack_linear_for_cpu(self.model)
            self.status = "ready"
            self.place()
            if self.home_device == "cuda" and self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True, name="tailor-engine-watch")
                self._watcher.start()
        except Exception as e:  # noqa: BLE001 - shown to the user as the engine's status
            self.error = self.status = f"failed to load the base model: {e}"
        finally:
            self._ready.set()

    @property
    def settled(self) -> bool:
        """Whether loading has ended (ready, or failed with a reason): the page stops asking after that."""
        return self._ready.is_set()

    def _log(self, line: str) -> None:
        self.status = line.strip()
        print(line, flush=True)

    @property
    def base_name(self) -> str:
        """The base model's display name (catalog name, or the folder's name)."""
        from ..models.catalog import find

        entry = find(self.base_source)
        return entry.name if entry else Path(self.base_source).name

    @property
    def context(self) -> int:
        """The base model's context in tokens (0 when its config does not say, or before it has loaded)."""
        config = self.model.config.get_text_config() if self.model is not None else None
        return int(getattr(config, "max_position_embeddings", 0) or 0)

    def wait_ready(self, timeout: float | None = None) -> None:
        self._ready.wait(timeout)
        if self.error:
            raise EngineNotReady(self.error)
        if self.model is None:
            raise EngineNotReady(f"the base model is still loading ({self.status})")

    # -- sharing the GPU with training ----------------------------------------------------------------------
    def _training_job(self) -> int | None:
        """A queued or running job whose plan trains on the GPU (it will want the whole card), or None."""
        import json

        for job in self.registry.jobs("running", limit=5) + self.registry.jobs("queued", limit=20):
            plan = json.loads(self.registry.plan(job.plan_id)["json"])
            if (plan.get("resources") or {}).get("device", "cuda") != "cpu":
                return job.id
        return None

    def place(self) -> None:
        """Serve from the GPU unless a training job is queued or running; then from the CPU until it ends.
        Runs in the engine's thread, between calls (before each call and every `WATCH_SECONDS`)."""
        if self.home_device == "cpu" or self.model is None:
            return
        job = self._training_job()
        want = "cpu" if job is not None else self.home_device
        if want != self.placed:
            self._move(want)
        self.away_for = job
        how = ("static-cache decoding with CUDA graphs" if self.decode_compile is not None
               else f"eager decoding{'; ' + self.decode_note if self.decode_note else ''}")
        self.status = (f"ready on the GPU ({how})" if job is None else
                       f"serving from the CPU while job {job} trains on the GPU; back on the GPU when it ends")

    def _move(self, device: str) -> None:
        import torch

        self.model.to(device)
        if device == "cpu":  # hand the card back whole: per-row buffers, captured graphs and their memory pool
            kernels.drop_row_buffers(self.model)
            base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
            base.__dict__.pop("_compiled_call", None)  # compiled again (about a minute) on the first call back
            torch._dynamo.reset()
            torch.cuda.empty_cache()
        self.placed = device

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                self._pool.submit(self.place).result()
            except Exception as e:  # noqa: BLE001 - the watcher must outlive a failed check; the status says it
                self.status = f"could not check for training jobs: {e}"

    # -- requests --------------------------------------------------------------------------------------
    def side_by_side(self, prompt: str, models: list[str | None], settings: GenerationSettings | None = None,
                     system: str | None = None, on_update=None) -> list[Answer]:
        """The same prompt answered by each model (None = base) in one batched call.

        `on_update(answers)` is called as tokens arrive (streaming), with every side's text so far.
        """
        return self.generate(_side_rows(prompt, models), settings, system, on_update)

    def generate(self, rows: list[Row], settings: GenerationSettings | None = None,
                 system: str | None = None, on_update=None, shape: Shape | None = None) -> list[Answer]:
        """Rows of (model, prompt) answered in one batched `generate`; each row uses its own adapter. A prompt is
        chat messages, or a raw text or tuple of token ids (`prompts.encode`: no template, no system prompt).

        A chat without a system message gets `system`, else its adapter's training instruction (the prompt it
        learned under), else the first adapter's — so the base model is asked the same way as the adapters.
        `shape`: the run's shape (`shapes.Shape`), so a compiled decoding step serves all its calls; a call
        outside a run takes the interactive one (`shapes.interactive`)."""
        self.wait_ready(timeout=600)
        return self._pool.submit(self._generate, rows, settings or GenerationSettings(), system, on_update,
                                 shape).result()

    def stream_side_by_side(self, prompt: str, models: list[str | None], settings: GenerationSettings | None = None,
                            system: str | None = None):
        """Yield every side's answer so far as tokens arrive; the last item is final."""
        return self.stream(_side_rows(prompt, models), settings, system)

    def stream(self, rows: list[Row], settings: GenerationSettings | None = None,
               system: str | None = None):
        """`generate` as an iterator: every row's answer so far as tokens arrive; the last item is final.

        The generation runs in its own thread; its errors are raised here, in the consumer's.
        """
        return updates(lambda on_update: self.generate(rows, settings, system, on_update))

    def _generate(self, rows, settings, system, on_update, shape=None) -> list[Answer]:
        import torch

        self.place()
        static = self.decode_compile is not None and (self.placed != "cpu" or self.decode_compile._compile_all_devices)
        shape = (shape or interactive(len(rows), 1 + MAX_SIDE_BY_SIDE, self.context)) if static else None
        asked, rows = len(rows), padded(rows, shape)  # the copies' answers are dropped
        loaded = [self._ensure_adapter(m) if m else None for m in (r[0] for r in rows)]
        default_system = system or next((a.instruction for a in loaded if a and a.instruction), None)
        names = [adapter.key if adapter else BASE for adapter in loaded]
        vocab = self.model.config.get_text_config().vocab_size
        try:
            ids = encode(self.tokenizer, [r[1] for r in rows],
                         [system or (a.instruction if a else None) or default_system for a in loaded], vocab)
            logits_processor, recorder = processors(settings.sampling, vocab)
        except ValueError as e:
            raise EngineError(str(e)) from None
        batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(self.model.device)
        kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                      logits_processor=logits_processor)
        kwargs.update(dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
                      if settings.temperature > 0 else dict(do_sample=False))
        if settings.stop:  # each row stops decoding at its own stop text; the streamer cuts the text there
            kwargs.update(stop_strings=list(settings.stop), tokenizer=self.tokenizer)
        kwargs.update(settings.extra)  # e.g. min_new_tokens, repetition_penalty
        labels = ["base" if n == BASE else n for n in names]
        fused = self.fused and hasattr(self.model, "peft_config") and fusable(self.model, names)
        if hasattr(self.model, "peft_config") and not fused:  # PEFT's mixed batch: "__base__" disables adapters
            kwargs["adapter_names"] = names
        if static:  # the cache grows in steps, so similar calls reuse one compiled graph
            kwargs.update(cache_implementation="static", compile_config=self.decode_compile,
                          max_cache_len=cache_length(batch["input_ids"].shape[1] + settings.max_new_tokens, shape))
        prompt_tokens = batch["attention_mask"].sum(1).tolist()
        if settings.within_context and self.context and \
                (need := max(prompt_tokens) + settings.max_new_tokens) > self.context:
            raise EngineError(f"the prompt and the answer need {need} tokens, past the model's context of "
                              f"{self.context}: shorten the prompt or ask for fewer new tokens")

        # On the CPU, the cores are shared with a training job while one runs (machine.py).
        share = CpuShare("engine", alone=self.cpu_threads) if self.placed == "cpu" else None

        def run() -> list[Answer]:
            shown = on_update and (lambda answers: on_update(answers[:asked]))
            kwargs["streamer"] = streamer = BatchStreamer(self.tokenizer, labels, shown, prompt_tokens,
                                                          share and share.apply, settings.stop, recorder,
                                                          settings.sampling.logprobs or 0)
            streamer.raw = [is_raw(r[1]) for r in rows]  # a raw prompt's continuation keeps its spaces
            # `echo` (legacy completions): the prompt comes back before its continuation, scored with `logprobs`
            with torch.inference_mode(), Echo(self.model, self.tokenizer, rows, ids, names, settings.sampling.logprobs,
                                              streamer, kwargs) if settings.sampling.echo else contextlib.nullcontext():
                if settings.max_new_tokens == 0:  # the prompt scored, nothing to answer
                    streamer.end()
                    return streamer.answers()[:asked]
                with per_row_lora(self.model, names) if fused else contextlib.nullcontext(), \
                        deferred_stop(self.placed, self.defer_stop and recorder is None):
                    torch.manual_seed(settings.seed)
                    self.model.generate(**batch, **kwargs)
            return streamer.answers()[:asked]

        try:
            with share or contextlib.nullcontext():
                return run()
        except Exception as e:  # noqa: BLE001 - a compiler failure falls back to eager decoding, with its reason
            if not static or isinstance(e, torch.OutOfMemoryError):
                raise
            from ..train.compiled import compiler_failure

            self.decode_compile = None
            self.decode_note = f"compiled decoding failed ({compiler_failure(e)})"
            self._log(f"{self.decode_note}; decoding eagerly from now on")
            for key in ("cache_implementation", "compile_config", "max_cache_len"):
                kwargs.pop(key)
            with share or contextlib.nullcontext():
                return run()

    def rows_per_call(self, tokens_per_row: int, place: bool = False) -> int:
        """How many rows one batched `generate` may hold when each grows to `tokens_per_row` tokens: the
        key/value cache of every row within `KV_BUDGET_FRACTION` of the free memory, at most
        `CPU_ROWS_PER_CALL` on a CPU (more rows stop paying there) or `GPU_ROWS_PER_CALL` on a GPU.
        `place`: first move where the next call will run (as each call does)."""
        import torch

        self.wait_ready(timeout=600)
        if place:
            self._pool.submit(self.place).result()
        if self.decode_compile is not None:  # a static cache is allocated in whole steps
            tokens_per_row = cache_length(tokens_per_row)
        per_row = kernels.kv_bytes_per_token(self.model) * max(1, tokens_per_row)
        gpu = self.model.device.type == "cuda"
        free = torch.cuda.mem_get_info(self.model.device)[0] if gpu else available_memory()
        return max(1, min(GPU_ROWS_PER_CALL if gpu else CPU_ROWS_PER_CALL, int(free * KV_BUDGET_FRACTION) // per_row))

    def unusable(self, ref: str) -> str | None:
        """Why a registered adapter cannot be served (checked before a request is queued), or None.

        Cheap checks only: the record's status and its files on disk. The weights' sha256 and PEFT's own load
        are checked when the adapter is first loaded (`AdapterUnusable`)."""
        rec = self.registry.adapter(ref)
        if rec is None:
            return None
        label, folder = f"{rec.label}", adapter_dir(self.registry, rec)
        if rec.status != "ready":
            return f"adapter {label} is marked {rec.status}; run `tailor adapters check --repair`"
        missing = [f for f in ("adapter_config.json", WEIGHTS) if not (folder / f).is_file()]
        if missing:
            return (f"adapter {label}: {', '.join(missing)} missing from its folder {rec.path}; "
                    "run `tailor adapters check --repair`")
        return None

    def _ensure_adapter(self, ref: str) -> Loaded:
        """Load an adapter onto the base (LRU), refusing a different base or tampered files."""
        rec = self.registry.adapter(ref)
        if rec is None:
            raise EngineError(f"no adapter named {ref!r}")
        key, folder = rec.label, adapter_dir(self.registry, rec)
        if (why := self.unusable(ref)) is not None:
            raise AdapterUnusable(why)
        if Path(rec.base_source).resolve() != Path(self.resolved).resolve() and rec.base_source != self.resolved:
            raise AdapterUnusable(f"adapter {key} was trained on {rec.base_model}, but this engine serves "
                              f"{Path(self.resolved).name}; start Tailor with that base model to use it")
        task = read_plan(folder).get("task")
        served = Loaded(key, str(task.get("instruction") or "") if isinstance(task, dict) else "")
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return served
        if sha256_file(folder / WEIGHTS) != rec.weights_sha256:
            raise AdapterUnusable(f"adapter {key}: its weights do not match their recorded sha256; refusing to load "
                                  "them")
        from peft import PeftModel

        try:
            if not hasattr(self.model, "peft_config"):
                self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=key)
            else:
                self.model.load_adapter(str(folder), adapter_name=key)
        except Exception as e:  # noqa: BLE001 - a broken adapter is refused with PEFT's reason, the base stays
            if hasattr(self.model, "peft_config") and key in self.model.peft_config:
                self.model.delete_adapter(key)
            elif not hasattr(self.model, "peft_config"):  # a failed first wrap may have changed the base's layers
                self._load()
            raise AdapterUnusable(f"adapter {key} cannot be loaded: {type(e).__name__}: {str(e)[:300]}") from None
        self.model.eval()
        self._loaded[key] = rec.id
        self.registry.lease(rec.id, self.holder, os.getpid())  # delete/rename refuse while it is served
        while len(self._loaded) > self.max_loaded:
            old, old_id = self._loaded.popitem(last=False)
            self.model.delete_adapter(old)
            self.registry.release(old_id, self.holder)
        return served

    def unload_all(self) -> None:
        """Drop every loaded adapter (and its lease); the base stays."""
        def run():
            if hasattr(self.model, "peft_config"):
                self.model = self.model.unload()  # the base model without any LoRA layers
            for adapter_id in self._loaded.values():
                self.registry.release(adapter_id, self.holder)
            self._loaded.clear()
        self._pool.submit(run).result()
