"""Understanding one user turn: intents and slots from free text, in English and Chinese.

The rule-based understander always works offline. Each turn yields an `Intents` object holding only what
that turn said; the conversation applies turns in order, so the later word wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..adjustable import NUMBER, SETTINGS
from ..sweeps import SWEEPABLE
from .about import ASKABLE, EITHER, GPU_KEYS, OPINION, chosen, named, numeric_settings, question, split_question
from .cantonese import mandarin
from .column_words import ALSO_INPUT, EXCLUDE, ONLY_INPUT, PREDICT, AlsoColumn, MaybeColumn
from .corrected import corrected
from .glossary import definitions
from .goals import goals
from .hardware_words import LAPTOP, OWN_GPU, read_gpu
from .languages import named_language
from .metric_words import NAMES as METRIC_NAMES
from .metric_words import metrics_asked, metrics_changed
from .model_words import licence_wanted, model_step, named_model
from .normalize import digits
from .reasons_zh import bounds_zh
from .relative import (
    EFFECTIVE,
    HELD_ROWS,
    KEEP_EFFECTIVE,
    MORE_OF,
    RELATIVE_SETTINGS,
    ROW_SHARE,
    WARMUP_STEPS,
    Added,
    Between,
    EffectiveBatch,
    HeldRows,
    Judged,
    Relative,
    RowShare,
    TimesRank,
    WarmupSteps,
    bounds,
    judged,
    relatives,
    times_rank,
)
from .shown import task_of
from .sweep_words import COMPARES, METRIC, read_sweep, tries
from .take_back import BACK, FALLBACK, MEANT, reset, undo
from .traditional import simplified
from .whole_turn import ADOPT, COUNTS, START, scaled_again, whole_turn


@dataclass
class Intents:
    """What one turn said: the settings it mentioned (names from `adjustable.SETTINGS`), whether it asked
    to start, and notes for the user. `it.r`, `it.task_type`, ... read a setting (None when not said)."""

    values: dict[str, Any] = field(default_factory=dict)
    start: bool = False
    notes: list[str] = field(default_factory=list)
    sweep: dict = field(default_factory=dict)
    """What the turn said about a sweep (chat/sweep_words.py); {} when nothing."""
    again: float | None = None
    """"Halve it again", "再减半": the factor to apply once more to what the previous turn changed relatively."""
    stepped: bool = False
    """The `again` is a step of no stated size ("a bit higher", "too many": `Relative.step`)."""
    that: float | None = None
    """"Actually make that 8", "8 instead", "算了，还是用 16 吧": a number for the setting the previous turn set."""
    switch: bool | None = None
    """"Turn it off", "算了，还是关掉它吧": off (or on) for what the previous turn switched."""
    forget: list[str] = field(default_factory=list)
    """Settings given back to the planner: "reset the learning rate", "back to your defaults" (chat/about.py)."""
    undo: int = 0
    """How many changes before are taken back: "undo that", "撤销" (1), "undo both" (2); "no, I meant alpha 32" (1,
    with the values it says)."""
    added: float | None = None
    """"One more", "少一轮": a count added to (or taken from) the one setting the previous turn set."""
    asked: list[str] = field(default_factory=list)
    """The plan fields a question asks about ("why rank 16?"), answered with their reasons; changes nothing."""
    named: dict[str, Any] = field(default_factory=dict)
    """The values a question names ("why not rank 8?": 8), offered, not set."""
    dropped: dict[str, Any] = field(default_factory=dict)
    """What a goal taken back had set ("forget the overfitting worry": dropout 0.1, …): each goes back to the
    planner's choice while it still has that value (a dropout said since stays)."""
    back: bool = False
    """A reset that names nothing ("put both back to what you had", "you decide", "随便，你看着办"): what the
    previous turn set goes back to the planner (`converse`)."""
    adopt: bool = False
    """"Ok, do that then" after "would rank 8 be faster?": the values the previous question named (`converse`)."""
    corrects: list[float] = field(default_factory=list)
    """The numbers a correction says ("no, I said 8 epochs, not rank 8": 8): what the previous change set with one of
    them was misread, and goes back (`corrected`, `converse`)."""

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.__dict__.get("values", {}).get(name)
        raise AttributeError(name)

    def said(self) -> dict:
        return dict(self.values)


