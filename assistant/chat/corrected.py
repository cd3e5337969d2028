"""A misreading corrected: "no, I said 8 epochs, not rank 8", "that 0.2 was supposed to be the warmup", "I meant 100
steps, not rows", "you misread me, I wanted alpha 4", "typo, 16", "不是秩，是训练 8 轮", "设错了，0.2 是给预热的",
"我说的是 100 步，不是 100 条", "1 是早停耐心，轮数不变". The turn sets what it says: nothing it names after "not"
("不是"), a bare count of steps or rows as those, and a bare number as the one setting it names without a value.
What the previous change set with a number the correction says again (the misread one) goes back to what it was
before (`converse`)."""

from __future__ import annotations

import re
from typing import Any

from ..adjustable import SETTINGS
from .about import named, numeric_settings
from .take_back import KEPT

CORRECTS = (r"\byou\s+(?:misread|misunderstood|got\s+(?:it|that|me)\s+wrong)|"
            r"\bi\s+(?:said|meant?|wanted|asked\s+for)\b|"
            r"\bwrong\s+setting\b|\bcorrection\b|\btypo\b|\bnot\s+what\s+i\s+(?:asked|meant|wanted)|"
            r"\b(?:was|is)\s+(?:supposed|meant)\s+(?:to\s+be|as|for)\b|^not\s+[^,，.]{1,25}[,，]|"
            r"^[\d.e-]+\s*(?:是(?:给|用于|指)?|(?:was|is)\s+(?:for|the)\b)|"
            r"^不是|理解错了|设错了|说错了|打错了|写错了|弄错了|更正|我(?:说|指|要)的是|我是说|不是这个意思")
"""What says a turn corrects how the previous one was read."""
NOT = r"\bnot\s+(?:the\s+)?([^,.;!?]+)|不是\s*([^，。,；;！!？?]+)"
"""What a correction says it did not mean: "not rank 8", "不是 100 条"."""
BARE = {"max_steps": r"(?<![\w.])(\d+)\s*(?:steps?|步)(?!\w)",
        "max_rows": r"(?<![\w.])(\d+)\s*(?:rows|examples|条)(?!\w)"}
"""A count said bare in a correction ("I meant 100 steps"), which elsewhere needs a verb ("train 100 steps")."""
NUMBER = r"(?<![\w.])(\d+(?:\.\d+)?(?:e-?\d+)?)(?![\w.])"


def corrected(low: str, values: dict[str, Any], allowed) -> tuple[list[float], float | None, list[str]]:
    """For a correction, `values` mended in place (see the module's docstring; `allowed(setting, value)` checks a
    value); the numbers it says (the previous change's settings with one of them were misread); a bare number for
    the setting the previous turn set ("typo, 16"), or None; and the settings it says it did not mean ("not epochs,
    I meant 200 steps": given back). ([], None, []) for a turn that is no correction."""
    if not re.search(CORRECTS, low):
        return [], None, []
    denied = " ".join(next(g for g in m.groups() if g) for m in re.finditer(NOT, low))
    unmeant = numeric_settings(named(denied))
    rest = " ".join(c for c in re.split(r"[,，;；]", re.sub(NOT, " ", low)) if not re.search(KEPT, c))
    for name in [n for n in values if n in SETTINGS and SETTINGS[n].patterns]:
        if SETTINGS[name].read(denied) is not None and SETTINGS[name].read(rest) is None:
            del values[name]  # "no, I said 8 epochs, not rank 8": no rank
    for name, words in BARE.items():
        if name not in values and (m := re.search(words, rest)):
            _put(values, name, allowed(SETTINGS[name], float(m.group(1))))  # "I meant 100 steps, not rows"
    numbers = [float(n) for n in re.findall(NUMBER, rest)]
    if values.keys() - {"language", "task_type"}:
        values.pop("task_type", None)  # "typo" is no rewriting task here
        return numbers, None, unmeant
    unset = [n for n in numeric_settings(named(rest)) if n not in values]
    if len(unset) == 1 and len(numbers) == 1:  # "that 0.2 was supposed to be the warmup"
        _put(values, unset[0], allowed(SETTINGS[unset[0]], numbers[0]))
        values.pop("task_type", None)
        return numbers, None, unmeant
    if not unset and len(numbers) == 1 and len(re.findall(r"[a-z]+|[\u4e00-\u9fff]", rest)) <= 6:  # not "fix the
        # typo in each of 500 titles"
        values.pop("task_type", None)
        return [], numbers[0], unmeant  # "typo, 16": for what the previous turn set
    return [], None, unmeant


def _put(values: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:  # (a refused value is said in a note by `allowed`)
        values[name] = value


def misread(earlier: list, numbers: list[float]) -> list[str]:
    """The settings the latest change (of `earlier` turns' intents) set to a number the correction says again: "rank
    8", then "no, I said 8 epochs": the rank."""
    last = next((t for t in reversed(earlier) if t.values.keys() - {"language", "task_type"}), None)
    return [n for n, v in (last.values.items() if last else ()) if isinstance(v, (int, float))
            and not isinstance(v, bool) and float(v) in numbers]
