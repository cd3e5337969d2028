"""How people say the settings whose words outgrew `adjustable`'s table, and the pieces every setting's patterns
share: `NUMBER`, `TO` (a setting joined to its value), `AT_MOST`."""

from __future__ import annotations

NUMBER = r"(\d+(?:\.\d+)?(?:e-?\d+)?)"
TO = (r"\s*(?:(?:的?值)\s*)?(?:给我\s*)?(?:to|=|:|of|is|at|(?:should|must|needs to|could|can) be|为|设为|设成|设置为|"
      r"设到|设置成|设置到|设定为|设定成|改成|改为|改到|调成|调为|调到|换成|[改换采使]用|用|是|固定为|固定成|定为|定成|整成|搞成|弄成|拉到|拉成|改|"
      r"卡在|定在|提到|提高到|升到|降到|降低到|减到|加到|增加到|调整到|调整为|调整成|给个|给到|开到|开成|放到|放宽到|"
      r"开(?![始启])|跑|固定(?![为成])|"
      r"(?:应该|最好|可以)(?:是|用|设为|设成)|设(?!置)|(?:要不)?(?:试试|试一下)|要不(?:用|就)?|"
      r",\s*(?:maybe|perhaps|say|let'?s\s+say|something\s+like)(?=\s+\d))?\s*(?:(?:(?:somewhere\s+)?(?:around|about|near|close\s+to)|roughly|approximately|approx\.?|~|大约|大概|约|差不多|"
      r"大致|in\s+the\s+(?:ballpark|region|neighbou?rhood|vicinity|range)\s+of|something\s+like)\s*)?")
"""How people join a setting to its new value: "rank to 8", "lr = 1e-4", "lr should be 1e-4", "学习率改成 3e-4",
"秩调到 8", a value about which ("rank somewhere around 8", "in the ballpark of 5e-5", "学习率差不多 5e-5")."""
AT_MOST = r"(?:at most\s+|most\s+|up to\s+|no more than\s+)?"

