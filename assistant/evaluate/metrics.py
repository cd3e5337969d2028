"""Evaluation metrics, the paired bootstrap, and Bradley–Terry ratings from arena votes. Pure Python.

The metrics are registered as plugins (`assistant/plugins/builtin.py` for these; installed plugins add
more). Each is a corpus function of (predictions, references): most are the mean of a per-example score
(shown per example in the UI), `f1` is macro-F1 over the label set. The paired bootstrap
resamples examples — the same resample for the adapter and the base — so the interval is for the
difference on this data, not for either score alone.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", str(s).strip().lower()).strip(" .!。")


def _tokens(s: str) -> list[str]:
    """Words, with each CJK character its own token (Chinese has no spaces)."""
    return re.findall(r"[\u4e00-\u9fff]|[^\W_]+", str(s).lower())


# -- per-example scores -----------------------------------------------------------------------------------
def exact_match(pred: str, ref: str) -> float:
    return float(_norm(pred) == _norm(ref))


def token_f1(pred: str, ref: str) -> float:
    p, r = _tokens(pred), _tokens(ref)
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(pred: str, ref: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of tokens."""
    p, r = _tokens(pred), _tokens(ref)
    if not p or not r:
        return float(p == r)
    prev = [0] * (len(r) + 1)
    for a in p:
        cur = [0]
        for j, b in enumerate(r):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def bleu(pred: str, ref: str, max_n: int = 4) -> float:
    """Sentence BLEU with add-one smoothing of higher-order precisions (Lin & Och 2004) and brevity penalty."""
    p, r = _tokens(pred), _tokens(ref)
    if not p or not r:
        return float(p == r)
    logs = []
    for n in range(1, max_n + 1):
        pn = Counter(tuple(p[i:i + n]) for i in range(len(p) - n + 1))
        rn = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
        match, total = sum((pn & rn).values()), max(sum(pn.values()), 0)
        if n == 1:
            if match == 0:
                return 0.0
            logs.append(math.log(match / total))
        else:
            logs.append(math.log((match + 1) / (total + 1)))
    bp = 1.0 if len(p) > len(r) else math.exp(1 - len(r) / len(p))
    return bp * math.exp(sum(logs) / max_n)