MAX_READ = 4000
"""Characters of a message the rules read (the patterns' time grows with the square of a message's length)."""
UNITS = r"(?:轮|个\s*epochs?|epochs?|步|steps?|分钟|minutes?)"
FROM_TO = ((rf"\bfrom\s+{NUMBER}\s+to\s+(?={NUMBER})", "to "),
           (rf"\b((?:change|move|bump|raise|lower|increase|decrease|reduce|drop|cut)\s+(?:the\s+)?[a-z ]{{1,20}}?)"
            rf"{NUMBER}\s+to\s+(?={NUMBER})", r"\1to "),
           (rf"从\s*{NUMBER}\s*(?=(?:改|调|降|升|减|加|变)?(?:到|成|为))", ""),
           (rf"{NUMBER}\s*(?:->|→|=>)\s*(?={NUMBER})", ""),
           (rf"{NUMBER}\s*(?=(?:改|调|换|变)(?:成|为|到)\s*{NUMBER})", ""),  # "预热 0.05 改成 0.1"
           # "训练 3 轮改成 5 轮", "3 epochs to 5 epochs"
           (rf"{NUMBER}\s*{UNITS}\s*(?:(?:改|调|换|变)?(?:成|为|到)|to|->|→|=>)\s*(?={NUMBER}\s*{UNITS})", ""),
           # "3 epochs, lr 0.0002 — swap to 2 epochs, lr 0.0003", "r=16, alpha=32 改成 r=32": what the card says,
           # then what it should
           (r"^(?:[^—–]*\d[^—–]*\s[—–]+\s*|[^—–]*\w\s*=\s*\d[^—–]*?\d\s*[,，;；]?\s*)(?:(?:swap|switch|change|move|go)\s+"
            r"(?:(?:it|them|those|these)\s+)?to|换成|改成|改为)\s*(?=.*[a-z\u4e00-\u9fff])(?=.*\d)", ""))
"""A change said with the value it had: "change the rank from 16 to 8", "change rank 16 to 8", "把秩从 16 改到 8",
"rank 16 → 8" are rank 8."""


def from_to(low: str) -> str:
    """`low` with each change's old value dropped (`FROM_TO`), unless the message asks a search over a range
    ("tune lr from 2e-5 to 5e-4", "a rank anywhere from 32 to 64" are ranges)."""
    if re.search(r"\b(?:search|tune|sweep|explore|find|try|range|anywhere|somewhere)\b|between|之间|搜|试", low):
        return low
    for pattern, to in FROM_TO:
        low = re.sub(pattern, to, low)
    return low


BETTER = (r"(?:is|would\s+be|seems|sounds)\s+(?:safer|better|more\s+stable|enough|plenty)|"
          r"更稳|更好|更合适|更安全|比较稳|比较好")
"""A value said to be better than the one disputed ("why batch 8? 4 is safer", "为什么批大小是 8？4 更稳")."""
PAST = (r"(?:[^,;!?，；。！？.]|\.(?=\d))*(?:\blast\s+time\b|\bpreviously\b|\bin\s+the\s+past\b|\bused\s+to\b|"
        r"\b(?<!if )(?:i|we)\s+(?:used|tried|had|ran|trained)\b|"
        r"\b(?:our|the|my)\s+(?:earlier|previous|old|last)\s+(?:adapter|run|model|attempt|version|try|training)\b|"
        r"上次|以前|之前(?:用|试|搜|跑|训)|过去用|"
        r"(?:用|试|搜索|跑|训练)过(?!\s*\d|程|拟合|度|滤|去|来|头|多|少|大|小|长|高|低)|"
        r"\b(?:i\s+)?(?:don'?t|do\s+not)\s+agree\s+with\b|\bdisagree\s+with\b|不同意|"
        r"(?:\bexcept(?:\s+for)?\b|除了)(?=[^,;!?，；。！？\d]{1,30}[,;，；]\s*[^,;，；]*\d)|"
        r"(?:\bwhy\b|为什么|为啥)(?=[^?？]{0,40}[?？]\s*(?:(?:just\s+|so\s+)?(?:try|use|go\s+with|do|make\s+it)\s+|"
        r"(?:那就|就)?(?:试试|用|改成)\s*)?\d+(?:\.\d+)?(?:e-?\d+)?\s*(?:[a-z]+|轮|个)?\s*(?:should\s+do|will\s+do|"
        r"is\s+enough|就够|就行|就可以|吧|$|[.!。！]|" + BETTER + r"))|"
        r"\b(?:i\s+)?(?:don'?t|do\s+not)\s+think\s+(?=[^,;!?，；。！？]{0,20}?\d[^,;!?，；。！？]{0,20}?\b(?:is|are|will\s+be|"
        r"would\s+be)\s+(?:enough|right|good|ok(?:ay)?|sufficient|plenty)\b[^,;!?]{0,3}[,;]\s*[^,;]*\d))"
        r"(?:[^,;!?，；。！？.]|\.(?=\d))*")
