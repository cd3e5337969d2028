"""Turns about the plan rather than edits of it: a question ("why rank 16?", "what learning rate do you
recommend?", "should I use QLoRA?", "为什么用 QLoRA？"), answered from the plan's own reasons; an undo ("undo that",
"撤销"); a reset ("back to your defaults", "reset the learning rate", "学习率恢复默认"); and a turn about what comes
after training ("export to gguf"), answered with where Tailor does it."""

from __future__ import annotations

import re
from typing import Any

from ..adjustable import SETTINGS, get_path
from .relative import Judged, resolved

W = r"(?<![a-z]){}(?![a-z])"
"""English words: whole, even next to Chinese ("为什么rank是16" has no \\b around "rank")."""
ASKABLE = {
    "lora.r": (W.format(r"(?:rank|lora[_ ]r)") + "|秩", "rank", "秩"),
    "lora.alpha": (W.format("alpha"), "alpha", "alpha"),
    "lora.dropout": (r"dropout|丢弃率", "dropout", "dropout"),
    "lora.method": (r"qlora|4[- ]?bit|quantiz|(?<![\w.-])lora(?![a-z_-])(?!\s+(?:rank|alpha|dropout|r\b|adapter|"
                    r"target|modules?|层|秩))|量化|方法", "method", "方法"),
    "base_model": (r"base model|" + W.format("models?") + "|基座|模型", "base model", "基座模型"),
    "base_model.licence": (r"licen[cs]|commercial|许可|商用", "licence", "许可"),
    "adapter.size": (r"\badapter\s+(?:file\s+)?(?:size|be|get|weigh)\b|"
                     r"\bhow\s+(?:big|large|heavy)\b[^?]{0,30}\badapter|\bsize\s+of\s+the\s+(?:adapter|lora)|"
                     r"适配器(?:文件)?[^，。？?]{0,4}(?:多大|大小|多少\s*(?:mb|m|兆))",
                     "adapter size", "适配器大小"),
    "training.learning_rate": (r"learning[ _-]?rate|" + W.format("lr") + "|学习率", "learning rate", "学习率"),
    "training.epochs": (W.format("(?:epochs?|passes|over-?fit\\w*)") + r"|轮数|几轮|多少轮|\d\s*(?:个\s*)?轮|过拟合",
                        "epochs", "轮数"),
    "training.batch_size": (W.format("batch(?:[ _]size)?") + "|批大小|批量", "batch size", "批大小"),
    "training.gradient_accumulation": (r"accumulat|梯度累积|梯度累加", "gradient accumulation", "梯度累积"),
    "training.max_length": (r"(?:max(?:imum)?|sequence|context|cutoff)[ _-]?(?:length|len)|最大长度|序列长度|截断长度",
                            "max length", "最大长度"),
    "training.warmup_ratio": (r"warm[ _-]?up|预热", "warm-up ratio", "预热比例"),
    "training.early_stopping_patience": (r"\bpatience|early[ -]?stop\w*|早停|耐心值", "early-stopping patience",
                                         "早停耐心"),
    "training.scheduler": (r"schedul|cosine|调度|余弦", "schedule", "学习率调度"),
    "training.gradient_checkpointing": (r"checkpointing|检查点", "gradient checkpointing", "梯度检查点"),
    "training.precision": (r"precision|" + W.format("(?:bf16|fp16|fp32)") + "|精度", "precision", "精度"),
    "training.packing": (W.format("pack(?:ing|ed)?") + "|打包", "packing", "打包"),
    "training.compile": (W.format("compil(?:e|ed|ing)") + "|编译", "compile", "编译"),
    "training.seed": (W.format("(?:seed|reproduc\\w*|determinis\\w*|repeatable)") + "|(?:随机)?种子|可复现|复现",
                      "seed", "随机种子"),
    "lora.target_modules": (r"target[_ ]modules|all-linear|(?:attention|mlp|linear)\s+(?:layers|modules|projections)|"
                            r"\b[qkvo]_proj\b|目标模块|注意力层", "target modules", "目标模块"),
    "data.validation_fraction": (r"validation|held[- ]out|hold(?:ing)? out|验证", "held out", "验证集"),
    "data.format": (W.format("(?:columns?|fields?|format)") + "|哪些列|什么列|列名|字段|数据格式", "data", "数据格式"),
    "task.labels": (W.format("(?:labels?|classes|categories)") + "|标签|几类|哪几类", "labels", "标签"),
    "resources.estimated_peak_gb": (W.format("(?:memory|vram|oom|fits?)") + "|显存|内存|放得下|放不下|装得下",
                                    "estimated peak memory", "预计显存峰值"),
    "resources.estimated_minutes": (W.format("(?:how long|time|minutes?|hours?|finish)") + "|多久|时间|耗时",
                                    "estimated time",
                                    "预计时间"),
    "evaluation.metrics": (W.format("(?:metrics?|evaluat\\w*)") + "|指标|评估|评测", "metrics", "指标"),
    "sweep.method": (W.format("(?:sweeps?|hyper-?parameter\\s+(?:search|sweep)|trials?)") + "|超参数?搜索|搜索|扫描|"
                     "调参", "sweep", "搜索"),  # "is a sweep worth it?", "how will you pick the best trial?"
    "data.rows": (W.format("(?:examples|rows|samples)") + r"[^.?!]{0,30}?\benough\b|\benough\s+(?:data|examples|rows)|"
                  "数据量|数据够|样本够|数据.{0,6}够", "data", "数据量"),
}
"""What a question can ask about: each plan field (its reason's key), the words that name it, and its label."""
LICENCES = ("apache-2.0 and mit are open licences; llama3.1, llama3.2 and gemma allow commercial use within their "
            "terms; qwen-research (Qwen2.5-3B) does not. Say “it must be Apache-licensed” or “we'll use it "
            "commercially” and the plan picks a model with such a licence",
            "apache-2.0 和 mit 是开源许可；llama3.1、llama3.2 和 gemma 在各自条款内允许商用；"
            "qwen-research（Qwen2.5-3B）不允许。说“必须是 Apache 许可”或“要能商用”，计划就只选这样许可的模型")