def chrf(pred: str, ref: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF: character n-gram F-score (n = 1..6, recall weighted by beta = 2), spaces removed."""
    p, r = re.sub(r"\s+", "", str(pred)), re.sub(r"\s+", "", str(ref))
    if not p or not r:
        return float(p == r)
    precisions, recalls = [], []
    for k in range(1, n + 1):
        pk = Counter(p[i:i + k] for i in range(len(p) - k + 1))
        rk = Counter(r[i:i + k] for i in range(len(r) - k + 1))
        if not pk or not rk:
            continue
        match = sum((pk & rk).values())
        precisions.append(match / sum(pk.values()))
        recalls.append(match / sum(rk.values()))
    if not precisions:
        return 0.0
    P, R = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if P + R == 0 else (1 + beta**2) * P * R / (beta**2 * P + R)


def json_valid(pred: str, ref: str = "") -> float:
    text = str(pred).strip()
    m = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    try:
        json.loads(m.group(1) if m else text)
        return 1.0
    except ValueError:
        return 0.0


def json_exact(pred: str, ref: str) -> float:
    """Exact match of parsed JSON (key order and spacing do not matter), else of the text."""
    try:
        return float(json.loads(pred) == json.loads(ref))
    except ValueError:
        return exact_match(pred, ref)


def macro_f1(preds: Sequence[str], refs: Sequence[str]) -> float:
    labels = sorted({_norm(r) for r in refs})
    if not labels:
        return 0.0
    p, r = [_norm(x) for x in preds], [_norm(x) for x in refs]
    scores = []
    for label in labels:
        tp = sum(a == label and b == label for a, b in zip(p, r))
        fp = sum(a == label and b != label for a, b in zip(p, r))
        fn = sum(a != label and b == label for a, b in zip(p, r))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def metric(name: str) -> Any:
    """The registered metric (`assistant.plugins.Metric`) of that name; KeyError when none is."""
    from .. import plugins

    return plugins.get().metrics[name]


def per_example(name: str, preds: Sequence[str], refs: Sequence[str]) -> list[float] | None:
    """Each example's score, or None for a metric defined only over a corpus (macro F1)."""
    m = metric(name)
    return None if m.per_example is None else [float(m.per_example(p, r)) for p, r in zip(preds, refs)]


def corpus_score(name: str, preds: Sequence[str], refs: Sequence[str], per: Sequence[float] | None = None) -> float:
    return metric(name).score(preds, refs, per)


def supported(name: str) -> bool:
    """Whether answers can be scored with it (registered, and not measured from the loss)."""
    from .. import plugins

    m = plugins.get().metrics.get(name)
    return m is not None and m.scores_answers


# -- paired bootstrap -------------------------------------------------------------------------------------
def paired_bootstrap(name: str, preds_a: Sequence[str], preds_b: Sequence[str], refs: Sequence[str],
                     samples: int = 1000, seed: int = 0) -> dict:
    """Difference A − B of a corpus metric, with its 95% interval from resampling examples (the same for both).

    Returns {"difference", "low", "high", "p_better"}: p_better is the share of resamples where A is better
    (higher, or lower for a metric where lower is better).
    """
    n = len(refs)
    if n == 0:
        return {"difference": 0.0, "low": 0.0, "high": 0.0, "p_better": 0.5}
    rng = random.Random(seed)
    m = metric(name)
    per_a = per_example(name, preds_a, refs) if m.corpus is None else None
    per_b = per_example(name, preds_b, refs) if m.corpus is None else None

    def score(per, preds, idx):
        if per is not None:
            return sum(per[i] for i in idx) / len(idx)
        return float(m.corpus([preds[i] for i in idx], [refs[i] for i in idx]))

    full = range(n)
    diff = score(per_a, preds_a, full) - score(per_b, preds_b, full)
    diffs = []
    for _ in range(samples):
        idx = [rng.randrange(n) for _ in range(n)]
        diffs.append(score(per_a, preds_a, idx) - score(per_b, preds_b, idx))
    diffs.sort()
    sign = 1 if m.higher_is_better else -1
    low, high = diffs[int(0.025 * samples)], diffs[min(samples - 1, int(0.975 * samples))]
    return {"difference": diff, "low": low, "high": high, "p_better": sum(sign * d > 0 for d in diffs) / samples}


# -- Bradley–Terry ----------------------------------------------------------------------------------------
def bradley_terry(votes: Sequence[tuple[str, str, str]], iterations: int = 200) -> dict[str, float]:
    """Strengths from votes (model_a, model_b, winner in a|b|tie|both_bad), by Hunter's MM algorithm.

    A tie (and "both bad") counts as half a win for each side. Returned on an Elo-like scale: 1000 is the
    average model, +400 means ten times the odds of winning.
    """
    models = sorted({m for a, b, _ in votes for m in (a, b)})
    if not models:
        return {}
    wins: Counter = Counter()
    pairs: Counter = Counter()
    for a, b, w in votes:
        if a == b:
            continue
        pairs[frozenset((a, b))] += 1
        if w == "a":
            wins[a] += 1
        elif w == "b":
            wins[b] += 1
        else:
            wins[a] += 0.5
            wins[b] += 0.5
    # A small prior (one tie against a virtual average opponent) keeps undefeated or winless models finite.
    p = {m: 1.0 for m in models}
    for _ in range(iterations):
        new = {}
        for m in models:
            denom = 1.0 / (p[m] + 1.0)
            for pair, n in pairs.items():
                if m in pair:
                    (other,) = pair - {m}
                    denom += n / (p[m] + p[other])
            new[m] = (wins[m] + 0.5) / denom
        mean_log = sum(math.log(v) for v in new.values()) / len(new)
        p = {m: v / math.exp(mean_log) for m, v in new.items()}
    return {m: 1000 + 400 * math.log10(v) for m, v in p.items()}


def leaderboard(votes: Sequence[tuple[str, str, str]], samples: int = 200, seed: int = 0) -> list[dict]:
    """Models by Bradley–Terry rating, each with a 95% bootstrap interval over votes and its vote count."""
    ratings = bradley_terry(votes)
    rng = random.Random(seed)
    boot: dict[str, list[float]] = {m: [] for m in ratings}
    for _ in range(samples if votes else 0):
        sample = [votes[rng.randrange(len(votes))] for _ in votes]
        r = bradley_terry(sample, iterations=100)
        for m in ratings:
            boot[m].append(r.get(m, 1000.0))
    counts = Counter(m for a, b, _ in votes for m in (a, b))
    rows = []
    for m, rating in sorted(ratings.items(), key=lambda kv: -kv[1]):
        b = sorted(boot[m]) or [rating]
        rows.append({"model": m, "rating": round(rating, 1), "low": round(b[int(0.025 * len(b))], 1),
                     "high": round(b[min(len(b) - 1, int(0.975 * len(b)))], 1), "votes": counts[m]})
    return rows
