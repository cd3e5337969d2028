"""How people ask for a sweep, in English and Chinese: "try ranks 8, 16 and 32", "search the learning rate",
"找一下最好的学习率", "try a few settings and keep the best", "only 3 trials", "stop trials that fall behind".

`read_sweep` turns a lower-cased message (numbers already in digits) into what it said about a sweep:
{"values": {field: [v, ...]}, "search": [field, ...], "trials": n, "halving": True, "metric": name, "off": True}
(only the keys it said). The planner turns the conversation's sum of these into the plan's `sweep`.
"""

from __future__ import annotations

import re

from ..adjustable import TO

NUMBER = r"\d+(?:\.\d+)?(?:e-?\d+)?"
SEP = (r"(?:\s*[,，、/]\s*(?:(?:and|or)\s+|和\s*|或\s*)?|\s+(?:and|or|vs\.?|versus)\s+|"
       r"\s*(?:和|或者?|与|跟|以及|还有)\s*)")
"""Between two numbers of a list. Each stretch of spaces has one place to go: with two (`\s*` before and after an
optional word) a failed match tried every split, 2^n ways for a list of n (twenty items took a second)."""
LIST = rf"({NUMBER}(?:{SEP}{NUMBER})+)"
UNITS = (r"(?!\d|\.\d|e-?\d|\s*(?:个\s*)?(?:epochs?|轮|遍|steps?|步|rows|条|minutes?|分钟|%|gb|g\b|trials|runs|组|"
         r"dropout|alpha|warm[ _-]?up|seed|tokens?))")
"""A list ends on a whole number ("rank 8 and 16 epochs" is not ranks 8 and 1) that is not another setting's:
followed by its unit or name ("rank 8 and 2 epochs", "lr 1e-4 and 0.1 dropout" are not lists)."""
KEYS = {
    "lora.r": r"(?:lora\s*)?ranks?|\br\b|秩",
    "training.learning_rate": r"learning[ _-]?rates?|\blrs?\b|学习率",
    "training.epochs": r"epochs?|轮数|训练轮数",
    "training.batch_size": r"batch[ _-]?sizes?|\bbatch(?:es)?\b|批大小",
    "lora.dropout": r"dropouts?",
    "lora.alpha": r"(?:lora[ _-]?)?alphas?\b",
    "training.warmup_ratio": r"warm[ _-]?ups?(?:[ _]ratios?)?|预热(?:比例)?",
    "training.max_length": r"max(?:imum)?[ _-]?(?:lengths?|lens?)|最大长度|序列长度",
}
BOUND = "|".join(KEYS.values()) + (r"|batch(?:es)?|alpha|seed|patience|warm[ _-]?up(?:[ _]ratio)?|max[ _-]?(?:length|"
                                   r"len|steps)|length|steps|accum\w*(?:[ _]steps)?|\bbs|预热(?:比例)?|种子|最大长度|"
                                   r"长度|步数|梯度累[积加计]|批量大小|截断长度|序列最长|"
                                   r"cutoff[ _]len|早停|验证集|测试集|rows?|examples?|数据|"
                                   r"(?:val(?:idation)?|eval(?:uation)?|test|dev)[ _]"
                                   r"(?:size|split|ratio|fraction|share)")
"""Names of settings whose number may stand before another setting's list."""
NAMED_TO = r"(?:-|\s*(?:under|below|within|限制在|控制在|不超过|不要超过|最多|小于))?" + TO
"""How a setting is joined to its value ("should be", "限制在"): a number after one is that setting's."""
AFTER_KEY = (r"\s*(?:(?:of|=|:|values?|in|at|over|across|among|through)\s*)?"
             r"(?:(?:我们)?(?:也|再|还)?(?:分别\s*)?(?:试试|试一下|试|取|为|是|用|比较|在)?\s*)?")
