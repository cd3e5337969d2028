"""Written Cantonese (Hong Kong) read as the Mandarin the rules are written in: "秩改做 32" is "秩改成 32", "学习率细啲"
is "学习率小一点", "我部机冇 GPU" is "我的机器没有 GPU", "唔使预热" is "不用预热". Run after the traditional characters
are simplified, and only on a message with a word only Cantonese writes (啲, 嘅, 咗, 唔, 冇, 佢, 哋, 嗰, 喺, 嚟, 咁,
嘢, 畀, 睇, 搵, 攞, 点解, 几耐, 搞掂, 边个): "同" is "and" there, "返" after a verb is "back"."""

from __future__ import annotations

import re

CANTONESE = re.compile(r"[啲嘅咗唔冇佢哋嗰喺嚟咁嘢畀睇搵攞噉乜咩㗎]|点解|点样|几耐|搞掂|边个|边度|头先|先够|机械人|"
                       r"加多(?!少)|[改分换变缩转译调设]做|[改用调换设变开关]返(?!回)|试下|返转头|细一半")
"""Words only written Cantonese uses ("改做 32", "加多一个", "用返 LoRA" too): a message with one is read with
`WORDS`."""
WORDS = (
    # questions and negations first: "得唔得" and "跑唔跑得到" (can it run) before "唔"
    (r"([\u4e00-\u9fff])唔\1得(?:到|郁)?", r"能不能\1"), (r"系咩(?:嚟)?", "是什么"),
    (r"得唔得|好唔好|可唔可以", "可以吗"), (r"要唔要", "要不要"), (r"使唔使", "需不需要"),
    (r"唔使|唔洗|唔驶", "不用"), (r"唔好", "不要"), (r"唔该", "请"), (r"唔系", "不是"), (r"唔", "不"), (r"冇", "没有"),
    (r"点解", "为什么"), (r"点样(?=[用做改设训跑])", "怎么"), (r"点样", "怎么样"), (r"点(?=做|算|改|设|用)", "怎么"),
    (r"几耐", "多久"), (r"几多", "多少"), (r"边个|边一个", "哪个"), (r"边度", "哪里"), (r"搞掂|搞定", "完成"),
    # "细啲", "快啲", "好啲": a little; "将啲评论": these; "以前啲对话": of
    (r"细啲", "小一点"), (r"(?<=[大小快慢高低多少好长短轻重松紧简])啲", "一点"), (r"(?<=[将把用睇试读拎攞])啲", "这些"),
    (r"啲", "的"), (r"嘅", "的"), (r"咗", "了"), (r"我哋", "我们"), (r"你哋", "你们"), (r"佢哋", "他们"), (r"佢", "它"),
    (r"嗰个|嗰", "那个"), (r"呢个", "这个"), (r"呢啲", "这些"), (r"喺", "在"), (r"出嚟", "出来"), (r"嚟", "来"),
    (r"咁", "这么"), (r"噉", "这样"), (r"嘢", "东西"), (r"畀", "给"), (r"睇", "看"), (r"搵", "找"), (r"攞", "拿"),
    (r"乜嘢|乜", "什么"), (r"咩", "什么"), (r"㗎|嘎", ""), (r"手提电脑", "笔记本电脑"),
    # verbs: "改做" (改成), "加多一个" (多加一个), "改返" (改回), "试下" (试一下), "先够" (才够), "头先" (刚才)
    (r"(?<=[改分换变缩转译调设])做", "成"), (r"加多", "多加"), (r"还原返", "还原"), (r"返转头|返去", "改回去"),
    (r"开返", "重新打开"), (r"关返", "重新关掉"),
    (r"(?<=[改用调换设变拎])返", "回"), (r"细一半", "减半"), (r"(?<=[高低大小多少快慢])喇", "了"),
    (r"试下", "试一下"), (r"(?<=\d)\s*先够", " 才够"), (r"先够", "才够"), (r"头先", "刚才"), (r"都系", "还是"),
    (r"算啦", "算了"), (r"机械人", "机器人"), (r"(?<=[我你他它])部机", "的机器"), (r"(?<=[我你他它])张", "的"),
    (r"系(?=[\s\d])", "是"), (r"就得(?![到出])", "就行"), (r"(?<=[卡机])得(?=\s*\d)", "只有"),
    # "8 同 16", "正面同负面": and ("同一", "相同", "同时", "不同" stay)
    (r"同埋", "和"), (r"(?<![相不共一等协陪赞认如])同(?![一时样步意事学类])", "和"),
)
COMPILED = tuple((re.compile(p), m) for p, m in WORDS)


def mandarin(text: str) -> str:
    """`text` (simplified) with written Cantonese's words in Mandarin; a text without any unchanged."""
    if not CANTONESE.search(text):
        return text
    for pattern, words in COMPILED:
        text = pattern.sub(words, text)
    return text
