"""Values said relative to the plan rather than as numbers: "halve the learning rate", "two more epochs", "warm up
for 100 steps", "hold out 12 examples", "train on half of the data", "alpha twice the rank". The understander
reads them into these objects; `chat.converse` resolves each against the plan as it stood before the turn (`of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..adjustable import NUMBER, SETTINGS, get_path
from .whole_turn import FACTORS


@dataclass(frozen=True)
class Relative:
    """A setting said relative to the plan as it stood ("halve the learning rate", "秩翻倍"): the conversation
    multiplies the plan's value before the turn by `factor` (`chat.converse`). A `step` ("more epochs", "轮数太多了":
    no size said) moves the epochs by a whole step, a third of them and at least one, rather than twice or half:
    3 → 4 or 2; under one epoch (and down from one) it halves or doubles."""

    factor: float
    step: bool = False

    def of(self, plan, setting) -> float:
        return self.applied(get_path(plan, setting.field), setting)

    def applied(self, value: float, setting) -> float:
        """`value` moved as this change moves the plan's."""
        if not (self.step and setting.name == "epochs") or value < 1 or (value == 1 and self.factor < 1):
            return value * self.factor
        whole = max(1, round(value))
        return whole + max(1, round(whole / 3)) * (1 if self.factor > 1 else -1)


def resolved(change, plan, setting) -> float:
    """A relative value's number against `plan`, as the setting takes it: a whole number at least 1 for an integer
    setting, six significant digits otherwise."""
    value = change.of(plan, setting)
    return max(1, round(value)) if setting.kind is int else float(f"{value:.6g}")


@dataclass(frozen=True)
class Judged:
    """A value named and judged ("rank 64 is too big", "3 epochs seems like too many", "学习率 2e-4 太高了"): the
    plan's value when it is already on the side asked for (the plan's rank 16 is under 64), else that value moved by
    `change` (64 → 32; 3 epochs → 2), as the same words without the value move the plan's."""

    value: float
    change: Relative

    def of(self, plan, setting) -> float:
        now = get_path(plan, setting.field)
        if now < self.value if self.change.factor < 1 else now > self.value:
            return now
        return self.change.applied(self.value, setting)


@dataclass(frozen=True)
class Added:
    """"Two more epochs", "one more": the plan's value before the turn plus `amount` (`chat.converse`)."""

    amount: float

    def of(self, plan, setting) -> float:
        return get_path(plan, setting.field) + self.amount


MORE_OF = (r"(?<![\w.])(?<!factor of )(?P<n>\d+|one|two|three|a couple of)\s+(?P<w>more|fewer|less|extra)\s+epochs?\b|"
           r"(?:再)?(?<![最至])(?P<zw>多|加|少|减)\s*(?:训练|跑|训|来|练|整|搞|弄)?\s*(?P<zn>\d+)\s*(?:轮|个\s*epoch)")
"""Epochs more or fewer than the plan's ("two more epochs", "再加 1 轮", "多训练 2 轮": the Chinese numbers are
digits by then), whatever else the message says."""


@dataclass(frozen=True)
class Bound:
    """"Don't go above rank 32", "at least 3 epochs", "秩不要超过 32": the plan's value kept when it is within the
    bound, else the bound."""

    value: float
    upper: bool

    def of(self, plan, setting) -> float:
        now = get_path(plan, setting.field)
        return min(now, self.value) if self.upper else max(now, self.value)


@dataclass(frozen=True)
class Between:
    """"Between 3 and 5 epochs is fine", "3-5 epochs", "2~3 轮": the plan's value when it is within, else the nearer
    end."""

    low: float
    high: float

    def of(self, plan, setting) -> float:
        return min(max(get_path(plan, setting.field), self.low), self.high)


BOUND_UNITS = {"epochs": r"epochs?|轮|个\s*epoch", "r": r"rank", "batch_size": r"rows\s+(?:per|a)\s+batch",
               "learning_rate": r"(?!)"}
