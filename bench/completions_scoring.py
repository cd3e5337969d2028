"""What a scoring request of lm-evaluation-harness costs the engine: 16 prompts, `echo` with `logprobs` 1 and
`max_tokens` 1 (as the harness asks for each answer choice), and the same with `max_tokens` 0 (scoring alone).
Then a request whose prompts' logits pass `prompts.SCORE_LOGITS_BYTES` together (40 prompts of about 200 tokens:
1.5 GiB of float32 logits on SmolLM2): in one `generate` call, as the route sent it before session 18 (each prompt
scored apart, then read again to continue), and in the calls the route's `_groups` makes now (each read once).

    .venv/bin/python bench/completions_scoring.py     # the embedded SmolLM2 (converted by `make run`), this CPU
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TAILOR_HOME", tempfile.mkdtemp())

from assistant.config import Home  # noqa: E402
from assistant.registry import Registry  # noqa: E402
from assistant.serve.completions import _groups  # noqa: E402
from assistant.serve.engine import Engine, GenerationSettings  # noqa: E402
from assistant.serve.sampling import Sampling  # noqa: E402

PROMPTS = ["The capital of France is Paris", "Question: which planet is known as the red planet? Answer: Mars",
           "The quick brown fox jumps over the lazy dog near the river bank",
           "In 1969, astronauts first walked on the Moon"] * 4
LONG = [f"Passage {i}. " + " ".join(PROMPTS[j % 4] + f", as note {j} says." for j in range(i, i + 12))
        for i in range(40)]


def main() -> None:
    engine = Engine(Registry(Home.resolve()), str(ROOT / "models" / "SmolLM2-135M-Instruct"))
    engine.start().result()
    rows = [(None, p) for p in PROMPTS]
    for tokens in (1, 0):
        settings = GenerationSettings(max_new_tokens=tokens, sampling=Sampling(logprobs=1, echo=True))
        engine.generate(rows, settings)  # warm
        start = time.perf_counter()
        for _ in range(5):
            engine.generate(rows, settings)
        print(f"{len(rows)} prompts, echo + logprobs 1, max_tokens {tokens}: "
              f"{(time.perf_counter() - start) / 5:.3f} s a request")

    rows = [(None, p) for p in LONG]
    settings = GenerationSettings(max_new_tokens=1, sampling=Sampling(logprobs=1, echo=True))
    groups = _groups(engine, rows, settings, engine.tokenizer)
    tokens = sum(len(engine.tokenizer(p)["input_ids"]) for p in LONG)
    print(f"{len(LONG)} prompts, {tokens} tokens, echo + logprobs 1, max_tokens 1: calls of "
          f"{[len(g) for g in groups]} prompts now")
    for label, calls in (("one call (before)", [rows]), ("the route's calls (now)", groups)) * 2:
        start = time.perf_counter()
        for group in calls:
            engine.generate(group, settings)
        print(f"  {label}: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