"""What the licences of the catalog allow, for "what licence does it have?" (`answers`)."""
REASON_OF = {"resources.estimated_minutes": "resources.device", "data.rows": "training.epochs", "sweep.method": "sweep"}
"""A field with no reason of its own, answered with the reason that speaks to it (time: the device; whether the
rows are enough: the epochs chosen for them)."""
FIXED = {"lora.target_modules": "every linear layer (attention and MLP) gets an adapter: it learns more than attention "
                                "alone, at little extra memory",
         "training.seed": "a fixed seed: the held-out split, the order of the rows and the adapter's starting weights "
                          "are the same in every run of this plan (on a GPU, some kernels still vary in the last "
                          "digits)",
         "training.warmup_ratio": "the first steps raise the learning rate from zero to its value, so a fresh "
                                  "adapter's first large updates do not knock the model off course",
         "sweep.method": "one run with the plan's settings; a sweep trains one run per value tried and keeps the one "
                         "with the best held-out score (with few rows those scores are noisy, so a small grid tells "
                         "the most): say “try ranks 8 and 16” or “search the learning rate”",
         "training.scheduler": "the learning rate falls along a cosine curve after the warm-up, so the last steps "
                               "make small, careful changes"}
"""The reason for a field the planner always sets the same way (it writes no reason of its own)."""

LEAD = r"^(?:(?:so|and|but|ok|okay|hmm|wait|um|also|roughly|approximately|any\s+idea)[,\s]+)*"
WHY = LEAD + r"(?:why|how come)\b"
"""A question about a reason: "why rank 16?", "how come it uses QLoRA?", "why not rank 8?" (answered with the
reason for what the plan has; "use rank 8" changes it)."""
WHAT_IS = (LEAD + r"(?:what(?:'s|\s+is|\s+are|\s+does)|(?:(?:can|could)\s+you\s+)?(?:explain|tell\s+me\s+about)|"
           r"should\s+(?:i|we)|would\s+it\s+be\s+better|is\s+it\s+(?:better|worth))\b|什么是|是什么|要不要|会不会|该不该|"
           r"应不应该|是否应该|是干什么的|有什么用|起什么作用|有什么区别|有啥区别|什么区别|区别是什么|代表什么|"
           r"代表的?是什么|指的?是什么|啥意思|\bdifference\s+between\b")
