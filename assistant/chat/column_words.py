"""How people name the data's columns in passing: the output to predict ("predict the queue from the body"), the one
input to read ("keep only the body", "use the subject only"), an input read as well ("use the body too") or left out
("ignore the subject"). Each is a `MaybeColumn`: the file's column of that name when it has one (`converse`), else
nothing (it was a description, not a column)."""

from __future__ import annotations

PREDICT = (r"\bpredict\s+(?:the\s+|each\s+|a\s+)?[`'\"“]?([\w-]+)[`'\"”]?\s+(?:column\s+|field\s+|value\s+)?"
           r"(?:from|given|based\s+on|using|out\s+of)\b|"
           r"\b(?:write|generate|produce|create)\s+(?:a\s+|an\s+|the\s+)?([\w-]+)(?:\s+line)?\s+(?:for|from)\s+(?:each|every|the)"
           r"\b|(?:根据|用|从)\s*[\w-]+\s*(?:这一?列|列|字段)?\s*(?:来)?(?:生成|写出?)\s*[`'\"“]?([\w-]+?)[`'\"”]?\s*"
           r"(?:这一?列|列|字段)?\s*(?=$|[\s，。,；;!！?？])|"
           r"预测\s*[`'\"“]?([\w-]+?)[`'\"”]?\s*(?:这一?)?(?:列|字段)?\s*(?=$|[\s，。,；;!！?？])")
""""Predict the queue from the subject", "根据正文预测标签": the output, when the file has a column by that name."""


ONLY_INPUT = (r"\b(?:model|it)\s+(?:should|must|can|may|will)\s+only\s+(?:see|read|use|get|look\s+at)\s+(?:the\s+)?"
              r"[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field))?(?=\s*(?:$|[,.;!]))|"
              r"\bkeep\s+only\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field))?(?=\s*(?:$|[,.;!]))|"
              r"\bonly\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?\s+(?:column\s+|field\s+)?(?:is|as|should\s+be)\s+(?:the\s+)?input|"
              r"\b(?:from|using|use|read|based\s+on|given)\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field|line|"
              r"text))?\s+(?:only|alone)\b|\bpredict\s+(?:the\s+)?[\w-]+\s+(?:column\s+)?(?:from|given|based\s+on|using)\s+"
              r"(?:the\s+|its\s+|each\s+\w+'s\s+)?(?:[a-z]+\s+)??[`'\"“]?(?!(?:only|alone|too|also|instead)\b)([\w-]+)[`'\"”]?"
              r"(?:\s+(?:column|field|line|text))?"
              r"(?=\s*(?:$|[,.;!]))|"
              r"\b(?:from|using|based\s+on|given)\s+(?:only|just)\s+(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?"
              r"(?:\s+(?:column|field|text|content|line))?(?=\s*(?:$|[,.;!]))|"
              r"\bthe\s+[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field))?\s+is\s+(?:what|all\s+that)\s+matters\b|"
              r"\b(?:(?:only|just)\s+(?:look\s+at|read|see|use)|(?:use|read)\s+(?:only|just))\s+(?:the\s+)?[`'\"“]?"
              r"([a-z][\w-]*)[`'\"”]?"
              r"(?:\s+(?:column|field|line|text))?(?=\s*(?:$|[,.;!]))|"
              r"\bthe\s+[`'\"“]?([\w-]+)[`'\"”]?(?:\s+(?:column|field|text))?\s+(?:alone|by\s+itself|on\s+its\s+own)\b|"
              r"\b(?:write|generate|produce|create)\s+(?:a\s+|an\s+|the\s+)?[\w-]+(?:\s+line)?\s+(?:for|from)\s+"
              r"(?:each|every|the)\s+(?:\w+\s+)?([\w-]+)(?=\s*(?:$|[,.;!]))|"
              r"(?:只用|仅用|只看|只读|光用|光看)\s*[`'\"“]?([\w\u4e00-\u9fff]+?)[`'\"”]?\s*(?:这一?列|列|字段)?\s*"
              r"(?:就(?:够了?|行|可以)|(?:吧|就好)?\s*[。！!]?$)|"
              r"(?:(?:只|仅)(?:根据|凭|看|用)|^(?:根据|用|从))\s*(?:[\u4e00-\u9fff]{1,4}\s+)?[`'\"“]?([\w\u4e00-\u9fff]+?)[`'\"”]?"
              r"\s*(?:这一?列|列|字段)?\s*(?:(?:给|对|把|将)[^，。,；;]{0,6}?)?(?:来)?(?:预测|判断|分类|分|生成|写出?)")
""""The model should only see the body", "keep only the body", "predict the queue from the subject (only)", "根据
subject 预测 queue": the one input, when the file has a column by that name."""


EXCLUDE = (r"\b(?:ignore|drop|leave\s+out|remove|exclude|skip|don'?t\s+use|do\s+not\s+use)\s+(?:the\s+)?[`'\"“]?"
           r"([\w-]+)[`'\"”]?(?=\s*(?:$|[,.;!]))|\b(?:the\s+)?[`'\"“]?([\w-]+)[`'\"”]?\s+(?:column|field|line)\s+(?:is|seems)\s+"
           r"(?:(?:mostly|just|pure|pretty\s+much|really|basically)\s+)?(?:meaningless|useless|irrelevant|noise|junk|"
           r"not\s+(?:needed|useful|relevant))|"
           r"\b([a-z][\w-]*)\s*(?:这一?列|列|字段)?\s*(?:太|很|有点)(?:乱|杂|吵|脏)了?\s*[，,]\s*(?:别|不要|不)用(?:它|这列)?")
"""An input left out without the word column ("ignore the subject"): `MaybeColumn`."""


class MaybeColumn(str):
    """An output named in passing ("predict the sentiment from the text"): the file's column of that name when it
    has one (`converse`), else nothing (it was a description, not a column)."""


class AlsoColumn(MaybeColumn):
    """A column read as well as those read so far ("use the body too", "body 也用上"): see `converse`."""


ALSO_INPUT = (r"\b(?:use|read|include|add|keep|put|bring)\s+(?:the\s+)?[`'\"“]?"
              r"(?!(?:both|them|it|that|this|those|these|everything|all|each)\b)([\w-]+)[`'\"”]?"
              r"(?:\s+(?:column|field|text))?\s+"
              r"(?:as\s+well|too|also|back(?:\s+in)?)\b|\b(?:also|and)\s+(?:use|read|include)\s+(?:the\s+)?[`'\"“]?([\w-]+)"
              r"[`'\"”]?(?:\s+(?:column|field|text))?(?=\s*(?:$|[,.;!]))|"
              r"(?:把)?[`'\"“]?([a-z][\w-]*)[`'\"”]?\s*(?:这一?列|列|字段|这栏|栏)?(?:也|还是)?(?:用上|加上|加进来|用进来|要|用|"
              r"加回来|加回去|用回来|放回来|放回去)")
"""An input column read as well ("use the body as well", "add the body back", "body 这列也用上")."""


def also_read(column: str, earlier: list, it, zh: bool) -> str | None:
    """"Use the body too": the columns the plan reads only so far and this one; after "ignore the body", the body
    back (the exclusion forgotten); else a note that it is read already."""
    for before in reversed(earlier):
        if before.values.get("exclude_column") == column:
            it.forget.append("exclude_column")
            return None
        if only := before.values.get("input_column"):
            return only if column in only.split(", ") else f"{only}, {column}"
    it.notes.append(f"`{column}` 已经是输入列之一" if zh else f"`{column}` is already one of the input columns")
    return None
