"""A message in the words the settings' patterns read: numbers said in words written as digits (English and
Chinese), hours as minutes, shares as percentages, k suffixes, thousands separators, the schedules' Chinese
names, and the ways of turning a setting off as that setting at 0."""

from __future__ import annotations

import re

from ..sweeps import DEFAULT_PATIENCE

EN_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                                                  "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
TENS = r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
"""Superscript digits as people paste them from papers ("3 × 10⁻⁵"), as plain ones."""
ZH_NUMBER = r"[零〇一二两三四五六七八九十百千万]+"


def zh_number(text: str) -> int:
    """A Chinese numeral up to the ten thousands: 两 → 2, 十五 → 15, 二十 → 20, 三百 → 300."""
    total, current = 0, 0
    for ch in text:
        if ch in ZH_DIGITS:
            current = ZH_DIGITS[ch]
        else:
            total += (current or 1) * ZH_UNITS[ch]
            current = 0
    return total + current


SPOKEN = "one|two|three|four|five|six|seven|eight|nine"
"""Digits said as words in a spoken exponent ("one e minus four", "ten to the minus five")."""


def _spoken(word: str) -> str:
    return str(EN_NUMBERS[word]) if word in EN_NUMBERS else word


VALUE = r"\d+(?:\.\d+)?(?:e-?\d+)?"
"""A number as a setting takes it ("8", "0.1", "3e-4")."""
PAIRED = (r"(?:lora\s+)?rank|\balpha|dropout|\bepochs|learning rate|\blr\b|batch size|warm-?up ratio|"
          r"秩|轮数|学习率|批大小|预热比例")
"""Settings two of which one value can be said for ("rank and alpha both 16")."""
BARE_RATE = r"(?<![a-z0-9_.-])((?:(?:between|from)\s+|从\s*)?(?:\d(?:\.\d+)?e-0?[3-7]|0\.000\d+))(?![a-z0-9_.])"
"""A number only a learning rate takes, said without the setting's name (and the range it may open)."""
NAMES_A_RATE = (r"learning|\blr\b|学习率|warm|预热|dropout|丢弃|ratio|比例|alpha|decay|衰减|\beps|epsilon|valid|验证|"
                r"hold|%|分之")
"""A setting such a number could belong to, named in the message: then the number is that setting's."""