"""A question about a setting that names a value without asking for it: "what is QLoRA?", "should I use QLoRA?",
"要不要用 QLoRA？" (answered with the plan's reason, and how to ask for the value)."""
WHY_ZH = r"为什么|为何|为啥|凭什么|怎么(?:会|要)?(?:是|用|选)"
ENDS_ASKING = r"[?？吗呢]\s*$"
"""A sentence that ends as a question ("…？", "…吗")."""
ASKS_ZH = r"^(?:为什么|为何|为啥|凭什么)|" + ENDS_ASKING
"""A Chinese "why" asks at the start or in a question ("秩为什么选 16？"); "回答用户为什么退款失败的问题" describes a
task."""
YES_NO = (LEAD + r"(?:will|does|can|could|is|would)\s+(?:it|this|that|the\s+(?:plan|model|run|training))\b"
          r"(?!\s+possible\s+to\s+(?:use|try|set|switch|have|get|go|make|change|lower|raise|train|do)\b)[^?]*\?\s*$|"
          + LEAD + r"(?:do|does|did|have|am|are)\s+(?:i|we)\b[^?]*\?\s*$|"
          + LEAD + r"(?:can|could)\s+(?:i|we)\s+(?:run|train|fit|do)\s+(?:this|it|that)\s+(?:on|with|in)\b[^?]*\?\s*$|"
          + LEAD + r"(?:can|could|may)\s+(?:i|we)\s+(?:use|sell|ship|deploy)\s+(?:it|this|that|the\s+"
          r"(?:model|adapter))\b[^?]*\?\s*$|"
          + LEAD + r"(?:won'?t|wouldn'?t|isn'?t|doesn'?t|can'?t)\s+(?:it|that|this)\b[^?]*\?\s*$|"
          + LEAD + r"(?:would|will|does|do|can|could)\s+(?!(?:you|we|i)\b)[\w .-]{1,30}?\s+"
          r"(?:save|help|hurt|speed|slow|reduce|improve|change|matter|cost|lower|raise|handle|run|fit|support|do|"
          r"over-?fit|under-?fit|diverge|converge|blow\s+up|work|need|take)\b[^?]*\?\s*$|"
          r"\bhow\s+(?:much|many|long|big|fast|slow)\b[^?]*\?\s*$|"
          r"会[^，。,？?]{0,12}?(?:吗|么)\s*[?？]?\s*$|会怎(?:么)?样|会如何|会有什么(?:影响|变化|问题|区别)|"
          r"(?:要|需要|占|用)(?:多少|多久|多长时间|多大)(?:的)?(?:显存|内存|时间|分钟|gb|g)?\s*[？?]\s*$|"
          r"(?:能|会|可以)(?:省|节省|减少|加快|提高|降低|快)(?:多少|几|下来)|会不会(?:更|太)|"
          + LEAD + r"(?:will|would|is|are|does)\s+[\w .-]{1,30}?\s+(?:be\s+)?(?:enough|too\s+\w+|ok|okay|fine|better|"
          r"worse|work|a\s+good\s+idea|worth\s+it|(?:really\s+)?(?:needed|necessary|required|useful|important))"
          r"(?:\s+(?:for|with|on|here)\b[^?]{0,40})?\s*\?\s*$|"
          r"\bwhat\s+(?:would|will|does|did|could)\s+[\w .-]{1,40}?\s+do\s+(?:to|for)\b[^?]*\?\s*$|"
          r"\bwhat\s+(?:would\s+(?:happen|change|be\s+different|differ)|happens|changes|if)\b[^?]*\?\s*$|"
          r"\bhow\s+would\s+(?:the\s+plan|it|things|that)\s+(?:change|differ|look)\b[^?]*\?\s*$|[,，]\s*right\s*\?\s*$|吧\s*[?？]\s*$|"
          r"\b(?:(?:i'?m\s+|i\s+am\s+|i\s+was\s+)?wondering|i\s+wonder)\s+(?:if|whether)\b(?!\s+(?:we|you|i)\s+(?:could|"
          r"can|might)\s+(?:use|try|set|switch|go|make|get|have|lower|raise|change))|"
          r"\bnot\s+sure\s+(?:if|whether)\b|\bare\s+you\s+sure\b|你确定|我在想|不知道.{0,20}?(?:够不够|行不行|合不合适)|"
          r"\b(?:later|afterwards|next\s+time)\s*\?\s*$|\bshould\s+(?:i|we)\s+have\b[^?]*\?\s*$|"
          r"(?:之后|以后|下次|回头)(?:还)?(?:能|可以)[^，。？?]{0,20}[吗么]\s*[?？]?\s*$|(?:是不是|是否)应该[^，。]{0,20}[?？]\s*$|"
          r"该不该[^，。]{0,20}[?？]?\s*$|"
          r"(?:够|行|合适|放得下|装得下|跑得动|来得及|太(?:高|大|小|低|多|少)了?|\bok|\bokay)\s*(?:吗|么)\s*[?？]?\s*$|"
          r"(?:能|可以)(?:在.{1,20}?上)?(?:跑|训练|运行|用)(?:得动|起来)?(?:吗|么)\s*[?？]?\s*$|够用(?:吗|么)\s*[?？]?\s*$|"
          r"够不够|放不放得下|合不合适|(?:能不能|可不可以)(?:在.{1,20}?上)?(?:跑|训练|运行)(?:得动|起来)?\s*[?？]\s*$|行不行\s*[?？]\s*$|(?:会|能)?(?:更好|好一点|好些|有用|有帮助|有效果?|管用)(?:吗|么)\s*[?？]?\s*$|"
          + LEAD + r"what\s+if\b[^?]*\?\s*$|(?:如果|要是|假如).{1,30}?呢\s*[?？]\s*$|"
          r"如果.{1,30}?(?:会怎(?:么)?样|会如何|会有什么(?:变化|影响)|"
          r"(?:会)?有(?:什么|啥)(?:不同|区别|变化)|会怎么变)|"
          r"(?:^|[,，.]\s*)(?:is|are|would|will)\s+[\w .-]{1,30}?\s+(?:be\s+)?(?:better|worse|faster|slower|cheaper|"
          r"safer|riskier|quicker|smarter|wiser|more\s+(?:stable|accurate|robust)|right|correct|enough)"
          r"(?:\s+(?:here|for\s+(?:this|me|us|my\s+data)))?\s*\?\s*$|(?:^|[,，.]\s*)(?:is|are)\s+(?:that|this|it)\s+(?:right|correct|true|ok|okay|"
          r"fine|a\s+good\s+idea|(?:a\s+)?problem|an?\s+issue)\b[^?]*\?\s*$|"
          r"[,，]\s*(?:isn'?t|won'?t|doesn'?t|wouldn'?t|aren'?t|can'?t)\s+(?:it|that|this|they)\s*\?\s*$|比.{1,20}?(?:好|更好|快|更快|慢|准|更准|强)(?:吗|么|不)|"
          r"[,，]\s*(?:对吗|对不对|是吗|是不是|对吧)\s*[?？]?\s*$|\b(?:might|would|could|will)\s+(?:it\s+)?(?:help|hurt|matter|"
          r"work)\s*\?\s*$")
