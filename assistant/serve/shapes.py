"""One shape for every call of a run, so compiled decoding is compiled once.

On a GPU, decoding runs a compiled step over a static key/value cache (CUDA graphs). The step is compiled for
the shapes of its first call; a call with another number of rows or another cache length compiles it again
(torch's automatic dynamic shapes: once more, about a minute on a GPU, then a CUDA graph recorded per shape).
An evaluation makes many calls of one run: its last call holds fewer examples, and its prompts' lengths vary.
`Shape` is what the run asks of each call: that many rows (a smaller call is padded with copies of its last
row, whose answers are dropped) and at least that long a cache. The eager path ignores it.
"""

from __future__ import annotations

from typing import NamedTuple

STATIC_CACHE_STEP = 256
"""Static key/value caches grow in steps of this many tokens, so calls of similar lengths reuse one graph."""


INTERACTIVE_TOKENS = 1024
"""The least cache a call outside a run holds: a chat's prompt and answer mostly fit, so they share one graph."""


class Shape(NamedTuple):
    rows: int
    """Rows every call of the run holds; a call with fewer is padded to it."""
    tokens: int = 0
    """Prompt and answer tokens the static cache holds at least (rounded up to `STATIC_CACHE_STEP`)."""


def cache_length(need: int, shape: Shape | None = None) -> int:
    """The static cache length for a call needing `need` tokens: whole steps, at least the run's."""
    need = max(need, shape.tokens if shape else 0)
    return -(-need // STATIC_CACHE_STEP) * STATIC_CACHE_STEP


def padded(rows: list, shape: Shape | None) -> list:
    """`rows` padded with copies of its last row up to the run's row count."""
    return list(rows) + [rows[-1]] * (shape.rows - len(rows)) if shape and rows and shape.rows > len(rows) \
        else list(rows)


def interactive(rows: int, most: int, context: int | None = None) -> Shape | None:
    """The shape of a call outside a run (side by side, blind votes, a chat through the API): `most` rows (the
    most side by side shows) and a cache of `INTERACTIVE_TOKENS` (at most the context), so one person's calls,
    of one to `most` models and prompts of any length that fits, share one compiled step. A call of more rows
    (a completions request's many prompts) takes its own."""
    return Shape(most, min(INTERACTIVE_TOKENS, context or INTERACTIVE_TOKENS)) if rows <= most else None