VERSUS = r"\s*(?:\bvs\.?|\bversus|\bagainst|对比|对)\s*"
"""Between two values compared, each with its setting's name ("rank 8 vs rank 32", "r=8 versus r=32")."""
CHOICE = r"(?:\s*[,，、]\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+|\s*(?:和|或者?|与|跟)\s*)"
"""Between two values, each with its name, which a message that compares or tries them lists ("compare rank 8 and
rank 32", "试试秩 8 和秩 32")."""
COMPARES = r"\b(?:compare|try|test|run|find\s+out)\b|比较|对比|试试|试一下|都试|跑一下"
REPEATED = r"(?:{key}){after}{number}(?:(?:{sep})(?:{key}){after}{number})+"
"""A list whose values each carry the setting's name: `VERSUS`, or `CHOICE` in a message that `COMPARES`."""
EPOCH_UNIT = r"(?:\s*个)?\s*(?:epochs?|轮|遍)"
RANGED = ("training.learning_rate",)
"""Fields a search draws from a range, which a message may give ("between 1e-5 and 1e-3")."""
EPOCHS = r"(?<![\d.])(?<!e-)(?<!\de)\d+(?:\.\d+)?(?!\d|\.\d|e-?\d)"
"""A number of epochs in a list said before its unit: never a learning rate's 1e-5 ("use 1e-5 and 3 epochs")."""
LIST_THEN_KEY = {
    "training.epochs": rf"({EPOCHS}(?:{EPOCH_UNIT})?(?:{SEP}{EPOCHS}(?:{EPOCH_UNIT})?)+){EPOCH_UNIT}"}
"""Lists said before their unit: "2, 3 or 5 epochs", "2轮或3轮"."""
SEARCH_VERB = (r"(?:search|(?<!fine[ -])tune|sweep|find|optimi[sz]e|explore|pick|choose|"
               r"(?:try|compare|test) (?:a few|several|different|some|other|multiple|a couple of)|"
               r"experiment(?:\s+with)?(?:\s+(?:a few|several|different|some|multiple|a couple of))?|"
               r"(?:trials|runs|experiments)\s+"
               r"(?:(?:with|of)\s+(?:different|several|various)|(?:over|across)(?:\s+(?:different|several|various))?))\s+(?:for\s+|over\s+|out\s+)?(?:the\s+|a\s+)?"
               r"(?:best\s+|right\s+|good\s+|optimal\s+|ideal\s+)?(?:number of\s+)?")
ZH_SEARCH = r"(?:找|搜索|搜|调|试|寻找|挑|选)(?:一下|一找|一调|几个|找|出)?(?:最好|最佳|最优|合适)?(?:的)?"
GENERAL = (r"(?:try|test|explore|compare)\s+(?:a few|several|some|different|multiple|a couple of)\s+"
           r"(?:settings|configs?|configurations|hyper-?parameters|options|combinations|variants)|"
           r"hyper-?parameter\s+(?:search|sweep|tuning)|"
           r"\b(?:tune|search|optimi[sz]e|sweep)\s+(?:the\s+|my\s+|all\s+(?:the\s+)?)?(?:hyper-?parameters|settings)\b|"
           rf"try\s+{NUMBER}\s+(?:settings|configs?|configurations|combinations|variants|options)|"
           r"\bsweep\b|grid search|random search|(?:keep|pick|choose) the best(?:\s+(?:one|run|setting|of them))?\s*$|"
           r"(?:keep|pick|choose|use) whichever(?:\s+one)?\s+(?:does|is|works|scores|performs)\s+best|"
           r"超参数?(?:搜索|调优|扫描|优化)|调(?:一下|一调)?超参|试(?:几|多|一些)(?:组|套|种)(?:参数|设置|配置|超参)|"
           r"(?:保留|留下|选出?|挑出?)最好的(?:一组|那组|一次|那次|设置|配置)")
OFF = (r"\bno sweep|don'?t sweep|do not sweep|without (?:a )?sweep|(?:just|only) one run|a single run|"
       r"(?:just|only) train (?:it )?once|train (?:it )?(?:just |only )?once|one run only|"
       r"(?:跑|训练)一次就(?:行|好|够了?)|"
       r"cancel the sweep|no (?:more )?search|不要?(?:搜索|扫描|sweep|调参)|只(?:训练|跑)一次|不用试了|不做搜索|"
       r"(?:never ?mind|forget(?: about)?|drop|skip|scrap|ditch|cancel|abort|remove) (?:the |that |this )?"
       r"(?:sweep|search|trials)|\bstop (?:the|that|this) (?:sweep|search)\b|"  # not "stop trials that fall behind"
       r"no need (?:to sweep|for (?:a |the )?(?:sweep|search))|不(?:搜索|搜|试)了|不用(?:搜索|搜)了?|"
       r"(?:取消|停止|去掉|算了)(?:这个|那个)?(?:搜索|扫描|sweep|调参)")
