"""Measures a person asks the evaluation to report besides the task's own ("also report exact match", "用 BLEU 评估",
"track perplexity too"), leave out ("don't compute f1", "去掉 f1") or report alone ("only accuracy", "只看准确率"):
registered metric names, for the plan's `evaluation.metrics`."""

from __future__ import annotations

import re

from .sweep_words import METRIC as PICKED_BY

NAMES = {"token_f1": r"\btoken[ _-]?f1\b", "f1": r"\b(?:macro[ -]?)?f1\b|f1\s*(?:值|分数)",
         "accuracy": r"\baccuracy\b|准确率", "exact_match": r"\bexact[ _-]?match(?:es)?\b|完全匹配|精确匹配",
         "rougeL": r"\brouge(?:[ _-]?l)?\b", "bleu": r"\bbleu\b", "chrf": r"\bchrf\+*",
         "json_valid": r"\b(?:valid|parseable)\s+json\b|\bjson\s+validity\b|json\s*(?:是否)?(?:合法|有效)",
         "perplexity": r"\bperplexity\b|\bppl\b|困惑度"}
"""The registered metrics by the words that name them."""
ASKS = (r"\b(?:put|bring)\s+(?:the\s+)?(?:" + "|".join(f"(?:{w})" for w in NAMES.values())
        + r")(?:\s+(?:metric|score))?\s+back\b|\bbring\s+back\b|\brestore\b|\bkeep\b|加回|恢复|留着|保留|还是要|还是算|"
        r"\b(?:measure|report|track|compute|calculate|log|add|include|evaluate\s+(?:with|on|by|using)|"
        r"score\s+(?:[\w-]+\s+){0,3}?(?:with|by|on|using)|(?:also|too)\s+(?:show|see|get))\b|"
        r"\b(?:see|want|need|get|show)\b[^.?!]{0,30}?\b(?:too|as\s+well|also|numbers?|scores?)\b|"
        r"(?:用|加上|也看|再看|报告|计算|统计|记录|加一个|加个|也算|算一下)[^，。,]{0,12}?(?:评估|指标|来评|来衡量)?|评估指标")
"""Words that ask for a measure to be reported (not "accuracy matters most": a goal)."""


ANY = "|".join(f"(?:{words})" for words in NAMES.values())
LIST = rf"(?:(?:the\s+)?(?:{ANY})(?:\s+(?:metric|score))?\s*(?:,\s*|\s+and\s+|\s+or\s+|\s*[和、及与或]\s*|\s+nor\s+))*"
"""Names before the one looked for in a list after one verb ("drop f1 and bleu", "去掉 f1 和 bleu")."""
TAIL = rf"(?:(?:\s+metric|\s+score)?\s*(?:,\s*|\s+and\s+|\s+or\s+|\s*[和、及与或]\s*)(?:the\s+)?(?:{ANY}))*"
"""Names after it, before the words that say what of them ("accuracy and f1 aren't needed", "准确率和 f1 都不要")."""
LEAVE_OUT = (r"\b(?:(?:don'?t|do\s+not|doesn'?t|no\s+need\s+to|stop|never)\s+(?:\w+\s+)?(?:compute|calculat\w*|report|"
             r"measur\w*|track|log|show|include|need|want|use|bother\s+with|care\s+about)|drop|remove|skip|ditch|"
             r"exclude|omit|lose|leave\s+out|take\s+out|get\s+rid\s+of|without|no)\s+(?:the\s+)?" + LIST + "(?:{n})"
             r"|(?:{n})" + TAIL + r"\s+(?:(?:metric|score|check|measure)s?\s+)?(?:(?:is|are)\s+not|isn'?t|aren'?t)\s+"
             r"(?:really\s+)?(?:needed|necessary|useful|wanted|required|relevant|meaningful)"
             r"|(?:{n})" + TAIL + r"\s+(?:(?:metric|score|check|measure)s?\s+)?(?:is|are|seems?|looks?|'s|feels?)\s+"
             r"(?:\w+\s+)?(?:pointless|useless|meaningless|irrelevant|unnecessary|redundant|overkill|noise)"
             r"|(?:{n})" + TAIL + r"\s+(?:(?:metric|score|check|measure)s?\s+)?(?:makes?\s+no\s+sense|"
             r"(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+(?:make\s+(?:any\s+)?sense|mean\s+(?:much|anything)|"
             r"tell\s+(?:me|us)\s+(?:much|anything)))"
             r"|(?:{n})" + TAIL + r"\s+(?:metrics?\s+|scores?\s+)?(?:can\s+go|off)\b"
             r"|(?:[,;，；]\s*|\b)(?:not|rather\s+than|instead\s+of)\s+(?:the\s+)?" + LIST + "(?:{n})"
             r"|(?:不要用?|不用|别算|别用?|去掉|删掉|删除|拿掉|不看|不需要|不算|不计算|不评估|取消|去除|"
             r"不必算?)\s*" + LIST + "(?:{n})"
             r"|(?:{n})" + TAIL + r"\s*性?(?:这个|这项|那个)?\s*(?:指标|检查|分数)?\s*(?:都|也|就)?"
             r"(?:去掉|删掉|拿掉|不要|不用|不需要|可以去掉|不用算|不必|别算|别要|别用|没(?:有)?(?:意义|用))")