MAX_LENGTH = (
    r"(?:max(?:imum)?[ _-]?(?:length|len|seq(?:uence)?[ _]length|tokens|source[ _]length)|"
    r"cutoff[ _]len(?:gth)?|context[ _-]?(?:length|len|size|window)|(?:sequence|seq)[ _-]?(?:length|len)|"
    r"最大长度|序列长度|截断长度|序列最长|"
    r"上下文长度|最大\s*token\s*数|(?<![案答要出])长度|"
    r"(?<!answer )(?<!summary )(?<!output )(?<!response )(?<!reply )(?<![\w-])length)"
    r"(?:\s*(?:under|below|within|限制在|控制在|不超过|不要超过|最多|小于|上限(?:是|为|设为)?|<=?|"
    r"cap(?:ped)?(?:\s+(?:of|at))?|limit(?:\s+of)?))?" + TO + r"(\d+)",
    r"(?:(?:truncate|cut|clip|shorten)\s+(?:the\s+|all\s+|each\s+|every\s+)?(?:sequences?|examples?|inputs?|rows?|"
    r"texts?|length|context)|(?:limit|cap|keep)\s+(?:the\s+|all\s+|each\s+|every\s+)?(?:sequences?|inputs?|"
    r"texts?|length|context))\s+(?:to|at|under|below|within)\s+" + AT_MOST + r"(\d+)",
    r"(?:limit|cap|keep|truncate|cut|clip)\s+(?:the\s+|all\s+|each\s+|every\s+)?(?:examples?|rows?|conversations?|"
    r"dialog(?:ue)?s?|chats?|documents?|articles?|messages?|prompts?|samples?)\s+(?:to|at|under|below|within)\s+"
    + AT_MOST + r"(\d+)\s*tokens?",
    r"(?:allow|permit|support|handle|fit|room\s+for)\s+(?:for\s+)?(?:up\s+to\s+|at\s+most\s+|as\s+many\s+as\s+)?(\d+)\s*"
    r"tokens?",
    r"(?:truncate|cut|clip)\s+(?:off\s+)?(?:anything|everything|whatever(?:'s|\s+is)?|what(?:'s|\s+is)?)\s+"
    r"(?:past|over|beyond|above|longer\s+than|after)\s+(\d+)\s*tokens?",
    r"(?:anything|everything|whatever(?:'s|\s+is)?)\s+(?:past|over|beyond|above|longer\s+than)\s+(\d+)\s*"
    r"tokens?\s+(?:gets?|is|should\s+be|can\s+be|will\s+be)\s+(?:truncated|cut|clipped)",
    r"(?:超过|超出|长于)\s*(\d+)\s*(?:个)?\s*(?:token|词元)s?\s*的?(?:部分|内容)?\s*(?:就|都|直接)?\s*(?:截断|截掉|切掉|砍掉)",
    r"(?:at most|up to|no more than|max(?:imum)? of)\s+(\d+)\s*tokens?\s+(?:per|each|an?|in each)\s+"
    r"(?:example|row|sequence|input|sample)",
    r"(?:sequences?|examples?|inputs?|context)\s+(?:of\s+)?(?:(?:should|must|can|may|will|could)\s+be\s+|are\s+|"
    r"be\s+)?(?:up to|at most|no longer than)\s+(\d+)\s*tokens?",
    r"(?:截断到|截断为|最长|不超过|长度限制为|限制在)\s*(\d+)\s*(?:个)?\s*(?:token|词元)",
    r"(?:每条|每个样本|每行|每篇|单条)[^，。,;；\d]{0,6}?(?:最多|至多|不超过|上限)(?:允许|可以|能有|能)?\s*(\d+)\s*(?:个)?\s*"
    r"(?:token|词元)",
    r"(\d+)\s*tokens?\s+(?:is|are|should\s+be|will\s+be|would\s+be)\s+(?:enough|plenty|fine|sufficient)|"
    r"(\d+)\s*tokens?\s+(?:should|will|would)\s+do\b",
)
"""The tokens an example may have: "max length 512", "truncate anything past 256 tokens", "超过 256 个 token 的就截断",
"cap each conversation at 2048 tokens", "allow up to 1024 tokens" ("truncate rows at 300" shortens each row; "limit rows
to 500" keeps 500 rows, `max_rows`, unless it says tokens)."""

INPUT_COLUMN = (
    r"(?:only|just)\s+(?:use|read|look\s+at|give\s+it|feed(?:\s+it)?)\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff-]+?)"
    r"[`'\"”]?(?:\s+(?:column|field))?\s+(?:as\s+(?:the\s+)?input|column\b|field\b)",
    r"(?:use|read)\s+only\s+(?:the\s+)?[`'\"“]?([\w\u4e00-\u9fff-]+?)[`'\"”]?\s+(?:column|field)",
    r"\binput\s+(?:column\s+|field\s+)?(?:should\s+be|is|=|:)\s+(?:just|only)\s+(?:the\s+)?[`'\"“]?"
    r"([\w\u4e00-\u9fff-]+?)[`'\"”]?(?:\s+(?:column|field))?(?![\w\u4e00-\u9fff-])",
    r"(?:只用|仅用|只看|只读)\s*[`'\"“]?([\w\u4e00-\u9fff]+?)[`'\"”]?\s*(?:这一?)?(?:列|字段)",
    r"输入(?:只用|只要|仅用)\s*[`'\"“]?([\w\u4e00-\u9fff]+?)[`'\"”]?\s*(?:这一?)?(?:列|字段)?(?![\w\u4e00-\u9fff])",
)
"""The one column the model reads, named as a column: "only use the subject column", "input is just `body`", "只用
subject 这一列" (named in passing, "use the subject only", it is `chat.understand.ONLY_INPUT`'s: a column only when the
file has one by that name)."""
