"""Measures a person asks the evaluation to report besides the task's own ("also report exact match", "用 BLEU 评估",
"track perplexity too"): registered metric names, added to the plan's `evaluation.metrics`."""

from __future__ import annotations

import re

from .sweep_words import METRIC as PICKED_BY

NAMES = {"token_f1": r"\btoken[ _-]?f1\b", "f1": r"\b(?:macro[ -]?)?f1\b|f1\s*(?:值|分数)",
         "accuracy": r"\baccuracy\b|准确率", "exact_match": r"\bexact[ _-]?match(?:es)?\b|完全匹配|精确匹配",
         "rougeL": r"\brouge(?:[ _-]?l)?\b", "bleu": r"\bbleu\b", "chrf": r"\bchrf\+*",
         "json_valid": r"\b(?:valid|parseable)\s+json\b|\bjson\s+validity\b|json\s*(?:是否)?(?:合法|有效)",
         "perplexity": r"\bperplexity\b|\bppl\b|困惑度"}
"""The registered metrics by the words that name them."""
ASKS = (r"\b(?:measure|report|track|compute|calculate|log|add|include|evaluate\s+(?:with|on|by|using)|"
        r"score\s+(?:[\w-]+\s+){0,3}?(?:with|by|on|using)|(?:also|too)\s+(?:show|see|get))\b|"
        r"\b(?:see|want|need|get|show)\b[^.?!]{0,30}?\b(?:too|as\s+well|also|numbers?|scores?)\b|"
        r"(?:用|加上|也看|再看|报告|计算|统计|记录|加一个|加个|也算|算一下)[^，。,]{0,12}?(?:评估|指标|来评|来衡量)?|评估指标")
"""Words that ask for a measure to be reported (not "accuracy matters most": a goal)."""


def metrics_asked(low: str) -> str | None:
    """The registered metrics a message asks the evaluation to report, comma-joined ("bleu,exact_match"), or None
    (a sweep's winner picked by one is the sweep's: "pick the winner by f1")."""
    if not re.search(ASKS, low) or re.search(r"[?？]\s*$", low):
        return None
    if re.search(r"\b(?:pick|choose|chosen|select|judg\w*|winner|best|trials?|sweep|keep)\b|选|最好|胜出", low):
        low = re.sub(PICKED_BY, " ", low)  # "score the summaries with chrF too" is no sweep's
    found = []
    for name, words in NAMES.items():
        if re.search(words, low):
            found.append(name)
            low = re.sub(words, " ", low)  # "token f1" is not also f1
    return ",".join(found) or None
