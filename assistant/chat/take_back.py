"""How people take changes back: an undo of the last change or two ("undo that", "undo both", "撤销", "两个都撤
销"), a reset of the settings named ("put the learning rate back", "学习率恢复默认", "you pick") or of every choice
("back to your defaults"), a correction ("no, I meant alpha 32"), and a limit taken off ("use all the data")."""

from __future__ import annotations

import re
from typing import Any

from ..adjustable import SETTINGS
from .about import named
from .whole_turn import FILLER

AFTER_CLAUSE = r"(?:[^,，。.!！?？\d]{0,40}[,，.。!！]\s*)?"
"""A short clause before an undo ("hmm that's too aggressive, revert", "太激进了，撤回")."""
UNDO = (rf"^(?:(?:hmm+|um+|uh+|oh|ah)[,.\s]*)?(?:actually,?\s+no|no,?\s+wait|nope|no,?\s+no|no)[,.!\s]*$|"
        rf"^(?:嗯|呃)?[,，\s]*(?:不对|不是这样|不行)(?:吧|啊)?[。！!\s]*$|^{FILLER}*(?:(?:别|不要|不用)换了|不换了)|"
        rf"^{FILLER}*(?:还是原来的(?:吧|好)?|还是原来那样|恢复原来的|改回原来的|不改了)|^(?:还是)?算了|"
        rf"^(?:把)?(?:刚才|上[一1]个|上次)(?:那个|的)?(?:改动|修改|设置)?\s*(?:撤销|撤回|取消|还原)(?:掉|了)?|"
        rf"^{FILLER}*(?:刚才|上[一1]个|上次)(?:那个|的)?(?:改动|修改|设置)\s*(?:不要了|不算了?|作废|算了)|"
        rf"^{FILLER}*(?:i\s+)?take\s+(?:that|it|this)\s+back|^{FILLER}*(?:(?:that|this|it)\s+was\s+a\s+mistake|"
        rf"my\s+(?:mistake|bad)|oops)|^{FILLER}*(?:(?:这|那)(?:条|个|句)|刚才(?:那条|那句|的)?)?收回|"
        rf"^{FILLER}*(?:刚才|上[一1]句)?(?:说|写|打|弄|搞)错了|"
        rf"^(?:[^,，。!！?？]{{0,60}}[,，。!！]\s*){{1,2}}{FILLER}*(?:undo|revert|scratch|cancel|go\s+back|take\s+(?:it|that)"
        rf"\s+back|roll\s+(?:it|that|this)\s+back|roll\s+back|撤回|撤销|改回去|还原|退回去|回滚|回退)(?:\s+(?:it|that|this))?|"
        rf"^{AFTER_CLAUSE}{FILLER}*(?:undo|revert|scratch|cancel)(?: (?:that|it|this|the last change|my last change))?|"
        rf"^{AFTER_CLAUSE}{FILLER}*(?:go|change it|put it|set it) back(?: to (?:what it was|how it was|before|what you "
        rf"had|the previous (?:value|one|setting)))?|^{FILLER}*(?:forget it|never ?mind)|"
        rf"^{FILLER}*(?:leave|keep) it (?:as|how|like) it was|"
        rf"^{FILLER}*the original (?:one |value |setting )?was (?:fine|better|good|ok(?:ay)?)|"
        rf"^{AFTER_CLAUSE}{FILLER}*(?:撤销|撤回|恢复上[一1]步|改回去|退回去|还原)(?:刚才(?:的|那个|那次)?(?:修改|改动)?|上[一1]步)?|"
        rf"^{FILLER}*(?:回到|退回|返回|回退到?)(?:上[一1]步|上[一1]个设置|之前的设置|刚才那样)|^{FILLER}*退[一1]步|"
        rf"^{FILLER}*(?:ignore|disregard|forget)\s+(?:my|the|that)\s+(?:last|previous)\s+(?:message|turn|request|change|"
        rf"comment|one)|^{FILLER}*(?:(?:go|take)\s+)?(?:one\s+)?step\s+back|"
        rf"^{FILLER}*(?:忽略|无视|别管)(?:我)?(?:的)?(?:上[一1](?:句|条)|刚才(?:那句|的话|说的)?)|"
        rf"^{AFTER_CLAUSE}{FILLER}*(?:roll\s+(?:it|that|this)\s+back|roll\s+back|回滚|回退|退回去)|"
        rf"^{FILLER}*undo\s+what\s+i\s+(?:just\s+)?(?:did|said|changed|asked(?:\s+for)?)|"
        rf"^{FILLER}*(?:let'?s\s+not(?:\s+do)?\s+(?:that|this|it)|(?:还是)?(?:别|不要)(?:这样|这么做|这么改)(?:了|吧)?)")