"""A measure left out ("don't compute f1", "drop f1 and bleu", "f1 isn't needed", "不要 f1", "f1 去掉")."""
ONLY = (r"\b(?:only|just)\s+(?:(?:report|measure|compute|track|use|keep|show|need|want|give\s+me|score\s+(?:with|by))"
        r"\s+)?"
        r"(?:the\s+)?" + LIST + r"(?:{n})(?!\s+(?:matters|counts|is\s+what|to\s+be|(?:as\s+)?high|higher|better|up\b|"
        r"improv))"
        r"|(?:{n})" + TAIL + r"\s+(?:only|alone)\b(?!\s+(?:matters|counts))"
        r"|(?:{n})(?:\s+(?:metric|score))?\s+(?:is|will\s+be|would\s+be|'s)\s+(?:enough|fine|plenty|sufficient|"
        r"all\s+(?:i|we)\s+(?:need|want|care\s+about))"
        r"|(?:{n})\s+will\s+do\b"
        r"|只(?:看|要|用|算|保留|需要|报告|计算|评估|留)\s*" + LIST + "(?:{n})"
        r"|(?:{n})\s*就(?:够了?|行了?|可以了?|好)"
        r"|指标只(?:要|用|看|留)\s*" + LIST + "(?:{n})")
"""Only this measure ("only report accuracy", "accuracy is enough", "只看准确率", "准确率就够了")."""


REQUEST = r"^\s*(?:can|could|would|will)\s+you\b|^\s*(?:please|可以|能不能|能否|能|请|麻烦|帮我)"
"""A request put as a question ("can you also compute BLEU?", "可以去掉 f1 吗？")."""
ADVICE = (r"^\s*(?:should|shall|do|does|is|are|why|what|how|would\s+it|will\s+it|would\s+you)\b[^?]*\?\s*$|"
          r"(?:吗|么|呢)\s*[?？]?\s*$|是否|要不要|该不该|为什么|为啥")
"""A question about leaving a measure out ("should I drop f1?", "要不要去掉 f1？"), not a request to."""


def metrics_changed(low: str) -> tuple[str | None, str | None, str]:
    """(the measures a message leaves out, the ones it keeps alone — comma-joined, or None — and the message
    without those words, for the rest of the rules: "drop f1, accuracy is enough" asks for no better model)."""
    off, only = [], []
    if re.search(ADVICE, low) and not re.search(REQUEST, low):
        return None, None, low
    said = re.sub(PICKED_BY, " ", low)  # "pick the winner by accuracy only": what judges a sweep, not the measures
    for found, pattern in ((only, ONLY), (off, LEAVE_OUT)):
        for name, words in NAMES.items():
            if re.search(pattern.format(n=words), said):
                found.append(name)
    if not off and not only:
        return None, None, low
    only.sort(key=lambda name: re.search(NAMES[name], low).start())  # as said: "bleu and rouge only"
    for pattern in (ONLY, LEAVE_OUT):
        low = re.sub(pattern.format(n=ANY), " ", low)
    # "drop the f1 metric, accuracy is enough": the list's comma ended a clause; what is kept alone stays
    return ",".join(n for n in off if n not in only) or None, ",".join(only) or None, low


def metrics_asked(low: str) -> str | None:
    """The registered metrics a message asks the evaluation to report, comma-joined ("bleu,exact_match"), or None
    (a sweep's winner picked by one is the sweep's: "pick the winner by f1")."""
    if not re.search(ASKS, low) or re.search(r"[?？]\s*$", low) and not re.search(REQUEST, low):
        return None
    if re.search(r"\b(?:pick|choose|chosen|select|judg\w*|winner|best|trials?|sweep|keep)\b|选|最好|胜出", low):
        low = re.sub(PICKED_BY, " ", low)  # "score the summaries with chrF too" is no sweep's
    found = []
    for name, words in NAMES.items():
        if re.search(words, low):
            found.append(name)
            low = re.sub(words, " ", low)  # "token f1" is not also f1
    return ",".join(found) or None