"""The settings a bound can be said for, each with the unit that names it after the number (a max length is a
bound itself: "at most 200 tokens" sets it to 200)."""
BOUNDED = (r"(?:(?P<up>don'?t\s+go\s+(?:above|over|beyond|past)|no\s+(?:more|higher|larger|bigger)\s+than|"
           r"not\s+(?:more|higher)\s+than|at\s+most|never\s+(?:above|more\s+than)|(?:keep|stay)\s+(?:it\s+)?"
           r"(?:under|below|within)|up\s+to|最多|至多|不(?:要|能)?超过|别超过|不高于|不大于)|"
           r"(?P<down>at\s+least|no\s+(?:fewer|less|lower|smaller)\s+than|not\s+(?:fewer|less|lower)\s+than|"
           r"never\s+(?:below|under|fewer\s+than)|至少|不少于|不低于|不小于))\s*(?:(?:a|the)\s+)?"
           r"(?:(?P<key1>{key})\s*(?:of\s+)?)?(?:训练|跑|用)?\s*(?P<n>\d+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<key2>{key}|{unit})?|"
           r"(?P<key3>{key})\s*(?:should\s+)?(?:(?P<up2>不(?:要|能)?(?:超过|高于|大于|多于)|别超过|最多|at\s+most|"
           r"no\s+(?:more|higher|larger|bigger)\s+than|not\s+(?:above|over)|under|below|"
           r"(?:(?:should|must|can|could|may|will|would)\s*|ca)?(?:n'?t|not)\s+(?:exceed|go\s+(?:above|over|beyond|past)|be\s+(?:above|"
           r"over|more\s+than|higher\s+than|larger\s+than|bigger\s+than))|(?:stays?|kept)\s+(?:under|below|within)|<=?)|"
           r"(?P<down2>至少|不(?:要|能)?(?:少于|低于|小于)|at\s+least|no\s+(?:lower|less|fewer|smaller)\s+than|"
           r"(?:(?:should|must|can|could|may|will|would)\s*|ca)?(?:n'?t|not)\s+(?:go\s+)?(?:below|under|be\s+(?:below|under|less\s+than|"
           r"lower\s+than|smaller\s+than|fewer\s+than))|>=?))\s*"
           r"(?P<n2>\d+(?:\.\d+)?(?:e-?\d+)?)")
"""A bound said for a setting, its name before or after the number ("at most 2 epochs", "don't go above rank 32",
"秩不要超过 32", "最多训练 2 轮", "the lr shouldn't go above 1e-4"): `Bound`."""


def bounds(low: str) -> dict[str, Bound]:
    """The settings a message bounds, each as a `Bound` (the plan's value unless it is past the bound)."""
    out = {}
    for name, unit in BOUND_UNITS.items():
        rx = BOUNDED.format(key=RELATIVE_SETTINGS[name], unit=unit)  # the first that names it: "轮数不少于 4，批大小
        if m := next((m for m in re.finditer(rx, low) if m["key1"] or m["key2"] or m["key3"]), None):  # 不超过 4"
            out[name] = Bound(float(m["n"] or m["n2"]), bool(m["up"] or m["up2"]))
    return out


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


HELD_ROWS = (r"(?:hold\s+out|hold\s+back|set\s+aside|keep|reserve|use|save)\s+(\d+)\s+(?:of\s+(?:the|my)\s+)?"
             r"(?:rows|examples|samples|records|tickets|reviews|items|entries|messages|documents|articles|emails|questions|"
             r"pairs|conversations)"
             r"\s+(?:aside\s+|apart\s+|back\s+|out\s+)?(?:for|as)\s+(?:the\s+)?(?:validation|validating|eval(?:uation)?|test(?:ing)?|dev)|"
             r"(?:留出?|拿出|分出|取)\s*(\d+)\s*(?:条|行|个样本|篇|封|个)(?:数据|工单|评论|样本|记录|对话|文章|邮件|问题)?\s*"
             r"(?:做|作为|用于|当|来)?\s*(?:验证|测试|评估)|"
             r"(?:验证|测试)(?:集|数据)\s*(?:留|用|取|要|给)?\s*(\d+)\s*(?:条|行|个样本)|"
             r"\b(\d+)\s+(?:rows|examples|samples|records)\s+(?:held[ -]out|for\s+(?:validation|evaluation|testing))|"
             r"\b(?:hold\s+out|hold\s+back|set\s+aside)\s+(\d+)\s+(?:of\s+(?:the|my)\s+)?(?:rows|examples|samples|records)\b"
             r"(?!\s+(?:for|as)\s+(?:the\s+)?(?:training|train)\b)|"
             r"\b(?:hold\s+out|hold\s+back|set\s+aside|keep\s+back)\s+(\d+)\s+of\s+(?:them|those|these)\b")
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


