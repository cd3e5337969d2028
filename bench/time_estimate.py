"""Estimated vs measured training time on this machine, for plans the assistant makes with the embedded model.

    .venv/bin/python bench/time_estimate.py [--only NAME] [--load N]

Each configuration is planned from words (`tailor plan --json --data FILE "..."`), trained with `tailor train`
in its own data home (a fresh process each), and the plan's `resources.estimated_minutes` is set beside the
run's measured `train_seconds` (the trainer's loop: no model loading, no final evaluation). Prints a table;
the ratio column is what `models/estimate.py` is calibrated with (within ±30% is the goal). The plan's CPU rate is
measured (`models/cpu_speed.py`); the probe column is the same measurement taken by the bench just before
planning, and the geometric mean of the ratios fits `cpu_speed.TRAIN_SHARE` (multiply the current share by it).
`--load N` keeps N busy processes running through everything (planning and training): a slower machine, to show
the estimate follows the machine's speed. `--rate G` plans every configuration at G GFLOP/s instead (the probe's
noise left out): the ratios then compare how each configuration's FLOPs are counted, e.g. a chat's long answers
against a classification's one-word labels.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.models.cpu_speed import TRAIN_SHARE, matmul_gflops  # noqa: E402

WORDS = ("the phone battery screen camera arrived broken great slow fast love hate price support delivery box "
         "quality sound works again never always really good bad").split()
CONFIGS = {
    # name: (rows, words per text (min, max), labels, extra turns)
    "short-200": (200, (6, 20), ["positive", "negative"], ["train 1 epoch"]),
    "medium-200": (200, (40, 90), ["positive", "negative", "neutral"], ["train 1 epoch"]),
    "long-100": (100, (150, 260), ["positive", "negative"], ["train 1 epoch"]),
    "short-300x3": (300, (6, 20), ["positive", "negative"], []),
    # a chat: every answer token is trained, so the LM head's cost is part of every answer token's
    "chat-80": (80, (60, 120), None, ["train 1 epoch"]),
}
RATE = None
TASKS = {"classify": "classify these reviews by sentiment",
         "chat": "build a support assistant that answers customers the way these conversations do"}


def write_data(path: Path, rows: int, span: tuple[int, int], labels: list[str] | None, seed: int = 0) -> Path:
    rng = random.Random(seed)
    if labels is None:  # conversations: a short question, an answer of `span` words
        path.write_text("".join(json.dumps({"messages": [
            {"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(8, 20))) + "?"},
            {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=rng.randint(*span))) + "."}]}) + "\n"
            for _ in range(rows)))
        return path
    path.write_text("text,label\n" + "".join(
        f"{' '.join(rng.choices(WORDS, k=rng.randint(*span)))},{labels[i % len(labels)]}\n" for i in range(rows)))
    return path


def run(name: str, work: Path) -> dict:
    rows, span, labels, turns = CONFIGS[name]
    home = work / name
    home.mkdir(parents=True)
    data = write_data(work / (f"{name}.csv" if labels else f"{name}.jsonl"), rows, span, labels)
    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_PLUGINS": "none"}
    env.pop("TAILOR_CPU_GFLOPS", None)  # the plan measures this CPU, as a user's would,
    if RATE:  # unless the rate is fixed: then the ratios compare the configurations' FLOP counts alone
        env["TAILOR_CPU_GFLOPS"] = str(RATE)
    env["TAILOR_CACHE"] = str(work / "cache")  # afresh in each bench run (not the best of the last half hour's)
    cli = [sys.executable, "-m", "ui.cli"]
    probe = matmul_gflops()
    planned = subprocess.run([*cli, "plan", "--json", "--gpu-memory", "0", "--data", str(data),
                              TASKS["classify" if labels else "chat"], *turns],
                             capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    plan_file = home / "plan.json"
    plan_file.write_text(planned.stdout)
    plan = json.loads(planned.stdout)["plan"]
    subprocess.run([*cli, "train", str(plan_file)], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    adapter = json.loads(subprocess.run([*cli, "adapters", "show", plan["name"]], capture_output=True, text=True,
                                        env=env, cwd=ROOT, check=True).stdout)
    seconds = adapter["metrics"]["final"]["train_seconds"]
    t = plan["training"]
    return {"name": name, "rows": rows, "epochs": t["epochs"], "tokens_p95": plan["data"]["tokens"]["p95"],
            "max_length": t["max_length"], "estimated_s": plan["resources"]["estimated_minutes"] * 60,
            "measured_s": seconds, "probe": probe}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", choices=list(CONFIGS))
    ap.add_argument("--load", type=int, default=0, help="busy processes to run beside everything")
    ap.add_argument("--rate", type=float, help="plan every configuration at this GFLOP/s instead of measuring: "
                    "the ratios then differ only by how well each configuration's FLOPs are counted")
    args = ap.parse_args()
    global RATE
    RATE = args.rate
    work = Path(tempfile.mkdtemp(prefix="tailor-time-"))
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        print(f"CPU train share {TRAIN_SHARE}; {args.load} busy processes beside")
        print("| configuration | rows | epochs | tokens p95 | max length | probe GFLOP/s | estimated | measured | "
              "estimate / measured |")
        print("|---|---|---|---|---|---|---|---|---|")
        ratios = []
        for name in args.only or CONFIGS:
            r = run(name, work)
            ratios.append(r["estimated_s"] / r["measured_s"])
            print(f"| {r['name']} | {r['rows']} | {r['epochs']:g} | {r['tokens_p95']} | {r['max_length']} | "
                  f"{r['probe']:.0f} | {r['estimated_s']:.0f} s | {r['measured_s']:.0f} s | {ratios[-1]:.2f} |",
                  flush=True)
        print(f"geometric mean of estimate / measured: {math.prod(ratios) ** (1 / len(ratios)):.3f}")
    finally:
        for h in hogs:
            h.kill()


if __name__ == "__main__":
    main()
