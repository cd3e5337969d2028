"""Side by side in one batched call vs five separate calls: base + 4 adapters, same prompt, greedy.

    .venv/bin/python bench/side_by_side.py [--tokens 64] [--repeat 3] [--base SmolLM2-135M-Instruct]
    python bench/side_by_side.py --random-shape Qwen2.5-0.5B-Instruct    # on a GPU machine (no weights there)

Uses the embedded SmolLM2-135M-Instruct (converted once into the bench's data home) with four LoRA adapters
(r=16 on all linear layers, random non-zero weights — speed does not depend on what they learned),
registered as usual. Every answer is forced to the same length (min_new_tokens = max_new_tokens) so both
ways generate exactly the same number of tokens. Goal: the batched call at least 2.5× faster.

Where the engine decodes with a static cache and a compiled step (a GPU), the batched call is also timed with
eager decoding in the same run: the speed-up and how many of the five answers are identical are printed
(issue 18's goal: at least 1,000 tokens/s in all for the 0.5B shape on an H100). On a GPU it is also timed with
the stop flag read every step, beside the default read a step late (`kernels.deferred_stop`). On that path a single
call is padded to the five rows of the interactive shape (`serve/shapes.py`), as a person's call of one model is,
so the five single calls there measure what asking one model at a time costs, not a one-row step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def random_base(name: str) -> str:
    """A folder holding a random-weight model of a catalog shape (vocabulary cut to the tokenizer's)."""
    import sys

    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from assistant.models.catalog import find

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import smol_tokenizer_dir

    s = find(name).shape
    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    folder = Path(tempfile.mkdtemp(prefix="tailor-random-base-"))
    cfg = LlamaConfig(hidden_size=s.hidden, intermediate_size=s.intermediate, num_hidden_layers=s.layers,
                      num_attention_heads=s.heads, num_key_value_heads=s.kv_heads, vocab_size=len(tok),
                      tie_word_embeddings=s.tied, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def bench_adapters(reg, base: str, count: int = 4) -> list[str]:
    """`count` registered LoRA adapters on `base` (r=16, all linear layers, random non-zero weights; speed does
    not depend on what they learned), made once per data home. Returns their names."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from assistant.models.resolve import resolve_source
    from assistant.registry.store import store_adapter

    base_path = resolve_source(base, reg.home.models)
    names = []
    for i in range(count):
        name = f"bench-{i}"
        if reg.adapter(name) is None:
            torch.manual_seed(i)
            model = AutoModelForCausalLM.from_pretrained(base_path)
            peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                    init_lora_weights=False, task_type="CAUSAL_LM"))
            out = Path(tempfile.mkdtemp()) / name
            peft.save_pretrained(out)
            store_adapter(reg, out, {"name": name, "task": {"type": "chat", "instruction": "You are helpful."}},
                          job_id=None, plan_id=None, base_hub_id=base, base_source=base_path, metrics={},
                          log_file=None)
        names.append(name)
    return names


def engine_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every serving bench takes: which base, which data home."""
    ap.add_argument("--base", default="SmolLM2-135M-Instruct")
    ap.add_argument("--home", help="data home (default: a temporary one; the base is converted there once)")
    ap.add_argument("--random-shape", help="serve a random-weight model of this catalog shape instead (e.g. "
                    "Qwen2.5-0.5B-Instruct, for a GPU machine without weights), with the SmolLM2 tokenizer")
    ap.add_argument("--static-on-cpu", action="store_true", help="on a CPU, decode with the GPU's path too (a "
                    "static cache and a step compiled by TorchInductor, without CUDA graphs), beside the eager path")


def bench_engine(args):
    """A started engine (on the GPU where there is one) serving the base and four bench adapters:
    (engine, [None, *adapter names])."""
    if args.random_shape:
        args.base = random_base(args.random_shape)

    from assistant.config import Home
    from assistant.registry import Registry
    from assistant.serve.engine import Engine

    if args.static_on_cpu:  # TorchInductor cannot compile through oneDNN's prepacked weights
        os.environ["TAILOR_CPU_PACK"] = "0"
    reg = Registry(Home.resolve(args.home or tempfile.mkdtemp(prefix="tailor-bench-")))
    names = bench_adapters(reg, args.base)
    engine = Engine(reg, args.base)
    engine.start().result()
    engine.wait_ready()
    if args.static_on_cpu and engine.decode_compile is None:
        from transformers import CompileConfig

        engine.decode_compile = CompileConfig(mode=None)
        engine.decode_compile._compile_all_devices = True
    return engine, [None, *names]


@contextlib.contextmanager
def eager_decoding(engine):
    """The engine decoding eagerly (a dynamic cache, no compiled step) inside the block."""
    kept = engine.decode_compile
    engine.decode_compile = None
    try:
        yield
    finally:
        engine.decode_compile = kept


@contextlib.contextmanager
def stop_read_every_step(engine):
    """The engine's decoding reading its stop flag after every step (not a step late) inside the block."""
    engine.defer_stop = False
    try:
        yield
    finally:
        engine.defer_stop = True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    engine_arguments(ap)
    args = ap.parse_args()
    from assistant.serve.engine import GenerationSettings
    from assistant.serve.kernels import DEFER_STOP_ON

    engine, models = bench_engine(args)
    s = GenerationSettings(max_new_tokens=args.tokens, extra={"min_new_tokens": args.tokens})
    prompt = "Write a short note to a colleague about tomorrow's meeting."
    warm = time.perf_counter()
    engine.side_by_side(prompt, models, GenerationSettings(max_new_tokens=4))  # load adapters, warm up
    for m in models:
        engine.side_by_side(prompt, [m], GenerationSettings(max_new_tokens=4))
    # Each figure as soon as it is measured: a part stopped by the GPU session's clock keeps what finished.
    print(f"warm-up: {time.perf_counter() - warm:.1f} s (loading adapters"
          f"{', compiling the decoding step' if engine.decode_compile is not None else ''})", flush=True)
    batched, separate = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        answers = engine.side_by_side(prompt, models, s)
        batched.append(time.perf_counter() - t)
        assert all(a.tokens == args.tokens for a in answers), [a.tokens for a in answers]
        print(f"  run {len(batched)}, one batched call: {batched[-1]:.2f} s "
              f"({5 * args.tokens / batched[-1]:.0f} tokens/s in all)", flush=True)
        t = time.perf_counter()
        for m in models:
            engine.side_by_side(prompt, [m], s)
        separate.append(time.perf_counter() - t)
        print(f"  run {len(separate)}, five single calls: {separate[-1]:.2f} s", flush=True)
    b, sep = statistics.median(batched), statistics.median(separate)
    device = (
        "cuda " + torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(
        f"{args.base} on {device}, torch {torch.__version__}; base + 4 adapters, {args.tokens} new tokens each, "
        f"median of {args.repeat}"
    )
    print(f"  one batched call : {b:.2f} s  ({5 * args.tokens / b:.0f} tokens/s in all)")
    print(f"  five single calls: {sep:.2f} s  ({5 * args.tokens / sep:.0f} tokens/s in all)")
    print(f"  speed-up: {sep / b:.2f}x (goal: at least 2.5x)")
    def batched_call(mode) -> tuple[float, list]:
        """The batched call `args.repeat` times under `mode`: (median seconds, the last call's answers)."""
        took = []
        with mode:
            for _ in range(args.repeat):
                t = time.perf_counter()
                out = engine.side_by_side(prompt, models, s)
                took.append(time.perf_counter() - t)
        return statistics.median(took), out

    if engine.decode_compile is not None:  # static cache + compiled step: the eager path beside it
        e, plain = batched_call(eager_decoding(engine))
        same = sum(a.text == p.text for a, p in zip(answers, plain))
        print(f"  one batched call, eager decoding: {e:.2f} s  ({5 * args.tokens / e:.0f} tokens/s in all)")
        print(f"  static cache + compiled step: {e / b:.2f}x the eager path; identical answers: {same}/5 "
              f"({engine.decode_note or 'no fallback'})")
    if engine.placed in DEFER_STOP_ON:  # the stop flag read a step late (the default there) vs every step
        w, plain = batched_call(stop_read_every_step(engine))
        same = sum(a.text == p.text for a, p in zip(answers, plain))
        print(f"  one batched call, stop flag read every step: {w:.2f} s  ({5 * args.tokens / w:.0f} tokens/s); "
              f"read a step late (kernels.deferred_stop): {w / b:.2f}x; identical answers: {same}/5")

if __name__ == "__main__":
    main()
