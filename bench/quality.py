"""Quality: the assistant's own default plan on a classification task, held-out accuracy of base vs adapter.

    .venv/bin/python bench/quality.py [--rows 240] [--home /tmp/tailor-quality]

Builds a 4-label topic dataset of varied short sentences (the labels never appear in the text), asks the
assistant for a plan exactly as a user would ("classify these messages by topic" + the file, CPU), trains it
through the job queue, then evaluates the base model and the adapter on the plan's own held-out split with the
plan's metrics (accuracy, macro-F1) and a paired bootstrap interval for the difference.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from assistant.chat import converse
from assistant.config import Home
from assistant.evaluate.run import evaluate as run_eval
from assistant.evaluate.run import held_out
from assistant.models.resolve import ensure_embedded
from assistant.registry import Registry
from assistant.serve.engine import Engine, GenerationSettings
from assistant.train import jobs

TOPICS = {
    "sports": ["the striker scored twice before halftime", "our team lost the final on penalties",
               "she ran the marathon in under three hours", "the coach benched his best defender",
               "a late goal sealed the championship", "the referee sent off two players"],
    "weather": ["heavy rain is expected all weekend", "the storm knocked out power downtown",
                "it will be sunny and warm tomorrow", "fog delayed every morning flight",
                "temperatures drop below freezing tonight", "a strong wind blew the fence down"],
    "cooking": ["simmer the sauce for twenty minutes", "knead the dough until it is smooth",
                "add a pinch of salt to the soup", "roast the vegetables at high heat",
                "whisk the eggs with a little milk", "let the bread cool before slicing"],
    "finance": ["the bank raised interest rates again", "shares fell sharply after the report",
                "she moved her savings into bonds", "the company posted record quarterly profit",
                "inflation eased for the third month", "investors sold off tech stocks"],
}
OPENERS = ["", "news: ", "just heard that ", "update - ", "fyi: ", "breaking: ", "today ", "apparently "]


def write_data(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["message,topic"]
    for i in range(rows):
        topic = list(TOPICS)[i % len(TOPICS)]
        text = rng.choice(OPENERS) + rng.choice(TOPICS[topic])
        if rng.random() < 0.5:
            text += rng.choice([" again", " this week", " in the city", " as expected", ""])
        lines.append(f"{text},{topic}")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=240)
    ap.add_argument("--home", default="/tmp/tailor-quality")
    args = ap.parse_args()
    home = Home.resolve(args.home)
    ensure_embedded(home.models)
    data = write_data(home.root / "topics.csv", args.rows)
    turn = converse(["classify these messages by topic"], str(data), home_models=home.models)
    plan = turn.plan
    assert turn.ready, turn.reply
    print(
        f"plan: {plan.base_model.name}, {plan.lora.method} r={plan.lora.r}, {plan.training.epochs:g} epochs, "
        f"lr {plan.training.learning_rate:g}, batch {plan.training.batch_size}, max_length {plan.training.max_length}, "
        f"held out {plan.data.validation_fraction:.0%} (stratified: {plan.data.stratify})"
    )
    reg = Registry(home)
    t0 = time.time()
    job_id = jobs.submit(reg, plan)
    while (job := reg.job(job_id))["status"] in ("queued", "running"):
        time.sleep(1)
    if job.status != "succeeded":
        print(job, reg.logs(job_id), file=sys.stderr)
        return 1
    rec = reg.adapter_by_id(job.adapter_id)
    print(f"trained in {time.time() - t0:.0f} s: {rec.name}:{rec.version}")
    engine = Engine(reg, plan.base_model.source)
    engine.start().result()
    examples = held_out(plan)
    run = run_eval(
        engine,
        [None, f"{rec.name}:{rec.version}"],
        examples,
        plan.evaluation.metrics,
        GenerationSettings(max_new_tokens=8),
        batch_size=16,
        registry=reg,
    )
    name = run["models"][1]
    print(f"held-out rows: {len(examples)}")
    print("| model | " + " | ".join(run["metrics"]) + " |")
    print("|---|" + "---|" * len(run["metrics"]))
    for model in run["models"]:
        print(f"| {model} | " + " | ".join(f"{run['results'][model]['metrics'][m]:.3f}" for m in run["metrics"]) + " |")
    for m, ci in run["results"][name]["vs_base"].items():
        print(f"adapter − base, {m}: {ci['difference']:+.3f} (95% CI {ci['low']:+.3f} to {ci['high']:+.3f})")
    print("base answers, first 5:", json.dumps([e["base"] for e in run["examples"][:5]], ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
