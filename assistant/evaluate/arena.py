"""The blind arena: two anonymous sides drawn from the base and the adapters; the vote reveals the names."""

from __future__ import annotations

import random
import secrets

from ..registry.db import Registry
from ..serve.engine import Engine, GenerationSettings
from .metrics import leaderboard

# Open battles: token → (prompt, model a, model b). Names stay server-side until the vote.
_BATTLES: dict[str, tuple[str, str, str]] = {}


def battle(engine: Engine, prompt: str, models: list[str], settings: GenerationSettings | None = None,
           rng: random.Random | None = None) -> dict:
    """Two different models (`base` or adapter names) answer the prompt in one batched call, in random order."""
    pool = sorted(set(models))
    if len(pool) < 2:
        raise ValueError("the arena needs at least two models (the base and an adapter, or two adapters)")
    a, b = (rng or random.SystemRandom()).sample(pool, 2)
    answers = engine.side_by_side(prompt, [None if a == "base" else a, None if b == "base" else b],
                                  settings or GenerationSettings(max_new_tokens=128))
    token = secrets.token_hex(8)
    _BATTLES[token] = (prompt, answers[0].model, answers[1].model)
    return {"battle": token, "a": answers[0].text, "b": answers[1].text}


def vote(registry: Registry, token: str, winner: str) -> dict:
    """Record the vote and reveal who was who."""
    if token not in _BATTLES:
        raise ValueError("this battle is unknown or already voted on; start a new one")
    if winner not in ("a", "b", "tie", "both_bad"):
        raise ValueError(f"a vote is a, b, tie or both_bad, not {winner!r}")
    prompt, a, b = _BATTLES.pop(token)
    registry.add_vote(prompt, a, b, winner)
    return {"a": a, "b": b, "winner": winner}


def standings(registry: Registry, samples: int = 200) -> list[dict]:
    return leaderboard(registry.votes(), samples=samples)
