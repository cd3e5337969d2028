"""Tailor's own tasks, data formats, metrics, base models and exporters — registered as a plugin, through the
same hooks and checks as any installed one. (The built-in CLI commands register in `assistant/cli.py`.)"""

from __future__ import annotations

from pathlib import Path

from .records import DataFormat, Exporter, Metric, TaskRecipe
from .spec import hookimpl

LANGUAGES = ("english|chinese|mandarin|cantonese|spanish|french|german|japanese|korean|italian|portuguese|russian|"
             "arabic|hindi|vietnamese|thai|dutch|turkish|polish|indonesian")
"""Languages a translation task names ("into Spanish", "English to Chinese")."""
CODE_OUT = (r"(?:shell|bash|sql|python|javascript|code|commands?|regex(?:es)?|regular expressions?|quer(?:y|ies)|"
            r"scripts?)")
"""What code is written in: "translate questions into SQL" asks for code, not a translation."""


@hookimpl
def register_tasks():
    # Listed in the order the quick answers are offered. Patterns are tried by priority: more specific tasks
    # first ("translate" beats "text", "summarize" beats "rewrite"); a plugin's task (default 100) before all.
    return [
        TaskRecipe("classification", r"classif|categori[sz]|sentiment|label|spam|intent detection|detect .*intent|"
                                     r"tag .* as|positive or negative|routes? .* to|sort .* into|triage|"
                                     r"\b(?:split|divide|separate|group|bucket)\b[\w ]{0,40}?\binto\s+"
                                     r"(?:\d+\s+|two\s+|three\s+|four\s+|five\s+|several\s+|a\s+few\s+)?"
                                     r"(?:categories|classes|buckets|types)\b|"
                                     r"which (team|department|queue|category|intent)|"
                                     r"right (intent|team|queue|department)|"
                                     r"by (topic|intent|department|category|urgency|priority)|"
                                     r"true or false|(?:rate|score|grade) (?:each|every)\b|"
                                     r"(?:decide|determine|tell|judge|check|detect|predict|identify|flag) "
                                     r"(?:whether|if)\b|"
                                     r"detect (?:toxic|spam|abusive|offensive|hateful|fraud)|"
                                     r"assign (?:a |an )?(?:priority|category|label|class|tag|topic|sentiment)|"
                                     r"\btag (?:each|every|all|the)\b[\w ]{0,40}? with (?:its |their |a |an |the )?"
                                     r"(?:priority|category|label|class|topic|sentiment|language|team)|"
                                     r"(?:detect|identify|guess|recogni[sz]e) (?:the |which )?language|"
                                     r"\bflag(?:s|ging)? [\w ]{0,30}?(?:fraud|spam|toxic|abusive|offensive|suspicious|"
                                     r"risky|phishing|personal\s+(?:data|information|details)|pii|sensitive)|"
                                     r"star rating|"
                                     r"\b(?:map|assign|code)\b[\w ,'-]{0,40}?\bto\s+(?:(?:their|its|the|an?|one)\s+)?"
                                     r"(?:of\s+(?:our|the|these|my)\s+)?"
                                     r"(?:(?:icd|hs|naics|sic|cpt|diagnos|billing|tax|industry|occupation|soc)[\w.-]*\s*codes?|"
                                     r"(?:\w+\s+)?(?:categories|category|labels?|classes))\b|映射到.{0,12}?(?:编码|类别|标签|分类)|"
                                     r"(?<!learning )(?<!learning_)\b(?:rate|score|grade)\b[\w ,'-]{0,40}?\b"
                                     r"(?:from \d+ to \d+|on a (?:\d+[- ]point )?scale|out of \d+|\d+\s*[-–]\s*\d+\b)|"
                                     r"\b(?:give|assign|attach)\s+(?:each|every)\b[\w ]{0,40}?\s+"
                                     r"(?:a|an|one|its|their)\s+(?:topic|label|category|class|tag|sentiment|priority|rating|score|grade)\b|"
                                     r"(?:predict|estimate|infer) (?:the |each |a )?(?:rating|label|category|class|"
                                     r"topic|sentiment)|"
                                     r"分类|情感|类别|正面(?:和|或|还是|与|跟|及)负面|打标签|判断.*(正面|负面)|判断.{0,24}?(?:是不是|是否|有没有)|识别意图|意图识别|识别.{0,20}的?意图|"
                                     r"分到|归类|路由|分[成为].{0,20}?(?:[两三四五六七八九十几\d]\s*)(?:类|种|个类别)|分拣|分派|分配给|派给|指派给|属于哪|分给哪|哪个(?:队列|部门|团队|类别|分组|组)|打上?.{0,10}标签|打分|评分|星级|[一二三四五1-5]\s*星|垃圾(?:广告|邮件|短信)|好评|差评|判断.{0,20}(?:还是|或者?)|(?:标|标记|归)(?:成|为).{0,20}?(?:、|或者?|还是)|"
                                     r"打上.{0,12}(?:或|还是)|(?:检测|识别|找出|标出)(?:出)?.{0,8}(?:有毒|毒性|攻击性|不当|低俗|色情)|给每[条个张篇封段份].{0,12}?(?:标上|打上|分配|加上|贴上|标注|标记|选)(?:一个)?"
                                     r"(?:主题|标签|类别|分类|优先级|情感|等级|分数)|"
                                     r"(?:标|挑|找)出.{0,12}(?:包含|含有|带有|涉及).{0,12}(?:个人信息|隐私|敏感|违规|广告)|(?:检测|识别).{0,8}(?:有害|违规|敏感|辱骂|欺诈|恶意|诈骗|虚假)",
                   {"en": "Classify the text. Answer with exactly one of: {labels}.",
                    "zh": "对文本进行分类。只回答以下之一：{labels}。"}, ("accuracy", "f1"),
                   {"en": "Classify text into labels", "zh": "文本分类"}, labels=True, priority=50),
        TaskRecipe("summarization", r"summar|tl;?dr|abstract|condense|\bgist\b|bullet points|key points|\brecap|"
                                    r"\binto\s+(?:short\s+|brief\s+|concise\s+)?(?:meeting\s+)?minutes\b|"
                                    r"\bmeeting\s+minutes\b|纪要|"
                                    r"\b(?:shorten|boil\s+down|compress)\b[\w ,'-]{0,40}?\binto\s+"
                                    r"(?:a|one|two|three)\s+(?:short\s+|brief\s+|single\s+)?(?:paragraph|sentence|line)s?\b|"
                                    r"into (?:a |one |two |three )?(?:short|brief|single|few)(?: \w+)? "
                                    r"(?:paragraph|sentence|line)s?\b|"
                                    r"(?:write|generate|create|suggest|give|make|produce) (?:a |an |the )?"
                                    r"(?:[\w-]+ ){0,2}?(?:headline|title)s? (?:for|of)\b|"
                                    r"摘要|总结|概括|归纳|(?:压缩|缩短|精简|缩写|压|缩)成.{0,6}(?:一句话|一段|几句|一行|说明|简报)|(?<!大)概要|梗概|提要(?!求)|浓缩|(?<!重)要点|(?:整理|归纳|列)(?:成|出)重点|重点整理|(?:生成|起|拟|写|取).{0,10}标题",
                   {"en": "Summarize the text concisely.", "zh": "请简明地总结这段文本。"}, ("rougeL",),
                   {"en": "Summarize documents", "zh": "文档摘要"}, priority=70),
        TaskRecipe("extraction", r"extract|pull (?:out|[\w ,&/-]{1,60}? out of)|named entit|\bner\b|parse .* into json|"
                                 r"(?:grab|pull|pick(?: out)?) (?![\w ,&/-]{0,60}?\b(?:sentiment|label|spam|categor|"
                                 r"class|intent|topic|tone))[\w ,&/-]{1,60}? (?:from|out of) (?:each|every)\b|"
                                 r"从.{0,20}(?:找出|挑出|摘出|抽出|拿出|取出|抓出|捞出)|"
                                 r"(?:把|将)[^，。,]{0,20}(?:找出来|抽出来|提取出来|摘出来)(?![^，。,]*分类)|"
                                 r"(?:find|list|get) (?:all )?(?:the )?[\w ,&/-]{1,60}? "
                                 r"mentioned in\b|"
                                 r"to json|(?:output|return|produce|emit|give me) (?:a |the )?json\b|\bjson with\b|"
                                 r"\b(?:as|in) json\b|\binto\s+(?:a\s+)?(?:structured\s+)?json\b|\bstructured\s+json\b|"
                                 r"(?:转成|转换成|转为|变成|输出成?)\s*(?:结构化(?:的)?\s*)?json|结构化\s*(?:的)?\s*(?:json|字段)|"
                                 r"fields? from|key[/ -]?value pairs?|键值对|"
                                 r"抽取|提取|实体(?!店)|拆成|拆分成|人名|地名|机构名|"
                                 r"(?:find|identify|spot|mark|highlight|list) (?:all |every |each )?(?:the )?"
                                 r"(?:person |people's |company |place |location |organi[sz]ation |product )?"
                                 r"(?:names|entities)\b|"
                                 r"get (?:the |all )?[\w ,&/'-]{1,50}? out of\b|parse (?:the )?[\w ,&/-]{1,40}? into\b|"
                                 r"\b(?:find|list|get|pull)\s+(?:every|each|all(?:\s+the)?)\s+"
                                 r"(?![\w ,&/-]{0,40}?\b(?:sentiment|label|spam|categor|class|intent|topic|tone))"
                                 r"[\w ,&/-]{1,40}?\s+in\s+(?:these|the|each|every|this)\b",
                   {"en": "Extract the requested information from the text. Answer in the same format as the examples.",
                    "zh": "从文本中抽取所需信息，并按示例的格式回答。"}, ("json_valid", "exact_match"),
                   {"en": "Extract fields as JSON", "zh": "抽取字段为 JSON"}, priority=60),
        # (not an assistant learning from conversations: "answers customers the way our agents do, trained on past
        # conversations" is chat)
        TaskRecipe("qa", r"(?s:^(?!.*(?:\b(?:past|previous|old|our|historical|recorded)\s+(?:support\s+|customer\s+)?"
                         r"(?:conversations|chats|chat\s+logs|dialogues|transcripts)|\bthe\s+way\s+(?:our\s+)?"
                         r"(?:support\s+)?agents?\b|对话记录|聊天记录|历史对话|过去的对话|像我们的?客服)).*?"
                         r"(?:question|answer(?!s?\s+like\b)|\bq&a\b|\bqa\b|faq|问答|回答.{0,16}问题|答疑))",
                   {"en": "Answer the question accurately and concisely.", "zh": "准确、简洁地回答问题。"},
                   ("token_f1", "exact_match"), {"en": "Answer questions", "zh": "问答"}, priority=30),
        TaskRecipe("translation", rf"translat(?![^.]{{0,60}}?\b(?:into|to)\s+(?:\w+\s+){{0,2}}{CODE_OUT}\b)|"
                                  rf"(?:翻译|译成|译为|翻成)(?!成?\s*(?:sql|shell|bash|python|代码|命令|正则|查询))|英译中|中译英|"
                                  # a language named as the output, unless another task is named ("summarize
                                  # English articles into Chinese" stays a summary)
                                  rf"(?s:^(?!.*(?:summar|classif|categori|extract|摘要|总结|分类|抽取)).*?"
                                  rf"(?:\binto (?:{LANGUAGES})\b|"
                                  rf"\b(?:convert|turn|put|render|change)\b[^.]{{0,60}}?\b(?:to|in) (?:{LANGUAGES})\b|"
                                  rf"\b(?:{LANGUAGES}) (?:to|into|->|→) (?:{LANGUAGES})\b))",
                   {"en": "Translate the text.", "zh": "翻译这段文本。"}, ("bleu", "chrf"),
                   {"en": "Translate text", "zh": "翻译"}, priority=80),
        TaskRecipe("chat", r"chat|convers|assistant|customer support|dialog|persona(?!l)|role-?play|talks? like|"
                           r"\b(?:the\s+way|like)\s+(?:our\s+)?(?:support\s+)?agents?\b|"
                           r"(?:draft|write|generate|suggest|answer\s+with)\s+(?:[\w-]+\s+){0,2}repl(?:y|ies)\b|"
                           r"(?:回复|答复)(?:客户|用户|顾客|邮件|消息)|(?:写|生成|起草)(?:一个|一条|一封)?(?:回复|答复)|"
                           r"follow(?:s|ing)?\s+(?:the\s+|my\s+|our\s+|user\s+)?instructions|instruction[- ]following|"
                           r"instruction[- ]tun\w*|instruction\s*(?:/|-|and|&)\s*(?:response|answer|output)s?\b|"
                           r"\balpaca(?:[- ]style)?\s+(?:data|dataset|format|pairs|examples)|指令微调|指令数据|"
                           r"general[- ]purpose\s+(?:assistant|model)|指令跟随|遵循指令|听从指令|按指令|"
                           r"聊天|对话|客服|助手|陪聊|角色扮演",
                   {"en": "You are a helpful assistant.", "zh": "你是一个乐于助人的助手。"}, ("rougeL", "perplexity"),
                   {"en": "Chat like our support agent", "zh": "客服对话"}, priority=10),
        TaskRecipe("code", r"\bsql\b|\bbash\b|shell command|regular expressions?|one-liners?|\bregex|"
                           r"\b(?:write|writes|writing|generate|generates|implement)\s+(?:a\s+|the\s+|small\s+)?programs?\b|"
                           r"\bprograms?\s+(?:that|which)\b|代码|编程|写程序|正则|docstrings?|\bpytest\b|\bdef\s+\w+\s*\(|"
                           # a language or "code" named, unless it is what questions are about ("answer questions
                           # about our Python course" is question answering)
                           r"(?s:^(?!.*\b(?:questions?|faqs?|queries)\s+(?:about|on|regarding|concerning|related\s+to)\b)"
                           r".*?(?:\bcode\b|coding|programming|python|javascript|\bfunctions?\b))",
                   {"en": "Write correct, idiomatic code for the request.", "zh": "根据要求编写正确、规范的代码。"},
                   ("exact_match", "perplexity"), priority=40),
        TaskRecipe("rewriting", r"rewrit|paraphras|rephras|polish|formal|simplif|simpler|easier to read|plain "
                                r"(?:english|language)|proofread|grammar|punctuat|"
                                r"polite(?![\w ]{0,20}\brepl(?:y|ies)\b)|typos?\b|错别字|纠正|校对|错字|改正过来|"
                                r"\b(?:correct|fix)\s+(?:the\s+|any\s+|all\s+)?(?:spelling|misspell\w*|errors?|mistakes?)\b|"
                                r"\btone\b|sound (?:more|less)\b|friendlier|more (?:casual|professional|friendly)|"
                                r"punchier|snappier|more concise|crisper|"
                                r"\b(?:explain|rewrite|say|put)\b[^.]{0,30}?\bto\s+an?\s+(?:[\w-]+\s+){0,2}?"
                                r"(?:year[- ]olds?|child|kid|beginner|layperson|non-expert)\b|"
                                r"\bin\s+(?:simple|plain|everyday)\s+(?:terms|words)\b|"
                                r"make (?:these|this|it|them|each|every)\b[\w ]{0,40}? (?:shorter|clearer)\b|"
                                r"改写|润色|重写|转述|更礼貌|更客气|语气|书面语|更正式",
                   {"en": "Rewrite the text as requested, keeping its meaning.", "zh": "按要求改写文本，保持原意。"},
                   ("rougeL",), priority=20),
    ]


