"""Understanding one user turn: intents and slots from free text, in English and Chinese.

The rule-based understander always works offline. Each turn yields an `Intents` object holding only what
that turn said; the conversation applies turns in order, so the later word wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .. import plugins
from ..adjustable import NUMBER, SETTINGS
from ..models.estimate import gpu_info
from ..sweeps import SWEEPABLE
from .about import chosen, named, question, reset, undo
from .model_words import model_step, named_model
from .normalize import digits
from .sweep_words import read_sweep, searches
from .whole_turn import COUNTS, FACTORS, START, scaled_again, whole_turn

NUM = r"(\d+(?:\.\d+)?)"


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
    that: float | None = None
    """"Actually make that 8", "8 instead", "算了，还是用 16 吧": a number for the setting the previous turn set."""
    switch: bool | None = None
    """"Turn it off", "算了，还是关掉它吧": off (or on) for what the previous turn switched."""
    forget: list[str] = field(default_factory=list)
    """Settings given back to the planner: "reset the learning rate", "back to your defaults" (chat/about.py)."""
    undo: bool = False
    """"Undo that", "撤销": the previous change taken back."""
    added: float | None = None
    """"One more", "少一轮": a count added to (or taken from) the one setting the previous turn set."""
    asked: list[str] = field(default_factory=list)
    """The plan fields a question asks about ("why rank 16?"), answered with their reasons; changes nothing."""
    named: dict[str, Any] = field(default_factory=dict)
    """The values a question names ("why not rank 8?": 8), offered, not set."""

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.__dict__.get("values", {}).get(name)
        raise AttributeError(name)

    def said(self) -> dict:
        return dict(self.values)


MAX_READ = 4000
"""Characters of a message the rules read (the patterns' time grows with the square of a message's length)."""
FROM_TO = ((rf"\bfrom\s+{NUMBER}\s+to\s+(?={NUMBER})", "to "),
           (rf"从\s*{NUMBER}\s*(?=(?:改|调|降|升|减|加|变)?(?:到|成|为))", ""),
           (rf"{NUMBER}\s*(?:->|→|=>)\s*(?={NUMBER})", ""))
"""A change said with the value it had: "change the rank from 16 to 8", "把秩从 16 改到 8", "rank 16 → 8" are
rank 8."""


def from_to(low: str) -> str:
    """`low` with each change's old value dropped (`FROM_TO`), unless the message asks a search over a range
    ("tune lr from 2e-5 to 5e-4" is a range)."""
    if re.search(r"\b(?:search|tune|sweep|explore|find|try|range)\b|between|之间|搜|试", low):
        return low
    for pattern, to in FROM_TO:
        low = re.sub(pattern, to, low)
    return low


QUALITY_OVER = (r"(?:quality|accuracy)\s+(?:matters\s+more|is\s+more\s+important|over|first|before)|"
                r"(?:over|more\s+than|rather\s+than|before)\s+(?:speed|time)\b|don'?t\s+care\s+(?:about\s+(?:speed|time)|how\s+long)|"
                r"\bno\s+rush|效果比速度重要|质量比速度重要|不在乎时间|不着急|慢一点没关系")
FAST_OVER = (r"(?:speed|time)\s+(?:matters\s+more|is\s+more\s+important|over|first|before)|(?:over|more\s+than|"
             r"rather\s+than|before)\s+(?:quality|accuracy)\b|越快越好|速度比效果重要|不在乎效果")
"""A preference said as one thing over the other ("quality matters more than speed", "越快越好")."""


PREDICT = (r"\bpredict\s+(?:the\s+|each\s+|a\s+)?[`'\"“]?([\w-]+)[`'\"”]?\s+(?:column\s+|field\s+|value\s+)?"
           r"(?:from|given|based\s+on|using|out\s+of)\b|"
           r"预测\s*[`'\"“]?([\w-]+?)[`'\"”]?\s*(?:这一?)?(?:列|字段)?\s*(?=$|[\s，。,；;!！?？])")
""""Predict the queue from the subject", "根据正文预测标签": the output, when the file has a column by that name."""


ONLY_INPUT = (r"\b(?:model|it)\s+(?:should|must|can|may|will)\s+only\s+(?:see|read|use|get|look\s+at)\s+(?:the\s+)?"
              r"[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field))?(?=\s*(?:$|[,.;!]))|"
              r"\bkeep\s+only\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field))?(?=\s*(?:$|[,.;!]))|"
              r"\bonly\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?\s+(?:column\s+|field\s+)?(?:is|as|should\s+be)\s+(?:the\s+)?input")
""""The model should only see the body", "keep only the body": the one input, when the file has a column by that
name."""


PICK = (r"(?:^|[,;.:，；。：]\s*|\b(?:so|then|just)\s+)"
        r"(?:pick|choose|go\s+with|let'?s\s+say|let\s+us\s+say|say|take)\s+" + NUMBER + r"(?:\s+then)?\s*[.!]?$|"
        r"[:：，,]\s*(?:那就|就)?(?:选|挑|取)\s*" + NUMBER + r"\s*吧?\s*[。！!]?$")
""""Between 3 and 5 epochs is fine, pick 4", "the learning rate, let's say 1e-4": the number for the one setting the
message names."""


class MaybeColumn(str):
    """An output named in passing ("predict the sentiment from the text"): the file's column of that name when it
    has one (`converse`), else nothing (it was a description, not a column)."""


LORA_SAID = (r"(?:\buse|\bwith|\bplain|\bregular|\bstandard|用|使用|普通)\s*(?:a\s+|an\s+)?(?:bf16|fp16|16-?bit)?\s*"
             r"(?:的)?\s*(?<![\w-])lora\b(?![ _-]?(?:rank|alpha|dropout|r\b|秩|adapter\s+rank))")
"""LoRA said as the method ("use LoRA", "用 bf16 的 lora"), not a word of another setting ("use lora rank 8")."""


def understand(text: str) -> Intents:
    t = text.strip()
    notes: list[str] = []
    if len(t) > MAX_READ:
        zh = re.search(r"[\u4e00-\u9fff]", t[:200])
        notes.append(f"消息很长，只读取了前 {MAX_READ:,} 个字符来理解设置" if zh else
                     f"this message is long: only its first {MAX_READ:,} characters were read for settings")
        t = t[:MAX_READ]
    # A run of more digits than any setting could take is cut to 32 (still out of every bound, and so refused with
    # a note): each pattern that starts with a number otherwise tries every start inside the run, quadratic time
    # (20,000 digits took 140 s).
    low = from_to(digits(re.sub(r"\d{33,}", "9" * 32, t.lower())))
    low = re.sub(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F]", " ", low)  # "looks great 👍 let's go"
    said: dict[str, Any] = {"task_type": _task(low),
                            "language": _language(t, low), "base_model": named_model(low, t) or model_step(low)}
    _gpu(low, said, notes)
    zh = bool(re.search(r"[\u4e00-\u9fff]", t))
    if re.search(r"\bno\s*qlora|without qlora|don'?t use qlora|\bnot\s+(?:a\s+)?qlora|"
                 r"(?:instead of|rather than) qlora|(?<!要)(?:不|别)(?:要|用)?(?:用|使用)?\s*qlora|full lora|"
                 r"plain lora|"
                 r"(?:\bno|without|don'?t(?:\s+use)?|do not(?:\s+use)?|never|not)\s+(?:4[- ]?bit|quantiz)|"
                 r"(?:4[-_ ]?bit|qlora|quantiz\w*)\s*[=:]\s*(?:false|0|no|off|none)\b|"
                 r"(?:不要|不用|别|不需要|无需|不)\s*(?:量化|4\s*bit|4\s*位)", low):  # "don't quantize" is not QLoRA
        said["method"] = "lora"
    elif re.search(r"(?<![\d.])8[- ]?bit|8\s*位|\bint8", low) and not re.search(r"qlora|4[- ]?bit|4\s*位", low):
        notes.append("不提供 8 位训练：可以用 16 位基座的 LoRA，或 4 位的 QLoRA" if zh else
                     "8-bit training is not offered: LoRA on the 16-bit base, or QLoRA (4-bit)")  # not QLoRA's 4
    elif re.search(r"qlora|4[- ]?bit|quantiz|量化", low):
        said["method"] = "qlora"
    elif re.search(LORA_SAID, low):  # "use bf16 LoRA", "用 bf16 的 lora": LoRA on the 16-bit base, asked for
        said["method"] = "lora"
    if re.search(QUALITY_OVER, low):  # "quality matters more than speed" names speed too
        said["preference"] = "quality"
    elif re.search(FAST_OVER + r"|\bfast|quick|asap|hurry|speed (?:it |things )?up|快速|尽快|快一点|快点|速度优先",
                   low):
        said["preference"] = "fast"
    elif re.search(r"best quality|high quality|highest quality|quality first|accura|质量最好|效果最好|高质量|"
                   r"最好的效果|效果优先|质量优先", low):
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
    if not searches(low):  # "between 3 and 5 epochs is fine": neither number is the value
        low = re.sub(rf"\bbetween\s+{NUMBER}\s+(?:and|to)\s+{NUMBER}(?=\s*[a-z])", "between", low)
    for setting in SETTINGS.values():  # the numbers each setting declares how people say
        if setting.patterns and setting.name not in said:
            said[setting.name] = allowed(setting, setting.read(low), notes, zh)
    names = [n for n, s in SETTINGS.items() if s.in_plan and s.kind is not str and s.field in named(low)]
    if (pick := re.search(PICK, low)) and len(names) == 1 and said.get(names[0]) is None:
        said[names[0]] = allowed(SETTINGS[names[0]], float(next(g for g in pick.groups() if g)), notes, zh)  # "pick 4"
    if not said.get("output_column") and (m := re.search(PREDICT, low)):  # "predict the queue from the body"
        said["output_column"] = MaybeColumn(next(g for g in m.groups() if g))
    if not said.get("input_column") and (m := re.search(ONLY_INPUT, low)):  # "keep only the body"
        said["input_column"] = MaybeColumn(next(g for g in m.groups() if g))
    if times := _times_rank(low):  # "alpha = 2x rank" holds "alpha = 2": the multiple wins
        said["alpha"] = times
    for name, relative in _relative(low).items():  # "halve the learning rate": resolved against the plan
        if said.get(name) is None and not (name == "r" and isinstance(said.get("alpha"), TimesRank)):
            said[name] = relative
    sweep = read_sweep(low)
    for path in sweep.get("values", {}):  # "rank 8, 16 and 32" is a sweep, not rank 8
        said.pop(SWEEPABLE[path][0] or "", None)
    start = bool(re.search(START, low.strip()))
    values = {k: v for k, v in said.items() if v is not None}
    again = None if any(isinstance(v, Relative) for v in values.values()) else scaled_again(low.strip())
    if again and not values.keys() - {"language"} and len(keys := [n for n, key in RELATIVE_SETTINGS.items()
                                                                   if re.search(key, low)]) == 1:
        values[keys[0]], again = Relative(again), None  # "the learning rate seems too high, halve it"
    that, switch, added = (None,) * 3 if sweep.keys() - {"off"} or [k for k in values if k != "language"] else \
        whole_turn(low.strip())  # "never mind the sweep, just use 8": the 8 is for what the sweep tried
    if (that, switch, added, again, start) == (None,) * 4 + (False,) and (asked := question(low, values)):  # "why?"
        return Intents({k: v for k, v in values.items() if k == "language"}, notes=notes, asked=asked,
                       named={k: v for k, v in values.items() if k != "language"})
    nothing_else = (that, switch, added, again, sweep, start) == (None,) * 4 + ({}, False)
    if nothing_else and (fields := chosen(low, values, zh))[0]:
        return Intents({k: v for k, v in values.items() if k == "language"}, notes=notes + fields[1],
                       asked=fields[0])  # "use bf16": what the plan has, and that Tailor chooses it
    return Intents(values, start, notes, sweep, again, that, switch, forget=reset(low, values), undo=undo(low.strip()),
                   added=added)


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
        notes.append(f"“{shown}”超出范围（{bounds}），计划保留原来的值" if zh else
                     f"“{shown}” is not possible: it must be {bounds}, so the plan keeps its own value")
        return None




@dataclass(frozen=True)
class Relative:
    """A setting said relative to the plan as it stood ("halve the learning rate", "秩翻倍"): the conversation
    multiplies the plan's value before the turn by `factor` (`chat.converse`)."""

    factor: float

    def of(self, plan, setting) -> float:
        from ..adjustable import get_path

        return get_path(plan, setting.field) * self.factor