"""A yes/no question about the plan, whatever values it names: "will this fit in 8 GB?", "can it finish in 10
minutes?", "秩 8 够吗？", "8G 显存放得下吗？" (answered; "I have an 8 GB GPU" or "finish in 10 minutes" changes the
plan)."""
FITS_AFTER = (r"[,;.]\s*(?:so\s+|but\s+)?(?:will|would|does|can|could)\s+(?:it|this|that|i|we)\s+(?:still\s+)?"
              r"(?:fit|run|work|train|handle|cope)\b[^?]*\?\s*$")
"""A question after a clause about the machine ("I have an 8 GB GPU, will it fit?", "if I use a T4, will it fit?"),
when the message names nothing else ("use rank 8, will it fit?" sets the rank)."""
WHAT = (YES_NO + "|" + LEAD + r"(?:what|which|how\s+(?:many|much|big|large|long))\b|"
        r"\bhow\s+(?:will|would|do|does)\s+(?:you|it|tailor)\s+(?:pick|choose|select|decide|compare)\b|"
        r"\bhow\s+(?:will|would|is|are)\s+(?:it|the\s+(?:model|adapter|run|plan))\s+(?:be\s+)?"
        r"(?:evaluat|measur|scor|test|judg)\w*|"
        r"\b(?:do|would)\s+you\s+(?:recommend|suggest|pick|choose|use)\b|"
        r"(?:用|选|设|是)?(?:多少|什么|哪个|哪种|哪一个|哪些|哪几|几|多大)[\w ]{0,8}?\s*[?？]\s*$|"
        r"(?:推荐|建议)(?:用)?(?:多少|什么|哪)|"
        r"多久|多长时间|(?:吗|么)\s*[?？]?\s*$|\b(?:is|are)\s+(?:that|this|it|these|they)\s+enough\b|够不够|"
        r"\b(?:not\s+(?:really\s+)?sure|unsure|no\s+idea|(?:don'?t|do\s+not)\s+(?:really\s+)?know|can'?t\s+decide|"
        r"(?:have\s+)?no\s+clue)\s+(?:about\s+)?(?:what|which|how\s+(?:many|much|big|high|low|long)|the)\b"
        r"(?!.*\b(?:you\s+(?:pick|decide|choose|set)|up\s+to\s+you|your\s+call))|"
        r"(?:不知道|不确定|拿不准|不清楚|没想好)[^，。,.]{0,12}?(?:该|要|应该)?(?:用|选|设|定|给)?(?:多少|什么|哪个|哪种|几|"
        r"多大)(?!.*你(?:来)?(?:定|选|决定|看着办))")
"""A question about a value: "what learning rate do you recommend?", "how many epochs?", "学习率用多少合适？",
"will it fit on my GPU?", "not sure what rank to use", "不知道秩该设多少"."""
SHOW = (LEAD + r"(?:please\s+)?(?:show|give|tell|walk)\s+me\s+(?:through\s+)?(?:the\s+|your\s+)?(?:plan|settings|"
        r"config(?:uration)?|choices)|\bexplain\s+(?:your|the|these|all\s+the|the\s+plan'?s?)\s+(?:choices|settings|"
        r"plan|decisions|reasoning)|(?:给我)?(?:看看|看一下|展示|显示)(?:一下)?(?:计划|配置|设置)|(?:把)?(?:计划|配置|设置)给我看|"
        r"解释一下(?:这些|你的)?(?:设置|选择|计划|配置)")