"""A clause about an earlier run ("last time I used lr 1e-3 and it diverged", "上次学习率用 1e-3"), or one that
disputes a value before giving another ("I don't agree with rank 16, use 8", "why 3 epochs? 2 should do"): its settings
are not asked for (a worry in it is: `goals` reads it first)."""
QUALITY_OVER = (r"(?:quality|accuracy)\s+(?:matters\s+more|is\s+more\s+important|over|first|before)|"
                r"(?:over|more\s+than|rather\s+than|before)\s+(?:speed|time)\b|don'?t\s+care\s+(?:about\s+(?:speed|time)|how\s+long)|"
                r"\bno\s+(?:rush|hurry)|\bnot\s+in\s+(?:a|any)\s+(?:hurry|rush)|\bas\s+good\s+as\s+(?:possible|it\s+can\s+be)|"
                r"\b(?:can|may|could)\s+run\s+(?:all\s+)?(?:overnight|all\s+night)|效果比速度重要|质量比速度重要|"
                r"不在乎时间|不着?急|慢一点没关系|(?:可以|能)跑(?:一)?(?:晚上|整晚|一整夜|通宵)")
FAST_OVER = (r"(?:speed|time)\s+(?:matters\s+more|is\s+more\s+important|over|first|before)|(?:over|more\s+than|"
             r"rather\s+than|before)\s+(?:quality|accuracy)\b|越快越好|速度比效果重要|不在乎效果")
"""A preference said as one thing over the other ("quality matters more than speed", "越快越好")."""


PICK = (r"(?:^|[,;.:，；。：]\s*|\b(?:so|then|just)\s+)"
        r"(?:pick|choose|go\s+with|let'?s\s+say|let\s+us\s+say|say|take)\s+" + NUMBER + r"(?:\s+then)?\s*[.!]?$|"
        r"[:：，,]\s*(?:那就|就)?(?:选|挑|取)\s*" + NUMBER + r"\s*吧?\s*[。！!]?$")
""""Between 3 and 5 epochs is fine, pick 4", "the learning rate, let's say 1e-4": the number for the one setting the
message names."""
NEGATIVE = r"(?:^|(?<=[a-z\u4e00-\u9fff]\s)|(?<=[=:：]\s)|(?<=[=:：]))-\d+(?:\.\d+)?(?:e-?\d+)?(?![\d.])"
"""A negative number after a setting's name or a colon ("train -2 epochs", "lr: -1e-4"), not a range ("3-5")."""
RANGE_KEYS = {"r": r"(?<![a-z])(?:lora[_ ])?(?:rank|r)(?![a-z])|秩",
              "learning_rate": r"learning[ _-]?rate|(?<![a-z])lr|学习率", "epochs": r"(?<![a-z])epochs?(?![a-z])|轮数",
              "batch_size": r"batch[ _]size|批大小"}
RANGED_VALUE = (r"(?:{key})\s*(?:(?:should\s+be\s+|is\s+fine\s+|is\s+ok\s+)?(?:(?:somewhere\s+|anywhere\s+)?between|"
                r"(?:somewhere|anywhere)\s+from|in\s+the\s+range(?:\s+of)?)\s+{n}\s+(?:and|to)\s+{n}|"
                r"(?:[:=]|(?:设|定|控制|保持|放)?在)?\s*{n}\s*(?:[-–~]|到|至|\s+to\s+)\s*{n}(?![\d.])(?:\s*之间)?|"
                r"(?:(?:设|定|控制|保持|放)?在)?\s*{n}\s*(?:和|与)\s*{n}\s*之间)")