@dataclass(frozen=True)
class Added:
    """"Two more epochs", "one more": the plan's value before the turn plus `amount` (`chat.converse`)."""

    amount: float

    def of(self, plan, setting) -> float:
        from ..adjustable import get_path

        return get_path(plan, setting.field) + self.amount


MORE_OF = (r"(?<![\w.])(?P<n>\d+|one|two|three|a couple of)\s+(?P<w>more|fewer|less|extra)\s+epochs?\b|"
           r"(?:再)?(?P<zw>多|加|少|减)\s*(?:训练|跑|训)?\s*(?P<zn>\d+)\s*(?:轮|个\s*epoch)")
"""Epochs more or fewer than the plan's ("two more epochs", "再加 1 轮", "多训练 2 轮": the Chinese numbers are
digits by then), whatever else the message says."""


@dataclass(frozen=True)
class WarmupSteps:
    """"Warm up for 100 steps": the share of the plan's optimizer steps (before the turn) that many steps are."""

    steps: int

    def of(self, plan, setting) -> float:
        from ..sweeps import optimizer_steps

        return round(self.steps / optimizer_steps(plan), 3)

    def words(self, plan, zh: bool) -> str:
        from ..sweeps import optimizer_steps

        steps = optimizer_steps(plan)
        return (f"预热 {self.steps} 步（计划共 {steps} 步）" if zh else
                f"warm up for {self.steps} of the plan's {steps} steps")