EFFECTIVE = (r"(?:effective|global|total)\s+batch(?:[ _-]?size)?(?:\s+(?:of|to|=|:|is|at))?\s*(\d+)|"
             r"(?:有效|等效|全局)\s*(?:批大小|批量|batch(?:\s*size)?)\s*(?:为|是|设为|=|:)?\s*(\d+)")
WARMUP_STEPS = (r"warm[ _-]?up\s+(?:for\s+|over\s+|during\s+|of\s+)?(?:the\s+first\s+)?(\d+)\s*(?:optimi[sz]er\s+|"
                r"training\s+)?steps?\b|(?:预热|warmup)\s*(?:前)?\s*(\d+)\s*步|warm[ _-]?up[ _]steps\s*[=:]?\s*(\d+)|"
                r"预热步数\s*(?:为|是|设为|用|=|:)?\s*(\d+)")


RELATIVE_SETTINGS = {"learning_rate": r"learning[ _-]?rate|\blr\b|学习率", "r": r"(?:lora\s+)?rank|秩",
                     "batch_size": r"batch[ _]size|\bbatch\b|批大小|批量大小",
                     "epochs": r"(?:number of\s+)?epochs|轮数|epoch数",
                     "max_length": r"max(?:imum)?[ _-]?(?:length|len)|最大长度|序列长度",
                     "warmup_ratio": r"warm[ _-]?up|预热"}


@dataclass(frozen=True)
class TimesRank:
    """"Alpha equal to the rank", "alpha twice the rank": alpha as a multiple of the plan's rank."""

    factor: float

    def of(self, plan, setting) -> float:
        return plan.lora.r * self.factor


ALPHA_OF_RANK = (r"alpha\s+(?:(?:should|must|needs?\s+to|can|could)\s+be\s+|is\s+|be\s+)?"
                 r"(?:equal\s+to|equals|=|same\s+as|the\s+same\s+as|matching|to\s+match|at|to)?\s*(?:the\s+)?"
                 r"(twice|double|half|(?:\d+(?:\.\d+)?)\s*(?:x|×|times))?\s*(?:the\s+)?(?:lora\s+)?(?:rank|\br\b)|"
                 r"alpha\s*(?:和|与|跟)?\s*(?:秩|rank)\s*(?:一样|相同|相等)|alpha\s*(?:设为|等于|是|为|=)\s*(?:秩|rank)(?:\s*的\s*(\d+)\s*倍)?|"
                 r"alpha\s+(?:(?:should|can)\s+be\s+|is\s+|at\s+|to\s+)?(twice|double|half|\d+(?:\.\d+)?\s*(?:x|×|times))"
                 r"\s+(?:that|it|this)\b")
"""Alpha as a multiple of the rank: "alpha = 2x rank", "alpha equal to the rank", "alpha 设为秩的 2 倍", and after the
rank was set, "and alpha twice that"."""


def times_rank(low: str) -> TimesRank | None:
    if not (m := re.search(ALPHA_OF_RANK, low)):
        return None
    word = m.group(1) or m.group(3) or (m.group(2) and m.group(2) + "x") or ""
    factor = {"twice": 2.0, "double": 2.0, "half": 0.5}.get(word.strip())
    if factor is None:
        factor = float(re.match(r"\d+(?:\.\d+)?", word).group()) if word else 1.0
    return TimesRank(factor)


