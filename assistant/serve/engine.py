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
from ..models.resolve import resolve_source
from ..registry.db import Registry
from ..registry.store import WEIGHTS, adapter_dir, read_plan
from .kernels import BASE, fusable, pack_linear_for_cpu, per_row_lora

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
    """An adapter the engine has loaded: its name in the model (`name:version`) and the instruction it was
    trained under (its plan's system prompt)."""

    key: str
    instruction: str


class EngineNotReady(EngineError):
    """The base model is still loading, or failed to load."""


class AdapterUnusable(EngineError):
    """A registered adapter that cannot be served now (folder missing, weights changed, broken files)."""


@dataclass
class Answer:
    model: str
    """`base` or the adapter's `name:version`."""
    text: str
    latency_s: float
    """Seconds from the start of the call to this side's last token."""
    tokens: int
    tokens_per_second: float
    first_token_s: float | None = None
    """Seconds to this side's first token."""
    done: bool = True
    """False while the side is still streaming."""
    finish_reason: str = "stop"
    """`stop` (end of answer) or `length` (hit max_new_tokens)."""
    prompt_tokens: int = 0


@dataclass
class GenerationSettings:
    max_new_tokens: int = 64
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    seed: int = 0
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


class _BatchStreamer:
    """Receives each step's tokens for the whole batch from `generate`; keeps every row's text and timing."""

    def __init__(self, tokenizer, labels: list[str], on_update=None, prompt_tokens: list[int] | None = None):
        self.tokenizer, self.labels, self.on_update = tokenizer, labels, on_update
        self.prompt_tokens = prompt_tokens or [0] * len(labels)
        self.hit_eos = [False] * len(labels)
        self.tokens: list[list[int]] = [[] for _ in labels]
        self.finished_at: list[float | None] = [None] * len(labels)
        self.first_at: list[float | None] = [None] * len(labels)
        self.eos = {tokenizer.eos_token_id, tokenizer.pad_token_id}
        self.t0 = time.time()
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate first hands over the prompt
            self._prompt_seen = True
            return
        now = time.time()
        for i, tok in enumerate(value.reshape(-1).tolist()):
            if self.finished_at[i] is not None:
                continue
            if tok in self.eos:
                self.finished_at[i], self.hit_eos[i] = now, True
                continue
            if self.first_at[i] is None:
                self.first_at[i] = now
            self.tokens[i].append(tok)
        if self.on_update is not None:
            self.on_update(self.answers())

    def end(self) -> None:
        now = time.time()
        self.finished_at = [t or now for t in self.finished_at]

    def answers(self) -> list[Answer]:
        now = time.time()
        out = []
        for i, label in enumerate(self.labels):
            elapsed = (self.finished_at[i] or now) - self.t0
            n = len(self.tokens[i])
            # A reply cut at the token limit can end inside a multi-byte character: drop the half character
            # (decoded as U+FFFD) rather than show it.
            text = self.tokenizer.decode(self.tokens[i], skip_special_tokens=True).strip().rstrip("\ufffd")
            out.append(Answer(label, text, elapsed, n, n / elapsed if elapsed > 0 else 0.0,
                              (self.first_at[i] - self.t0) if self.first_at[i] else None,
                              self.finished_at[i] is not None, "stop" if self.hit_eos[i] else "length",
                              self.prompt_tokens[i]))
        return out


def serve_on_gpu() -> bool:
    """Serve from the GPU only when asked (`TAILOR_SERVE_DEVICE=cuda`) and there is one.

    Training plans size their batches to the whole GPU; a served base on the same card (2 bytes per parameter)
    would take memory they count on. Until the planner reserves it, serving stays on the CPU by default."""
    import torch

    return environment().serve_device == "cuda" and torch.cuda.is_available()