@hookimpl
def register_formats():
    from ..data import inspect as d

    def keys(rows):
        return {str(k).lower() for k in rows[0]}

    def conversation(key):
        return lambda row, mapping: d.split_conversation(d.get_field(row, key) or [], d.get_field(row, "tools"))

    return [
        DataFormat("messages", lambda rows: isinstance(d.get_field(rows[0], "messages"), list),
                   conversation("messages"), task="chat", priority=50,
                   description="rows with a `messages` list of {role, content}"),
        DataFormat("sharegpt", lambda rows: isinstance(d.get_field(rows[0], "conversations"), list),
                   conversation("conversations"), task="chat", priority=40,
                   description="rows with a `conversations` list of {from, value}"),
        DataFormat("alpaca", lambda rows: {"instruction", "output"} <= keys(rows), d.alpaca_example, priority=30,
                   description="instruction / input / output"),
        DataFormat("prompt_completion", lambda rows: {"prompt", "completion"} <= keys(rows),
                   lambda row, mapping: {"prompt": d.text(d.get_field(row, "prompt")),
                                         "completion": d.text(d.get_field(row, "completion"))},
                   priority=20, description="prompt / completion"),
        DataFormat("columns", lambda rows: True, d.columns_example, map_columns=d.map_columns, priority=0,
                   description="any table: input and output columns found from their names and values"),
    ]


