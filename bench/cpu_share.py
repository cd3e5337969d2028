"""A CPU training job and the engine answering at the same time, with and without sharing the cores.

    .venv/bin/python bench/cpu_share.py [--rows 200] [--tokens 32]

The embedded SmolLM2-135M-Instruct: the engine (in this process) answers side-by-side calls — the base and four
LoRA adapters, `--tokens` new tokens each — in a loop, while a real training job of the same base (`tailor
train`, planned from words on product reviews, one epoch) runs in its worker process. Four runs, each job
trained afresh:

- the engine alone (seconds a call), the job alone (the trainer's `train_seconds`);
- both at once with the cores shared (`machine.CpuShare`, the default), and with `TAILOR_CPU_SHARE=0` (each
  takes every core, as before the sharing).

Prints a table of the job's training seconds and the engine's seconds a call (the calls that ended while the
job trained), and each against its time alone. Takes about 13 minutes on the 2-core machine
(most of it the run without sharing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review_data import write_reviews  # noqa: E402
from side_by_side import bench_engine, engine_arguments  # noqa: E402


def plan_job(home: Path, rows: int) -> Path:
    data = write_reviews(home / "reviews.csv", rows)
    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_PLUGINS": "none"}
    planned = subprocess.run([sys.executable, "-m", "ui.cli", "plan", "--json", "--gpu-memory", "0", "--data",
                              str(data), "classify these reviews by sentiment", "train 1 epoch"],
                             capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    plan_file = home / "plan.json"
    plan_file.write_text(planned.stdout)
    return plan_file


def train(home: Path, plan_file: Path, share: bool, run: int) -> tuple[float, float, float]:
    """Train the plan afresh (its own adapter name); (train_seconds, started, ended) by the wall clock."""
    plan = json.loads(plan_file.read_text())
    plan["plan"]["name"] = name = f"{plan['plan']['name']}-{run}"
    one = home / f"plan-{run}.json"
    one.write_text(json.dumps(plan))
    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_PLUGINS": "none", "TAILOR_CPU_SHARE": "1" if share else "0"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ui.cli", "train", str(one)], capture_output=True, text=True, env=env,
                   cwd=ROOT, check=True)
    ended = time.perf_counter()
    shown = subprocess.run([sys.executable, "-m", "ui.cli", "adapters", "show", name], capture_output=True,
                           text=True, env=env, cwd=ROOT, check=True)
    return json.loads(shown.stdout)["metrics"]["final"]["train_seconds"], started, ended


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200, help="training rows (product reviews)")
    ap.add_argument("--tokens", type=int, default=32, help="new tokens each side of a call")
    engine_arguments(ap)
    args = ap.parse_args()
    args.home = args.home or tempfile.mkdtemp(prefix="tailor-share-")
    os.environ["TAILOR_CACHE"] = str(Path(args.home) / "cache")  # markers of this bench's processes only
    from assistant.machine import cores
    from assistant.serve.engine import GenerationSettings

    engine, models = bench_engine(args)
    home = Path(args.home)
    settings = GenerationSettings(max_new_tokens=args.tokens, extra={"min_new_tokens": args.tokens})
    prompt = "Is this review positive or negative? The blender stopped working after a week."
    engine.side_by_side(prompt, models, settings)  # warm up

    def calls(stop: threading.Event, out: list[tuple[float, float]]) -> None:
        while not stop.is_set():
            t = time.perf_counter()
            engine.side_by_side(prompt, models, settings)
            out.append((t, time.perf_counter()))

    alone_calls = []
    for _ in range(5):
        t = time.perf_counter()
        engine.side_by_side(prompt, models, settings)
        alone_calls.append(time.perf_counter() - t)
    engine_alone = statistics.median(alone_calls)
    plan_file = plan_job(home, args.rows)
    train_alone, _, _ = train(home, plan_file, True, 0)
    print(f"{cores()} cores; torch threads alone: engine {engine.cpu_threads}; base + {len(models) - 1} adapters, "
          f"{args.tokens} tokens a side; {args.rows} training rows, 1 epoch")
    print("| run | training (s) | × alone | engine call (s, median) | × alone | engine calls during training |")
    print("|---|---|---|---|---|---|")
    print(f"| alone | {train_alone:.1f} | 1.00 | {engine_alone:.2f} | 1.00 | — |", flush=True)
    for run, share in ((1, True), (2, False)):
        os.environ["TAILOR_CPU_SHARE"] = "1" if share else "0"
        out: list[tuple[float, float]] = []
        stop = threading.Event()
        loop = threading.Thread(target=calls, args=(stop, out), daemon=True)
        loop.start()
        seconds, started, ended = train(home, plan_file, share, run)
        stop.set()
        loop.join()
        during = [b - a for a, b in out if a >= started and b <= ended]
        call = statistics.median(during) if during else float("nan")
        print(f"| both, {'shared' if share else 'not shared (TAILOR_CPU_SHARE=0)'} | {seconds:.1f} | "
              f"{seconds / train_alone:.2f} | {call:.2f} | {call / engine_alone:.2f} | {len(during)} |", flush=True)


if __name__ == "__main__":
    main()