def _available_memory() -> int:
    """Bytes of memory available to this process (Linux's MemAvailable; 4 GiB where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


class Engine:
    def __init__(self, registry: Registry, base_source: str, max_loaded: int = 4):
        self.registry = registry
        self.base_source = base_source
        self.max_loaded = max_loaded
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailor-engine")
        self._loaded: OrderedDict[str, int] = OrderedDict()
        self.holder = f"engine-{id(self):x}@{os.getpid()}"
        self.pack_cpu = environment().cpu_pack
        """On a CPU, prepack Linear weights for oneDNN: a batch of rows then costs far less than that many calls."""
        self.packed_layers = 0
        self.fused = True
        """Per-row adapters as batched matmuls (`kernels.per_row_lora`); False uses PEFT's mixed-batch forward."""
        self.model = None
        self.tokenizer = None
        self.status = "not loaded"
        self._ready = threading.Event()
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Future:
        """Load the base model in the engine's thread; the app stays responsive meanwhile."""
        self.status = "loading the base model…"
        return self._pool.submit(self._load)

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM

            from ..models.resolve import load_tokenizer

            path = resolve_source(self.base_source, self.registry.home.models, log=self._log)
            self.resolved = path
            self.tokenizer = load_tokenizer(path)
            self.tokenizer.padding_side = "left"
            if serve_on_gpu():  # bf16 where the card has it, else fp16
                dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
                self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, device_map={"": 0})
            else:
                self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
            self.model.eval()
            if self.pack_cpu and self.model.device.type == "cpu":
                self.packed_layers = pack_linear_for_cpu(self.model)
            self.status = "ready"
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

    def wait_ready(self, timeout: float | None = None) -> None:
        self._ready.wait(timeout)
        if self.error:
            raise EngineNotReady(self.error)
        if self.model is None:
            raise EngineNotReady(f"the base model is still loading ({self.status})")

    # -- requests --------------------------------------------------------------------------------------
    def side_by_side(self, prompt: str, models: list[str | None], settings: GenerationSettings | None = None,
                     system: str | None = None, on_update=None) -> list[Answer]:
        """The same prompt answered by each model (None = base) in one batched call.

        `on_update(answers)` is called as tokens arrive (streaming), with every side's text so far.
        """
        return self.generate(_side_rows(prompt, models), settings, system, on_update)

    def generate(self, rows: list[tuple[str | None, list[dict]]], settings: GenerationSettings | None = None,
                 system: str | None = None, on_update=None) -> list[Answer]:
        """Rows of (model, chat messages) answered in one batched `generate`; each row uses its own adapter.

        A row without a system message gets `system`, else its adapter's training instruction (the prompt it
        learned under), else the first adapter's — so the base model is asked the same way as the adapters.
        """
        self.wait_ready(timeout=600)
        return self._pool.submit(self._generate, rows, settings or GenerationSettings(), system, on_update).result()

    def stream_side_by_side(self, prompt: str, models: list[str | None], settings: GenerationSettings | None = None,
                            system: str | None = None):
        """Yield every side's answer so far as tokens arrive; the last item is final."""
        return self.stream(_side_rows(prompt, models), settings, system)

    def stream(self, rows: list[tuple[str | None, list[dict]]], settings: GenerationSettings | None = None,
               system: str | None = None):
        """`generate` as an iterator: every row's answer so far as tokens arrive; the last item is final.

        The generation runs in its own thread; its errors are raised here, in the consumer's.
        """
        import queue

        q: queue.Queue = queue.Queue()
        done = object()

        def work():
            try:
                q.put(self.generate(rows, settings, system, on_update=q.put))
            except Exception as e:  # noqa: BLE001 - re-raised in the consumer's thread
                q.put(e)
            q.put(done)

        threading.Thread(target=work, daemon=True).start()
        while (item := q.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item

    def _generate(self, rows, settings, system, on_update) -> list[Answer]:
        import torch

        loaded = [self._ensure_adapter(m) if m else None for m in (r[0] for r in rows)]
        default_system = system or next((a.instruction for a in loaded if a and a.instruction), None)
        names, texts = [], []
        for adapter, (_, messages) in zip(loaded, rows):
            names.append(adapter.key if adapter else BASE)
            msgs = list(messages)
            sys_prompt = system or (adapter.instruction if adapter else None) or default_system
            if sys_prompt and not any(m["role"] == "system" for m in msgs):
                msgs = [{"role": "system", "content": sys_prompt}, *msgs]
            texts.append(self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        torch.manual_seed(settings.seed)
        kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False)
        kwargs.update(settings.extra)  # e.g. min_new_tokens, repetition_penalty
        labels = ["base" if n == BASE else n for n in names]
        streamer = _BatchStreamer(self.tokenizer, labels, on_update, batch["attention_mask"].sum(1).tolist())
        kwargs["streamer"] = streamer
        fused = self.fused and hasattr(self.model, "peft_config") and fusable(self.model, names)
        if hasattr(self.model, "peft_config") and not fused:  # PEFT's mixed batch: "__base__" disables adapters
            kwargs["adapter_names"] = names
        with torch.inference_mode(), (per_row_lora(self.model, names) if fused else contextlib.nullcontext()):
            self.model.generate(**batch, **kwargs)
        return streamer.answers()

    def rows_per_call(self, tokens_per_row: int) -> int:
        """How many rows one batched `generate` may hold when each grows to `tokens_per_row` tokens: the
        key/value cache of every row within `KV_BUDGET_FRACTION` of the free memory, at most
        `CPU_ROWS_PER_CALL` on a CPU (more rows stop paying there) or `GPU_ROWS_PER_CALL` on a GPU."""
        import torch

        self.wait_ready(timeout=600)
        cfg = self.model.config.get_text_config() if hasattr(self.model.config, "get_text_config") \
            else self.model.config
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        dtype_bytes = next(self.model.parameters()).element_size()
        per_row = 2 * cfg.num_hidden_layers * heads * head_dim * dtype_bytes * max(1, tokens_per_row)
        if self.model.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.model.device)
            cap = GPU_ROWS_PER_CALL
        else:
            free = _available_memory()
            cap = CPU_ROWS_PER_CALL
        return max(1, min(cap, int(free * KV_BUDGET_FRACTION) // per_row))

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
        key = f"{rec.label}"
        folder = adapter_dir(self.registry, rec)
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