@dataclass(frozen=True)
class RowShare:
    """"Train on half of the data", "只用 30% 的数据": that share of the file's rows, as a row limit."""

    share: float

    def of(self, plan, setting) -> float:
        return plan.data.rows * self.share


@dataclass(frozen=True)
class HeldRows:
    """"Hold out 12 examples for validation": that many of the plan's rows, as the held-out share."""

    rows: int

    def of(self, plan, setting) -> float:
        return self.rows / max(1, plan.data.used_rows)

    def words(self, plan, zh: bool) -> str:
        return (f"留出 {self.rows} 条（共 {plan.data.used_rows} 条）" if zh else
                f"hold out {self.rows} of the plan's {plan.data.used_rows} rows")


HELD_ROWS = (r"(?:hold\s+out|hold\s+back|set\s+aside|keep|reserve|use|save)\s+(\d+)\s+"
             r"(?:rows|examples|samples|records)\s+(?:aside\s+|apart\s+|back\s+|out\s+)?(?:for|as)\s+(?:the\s+)?(?:validation|validating|eval(?:uation)?|test(?:ing)?|dev)|"
             r"(?:留出?|拿出|分出|取)\s*(\d+)\s*(?:条|行|个样本)(?:数据)?\s*(?:做|作为|用于|当|来)?\s*(?:验证|测试|评估)|"
             r"(?:验证|测试)(?:集|数据)\s*(?:留|用|取|要|给)?\s*(\d+)\s*(?:条|行|个样本)|"
             r"\b(\d+)\s+(?:rows|examples|samples|records)\s+(?:held[ -]out|for\s+(?:validation|evaluation|testing))")