TRIALS = (rf"({NUMBER})\s*(?:(?:random|different|separate|independent|quick|short|small)\s+)?"
          r"(?:trials|runs|configurations|combinations|settings|tries)\b|"
          rf"(?:试|跑)\s*({NUMBER})\s*(?:组|次|个)|({NUMBER})\s*(?:组|次试验|个试验|次尝试)")
HALVING = (r"halving|\bprun(?:e|ing)|stop (?:the )?(?:trials|runs) that (?:fall|are|lag) behind|"
           r"\b(?:stop|kill|drop|cut|prune|end)\s+(?:the\s+)?(?:losers|laggards|losing\s+ones|weak(?:er)?\s+ones|bad\s+ones|"
           r"worse\s+ones|stragglers)\b|"
           r"drop (?:the )?(?:bad|losing|weak|worst) (?:trials|runs)|淘汰|剪枝|提前停掉(?:明显)?(?:差|落后)的|"
           r"\b(?:kill|stop|drop|cut|abort|end)\s+(?:the\s+)?(?:runs|trials)\s+(?:that\s+(?:are|look|do|go)\s+)?"
           r"(?:clearly\s+|obviously\s+|much\s+)?(?:worse|badly|behind|losing)\b|"
           r"(?:明显)?(?:差|落后|不好)的\s*(?:就)?(?:提前)?(?:停掉|停|砍掉)")
METRIC = (r"\b(?:pick|choose|chosen|select|judg|rank|keep|compar|scor|measur)\w*.{0,30}?\b(?:by|on|using|with)\s+"
          r"(?:the\s+)?"
          r"(accuracy|f1|macro[- ]f1|eval(?:uation)?[ _]loss|validation loss|held-?out loss|loss|rouge-?l|bleu|chrf|"
          r"exact[ _]match|token[ _]f1)|按(?:照)?\s*(准确率|f1|验证(?:集)?损失|损失)")
METRIC_NAMES = {"accuracy": "accuracy", "准确率": "accuracy", "f1": "f1", "macro-f1": "f1", "macro f1": "f1",
                "rouge-l": "rougeL", "rougel": "rougeL", "bleu": "bleu", "chrf": "chrf", "exact match": "exact_match",
                "exact_match": "exact_match", "token f1": "token_f1", "token_f1": "token_f1"}


PAST = (r"\blast\s+time\b|\bprevious(?:ly)?\b|\bearlier\s+(?:run|sweep|attempt)|\b(?:took|needed|ran|used|had)\b|"
        r"上次|之前|以前|用了|跑了")
"""A trial count told as what happened ("the sweep took 8 trials last time", "上次跑了 8 组"), not asked for."""
JOINED = r"\s*(?:,\s*(?:and\s+)?|\band\b|&|和|与|、|及)\s*(?:the\s+|its\s+)?"
"""Between fields searched together: "search the rank and the learning rate", "秩和学习率搜索"."""


TRY = r"\b(?:try|compare|test)\b|试试|试一下|比较|对比|都试"
"""Words that make a range of a setting's values ones to try ("try rank 8-16", "秩 8 到 32 都试试")."""
EACH = (r"\bfind\s+out\b|\b(?:try|test|run|compare)\s+(?:them\s+all|all\s+(?:of\s+)?(?:them|those|three|four)|"
        r"each(?:\s+of\s+them)?|every\s+one|them)\b|都(?:跑|试)(?:一下|一遍|试)?")
"""Values listed apart from the setting they are for, to be tried ("which batch size is best, 4 or 8 or 16? find
out", "批大小 4、8、16 哪个最好？都跑一下")."""
SPAN = (r"(?:{key})\s*(?:(?:of|in|between|在{more})\s*)?({n})(?:{own})?\s*(?:and|to|-|–|~|到|至)\s*"
        r"({n})(?:{own})?{units}(?:\s*之间)?")
"""A range of a setting's values ("rank 8-32", "rank between 8 and 32", "秩在 8 到 32 之间"); never "from 8 to 16",
a change unless a search asks for it ("sweep rank from 8 to 32"); nor "rank 8 and 2 epochs" (`UNITS`), but "轮数 2 到 4
轮" (the field's own unit, `OWN_UNITS`)."""
OWN_UNITS = {"training.epochs": EPOCH_UNIT}