THEN = (r"[^.;!?。；！？\n]{0,30}?(?:(?<![a-z])(?:use|say|try|make it|go with|maybe|like|for\s+example,?|"
        r"e\.g\.,?|such\s+as|用|改成|改为|设为|设成|调到|到|比如|例如|比方说|譬如)\s*|[,，:：]\s*)" + NUMBER
        + r"(?=\s*(?:$|[,.;!?，。；！？)、]|(?:and|with|plus|but|instead|then|please|or so)\b|"
          r"吧|试试|左右|看看|和|并|再))")
"""The number a relative change goes on to name in its sentence: "lower the lr a bit, use 1e-5", "学习率调低一点，用
1e-5" (the number said wins over half or twice; one the setting cannot take leaves the relative change)."""


ADVERBS = (r"(?:a\s+bit\s+|a\s+little\s+|way\s+|much\s+|far\s+|kind\s+of\s+|rather\s+|quite\s+|pretty\s+|very\s+|"
           r"too\s+|probably\s+|definitely\s+|still\s+)")
JUDGED = (r"(?:{key})\s*(?:'s|is|are|seems?|looks?|feels?|sounds?)?\s*(?:like\s+)?" + ADVERBS + "*"
          r"(?:(?:(high|big|large|long|much|many|aggressive|overkill|excessive)|(low|small|short|little|few|conservative|"
          r"timid))\b(?!\s+(?:enough|to)\b)|"
          r"(?:(?:对|对于)[^，。,]{{0,12}}?(?:来说|而言)\s*)?(?:也)?(?:太|有点|有些|偏|过于)(?:(高|大|长|多|激进)|(低|小|短|少|保守))了?"
          r"(?:吧|啊)?\s*[。！!?？,，]?$)")
"""A setting named and judged, with no change said: "the rank seems low", "lr is a bit high", "学习率有点高",
"轮数太多了" (too much: half; too little: twice, as "that's too low" is for the previous turn's setting)."""


JUDGED_VALUE = (r"(?:(?<![\w.-])(?P<v0>" + NUMBER + r")\s*(?:{unit})|(?:{key})\s*(?:(?:of|=|:|at)\s*)?"
                r"(?P<v>" + NUMBER + r"))(?![\w.])\s*(?:(?:'s|is|are|was|would\s+be|might\s+be)\s+" + ADVERBS + "+|"
                r"(?:seems?|looks?|feels?|sounds?)\s*(?:like\s+)?" + ADVERBS + "*|" + ADVERBS + "+|"
                r"(?:'s|is|are|was|would\s+be|might\s+be)\s+(?=(?:aggressive|overkill|excessive|conservative|timid)\b))"
                r"(?:(?P<hi>high|big|large|long|much|many|aggressive|overkill|excessive)|(?P<lo>low|small|short|little|few|"
                r"conservative|timid))\b(?!\s+(?:enough|to)\b)|"
                r"(?:(?<![\w.-])(?P<zv0>" + NUMBER + r")\s*(?:{unit})|(?:{key})\s*(?:[=:：]|是|用)?\s*(?P<zv>" + NUMBER
                + r"))\s*(?:也)?(?:太|有点|有些|偏|过于)(?:(?P<zhi>高|大|长|多|激进)|(?P<zlo>低|小|短|少|保守))"
                r"了?(?:吧|啊)?")
"""A value named and judged ("rank 64 is too big", "3 epochs seems like too many", "3 轮太多了"): `Judged`, or
the value the message goes on to name (`INSTEAD`)."""
JUDGED_UNITS = {"epochs": r"epochs?|轮|遍|个\s*epochs?", "r": r"(?!)", "batch_size": r"rows\s+(?:per|a)\s+batch",
                "learning_rate": r"(?!)", "max_length": r"tokens?|个\s*token", "warmup_ratio": r"(?!)"}
"""The unit said after a judged value, each setting's (the rank, the learning rate: only their names before it)."""
INSTEAD = (r"\s*[,，;；.。]?\s*(?:(?:so\s+|just\s+|let'?s\s+)?(?:use|try|do|make\s+it|go\s+with|maybe)\s+|"
           r"(?:就|改成|换成|改用|用)\s*)?(?P<n>" + NUMBER + r")\s*(?:{unit}|{key})?\s*"
           r"(?:(?:is|should\s+be|would\s+be|will\s+be)\s+(?:enough|plenty|fine|ok|okay)|will\s+do|should\s+do|"
           r"就?够了?|就行|就可以|足够|(?=$|[,.;!?，。；！？]))")
