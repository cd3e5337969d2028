"""Training throughput and memory on a GPU: TRL's reference configurations beside Tailor's trainer, same run.

    python bench/gpu_train.py speed --tokenizer DIR   # TRL default-style, TRL packed, Tailor's planned run; 3 shapes
    python bench/gpu_train.py speed --quick ...       # Tailor's planned run, the hand loop, TRL default-style only
    python bench/gpu_train.py grid --tokenizer DIR    # estimator vs measured peak memory, 22 configurations
    python bench/gpu_train.py profile --tokenizer DIR # the top CUDA kernels of each shape's planned run
    python bench/gpu_train.py load --shapes llama-8b  # what loading a QLoRA base costs, part by part
    python bench/gpu_train.py smoke                   # the same code on a CPU with a tiny model (what CI runs)

Workloads are the issue's: random-weight models of real architectures (Qwen2.5-0.5B, Llama-3.2-1B,
Llama-3.1-8B shapes, built from their configs), LoRA r=16 on all linear layers, rows of random token ids with
lognormal lengths (median about 245 tokens, 32 to 1,024; the generator of bench/trl_baseline.py, seed 0), loss on
every token. The baseline columns come from bench/trl_baseline.py (a verbatim copy of the reference script
shared with the issue), run as a subprocess in the same call. Tailor's column is recipe.trainer_class() with the
configuration the planner chooses for this GPU (packing, tokens per step, checkpointing, dropout, LoRA/QLoRA), the
planner fed a chat file with the same length distribution.

Every configuration runs in its own process (`isolated`: an earlier model left allocated would be counted twice).
Each run prints one `RESULT {json}` line; the command ends with a Markdown table. Throughput counts real (non-pad)
tokens between the end of step 3 and the last step, with one synchronisation at each end; the host
synchronisations of those steps are counted (torch's sync debug mode) with the lines that made them. MFU counts
4·N·tokens (N: the decoder's weights plus the LM head) + causal attention (6·d·layers·L² per example of L tokens)
against the GPU's dense bf16 peak (989 TFLOP/s for an H100 SXM). Peak memory is torch's allocated and reserved
peaks; "device" adds the CUDA context (total − free before the run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATALOG_NAME = {"qwen2.5-0.5b": "Qwen2.5-0.5B-Instruct", "llama-1b": "Llama-3.2-1B-Instruct",
                "llama-8b": "Llama-3.1-8B-Instruct", "tiny": None}
WARM = 3
DEADLINE = float(os.environ.get("TAILOR_BENCH_DEADLINE") or "inf")
"""When the device lease ends (epoch seconds; bench/gpu_session.sh sets it): a configuration is not started with
less than `MIN_START_S` left, and a running one is stopped at it, so what finished comes back with the call."""
MIN_START_S = 30


def model_shape(shape: str, vocab: int):
    """The bench shape as the estimator sees it: a catalog shape, or the tiny CPU one with the tokenizer's
    vocabulary."""
    from assistant.models.catalog import ModelShape, find

    return ModelShape(64, 160, 2, 4, 2, vocab, True) if shape == "tiny" else find(CATALOG_NAME[shape]).shape


def config(shape: str, vocab: int):
    from transformers import LlamaConfig, Qwen2Config

    s = model_shape(shape, vocab)
    cls = Qwen2Config if shape.startswith("qwen") else LlamaConfig
    return cls(
        hidden_size=s.hidden,
        intermediate_size=s.intermediate,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        num_key_value_heads=s.kv_heads,
        vocab_size=s.vocab,
        max_position_embeddings=4096,
        tie_word_embeddings=s.tied,
    )


def _length(rnd: random.Random) -> int:
    return max(32, min(1024, int(rnd.lognormvariate(5.5, 0.6))))  # median about 245 tokens


def lengths(n: int, seed: int = 0) -> list[int]:
    rnd = random.Random(seed)
    return [_length(rnd) for _ in range(n)]


def token_rows(n: int, vocab: int, seed: int = 0) -> list[dict]:
    """bench/trl_baseline.py's rows: the same lengths and the same kind of random ids."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        length = _length(rnd)
        rows.append({"input_ids": [rnd.randrange(100, vocab - 100) for _ in range(length)]})
    return rows


