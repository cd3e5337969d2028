"""Goals and worries said in a domain expert's words rather than as settings: "I'm worried it will overfit",
"keep the GPU bill low", "last time I got CUDA out of memory", "training was unstable, be more conservative",
"让它学得更充分". Each is read as the settings words the rules already know, with a note saying what was done and
why (or, where no setting answers it, advice only)."""

from __future__ import annotations

import re

from ..adjustable import SETTINGS
from ..sweeps import DEFAULT_PATIENCE

GOALS = (
    (r"\bover-?fit\w*|\bmemori[sz]\w*\s+(?:the\s+|its\s+|our\s+)?(?:training\s+)?(?:data|examples|rows|set)\b|"
     r"\b(?:just|only|simply)\s+memori[sz]\w*\b|过拟合|死记硬背|背(?:下来|住)了|"
     r"\b(?:eval(?:uation)?|validation|val|held-?out|dev)\s+loss\s+(?:climbs|rises|goes\s+up|went\s+up|increases|"
     r"(?:is\s+|was\s+)?(?:going|went)\s+up|gets\s+worse|got\s+worse|stopped\s+improving|stops\s+improving|"
     r"(?:is\s+|was\s+)?climbing|(?:is\s+|was\s+)?rising)|"
     r"验证集?\s*(?:的)?\s*(?:loss|损失)\s*(?:在|一直|开始|反而)?(?:涨|上升|变大|升高)|"
     r"验证集?\s*(?:的)?\s*(?:loss|损失)[^，。,]{0,12}?(?:不降了?|不再下降|不下降|降不下去)",
     f"early stopping patience {DEFAULT_PATIENCE}; dropout 0.1",
     "against over-fitting: training stops early when the held-out loss stops improving, and dropout is 0.1",
     "为防止过拟合：验证集损失不再下降时提前停止，dropout 设为 0.1"),
    (r"\btrain\s+(?:it\s+|the\s+model\s+)?(?:a\s+(?:little|bit)\s+|a\s+lot\s+|somewhat\s+)?more\b"
     r"(?!\s+(?:data|rows|examples))|"
     r"\blearn\s+(?:the\s+data\s+|it\s+|them\s+)?(?:better|more\s+thoroughly)|学得更(?:充分|好|扎实)|"
     r"多训练(?:一会儿?|一些|一点|一下)", "raise the epochs", "", ""),
    (r"\b(?:gpu\s+|cloud\s+|compute\s+)?(?:bill|costs?)\s+(?:low|down)\b|\bcheap(?:er|est|ly)?\b(?!,?\s+(?:[\w-]+\s+)?(?:gpus?|cards?|graphics|laptops?|machines?|computers?|hardware|pcs?|"
     r"servers?|box|rigs?)\b)|\bsave\s+(?:money|costs?)\b|"
     r"\blow[- ]cost\b|\b(?:tight|limited|small|low)\s+budget\b|\bbudget\s+is\s+(?:tight|limited|small)\b|"
     r"省(?:点|一点|些)?钱|便宜(?!的?\s*(?:显卡|gpu|卡|电脑|笔记本|机器|服务器|云主机))|成本(?:低|低一点|降下来)|降低成本|"
     r"预算(?:有限|紧张?|不多)", "fast", "", ""),
    (r"\bout[\s-]+of[\s-]+memory\b|\boom\b|爆显存|显存(?:不够|不足|溢出|炸了)", "use qlora",
     "the estimate says the 16-bit plan fits, but a run that ran out of memory before may share the GPU with "
     "something else: QLoRA (a 4-bit base) leaves the most room",
     "估算显示 16 位的计划放得下，但上次爆显存可能是有别的程序占着显卡：QLoRA（4 位基础模型）留出的余量最大"),
    (r"\b(?:less|lower|save|reduce|cut)\s+(?:the\s+)?(?:gpu\s+)?(?:memory|vram)\b|显存占用(?:再)?(?:少|小|低)|省显存|"
     r"少用(?:点|一点)?显存", "use qlora", "", "", r"\badam|optimi[sz]er|优化器"),  # (not "8-bit Adam to save memory":
    # a means of its own, said not to be offered by `features`)
    (r"\bunstable\b|\bdiverg\w*|\bloss\s+(?:spik|explod|jump|oscillat|bounc)\w*|\bnans?\b|(?:震荡|振荡|来回跳|抖动得?厉害)|"
     r"\bloss\s+(?:goes|went|is\s+going|keeps\s+going|jumps|swings)\s+up\s+and\s+down|上下(?:乱)?(?:跳|波动|震荡)|乱跳|"
     r"\bmore\s+conservative\b|\bbe\s+conservative\b|"
     r"不稳定|保守一?点|发散|\blearn\s+(?:more\s+)?slowly\b|\bslower\s+learning\b|\btake\s+smaller\s+steps\b|"
     r"\bsmaller\s+(?:update\s+)?steps\s+when\s+learning\b", "lower the learning rate", "", ""),
    (r"\bmore\s+capacity\b|\b(?:bigger|larger)\s+adapter\b|\bmore\s+expressive\b|容量(?:更)?大一?点|更大(?:的)?容量",
     "raise the rank",
     "", ""),
    (r"\b(?:less|smaller)\s+capacity\b|\b(?:smaller|tiny|tinier|small)\s+adapter\b|(?:适配器|adapter)\s*(?:文件)?\s*(?:再)?(?:小一?点|更小)|"
     r"\badapter\s+(?:file\s+)?(?:as\s+)?(?:small|tiny|compact|lightweight)\b|"
     r"(?:适配器|adapter)\s*(?:文件)?\s*(?:要|得|需要)?(?:尽量|尽可能)(?:小|更小)|"
     r"更小的(?:适配器|adapter)", "lower the rank", "", ""),
    (r"\bunder-?fit\w*|\b(?:didn'?t|did\s+not|barely|hardly)\s+learn(?:ed|t)?\s+(?:much|anything|enough)\b|欠拟合|"
     r"学得不够|没学到东西",
     "raise the epochs",
     "against under-fitting: more epochs (a higher learning rate, “double the learning rate”, also makes it learn "
     "more)",
     "针对欠拟合：增加训练轮数（提高学习率，例如“学习率翻倍”，也能让它学得更多）", "alone"),
    (r"\bloss\s+(?:didn'?t|did\s+not|doesn'?t|does\s+not|won'?t|never|barely)\s+(?:go\s+down|drop|decrease|fall|"
     r"improve|move)|\bloss\s+(?:stayed|was|is)\s+flat\b|(?:loss|损失)\s*(?:不降|没降|降不下来|不下降)", "",
     "if the loss stayed flat, the model learned little: try a higher learning rate (“double the learning rate”) or "
     "more epochs; if it jumped about, a lower rate",
     "如果损失一直不降，说明模型几乎没学到东西：可以提高学习率（“学习率翻倍”）或多训练几轮；如果损失来回跳，就降低学习率"),
    (r"\breproduc\w*|\bdeterminis\w*|\brepeatable\b|可复现|能复现|复现", "",
     "runs are repeatable: the plan's seed fixes the held-out split, the order of the rows and the adapter's starting "
     "weights (on a GPU some kernels still vary in the last digits); say “seed 7” to change it",
     "运行是可复现的：计划的随机种子固定了验证集划分、行的顺序和适配器的初始权重"
     "（在 GPU 上个别算子的最后几位仍会有差异）；要换种子，请说“随机种子 7”"),
    (r"\b(?:answers?|responses?|replies|outputs?|summar(?:y|ies)|completions?)\s+(?:(?:should|must|need\s+to|to)\s+be\s+"
     r"|are\s+too\s+|too\s+)?(?:shorter|longer|more\s+(?:concise|detailed)|briefer|less\s+(?:verbose|wordy)|long|short|"
     r"verbose|wordy)\b|\b(?:shorter|longer|briefer|more\s+concise|more\s+detailed)\s+(?:answers|responses|"
     r"replies|outputs|summaries)\b|(?:回答|回复|答案|输出|摘要)\s*(?:要|应该|能|再|太|更)*\s*(?:简短|简洁|短|长|详细|啰嗦)",
     "",
     "how long the answers are, the model learns from your data's answers; no plan setting changes it: for shorter "
     "(or longer) answers, train on answers of that length. When comparing, “Max new tokens” caps an answer",
     "回答的长短是模型从数据里的答案学到的，计划里没有设置能改变它：想要更短（或更长）的回答，就用那样长度的答案来训练。"
     "对比时，“Max new tokens”可以限制回答的长度"),
    (r"\btime\s+(?:doesn'?t|does\s+not)\s+matter\b|\bbest\s+possible\s+(?:result|model|quality|accuracy)\b|"
     r"\btime\s+(?:isn'?t|is\s+not)\s+(?:an?\s+)?(?:issue|problem|concern|constraint)\b|\bas\s+good\s+as\s+(?:it\s+can\s+"
     r"(?:get|be)|possible)\b|时间不是问题|不在乎时间|时间无所谓|不赶时间|效果(?:要|越)?(?:尽(?:可能|量)好|越好越好)",
     "best quality", "", ""),
    (r"\b(?:was|were|is|are|seemed|felt)\s+too\s+(?:weak|dumb)\b|"
     r"\b(?:was|were|is|are)(?:n'?t|\s+not)\s+(?:good|strong|smart|capable)\s+enough\b|"
     r"太弱|不够(?:聪明|强|好用)|能力不够", "best quality",
     "for a stronger result: the plan favours quality (rank 32, more capacity), on the largest base model that fits "
     "your GPU unless you name one",
     "为了更强的效果：计划以质量优先（秩 32，容量更大），基础模型用能放进你的 GPU 的最大模型（除非你指定了模型）"),
)
"""Each goal: the words that say it, the settings words it is read as (added to the message), and the note the
reply gives (English, Chinese; empty: the changes speak for themselves); then "alone": only in a message with no number
of its own ("it underfit with rank 8, try 32" says what to do about it), or a pattern: not in a message it matches."""


