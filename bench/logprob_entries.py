"""What turning logits into OpenAI's logprobs entries costs a position: scoring a prompt (`echo`) makes one for
each of its tokens, and a request with `logprobs` one for each answer token of each row.

Two ways, same run, same logits: one position at a time (a log-softmax a chunk, then for each position its
token's value and a top-k, each read back from the device on its own: Tailor until session 18), and every
position of a chunk at once (`sampling.entries`: a log-softmax, a gather and a top-k over the chunk, one
transfer each). Both give the same entries; the figure is microseconds a position.

    .venv/bin/python bench/logprob_entries.py                  # this CPU, SmolLM2's vocabulary (49,152)
    python3 bench/logprob_entries.py --device cuda --vocab 151936 --dtype bfloat16   # a GPU, Qwen2.5's
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from assistant.serve.prompts import SCORE_CHUNK, entries_of  # noqa: E402
from assistant.serve.sampling import piece  # noqa: E402


def per_position(tokenizer, logits, row: list[int], top: int) -> list[dict]:
    """The entries one position at a time, as `prompts.entries_of` made them before session 18."""
    import torch

    out = [{**piece(tokenizer, row[0], None), "top_logprobs": None}]
    for start in range(0, len(row) - 1, SCORE_CHUNK):
        logprobs = torch.log_softmax(logits[start:start + SCORE_CHUNK].float(), dim=-1)
        for lp, token in zip(logprobs, row[start + 1:start + 1 + SCORE_CHUNK]):
            e = piece(tokenizer, token, float(lp[token]))
            e["top_logprobs"] = []
            if top:
                values, ids = lp.topk(top)
                e["top_logprobs"] = [piece(tokenizer, i, v) for i, v in zip(ids.tolist(), values.tolist())]
            out.append(e)
    return out


def main() -> None:
    import torch
    from transformers import AutoTokenizer

    from helpers import smol_tokenizer_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--vocab", type=int, default=0, help="logits this wide (default: the tokenizer's)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--positions", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tokenizer", default=None)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.tokenizer or smol_tokenizer_dir())
    vocab = args.vocab or len(tok)
    torch.manual_seed(0)
    logits = torch.randn(args.positions, vocab, dtype=getattr(torch, args.dtype), device=args.device) * 3
    # a text's tokens repeat; ids the tokenizer has, so each decodes
    row = torch.randint(0, min(vocab, len(tok)), (args.positions,)).tolist()

    def timed(fn, top: int) -> float:
        fn(tok, logits, row, top)  # warm
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.repeat):
            fn(tok, logits, row, top)
        return (time.perf_counter() - start) / args.repeat / args.positions * 1e6

    print(f"{args.positions} positions, vocabulary {vocab}, {args.dtype} on {args.device}; µs a position")
    for top in (1, 5):
        a, b = per_position(tok, logits, row, top), entries_of(tok, logits, row, top)
        same = [e["token"] for e in a] == [e["token"] for e in b] and all(
            x["logprob"] is None and y["logprob"] is None or abs(x["logprob"] - y["logprob"]) < 1e-3 and
            [t["token"] for t in x["top_logprobs"]] == [t["token"] for t in y["top_logprobs"]]
            for x, y in zip(a, b))
        slow, fast = timed(per_position, top), timed(entries_of, top)
        print(f"  top {top}: one position at a time {slow:.1f}, every position at once {fast:.1f} "
              f"({slow / fast:.1f}×; same entries: {same})")


if __name__ == "__main__":
    main()