"""The plan asked for as a whole: "show me the plan", "explain your choices", "把计划给我看看"."""
KEEP_SAID = (r"\b(?:don'?t|do\s+not|never)\s+(?:change|touch)\b|\bleave\s+(?:the\s+)?[\w -]{1,20}?\s+alone\b|"
             r"\bkeep\s+(?:the\s+)?[\w -]{1,20}?\s+(?:as\s+(?:it\s+)?is|unchanged|the\s+same)\b|"
             r"别动|不要动|不要改|不用改|保持不变")
"""A setting to be left as it is ("don't change the learning rate", "学习率别动"): answered with its value."""

OPINION = (r"\d[\d.e-]*\s*(?:is|seems|sounds|looks|would\s+be|'s)?\s*(?:probably\s+|way\s+|far\s+)?(?:overkill|"
           r"too\s+(?:big|high|much|large|many|low|small|few)|excessive|unnecessary|not\s+needed)"
           r"(?:\s+for\s+[\w\s]{1,30})?\s*[.!]?$|\d[\d.e-]*\s*(?:的话)?\s*(?:太大|太高|太多|过大|过高|太小|太低|太少|没必要)了?\s*[。！!]?$")
"""A value judged, not asked for ("I read that rank 64 is overkill for small data", "听说小数据用秩 64 太大了"):
answered with the plan's value and reason, nothing set."""
EITHER = (r"\d[\w.-]*\s+or\s+[^?]{0,20}?\d[\w.-]*(?:\s+\w+)?\s*\?\s*$|"
          r"\d[^?？]{0,10}还是[^?？]{0,20}\d[^?？]{0,6}[?？]\s*$")
"""Two values offered as a question ("rank 8 or rank 32?", "秩 8 还是 32？"): answered with the plan's value and
reason, neither set."""
WHICH = (r"\bwhich\s+(?:one\s+)?(?:is|would\s+be|works)\s+(?:better|best|faster)\b|"
         r"\bwhich\s+(?:one\s+)?(?:would|should|do|will)\s+(?:you|i|we)\s+(?:pick|choose|use|go\s+with|recommend)\b|"
         r"\bhelp\s+(?:me|us)\s+(?:choose|decide|pick)\b|\b(?:can'?t|cannot)\s+decide\b|"
         r"\b(?:torn|deciding|choosing)\s+between\b|"
         r"哪个(?:更)?(?:好|快|合适|强)|(?:选|用)哪(?:个|一个|种)|帮(?:我|忙)(?:选|挑|决定)|纠结")
"""Two values weighed ("cosine vs linear, which is better here?", "余弦和线性调度哪个好？"): a question, unless the
message lists values to try ("比较一下秩 8 和 16 哪个好" asks for that sweep)."""
REPORTED = (r"\b(?:blog(?:\s+post)?|article|paper|tutorial|video|colleague|friend|someone|people|everyone|docs?|"
            r"documentation|reddit|twitter)\s+(?:online\s+)?(?:said|says|say|suggests?|suggested|recommends?|recommended|"
            r"claims?|(?:(?:usually|often|always)\s+)?(?:use[sd]?))\b|\bi\s+(?:read|heard|saw)\b|网上说|听说|有人说|别人说|据说|"
            r"大家都(?:用|说)|一般大家|论文(?:里)?说|教程(?:里)?说|文档(?:里)?(?:说|推荐)|官方(?:文档)?推荐")
"""A value reported from elsewhere ("a blog post said lr 5e-4 works best", "网上说学习率用 5e-4 最好"): answered
with the plan's value and reason and how to ask for the one reported, nothing set; unless it is adopted (`ADOPT`)."""
ADOPT = (r"\blet'?s\s+(?:use|do|try|go\s+with|copy|adopt|follow|replicate|reuse|match)\s+(?:it|that|this|those|"
         r"theirs|them)\b|"
         r"\b(?:use|go\s+with)\s+(?:it|that)\s*(?:then|please)?\s*[.!]?$|那就用(?:它|这个|那个)|就用(?:它|这个|那个)|就这么设|"
         r"[,;.!，；。！]\s*(?:so\s+|then\s+|but\s+)?(?:please\s+)?(?:use|set|make|switch\s+to|go\s+with|train)\b|"
         r"[，；。！,;]\s*(?:那就|所以|但)?[^，；。！,;?？]{0,8}?(?:用|改成|设成|设为|换成|改为)(?![^，；。！]*(?:最好|更好|比较好))")
"""A reported value taken up in the same message ("I heard 1e-4 is safer; let's use it", "听说 1e-4 更稳，那就用它"),
or a request beside it ("I read cosine is better; use rank 8")."""
VALUE_FIRST = r"^(?:(?:rank |秩 )?[\d.e×x -]+(?:rank|秩)?|on|off|开启|关闭|bf16|fp16|fp32)[:：]\s*"
"""A reason that starts with the value it explains ("rank 16: …", "2e-4: …", "on: …")."""


CHOSEN = {"training.precision": ("the precision", "精度"), "training.packing": ("packing", "是否打包"),
          "training.compile": ("compiling", "是否编译"),
          "lora.target_modules": ("the layers LoRA adapts", "LoRA 的目标层")}
