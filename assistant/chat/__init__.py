"""The conversation: understanding turns (English and Chinese) and turning them into a Plan."""

import re

from .converse import Question, Turn, converse

# The rules read each turn with about 600 distinct patterns (each setting's, and those formatted per setting name);
# `re` keeps 512 compiled, dropping the oldest first, so past 512 nearly every pattern was compiled again on every
# turn (session 28's clean-clone run took 32 minutes, the corpus 3.3 times as long). Room for all of them (`re` reads
# the bound on each compile, so setting it here, after the imports, holds for every turn):
re._MAXCACHE = max(getattr(re, "_MAXCACHE", 0), 4096)  # type: ignore[attr-defined]

__all__ = ["Question", "Turn", "converse"]