"""A turn that takes back the previous change: "undo that", "scratch that", "go back", "撤销刚才的修改"."""
UNDO_END = r"\s*(?:please|吧|一下)?[.!。！]?$"
UNDO_TWO = (rf"^{FILLER}*(?:undo|revert|back\s+out|roll\s+back|reverse|cancel|scratch|drop)\s+"
            rf"(?:both|them|the\s+last\s+two(?:\s+changes)?|"
            rf"those(?:\s+two)?(?:\s+changes)?)|"
            rf"^{FILLER}*(?:(?:这|前|最后|最近|刚才的?)?(?:两|2)\s*(?:个|步|次)(?:改动|修改)?)?都(?:撤销|撤回|取消|还原)(?:掉)?|"
            rf"^{FILLER}*(?:(?:go|take)\s+)?(?:back\s+(?:two|2)\s+steps|(?:two|2)\s+steps\s+back)|"
            rf"^{FILLER}*(?:退回|回退|后退|退)\s*(?:两|2)\s*步|"
            rf"^{FILLER}*(?:撤销|撤回)(?:这|最后|最近|前面|刚才)?(?:的)?(?:两|2)\s*(?:步|个|次)(?:修改|改动)?")
"""An undo of the two changes before: "undo both", "两个都撤销"."""
MEANT = r"^(?:(?:no|nope|sorry|my\s+bad|oops|不对|不是|说错了)[,，.\s]*)?(?:i\s+meant?\b|我(?:说|指)的是|我是说)"
"""A correction of the previous turn ("no, I meant alpha 32", "不对，我说的是 alpha 32"): it is taken back, and the
values said now are set."""
RESET = (r"\b(?:reset|restore|revert)\b|"
         r"\b(?:undo|never\s*mind|forget(?:\s+about)?|scratch|scrap|ditch|discard|drop|cancel)\s+(?:the|my|that)\s+"
         r"[\w -]{1,24}?\s+change\b|"
         r"\b(?:put|set|change|switch|turn)\s+(?:the\s+)?[\w -]{1,24}?\s+back\b(?!\s+(?:on|off)\b)|"
         r"\b(?:leave|keep)\s+(?:the\s+)?[\w -]{1,24}?\s+(?:where|as|how)\s+it\s+was\b|"
         r"\b(?:forget|ignore|disregard|scratch)\s+(?:what\s+i\s+(?:said|wrote|asked)|my\s+(?:comment|remark|request|"
         r"note))\s+(?:about|on|regarding|for)\b|"
         r"[^，。,.\d]{1,8}?(?:当我没(?:说|提|讲|问)|就当没(?:说|提)|(?:那句|那条|的话|的要求)\s*(?:不算了?|作废))|"
         r"[^，。,.\d]{1,8}?(?:的)?(?:修改|改动|更改)(?:也)?(?:撤销|撤回|取消|还原|不要了|作废)(?:吧|了)?\s*"
         r"(?:[。！!]?$|(?=[，,；;]))|"
         r"\bthe\s+[\w -]{1,20}?\s+was\s+(?:fine|better|good|ok(?:ay)?)\s+(?:before|as\s+it\s+was|originally)\b|"
         r"[^，。,.\d]{1,8}?原来的(?:就)?(?:挺好|很好|不错|可以|行|好)|(?:还是|用回|回到|恢复|保持)(?:用)?原来的(?=[^，。,.\d]{1,6})|"
         r"[^，。,.\d]{1,8}?(?:不(?:用|要)?|别)改了\s*(?:[。！!]?$|(?=[，,；;]))|"
         r"[^，。,.\d]{1,8}?(?:撤回|撤销|还原|恢复原样|恢复原来的?(?:值|设置)?|恢复|改回(?:去|来|原来的?)?|[换调]回(?:来|去)?)(?:吧|了)?\s*"
         r"(?:[。！!]?$|(?=[，,；;]))|"
         r"(?:别|不要|不用)换了|不换了|"
         r"\b(?:undo|scratch|forget|revert|never\s*mind)\s+(?:about\s+)?the\s+(?=[\w -]{1,24}(?:$|\s*[,;]))"
         r"(?!last\b|previous\b|change\b)|"
         r"(?:撤销|撤回|取消|还原)(?:对)?[^，。,.\d]{1,8}?的(?:修改|改动|更改)|"
         r"\bback\s+to\s+(?:your\b|what\s+you\s+(?:had|picked|chose|suggested|proposed|recommended)\b)|"
         r"\bstart over\b|\bfrom scratch\b|\b(?:your|the) recommended settings\b|"
         r"\bchanged\s+my\s+mind\s+(?:about|on)\b|"
         r"\b(?:stay|stick)\s+with\s+(?:the\s+|your\s+)?(?:defaults?|original|recommended)\b|"
         r"\bthe\s+(?:original|previous|old|earlier|first)\s+[\w -]{1,20}?\s+(?:was|is)\s+(?:fine|better|good|"
         r"ok(?:ay)?)\b|"
         r"\b(?:its|their)\s+(?:default|original|previous)\b|"
         r"\bas\s+you\s+(?:originally\s+|first\s+)?(?:had|proposed|suggested|recommended|picked|chose)\b|"
         r"(?:之前|原来|最初|一开始|最开始)的[^，。,.\d]{1,8}?(?:更好|比较好|好一些|就挺好)|改主意了|"
         r"(?:按|用|照)你(?:原来|之前|最初|一开始|最开始)?(?:建议|推荐|选|定|给)的|"
         r"\b(?:back|revert|return|switch back|go back) to (?:the |your )?(?:defaults?|"
         r"original|recommended)\b|\buse (?:the |your )?(?:defaults?|recommended)\b|\bdefault (?:settings|values)\b|"
         r"恢复默认|改回默认|用回默认|回到默认|重置|用(?:你的)?默认(?:的)?(?:设置|参数|配置|值)?|"
         r"\b(?:keep|use|go back to|back to|stick with|return to)\s+(?:the|your)\s+(?:original\s+|old\s+|first\s+)?"
         r"[\w -]{1,24}?\s+you\s+(?:had|picked|chose|suggested|proposed|recommended)\b|"
         r"\byour\s+(?:original|own|first)\s+(?:choice|value|suggestion|pick)\b|"
         r"用回(?:你)?(?:原来|之前|最初|一开始)的|(?:还是)?用你(?:原来|之前|最初|一开始)?(?:选|推荐|建议|定)的|"
         r"(?:还是)?用(?:回)?你(?:原来|之前|最初|一开始)的|(?:恢复|改回)(?:成|到)?你(?:原来|之前)的|"
         r"\byou\s+(?:pick|choose|decide)\b|\byour\s+call\b|\bup\s+to\s+you\b|你来(?:定|选|决定)|你定吧|交给你|"
         r"\bwhatever\s+you\s+(?:think|feel|consider|had|suggested|picked|chose)\b|"
         r"\bleave\s+[\w -]{1,24}?\s+(?:at|as)\s+what\s+you\s+(?:had|suggested|proposed|picked|chose|recommended)\b|"
         r"^(?:只|就)?(?:撤销|撤回|还原)(?:掉)?\s*(?=[a-z\u4e00-\u9fff])|你觉得(?:多少|怎样|怎么样)?合适(?:就)?|你看着(?:办|定|设)")