"""Fields Tailor sets for the hardware and the data and no turn sets ("use bf16", "pack the sequences", "不要编译"):
asked for, each is answered with its value and reason, after a note that Tailor chooses it (`chosen`)."""


def chosen(low: str, values: dict[str, Any], zh: bool) -> tuple[list[str], list[str]]:
    """For a turn that sets nothing and names fields Tailor chooses itself: those fields, and the note saying so."""
    if values.keys() - {"language"} or not (fields := [f for f in named(low) if f in CHOSEN]):
        return [], []
    labels = ("、" if zh else " and ").join(CHOSEN[f][zh] for f in fields)
    return fields, [f"{labels}由 Tailor 选择（不能在对话里设置），计划没有改变：" if zh else
                    f"Tailor chooses {labels} itself (it is not set in words), so the plan is unchanged:"]


def named(low: str) -> list[str]:
    """The plan fields a message names (`ASKABLE`), in its order."""
    return [path for path, (words, _, _) in ASKABLE.items() if re.search(words, low)]


def numeric_settings(fields: list[str]) -> list[str]:
    """The settings with a number in the plan whose fields these are: what "pick 4" or "ok, 32 then" can be for."""
    return [n for n, s in SETTINGS.items() if s.in_plan and s.kind is not str and s.field in fields]


GPU_KEYS = {"gpu_name", "gpu_memory_gb"}
ASKS_ABOUT = (r"^(?:how\s+many|which|what)\b.*[?？]\s*$|[,，]\s*which\b[^?？]*[?？]\s*$|"
              r"(?:哪些|哪几|多少)[^?？]{0,6}[?？]\s*$")
"""A question whose words also describe a task ("which labels will it predict?", "rank 4 or 8, which is better for
summaries?"): a question, not a task."""


ASKED_AFTER = (r"(?:[,，;；。!！]|(?<!\d)\.(?=\s)|\s[—–-]+\s)\s*(?=[^,，;；。!！]*[?？]\s*$)|"
               r"\s+and\s+(?=(?:also\s+)?(?:tell|explain|show)\s+me\b|explain\b)|[,，;；]?\s*(?=顺便(?:说|问|解释))")
"""Where a request ends and a question after it begins: the last clause before a question mark ("use rank 8, will it
still fit?", "改成 2 轮，大概要多久？"), "… and tell me why …", "…，顺便说下为什么…"."""
TAG = (r"^(?:right|correct|true|ok(?:ay)?|isn'?t\s+it|no|yes|agreed|对吧|对吗|是吗|是不是|对不对|好吗|行吗|可以吗|"
       r"好不好|行不行)\s*[?？]?\s*$")
"""A question that only seeks agreement with what it follows ("rank 64 is too big, right?"): the whole is one."""


def split_question(text: str) -> tuple[str, str] | None:
    """A message that asks for a change and then a question, as its two parts ("use rank 8, will it still fit?" →
    "use rank 8", "will it still fit?"; "…, and tell me why you picked cosine" → "why you picked cosine?"), or
    None."""
    cuts = list(re.finditer(ASKED_AFTER, text, re.I))
    if not cuts:
        return None
    request, asked = text[:cuts[-1].start()].strip(), text[cuts[-1].end():].strip()
    if not request or re.search(TAG, asked, re.I) or not re.search(r"[?？]\s*$|^(?:also\s+)?(?:tell|explain|show)\b|"
                                                                   r"^顺便", asked, re.I):
        return None
    low = text.lower()  # not values weighed, reported, judged or supposed: "LoRA or QLoRA, which would you pick?",
    # "my colleague uses rank 8, is that right here?", "if I lower the rank to 4, will it train faster?"
    if (re.search(f"{WHICH}|{EITHER}|{REPORTED}", low) or re.search(OPINION, request.lower())
            or re.match(r"(?:what\s+if|if|suppose|assuming|say)\b|如果|假如|要是|假设", request.lower())):
        return None
    said = re.sub(r"^(?:also\s+)?(?:(?:tell|show)\s+me|explain)\s+|^顺便(?:说|问|解释)(?:一)?下?", "", asked,
                  flags=re.I)
    return request, said if re.search(r"[?？]\s*$", said) else said + "?"  # "tell me why you picked cosine": "why
    # you picked cosine?"


EXPLAIN = r"(?:(?:can|could|would)\s+you\s+)?(?:explain|tell)"
"""A request for an explanation with no question mark ("can you explain the batch size choice")."""


