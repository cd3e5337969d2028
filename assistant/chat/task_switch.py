"""When a later turn's task words name a new task, and when they only talk about the task already named."""

from __future__ import annotations

import re

SWITCH_TASK = (r"\b(?:instead|actually|rather|switch|change the task|different task|new task|change of plans?|no,|"
               r"(?:i|we) (?:want|need|'d like|would like) (?:it |the model |a model |you )?to\b|make it|"
               r"turn (?:it|this|them) into|not \w+ but)|^(?:please\s+|now\s+)?(?:translate|summari[sz]e|classify|"
               r"categori[sz]e|extract|rewrite|paraphrase|sort|route|tag)\b|我想|我要|改成|换成|改为|其实|而是|改做|"
               r"换个任务|换一个任务|新任务|计划有变|计划变了|改主意|还是.{0,12}(?:翻译|总结|摘要|分类|抽取|提取|改写)|^(?:请|现在)?(?:翻译|总结|摘要|分类|抽取|提取|改写)|不做|(?:还是|来|就)?做.{0,8}吧|来做|"
               r"\bchange (?:it )?to\b|\blet'?s do\b|\bdo\s+(?:a\s+|some\s+)?(?:translation|summar\w+|classification|"
               r"extraction|rewriting|paraphras\w+|question answering|qa)\b|(?:这次|现在|接下来)(?:要|改)?做|"
               r"^(?:a\s+)?(?:translation|summar(?:y|ies|ization)|classification|"
               r"extraction|question answering|rewriting|code generation)(?:\s+task)?(?:,?\s*please)?[.!]?$")
"""Words that make a later turn's task words a new task; without them, a task already named stays ("make the
answers shorter", "label smoothing 0.1", "the questions are in Chinese" are not question answering or labels)."""


def switches_task(text: str) -> bool:
    """Whether a later turn that names another task means to switch to it (`SWITCH_TASK`)."""
    return bool(re.search(SWITCH_TASK, text.lower()))