def searches(low: str) -> bool:
    """Whether a message asks for a search ("pick the best"; "pick 4" picks a value)."""
    return bool(re.search(rf"{SEARCH_VERB}|{ZH_SEARCH}", re.sub(r"\b(?:pick|choose)\s+(?=\d)", "", low)))


def tries(low: str) -> bool:
    """Whether a message asks for a search or to try what it names: its ranges are values to try, not bounds."""
    return searches(low) or bool(re.search(TRY, low))


def span(field: str, low: float, high: float) -> list[float]:
    """The values a sweep tries for a range of a field that takes the usual values ("try rank 8-32" → 8, 16, 32):
    both ends, and between them the powers of two (rank, batch size), each whole number (a few epochs) or the usual
    values (`SEARCH_VALUES`)."""
    from .sweep_plan import SEARCH_VALUES

    if field in ("lora.r", "training.batch_size"):
        inside = [2.0 ** k for k in range(11) if low < 2 ** k < high]
    elif field == "training.epochs" and high - low <= 4:
        inside = [float(n) for n in range(int(low) + 1, int(high) + (high != int(high)))]
    else:
        inside = [v for v in SEARCH_VALUES.get(field, []) if low < v < high]
    return list(dict.fromkeys([low, *inside, high]))  # "rank 8-8": one value


def read_sweep(low: str) -> dict:
    """What a message said about a sweep (see the module's docstring); {} when nothing."""
    out: dict = {}
    if re.search(OFF, low):
        return {"off": True}
    low = re.sub(r"(?<=\d)\s+(?:against|vs\.?|versus)\s+(?=\d)", " and ", low)  # "compare lr 1e-4 against 3e-4"
    values: dict[str, list[float]] = {}
    for field, key in KEYS.items():
        m = re.search(rf"(?:{key}){AFTER_KEY}{LIST}{UNITS}(?!\s*之间)", low)  # "学习率在 1e-4 和 2e-4 之间": a range
        if m is None:  # "compare rank 8 vs rank 32"
            sep = f"{VERSUS}|{CHOICE}" if re.search(COMPARES, low) or re.fullmatch(
                rf"(?:{key}){AFTER_KEY}{NUMBER}(?:\s*(?:,|and|和|与|跟)\s*(?:{key}){AFTER_KEY}{NUMBER})+{UNITS}[\s.!。！]*",
                low.strip()) else VERSUS  # "rank 8 and rank 32" alone: both tried
            if r := re.search(REPEATED.format(key=key, after=AFTER_KEY, number=NUMBER, sep=sep) + UNITS, low):
                numbers = [float(x) for x in re.findall(NUMBER, r.group(0))]
                if len(set(numbers)) >= 2:
                    values[field] = list(dict.fromkeys(numbers))
                continue
        if m is None and field in LIST_THEN_KEY:
            m = re.search(LIST_THEN_KEY[field], low)
            if m and re.search(rf"(?:{BOUND})(?:\s*[,，:：])?(?:{AFTER_KEY}|{NAMED_TO})$", low[:m.start(1)]):
                m = None  # "rank 8 and 2 epochs", "alpha 16 and 3 epochs", "lower the lr, 1e-5, and 2 epochs": the
                # 8 is the rank's, the 16 alpha's, the 1e-5 the learning rate's
            elif m and re.search(r"\bbetween\s*$", low[:m.start(1)]) and not tries(low):
                m = None  # "between 3 and 5 epochs is fine": what is acceptable, not a list to try
        if m:
            numbers = [float(x) for x in re.findall(NUMBER, m.group(1))]
            if len(set(numbers)) == 2 and re.search(r"\bbetween\s*$", low[:m.start(1)]):  # "try 2-4 epochs"
                numbers = span(field, *sorted(numbers))
            if len(set(numbers)) >= 2:
                values[field] = list(dict.fromkeys(numbers))
    for field, key in KEYS.items() if tries(low) else ():  # "try rank 8-32": 8, 16 and 32
        rx = SPAN.format(key=key, n=NUMBER, more="|from|从" if searches(low) else "", units=UNITS,
                         own=OWN_UNITS.get(field, "(?!)"))
        if field not in values and field not in RANGED and (m := re.search(rx, low)):
            values[field] = span(field, *sorted(float(x) for x in m.groups()))
    named = [field for field, key in KEYS.items() if re.search(key, low)]  # "which batch size is best, 4 or 8 or
    if not values and len(named) == 1 and re.search(EACH, low) and (m := re.search(LIST + UNITS, low)):  # 16? find out"
        values[named[0]] = list(dict.fromkeys(float(x) for x in re.findall(NUMBER, m.group(1))))
    search = [field for field, key in KEYS.items() if field not in values and (
        re.search(rf"{SEARCH_VERB}(?:{key})", low) or re.search(rf"{ZH_SEARCH}(?:{key})", low)
        or re.search(rf"(?:{key})\s*(?:搜索|调优|扫描|试几个|多试几个)", low))]
    keys = "|".join(KEYS.values())  # "search the rank and the learning rate", "秩和学习率都搜索一下": each of them
    search += [field for field, key in KEYS.items() if field not in values and field not in search and (
        re.search(rf"(?:{SEARCH_VERB}|{ZH_SEARCH})(?:(?:{keys}){JOINED})+(?:{key})(?!\s*(?:to|=|:|of|is|为)?\s*\d)",
                  low)
        or re.search(rf"(?:{key})(?:{JOINED}(?:{keys}))*\s*(?:都|也)\s*(?:搜索|调优|扫描|试几个|多试几个|搜一下)",
                     low))]
    ranges = {}
    for field in RANGED:  # "search the learning rate between 1e-5 and 1e-3", "学习率在 5e-5 到 1e-4 之间搜一下"
        m = re.search(rf"(?:{KEYS[field]})\s*(?:(?:of|in|from|between|在|从)\s*)?({NUMBER})\s*(?:and|to|-|~|到|至)\s*"
                      rf"({NUMBER}){UNITS}", low)  # not "lr 1e-4 and 2 epochs"
        if m and field not in values and (field in search or tries(low) or "搜" in low):
            ranges[field] = sorted(float(x) for x in m.groups())
            search += [] if field in search else [field]
    counts = [m for m in re.finditer(TRIALS, low) if not re.search(PAST, re.split(r"[,;.，；。]", low[:m.start()])[-1]
                                                                  + re.split(r"[,;.，；。]", low[m.end():])[0])]
    trials = counts[0] if counts else None  # not "it took 8 trials": what happened, not what to do (a clause about
    # an earlier run is gone by now: understand.PAST)
    if not (values or search) and (re.search(GENERAL, low) or trials):  # "run 8 trials": of the usual two
        search, out["general"] = ["training.learning_rate", "lora.r"], True
    if values:
        out["values"] = values
    if search:
        out["search"] = search
    if ranges:
        out["ranges"] = ranges
    if trials:
        out["trials"] = int(float(next(g for g in trials.groups() if g)))
    if re.search(HALVING, low):
        out["halving"] = True
    if m := re.search(METRIC, low):
        word = next(g for g in m.groups() if g)
        out["metric"] = METRIC_NAMES.get(word, "eval_loss" if "loss" in word or "损失" in word else word)
    return out