@hookimpl
def register_metrics():
    from ..evaluate import metrics as m

    return [
        Metric("accuracy", m.exact_match, description="share of answers equal to the reference"),
        Metric("f1", corpus=m.macro_f1, description="macro-averaged F1 over the labels"),
        Metric("exact_match", m.exact_match, description="answer equals the reference (normalised)"),
        Metric("token_f1", m.token_f1, description="word overlap F1, as in SQuAD"),
        Metric("rougeL", m.rouge_l, description="longest common subsequence F-measure"),
        Metric("bleu", m.bleu, description="sentence BLEU (character n-grams for Chinese)"),
        Metric("chrf", m.chrf, description="character n-gram F-score"),
        Metric("json_valid", m.json_valid, description="the answer parses as JSON"),
        Metric("perplexity", from_loss=True, higher_is_better=False,
               description="exp of the held-out loss, measured when training ends"),
    ]


@hookimpl
def register_models():
    from ..models.catalog import BUILTIN_MODELS

    return list(BUILTIN_MODELS)


@hookimpl
def register_exporters():
    def peft_zip(registry, record, dest: Path, log=print) -> Path:
        from ..registry.store import export_zip

        return export_zip(registry, record, dest / f"{record.name}-v{record.version}.zip")

    def merged(registry, record, dest: Path, log=print) -> Path:
        from ..registry.store import export_merged

        return export_merged(registry, record, dest / f"{record.name}-v{record.version}-merged.zip", log=log)

    def gguf(quant: str):
        def export(registry, record, dest: Path, log=print) -> Path:
            from ..registry.gguf_export import export_gguf

            return export_gguf(registry, record, dest, quant, log=log)
        return export

    return [
        Exporter("peft", peft_zip, "the adapter as a zip in Hugging Face PEFT layout (loads with PeftModel)"),
        Exporter("merged", merged, "base model and adapter merged into one full model folder (safetensors)"),
        Exporter("gguf", gguf("f16"), "merged, as GGUF f16 with an Ollama Modelfile (llama.cpp, Ollama, LM Studio)"),
        Exporter("gguf_q8_0", gguf("q8_0"), "merged, as GGUF quantised to 8 bits (q8_0) with an Ollama Modelfile"),
        Exporter("gguf_q4_0", gguf("q4_0"), "merged, as GGUF quantised to 4 bits (q4_0) with an Ollama Modelfile"),
    ]
