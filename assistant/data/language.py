"""The language of a data set's examples, by script and, for the Latin ones, by their commonest words: what a
plan's base model must know (`catalog.LANGUAGE_NAMES`' codes). Cheap and rough on purpose: it tells Japanese
reviews from Chinese ones and French from English, not dialects."""

from __future__ import annotations

import re
from collections import Counter

SCRIPTS = (("ja", re.compile(r"[\u3040-\u30ff]")), ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
           ("zh", re.compile(r"[\u4e00-\u9fff]")), ("ru", re.compile(r"[\u0400-\u04ff]")),
           ("ar", re.compile(r"[\u0600-\u06ff]")), ("th", re.compile(r"[\u0e00-\u0e7f]")),
           ("hi", re.compile(r"[\u0900-\u097f]")))
"""Scripts that name their language (kana before the Chinese characters Japanese also writes), with the share of
a text's non-space characters that says so (`SHARE`; kana and Hangul: any)."""
SHARE = {"ja": 0.0, "ko": 0.0, "zh": 0.2, "ru": 0.3, "ar": 0.3, "th": 0.3, "hi": 0.3}
WORDS = {"en": "the and of to is in that it for was with you this are not have but",
         "fr": "le la les des est et une un du pour pas que qui dans sur très avec ce",
         "de": "der die das und ist nicht ein eine zu mit den von sehr auch sich auf",
         "es": "el la los las que es y una un por para muy con no del lo se",
         "pt": "o a os as que é e um uma não para com muito do da em se",
         "it": "il la che è e di un una non per con molto sono del della gli",
         "vi": "và là của có không một những được cho người này các với rất"}
"""The commonest words of each Latin-script language the catalog covers."""
COMMON = {code: set(words.split()) for code, words in WORDS.items()}


def text_language(text: str) -> str:
    """One example's language: its script's, else the Latin language whose common words it uses most ("en" when
    none stands out)."""
    chars = max(1, len(text.replace(" ", "")))
    for code, script in SCRIPTS:
        if len(script.findall(text)) > SHARE[code] * chars:
            return code
    words = re.findall(r"[^\W\d_]+", text.lower())
    hits = Counter({code: sum(w in common for w in words) for code, common in COMMON.items()})
    (best, n), = hits.most_common(1)
    return best if n >= 2 and n > 1.5 * hits["en"] else "en"


def data_language(texts: list[str]) -> tuple[str, float]:
    """The examples' language (a language more than half of them are in, else English) and the share of them in
    Chinese (a mixed set's instruction follows the user's words)."""
    langs = Counter(text_language(t) for t in texts)
    total = max(1, sum(langs.values()))
    code, n = langs.most_common(1)[0] if langs else ("en", 0)
    return (code if n > total / 2 else "en"), round(langs["zh"] / total, 3)