def merge(total: dict, said: dict) -> dict:
    """The conversation's sweep after one more turn: "off" clears it, "replace" puts back an earlier one; a field
    listed replaces its search and vice versa; the rest accumulates (the later word wins)."""
    if said.get("off"):
        return {}
    if "replace" in said:  # "undo" of a turn that changed the sweep: the sweep as it was before it
        return dict(said["replace"])
    if not said:
        return total
    if said.get("general") and (total.get("values") or total.get("search")):  # "with 6 trials" after "try ranks 8,
        said = {k: v for k, v in said.items() if k != "search"}  # 16 and 32": the ranks, six trials
    said = {k: v for k, v in said.items() if k != "general"}
    out = {"values": dict(total.get("values", {})), "search": list(total.get("search", [])),
           **{k: v for k, v in total.items() if k not in ("values", "search", "ranges")},
           "ranges": {**total.get("ranges", {}), **said.get("ranges", {})}}
    for field, vals in said.get("values", {}).items():
        out["values"][field] = vals
        out["search"] = [f for f in out["search"] if f != field]
        out["ranges"].pop(field, None)
    for field in said.get("search", []):
        out["values"].pop(field, None)
        if field not in out["search"]:
            out["search"].append(field)
    out.update({k: v for k, v in said.items() if k not in ("values", "search", "ranges")})
    if not out["ranges"]:
        del out["ranges"]
    return out