"""A reset of the settings named ("reset the learning rate", "put the learning rate back", "leave the rank where it
was", "forget what I said about the length", "学习率恢复默认", "批大小的修改取消", "长度那句当我没说", "秩不改了", "not
sure about the batch size, you pick")."""
BACK = (r"\b(?:put|set|change|switch|turn)\s+(?:both|them|it|that|those|these)\s+back\b|"
        r"\bback\s+to\s+your\s+(?:original\s+|first\s+)?(?:suggestion|recommendation|choice|pick|proposal)s?\b|"
        r"(?:还是)?(?:按|用|听)你(?:原来|之前|最初|一开始|最开始|开始)?的(?:建议|推荐|方案)|"
        r"\b(?:stick|stay|go)\s+with\s+what\s+you\s+(?:had|picked|chose|suggested|proposed|recommended)\b|"
        r"\bback\s+to\s+what\s+you\s+(?:had|picked|chose|suggested|proposed|recommended)\b|"
        r"\byou\s+(?:pick|choose|decide)\b|\byour\s+call\b|\bup\s+to\s+you\b|\bwhatever\s+you\s+(?:think|feel|consider)\b|"
        r"你来(?:定|选|决定)|你定吧|交给你|你看着(?:办|定|设)|(?:都|两个都|它们)(?:改回|恢复)")