def question(low: str, values: dict[str, Any], tried: bool = False) -> list[str]:
    """The fields a question asks about: a "why" question or one about a value it names (whatever values it names:
    "why rank 16?", "why not rank 8?", "should I use QLoRA?" are not edits), or a "what" question that names no
    value (`tried`: the message lists values to try). [] when the message is not such a question."""
    said = values.keys() - {"language"}
    if "task_type" in said:  # "回答用户为什么退款失败的问题" describes a task; "how many labels are there?" asks
        if not re.search(ASKS_ABOUT, low):
            return []
        said -= {"task_type"}
    if not said and re.search(SHOW, low):  # "show me the plan", "explain your choices"
        return ["?"]
    if not said and re.search(KEEP_SAID, low) and named(low):  # "don't change the learning rate": its value
        return named(low)
    judged = any(isinstance(v, Judged) for v in values.values())  # "rank 64 is too big": a change asked for
    why = (re.search(WHY, low) or re.search(YES_NO, low) or said <= GPU_KEYS and re.search(FITS_AFTER, low)
           or re.search(OPINION, low) and not judged
           or re.search(REPORTED, low) and not re.search(ADOPT, low)
           or re.search(WHICH, low) and not tried or re.search(EITHER, low)
           or re.search(WHY_ZH, low) and re.search(ASKS_ZH, low)
           or re.search(WHAT_IS, low) and (re.search(ENDS_ASKING, low) or re.match(EXPLAIN, low)))
    if why or (re.search(WHAT, low) and not said and not tried):  # "which is better, lr 1e-4 or 2e-4? test both"
        return named(low) or (["?"] if re.search(r"[?？]\s*$", low) else [])  # "what's the plan?"
    return []


def _memory(plan, zh: bool) -> str:
    """The memory estimate against the GPU's: "19.3 GB of 24 GB, fits"."""
    res = plan.resources
    if res.device != "cuda":
        return f"{res.estimated_peak_gb:.1f} GB"
    fits = ("放得下" if zh else "fits") if res.fits else ("放不下" if zh else "does NOT fit")
    return (f"{res.estimated_peak_gb:.1f} GB（共 {res.gpu_memory_gb:g} GB，{fits}）" if zh else
            f"{res.estimated_peak_gb:.1f} GB of {res.gpu_memory_gb:g} GB ({fits})")


def _for_language(plan, code: str, zh: bool) -> str:
    """The base model the plan would take for text in another language, and how to say the data is in it."""
    from ..models.catalog import LANGUAGE_NAMES, choose
    from .reasons_zh import LANGUAGES_ZH

    gpu = plan.resources.gpu_memory_gb if plan.resources.device != "cpu" else 0
    model, _ = choose(plan.task.type, code, gpu)
    name = LANGUAGE_NAMES.get(code, code)
    said = LANGUAGES_ZH.get(name, name)
    return (f"如果数据是{said}的，计划会用 {model.name}；要这样做，请说“数据是{said}的”" if zh else
            f"for {name} text the plan would take {model.name}; to plan for it, say “the texts are in {name}”")


def _shown(plan, path: str, value: Any, zh: bool) -> str:
    """A field's value as the answer shows it: on/off, the memory against the GPU's, minutes, a list, a number."""
    if isinstance(value, bool):
        return ("开启" if value else "关闭") if zh else ("on" if value else "off")
    if path == "resources.estimated_peak_gb":
        return _memory(plan, zh)
    if path == "sweep.method" and value == "none":
        return "关闭" if zh else "off"
    if path == "resources.estimated_minutes":
        return f"约 {value:.1f} 分钟" if zh else f"about {value:.1f} min"
    if isinstance(value, list):
        return ", ".join(value)
    if path == "data.rows":
        return f"{value} 行" if zh else f"{value} rows"
    return f"{value:g}" if isinstance(value, float) else str(value)


METHOD_SHOWN = {"lora": "LoRA", "qlora": "QLoRA"}


def a_or_an(number: float) -> str:
    """The article before a number said aloud: "an 8 GB GPU", "an 11 GB card", "a 16 GB GPU"."""
    return "an" if re.match(r"8|1[18](?![\d.])", f"{number:g}") else "a"


def _there(plan, there, zh: bool) -> str:
    """The plan for a GPU a question names ("can I run this on a T4?"): its model, method and memory, and how to
    plan for it."""
    from ..models.estimate import Hardware

    res, gb = there.resources, there.resources.gpu_memory_gb
    now = f"{plan.resources.estimated_peak_gb:.1f} GB"
    same = plan.resources.estimated_peak_gb <= Hardware(res.gpu_name, gb).budget_gb  # this plan, as it is, fits
    model = f"{there.base_model.name} + {METHOD_SHOWN[there.lora.method]}，{_memory(there, zh)}"
    if res.device == "cpu":  # "can I run this on a CPU?"
        return (f"在 CPU 上（没有 GPU），按它规划会用 {model}；要按它规划，请说“我没有 GPU”" if zh else
                f"on the CPU (no GPU), planned for it: {model.replace('，', ', ')}; to plan for it, say “I have no "
                "GPU”")
    if zh:
        card = f" {res.gpu_name} " if res.gpu_name not in ("", "GPU") else "显卡"
        verdict = "放得下；按它规划：" if same else "放不下，按它规划会用 "
        return f"在 {gb:g} GB 的{card}上，这个计划（{now}）{verdict}{model}；要按它规划，请说“我的显卡是 {gb:g} GB”"
    return (f"on {a_or_an(gb)} {gb:g} GB {res.gpu_name or 'GPU'} this plan ({now}) " +
            ("would fit; " if same else "would not fit as it is; ") + "planned for it: " + model.replace("，", ", ") +
            f"; to plan for it, say “I have {a_or_an(gb)} {gb:g} GB GPU”")


