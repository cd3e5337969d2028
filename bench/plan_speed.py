"""How long `tailor plan --json` takes for a 1,000-row file, as a user runs it (a fresh process each time).

    .venv/bin/python bench/plan_speed.py [--rows 1000] [--runs 5]

Writes a 1,000-row review CSV and a 1,000-row chat JSONL, then times the command end to end (interpreter start,
imports, reading the file, exact token counts with the SmolLM2 tokenizer, the plan). The first run in a fresh
cache also reads the tokenizer out of the embedded GGUF (once per machine); that run is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(0)
    words = "the phone battery screen camera arrived broken great slow fast love hate price support".split()
    tmp = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    csv = tmp / "reviews.csv"
    csv.write_text("text,label\n" + "".join(
        f"{' '.join(rng.choices(words, k=rng.randint(5, 120)))},{rng.choice(['positive', 'negative', 'neutral'])}\n"
        for _ in range(args.rows)))
    chat = tmp / "chat.jsonl"
    chat.write_text(
        "\n".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": " ".join(rng.choices(words, k=rng.randint(5, 80)))},
                        {"role": "assistant", "content": " ".join(rng.choices(words, k=rng.randint(5, 200)))},
                    ]
                }
            )
            for _ in range(args.rows)
        )
    )
    env = {**os.environ, "TAILOR_HOME": str(tmp / "home"), "TAILOR_CACHE": str(tmp / "cache")}
    cases = [
        ("classification csv", csv, ["classify reviews by sentiment", "use rank 32"]),
        ("chat jsonl", chat, ["a support chatbot", "make it fit in 12GB with qwen 7b"]),
    ]
    print(f"{args.rows} rows; {args.runs} runs each; python {sys.version.split()[0]}")
    for name, path, turns in cases:
        times = []
        for i in range(args.runs + 1):
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "assistant.cli",
                    "plan",
                    "--json",
                    "--gpu-memory",
                    "0",
                    "--data",
                    str(path),
                    *turns,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            dt = time.perf_counter() - t
            assert proc.returncode == 0, proc.stderr
            out = json.loads(proc.stdout)
            assert out["plan"]["data"]["rows"] == args.rows
            if i == 0 and name == cases[0][0]:
                print(f"  first run ever (reads the tokenizer from the GGUF once): {dt:.2f} s")
            else:
                times.append(dt)
        tok = out["plan"]["data"]["tokens"]
        print(
            f"  {name}: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
            f"(exact tokens: {tok['exact']}, p95 {tok['p95']}, max_length {out['plan']['training']['max_length']})"
        )


if __name__ == "__main__":
    main()
