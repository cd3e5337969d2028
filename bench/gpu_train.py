"""Training throughput and memory on a GPU: TRL's reference configurations beside Tailor's trainer, same run.

    python bench/gpu_train.py speed --tokenizer DIR   # TRL default-style, TRL packed, Tailor's planned run; 3 shapes
    python bench/gpu_train.py grid --tokenizer DIR    # estimator vs measured peak memory, 24 configurations
    python bench/gpu_train.py smoke                   # the same code on a CPU with a tiny model (what CI runs)

Workloads are the issue's: random-weight models of real architectures (Qwen2.5-0.5B, Llama-3.2-1B,
Llama-3.1-8B shapes, built from their configs), LoRA r=16 on all linear layers, rows of random token ids with
lognormal lengths (median about 245 tokens, 32 to 1,024; the generator of bench/trl_baseline.py, seed 0), loss on
every token. The baseline columns come from bench/trl_baseline.py (a verbatim copy of the reference script
shared with the issue), run as a subprocess in the same call. Tailor's column is recipe.trainer_class() with the
configuration the planner chooses for this GPU (packing, tokens per step, checkpointing, dropout, LoRA/QLoRA), the
planner fed a chat file with the same length distribution.

Each run prints one `RESULT {json}` line; the command ends with a Markdown table. Throughput counts real (non-pad)
tokens between the end of step 3 and the last step, with one synchronisation at each end. MFU counts
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATALOG_NAME = {"qwen2.5-0.5b": "Qwen2.5-0.5B-Instruct", "llama-1b": "Llama-3.2-1B-Instruct",
                "llama-8b": "Llama-3.1-8B-Instruct", "tiny": None}
WARM = 3


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


def build_model(shape: str, method: str, vocab: int, device: str):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    cfg = config(shape, vocab)
    if device == "cpu":
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="sdpa")
    if method == "qlora":  # a random bf16 model saved once, reloaded 4-bit (bitsandbytes quantizes at load)
        path = Path(tempfile.gettempdir()) / f"tailor-bench-{shape}"
        if not (path / "config.json").exists():
            AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(path)
        q = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        return AutoModelForCausalLM.from_pretrained(
            path, quantization_config=q, dtype=torch.bfloat16, device_map={"": 0}, attn_implementation="sdpa"
        )
    with torch.device("cuda"):
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")


def flops_per_token(s, rows: list[dict]) -> float:
    """4·N (the decoder's weights and the LM head; the input embedding is a lookup) + causal attention."""
    from assistant.models.estimate import param_count

    n = param_count(s) - (0 if s.tied else s.vocab * s.hidden)
    lens = [len(r["input_ids"]) for r in rows]
    attention = 6 * s.hidden * s.layers * sum(x * x for x in lens) / sum(lens)
    return 4 * n + attention


def run_tailor(shape: str, plan, tok, *, steps: int, device: str, peak_tflops: float, label: str = "tailor") -> dict:
    """Tailor's trainer with the plan's configuration on the shared synthetic rows; one RESULT line."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig

    from assistant.models.estimate import estimate_memory
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
    clock: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **k):
            if state.global_step in (WARM, steps):
                if cuda:
                    torch.cuda.synchronize()
                clock[state.global_step] = time.time()

    trainer.add_callback(Clock())
    trainer.train()
    seconds = clock[steps] - clock[WARM]
    tokens_per_step = sum(counts) / len(counts) * t.gradient_accumulation
    tok_s = tokens_per_step * (steps - WARM) / seconds
    est = estimate_memory(
        s,
        method=plan.lora.method,
        r=plan.lora.r,
        batch_size=t.batch_size,
        seq_len=t.max_length,
        gradient_checkpointing=t.gradient_checkpointing,
        device=device,
        dropout=plan.lora.dropout,
    )
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


def run_baseline(specs: list[str], tokenizer: str) -> list[dict]:
    """bench/trl_baseline.py in a subprocess (its own process: its memory and CUDA state stay its own)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "trl_baseline.py"), *specs],
        text=True,
        capture_output=True,
        env={**os.environ, "TOKENIZER_DIR": tokenizer},
    )
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    for line in proc.stdout.splitlines():
        if line.startswith(("FAILED", "torch", "transformers", "peft", "trl", "bitsandbytes")):
            print("baseline:", line, flush=True)
    if proc.returncode:
        print(proc.stderr[-3000:], flush=True)
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
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    name, memory, tflops = gpu()
    print(f"# {name}, {memory:.0f} GiB; {versions()}", flush=True)
    rows = []
    for shape in args.shapes.split(","):
        modes = [f"{shape}:lora:naive"] + ([] if shape == "llama-8b" else [f"{shape}:lora:big8"])
        base = {r["mode"]: r for r in run_baseline(modes, args.tokenizer)} if not args.no_baseline else {}
        with tempfile.TemporaryDirectory() as d:
            plan = planned(shape, None, memory, name, Path(d))
            ours = run_tailor(shape, plan, tok, steps=args.steps, device="cuda", peak_tflops=tflops)
            q = None
            if shape == "llama-8b":
                qplan = planned(shape, "qlora", memory, name, Path(d))
                q = run_tailor(
                    shape, qplan, tok, steps=args.steps, device="cuda", peak_tflops=tflops, label="tailor-qlora"
                )
        rows.append((shape, base, ours, q))
    print(
        "\n| shape | TRL default-style | TRL packed 8×2,048 | Tailor (planned) | × default | MFU "
        "| Tailor's configuration | peak GiB (est.) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for shape, base, ours, q in rows:
        naive, big = base.get("naive", {}), base.get("big8", {})
        times = f"{ours['tok_per_s'] / naive['tok_per_s']:.1f}×" if naive else "—"
        for r in [ours] + ([q] if q else []):
            cfg = (
                f"{r['method']}, {'packed ' if r['packing'] else ''}{r['batch']}×{r['max_length']}"
                f"{' ×' + str(r['accumulation']) if r['accumulation'] > 1 else ''}"
                f"{', checkpointing' if r['checkpointing'] else ''}"
            )
            print(
                f"| {shape} | {naive.get('tok_per_s', '—')} | {big.get('tok_per_s', '—')} | {r['tok_per_s']} | {times} "
                f"| {100 * r['mfu']:.1f}% | {cfg} | {r['peak_alloc_gib']} ({r['estimate_alloc_gib']}) |"
            )


def grid(args) -> None:
    """Peak memory measured vs estimated: 3 shapes × LoRA/QLoRA × checkpointing on/off × 1 or 4 packed rows."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    name, memory, tflops = gpu()
    print(f"# {name}, {memory:.0f} GiB; {versions()}", flush=True)
    out = []
    with tempfile.TemporaryDirectory() as d:
        for shape in args.shapes.split(","):
            plan = planned(shape, None, memory, name, Path(d))
            for method in ("lora", "qlora"):
                for ckpt in (False, True):
                    for batch in (1, 4):
                        plan.lora.method, plan.lora.dropout = method, 0.0
                        t = plan.training
                        t.packing, t.max_length, t.batch_size, t.gradient_accumulation = True, 2048, batch, 1
                        t.gradient_checkpointing, t.precision = ckpt, "bf16"
                        try:
                            r = run_tailor(
                                shape, plan, tok, steps=WARM + 2, device="cuda", peak_tflops=tflops, label="grid"
                            )
                        except torch.cuda.OutOfMemoryError:
                            r = dict(shape=shape, method=method, checkpointing=ckpt, batch=batch, oom=True)
                            print("RESULT", json.dumps(r), flush=True)
                            torch.cuda.empty_cache()
                        out.append(r)
    print("\n| shape | method | checkpointing | rows × 2,048 | measured device peak GiB | estimate GiB | error |")
    print("|---|---|---|---|---|---|---|")
    for r in out:
        if r.get("oom"):
            print(f"| {r['shape']} | {r['method']} | {r['checkpointing']} | {r['batch']} | out of memory | | |")
            continue
        err = 100 * (r["estimate_peak_gib"] - r["device_peak_gib"]) / r["device_peak_gib"]
        print(
            f"| {r['shape']} | {r['method']} | {r['checkpointing']} | {r['batch']} | {r['device_peak_gib']} "
            f"| {r['estimate_peak_gib']} | {err:+.1f}% |"
        )


def smoke(args) -> None:
    """The speed path end to end on a CPU with a tiny model: plan → Tailor's trainer → RESULT line."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    with tempfile.TemporaryDirectory() as d:
        plan = planned("qwen2.5-0.5b", None, 80.0, "NVIDIA H100 80GB HBM3", Path(d))
    assert plan.training.packing, plan.reasons.get("training.packing")
    plan.resources.device, plan.training.precision = "cpu", "fp32"
    plan.training.batch_size, plan.training.max_length = 2, 512  # a CPU-sized step, packed as on the GPU
    run_tailor("tiny", plan, tok, steps=WARM + 2, device="cpu", peak_tflops=1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("speed", "grid", "smoke"))
    ap.add_argument("--tokenizer", help="tokenizer folder (default: the tests' SmolLM2 tokenizer, made on first use)")
    ap.add_argument("--shapes", default="qwen2.5-0.5b,llama-1b,llama-8b")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--no-baseline", action="store_true", help="Tailor's runs only")
    args = ap.parse_args()
    if not args.tokenizer:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers import smol_tokenizer_dir

        args.tokenizer = str(smol_tokenizer_dir())
    {"speed": speed, "grid": grid, "smoke": smoke}[args.what](args)


if __name__ == "__main__":
    main()