COSTS = {"resources.estimated_peak_gb", "resources.estimated_minutes"}  # "how much memory will rank 64 need?"


def answers(plan, asked: list[str], zh: bool, named: dict[str, Any] | None = None, there=None) -> list[str]:
    """Each asked field's value and the plan's reason for it, in the user's language; for a value the question
    named that the plan does not have ("why not rank 8?"), how to ask for it; `there`: the plan for a GPU it
    named ("can I run this on a T4?")."""
    from .reasons_zh import to_zh

    if asked == ["?"]:
        return ["计划如下，每项选择的理由在“理由”一栏；可以问其中任何一项，例如“为什么秩是 16？”" if zh else
                "the plan is below, each choice with its reason under *why*; ask about any part of it, e.g. “why rank "
                "16?”"]
    out = []
    for path in asked:
        _, en, zh_label = ASKABLE[path]
        if path == "adapter.size":  # "how big will the adapter file be?": its factors, saved in fp32
            from ..models.estimate import lora_param_count
            from .base_model import model_shape

            params = lora_param_count(model_shape(plan), plan.lora.r)
            mb, m = params * 4 / 1e6, params / 1e6
            out.append(f"适配器大小 约 {mb:.0f} MB：秩 {plan.lora.r} 的 LoRA 因子共 {m:.1f}M 个参数，"
                       f"以 32 位保存；秩减半，文件也减半" if zh else f"adapter size about {mb:.0f} MB: "
                       f"{params / 1e6:.1f}M LoRA parameters at rank {plan.lora.r}, saved in 32 bits; half the rank, "
                       "half the file")
            continue
        if path == "base_model.licence":  # "what licence does it have?": the catalog's, or not known
            from ..models.catalog import find

            entry = find(plan.base_model.source)
            value = entry.license if entry else "未知（请到它的模型页面核实）" if zh else "not known (see its page)"
            out.append(f"{zh_label if zh else en} {value}：{LICENCES[1]}" if zh else f"{en} {value}: {LICENCES[0]}")
            continue
        value = get_path(plan, "base_model.name" if path == "base_model" else path)
        reason = plan.reasons.get(path) or plan.reasons.get(REASON_OF.get(path, ""), "") or FIXED.get(path, "")
        if path == "task.labels":  # where they come from
            col = plan.data.output_column
            reason = ((f"输出列 {col} 里的取值" if col else "数据答案里的取值" if value else "分类需要带标签的数据")
                      if zh else f"the values of the output column {col}" if col else
                      "found in the data's answers" if value else "classification needs data with labels")
        shown = _shown(plan, path, value, zh)
        reason = to_zh(reason) if zh and path != "task.labels" else reason
        reason = re.sub(VALUE_FIRST, "", reason)  # "rank 16: the usual …": its value is in the title
        out.append(f"{zh_label if zh else en} {shown}" + (f"：{reason}" if zh else f": {reason}") * bool(reason))
    for name, value in (named or {}).items():
        if name == "language":  # "which model would be best for Chinese text?": the catalog's pick for it
            out += [_for_language(plan, value, zh)] if value != plan.task.language else []
            continue
        if name == "gpu_memory_gb" and there is not None:  # "can I run this on a T4?"
            out.append(_there(plan, there, zh))
        if name in ("gpu_memory_gb", "gpu_name"):
            continue
        setting = SETTINGS.get(name)
        if setting and hasattr(value, "of"):  # "should I halve the lr?": the value that would be
            if setting.kind is str:  # a model step ("would a bigger model help?"): no number to resolve
                continue
            value = resolved(value, plan, setting)
        if setting and setting.in_plan and get_path(plan, setting.field) != value:
            said = setting.said(value, "zh" if zh else "en")
            minutes = there.resources.estimated_minutes if there is not None and "gpu_memory_gb" not in named else 0
            cost = "" if not minutes else (f"“{said}”需要 {_memory(there, zh)}，约 {minutes:.2g} 分钟；" if zh else
                                           f"“{said}” would need {_memory(there, zh)}, about {minutes:.2g} min; ")
            out.append(cost + (f"要改成这样，请说“{said}”" if zh else f"to have it, say “{said}”"))
    return out