def markdown(low: str) -> str:
    """A message written in markdown read as its words: "**rank** 8" and "`lr` = 1e-4" without the marks, a table's
    rows ("| rank | 32 |") as "rank 32", a struck value ("~~16~~ 32") dropped, a quoted line of the card ("> rank 16")
    joined to the change after it, and every arrow (➜, ⇒, ➡) as "→"."""
    low = re.sub(r"[➜➔➝➞➡⇒⟶⟹⇨]", "→", low)
    low = re.sub(r"~~[^~\n]*~~", "", re.sub(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__|`([^`\n]+)`",
                                         lambda m: next(g for g in m.groups() if g is not None), low))
    low = re.sub(r"^[ \t]*\|[\s:|-]*\|[ \t]*$", "", low, flags=re.M)  # a table's |---|---| line
    low = re.sub(r"^[ \t]*\|(.*)\|[ \t]*$", lambda m: " ".join(c.strip() for c in m[1].split("|")) + ";", low,
                 flags=re.M)
    return re.sub(r"^[ \t]*>[ \t]*([^\n]*)\n+", r"\1 ", low, flags=re.M)


MIXED_NAMES = ((r"\blearning[ _-]?rate\b|\blr\b", "学习率"), (r"\bwarm[ _-]?up\b(?![ _-]?(?:steps?|ratio))", "预热"),
               (r"\b(?:random\s+)?seed\b", "随机种子"), (r"\beval(?:uate)?\b(?=\s*(?:一次|一下))", "评估"),
               (r"\bval(?:idation)?(?:\s+set)?\b(?!\s*(?:loss|_))", "验证集"),
               (r"\b(?:gradient|activation)[ _-]?checkpointing\b", "梯度检查点"))
"""English names of settings in a Chinese sentence, and the Chinese names the Chinese phrasings are written for."""
ENDS_NUMBER = r"(?:(?![\u4e00-\u9fff])|(?=谢谢|多谢|吧|啊|呀|哈|哦|喔|就好|就行|就够))"
"""After a number in Chinese characters: no other character, or only a politeness ("秩改成八谢谢", "批大小四吧")."""


def digits(low: str) -> str:
    """Numbers said in words written as digits, so every setting's pattern reads them: "two epochs" → "2 epochs",
    "训练两轮" → "训练2轮", "学习率万分之一" → "学习率0.0001", "百分之二十" → "20%"."""
    def value(text: str) -> float:
        return float(text) if text[0].isdigit() else zh_number(text)

    # 复原, Taiwan's word for undo: "复原刚才的修改" is "还原刚才的修改" (not the 复原 of "恢复原样")
    low = re.sub(r"(?<!恢)复原", "还原", markdown(low))
    if re.search(r"[\u4e00-\u9fff]", low):  # English names in a Chinese sentence ("lr 砍一半", "warmup 关了吧",
        # "val 留 15%"): the Chinese names every Chinese phrasing is written for
        for english, chinese in MIXED_NAMES:
            low = re.sub(english, chinese, low)
    # spellings: "3 × 10^-4", "3 × 10⁻⁴" and "10^-4" as 3e-4 and 1e-4, ".1" as 0.1, "epochs -> 4" as "epochs to
    # 4", and the typos people make in the settings' names
    low = re.sub(r"10\s*([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^" + m.group(1).translate(SUPERSCRIPT), low.replace("−", "-"))
    low = re.sub(r"(\d+(?:\.\d+)?)\s*(?:×|\*|x)\s*10\s*\^\s*(-?\d+)\b", r"\1e\2", low)
    # the card's "batch 8×1" (rows per step × accumulation): the last such pair said, where a batch is named
    if re.search(r"batch|批", low) and (pairs := list(re.finditer(r"(?<![\d.])(\d{1,4})\s*[×x*]\s*(\d{1,3})(?![\d.])",
                                                                 low))):
        last = pairs[-1]
        said = (f" 批大小 {last[1]}，梯度累积 {last[2]} " if re.search(r"[\u4e00-\u9fff]", low) else
                f" batch size {last[1]}, gradient accumulation {last[2]} ")
        earlier = re.sub(r"(?<![\d.])\d{1,4}\s*[×x*]\s*\d{1,3}(?![\d.])", "", low[:last.start()])  # "8×1 → 4×2"
        low = earlier + said + low[last.end():]
    # "3-5 epochs", "2~3 轮": a range, not -5
    low = re.sub(r"(?<![\w.-])(\d+)\s*[-–~]\s*(\d+)(?=\s*(?:个\s*)?(?:epochs?\b|轮))", r"between \1 and \2", low)
    low = re.sub(r"(?<![\w.^])10\s*\^\s*(-?\d+)\b", r"1e\1", low)
    # Taiwan's words for the same things: "刚刚" (刚才), "5 个回合", "5 个周期", "5 个世代" (轮), "训练回合" (轮数);
    # "5 rounds of training"
    low = re.sub(r"(\d+|[一二两三四五六七八九十]+)\s*个?\s*(?:回合|周期|世代)", r"\1 轮", low.replace("刚刚", "刚才"))
    low = re.sub(r"\b(\d+)\s+(?:rounds?\s+of\s+training|training\s+rounds?)\b", r"\1 epochs",
                 re.sub("训练(?:回合|周期|世代)(?:数)?", "轮数", low))
    low = re.sub(rf"\b(\d+(?:\.\d+)?|{SPOKEN})\s*(?:e|times\s+ten\s+to\s+the)\s+(?:minus|negative)\s+(\d+|{SPOKEN})\b",
                 lambda m: f"{_spoken(m.group(1))}e-{_spoken(m.group(2))}", low)  # "one e minus four"
    low = re.sub(rf"\bten\s+to\s+the\s+(?:minus|negative)\s+(\d+|{SPOKEN})\b", lambda m: f"1e-{_spoken(m.group(1))}",
                 low)
    low = re.sub(r"(?<![\w.])\.(?=\d)", "0.", low)
    low = re.sub(r"(?<![\d.,])0,(\d+)(?![\d.,])", r"0.\1", low)  # a decimal comma: "lr 0,0001", "dropout = 0,1"
    low = re.sub(r"(?<=[a-z_\u4e00-\u9fff])\s*(?:->|→|=>)\s*(?=\d)", " to ", low)
    low = re.sub(r"(?:(?<=\s)|^)@\s*(?=\d)", "at ", low)  # "cap it @ 200 steps"
    low = re.sub(r"\bmax[ _-]?steps\s*(?:=|:|to|of)?\s*-1(?![\d.])", "no max steps", low)  # a pasted config's "no
    # limit" (transformers' -1), not a step limit of 1
    low = re.sub(r"\b(?:epcohs?|eopchs?|epoches|epohs?|epocs?|epochz|ephocs?)\b", "epochs", low)
    low = re.sub(r"\b(?:learnign|leanring|learing|lerning|learnig|laerning)(?=[ _-]?rate\b)", "learning", low)
    low = re.sub(r"\b(?:batch-size|bach size|btach size|bathc size|bacth size|batchsize)\b", "batch size", low)
    low = re.sub(r"\b(?:rnak|ranl|rnk)\b", "rank", low)
    low = re.sub(r"\b(?:dropuot|droput|dropot|drouput|dorpout|dropuout)\b", "dropout", low)
    low = re.sub(r"\b(?:warmpu|wramup|warmpup|wamrup|warmupp)\b", "warmup", low)
    low = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s+e\s*(-\d+)\b", r"\1e\2", low)  # "lr = 2 e-5"
    low = re.sub(r"\b(?:grad(?:ient)?|act(?:ivation)?)[ _-]?(?:ckpt|checkpoint(?!s)(?:ing)?)\b",
                 "gradient checkpointing", low)  # "no grad ckpt", "关掉 grad ckpt"
    low = re.sub(r"\bsu+m+[ae]r+i([sz])(?=e|ation|ing)", r"summari\1", low)  # "sumarize", "summerize"
    low = re.sub(r"\b(turn|switch)\s+(.{1,40}?)\s+back\s+(on|off)\b", r"\1 \3 \2", low)  # "turn checkpointing back on"
    low = re.sub(r"(学习率|秩|批大小|批量大小|轮数|最大长度|预热比例|dropout|alpha|\blr|\brank)\s*换(?:个|一个)\s*"
                 r"((?:更)?(?:小|大|高|低)(?:一)?点?)的", r"\1\2", low)  # "学习率换个小点的": 学习率小点
    low = re.sub(r"\bi'?d\s+rather\s+(?:you|we)\s+(?:didn'?t|did\s+not)\s+", "don't ", low)  # "…didn't use X"
    low = re.sub(r"(?<!ly\s)\b(lower|reduc|decreas|rais|increas)ing\b(?=\s+(?:it|that|the|my|your|both)\b|"
                 r"\s+(?:learning|lr|rank|batch|epochs?|alpha|dropout|max|warm))",  # "would you mind lowering the
                 # lr?" (not "linearly decreasing", a schedule)
                 lambda m: m.group(1) + ("" if m.group(1) in ("lower",) else "e"), low)
    low = re.sub(r"(\d\s+)?\bep\s*[=:]?\s*(?=\d+(?![\w.]))", lambda m: f"{m.group(1)}; epochs " if m.group(1)
                 else "epochs ", low)  # "ep 2", "bs=16 ep=2" (not "16 epochs")
    # "5x smaller", "4 times bigger": a factor, not a value ("learning rate 5x smaller" is no learning rate of 5)
    low = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:x|×|times)\s+(?=(?:smaller|lower|less|larger|higher|bigger|greater|"
                 r"more)\b)", r"by a factor of \1 ", low)
    # "rank and alpha both 16", "秩和 alpha 都设成 16": each of them (not "3 epochs and lr=5e-5": the epochs have
    # theirs)
    low = re.sub(rf"(?<!\d\s)(?<!\d)({PAIRED})\s*(?:and|&|和|与|跟)\s*(?:the\s+)?({PAIRED})\s*"
                 rf"(?:(?:both|都)\s*(?:be\s+)?"
                 rf"(?:(?:set\s+)?to|=|:|at|设成|设为|设置为|改成|改为|为|是|用)?|(?:set\s+)?to|=|设成|设为|改成|改为)\s*"
                 rf"({VALUE})(?![\w.%])", r"\1 \3, \2 \3", low)
    low = re.sub(rf"(?<!\d\s)(?<!\d)({PAIRED})\s*(?:and|&|和|与|跟)\s*(?:the\s+)?({PAIRED})\s*"
                 rf"(?:of\s+|=\s*|:\s*|are\s+|分别(?:是|为|设成)?\s*)?({VALUE})\s*(?:and|&|,|，|和|/|、)\s*({VALUE})"
                 rf"(?![\w.%])(?:\s*respectively)?", r"\1 \3, \2 \4", low)  # "rank and alpha 16 and 32", "秩和 alpha
    # 分别是 16 和 32": in that order
    # "I don't think 2 epochs is enough", "2 轮不够": too few, as "rank 64 is too big" is too many
    low = re.sub(r"\b(?:i\s+)?(?:don'?t|do\s+not)\s+think\s+"
                 r"((?:[a-z_]+\s+){1,3}\d+(?:\.\d+)?(?:e-?\d+)?|\d+(?:\.\d+)?(?:e-?\d+)?\s*[a-z]+)\s+"
                 r"(?:is|are|will\s+be|would\s+be)\s+enough\b", r"\1 is too few", low)
    low = re.sub(r"(\d+(?:\.\d+)?(?:e-?\d+)?\s*(?:个\s*)?(?:轮|步|epochs?)?)\s*(?:还是|也)?不够(?:多|大|高|长)?(?!用)",
                 r"\1太少", low)
    # "rank 64 is too big, use 16", "秩 64 太大了，用 16": the number said after the judgement
    low = re.sub(rf"(?<![\w.])({VALUE})\s*(?:is|seems|looks|sounds|'s)?\s*(?:way\s+|far\s+|a\s+bit\s+|probably\s+)?"
                 rf"(?:too\s+(?:big|high|much|large|many|low|small|few)|overkill|太大|太高|太多|太小|太低|太少)了?\s*[,，;；.。]?\s*"
                 rf"(?:(?:let'?s\s+)?(?:use|try|go\s+with|make\s+it|do)|maybe|用|改成|换成|改用)\s*({VALUE})(?![\w.%])",
                 r"\2", low)
    # "rank 8... no, 16", "秩 8，不对，16": the number said last
    low = re.sub(rf"(?<![\w.])({VALUE})\s*(?:\.{{2,}}|…+|[,，;；—–-])?\s*(?:no|nope|wait|sorry|i mean|actually|"
                 rf"make (?:that|it)|不对|不是|错了|说错了|哦不)\s*[,，.。!！]?\s*({VALUE})"
                 rf"(?![\w.%-]|\s*(?:bits?|gb|位))", r"\2", low)
    low = re.sub(r"\bseq\s*(?=\d+(?![\w.]))", "max length ", low)  # "seq 256", not "seq2seq"
    low = re.sub(r'"([a-z_]+)"\s*:', r"\1:", low).replace("：", ": ")  # a pasted JSON config; "秩：8"
    low = re.sub(r"[ \t]*\n\s*", "; ", low)  # one setting a line: "秩: 8\n轮数: 2" is not "8 轮"
    low = re.sub(r"(" + ZH_NUMBER + r"|\d+)\s*(轮|遍|个\s*epochs?)半",
                 lambda m: f"{value(m.group(1)) + 0.5:g} {m.group(2)}", low)  # "训练一轮半": 1.5 epochs
    for words, scale in (("十万分之", 1e-5), ("万分之", 1e-4), ("千分之", 1e-3)):
        low = re.sub(words + r"(" + ZH_NUMBER + r"|\d+(?:\.\d+)?)", lambda m, s=scale: f"{value(m.group(1)) * s:g}",
                     low)
    # "thirty-two", "sixty four": one number, before either word is read alone ("rank thirty-two" was rank 30)
    low = re.sub(rf"\b({TENS})(?:-|\s)(one|two|three|four|five|six|seven|eight|nine)\b",
                 lambda m: str(EN_NUMBERS[m.group(1)] + EN_NUMBERS[m.group(2)]), low)
    # "2k tokens", "max length 4k" are 2,048 and 4,096; "2k rows", "1.5k steps" are thousands
    low = re.sub(r"((?:length|context|seq len|长度)\s*(?:(?:of|to|=|:|is|为|设为|设成|改成|改为|调到)\s*)?)(\d+)k\b|"
                 r"\b(\d+)k(?=\s*(?:tokens?|context)\b)",
                 lambda m: f"{m.group(1)}{int(m.group(2)) * 1024}" if m.group(2) else str(int(m.group(3)) * 1024), low)
    low = re.sub(r"\b(\d+(?:\.\d+)?)k(?=\s*(?:rows|examples|samples|steps|lines|records)\b)",
                 lambda m: f"{float(m.group(1)) * 1000:g}", low)
    low = re.sub(r"((?:rows|examples|samples|steps|lines|records)\s(?:to|at)\s)(\d+(?:\.\d+)?)k\b(?!\s*tokens?)",
                 lambda m: f"{m.group(1)}{float(m.group(2)) * 1000:g}", low)  # "limit rows to 2k"
    low = re.sub(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,]|\.\d)(?=\s*(?:rows|examples|samples|steps|lines|records|"
                 r"tokens|iterations|条|行|步))", lambda m: m.group(1).replace(",", ""), low)  # "1,500 examples"
    low = re.sub(r"((?:length|len|context|steps|rows|examples|长度|步数)\s*"
                 r"(?:(?:of|to|=|:|is|at|为|设为|设成|改成)\s*)?)(\d{1,3}(?:,\d{3})+)(?![\d,]|\.\d)",
                 lambda m: m.group(1) + m.group(2).replace(",", ""), low)  # "max length 1,024", "max steps 2,000"
    # "an 80/20 split", "90/10 train/validation split": the smaller share held out
    low = re.sub(r"\b(\d{1,2})\s*/\s*(\d{1,2})(?=\s+(?:(?:train(?:ing)?\s*/\s*(?:validation|val|eval|test|dev)|"
                 r"train[- ]test|train[- ]val(?:idation)?)\s+)?split\b)",
                 lambda m: f"{m.group(0)} ({m.group(2)}% validation split)"
                 if int(m.group(1)) + int(m.group(2)) == 100 and int(m.group(2)) < 50 else m.group(0), low)
    # "use 80% for training and the rest for validation", "80% 训练，剩下的做验证": the rest held out
    low = re.sub(r"(?<![\d.])(\d{1,2})%\s*(?:of\s+(?:the\s+)?(?:data|rows|examples)\s+|的\s*(?:数据|样本|行)\s*)?"
                 r"(?:for\s+|用于|用来|做|作为)?"
                 r"\s*(?:training|train(?:ing)?\s+set|训练集?)(?![\w\s]{0,12}\b(?:on|with)\b)|"
                 r"(?:training\s+set|train\s+set|训练集)\s*(?:占|用|is|=|:|为|of)?\s*(\d{1,2})%",
                 lambda m: f"{m.group(0)} ({100 - int(share)}% validation split)" if 50 <= int(
                     share := m.group(1) or m.group(2)) < 100 else m.group(0), low)
    # hours as minutes: "under 2 hours", "in an hour and a half", "half an hour", "一个半小时内", "两小时以内" (each
    # run of spaces has one place to go: see sweep_words.SEP)
    low = re.sub(r"\b(?:an?|one)\s+hour\s+and\s+a\s+half\b", "90 minutes", low)
    low = re.sub(r"\bhalf\s+an\s+hour\b", "30 minutes", low)
    low = re.sub(r"\bhalf\s+a\s+minute\b", "0.5 minutes", low)
    hours = {"a": 1, "an": 1, **EN_NUMBERS}
    low = re.sub(r"\b(\d+(?:\.\d+)?|" + "|".join(hours) + r")\s+hours?\b",
                 lambda m: f"{60 * (hours[m.group(1)] if m.group(1) in hours else float(m.group(1))):g} minutes", low)
    low = re.sub(r"(?:(" + ZH_NUMBER + r"|\d+(?:\.\d+)?)\s*)?(?:个\s*)?(半\s*)?(?:个\s*)?(?:小时|钟头)",
                 lambda m: f"{60 * (value(m.group(1)) if m.group(1) else 0) + (30 if m.group(2) else 0):g} 分钟"
                 if m.group(1) or m.group(2) else m.group(0), low)
    low = re.sub(r"(" + ZH_NUMBER + r"|\d+)分之(" + ZH_NUMBER + r"|\d+)(?=的?(?:数据|样本|行))",  # 四分之一的数据 → 25%
                 lambda m: f"{value(m.group(2)) / max(1.0, value(m.group(1))) * 100:.3g}%", low)
    low = re.sub(r"百分之(" + ZH_NUMBER + r"|\d+(?:\.\d+)?)",
                 lambda m: f"{m.group(1) if m.group(1)[0].isdigit() else zh_number(m.group(1))}%", low)
    low = re.sub(r"(" + ZH_NUMBER + r")(?=\s*(?:个\s*)?(?:轮|遍|步|条|行|个样本|个例子|epoch|分钟|%|层))",
                 lambda m: str(zh_number(m.group(1))), low)
    low = re.sub(r"(?<=的)(" + ZH_NUMBER + r")(?=\s*倍)", lambda m: str(zh_number(m.group(1))), low)  # rank 的两倍
    low = re.sub(r"(?<=缩小|降低|减小|除以|放大|提高|增大|扩大|乘以)(\s*)(" + ZH_NUMBER
                 + r")(?=\s*倍|(?![\u4e00-\u9fff]))",
                 lambda m: m.group(1) + str(zh_number(m.group(2))), low)  # "学习率缩小十倍", "除以十"
    low = re.sub(r"(" + ZH_NUMBER + r")分之(" + ZH_NUMBER + r")",  # "原来的十分之一" (the data's share: a % above)
                 lambda m: f"{zh_number(m.group(1))}分之{zh_number(m.group(2))}", low)
    low = re.sub(r"((?:dropout|丢弃率|预热比例|预热)\s*(?:设成|设为|改成|改为|调成|调到|用|是|为|取|大约|大概)?\s*)"
                 r"(\d+)分之(\d+)",
                 lambda m: f"{m.group(1)}{int(m.group(3)) / max(1, int(m.group(2))):g}", low)  # "dropout 设成十分之一"
    low = re.sub(r"(?<=秩|为|成|到)(" + ZH_NUMBER + r")" + ENDS_NUMBER, lambda m: str(zh_number(m.group(1))), low)
    low = re.sub(r"((?:批大小|批量大小|最大长度|序列长度|长度|随机种子|种子|步数|轮数|耐心值?|梯度累积)\s*"
                 r"(?:是|用|=|:)?\s*)(" + ZH_NUMBER + r")" + ENDS_NUMBER,
                 lambda m: m.group(1) + str(zh_number(m.group(2))), low)  # "批大小十六"
    # "线性学习率调度" → "linear学习率调度": the schedules' Chinese names, where a schedule follows or precedes
    low = re.sub(r"(线性|余弦|恒定|常数)(?=\s*(?:的)?\s*(?:学习率)?\s*(?:调度|衰减|退火|schedule))",
                 lambda m: ZH_SCHEDULES[m.group(1)], low)
    low = re.sub(r"(线性|余弦|恒定|常数)\s*(?:的)?\s*学习率(?!\s*(?:调度|衰减|退火|schedule))",  # "用余弦学习率"
                 lambda m: ZH_SCHEDULES[m.group(1)] + "学习率调度，学习率", low)  # and "线性学习率 2e-4" keeps its rate
    low = re.sub(r"(?:还是用|改回|换回|用回|回到)\s*(线性|余弦|恒定|常数)(?:吧|的)?"
                 r"(?!\s*(?:的)?\s*(?:学习率|调度|衰减))",
                 lambda m: ZH_SCHEDULES[m.group(1)] + "学习率调度",
                 low)  # "还是用余弦吧"
    low = re.sub(r"(?<=调度|衰减)(\s*(?:器|策略|方式)?\s*(?:[改换采使]用|设成|用|为|设为|改成|改为|换成|是|:)?\s*)"
                 r"(线性|余弦|恒定|常数)",
                 lambda m: m.group(1) + ZH_SCHEDULES[m.group(2)], low)
    low = re.sub(r"\b(?:flat|fixed|steady)(?=\s+(?:learning[ -]rate|lr)\b)|(?<=learning rate )(?:flat|fixed)\b|"
                 r"(?<=\blr )(?:flat|fixed)\b", "constant", low)  # "a flat learning rate" is a constant schedule
    low = re.sub(r"\b(?:no|without(?:\s+any)?|don'?t\s+(?:use\s+)?(?:any\s+)?)\s+(?:learning[ -]rate\s+|lr\s+)decay\b|"
                 r"\bdon'?t\s+decay\s+the\s+(?:learning[ -]rate|lr)\b", "constant lr schedule", low)  # "no lr decay"
    # "学习率固定不变" is a constant schedule ("学习率不变" only keeps the rate, "学习率固定为 1e-4" sets it)
    low = re.sub(r"学习率\s*(?:固定不变|恒定不变|保持恒定|恒定|不衰减|不要衰减|不做衰减|不用衰减|不下降)"
                 r"(?!\s*(?:为|在|成|到)?\s*\d)|"
                 r"(?:不要|不用|不做|没有)(?:学习率)?衰减", "constant学习率调度", low)  # "学习率不衰减"
    # "more epochs", "train a bit longer", "多训练几轮": twice the epochs (half for fewer), as "raise the epochs"
    low = re.sub(r"\btrain(?:ing)?\s+(?:for\s+)?(?:a\s+(?:bit|little)\s+|much\s+)?longer\b"
                 r"(?!\s+(?:than|sequences?|examples?|inputs?|texts?|context|rows|prompts?))|"
                 r"多(?:训练|训|跑)几(?:轮|个\s*epoch)", "raise the epochs", low)
    low = re.sub(r"\btrain(?:ing)?\s+(?:for\s+)?(?:a\s+(?:bit|little)\s+)?(?:less|shorter)\b(?!\s+(?:than|sequences?|"
                 r"examples?|inputs?|texts?|context|rows|prompts?))|\bshorter\s+(?:training|fine-?tuning)(?:\s+runs?)?\b|"
                 r"少(?:训练|训|跑)几(?:轮|个\s*epoch)", "lower the epochs", low)
    low = re.sub(r"\btoo\s+(?:many|few)\s+epochs\b|\bnot\s+enough\s+epochs\b", lambda m: "lower the epochs"
                 if "many" in m.group(0) else "raise the epochs", low)  # "that's too many epochs"
    # "再训练 1 轮", "多加 1 轮", "epoch 多加 1 个", "轮数再加 1": a count of epochs added (understand.MORE_OF's
    # "多 1 轮"); not "epoch 加到 5"
    low = re.sub(r"再\s*(?:训练|跑|训|练)\s*(?=\d+\s*(?:轮|个\s*epoch))", "多",
                 re.sub(r"(?<=多)加\s*(?=\d+\s*(?:轮|个\s*epoch))", "", low))
    low = re.sub(r"(?:epochs?|轮数)\s*(?:再)?\s*(多|加|少|减)\s*[加减少]?\s*(\d+|一|两)\s*(?:个|轮)?(?![\d.%倍半成])",
                 lambda m: f"{'少' if m[1] in '少减' else '多'} {dict(一='1', 两='2').get(m[2], m[2])} 轮", low)
    # "批大小小一点，4 就行", "dropout 不要这么高，0.01 就够", "最大长度要 256 才够": the value said after the judgement
    low = re.sub(r"\s*(?:(?:不要|别)(?:这么|那么|太)?[小大低高短长少多]|再?[小大低高短长少多]一?点儿?)\s*[，,]\s*"
                 r"(?:用|改成|设成)?\s*(\d+(?:\.\d+)?(?:e-?\d+)?)\s*就(?:行|够|好|可以)(?:了)?|"
                 r"\s*要\s*(\d+(?:\.\d+)?)\s*才(?:够|行)",
                 lambda m: f" {m[1] or m[2]}", low)
    low = re.sub(r"(?:'s|\s+is)?\s+(?:(?:way|much|a\s+bit|a\s+little)\s+)?too\s+(?:high|low|big|small|large|long|short)"
                 r"\s*[,;]\s*(\d+(?:\.\d+)?(?:e-?\d+)?)\s+(?:is|'s|would\s+be|should\s+be)\s+(?:enough|fine|plenty|"
                 r"ok(?:ay)?|good)\b", r" \1", low)  # "dropout's too high, 0.01 is enough"
    low = re.sub(r"(?<![减改缩降调变压])(?:少|小|低|短)一半", "减半", low)  # "批大小少一半": halved
    low = re.sub(r"(?:砍|削|砍掉|削掉)\s*一半", "减半", low)  # "lr 砍一半"
    low = re.sub(r"翻(?:个|一)倍", "翻倍", low)  # "rank 翻个倍"
    low = re.sub(r"给(?=\s*(?:小|大|高|低|短|长)(?:一)?点)", "调", low)  # "学习率给小点"
    low = re.sub(r"(?<=\S)\s*先\s*(?=关掉|关了|关闭|不用|不要|去掉|停掉)", "", low)  # "checkpointing 先关掉"
    # "3 epochs will take too long, do 2", "训练 3 轮太久了，2 轮吧": the count said after the judgement
    low = re.sub(r"\b\d+\s+epochs?\b[^,;.]{0,40}?\btoo\s+(?:long|many|much|slow|few|short)\b[^,;.]{0,30}[,;.]\s*"
                 r"(?:(?:so|just|then|maybe)\s+)*(?:do|make\s+it|use|try|go\s+with|let'?s\s+do|train(?:\s+for)?)?\s*"
                 r"(\d+)(?:\s+epochs?)?\s*(?:instead|then|please)?\s*(?=[.!]?$)",
                 lambda m: f"train {m[1]} epochs", low)
    low = re.sub(r"(?:训练|跑)?\s*\d+\s*(?:轮|个\s*epoch)[^，,。]{0,10}?太(?:久|长|多|慢|少)了?[^，,。\d]{0,8}"
                 r"[，,。]\s*(?:那就|就|改成|用|还是)?\s*(\d+)\s*(?:轮|个\s*epoch)?\s*"
                 r"(?=(?:吧|就行|就好|就够了?)?\s*[。！!]?$)",
                 lambda m: f"训练 {m[1]} 轮", low)
    # "19 GB is too much, keep it under 12 GB", "19G 太多了": the estimate judged, not the card's memory
    low = re.sub(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:gb|gib|g)\b\s*(?:of\s+(?:memory|vram)\s+)?"
                 r"(?:is|'s|seems|sounds|looks)\s+(?:way\s+|far\s+|much\s+|a\s+bit\s+)?(?:too\s+(?:much|high|big|large)|a\s+lot|excessive)|"
                 r"(?<![\d.])\d+(?:\.\d+)?\s*(?:gb|g)\s*(?:显存)?\s*太(?:多|高|大)了?", "that is too much", low)
    # "不要用这么多 epoch，两个就够", "not so many epochs, two is enough": that many epochs
    if re.search(r"epoch|轮", low):
        low = re.sub(r"(?<=[,;]\s)(\d+|one|two|three|four|five)\s+(?:is|are|should\s+be|would\s+be)\s+(?:enough|plenty|"
                     r"fine)\b", lambda m: f"{dict(one=1, two=2, three=3, four=4, five=5).get(m[1], m[1])} epochs", low)
        low = re.sub(r"(?<![\d.])(\d+|[一两三四五])\s*个\s*(?=就(?:够|行|好|可以))",
                     lambda m: f"{dict(一='1', 两='2', 三='3', 四='4', 五='5').get(m[1], m[1])} 轮", low)
    # (not "two more epochs": a count added, see understand.MORE_OF)
    low = re.sub(r"(\b(?:\d+|one|two|three|couple\s+of)\s+)?\b(more|fewer|less)\s+(?=epochs\b)",
                 lambda m: m.group(0) if m.group(1) else "raise the " if m.group(2) == "more" else "lower the ", low)
    # "no warmup", "turn dropout off", "不要预热": the setting at 0
    low = re.sub(r"\b(?:no|without|disable|turn off|switch off|skip)\s+(?:the\s+|any\s+)?(?:lora\s+)?"
                 r"(?:warm[ _-]?up|dropout)\b(?![ _-]?(?:steps?|ratio))|"
                 r"\b(?:turn\s+|switch\s+)?(?:the\s+)?(?:lora\s+)?(?:warm[ _-]?up|dropout)\s+off\b|"
                 r"(?:不要|不用|不做|关闭|关掉|去掉|取消)\s*(?:预热|dropout|丢弃)(?!(?:比例)?的?(?:修改|改动|更改|设置))|"
                 r"(?:预热|dropout|丢弃)\s*(?:去掉|关掉|关了|不要了|取消|也不要)",
                 lambda m: "dropout 0" if "drop" in m.group(0) or "丢弃" in m.group(0) else "warmup ratio 0", low)
    # "no validation set", "don't hold anything out", "不要验证集": nothing held out
    low = re.sub(r"\b(?:no|without|skip(?:\s+the)?|drop\s+the|don'?t\s+bother\s+with\s+(?:a|the))\s+"
                 r"(?:validation|eval(?:uation)?|held[- ]out|dev)(?:\s+(?:set|split|data)\b|"
                 r"(?=(?:\s+(?:entirely|altogether|completely|this\s+time))?\s*(?:[,.;!]|$)))|"
                 r"\b(?:don'?t|didn'?t|do\s+not|not)\s+hold\s+(?:out\s+|back\s+)?(?:anything|any\s+(?:data|rows|"
                 r"examples))(?:\s+(?:out|back))?\b|"
                 r"(?:(?:不要|不用|不需要)\s*(?:单独|另外)?\s*(?:留出?|分出?|划出?|设)?|不\s*(?:单独|另外)?\s*(?:留出?|分出?|划出?|设))"
                 r"\s*(?:一个|一份)?验证集|验证集\s*(?:就)?(?:不要了|不需要了?|不用了|省了)",
                 "validation split 0%", low)
    # "验证损失连续 3 次不降就提前停止": that patience; "use early stopping", "stop when the validation loss stops
    # improving", "开启早停": the sweeps' patience
    low = re.sub(r"(?:loss|损失|指标)\s*(?:连续|持续)?\s*(\d+)\s*(?:次|轮)\s*(?:评估|验证)?\s*(?:都)?(?:不再|不|没有?)"
                 r"(?:降|下降|减少|提升|变好|改善)(?:了)?(?:的话)?就\s*(?:提前)?(?:停|停止|结束)",
                 r"early stopping patience \1", low)
    low = re.sub(r"\b(?:use|enable|turn\s+on|switch\s+on|add|with|want|need|do)\s+(?:some\s+|an?\s+)?early[ -]?stopp?"
                 r"ing\b|^early[ -]?stopping(?:\s+please)?[.!]?$|\bstop\s+(?:training\s+|the\s+run\s+)?(?:early\s+)?"
                 r"(?:when|if|once|as\s+soon\s+as)\s+(?:(?:the\s+)?(?:val(?:idation)?\s+|eval(?:uation)?\s+|dev\s+)?"
                 r"(?:loss|accuracy|score|metrics?)|it|the\s+model|training)\s+(?:stops|no\s+longer|doesn'?t|does\s+not|isn'?t|is\s+not)\s+"
                 r"(?:improv\w*|go(?:ing|es)?\s+down|decreas\w*|dropping|falling)\b(?!\s+(?:for|after|in|over)\s+\d)|"
                 r"(?<![不别])(?:加上|开启|打开|启用|使用|用上|加个|加一个|要|用)\s*早停(?:机制|策略)?(?!\s*(?:耐心值?)?\s*[=:：为是]?\s*\d)|"
                 r"(?:loss|损失|指标)\s*(?:不再|不|没有?)(?:降|下降|减少|提升|变好|改善)(?:了)?(?:的话)?就\s*(?:提前)?"
                 r"(?:停|停止|结束)",
                 f"early stopping patience {DEFAULT_PATIENCE}", low)
    low = re.sub(r"\b(?:no|without|disable|turn\s+off|switch\s+off|skip|don'?t\s+use|do\s+not\s+use)\s+(?:the\s+)?"
                 r"early[ -]?stopp?ing\b|(?:不要|不用|别用|关闭|关掉|去掉|取消)\s*早停|早停\s*(?:不要了|关掉|去掉)",
                 "early stopping patience 0", low)
    # "两成数据做验证" → "20%数据做验证" (成 is a tenth; only where a share of the data follows)
    low = re.sub(r"(" + ZH_NUMBER + r"|\d+(?:\.\d+)?)成(?=的?(?:数据|样本|做|作为|用于|当|来|验证|测试))",
                 lambda m: f"{value(m.group(1)) * 10:g}%", low)
    low = re.sub(r"((?:(?:验证|测试)(?:集|数据)|预热(?:比例)?)\s*(?:留出?|分出?|划出?|取|拿|要|给|占)?\s*)(" + ZH_NUMBER
                 + r"|\d+(?:\.\d+)?)成",
                 lambda m: f"{m.group(1)}{value(m.group(2)) * 10:g}%", low)  # "验证集留两成", "预热一成"
    low = re.sub(r"\b(hold\s+out|set\s+aside|keep\s+back|reserve)\s+(?:a|one)[\s-]+(" + "|".join(FRACTIONS)
                 + r")\b(?!\s+of\b)", lambda m: f"{m.group(1)} {FRACTIONS[m.group(2)]:g}%", low)  # "hold out a fifth"
    low = re.sub(r"(?:数据|样本)\s*(?:只)?(?:抽|取|用|拿)\s*一半", "只用50%的数据", low)  # "数据抽一半就行"
    low = re.sub(r"(\d+(?:\.\d+)?)\s*(?:percent|per cent|pct)\b", r"\1%", low)
    low = re.sub(r"\b(?:a|one)[\s-]+(" + "|".join(FRACTIONS) + r")\b(?=\s+of\s+(?:the\s+|my\s+|our\s+|all\s+)?"
                 r"(?:data|rows|dataset|examples|samples|set))", lambda m: f"{FRACTIONS[m.group(1)]:g}%", low)
    low = re.sub(r"(\b(?:dropout|warm[ _-]?up(?:\s+ratio)?)\s+(?:(?:of|at|is|=|around|about|roughly|for)\s+)?)"
                 r"(?:a|one)[\s-]+(" + "|".join(FRACTIONS) + r")\b(?:\s+of\s+(?:the\s+)?(?:run|training|steps))?"
                 r"(?!\s+of)",
                 lambda m: f"{m.group(1)}{FRACTIONS[m.group(2)]:g}%", low)
    # "dropout around a tenth": 10% (a share of the steps or of the weights dropped, not of the value)
    low = re.sub(r"\bhalf(?:\s+of)?(?=\s+(?:the\s+|my\s+|our\s+)(?:data|rows|dataset|examples|samples)\b)", "50% of",
                 low)  # "half the data"
    low = re.sub(r"一半(?=的?(?:数据|样本|行))", "50%", low)
    low = re.sub(r"(?:把)?(?:训练)?数据(?:量)?\s*(?:减少|减|砍|缩减|缩小)(?:到|掉)?\s*一半", "只用50%的数据", low)
    low = re.sub(r"\b(\d)\s*/\s*(\d{1,2})(?=\s*(?:of\s+(?:the\s+|my\s+|our\s+)?(?:data|rows|dataset|examples|"
                 r"samples)\b|的?(?:数据|样本)))",
                 lambda m: f"{100 * int(m.group(1)) / max(1, int(m.group(2))):.0f}%", low)  # "1/3 of the data"
    low = re.sub(r"\b(?:a\s+)?single(?=\s+(?:epoch|pass)\b)", "1", low)  # "just a single epoch"
    low = re.sub(r"\ba\s+couple\s+(?:of\s+)?(?=(?:epochs?|passes|steps|rows|examples|minutes)\b)", "2 ", low)
    low = re.sub(r"\b(?:cut|halve|reduce|shrink)\s+(?:the\s+)?(?:training\s+)?(?:data(?:set)?|rows)\s+"
                 r"(?:in|by)\s+half\b|"
                 r"\bhalve\s+the\s+(?:training\s+)?(?:data(?:set)?|rows)\b", "use 50% of the data", low)
    low = re.sub(r"\b(" + "|".join(EN_NUMBERS) + r")\b(?=[\s-]+(?:epochs?|pass(?:es)?|steps|rows|examples|samples|"
                 r"minutes?|mins?|trials|runs|configurations|tries|times)\b)",
                 lambda m: str(EN_NUMBERS[m.group(1)]), low)
    if not re.search(NAMES_A_RATE, low):  # "use 3e-4", "is 5e-5 too low?": the learning rate
        low = re.sub(BARE_RATE, r"学习率\1" if re.search(r"[\u4e00-\u9fff]", low) else r"learning rate \1", low,
                     count=1)
    # after a setting's name: "a batch size of sixteen", "rank eight", "seed seven"
    return re.sub(r"\b((?:lora\s+)?(?:rank|batch size|batch|alpha|seed|patience|epochs)(?:\s+(?:of|to|at|is|=))?\s+|"
                  r"\b(?:keep|make|set|change|put|leave)\s+(?:it|that|this)\s+(?:to|at|as)\s+|\bback\s+to\s+)("
                  + "|".join(EN_NUMBERS) + r")\b", lambda m: m.group(1) + str(EN_NUMBERS[m.group(2)]), low)


ZH_SCHEDULES = {"线性": "linear", "余弦": "cosine", "恒定": "constant", "常数": "constant"}
FRACTIONS = {"tenth": 10, "fifth": 20, "quarter": 25, "third": 33, "half": 50}
"""A share of the data said as a fraction, in percent ("set aside a fifth of the data" → 20%)."""