"""A setting kept within a range ("lr between 1e-4 and 2e-4", "rank 8-16", "学习率 1e-4 到 3e-4 之间"): `Between`, the
plan's value when within, else the nearer end (the epochs' range is read on its own: "3-5 epochs")."""
THIS_TIME = (r"(?:^|[,;.:?，；。：？]\s*|\b(?:so|then|now|just)\s+)(?:this\s+time\s+)?(?:let'?s\s+)?"
             r"(?:try|use|go\s+with|do|make\s+it|pick|take)\s+" + NUMBER
             + r"(?:\s+(?:this\s+time|instead|now))?\s*[.!]?$|"
             r"(?:^|[,;.:?，；。：？]\s*)" + NUMBER + r"(?:\s*(?:[a-z]+|轮|个))?\s*(?:should\s+do|will\s+do|"
             r"is\s+enough|"
             r"就够了?|就行|就可以|" + BETTER + r")\s*[.!。！]?$|"
             r"(?:^|[,;.:?，；。：？]\s*)(?:所以|那|那么)?(?:这次|这回|现在)?\s*(?:就)?(?:试试|试一下|试|用|改成|换成|设成|改用)\s*"
             + NUMBER + r"\s*(?:吧|看看)?\s*[。！!]?$")
"""A bare number for this run after a clause about an earlier one ("I used rank 8 before and it underfit, try 32",
"之前用秩 8 欠拟合了，这次试试 32"): the one setting that clause names."""


LORA_SAID = (r"(?:\buse|\bwith|\bplain|\bregular|\bstandard|\bfull[- ]precision|\bback\s+to|\bswitch\s+to|"
             r"\bgo\s+with|用|使用|普通|16\s*位的?|[换改用]回|回到|[换改]成)\s*"
             r"(?:a\s+|an\s+)?(?:bf16|fp16|16-?bit)?\s*"
             r"(?:的)?\s*(?<![\w-])lora\b(?![ _-]?(?:rank|alpha|dropout|r\b|秩|adapter\s+rank))")
"""LoRA said as the method ("use LoRA", "用 bf16 的 lora"), not a word of another setting ("use lora rank 8")."""


def understand(text: str) -> Intents:
    """What one message says (`Intents`). A change followed by a question ("use rank 8, will it still fit?",
    "秩改成 8，这样还放得下吗？") is both: the change made, the question answered on the plan it makes."""
    if parts := split_question(text):
        first = _understand(parts[0])
        if (first.values.keys() - {"language", *GPU_KEYS} and not (first.asked or first.sweep or first.undo
                                                                   or first.forget or first.start or first.back)
                and (second := _understand(parts[1])).asked):
            asked = second.asked if second.asked != ["?"] or second.named else [  # "why is it slower?": the field
                f for k in first.values if (f := "base_model" if k == "base_model" else SETTINGS[k].field) in ASKABLE
            ] or ["?"]  # changed
            return replace(first, values={**first.values, **second.values}, asked=asked, named=second.named,
                           notes=first.notes + second.notes)
    return _understand(text)


