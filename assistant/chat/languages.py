"""The language a message names for the task ("classify these French reviews", "评论是日语的", "translate them into
Spanish"): the task's language (`catalog.LANGUAGE_NAMES`' codes), which picks a base model that knows it. A
message merely written in Chinese says less: see `understand._language` and `slots.Slots.apply`."""

from __future__ import annotations

import re

IN_CHINESE = r"in chinese|chinese (text|review|data|document)|mandarin|中文|汉语|简体|繁体"
IN_ENGLISH = r"in english|english (text|review|data)|英文|英语"
CONTEXT = (r"\b(?:in|into|to|from)\s+(?:{name})\b|\b(?:{name})(?:[- ](?:language|speaking))?\s+(?:texts?|reviews?|data|"
           r"documents?|articles?|news|emails?|tweets?|messages?|posts?|comments?|sentences?|speakers?|customers?|"
           r"users?|tickets?|questions?|answers?|conversations?|chats?|transcripts?|subtitles?|descriptions?)\b|"
           r"\b(?:{name})[- ](?:language|speaking)\b|\b(?:are|is|written|all)\s+in\s+(?:{name})\b")
"""Where a language's English name names the task's language ("French reviews", "into Spanish", "written in
German"), not something else ("Italian restaurants")."""
OTHER = {"fr": (r"french|fran[cç]ais", r"法语|法文"), "de": (r"german|deutsch", r"德语|德文"),
         "es": (r"spanish|espa[nñ]ol", r"西班牙语|西班牙文|西语"), "it": (r"italian|italiano", r"意大利语|意大利文"),
         "pt": (r"portuguese|portugu[eê]s", r"葡萄牙语|葡萄牙文|葡语"), "ja": (r"japanese", r"日语|日文"),
         "ko": (r"korean", r"韩语|韩文|朝鲜语"), "ru": (r"russian", r"俄语|俄文"),
         "ar": (r"arabic", r"阿拉伯语|阿拉伯文"), "vi": (r"vietnamese", r"越南语|越南文"), "hi": (r"hindi", r"印地语"),
         "th": (r"thai", r"泰语|泰文")}
"""Each other language the catalog's models cover: its English names (read in `CONTEXT`) and its Chinese ones."""


def named_language(low: str) -> str | None:
    """The language a message names for the task: Chinese first, then any other, then English (the default)."""
    if re.search(IN_CHINESE, low):
        return "zh"
    for code, (en, zh) in OTHER.items():
        if re.search(CONTEXT.format(name=en), low) or re.search(zh, low):
            return code
    return "en" if re.search(IN_ENGLISH, low) else None
