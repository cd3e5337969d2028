"""CPU demo run: the embedded SmolLM2-135M-Instruct, 200 short examples, 1 epoch, batch 8, start to registered adapter.

    .venv/bin/python bench/cpu_demo.py [--rows 200] [--home /tmp/tailor-bench]

Prints a table: wall time from submit to registered adapter, training time, steps, seconds per step,
tokens per second. The first run converts the embedded GGUF once (not counted: it happens before submit).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from assistant.chat import converse
from assistant.config import Home
from assistant.models.resolve import ensure_embedded
from assistant.registry import Registry
from assistant.train import jobs

LABELS = {"sports": ["goal", "match", "team"], "weather": ["rain", "sunny", "storm"],
          "food": ["pizza", "bread", "soup"], "music": ["song", "guitar", "piano"]}


def write_data(path: Path, rows: int) -> Path:
    rng = random.Random(0)
    lines = ["text,label"]
    for i in range(rows):
        label = list(LABELS)[i % 4]
        lines.append(
            f"I saw the {rng.choice(LABELS[label])} today and it was {rng.choice(['good', 'odd', 'new'])},{label}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--home", default="/tmp/tailor-bench")
    args = ap.parse_args()
    home = Home.resolve(args.home)
    ensure_embedded(home.models)
    data = write_data(home.root / "topics.csv", args.rows)
    plan = converse(["classify these sentences by topic"], str(data)).plan
    plan.training.epochs, plan.training.batch_size, plan.data.validation_fraction = 1.0, 8, 0.0
    reg = Registry(home)
    t0 = time.time()
    job_id = jobs.submit(reg, plan)
    while (job := reg.job(job_id))["status"] in ("queued", "running"):
        time.sleep(0.5)
    wall = time.time() - t0
    if job.status != "succeeded":
        print(job, reg.logs(job_id), file=sys.stderr)
        return 1
    rec = reg.adapter_by_id(job.adapter_id)
    tps = [m["tokens_per_second"] for m in reg.metrics(job_id) if m["tokens_per_second"]]
    train_s = rec.metrics["train_seconds"]
    print("| rows | steps | start → registered adapter (s) | training (s) | s/step | tokens/s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.rows} | {job.step} | {wall:.1f} | {train_s:.1f} | {train_s / max(1, job.step):.2f} | "
        f"{tps[-1] if tps else 0:.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