def _understand(text: str) -> Intents:
    t = mandarin(simplified(text.strip()))  # traditional Chinese read as simplified, written Cantonese as
    # Mandarin: what the rules are written in
    notes: list[str] = []
    if len(t) > MAX_READ:
        zh = re.search(r"[\u4e00-\u9fff]", t[:200])
        notes.append(f"消息很长，只读取了前 {MAX_READ:,} 个字符来理解设置" if zh else
                     f"this message is long: only its first {MAX_READ:,} characters were read for settings")
        t = t[:MAX_READ]
    # A run of more digits than any setting could take is cut to 32 (still out of every bound, and so refused with
    # a note): each pattern that starts with a number otherwise tries every start inside the run, quadratic time
    # (20,000 digits took 140 s).
    whole = digits(re.sub(r"\d{33,}", "9" * 32, t.lower()))
    low = from_to(whole)
    low = re.sub(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F]", " ", low)  # "looks great 👍 let's go"
    before = low
    now, now_t = re.sub(PAST, " ", low), re.sub(PAST, " ", t, flags=re.I)  # "last time we used llama 8b": not asked
    metrics_off, metrics_only, now = metrics_changed(now)  # "drop f1, accuracy is enough": no other setting's words
    said: dict[str, Any] = {"task_type": task_of(whole),  # "grade essays from 1 to 5" is no change of a value
                            "language": _language(t, low), "base_model": named_model(now, now_t) or model_step(now),
                            "licence": licence_wanted(now), "metrics": metrics_asked(now),  # "it has to be
                            "metrics_off": metrics_off, "metrics_only": metrics_only}  # Apache-licensed",
    # "also report exact match"
    read_gpu(low, said, notes)
    zh = bool(re.search(r"[\u4e00-\u9fff]", t))
    goal_words, said_goals, dropped = goals(low, zh)  # "I'm worried it will overfit": the settings words it means,
    notes += said_goals  # read in the whole message ("last time I used lr 1e-3 and the loss diverged": a lower rate)
    low = now + goal_words  # but the settings of an earlier run are not asked for
    asking = low  # a question is read whole ("would two more epochs help?" even after the two more epochs are taken)
    if re.search(r"\bno\s*qlora|without qlora|don'?t use qlora|\bnot\s+(?:a\s+)?qlora|full lora|plain lora|"
                 r"\b(?:turn|switch|toggle)\s+(?:the\s+)?(?:qlora|4[- ]?bit|quantiz\w*)(?:\s+mode)?\s+"
                 r"(?:back\s+)?off\b|"
                 r"\b(?:turn|switch)\s+off\s+(?:the\s+)?(?:qlora|4[- ]?bit|quantiz\w*)|"
                 r"(?:instead of|rather than) qlora|(?<!要)(?:不|别)(?:要|用|想)?(?:用|使用)?\s*qlora|"
                 r"(?:\bno|without|don'?t(?:\s+use)?|do not(?:\s+use)?|never|not)\s+(?:4[- ]?bit|quantiz)|"
                 r"(?<!要)(?:不|别)(?:要|想)?(?:用|使用)?\s*(?:4\s*-?\s*bit|4\s*位|量化)|"
                 r"(?:rather\s+not|no\s+longer|\bskip|\bdrop|\bditch|\blose)(?:\s+us(?:e|ing))?\s+(?:the\s+)?"
                 r"(?:qlora|4[- ]?bit|quantiz)|"
                 r"(?:4[-_ ]?bit|qlora|quantiz\w*)\s*[=:]\s*(?:false|0|no|off|none)\b|"
                 r"(?:不要|不用|别|不需要|无需|不想用?|不|去掉|取消|关掉|拿掉)\s*(?:量化|4\s*bit|4\s*位)|"
                 r"(?:量化|4\s*位)\s*(?:去掉|取消|关掉|关了|拿掉|不要了)|"
                 r"\b(?:don'?t|do\s+not)\s+want\s+(?:to\s+use\s+)?(?:qlora|4[- ]?bit|quantiz)|"
                 r"\bchanged\s+my\s+mind\s+(?:about|on)\s+(?:using\s+)?(?:qlora|4[- ]?bit|quantiz)",
                 low):  # "don't quantize" is not QLoRA
        said["method"] = "lora"
    elif re.search(r"(?<![\d.])8[- ]?bit|8\s*位|\bint8", low) and not re.search(r"qlora|4[- ]?bit|4\s*位|adam|"
                                                                             r"optimi[sz]er|优化器", low):
        notes.append("不提供 8 位训练：可以用 16 位基座的 LoRA，或 4 位的 QLoRA" if zh else
                     "8-bit training is not offered: LoRA on the 16-bit base, or QLoRA (4-bit)")  # not QLoRA's 4
    elif re.search(r"qlora|4[- ]?bit|quantiz|量化", low) and not re.search(FALLBACK, low):
        said["method"] = "qlora"
    elif re.search(FALLBACK, low):  # "only use qlora if lora doesn't fit": given back to the planner (`reset`)
        notes.append("Tailor 本来就只在 LoRA 放不下时才改用 QLoRA" if zh else
                     "Tailor already uses QLoRA only where LoRA does not fit the GPU")
    elif re.search(LORA_SAID, low):  # "use bf16 LoRA", "用 bf16 的 lora": LoRA on the 16-bit base, asked for
        said["method"] = "lora"
    if re.search(QUALITY_OVER, low):  # "quality matters more than speed" names speed too
        said["preference"] = "quality"
    elif re.search(FAST_OVER + r"|\bfast|quick|asap|hurry|speed (?:it |things )?up|smoke[ -]test|快速|尽快|快一点|快点|"
                               r"速度优先|冒烟测试|试跑", low):
        said["preference"] = "fast"
    elif re.search(r"best quality|high quality|highest quality|quality first|accura|\bbest\s+(?:possible\s+)?(?:model|"
                   r"results?|adapter)\b|质量最好|效果最好|高质量|最好的效果|效果优先|质量优先|准确(?:率|度|性)?(?:最|更)?(?:重要|优先)",
                   re.sub(METRIC, "", re.sub(METRIC_NAMES["accuracy"], " ", low) if said.get("metrics") else low)):
        # not "pick the best run by accuracy" (what judges a sweep), nor "also report accuracy" (a measure)
        said["preference"] = "quality"
    if effective := re.search(EFFECTIVE, low):  # a batch × accumulation, not a batch of that many rows
        said["accumulation"] = EffectiveBatch(int(next(g for g in effective.groups() if g)))
        low = low[:effective.start()] + low[effective.end():]
    if more := re.search(MORE_OF, low):  # "two more epochs": the plan's epochs plus two, not 2 epochs
        count, word = (more["n"], more["w"]) if more["n"] else (more["zn"], more["zw"])
        amount = float(count) if count[0].isdigit() else COUNTS[count]
        said["epochs"] = Added(-amount if word in ("less", "fewer", "少", "减") else amount)
        low = low[:more.start()] + low[more.end():]
    if keep := re.search(KEEP_EFFECTIVE, low):  # "halve the batch but keep the effective batch the same"
        said["accumulation"] = EffectiveBatch(0)
        low = low[:keep.start()] + low[keep.end():]
    if warm := re.search(WARMUP_STEPS, low):  # steps of warm-up, not a limit on training's steps
        said["warmup_ratio"] = WarmupSteps(int(next(g for g in warm.groups() if g)))
        low = low[:warm.start()] + low[warm.end():]
    if held := re.search(HELD_ROWS, low):  # "hold out 12 examples": a share of the rows
        said["validation_fraction"] = HeldRows(int(next(g for g in held.groups() if g)))
        low = low[:held.start()] + low[held.end():]
    if (share := re.search(ROW_SHARE, low)) and 0 < (pct := float(next(g for g in share.groups() if g))) < 100:
        said["max_rows"] = RowShare(pct / 100)  # "train on half of the data": a row limit, not a held-out share
        low = low[:share.start()] + low[share.end():]
    elif share:  # "use 150% of the data"
        notes.append(f"“{pct:g}%”的数据不可能：比例要小于 100%（“用全部数据”会取消行数限制），"
                     "计划保留原来的值" if zh else
                     f"“{pct:g}% of the data” is not possible: a share is under 100% (“use all the data” lifts a row "
                     "limit), so the plan keeps its own value")
        low = low[:share.start()] + low[share.end():]
    for m in reversed(list(re.finditer(NEGATIVE, low))):  # "train -2 epochs": refused, not 2 epochs
        notes.append(f"“{m.group()}”不可能：设置没有负值，计划保留原来的值" if zh else
                     f"“{m.group()}” is not possible: no setting takes a negative value, so the plan keeps its own")
        low = low[:m.start()] + " " + low[m.end():]
    if not tries(low):  # "between 3 and 5 epochs is fine": neither number is the value, but the range the epochs
        # keep to ("try rank 8-16": the values to try)
        if m := re.search(rf"\bbetween\s+{NUMBER}\s+(?:and|to)\s+{NUMBER}\s*(?:个\s*)?(?:epochs?\b|轮)", low):
            said["epochs"] = Between(*sorted(float(g) for g in m.groups()))
        for name, key in RANGE_KEYS.items():  # "lr between 1e-4 and 2e-4", "rank 8-16", "学习率 1e-4 到 3e-4 之间"
            if name not in said and (m := re.search(RANGED_VALUE.format(key=key, n=NUMBER), low)):
                pair = [float(g) for g in m.groups() if g]  # "rank 16 to 8" is a change: 8
                said[name] = (allowed(SETTINGS[name], pair[1], notes, zh) if pair[0] > pair[1] and re.search(
                    r"\sto\s", m.group()) and "between" not in m.group() else Between(*sorted(pair)))
                low = low[:m.start()] + low[m.end():]
        low = re.sub(rf"\bbetween\s+{NUMBER}\s+(?:and|to)\s+{NUMBER}(?=\s*[a-z])", "between", low)
    said.update(bounds(low))  # "at most 5 epochs" keeps the plan's 3: not 5
    said.update({k: v for k, v in judged(low).items() if k not in said})  # "rank 64 is too big": not 64
    for setting in SETTINGS.values():  # the numbers each setting declares how people say
        if setting.patterns and setting.name not in said:
            said[setting.name] = allowed(setting, setting.read(low), notes, zh)
    pick = re.search(PICK, low)  # the one setting named, only when a turn ends "…, pick 4"
    if pick and len(names := numeric_settings(named(low))) == 1 and (said.get(names[0]) is None
                                                                     or isinstance(said[names[0]], Between)):
        said[names[0]] = allowed(SETTINGS[names[0]], float(next(g for g in pick.groups() if g)), notes, zh)  # "pick 4"
    past = " ".join(m.group() for m in re.finditer(PAST, before))  # "I used rank 8 before and it underfit, try 32"
    if (this := re.search(THIS_TIME, low)) and len(names := numeric_settings(named(past))) == 1 and not [
            k for k, v in said.items() if v is not None and k in SETTINGS and SETTINGS[k].kind in (int, float)]:
        said[names[0]] = allowed(SETTINGS[names[0]], float(next(g for g in this.groups() if g)), notes, zh)
    if not said.get("output_column") and (m := re.search(PREDICT, low)):  # "predict the queue from the body"
        said["output_column"] = MaybeColumn(next(g for g in m.groups() if g))
    if not said.get("input_column") and (m := re.search(ONLY_INPUT, low)):  # "keep only the body"
        said["input_column"] = MaybeColumn(next(g for g in m.groups() if g))
    elif not said.get("input_column") and (m := re.search(ALSO_INPUT, low)):  # "use the body too"
        said["input_column"] = AlsoColumn(next(g for g in m.groups() if g))
    if not said.get("exclude_column") and (m := re.search(EXCLUDE, low)):  # "ignore the subject": a column when the
        said["exclude_column"] = MaybeColumn(next(g for g in m.groups() if g))  # file has one by that name
    if times := times_rank(low):  # "alpha = 2x rank" holds "alpha = 2": the multiple wins
        said["alpha"] = times
    for name, relative in relatives(low).items():  # "halve the learning rate": resolved against the plan
        if said.get(name) is None and not (name == "r" and isinstance(said.get("alpha"), TimesRank)):
            said[name] = relative
    sweep = read_sweep(low)
    for path in [*sweep.get("values", {}), *sweep.get("ranges", {})]:  # "rank 8, 16 and 32" is a sweep, not rank 8
        said.pop(SWEEPABLE[path][0] or "", None)
    start = bool(re.search(START, low.strip()))
    values = {k: v for k, v in said.items() if v is not None}
    misread, bare, unmeant = corrected(low, values, lambda setting, value: allowed(setting, value, notes, zh))
    again, stepped = (None if any(isinstance(v, Relative) for v in values.values()) else
                      scaled_again(low.strip())) or (None, False)
    if again and not values.keys() - {"language"} and len(keys := [n for n, key in RELATIVE_SETTINGS.items()
                                                                   if re.search(key, low)]) == 1:
        values[keys[0]], again = Relative(again, stepped), None  # "the learning rate seems too high, halve it"
    that, switch, added = (None,) * 3 if sweep.keys() - {"off"} or [k for k in values if k != "language"] else \
        whole_turn(low.strip())  # "never mind the sweep, just use 8": the 8 is for what the sweep tried
    that = bare if that is None else that  # "typo, 16"
    again = None if that is not None else again  # "lower that to 2": the 2, not half
    tried = bool(sweep.get("values")) and bool(re.search(COMPARES, low) or not re.search(r"\bor\b|还是|或者?", low))
    # "比较一下秩 8 和 16 哪个好": a sweep, not a question; "rank 4 or 8, which is better?" is one
    if (that, switch, added, again, start) == (None,) * 4 + (False,) and (asked := question(asking, values, tried)):
        # a question that names a language ("best for Chinese text?", "哪个模型最适合日语？") sets none: it is offered
        script = {"language": lang} if (lang := _language(t, "")) and not named_language(low) else {}
        own = {k: values[k] for k in ("gpu_name", "gpu_memory_gb")
               if k in values and re.search(OWN_GPU, asking) and not set(LAPTOP) & set(notes)}  # (a guess)
        script |= own  # "I only have a T4, will it fit?": their card, and the question answered on its plan
        offered = {} if re.search(f"{OPINION}|{EITHER}", asking) else {k: v.value if isinstance(v, Judged) else v
                                                         for k, v in values.items() if k != "language" and k not in own}
        for path, tried_values in sweep.get("values", {}).items() if not tried else ():  # "rank 4 or 8, which is
            listed = ASKABLE[path][1 + zh] + " " + ("和" if zh else " and ").join(f"{v:g}" for v in tried_values)
            notes.append(f"要都试一下，请说“比较一下{listed}”" if zh else f"to try them all, say “compare {listed}”")
            # better?": answered, and how to try them all
        if asked == ["?"] and "gpu_memory_gb" in values:  # "can I run this on a T4 instead?": the memory, and
            asked = ["resources.estimated_peak_gb"]  # how to plan for that GPU
        return Intents(script, notes=notes + definitions(asking, asked, zh), asked=asked,
                       named=offered | ({"language": code} if (code := named_language(low)) else {}))
    nothing_else = (that, switch, added, again, sweep, start) == (None,) * 4 + ({}, False)
    if nothing_else and (fields := chosen(low, values, zh))[0]:
        return Intents({k: v for k, v in values.items() if k == "language"}, notes=notes + fields[1],
                       asked=fields[0])  # "use bf16": what the plan has, and that Tailor chooses it
    forget, undone = reset(low, values), undo(low.strip(), bool(values.keys() - {"language"})) or int(bool(
        values.keys() - {"language"} and not misread and re.search(MEANT, low.strip())))  # "no, I meant alpha 32":
    # the last change taken back (only what the misread number set, `corrects`, when it says one), and alpha set
    forget += [n for n in unmeant if n not in values and n not in forget]  # "not epochs, I meant 200 steps"
    dropped_values = {k: v for k, v in understand(dropped).values.items() if k in SETTINGS and k not in values
                      and k != "language"} if dropped else {}  # "forget the overfitting worry"
    back = nothing_else and not forget and not undone and not values.keys() - {"language"} and bool(
        re.search(BACK, low))  # "put both back to what you had", "随便，你看着办": nothing named (`converse`)
    adopt = not values.keys() - {"language"} and not forget and bool(re.search(ADOPT, low.strip()))
    return Intents(values, start, notes, sweep, again, stepped, that, switch, forget=forget, undo=undone,
                   dropped=dropped_values, added=added, back=back, corrects=misread, adopt=adopt)


