"""Estimated vs measured training time on this machine, for plans the assistant makes with the embedded model.

    .venv/bin/python bench/time_estimate.py [--only NAME]

Each configuration is planned from words (`tailor plan --json --data FILE "..."`), trained with `tailor train`
in its own data home (a fresh process each), and the plan's `resources.estimated_minutes` is set beside the
run's measured `train_seconds` (the trainer's loop: no model loading, no final evaluation). Prints a table;
the ratio column is what `models/estimate.py` is calibrated with (within ±30% is the goal).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the phone battery screen camera arrived broken great slow fast love hate price support delivery box "
         "quality sound works again never always really good bad").split()
CONFIGS = {
    # name: (rows, words per text (min, max), labels, extra turns)
    "short-200": (200, (6, 20), ["positive", "negative"], ["train 1 epoch"]),
    "medium-200": (200, (40, 90), ["positive", "negative", "neutral"], ["train 1 epoch"]),
    "long-100": (100, (150, 260), ["positive", "negative"], ["train 1 epoch"]),
    "short-300x3": (300, (6, 20), ["positive", "negative"], []),
}


def write_data(path: Path, rows: int, span: tuple[int, int], labels: list[str], seed: int = 0) -> Path:
    rng = random.Random(seed)
    path.write_text("text,label\n" + "".join(
        f"{' '.join(rng.choices(WORDS, k=rng.randint(*span)))},{labels[i % len(labels)]}\n" for i in range(rows)))
    return path


def run(name: str, work: Path) -> dict:
    rows, span, labels, turns = CONFIGS[name]
    home = work / name
    home.mkdir(parents=True)
    data = write_data(work / f"{name}.csv", rows, span, labels)
    env = {**os.environ, "TAILOR_HOME": str(home), "TAILOR_PLUGINS": "none"}
    cli = [sys.executable, "-m", "ui.cli"]
    planned = subprocess.run([*cli, "plan", "--json", "--gpu-memory", "0", "--data", str(data),
                              "classify these reviews by sentiment", *turns],
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
            "measured_s": seconds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", choices=list(CONFIGS))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailor-time-"))
    print("| configuration | rows | epochs | tokens p95 | max length | estimated | measured | estimate / measured |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only or CONFIGS:
        r = run(name, work)
        print(f"| {r['name']} | {r['rows']} | {r['epochs']:g} | {r['tokens_p95']} | {r['max_length']} | "
              f"{r['estimated_s']:.0f} s | {r['measured_s']:.0f} s | {r['estimated_s'] / r['measured_s']:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
