"""A task shown by an example instead of named: `input: "The battery died after a day" → output: negative`, `"I love
it" -> positive, "terrible service" -> negative`, `Turn "…" into {"time": "3pm"}`, `"Bonjour tout le monde" should
become "Hello everyone"`, `Q: … A: …`, `输入：“电池一天就没电了” → 输出：负面`, `把“…”变成 {…}`. What the example's
output is like names the task: a label, JSON, code, the text in another language, a much shorter text, or the same
text put better. Read only when no task's words are in the message (`understand`)."""

from __future__ import annotations

import re

from .. import plugins

QUOTED = r"[\"“「『]([^\"“”「」『』\n]{1,400})[\"”」』]"
"""A quoted text: straight or curly double quotes, or corner brackets (not single quotes, which are apostrophes)."""
LEAD = (r"\s*(?:→|->|⇒|=>|(?<![=!<>])=(?!=)|\bshould\s+(?:become|come\s+out\s+as|be|read)\b|\bbecomes?\b|"
        r"\bturns?\s+into\b|\binto\b|\bis\s+(?:an?\s+)?(?=\w+(?:\s+\w+)?\s*(?:[,.;!]|$))|(?:要|应该|应|会)?(?:变成|改成|翻成|译成|写成|转成)|对应|应该是|是)\s*"
        r"(?:(?:output|输出|label|标签|answer|答案|result|结果)\s*[:：]\s*)?")
"""What joins an example's input to its output ("→", "should become", "变成", "是"), and an "output:" before it."""
OUTPUT = QUOTED + r"|(\{[^\n]{1,400}?\}|\[[^\n]{1,400}?\])|([^\"“「『,，.;；。!！?？\n]{1,40})"
"""The output: quoted, a JSON object or list, or bare words up to the next punctuation."""
CODE = (r"^\s*(?:select|insert|update|delete|with|create)\b|\bdef\s+\w+\s*\(|\breturn\b|\btest_\w+\s*\(|"
        r"^\s*(?:import|from)\s+\w+|`")
NAMES_A_COLUMN = r"\b(?:column|field|input|output|label|target)s?\b|列|字段|输入|输出|标签"
QA = r"(?:^|\s)q\s*[:：]\s*\S.*?\s(?:a)\s*[:：]\s*\S|问\s*[:：].+?答\s*[:：]\s*\S"
STOPWORDS = {
    "en": "the a an is are was be will you your i my me we to of and in it this that please hello everyone thanks "
          "with for on not can",
    "fr": "le la les de du des est et je vous tu il elle nous un une bonjour merci tout monde pour pas avec sur",
    "es": "el los las es y yo usted tú un una hola gracias por para que con no muy todo mundo",
    "de": "der die das und ist ich sie du nicht ein eine guten danke mit für auf zu hallo welt",
    "it": "il lo gli è e io lei un una ciao grazie per con non tutto mondo sono",
    "pt": "o os as é e eu você um uma olá obrigado por para com não tudo mundo",
}
WORD_SETS = {lang: frozenset(listed.split()) for lang, listed in STOPWORDS.items()}
"""Words frequent in one language and rare in the others: enough to tell an example's input and output apart."""


def _language(text: str) -> str:
    if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 2:
        return "zh"
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {lang: sum(w in known for w in words) for lang, known in WORD_SETS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] else "en"


def _short(label: str) -> bool:
    """A label: a word or three ("negative", "billing", "负面"), not a sentence."""
    cjk = len(re.findall(r"[\u4e00-\u9fff]", label))
    return bool(label.strip()) and (cjk <= 6 if cjk else len(label.split()) <= 3) and not re.search(r"\d", label)


NEGATED = (r"(?:\bnot\b|\bno\b|\bdon'?t\b|\bdo\s+not\b|\bdoesn'?t\b|\bisn'?t\b|\brather\s+than\b|\binstead\s+of\b|"
           r"\bforget(?:\s+about)?\b|\bshouldn'?t\b|\bwithout\b|\bnever\b|(?<!是)不是|(?<!要)不要|(?<!用)不用|不需要|"
           r"(?:^|(?<=[\s，,。；;：:]))别|无需)"
           r"[^,;:—–.!?，；：。！？]{0,40}")
"""A task said against ("not a chatbot; it should answer questions from our FAQ", "不要摘要，从发票里抽取日期"): a
span whose task words are not the task."""


def task_of(low: str) -> str | None:
    """The registered task whose words the lower-cased message uses (tasks tried by priority: the more specific
    first), outside what it says the task is not; else the one an example in it shows."""
    recipes = plugins.get().task_order()
    said = low
    for m in reversed(list(re.finditer(NEGATED, low))):  # "rather than summarizing, rewrite each paragraph…"
        if any(re.search(t.patterns, m.group()) for t in recipes):
            said = said[:m.start()] + " " + said[m.end():]
    return next((t.name for t in recipes if re.search(t.patterns, said)), None) or shown_task(low)


def shown_task(text: str) -> str | None:
    """The task an example in `text` shows (see the module's docstring), or None when it shows none."""
    if re.search(QA, text, re.I | re.S):
        return "qa"
    pairs = []
    for m in re.finditer(QUOTED + LEAD, text):
        if len(re.findall(r"[\u4e00-\u9fff]", said := m.group(1))) < 3 and len(re.findall(r"[^\W_]+", said)) < 2:
            continue  # '"rank" = 8': a name, not an example
        if out := re.match(OUTPUT, text[m.end():]):
            quoted, structured, bare = out.groups()
            if re.search(NAMES_A_COLUMN, bare or ""):
                continue  # '"review text" is the input column', '“评论内容”是输入列'
            pairs.append((said, quoted, structured, (bare or "").strip()))
    if not pairs:
        return None
    if any(structured and re.search(r"[:：]", structured) for _, _, structured, _ in pairs):
        return "extraction"  # 'turn "…" into {"time": "3pm"}'
    if any(re.search(CODE, quoted or bare or "", re.I) for _, quoted, _, bare in pairs):
        return "code"  # '"customers in Texas" → SELECT …'
    if all(not quoted and not structured and _short(bare) for _, quoted, structured, bare in pairs):
        return "classification"  # '"I love it" -> positive, "terrible" -> negative'
    said, quoted = next(((said, quoted) for said, quoted, _, _ in pairs if quoted), (None, None))
    if said is None:
        return None
    if _language(said) != _language(quoted):
        return "translation"  # '"Bonjour tout le monde" should become "Hello everyone"'
    if len(said) >= 40 and len(quoted) <= len(said) / 2:
        return "summarization"
    return "rewriting"  # '"gonna be late, sry" should come out as "I will be late, my apologies."'