def allowed(setting, value: Any, notes: list[str], zh: bool, shown: str | None = None) -> Any:
    """`value` in the setting's type if it is allowed; else None, and a note saying what is (the plan keeps its
    own value rather than take 200 epochs, a learning rate of 5 or a rank of 100,000 silently). `shown`: what
    the user said, when not the value itself."""
    if value is None:
        return None
    try:
        return setting.check(value)
    except ValueError:
        # as the user wrote it: a percentage stays one ("hold out 95%", not 0.95)
        shown = shown or setting.said(value if setting.scale == 1 else f"{value / setting.scale:g}%",
                                      "zh" if zh else "en")
        whole = setting.kind is int and not float(value).is_integer()
        bounds = ("a whole number " if whole else "") + setting.bounds
        notes.append(f"“{shown}”不可能：超出范围，必须{bounds_zh(bounds)}，计划保留原来的值" if zh else
                     f"“{shown}” is not possible: it must be {bounds}, so the plan keeps its own value")
        return None




def _language(t: str, low: str) -> str | None:
    """The language a message names (`languages.named_language`), else Chinese for a message written in it (which
    sets the task's language only while no task has been described in other words: `slots.Slots.apply`)."""
    if said := named_language(low):
        return said
    cjk = len(re.findall(r"[\u4e00-\u9fff]", t))
    return "zh" if cjk >= 4 else None