def planned(shape: str, method: str | None, gpu_gb: float, gpu_name: str, folder: Path):
    """The assistant's plan for a chat dataset of this length distribution on this GPU (20,000 rows)."""
    from assistant.chat import converse
    from assistant.models.estimate import Hardware

    path = folder / "chat.jsonl"
    rnd = random.Random(1)
    with path.open("w") as f:
        for n in lengths(20000, seed=2):
            words = [rnd.choice(("data", "road", "blue", "time", "note", "wave")) for _ in range(int(n * 0.7))]
            cut = int(len(words) * 0.7)
            f.write(
                json.dumps({"instruction": "Answer.", "input": " ".join(words[:cut]), "output": " ".join(words[cut:])})
                + "\n"
            )
    model = CATALOG_NAME[shape] or "SmolLM2-135M-Instruct"
    words = f"train a chat assistant on these conversations with {model}" + (f", use {method}" if method else "")
    return converse([words], str(path), Hardware(gpu_name, gpu_gb)).plan


def saved_random(shape: str, vocab: int) -> tuple[Path, dict]:
    """A random bf16 model of `shape` saved once per machine (a hub checkpoint stands in for it), and what making
    it took ({} when it was there): initialising the weights on the CPU and writing them are the bench's costs,
    not a user's."""
    import torch
    from transformers import AutoModelForCausalLM

    path = Path(tempfile.gettempdir()) / f"tailor-bench-{shape}"
    if (path / "config.json").exists():
        return path, {}
    t0 = time.time()
    model = AutoModelForCausalLM.from_config(config(shape, vocab), dtype=torch.bfloat16)
    t1 = time.time()
    model.save_pretrained(path)
    return path, {"random_init_s": round(t1 - t0, 1), "save_s": round(time.time() - t1, 1)}


