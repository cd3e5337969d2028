"""Batch evaluation speed: base + 4 adapters answer held-out reviews, one example per call vs many per call.

    .venv/bin/python bench/evaluation.py [--examples 20] [--tokens 32] [--repeat 1]
    python bench/evaluation.py --random-shape Qwen2.5-0.5B-Instruct --examples 500 --tokens 64   # a GPU machine

The embedded SmolLM2-135M-Instruct (or a random-weight catalog shape) with four registered LoRA adapters
(`side_by_side.bench_adapters`), asked to classify realistic product reviews. Every answer is forced to the
same length (min_new_tokens = max_new_tokens), so both schedules generate exactly the same tokens:

- one example per call: the five models answer one example in a 5-row batch (what `evaluate` did before);
- as many as fit: `evaluate`'s schedule now, as many rows per call as `Engine.rows_per_call` allows.

The two alternate within each repeat (the same machine state for both); examples/s, generated tokens/s, the
speed-up and how many answers are identical between the two are printed. Goal (issue 18): at least 2x on
this 2-core CPU; on an H100 at least 50 examples/s with 64-token answers. Where the engine decodes with a
static cache and a compiled step (a GPU), the packed schedule is also timed with eager decoding.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from review_data import reviews
from side_by_side import bench_engine, eager_decoding, engine_arguments


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-single", action="store_true", help="only the packed schedule (long GPU runs)")
    engine_arguments(ap)
    args = ap.parse_args()
    from assistant.evaluate.run import evaluate
    from assistant.serve.engine import GenerationSettings

    engine, models = bench_engine(args)
    system = "Classify the review's sentiment: answer positive or negative."
    examples = [{"messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
                 "reference": label} for text, label in reviews(max(args.examples, 1))][:args.examples]
    settings = GenerationSettings(max_new_tokens=args.tokens, extra={"min_new_tokens": args.tokens})
    warm = time.perf_counter()
    if engine.decode_compile is not None:  # load, and compile the packed calls' step (one shape a run)
        evaluate(engine, models, examples, ["accuracy"], GenerationSettings(max_new_tokens=2))
    else:  # load, warm up
        evaluate(engine, models, examples[:2], ["accuracy"], GenerationSettings(max_new_tokens=2))
    warm = time.perf_counter() - warm

    def timed(rows, eager=False):
        t = time.perf_counter()
        with eager_decoding(engine) if eager else contextlib.nullcontext():
            run = evaluate(engine, models, examples, ["accuracy"], settings, rows_per_call=rows)
        return time.perf_counter() - t, run

    packed_rows = engine.rows_per_call(args.tokens + 96)
    from torch._dynamo.utils import counters

    counters.clear()  # graphs compiled from here on: each evaluation's calls share one shape, so none
    n = len(examples)
    # Each run's figure as soon as it is measured: a part stopped by the GPU session's clock keeps what finished.
    compiling = ", compiling the decoding step" if engine.decode_compile is not None else ""
    print(f"warm-up evaluation: {warm:.1f} s (loading{compiling})", flush=True)
    single, packed, same, eager, same_eager = [], [], [], [], []
    for _ in range(args.repeat):
        dt, many = timed(None)
        packed.append(dt)
        print(f"  run {len(packed)}, as many as fit: {dt:.2f} s, {n / dt:.2f} examples/s", flush=True)
        if engine.decode_compile is not None:
            dt, plain = timed(None, eager=True)
            eager.append(dt)
            same_eager.append(sum(a == b for a, b in zip(plain["examples"], many["examples"])))
            print(f"  run {len(eager)}, eager decoding: {dt:.2f} s, {n / dt:.2f} examples/s", flush=True)
        if not args.skip_single:
            dt, one = timed(len(models))
            single.append(dt)
            same.append(sum(a == b for a, b in zip(one["examples"], many["examples"])))
    tokens = n * len(models) * args.tokens
    device = (f"cuda {torch.cuda.get_device_name(0)}" if engine.model.device.type == "cuda"
              else f"cpu ({torch.get_num_threads()} threads)")
    print(f"{args.random_shape or args.base} on {device}, torch {torch.__version__}; base + 4 adapters, "
          f"{n} examples, {args.tokens} new tokens each, median of {args.repeat}")
    p = statistics.median(packed)
    print(f"  as many as fit ({packed_rows} rows a call): {p:.2f} s  {n / p:.2f} examples/s  {tokens / p:.0f} tokens/s")
    if single:
        s = statistics.median(single)
        print(f"  one example per call (5 rows)   : {s:.2f} s  {n / s:.2f} examples/s  {tokens / s:.0f} tokens/s")
        print(f"  speed-up: {s / p:.2f}x (goal: at least 2x on a CPU); identical answers: {min(same)}/{n} examples")
    if eager:
        e = statistics.median(eager)
        print(f"  as many as fit, eager decoding  : {e:.2f} s  {n / e:.2f} examples/s  {tokens / e:.0f} tokens/s")
        print(f"  static cache + compiled step: {e / p:.2f}x the eager path; identical answers: {min(same_eager)}/{n} "
              f"examples ({engine.decode_note or 'no fallback'})")
        print(f"  decoding steps compiled during the timed runs: {counters['stats']['unique_graphs']} (goal: 0, one "
              "shape per evaluation)")


if __name__ == "__main__":
    main()