NOT = (r"\b(?:don'?t|do\s+not|no\s+need\s+to|needn'?t|never)\s+(?:worry|care|bother)\w*(?:\s+about)?|"
       r"\bnot\s+(?:worried|concerned|bothered)\b|\bno\s+(?:worries|concerns?)\b|不用担心|不担心|不怕|别担心|不在乎|无所谓")
"""A goal said not to matter, before it: "don't worry about overfitting", "不用担心过拟合" ("I don't want it to
memorize the data" is the worry itself)."""
NOT_AFTER = (r"^[\w\s]{0,12}?\b(?:is|are|isn'?t|aren'?t)\s+(?:not\s+|no\s+)?(?:a\s+)?(?:concern|problem|issue|worry)\b|"
             r"^[\w\s]{0,12}?(?:不是问题|没关系|无所谓)")
"""The same after it: "overfitting is not a concern", "过拟合没关系"."""


TAKEN_BACK = (r"\b(?:forget|never\s*mind|drop|ignore|scratch|cancel)\s+(?:about\s+)?(?:the|that|my|this)?\s*$|"
              r"(?:不用管|别管|不管|算了[，,]?\s*|取消)(?:那个|这个)?\s*$")
"""A goal taken back, before it: "forget the overfitting worry", "never mind the overfitting", "不用管过拟合了"."""