def load_saved(path: Path, four_bit: bool, device: str):
    """The saved model loaded as a run loads its base: 4-bit NF4 (bitsandbytes quantizes at load) or bf16."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=torch.bfloat16) if four_bit else None
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=q, dtype=torch.bfloat16,
                                                device_map={"": 0 if device == "cuda" else "cpu"},
                                                attn_implementation="sdpa")


def build_model(shape: str, method: str, vocab: int, device: str):
    import torch
    from transformers import AutoModelForCausalLM

    cfg = config(shape, vocab)
    if device == "cpu":
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="sdpa")
    if method == "qlora":  # a random bf16 model saved once, reloaded 4-bit (bitsandbytes quantizes at load)
        return load_saved(saved_random(shape, vocab)[0], True, device)
    with torch.device("cuda"):
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")


def load_parts(shape: str, how: str, vocab: int, device: str) -> None:
    """(`gpu_train.py one`, label "load") one load of the saved model, timed, with the functions it spent the
    time in (cProfile, cumulative): `how` is "bf16" (the weights to the device as they are) or "4bit"."""
    import cProfile
    import io
    import pstats

    import torch

    path, made = saved_random(shape, vocab)
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    prof = cProfile.Profile()
    t0 = time.time()
    prof.enable()
    model = load_saved(path, how == "4bit", device)
    if device == "cuda":
        torch.cuda.synchronize()
    prof.disable()
    seconds = time.time() - t0
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
    print(text.getvalue(), flush=True)
    memory = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
    print("RESULT", json.dumps({"label": "load", "shape": shape, "how": how, "seconds": round(seconds, 1),
                                "checkpoint_gb": round(size / 1e9, 2), "read_gb_s": round(size / 1e9 / seconds, 2),
                                "memory_gib": round(memory, 2), **made,
                                "params": sum(p.numel() for p in model.parameters())}), flush=True)


def load(args) -> None:
    """What loading a QLoRA base costs, part by part: each load in its own process (the second 4-bit load finds
    the checkpoint in the page cache, so cold minus warm is the disk), bf16 beside 4-bit (the difference is
    bitsandbytes' quantization), and making the random checkpoint apart (the bench's own cost)."""
    results = [isolated({"shape": shape, "label": "load", "how": how}, args.tokenizer)
               for shape in args.shapes.split(",") for how in ("4bit", "4bit", "bf16")]
    print("| shape | load | seconds | checkpoint GB | GB/s | peak GiB | making the random checkpoint |")
    print("|---|---|---|---|---|---|---|")
    for n, r in enumerate(results):
        making = f"init {r['random_init_s']} s + save {r['save_s']} s" if "random_init_s" in r else ""
        how = r.get("how", "?") + (" (again: page cache warm)" if n % 3 == 1 else "")
        print(f"| {r.get('shape')} | {how} | {r.get('seconds', r.get('failed'))} | {r.get('checkpoint_gb')} "
              f"| {r.get('read_gb_s')} | {r.get('memory_gib')} | {making} |", flush=True)


def flops_per_token(s, rows: list[dict]) -> float:
    """4·N (the decoder's weights and the LM head; the input embedding is a lookup) + causal attention."""
    from assistant.models.estimate import param_count

    n = param_count(s) - (0 if s.tied else s.vocab * s.hidden)
    lens = [len(r["input_ids"]) for r in rows]
    attention = 6 * s.hidden * s.layers * sum(x * x for x in lens) / sum(lens)
    return 4 * n + attention


def run_tailor(shape: str, plan, tok, *, steps: int, device: str, peak_tflops: float, label: str = "tailor",
               profile: bool = False) -> dict:
    """Tailor's trainer with the plan's configuration on the shared synthetic rows; one RESULT line. The decoder
    layers are compiled when the plan says so (`training.compile`, as the worker does); `profile` prints the top
    CUDA kernels of the timed steps."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig

    from assistant.chat.planner import plan_memory
    from assistant.train import recipe

    cuda = device == "cuda"
    t = plan.training
    vocab = len(tok)
    s = model_shape(shape, vocab)
    per_step = t.batch_size * t.gradient_accumulation * t.max_length
    rows = token_rows(max(64, int(steps * per_step / 200 * 1.3)), s.vocab)  # ids over the model's vocabulary
    context = 0.0
    if cuda:
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info()
        context = (total - free) / 2**30
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    model = build_model(shape, plan.lora.method, vocab, device)
    load_s = time.time() - t0
    out = Path(tempfile.mkdtemp(prefix="tailor-bench-out-"))
    kw = recipe.sft_config_kwargs(plan, out, has_eval=False)
    kw.update(max_steps=steps, save_strategy="no", logging_steps=steps, num_train_epochs=1, logging_first_step=False)
    trainer = recipe.trainer_class()(
        model=model,
        args=SFTConfig(**kw),
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=recipe.lora_config(plan),
    )
    counts: list[int] = []
    collate = trainer.data_collator

    def counting(batch):
        out = collate(batch)
        mask = out.get("attention_mask")
        counts.append(int(mask.sum()) if mask is not None else int(out["input_ids"].numel()))
        return out

    trainer.data_collator = counting
    compiled = None
    if t.compile:
        from assistant.train.compiled import compile_layers

        compiled = compile_layers(trainer.model, lambda line: print(line, flush=True))
    clock: dict[str, float] = {}
    tracer = None

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **k):
            if state.global_step in (WARM, steps):
                if cuda:
                    torch.cuda.set_sync_debug_mode(0)  # the clock's own synchronisations are not counted
                    torch.cuda.synchronize()
                clock[state.global_step] = time.time()
                if profile and state.global_step == WARM:
                    nonlocal tracer
                    tracer = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
                    tracer.__enter__()
                if cuda and state.global_step == WARM:  # every host synchronisation of the timed steps warns
                    torch.cuda.set_sync_debug_mode("warn")

    trainer.add_callback(Clock())
    # The timed steps end before the last step's log (the Trainer logs after the step's callbacks), so what is
    # counted is what every step outside a logging step costs: issue 17 asks for at most one.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    syncs = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in caught
                    if "synchronizing CUDA operation" in str(w.message))  # where each was made
    if tracer is not None:
        tracer.__exit__(None, None, None)
        print(tracer.key_averages().table(sort_by="self_cuda_time_total", row_limit=20), flush=True)
    seconds = clock[steps] - clock[WARM]
    tokens_per_step = sum(counts) / len(counts) * t.gradient_accumulation
    tok_s = tokens_per_step * (steps - WARM) / seconds
    est = plan_memory(plan, s)
    res = dict(
        label=label,
        shape=shape,
        method=plan.lora.method,
        packing=t.packing,
        row_packing=trainer.row_packing,
        batch=t.batch_size,
        accumulation=t.gradient_accumulation,
        max_length=t.max_length,
        checkpointing=t.gradient_checkpointing,
        dropout=plan.lora.dropout,
        r=plan.lora.r,
        compiled=bool(compiled) and compiled.failed is None,
        tokens_per_step=round(tokens_per_step),
        tok_per_s=round(tok_s),
        step_s=round(seconds / (steps - WARM), 3),
        load_s=round(load_s, 1),
        mfu=round(tok_s * flops_per_token(s, rows) / (peak_tflops * 1e12), 4),
        estimate_alloc_gib=round(est.allocated_gb, 2),
        estimate_peak_gib=round(est.peak_gb, 2),
    )
    if cuda:
        res.update(
            syncs_per_step=round(sum(syncs.values()) / (steps - WARM), 2),
            sync_sites=syncs.most_common(5),
            peak_alloc_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
            peak_reserved_gib=round(torch.cuda.max_memory_reserved() / 2**30, 2),
            context_gib=round(context, 2),
        )
        res["device_peak_gib"] = round(res["peak_reserved_gib"] + context, 2)
    print("RESULT", json.dumps(res), flush=True)
    del trainer, model
    if cuda:
        torch.cuda.empty_cache()
    return res


def child(cmd: list[str], env: dict | None = None, relay=lambda line: line) -> tuple[list[dict], str | None, str]:
    """Run `cmd` until it ends or the lease's deadline: (its RESULT lines, why it gave none or None, its stdout).
    Not started with less than `MIN_START_S` left; its output so far is relayed either way, each line as `relay`
    makes it (None: not shown)."""
    left = DEADLINE - time.time()
    if left < MIN_START_S:
        print(f"SKIPPED {' '.join(cmd[2:])[:200]}: {max(0, left):.0f} s of device time left", flush=True)
        return [], "skipped: out of device time", ""
    try:
        proc = subprocess.run(cmd, text=True, capture_output=True, env=env, timeout=None if left == float("inf")
                              else left)
        out, err, stopped, ok = proc.stdout, proc.stderr, False, proc.returncode == 0
    except subprocess.TimeoutExpired as e:
        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        out, err, stopped, ok = text(e.stdout), text(e.stderr), True, False
    results = [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
    for line in out.splitlines():
        if (shown := relay(line)) is not None:
            print(shown, flush=True)
    if ok and results:
        return results, None, out
    print(err[-3000:], flush=True)
    why = "stopped at the lease's deadline" if stopped else ((err.strip().splitlines() or ["no output"])[-1])[:200]
    return results, why, out


def isolated(spec: dict, tokenizer: str) -> dict:
    """One configuration in its own process (`gpu_train.py one`): nothing of an earlier model stays allocated and
    is counted twice. Its output is relayed; returns its RESULT (or what went wrong)."""
    results, why, _ = child([sys.executable, __file__, "one", "--tokenizer", tokenizer, "--spec", json.dumps(spec)])
    return results[-1] if results else {**spec, "failed": why}


def one(args) -> None:
    """The child of `isolated`: the planned configuration for `spec` (its fields override the plan), one run."""
    import torch
    from transformers import AutoTokenizer

    spec = json.loads(args.spec)
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    if spec.get("label") == "load":
        load_parts(spec["shape"], spec["how"], len(tok), spec.get("device", "cuda"))
        return
    if spec.get("label") == "handloop":
        hand_loop(spec["shape"], tok, steps=args.steps, batch=spec.get("batch", 2), length=spec.get("length", 2048))
        return
    name, memory, tflops = gpu()
    with tempfile.TemporaryDirectory() as d:
        plan = planned(spec["shape"], spec.get("method"), memory, name, Path(d))
    t = plan.training
    if "method" in spec:
        plan.lora.method = spec["method"]
    if "r" in spec:
        plan.lora.r, plan.lora.alpha, plan.lora.dropout = spec["r"], 2 * spec["r"], 0.0
    if "batch" in spec:
        t.packing, t.batch_size, t.gradient_accumulation, t.max_length = True, spec["batch"], 1, spec["length"]
    if "checkpointing" in spec:
        t.gradient_checkpointing = spec["checkpointing"]
    if "compile" in spec:
        t.compile = spec["compile"]
    try:
        run_tailor(spec["shape"], plan, tok, steps=spec.get("steps", args.steps), device="cuda", peak_tflops=tflops,
                   label=spec.get("label", "tailor"), profile=spec.get("profile", False))
    except torch.cuda.OutOfMemoryError:
        print("RESULT", json.dumps({**spec, "oom": True}), flush=True)


def hand_loop(shape: str, tok, *, steps: int, batch: int, length: int) -> None:
    """The reference the issue measured: a plain PEFT loop (bf16 weights, LoRA r=16 on all linear layers, fused
    AdamW), each decoder layer compiled, packed rows of `length` tokens, the LM head and cross-entropy in chunks
    recomputed in the backward pass. One RESULT line."""
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from torch.utils.checkpoint import checkpoint

    from assistant.train.compiled import compile_layers

    name, _, tflops = gpu()
    s = model_shape(shape, len(tok))
    model = get_peft_model(build_model(shape, "lora", len(tok), "cuda"),
                           LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    compile_layers(model, print)
    rows = token_rows(max(64, int(steps * batch * length / 200 * 1.3)), s.vocab)
    ids = torch.tensor([i for r in rows for i in r["input_ids"]][: steps * batch * length]).view(steps, batch, length)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, fused=True)
    base = model.get_base_model()
    backbone, head = getattr(base, base.base_model_prefix), base.get_output_embeddings()

    def piece(h, y):
        return F.cross_entropy(head(h).float(), y, reduction="sum")

    marks = {}
    for step in range(steps):
        x = ids[step].cuda(non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden = backbone(input_ids=x, use_cache=False).last_hidden_state[:, :-1].reshape(-1, s.hidden)
            y = x[:, 1:].reshape(-1)
            loss = sum(checkpoint(piece, hidden[i:i + 4096], y[i:i + 4096], use_reentrant=False)
                       for i in range(0, y.numel(), 4096)) / y.numel()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step + 1 in (WARM, steps):
            torch.cuda.synchronize()
            marks[step + 1] = time.time()
    tok_s = batch * length * (steps - WARM) / (marks[steps] - marks[WARM])
    res = dict(label="handloop", shape=shape, batch=batch, max_length=length, tok_per_s=round(tok_s),
               mfu=round(tok_s * flops_per_token(s, [{"input_ids": [0] * length}]) / (tflops * 1e12), 4),
               peak_alloc_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2), gpu=name)
    print("RESULT", json.dumps(res), flush=True)


def run_baseline(specs: list[str], tokenizer: str) -> list[dict]:
    """bench/trl_baseline.py in a subprocess (its own process: its memory and CUDA state stay its own)."""
    def relay(line: str) -> str | None:  # its RESULT lines are printed below, labelled
        return "baseline: " + line if line.startswith(("FAILED", "torch", "transformers", "peft", "trl",
                                                       "bitsandbytes")) else None

    results, _, _ = child([sys.executable, str(ROOT / "bench" / "trl_baseline.py"), *specs],
                          env={**os.environ, "TOKENIZER_DIR": tokenizer}, relay=relay)
    for r in results:
        print("RESULT", json.dumps({"label": "trl-" + r["mode"], **r}), flush=True)
    return results


def gpu() -> tuple[str, float, float]:
    import torch

    from assistant.models.estimate import gpu_info

    name = torch.cuda.get_device_name(0)
    memory = torch.cuda.get_device_properties(0).total_memory / 2**30
    info = gpu_info(name)
    return name, memory, info[1] if info else 989.0


def versions() -> str:
    import importlib

    out = []
    for m in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "bitsandbytes"):
        try:
            out.append(f"{m} {importlib.import_module(m).__version__}")
        except Exception:  # noqa: BLE001 - a missing optional package is reported, not fatal
            out.append(f"{m} missing")
    return ", ".join(out)


def speed(args) -> None:
    """Per shape: TRL's two reference configurations, Tailor's planned run (compiled, as plans now run) and the same
    run eager, the hand-written loop, and for the 8B shape QLoRA; every run in its own process."""
    name, memory, _ = gpu()
    print(f"# {name}, {memory:.0f} GiB; {versions()}", flush=True)
    rows = []
    for shape in args.shapes.split(","):
        modes = [f"{shape}:lora:naive"] + ([] if shape == "llama-8b" or args.quick else [f"{shape}:lora:big8"])
        ours = isolated({"shape": shape, "label": "tailor"}, args.tokenizer)  # the goal's column first
        hand = isolated({"shape": shape, "label": "handloop", "batch": 2 if shape == "llama-8b" else 8,
                         "length": 2048}, args.tokenizer)
        base = {r["mode"]: r for r in run_baseline(modes, args.tokenizer)} if not args.no_baseline else {}
        eager = {} if args.quick else isolated({"shape": shape, "label": "tailor-eager", "compile": False},
                                               args.tokenizer)
        q = isolated({"shape": shape, "method": "qlora", "label": "tailor-qlora"}, args.tokenizer) \
            if shape == "llama-8b" and not args.quick else None
        rows.append((shape, base, ours, eager, hand, q))
    print("\n| shape | TRL default-style | TRL packed 8×2,048 | hand loop, compiled layers | Tailor eager "
          "| Tailor (planned) | × default | × hand loop | MFU | Tailor's configuration | peak GiB (est.) "
          "| host syncs a step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for shape, base, ours, eager, hand, q in rows:
        naive, big = base.get("naive", {}), base.get("big8", {})
        for r in [ours] + ([q] if q else []):
            if "tok_per_s" not in r:
                print(f"| {shape} | | | | | {r.get('failed') or 'out of memory'} | | | | | | |")
                continue
            times = f"{r['tok_per_s'] / naive['tok_per_s']:.1f}×" if naive else "—"
            vs_hand = f"{r['tok_per_s'] / hand['tok_per_s']:.2f}×" if hand.get("tok_per_s") else "—"
            cfg = (f"{r['method']}, {'packed ' if r['packing'] else ''}{r['batch']}×{r['max_length']}"
                   f"{' ×' + str(r['accumulation']) if r['accumulation'] > 1 else ''}"
                   f"{', checkpointing' if r['checkpointing'] else ''}{', compiled' if r.get('compiled') else ''}")
            print(f"| {shape} | {naive.get('tok_per_s', '—')} | {big.get('tok_per_s', '—')} "
                  f"| {hand.get('tok_per_s', '—')} | {eager.get('tok_per_s', '—') if r is ours else '—'} "
                  f"| {r['tok_per_s']} | {times} | {vs_hand} | {100 * r['mfu']:.1f}% | {cfg} "
                  f"| {r['peak_alloc_gib']} ({r['estimate_alloc_gib']}) | {r.get('syncs_per_step', '—')} |")


GRID = [  # (shape, method, r, rows, length, checkpointing): issue 17's range, on the compiled path plans run
    *[("qwen2.5-0.5b", "lora", r, b, n, c) for r, b, n, c in
      [(8, 1, 1024, False), (16, 2, 2048, False), (64, 2, 4096, False), (16, 4, 4096, True), (32, 8, 1024, False)]],
    *[("qwen2.5-0.5b", "qlora", r, b, n, c) for r, b, n, c in [(16, 1, 2048, False), (64, 2, 4096, True)]],
    *[("llama-1b", "lora", r, b, n, c) for r, b, n, c in
      [(8, 2, 1024, False), (16, 1, 2048, True), (32, 2, 4096, False), (64, 4, 2048, True)]],
    *[("llama-1b", "qlora", r, b, n, c) for r, b, n, c in [(16, 2, 2048, False), (32, 1, 4096, True)]],
    *[("llama-8b", "lora", r, b, n, c) for r, b, n, c in
      [(16, 1, 2048, False), (16, 2, 2048, False), (8, 1, 4096, True), (64, 2, 1024, False), (32, 4, 2048, True)]],
    *[("llama-8b", "qlora", r, b, n, c) for r, b, n, c in
      [(16, 1, 2048, True), (16, 2, 2048, False), (64, 1, 4096, True), (8, 4, 1024, False)]],
]


def grid(args) -> None:
    """Peak memory measured vs estimated on the GRID configurations, each in its own process, compiled."""
    name, memory, _ = gpu()
    print(f"# {name}, {memory:.0f} GiB; {versions()}", flush=True)
    shapes = set(args.shapes.split(","))
    out = [isolated({"shape": sh, "method": m, "r": r, "batch": b, "length": n, "checkpointing": c, "compile": True,
                     "label": "grid", "steps": WARM + 2}, args.tokenizer)
           for sh, m, r, b, n, c in GRID if sh in shapes]
    print("\n| shape | method | r | checkpointing | rows × length | compiled | measured device peak GiB | estimate GiB "
          "| error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in out:
        length = r.get("length", r.get("max_length"))
        head = f"| {r['shape']} | {r['method']} | {r['r']} | {r.get('checkpointing')} | {r['batch']} × {length}"
        if "device_peak_gib" not in r:
            print(f"{head} | | {'out of memory' if r.get('oom') else r.get('failed')} | | |")
            continue
        err = 100 * (r["estimate_peak_gib"] - r["device_peak_gib"]) / r["device_peak_gib"]
        print(f"{head} | {r['compiled']} | {r['device_peak_gib']} | {r['estimate_peak_gib']} | {err:+.1f}% |")


def profile(args) -> None:
    """The top CUDA kernels of three timed steps of each shape's planned (compiled) run."""
    for shape in args.shapes.split(","):
        isolated({"shape": shape, "label": "profile", "profile": True, "steps": WARM + 3}, args.tokenizer)


def smoke(args) -> None:
    """The speed path end to end on a CPU with a tiny model: plan → Tailor's trainer → RESULT line."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    with tempfile.TemporaryDirectory() as d:
        plan = planned("qwen2.5-0.5b", None, 80.0, "NVIDIA H100 80GB HBM3", Path(d))
    assert plan.training.packing, plan.reasons.get("training.packing")
    plan.resources.device, plan.training.precision = "cpu", "fp32"
    plan.training.batch_size, plan.training.max_length = 2, 512  # a CPU-sized step, packed as on the GPU
    assert plan.training.compile  # GPU plans compile; here eager (tests/test_train.py checks compiled = eager)
    plan.training.compile = False
    run_tailor("tiny", plan, tok, steps=WARM + 2, device="cpu", peak_tflops=1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("speed", "grid", "profile", "load", "smoke", "one"))
    ap.add_argument("--spec", help="(one) the configuration as JSON; what `isolated` passes its child")
    ap.add_argument("--tokenizer", help="tokenizer folder (default: the tests' SmolLM2 tokenizer, made on first use)")
    ap.add_argument("--shapes", default="qwen2.5-0.5b,llama-1b,llama-8b")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--no-baseline", action="store_true", help="Tailor's runs only")
    ap.add_argument("--quick", action="store_true", help="(speed) Tailor's planned run, the hand loop and TRL's "
                    "default-style run only: the issue's goal columns, for a short lease")
    args = ap.parse_args()
    if not args.tokenizer:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers import smol_tokenizer_dir

        args.tokenizer = str(smol_tokenizer_dir())
    {"speed": speed, "grid": grid, "profile": profile, "load": load, "smoke": smoke, "one": one}[args.what](args)


if __name__ == "__main__":
    main()
