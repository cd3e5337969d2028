"""Registry speed at scale: list, search and show with 10,000 adapters registered. Goal: each under 50 ms.

    .venv/bin/python bench/registry_scale.py [--adapters 10000] [--repeat 30]

Rows are registered through the Registry API (bulk, in one transaction) with realistic names, descriptions,
tasks, tags, metrics, plans and jobs; no weight files are needed to time the database. Each operation is timed
including opening a fresh `Registry` connection, as a CLI call would do it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from assistant.config import Home
from assistant.registry import Registry

TASKS = ["classification", "extraction", "summarization", "translation", "qa", "chat", "code", "rewriting"]
WORDS = ("support ticket review invoice contract legal medical news sport finance email chat product kitchen "
         "hotel airline bank insurance recipe travel weather music school science code sql python").split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapters", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(0)
    home = Home.resolve(Path(tempfile.mkdtemp(prefix="tailor-registry-bench-")))
    reg = Registry(home)
    t = time.perf_counter()
    plan_ids = [reg.add_plan(json.dumps({"name": f"p{i}"}), ["classify my reviews"]) for i in range(200)]
    job_ids = [reg.submit_job(p) for p in plan_ids]
    records = []
    for i in range(args.adapters):
        words = rng.sample(WORDS, 5)
        name = f"{words[0]}-{words[1]}-{i // 3}"
        records.append(
            {
                "name": name,
                "version": i % 3 + 1,
                "task": rng.choice(TASKS),
                "description": " ".join(rng.sample(WORDS, 8)),
                "base_model": rng.choice(["SmolLM2-135M-Instruct", "Qwen2.5-7B-Instruct"]),
                "base_source": "x",
                "path": f"adapters/{name}/{i % 3 + 1}",
                "weights_sha256": f"{i:064x}",
                "size_bytes": 1000,
                "plan_id": rng.choice(plan_ids),
                "job_id": rng.choice(job_ids),
                "metrics": {"accuracy": round(rng.random(), 4), "eval_loss": round(rng.random() * 3, 4)},
                "library_versions": {},
            }
        )
    reg.add_adapters(records)
    for aid in rng.sample(range(1, args.adapters + 1), args.adapters // 10):
        reg.tag(aid, [rng.choice(["production", "candidate", "experiment", "zh", "en"])])
    reg.set_alias("production", 1234)
    print(
        f"registered {reg.count_adapters():,} adapters in {time.perf_counter() - t:.1f} s "
        f"({home.db_path.stat().st_size / 1e6:.1f} MB)"
    )

    ops = {
        "list (newest 50)": lambda r: r.search(limit=50),
        "list --task qa --sort accuracy": lambda r: r.search(task="qa", sort="accuracy", limit=50),
        "list --tag production": lambda r: r.search(tag="production", limit=50),
        "search 'hotel invoice'": lambda r: r.search("hotel invoice", limit=50),
        "search 'legal' --sort accuracy": lambda r: r.search("legal", sort="accuracy", limit=50),
        "show name (lineage)": lambda r: r.lineage(r.adapter(records[7777 % len(records)]["name"]).id),
        "show alias (lineage)": lambda r: r.lineage(r.adapter("production").id),
    }
    worst = 0.0
    for label, op in ops.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = op(Registry(home))  # opening the database (and its schema check) is part of the cost
            times.append((time.perf_counter() - t) * 1000)
            assert result
        worst = max(worst, max(times))
        print(f"  {label:<34} median {statistics.median(times):6.2f} ms   max {max(times):6.2f} ms")
    print(f"worst case {worst:.1f} ms (goal: under 50 ms)")


if __name__ == "__main__":
    main()
