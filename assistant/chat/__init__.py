"""The conversation: understanding turns (English and Chinese) and turning them into a Plan."""

import re

from .converse import converse
from .turn import Question, Turn

# The rules read one turn with about 520 distinct patterns (each setting's, and those formatted per setting name),
# the whole corpus with about 900; `re` keeps 512 compiled, dropping the oldest first, so past 512 nearly every
# pattern was compiled again on every turn (session 28's clean-clone run took 32 minutes, the corpus 3.3 times as
# long). Room for all of them (`re` reads the bound on each compile, so setting it here, after the imports, holds for
# every turn); tests/test_conversations.py fails when a second run of the same turns compiles anything again or the
# patterns fill more than half of this room:
re._MAXCACHE = max(getattr(re, "_MAXCACHE", 0), 4096)  # type: ignore[attr-defined]

__all__ = ["Question", "Turn", "converse"]