"""A reset that may name nothing, for what the previous turn set ("put both back to what you had", "you decide",
"你看着办"); not "restore missing words"."""
RESET_ALL = (r"^reset[.!]?$|\b(?:reset|restore)\s+(?:everything|all|it all|the\s+(?:settings|plan|parameters|"
             r"hyper-?parameters|defaults))\b|\bstart over\b|\bfrom scratch\b|\b(?:your|the) recommended settings\b|"
             r"\b(?:back|revert|return|switch back|go back) to (?:the |your )?(?:defaults?|original|recommended)\b|"
             r"\buse (?:the |your )?(?:defaults?|recommended)\b|\bdefault (?:settings|values)\b|"
             r"恢复默认|改回默认|用回默认|回到默认|重置|用(?:你的)?默认")
"""A reset of every choice: "reset everything", "back to your defaults", "全部恢复默认" (a "restore" that names
nothing to reset, as in "restore missing words", is not one)."""
FACTS = ("task_type", "language", "gpu_name", "gpu_memory_gb", "output_column", "exclude_column", "input_column",
         "licence")
"""What a reset keeps: what the user told about their task, data and machine, not a choice of the plan's."""
ALL_CHOICES = [n for n in SETTINGS if n not in FACTS]
"""What "back to your defaults" gives back to the planner (and the sweep with them)."""


LIFTED = {"max_rows": r"\b(?:use|train\s+on|take)\s+(?:all|every(?:thing)?)(?:\s+of)?\s+(?:the\s+|my\s+)?(?:data|rows|"
                     r"examples|dataset)\b|\bno\s+row\s+limit|\b(?:remove|drop|lift)\s+the\s+row\s+limit|"
                     r"用全部(?:的)?数据|全部数据都用|数据全用|不限制(?:数据|行数|条数)",
          "max_steps": r"\b(?:remove|drop|lift|forget|no)\s+(?:the\s+)?step\s+limit|"
                       r"\bno\s+(?:limit\s+on\s+|max(?:imum)?\s+)steps|不限制步数|取消步数限制|不限步数",
          "time_budget_minutes": r"\b(?:remove|drop|lift|forget|no)\s+(?:the\s+)?(?:time\s+limit|time\s+budget|"
                                 r"deadline)|不限(?:制)?时间|取消时间限制",
          "gpu_memory_gb": r"\b(?:use|take|have)\s+(?:the\s+)?(?:whole|full|entire)\s+(?:card|gpu)\b|"
                           r"\b(?:use|take)\s+all\s+(?:of\s+)?(?:the\s+)?(?:gpu|card|vram|gpu\s+memory)\b|"
                           r"\bno\s+(?:need\s+to\s+)?(?:share|split)\s+the\s+(?:card|gpu)\b|"
                           r"用整张卡|整张卡都(?:用|给)|显存全(?:部)?用上?|不(?:用)?限制显存|取消显存限制"}
"""A limit taken off: "use all the data", "remove the step limit", "不限制步数" (the planner's choice again: none);
"use the whole card" after "make it fit in 12GB": the card's memory (what the person said of it, else detected)."""
MEMORY_LIMIT = (r"\bfit|\bunder\b|\bbelow\b|\bwithin\b|\bat\s+most\b|\bno\s+more\s+than\b|\blimit|\bcap\b|"
                r"\bkeep\s+it\b|\bonly\s+\d+(?:\.\d+)?\s*g\w*\s+(?:left|free|available)|以内|之内|控制在|不超过|最多|限制|放得下|只剩|剩下?")
"""A memory said as a limit to fit in ("make it fit in 12GB", "控制在 12G 以内"), not as the card's: only such a limit
is taken off by "use the whole card"."""