def _stated(part: str, low: str) -> bool:
    """Whether the message sets the setting a goal's words would ("验证损失连续 3 次不降就提前停止" says its patience:
    3, not the goal's 2)."""
    return any(s.read(part) is not None and s.read(low) is not None for s in SETTINGS.values() if s.patterns)


def goals(low: str, zh: bool) -> tuple[str, list[str], str]:
    """The settings words of the goals the message states ("; "-led, to be added to it; "" for none), the notes
    to give (none for a question: "would QLoRA save memory here?" asks, and is answered), and the settings words of
    the goals it says do not matter or takes back ("never mind the overfitting": an earlier turn's goal undone)."""
    notes, extra, dropped = [], [], []
    if re.search(r"[?？]\s*$", low):
        return "", notes, ""
    for words, settings, en, zh_note, *more in GOALS:
        alone, unless = more == ["alone"], more[0] if more and more != ["alone"] else None
        if not (m := re.search(words, low)) or alone and re.search(r"\d", low) or unless and re.search(unless, low):
            continue
        before = low[max(0, m.start() - 30):m.start()]
        if re.search(NOT, before) or re.search(NOT_AFTER, low[m.end():]) or re.search(TAKEN_BACK, before):
            dropped += [settings] if settings else []
            continue
        parts = [part for part in settings.split("; ") if settings and not _stated(part, low)]
        extra += parts
        # the note names the goal's values: not given when the message sets one ("…overfit, use dropout 0.2")
        notes += [zh_note if zh else en] if en and len(parts) == bool(settings) + settings.count("; ") else []
    return ("; " + "; ".join(extra) if extra else ""), notes, "; ".join(dropped)