"""The value said after a judgement ("3 epochs is too many, do 2", "5 epochs is too many, 2 is enough",
"3 轮太多了，2 轮就够了")."""


def judged(low: str) -> dict[str, Any]:
    """The settings a message names a value of and judges: a `Judged` for each, or the value said instead."""
    out: dict[str, Any] = {}
    for name, key in RELATIVE_SETTINGS.items():
        unit = JUDGED_UNITS[name]
        if not (m := re.search(JUDGED_VALUE.format(key=key, unit=unit), low)):
            continue
        down = bool(m["hi"] or m["zhi"])
        rest = low[m.end():]
        rest = re.sub(r"^(?:了|吧|啊|!|！)+", "", rest)
        if then := re.match(INSTEAD.format(key=key, unit=unit), rest):
            if (value := taken(SETTINGS[name], then["n"])) is not None:
                out[name] = value
        elif not re.search(r"\d", rest):
            value = float(m["v0"] or m["v"] or m["zv0"] or m["zv"])
            out[name] = Judged(value, Relative(0.5 if down else 2.0, step=True))
    return out


AS_LONG = (r"\b(?:train|run|go|fine-?tune)\b[^.;!?\d]{0,24}?\b(?:(twice|double)|(half)|(\d+(?:\.\d+)?)\s*(?:times|x|×))"
           r"\s+as\s+long\b|"
           r"(?:训练|跑)(?:的)?(?:时间|轮数)?\s*(?:(?:翻倍|加倍|延长一倍)|(减半))")
"""Training said to be longer or shorter as a whole: "train it for twice as long", "half as long", "训练时间加倍"
(the epochs, times the factor)."""


BY_PERCENT = (r"\b(lower|reduce|decrease|drop|cut|raise|increase|bump|grow|lift)\s+(?:the\s+|my\s+)?(?:{key})"
              r"(?:\s+up)?\s+by\s+(\d+(?:\.\d+)?)\s*%")
"""A setting changed by a percentage: "drop the learning rate by 50%", "raise the rank by 100%"."""
UP_WORDS = ("raise", "increase", "bump", "grow", "lift")
TIMES = (r"(?:{key})\s+(?:by\s+)?(?:a\s+factor\s+of\s+)?(?P<n>\d+(?:\.\d+)?)\s*(?:x|×|times)?\s+"
         r"(?P<w>smaller|lower|less|larger|higher|bigger|greater|more)\b|"
         r"\bby\s+a\s+factor\s+of\s+(?P<n2>\d+(?:\.\d+)?)\s+(?P<w2>more|fewer|less)\s+(?:{key})|"
         r"\b(?P<w3>divide|multiply)\s+(?:the\s+)?(?:{key})\s+by\s+(?P<n3>\d+(?:\.\d+)?)\b|"
         r"(?:{key})\s*(?P<w4>缩小|降低|减小|除以|放大|提高|增大|扩大|乘以)\s*(?P<n4>\d+(?:\.\d+)?)\s*倍|"
         r"(?:{key})\s*(?:(?P<w5>divided|multiplied)\s+by\s+|(?P<w6>除以|乘以)\s*)(?P<n5>\d+(?:\.\d+)?)(?![\d.]|\s*倍)")