FALLBACK = (r"(?:qlora|4[- ]?bit|quantiz\w*|量化)[^.;。；]{0,30}?(?:\bonly\s+)?(?:\bif\s+(?:needed|necessary|"
            r"required)\b|"
            r"\b(?:if|when|in\s+case)\s+(?:it|lora|the\s+(?:plan|model))\s+(?:doesn'?t|does\s+not|won'?t|can'?t|cannot)\s+"
            r"fit\b|\bas\s+a\s+(?:fallback|last\s+resort)\b)|"
            r"\b(?:if|when|should)\s+(?:it|lora|the\s+(?:plan|model))\s+(?:doesn'?t|does\s+not|won'?t|can'?t|not)\s+fit\b"
            r"[^.;。；]{0,30}?(?:qlora|4[- ]?bit|quantiz)|\bfall\s*back\s+(?:to|on)\s+(?:qlora|4[- ]?bit|quantiz)|"
            r"(?:放不下|装不下|不够)(?:的时候|的话|时)?(?:才|就|再)?(?:用|换|改用|上)?\s*(?:qlora|量化|4\s*位)|"
            r"(?:需要|必要)(?:的话|时)\s*(?:再|才)?(?:用|上)?\s*(?:qlora|量化|4\s*位)")
"""QLoRA as a fallback ("only use qlora if lora doesn't fit", "放不下就换 QLoRA"): the planner's own rule, so the
method is given back to it."""


KEPT = r"\b(?:keep|leave)\b|保留|留着|别动|不变|不用动|不要动|不动"
"""A clause that keeps a setting beside one that resets another."""


def reset(low: str, values: dict[str, Any]) -> list[str]:
    """The settings a reset gives back to the planner: those named without a value ("use the default learning
    rate"), every choice (`FACTS` kept) when the message names none and sets nothing, or a limit taken off
    (`LIFTED`)."""
    if lifted := [n for n, words in LIFTED.items() if n not in values and re.search(words, low)]:
        return lifted
    if re.search(FALLBACK, low):
        return ["method"]
    if not re.search(RESET, low):
        return []
    said = " ".join(c for c in re.split(r"[,，;；]|\bbut\b|但是?|不过", low)  # "keep the rank, but undo the lr":
                    if re.search(RESET, c) or not re.search(KEPT, c))  # the learning rate's reset only
    names = [n for path in named(said) for n, s in SETTINGS.items() if s.in_plan and s.field == path
             or path == "base_model" and n == "base_model"
             or path == "evaluation.metrics" and n in ("metrics", "metrics_off", "metrics_only")] \
        or (["max_length"] if re.search(r"\blength\b|长度", said) else [])  # "forget what I said about the length"
    if names:
        return [n for n in names if n not in values]
    return [] if values.keys() - {"language"} or not re.search(RESET_ALL, low) else list(ALL_CHOICES)


CLAUSE = r"\s*(?:[,，;；]|\band\s+(?:also\s+)?|\bbut\s+(?:also\s+)?|但是?|不过|然后|另外|再)\s*"
"""What parts an undo from another change said with it ("undo both and use 2 epochs", "撤销，但最大长度设成 256")."""
UNDO_CLAUSE = (r"^(?:then\s+)?(?:undo|revert|scratch|go\s+back(?:\s+one\s+step)?|(?:go|take)\s+one\s+step\s+back)"
               r"(?:\s+(?:it|that|this|the\s+last\s+change|my\s+last\s+change))?$|"
               r"^(?:撤销|撤回|改回去|还原|退回(?:上[一1]步)?|回退|恢复上[一1]步)(?:刚才的?(?:修改|改动)?|上[一1]步)?$")
"""An undo said as one part of a message that changes something else: an explicit verb, not a bare "no"."""


def undo(low: str, sets: bool = False) -> int:
    """How many changes a turn takes back: 2 ("undo both"), 1 ("undo that"), or 0; `sets`: the turn also sets
    something, said in a part of its own ("revert that, but set max length 256")."""
    if re.search(rf"(?:{UNDO_TWO}){UNDO_END}", low):
        return 2
    if re.search(rf"(?:{UNDO}){UNDO_END}", low):
        return 1
    parts = [p.strip(" .!。！") for p in re.split(CLAUSE, low)] if sets else []
    return 2 if any(re.search(rf"(?:{UNDO_TWO})$", p) for p in parts) else int(any(re.search(UNDO_CLAUSE, p)
                                                                                    for p in parts))