"""A number of rows to hold out, not a share (`HeldRows`)."""


ROW_SHARE = (r"(?:use|take|keep|train\s+on|sample|fine-?tune\s+on)\s+(?:only\s+|just\s+)?(\d+(?:\.\d+)?)%\s+of\s+"
             r"(?:the\s+|my\s+|our\s+|all\s+)?(?:data|rows|dataset|examples|samples)\b"
             r"(?!\s+(?:for|as|to)\s+(?:the\s+)?(?:validation|validate|eval|evaluation|test|testing|dev|held))|"
             r"(?:只用|仅用|只取|只拿|抽取|抽样|(?<![不没])用)\s*(\d+(?:\.\d+)?)%\s*的?(?:数据|样本|行)"
             r"(?!\s*(?:做|作为|用于|当|来)\s*(?:验证|测试|评估))")
"""A share of the data to train on, not to hold out (`RowShare`)."""


@dataclass(frozen=True)
class EffectiveBatch:
    """"Effective batch size 64": the accumulation that makes the plan's batch (before the turn) that many rows a
    step, at least 1. `rows` 0: the plan's own effective batch, kept ("halve the batch but keep the effective
    batch the same"), with `batch` the batch the turn set."""

    rows: int
    batch: int = 0

    def of(self, plan, setting) -> int:
        rows = self.rows or plan.training.batch_size * plan.training.gradient_accumulation
        return max(1, -(-rows // (self.batch or plan.training.batch_size)))


KEEP_EFFECTIVE = (r"\b(?:keep|keeping|hold|holding|maintain|maintaining|leave|leaving)\s+(?:the\s+)?"
                  r"(?:effective|global|total)\s+batch(?:[ _-]?size)?\s+(?:the\s+)?"
                  r"(?:same|constant|unchanged|as\s+it\s+is|fixed)|"
                  r"(?:有效|等效|全局)\s*(?:批大小|批量|batch(?:\s*size)?)\s*(?:保持)?(?:不变|一样|相同)")
"""The effective batch kept while the batch changes: the accumulation makes up the difference."""


EFFECTIVE = (r"(?:effective|global|total)\s+batch(?:[ _-]?size)?(?:\s+(?:of|to|=|:|is))?\s*(\d+)|"
             r"(?:有效|等效|全局)\s*(?:批大小|批量|batch(?:\s*size)?)\s*(?:为|是|设为|=|:)?\s*(\d+)")
WARMUP_STEPS = (r"warm[ _-]?up\s+(?:for\s+|over\s+|during\s+|of\s+)?(?:the\s+first\s+)?(\d+)\s*(?:optimi[sz]er\s+|"
                r"training\s+)?steps?\b|(?:预热|warmup)\s*(?:前)?\s*(\d+)\s*步|warm[ _-]?up[ _]steps\s*[=:]?\s*(\d+)|"
                r"预热步数\s*(?:为|是|设为|用|=|:)?\s*(\d+)")


RELATIVE_SETTINGS = {"learning_rate": r"learning[ _-]?rate|\blr\b|学习率", "r": r"(?:lora\s+)?rank|秩",
                     "batch_size": r"batch[ _]size|\bbatch\b|批大小|批量大小",
                     "epochs": r"(?:number of\s+)?epochs|轮数|epoch数",
                     "max_length": r"max(?:imum)?[ _-]?(?:length|len)|最大长度|序列长度"}


@dataclass(frozen=True)
class TimesRank:
    """"Alpha equal to the rank", "alpha twice the rank": alpha as a multiple of the plan's rank."""

    factor: float

    def of(self, plan, setting) -> float:
        return plan.lora.r * self.factor


ALPHA_OF_RANK = (r"alpha\s+(?:(?:should|must|needs?\s+to|can|could)\s+be\s+|is\s+|be\s+)?"
                 r"(?:equal\s+to|equals|=|same\s+as|the\s+same\s+as|matching|to\s+match|at|to)?\s*(?:the\s+)?"
                 r"(twice|double|half|(?:\d+(?:\.\d+)?)\s*(?:x|×|times))?\s*(?:the\s+)?(?:lora\s+)?(?:rank|\br\b)|"
                 r"alpha\s*(?:和|与|跟)?\s*(?:秩|rank)\s*(?:一样|相同|相等)|alpha\s*(?:设为|等于|是|为|=)\s*(?:秩|rank)(?:\s*的\s*(\d+)\s*倍)?")


def _times_rank(low: str) -> TimesRank | None:
    if not (m := re.search(ALPHA_OF_RANK, low)):
        return None
    word = m.group(1) or (m.group(2) and m.group(2) + "x") or ""
    factor = {"twice": 2.0, "double": 2.0, "half": 0.5}.get(word.strip())
    if factor is None:
        factor = float(re.match(r"\d+(?:\.\d+)?", word).group()) if word else 1.0
    return TimesRank(factor)


THEN = (r"[^.;!?。；！？\n]{0,30}?(?:(?<![a-z])(?:use|say|try|make it|go with|maybe|like|用|改成|改为|设为|设成|"
        r"调到|到)\s*|[,，:：]\s*)" + NUMBER
        + r"(?=\s*(?:$|[,.;!?，。；！？)、]|(?:and|with|plus|but|instead|then|please|or so)\b|"
          r"吧|试试|左右|看看|和|并|再))")
"""The number a relative change goes on to name in its sentence: "lower the lr a bit, use 1e-5", "学习率调低一点，用
1e-5" (the number said wins over half or twice; one the setting cannot take leaves the relative change)."""


JUDGED = (r"(?:{key})\s*(?:'s|is|are|seems?|looks?|feels?|sounds?)?\s*(?:like\s+)?(?:a\s+bit\s+|a\s+little\s+|"
          r"way\s+|much\s+|far\s+|kind\s+of\s+|rather\s+|quite\s+|pretty\s+|very\s+|too\s+)*"
          r"(?:(?:(high|big|large|long|much|many)|(low|small|short|little|few))\b(?!\s+(?:enough|to|for))|"
          r"(?:也)?(?:太|有点|有些|偏|过于)(?:(高|大|长|多)|(低|小|短|少))了?(?:吧|啊)?\s*[。！!?？,，]?$)")
"""A setting named and judged, with no change said: "the rank seems low", "lr is a bit high", "学习率有点高",
"轮数太多了" (too much: half; too little: twice, as "that's too low" is for the previous turn's setting)."""


AS_LONG = (r"\b(?:train|run|go|fine-?tune)\b[^.;!?\d]{0,24}?\b(?:(twice|double)|(half)|(\d+(?:\.\d+)?)\s*(?:times|x|×))"
           r"\s+as\s+long\b|"
           r"(?:训练|跑)(?:的)?(?:时间|轮数)?\s*(?:(?:翻倍|加倍|延长一倍)|(减半))")
"""Training said to be longer or shorter as a whole: "train it for twice as long", "half as long", "训练时间加倍"
(the epochs, times the factor)."""


BY_PERCENT = (r"\b(lower|reduce|decrease|drop|cut|raise|increase|bump|grow|lift)\s+(?:the\s+|my\s+)?(?:{key})"
              r"(?:\s+up)?\s+by\s+(\d+(?:\.\d+)?)\s*%")
"""A setting changed by a percentage: "drop the learning rate by 50%", "raise the rank by 100%"."""
UP_WORDS = ("raise", "increase", "bump", "grow", "lift")


def _relative(low: str) -> dict[str, Relative | Any]:
    """Settings a message changes relative to the plan: halved or doubled; lowered or raised with no number
    (the same: half or twice, which the reply shows), or with a number named after it (`THEN`: that number); or
    judged too high or too low (`JUDGED`)."""
    out = {}
    for name, key in RELATIVE_SETTINGS.items():
        if (m := re.search(JUDGED.format(key=key), low)) and not re.search(r"\d", low[m.end():]):
            out[name] = Relative(0.5 if m.group(1) or m.group(3) else 2.0)
            continue
        if m := re.search(BY_PERCENT.format(key=key), low):  # "drop the learning rate by 50%"
            share = float(m.group(2)) / 100
            if share < 1 or m.group(1) in UP_WORDS:
                out[name] = Relative(1 + share if m.group(1) in UP_WORDS else 1 - share)
                continue
        for words, factor in FACTORS:
            if m := re.search(rf"(?:{words})\s*(?:the\s+|my\s+|a\s+)?(?:{key})(?!\s*(?:to|=|:|为|到|成)?\s*\d)"
                              rf"|(?:{key})\s*(?:[^,.;!?，。；！？\d]{{1,12}}[,，]\s*)?(?:再\s*)?(?:in\s+half|by\s+half|"
                              rf"halved|doubled|(?:{words}))"
                              rf"(?!\s*(?:to|=|:|为|到|成)?\s*\d)", low):
                then = re.match(THEN, low[m.end():])
                value = _taken(SETTINGS[name], then.group(1)) if then else None
                out[name] = Relative(factor) if value is None else value
                break
    if "epochs" not in out and (m := re.search(AS_LONG, low)):
        out["epochs"] = Relative(0.5 if m.group(2) or m.group(4) else float(m.group(3)) if m.group(3) else 2.0)
    return out


def _taken(setting, text: str) -> Any:
    """`text` as a value of `setting` (`Setting.check`: 8.0 is 8 for an integer), or None where it cannot take it."""
    try:
        return setting.check(float(text))
    except ValueError:
        return None


def _task(low: str) -> str | None:
    """The registered task whose words the message uses (tasks tried by priority: the more specific first)."""
    return next((t.name for t in plugins.get().task_order() if re.search(t.patterns, low)), None)


def _language(t: str, low: str) -> str | None:
    if re.search(r"in chinese|chinese (text|review|data|document)|mandarin|中文|汉语|简体|繁体", low):
        return "zh"
    if re.search(r"in english|english (text|review|data)|英文|英语", low):
        return "en"
    cjk = len(re.findall(r"[\u4e00-\u9fff]", t))
    return "zh" if cjk >= 4 else None


CLAUSE = r"[,，;；。、]|\band\b|\bwith\b|和"


SETTING_BEFORE = (r"(?:seed|length|len|steps?|rows|rank|alpha|batch(?:[ _]size)?|种子|长度|步数)\s*"
                  r"(?:to|=|:|of|is|为)?\s*$")
COUNT_AFTER = r"\s*(?:steps?|rows|tokens|examples|samples|epochs|minutes|mins|条|步|行|个|轮)"
"""A bare four-digit number that a setting says ("seed 2070", "1080 steps") rather than a card's."""


APPLE = (r"\bmacbook|\bmac\s+(?:pro|air|mini|studio|m[1-4])\b|\b(?:on|with|using|have)\s+(?:a\s+|an\s+|my\s+|the\s+)?"
         r"mac\b(?!\s*address)|apple silicon|apple m[1-4]|(?<![a-z0-9.])m[1-4]\s+(?:pro|max|ultra|chip)\b|苹果电脑|"
         r"\bmac\s*(?:电脑|笔记本)|\bmac\s*m[1-4]")
"""An Apple computer: its GPU (MPS) is not one training here uses, so the plan is the CPU's, and the reply says so."""


def _gpu(low: str, said: dict[str, Any], notes: list[str]) -> None:
    apple = re.search(APPLE, low)
    if apple or re.search(r"no gpu|without (a )?gpu|(?:don'?t|do not|doesn'?t|does not)\s+have\s+(?:a\s+|any\s+)?"
                          r"(?:gpu|graphics card|nvidia)|no graphics card|cpu only|only (have )?(a )?cpu|"
                          r"on (my |the |a )?cpu|laptop without|"
                          r"(?:just|only) (?:a |an |my |the )?(?:laptop |desktop |intel |amd )?cpu\b|"
                          r"(?:laptop|desktop) cpu\b|no (?:cuda|nvidia)|"
                          r"没有\s*gpu|没有显卡|无显卡|只有\s*cpu|用\s*cpu|在\s*cpu\s*上|没有独显|无独显|"
                          r"集显|核显", low):
        said["gpu_name"], said["gpu_memory_gb"] = "", 0.0
        if apple:
            notes.append("训练不使用 Apple 的 GPU（MPS），所以按 CPU 规划" if re.search(r"[\u4e00-\u9fff]", low) else
                         "training here does not use Apple GPUs (MPS), so the plan is for the CPU")
        return
    # The first that names a card ("max length 1024 on a 4090"); CJK characters are word characters, so "一张H800"
    # has no \b before the name.
    low = re.sub(r"\b(?:google\s+)?colab\b(?!\s*pro)", "t4", low)  # Colab's free tier is a T4
    for m in re.finditer(r"((?:rtx|gtx)\s*\d{4}(?:\s*ti(?![a-z]))?|(?<![\d.])\d{4}(?:\s*ti(?![a-z]))?(?!\d)|"
                         r"(?<![a-z0-9])(?:h200|h100|h800|h20|a100|a800|a[4-6]000|l40s?|l20|a10g|a10|a30|a40|l4|t4|"
                         r"v100|p100|p40)(?![a-z0-9]))", low):
        if m.group(1)[0].isdigit() and (re.search(SETTING_BEFORE, low[max(0, m.start() - 16):m.start()])
                                        or re.match(COUNT_AFTER, low[m.end():])):
            continue  # "seed 2070", "train 1080 steps": a setting's number, not a card
        if info := gpu_info(m.group(1)):
            said["gpu_name"] = re.sub(r"\s+", " ", m.group(1).upper().replace("RTX", "RTX ").replace("TI", " Ti"))
            said["gpu_memory_gb"] = info[0]
            break
    for mm in re.finditer(r"(?<![a-z\d.])" + NUM + r"\s*(?:gb|gib|gigs?(?![a-z])|gigabytes?|g(?![a-z]))", low):
        # the clause it is said in: "32GB of RAM and a 3060" is the machine's memory, not the card's
        clause = re.split(CLAUSE, low[:mm.start()])[-1] + re.split(CLAUSE, low[mm.end():])[0]
        if re.search(r"\bram\b|内存|system memory|\bdisk|\bssd|storage|硬盘", clause) and \
                not re.search(r"vram|显存|gpu|显卡", clause):
            continue
        said["gpu_memory_gb"] = float(mm.group(1))
        if "fit" in low or "适配" in low or "放进" in low:
            notes.append("fit")
        break
