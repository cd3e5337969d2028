"""Everything a user can set in words or in the plan editor, declared once.

Each `Setting` says what it is called, where in the plan it lands, its type and bounds, how a user says
it in English and Chinese (the patterns the rules read), and how an edit of it is said back. From this one
table come: the intents a turn can carry and the conversation's slots (chat/), the fields the language-model
backend is asked for and how its answer is checked (chat/llm.py), the plan editor's fields and the words
its typed edits are shown with (ui/), and the bounds `Plan.problems` enforces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .setting_words import AT_MOST, INPUT_COLUMN, MAX_LENGTH, NUMBER, TO

METHODS = ("lora", "qlora")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
NUMERIC = (int, float)


@dataclass(frozen=True)
class Setting:
    name: str
    """What a turn, the backend and the editor call it (`r`, `learning_rate`, ...)."""
    sets: tuple[str, ...]
    """The plan fields it sets directly; the first holds its value. Other changes are knock-on effects."""
    kind: type | tuple[type, ...]
    """The type of its value."""
    ok: Callable[[Any], bool]
    """Whether a value of that type is allowed."""
    bounds: str
    """The allowed values, in words (completes "must be …")."""
    means: str
    """What it is, for the backend's prompt and the editor's label."""
    en: str = "{}"
    """An edit said back in English (`{}` is the value), e.g. "rank {}"."""
    zh: str = "{}"
    """The same in Chinese."""
    patterns: tuple[str | tuple[str, float], ...] = ()
    """Regexes over the lower-cased message (numbers already in digits, see `chat.normalize.digits`) whose first
    non-empty group is the value (see `read`)."""
    scale: float = 1.0
    """What a matched number is multiplied by (a percentage given for a fraction: 0.01)."""
    editor: bool = False
    """Shown in the plan editor."""
    in_plan: bool = True
    """Whether the value itself is kept in the plan (in `sets[0]`); a preference only steers other fields."""
    off: tuple = ()
    """Plan values that mean "not set" (`max_steps` -1, `max_rows` 0): always allowed in a plan."""

    @property
    def field(self) -> str | None:
        return self.sets[0] if self.in_plan else None

    def check(self, value: Any) -> Any:
        """The value in the setting's type (2.0 → 2 for an integer), or ValueError saying what is allowed."""
        if self.kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) and self.kind is not bool or not isinstance(value, self.kind) or not self.ok(value):
            raise ValueError(f"{self.name}: {value!r} is not allowed; it must be {self.bounds}")
        return float(value) if self.kind == NUMERIC else value

    def said(self, value: Any, lang: str = "en") -> str:
        """An edit of this setting in words."""
        if isinstance(value, bool):
            shown = ("开启" if value else "关闭") if lang == "zh" else ("on" if value else "off")
        elif isinstance(value, float) and self.scale == 0.01:  # a share said as a percentage: "hold out 10%"
            shown = f"{value * 100:.4g}%"
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        return re.sub(r"(?<![\d.])1 (minute|epoch|row|step)s\b", r"1 \1", (self.zh if lang == "zh" else self.en)
                      .format(shown))  # "finish in 1 minute"

    def read(self, low: str) -> Any:
        """The value a lower-cased message gives this setting, or None. A pattern may come with its own scale
        (`(regex, 0.01)`: a percentage where the others read a fraction). A yes/no setting's first pattern says
        no and its second yes ("don't use checkpointing" holds "use checkpointing")."""
        for i, pattern in enumerate(self.patterns):
            regex, scale = pattern if isinstance(pattern, tuple) else (pattern, self.scale)
            if m := re.search(regex, low):
                if self.kind is bool:
                    return i > 0
                text = m.group(group := next(i for i, g in enumerate(m.groups(), 1) if g))
                if self.kind is str:
                    return text
                # An integer's pattern stops at the digits: "rank 8.5" or "batch 1e309" is read whole, and refused.
                text += (more.group() if self.kind is int and (more := re.match(r"\.\d+|e-?\d+", low[m.end(group):]))
                         else "")
                value = float(text) * scale
                return int(value) if self.kind is int and value.is_integer() else round(value, 10)
        return None


def _column_name(v: str) -> bool:
    """A column's name as said (by a person, or by the language-model backend): shown back in the reply, so no
    markup or line breaks."""
    return 0 < len(v) <= 200 and not set(v) & set("`<>[]\n\r")


def _choice(*options: str) -> Callable[[Any], bool]:
    return lambda v: v in options


class Later(str):
    """Words computed when they are shown, for bounds that depend on what plugins registered (the task types).
    Formatting it (f-strings, `format`) calls the function each time."""

    def __new__(cls, make: Callable[[], str]):
        obj = super().__new__(cls, "")
        obj.make = make
        return obj

    def __str__(self) -> str:
        return self.make()

    def __format__(self, spec: str) -> str:
        return format(self.make(), spec)