"""A setting scaled by a stated factor: "make the learning rate 5x smaller", "2x more epochs", "divide the lr by
10", "学习率缩小 5 倍" (in Chinese 提高 2 倍 is read as twice)."""
DOWN_BY = ("smaller", "lower", "less", "fewer", "divide", "divided", "缩小", "降低", "减小", "除以")
PARTS = {"half": 2, "third": 3, "quarter": 4, "fifth": 5, "tenth": 10, "hundredth": 100}
FRACTION = (r"(?:{key})\s+(?:(?:down\s+)?to\s+)?(?:a|one)[\s-](?P<part>half|third|quarter|fifth|tenth|hundredth)\b|"
            r"(?:{key})\s*(?:降低|降|减小|减少|缩小|缩|减|变|变成|改|调)(?:到|为|成)?\s*(?:原来的|现在的|之前的|目前的|当前的)?"
            r"\s*(?:(?P<d>\d+)\s*分之\s*(?P<n>\d+)|(?P<n2>1)\s*/\s*(?P<d2>\d+)(?![\d.])|(?P<zh_half>一半))")
"""A setting made a fraction of itself: "cut the lr to a tenth", "学习率降到原来的十分之一", "学习率降到原来的一半"."""


def relatives(low: str) -> dict[str, Relative | Any]:
    """Settings a message changes relative to the plan: halved or doubled; lowered or raised with no number
    (the same: half or twice, which the reply shows), or with a number named after it (`THEN`: that number); or
    judged too high or too low (`JUDGED`)."""
    out = {}
    for name, key in RELATIVE_SETTINGS.items():
        if (m := re.search(JUDGED.format(key=key), low)) and not re.search(  # "…seems high for an 8B model"
                r"\d", re.sub(r"^\s+for\s+(?:an?\s+|the\s+|this\s+)?[\w.-]+(?:\s+model)?\b", "", low[m.end():])):
            out[name] = Relative(0.5 if m.group(1) or m.group(3) else 2.0, step=True)
            continue
        if m := re.search(TIMES.format(key=key), low):  # "5x smaller", "divide it by 10", "缩小 5 倍"
            n = float(m["n"] or m["n2"] or m["n3"] or m["n4"] or m["n5"])
            down = (m["w"] or m["w2"] or m["w3"] or m["w4"] or m["w5"] or m["w6"]) in DOWN_BY
            if n > 0:
                out[name] = Relative(1 / n if down else n)
                continue
        if (m := re.search(FRACTION.format(key=key), low)) and (factor := (
                1 / PARTS[m["part"]] if m["part"] else 0.5 if m["zh_half"] else
                float(m["n"] or m["n2"]) / float(m["d"] or m["d2"]))) > 0:
            out[name] = Relative(factor)  # "a tenth", "原来的一半"
            continue
        if m := re.search(BY_PERCENT.format(key=key), low):  # "drop the learning rate by 50%"
            share = float(m.group(2)) / 100
            if share < 1 or m.group(1) in UP_WORDS:
                out[name] = Relative(1 + share if m.group(1) in UP_WORDS else 1 - share)
                continue
        for words, factor, step in FACTORS:
            if m := re.search(rf"(?:{words})\s*(?:on\s+)?(?:the\s+|my\s+|a\s+|both\s+(?:the\s+)?)?(?:{key})"
                              rf"(?!\s*(?:to|=|:|为|到|成)?\s*\d)"
                              rf"|(?:{key})[^,.;!?，。；！？\d]{{0,12}}?都\s*(?:{words})"
                              rf"|(?:{key})\s*(?:[^,.;!?，。；！？\d]{{1,12}}[,，]\s*)?(?:可以|能|能不能|可不可以|要不)?\s*(?:给我|帮我)?\s*"
                              rf"(?:再\s*)?(?:in\s+half|by\s+half|"
                              rf"halved|doubled|(?:{words}))"
                              rf"(?!\s*(?:to|=|:|为|到|成)?\s*\d)", low):
                then = re.match(THEN, low[m.end():])
                value = taken(SETTINGS[name], then.group(1)) if then else None
                out[name] = Relative(factor, step) if value is None else value
                break
    if "epochs" not in out and (m := re.search(AS_LONG, low)):
        out["epochs"] = Relative(0.5 if m.group(2) or m.group(4) else float(m.group(3)) if m.group(3) else 2.0)
    return out


def taken(setting, text: str) -> Any:
    """`text` as a value of `setting` (`Setting.check`: 8.0 is 8 for an integer), or None where it cannot take it."""
    try:
        return setting.check(float(text))
    except ValueError:
        return None