def metric_names() -> tuple[str, ...]:
    """The registered metrics (built-in and from installed plugins)."""
    from . import plugins

    return tuple(plugins.get().metrics)


def task_types() -> tuple[str, ...]:
    """The registered task types (built-in and from installed plugins)."""
    from . import plugins

    return tuple(plugins.get().tasks)


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("task_type", ("task.type",), str, lambda v: v in task_types(),
            Later(lambda: f"one of {', '.join(task_types())}"), Later(lambda: f"one of {', '.join(task_types())}")),
    Setting("language", ("task.language",), str, lambda v: bool(re.fullmatch(r"[a-z]{2}", v)),
            "an ISO 639-1 code such as en or zh",
            'ISO 639-1 code of the language the task is done in ("en", "zh", ...)'),
    Setting("base_model", ("base_model.name",), str, lambda v: 0 < len(v) <= 200, "a name of 1 to 200 characters",
            'the base model the user names, e.g. "Qwen2.5-7B-Instruct"', "switch to {}", "换成 {}", editor=True),
    Setting("gpu_name", ("resources.gpu_name", "resources.device"), str, lambda v: len(v) <= 100,
            "a name of at most 100 characters",
            'the GPU the user names, e.g. "RTX 4090"; "" when they say they have no GPU'),
    Setting("gpu_memory_gb", ("resources.gpu_memory_gb", "resources.device"), NUMERIC, lambda v: 0 <= v <= 2048,
            "between 0 and 2048", "GPU memory in GB the user has or wants to fit in; 0 when they have no GPU"),
    Setting("method", ("lora.method",), str, _choice(*METHODS), "lora or qlora", '"lora" or "qlora"',
            "method {}", "方法 {}", editor=True),
    Setting("preference", ("lora.r", "training.epochs"), str, _choice("fast", "quality"), "fast or quality",
            '"fast" or "quality"', in_plan=False),
    Setting("metrics", ("evaluation.metrics",), str, lambda v: bool(v) and set(v.split(",")) <= set(metric_names()),
            Later(lambda: f"registered metrics ({', '.join(metric_names())}), comma-separated"),
            'measures to report besides the task\'s own, comma-separated registered names (e.g. "bleu,exact_match")',
            "also measure {}", "另外评估 {}", in_plan=False),
    Setting("metrics_off", ("evaluation.metrics",), str,
            lambda v: bool(v) and set(v.split(",")) <= set(metric_names()),
            Later(lambda: f"registered metrics ({', '.join(metric_names())}), comma-separated"),
            'measures the user wants left out of the evaluation, comma-separated registered names (e.g. "f1")',
            "leave out {}", "不评估 {}", in_plan=False),
    Setting("metrics_only", ("evaluation.metrics",), str,
            lambda v: bool(v) and set(v.split(",")) <= set(metric_names()),
            Later(lambda: f"registered metrics ({', '.join(metric_names())}), comma-separated"),
            'the only measures the user wants reported, comma-separated registered names (e.g. "accuracy")',
            "measure only {}", "只评估 {}", in_plan=False),
    Setting("licence", ("base_model.name",), str, _choice("open", "commercial", "any"), "open, commercial or any",
            'the base model\'s licence the user requires: "open" (Apache-2.0 or MIT), "commercial" (allows '
            'commercial use), "any"', "licence: {}", "许可：{}", in_plan=False),
    Setting("epochs", ("training.epochs",), NUMERIC, lambda v: 0 < v <= 100, "more than 0 and at most 100",
            "number of passes over the data", "train {} epochs", "训练 {} 轮",
            (NUMBER + r"\s*(?:epochs?\b(?!\s*[=:]?\s*\d+(?:\.\d+)?(?![\d.])"
                      r"(?!\s*(?:steps?|rows|examples|tokens|min|%|gb)))|(?:full\s+)?pass(?:es)?\s+(?:over|through)\b|"
                      r"(?:full\s+)?passes\b(?!\s*(?:of|at|@))|(?:个\s*)?轮(?!数)|遍|个\s*epoch)",
             r"(?:epochs?|轮数|轮次|训练轮数|epoch\s*数)" + TO + NUMBER,
             r"(?:训练|跑)\s*" + NUMBER + r"\s*(?:个\s*)?(?:epoch|轮|遍)"), editor=True),
    Setting("r", ("lora.r",), int, lambda v: 1 <= v <= 1024, "between 1 and 1024", "LoRA rank (integer)",
            "rank {}", "秩 {}", (r"(?:lora rank|rank|\br|lora[_-]r\b)" + TO + r"(\d+)",
                                r"(?:秩|lora\s*秩)" + TO + r"(\d+)",
                                r"(?:lora rank|rank)\s+(?:(?:up|down|back)\s+)?to\s+(\d+)", r"\brank-(\d+)\b",
                                r"(?<![\w.])(\d+)\s+(?:(?:for|as)\s+(?:the\s+)?)?(?:lora\s+)?rank\b"
                                r"(?!\s*(?:to|=|:|of)?\s*\d)"),
            editor=True),
    Setting("learning_rate", ("training.learning_rate",), NUMERIC, lambda v: 0 < v < 1, "between 0 and 1",
            "learning rate (number)", "learning rate {}", "学习率 {}",
            (r"(?:learning[ _-]?rate|\blr|学习率)" + TO + NUMBER,
             r"(?:learning[ _-]?rate|\blr\b)[^.;!?\d]{0,40}?\b(?:down|up|back)?\s*(?:to|at)\s+" + NUMBER
             + r"(?!\d|\s*%)",
             r"学习率[^。；！？\d]{0,10}?(?:到|至)\s*" + NUMBER + r"(?!\d|\s*%)",
             NUMBER + r"\s+(?:for|as)\s+(?:the\s+|my\s+)?(?:learning[ _-]?rate|lr)\b"), editor=True),
    Setting("max_length", ("training.max_length",), int, lambda v: 16 <= v <= 131072, "between 16 and 131072",
            "maximum tokens per example (integer)", "max length {}", "最大长度 {}",
            MAX_LENGTH,
            editor=True),
    Setting("max_steps", ("training.max_steps",), int, lambda v: 1 <= v <= 10_000_000, "between 1 and 10000000",
            "stop after this many optimizer steps, whatever the epochs (integer)", "stop after {} steps",
            "训练 {} 步", (r"max[_ ]?steps" + TO + r"(\d+)",
                          r"(?:for|train|run|only|just|stop after|after|at most|no more than|a maximum of|max\.?|"
                          r"maximum(?: of)?)\s+(\d+)\s*"
                          r"(?:training\s+|optimi[sz]er\s+)?(?:steps?|iter(?:ation)?s)\b",
                          r"max[_ ]?iter(?:ation)?s\s*(?:to|=|:|of)?\s*(\d+)",
                          r"(?:cap|limit|stop|end)\s+(?:(?:the\s+)?(?:training|run|it|job)\s+)?(?:at|to|after)\s+"
                          r"(\d+)\s*"
                          r"(?:training\s+|optimi[sz]er\s+)?(?:steps?|iter(?:ation)?s)\b",
                          r"(?:smoke|sanity|quick|dry)[ -]?(?:test|check|run)\b[^.;\d]{0,20}?(\d+)\s*(?:training\s+)?"
                          r"(?:steps?|iter(?:ation)?s)\b|"
                          r"^(\d+)\s+(?:training\s+)?steps?(?:\s+only|\s+please|\s+is enough)?[.!]?$|"
                          r"(\d+)\s+(?:steps?|iter(?:ation)?s)\s+(?:only|(?:should|will|would)\s+(?:be|do)|is\s+enough)\b|"
                          r"\b(?:try|test)\s+(?:it\s+)?(?:on|with|for)\s+(\d+)\s+(?:steps?|iter(?:ation)?s)\b",
                          r"(?:冒烟|试跑|测试一下|先试)[^，。,\d]{0,10}?(\d+)\s*步",
                          r"(?:训练|跑|只跑|只训练|最多|至多|不超过|上限)\s*(\d+)\s*(?:个)?\s*步",
                          r"(?<!预热)(?:(?:训练)?步数(?:上限|最多|最大值?|封顶)?|最大步数)" + TO
                          + r"(\d+)(?!\s*(?:个)?\s*(?:轮|epoch))"),
            off=(-1, 0)),
    Setting("max_rows", ("data.max_rows",), int, lambda v: 1 <= v <= 100_000_000, "between 1 and 100000000",
            "use only this many rows of the data, sampled (integer)", "use {} rows", "只用 {} 条数据",
            (r"(?:use|take|keep|train on|sample|(?:sub|down)sample(?:\s+(?:it|the\s+data))?\s+to)\s+(?:only\s|just\s)?"
             r"(?:the\s+first\s+|a\s+sample\s+of\s+|a\s+random\s+)?(\d+)\s*(?:of\s+(?:the|my)\s+)?(?:rows|examples|samples|"
             r"lines|records|questions|reviews|tickets|articles|conversations|pairs|documents|emails|messages)",
             r"\b(?:test|try|run|check)\s+(?:it\s+|things\s+)?on\s+(?:only\s+|just\s+)?(?:the\s+first\s+)?(\d+)\s*"
             r"(?:rows|examples|samples|records|reviews|tickets|articles|messages|documents|emails)\b",
             r"(?<!have )(?<!got )(?<!are )(?<!contains )(?<!is )(?<!'s )(?:only|just)\s+(\d+)\s*"
             r"(?:rows|examples|samples|records)(?!\s+(?:for|as|to)\s+(?:the\s+)?(?:validation|eval|test|dev))",
             r"(?<!\S)first\s+(\d+)\s*(?:rows|examples|samples|lines|records)\s+only\b",
             r"\b(?:just|only)\s+(?:the\s+)?first\s+(\d+)\s*(?:rows|examples|samples|lines|records)\b",
             r"(?:limit|cap|restrict)\s+(?:the\s+)?(?:number\s+of\s+)?(?:rows|examples|samples|records)\s+(?:to|at)\s+"
             + AT_MOST + r"(\d+)(?![\d.]|\s*(?:tokens?|k\b))",
             r"(?:limit|cap|restrict|cut|trim|chop|shrink|reduce)\s+(?:it|(?:the\s+)?(?:data(?:set)?|training\s+(?:data|set)|"
             r"file))\s+(?:down\s+)?(?:to|at)\s+"
             r"(?:the\s+first\s+)?(\d+)\s*(?:rows|examples|samples|lines|records)",
             r"(?:只用|仅用|只取|只使用|抽取|抽样|只要|只拿|取)\s*(?:前)?\s*(\d+)\s*(?:条|行|个样本|个例子|篇|份|封|段|"
             r"个对话)",
             r"(?<![不没])用\s*(\d+)\s*条(?:数据|样本)",
             r"(?:数据|样本|训练数据|数据量|训练集)\s*(?:限制在|控制在|限制为|限定在|不超过|最多)\s*(\d+)\s*(?:条|行|个)",
             r"最多(?:只)?(?:用|喂(?:它|模型)?|给(?:它|模型)?)\s*(\d+)\s*(?:条|行|个样本)",
             r"(?:no\s+more\s+than|at\s+most|up\s+to|a\s+maximum\s+of|(?:stay|keep\s+it)\s+(?:under|below|within))\s+"
             r"(\d+)\s*(?:rows|examples|samples|records)\b",
             r"(?:不超过|最多|至多)\s*(\d+)\s*(?:条|行|个样本)",
             r"(?<![批次步每])(?:先|试着)?(?:用|拿)\s*(\d+)\s*(?:条|行)(?:数据|样本)?\s*(?:来)?(?:试试|试一下|跑一下|跑跑|看看|试跑)",
             r"^(?:先)?(?:用|拿)\s*(\d+)\s*(?:条|行)(?:数据|样本)?\s*(?:吧|就行|就好|就够了)?[。！!]?$"), off=(0,)),
    Setting("time_budget_minutes", ("training.epochs", "training.max_steps"), NUMERIC, lambda v: 0 < v <= 100_000,
            "more than 0 minutes", "training time the user wants to stay within, in minutes (number)",
            "finish in {} minutes", "{} 分钟内完成",
            (r"(?:finish|done|train|ready|complete|run)\w*\s+(?:it\s+)?(?:with)?in\s+(?:about\s+|under\s+)?" + NUMBER
             + r"\s*(?:min|minutes?|mins)\b",
             r"(?:under|within|less than|at most|no more than|no longer than|(?:can\s+)?wait(?:\s+up\s+to)?)\s+"
             + NUMBER + r"\s*(?:min|minutes?|mins)\b",
             r"(?:\b(?:i|we)\s+(?:only\s+)?(?:have|'ve\s+got|got)|(?:time\s+)?budget(?:\s+(?:of|is))?\s*[:=]?)\s+"
             r"(?:about\s+|only\s+|just\s+|roughly\s+)?" + NUMBER + r"\s*(?:min|minutes?|mins)\b"
             r"(?!\s+(?:of|per)\b(?!\s+(?:gpu|compute|training|train|run|machine)\b))",
             NUMBER + r"\s*(?:min|minutes?|mins)\s+(?:max|maximum|tops|at\s+most)\b",
             NUMBER + r"\s*分钟(?:内|以内|之内)",
             r"(?:不要超过|不超过|别超过|不能超过|最多)(?:训练|跑)?\s*" + NUMBER + r"\s*分钟",
             r"(?:(?:我|我们)(?:只|就|总共|一共)?(?:有|剩)|(?:时间|只有|只剩|总共|一共)(?:只有|就|只剩|最多|不超过)?)\s*"
             + NUMBER + r"\s*分钟(?!\s*(?:的)?\s*(?:gpu|显卡|算力))"),
            in_plan=False),
    Setting("batch_size", ("training.batch_size",), int, lambda v: 1 <= v <= 4096, "between 1 and 4096",
            "rows per step (integer)", "batch size {}", "批大小 {}",
            (r"(?:batch(?:es|[ _]size)?|\bbs)" + TO + r"(\d+)",
             r"(?:批大小|批量大小|batch\s*size)" + TO + r"(\d+)",
             r"(\d+)\s*(?:rows|examples|samples)\s+(?:per|a|each)\s+batch",
             r"(?:每|一)(?:一)?批(?:次)?\s*(?:训练\s*|用\s*|放\s*)?(\d+)\s*(?:条|个|行|份)",
             r"每(?:次|步)\s*(?:训练\s*|用\s*|放\s*|喂\s*)?(\d+)\s*(?:条|个样本|行)(?!\s*(?:数据)?\s*(?:做|作为|用于)?\s*验证)"),
            editor=True),
    Setting("accumulation", ("training.gradient_accumulation",), int, lambda v: 1 <= v <= 1024, "between 1 and 1024",
            "micro-batches whose gradients add up to one optimizer step (integer)", "accumulate {} steps",
            "梯度累积 {} 步",
            (r"(?:grad(?:ient)?[ _-]?)?accum\w*(?:[ _]steps?)?" + TO + r"(\d+)",
             r"accumulate\s+(?:gradients\s+)?(?:over\s+|for\s+|across\s+)?(\d+)\s*(?:steps|batches|micro-?batches)\b",
             r"(\d+)\s+(?:gradient\s+)?accumulation\s+steps|(\d+)\s+steps?\s+of\s+(?:gradient\s+)?accumulation",
             r"(?:梯度累积|梯度累加|梯度累计)(?:步数)?" + TO + r"(\d+)"), editor=True),
    Setting("validation_fraction", ("data.validation_fraction",), NUMERIC, lambda v: 0 <= v < 0.9,
            "at least 0 and under 0.9 (a share of the rows)", "share of rows held out for validation (0 to 0.9)",
            "hold out {}", "留出 {} 做验证",
            (r"(?:keep|hold out|hold back|set aside|put aside|reserve|use|leave|put|cut|carve|split)\s+"
             r"(?:(?:out|off)\s+)?(?:about\s+)?" + NUMBER + r"\s*%\s*(?:of\s+(?:the\s+)?(?:data|rows)\s+)?"
             r"(?:aside\s+|back\s+|apart\s+|out\s+|off\s+)?(?:for|as|to)\s+(?:the\s+)?"
             r"(?:validation|validate|eval|evaluation|evaluate|test|testing|dev)",
             r"(?:hold(?:ing)? (?:out|back)|set(?:ting)? aside)\s+(?:about\s+)?" + NUMBER
             + r"\s*%(?!\s*of\s+(?:the\s+)?steps)",
             r"(?:validate|evaluate)\s+on\s+(?:about\s+)?" + NUMBER + r"\s*%",
             r"(?:validation|eval|evaluation|dev|test)\s+(?:split|set|share|fraction)?" + TO + NUMBER + r"\s*%",
             NUMBER + r"\s*%\s*(?:validation|eval|evaluation|dev|test|held[- ]out)\s*(?:split|set|share|data)",
             r"(?<![\d.])" + NUMBER + r"\s*%\s*(?:of\s+(?:the\s+)?(?:data|rows|examples)\s+)?"
             r"(?:(?:should\s+|must\s+|will\s+|can\s+)?(?:is\s+|are\s+|be\s+)?(?:held|kept|set)[- ](?:out|back|aside)\b"
             r"|(?:for|as)\s+(?:the\s+)?(?:validation|eval|evaluation|testing|test|dev)\b)",
             r"(?<![\d.])" + NUMBER + r"\s*%\s*的?(?:数据|样本)\s*(?:做|作为|用于|用来|当)\s*(?:验证|测试|评估)",
             r"(?:留出|留|拿出|划出|切出|分出|保留|用|拿|取|切)\s*" + NUMBER
             + r"\s*%\s*(?:的)?(?:数据)?(?:做|作为|用于|当)?\s*(?:验证|测试|评估)",
             r"(?:验证集|测试集|验证数据|测试数据)(?:比例|占比|占)?" + TO + NUMBER + r"\s*%",
             r"(?:验证集|测试集|验证数据|测试数据)\s*(?:[留分划切]出?|取|拿|要|给)\s*" + NUMBER + r"\s*%",
             # a config's fraction: "val_size 0.1", "validation_split=0.2", "test_size: 0.15"
             (r"(?:val(?:idation)?|eval(?:uation)?|test|dev)[ _](?:size|split|ratio|fraction|share)" + TO
              + r"(0?\.\d+)(?!\s*%)", 1.0),
             r"(?:val|eval)[ _](?:size|split|ratio|fraction|share)" + TO + NUMBER + r"\s*%"), scale=0.01),
    Setting("patience", ("training.early_stopping_patience",), int, lambda v: 0 <= v <= 100, "between 0 and 100",
            "evaluations without improvement before training stops early (integer; 0: never)",
            "early-stopping patience {}", "早停耐心 {}",
            (r"patience" + TO + r"(\d+)",
             r"early[- ]?stop\w*\s+(?:with\s+|after\s+)?(?:a\s+)?(?:patience\s+(?:of\s+)?)?(\d+)\s*"
             r"(?:evaluations|evals|checks|rounds)?",
             r"\bstop\w*\s+early\s+(?:after|if\s+there\s+are)\s+(\d+)\s*(?:evaluations|evals|checks)\b",
             r"(?:耐心值?|早停(?:耐心)?)" + TO + r"(\d+)(?!\s*(?:步|轮|epoch))",
             r"(\d+)\s*次(?:评估|验证)?(?:都)?(?:没有?|不再|不)(?:提升|改善|变好|进步|下降|降)(?:的话)?(?:就)?(?:提前)?(?:停|早停)",
             r"(?:doesn'?t|does not|don'?t|do not|stops?|fails? to|no longer|hasn'?t|has not|haven'?t|have not)\s+"
             r"(?:improv\w*|get(?:ting)?\s+better|gotten\s+better)\s+(?:for|after|in|over)\s+"
             r"(\d+)\s*(?:evaluations|evals|checks|rounds|eval\s+steps)\b",
             r"\bno\s+improvement\s+(?:for|after|in|over)\s+(\d+)\s*(?:evaluations|evals|checks|rounds)\b")),
    Setting("eval_steps", ("training.eval_steps",), int, lambda v: 1 <= v <= 10_000_000, "between 1 and 10000000",
            "evaluate on the held-out rows every this many optimizer steps (integer; 0: once per epoch)",
            "evaluate every {} steps", "每 {} 步评估一次",
            (r"eval(?:uation)?[_ ]steps" + TO + r"(\d+)",
             r"(?:evaluate|eval|validate|run\s+(?:the\s+)?(?:eval(?:uation)?|validation))\s+(?:it\s+|the\s+model\s+)?"
             r"(?:once\s+)?every\s+(\d+)\s*(?:(?:training\s+|optimi[sz]er\s+)?steps?\b|(?=\s*(?:$|[,.;!]|and\b)))",
             r"每\s*(\d+)\s*步\s*(?:做)?(?:一次)?\s*(?:评估|验证|评测)",
             r"(?:评估|验证)(?:间隔|频率|步数)" + TO + r"(\d+)"), off=(0,)),
    Setting("save_steps", ("training.save_steps",), int, lambda v: 1 <= v <= 10_000_000, "between 1 and 10000000",
            "save a checkpoint every this many optimizer steps (integer; 0: once per epoch)",
            "save a checkpoint every {} steps", "每 {} 步保存一次检查点",
            (r"save[_ ]steps" + TO + r"(\d+)",
             r"(?:save|checkpoint|store)\s+(?:a\s+|the\s+)?(?:checkpoints?\s+|model\s+|adapter\s+|progress\s+)?"
             r"(?:once\s+)?every\s+(\d+)\s*(?:(?:training\s+|optimi[sz]er\s+)?steps?\b|(?=\s*(?:$|[,.;!]|and\b)))",
             r"checkpoints?\s+every\s+(\d+)\s*steps?\b",
             r"每\s*(\d+)\s*步\s*(?:保存|存)(?:一次|一个)?\s*(?:检查点|checkpoint|模型)?",
             r"(?:保存|检查点)(?:间隔|频率|步数)" + TO + r"(\d+)"), off=(0,)),
    Setting("exclude_column", ("data.input_columns",), str, _column_name, "a column's name",
            "an input column the user wants left out of the prompt", "leave out {}", "不用 {} 列",
            (r"(?:ignore|drop|leave out|remove|exclude|skip|without|don'?t use|do not use)\s+(?:the\s+)?[`'\"“]?"
             r"([\w\u4e00-\u9fff]+)[`'\"”]?\s+(?:column|field)",
             r"\b(?:leave|keep|take)\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff]+)[`'\"”]?\s+(?:column|field)\s+out\b",
             r"(?:不要用|不用|去掉|忽略|删掉|排除)\s*[`'\"“]?([\w\u4e00-\u9fff]+?)[`'\"”]?\s*(?:这一?)?(?:列|字段|栏)",
             r"[`'\"“]?([a-z][\w-]*)[`'\"”]?\s*(?:这一?|那一?)?(?:列|字段|栏)\s*(?:就|也)?(?:别用|不要用|不用|不要|去掉|拿掉|删掉|"
             r"忽略)"),
            in_plan=False),
    Setting("input_column", ("data.input_columns",), str, _column_name, "a column's name",
            "the one input column the user wants the model to read (the others are left out)", "input column {}",
            "输入列 {}",
            INPUT_COLUMN, in_plan=False),
    Setting("output_column", ("data.output_column",), str, _column_name, "a column's name",
            "the table's column the model must produce (the other text columns are its input)", "output column {}",
            "输出列 {}",
            (r"(?:output|label|target|answer)\s+(?:column|field)(?:\s*[:=]|\s+(?:is|should be|will be))\s*(?:the\s+)?"
             r"[`'\"“]?([\w\u4e00-\u9fff-]+?)[`'\"”]?(?:\s+(?:column|field))?(?![\w\u4e00-\u9fff-])",
             r"(?:output|label|target|answer)\s+is\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff-]+)[`'\"”]?\s+(?:column|field)",
             r"(?:use|take|treat)\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff-]+)[`'\"”]?\s+(?:column\s+|field\s+)?as\s+(?:the\s+)?"
             r"(?:output|label|target|answer)",
             r"predict\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff-]+)[`'\"”]?\s+(?:column|field)",
             r"(?:labels?|answers?|targets?|outputs?)\s+(?:is|are)\s+in\s+(?:the\s+)?(?:column\s+)?[`'\"“]?"
             r"([\w\u4e00-\u9fff-]+?)[`'\"”]?(?:\s+(?:column|field))?(?![\w\u4e00-\u9fff-])",
             r"(?:输出|标签|目标|答案)(?:列|字段)\s*(?:是|为|用|改成|改为|设为)\s*[`'\"“]?([\w\u4e00-\u9fff-]+?)[`'\"”]?\s*"
             r"(?:这一?)?(?:列|字段)?(?=$|[\s，。,；;])",
             r"(?:用|把|将|以)\s*[`'\"“]?([\w-]+)[`'\"”]?\s*(?:这一?)?(?:列|字段)\s*(?:作为|当作?|做)\s*(?:输出|标签|目标|答案)",
             r"预测\s*[`'\"“]?([\w-]+)[`'\"”]?\s*(?:这一?)?(?:列|字段)"),
            in_plan=False),
    Setting("alpha", ("lora.alpha",), int, lambda v: 1 <= v <= 8192, "between 1 and 8192",
            "LoRA alpha, the update's scale numerator (integer; the plan uses 2 × rank unless told)", "alpha {}",
            "alpha {}", (r"(?:lora[ _-]?)?alpha" + TO + r"(\d+)", r"缩放系数" + TO + r"(\d+)",
                         r"(?<![\w.])(\d+)\s+(?:(?:for|as)\s+(?:the\s+)?)?(?:lora[ _-]?)?alpha\b"
                         r"(?!\s*(?:to|=|:|of)?\s*\d)"),
            editor=True),
    Setting("dropout", ("lora.dropout",), NUMERIC, lambda v: 0 <= v < 1, "at least 0 and under 1",
            "LoRA dropout (0 to under 1)", "dropout {}", "dropout {}",
            ((r"(?:lora[ _-]?)?(?:dropout|丢弃率)" + TO + NUMBER + r"\s*%", 0.01),
             r"(?:lora[ _-]?)?(?:dropout|丢弃率)" + TO + NUMBER,
             (NUMBER + r"\s*%\s*(?:lora\s+)?dropout", 0.01),
             NUMBER + r"\s+(?:(?:for|as)\s+(?:the\s+)?)?(?:lora\s+)?dropout"),
            editor=True),
    Setting("warmup_ratio", ("training.warmup_ratio",), NUMERIC, lambda v: 0 <= v <= 0.5, "between 0 and 0.5",
            "share of the steps spent warming the learning rate up (0 to 0.5)", "warm-up ratio {}",
            "预热比例 {}",
            ((r"warm[ _-]?up,?\s+(?:ratio\s+)?(?:(?:for|over|on)\s+)?(?:the\s+first\s+)?(?:(?:about|like)\s+)?" + NUMBER
              + r"\s*%", 0.01),
             (NUMBER + r"\s*%\s*(?:of\s+(?:the\s+)?steps\s+(?:for\s+|as\s+)?)?warm[ _-]?up", 0.01),
             r"warm[ _-]?up[ _](?:ratio|share|fraction|proportion)" + TO + NUMBER,
             r"warm[ _-]?up\s+(?:over|for|on|during)\s+(?:the\s+first\s+)?" + NUMBER + r"\s+of\s+(?:the\s+)?"
             r"(?:steps|training|run)",
             (r"(?:预热|warmup)(?:比例|占比)?\s*(?:占|占到)?" + TO + NUMBER + r"\s*%", 0.01),
             (r"(?:前|头)\s*" + NUMBER + r"\s*%\s*的?\s*(?:训练)?步(?:数)?\s*(?:做|用来|用于|用作|拿来|来)?\s*预热",
              0.01),
             r"(?:预热(?:比例)?|warm[ _-]?up(?:\s*比例)?)" + TO + NUMBER + r"(?!\s*(?:steps?|步|[.\d]|%))"),
            editor=True),
    Setting("scheduler", ("training.scheduler",), str, _choice(*SCHEDULERS), f"one of {', '.join(SCHEDULERS)}",
            f"learning-rate schedule, one of {', '.join(SCHEDULERS)}", "{} schedule", "{} 学习率调度",
            (r"\b(constant_with_warmup|linear|cosine|constant)\s+(?:learning[ -]rate\s+|lr\s+)?"
             r"(?:schedule|scheduler|decay|lr schedule|anneal(?:ing)?)",
             r"(?<![a-z])(constant_with_warmup|linear|cosine|constant)\s*(?:的)?\s*(?:学习率)?\s*(?:调度|衰减|退火)",
             r"\b(constant)\s+(?:learning[ -]rate|lr)\b|(?:learning[ -]rate|lr)\s+(?:stays?\s+)?(constant)\b",
             r"(linear|cosine)ly\s+(?:decay|decaying|decreasing|falling)|(?:decay|lower|decrease|anneal|reduce)\w*\s+"
             r"(?:the\s+)?(?:learning[ -]rate|lr)\s+(linear)ly",
             r"(?:lr[ _]scheduler|scheduler|schedule|lr[ _]scheduler[ _]type|调度器?|调度策略|衰减方式)" + TO +
             r"[\"'“]?(constant_with_warmup|linear|cosine|constant)\b",
             r"\b(?:go\s+back\s+to|back\s+to|switch\s+(?:back\s+)?to|return\s+to|revert\s+to)\s+(?:the\s+|a\s+)?"
             r"(linear|cosine|constant)\b(?!\s*\d)"),
            editor=True),
    Setting("seed", ("training.seed",), int, lambda v: 0 <= v < 2**32, "between 0 and 4294967295",
            "random seed of training (integer)", "seed {}", "随机种子 {}",
            (r"(?:random\s+)?seed" + TO + r"(\d+)", r"(?:随机)?种子" + TO + r"(\d+)",
             r"\bseed\s+(?:it|training|the\s+run)\s+with\s+(\d+)|\b(\d+)\s+as\s+(?:the\s+)?(?:random\s+)?seed\b"),
            editor=True),
    Setting("checkpointing", ("training.gradient_checkpointing",), bool, lambda v: True, "yes or no",
            "gradient (activation) checkpointing: recompute activations to save memory (true/false)",
            "gradient checkpointing {}", "梯度检查点 {}",
            (r"(?:turn off|switch off|disable|no|without|don'?t use|do not use|skip|no need for|(?:don'?t|do not)\s+"
             r"(?:think\s+(?:you|we|it)\s+)?needs?)\s+(?:the\s+)?(?:gradient|activation)[ _-]?checkpointing|"
             r"(?:关闭|关掉|不用|不要|禁用|去掉|不需要|用不着|别用|别开)\s*(?:用\s*)?"
             r"(?:梯度检查点|gradient[ _-]?checkpointing|重算激活|激活重算)|"
             r"(?:梯度检查点|重算激活|激活重算)\s*(?:关掉|关闭|关了|去掉|不要了|不用了)|"
             r"(?:关闭|关掉|不用|不要|禁用|去掉|别用|别开)\s*检查点(?![^，。,]{0,4}(?:保存|间隔|步|存))|"
             r"(?:(?:gradient|activation)[ _-]?)?checkpointing(?:\s+off|\s*[=:]\s*(?:false|0|no|off)\b)|"
             r"(?:梯度检查点|重算激活|激活重算)\s*[:：=]\s*(?:关闭?|off|否|false|no|不要)",
             r"(?:turn on|switch on|enable|use|with)\s+(?:the\s+)?(?:gradient|activation)[ _-]?checkpointing|"
             r"(?:gradient|activation)[ _-]?checkpointing\s+on|"
             r"(?:开启|打开|启用|使用|用上|用)\s*(?:梯度检查点|gradient[ _-]?checkpointing|重算激活|激活重算)|"
             r"(?:(?:gradient|activation)[ _-]?)?checkpointing\s*[=:]\s*(?:true|1|yes|on)\b|"
             r"(?:梯度检查点|重算激活|激活重算)\s*[:：=]\s*(?:开启?|打开|on|是|true|yes|要)"),
            editor=True),
]}
EDITOR = tuple(s.name for s in SETTINGS.values() if s.editor)
"""The plan editor's fields, in order."""


def get_path(obj: Any, path: str) -> Any:
    """`get_path(plan, "lora.r")` is `plan.lora.r`."""
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
