"""The machine a message names: no GPU, an Apple computer, a card by name ("a 3060", "two A10s", "Colab"), a
memory size ("12 gigs"), and whether the person says it is theirs ("my card is a T4, can I run this?")."""

from __future__ import annotations

import re
from typing import Any

from ..models.estimate import gpu_info

NUM = r"(\d+(?:\.\d+)?)"

OWN_GPU = (r"(?<!\bif )(?<!\bif we )\b(?:i|we)\s+(?:only\s+|just\s+)?(?:have|has|got|own|use|am\s+using|are\s+using|"
           r"rent)\b|"
           r"\b(?:i'?m|we'?re)\s+(?:on|using|stuck\s+with)\b|\b(?:i|we)'?ve\s+(?:only\s+)?got\b|"
           r"\b(?:my|our)\s+(?:only\s+)?(?:[\w.-]+\s+){0,3}?(?:gpu|card|graphics\s+card|machine|rig|box|server|laptop|"
           r"desktop|workstation)\b|all\s+(?:i|we)\s+have\b|"
           r"(?<!如果)(?<!要是)(?<!假如)(?:我|我们)(?:这边|这里)?(?:只|就)?(?:有|用的是|在用|手上有|的(?:显卡|卡|gpu|机器|电脑|服务器))|"
           r"手上(?:只|就)?有|手头(?:只|就)?有")
"""A GPU the person has ("I only have a T4, will it fit?", "does it fit on my 12GB card?", "我的显卡是 8G，能跑吗？"):
set even in a question, which is then answered on the plan for it; "will it fit on a T4?" names a card and sets none."""


CLAUSE = r"[,，;；。、]|\band\b|\bwith\b|和"


SETTING_BEFORE = (r"(?:seed|length|len|steps?|rows|rank|alpha|batch(?:[ _]size)?|种子|长度|步数)\s*"
                  r"(?:to|=|:|of|is|为)?\s*$")
COUNT_AFTER = r"\s*(?:steps?|rows|tokens|examples|samples|epochs|minutes|mins|条|步|行|个|轮)"
"""A bare four-digit number that a setting says ("seed 2070", "1080 steps") rather than a card's."""


APPLE = (r"\bmacbook|\bmac\s+(?:pro|air|mini|studio|m[1-4])\b|\b(?:on|with|using|have)\s+(?:a\s+|an\s+|my\s+|the\s+)?"
         r"mac\b(?!\s*address)|apple silicon|apple m[1-4]|(?<![a-z0-9.])m[1-4]\s+(?:pro|max|ultra|chip)\b|苹果电脑|"
         r"\bmac\s*(?:电脑|笔记本)|\bmac\s*m[1-4]|(?<![a-z])mac(?![a-z])\s*上|用\s*mac(?![a-z])")
"""An Apple computer: its GPU (MPS) is not one training here uses, so the plan is the CPU's, and the reply says so."""


USED_BY_OTHERS = (r"\b(?:another|other|some\s+other|a\s+different|an?\s+existing)\s+(?:jobs?|process(?:es)?|runs?|"
                  r"models?|programs?|users?|teams?|services?)\b[^,.;]{0,20}?\b(?:uses?|using|takes?|taking|occup\w*|"
                  r"eats?|hogs?)\b|(?:别的|其他|其它|另一个)(?:任务|程序|进程|模型|服务|人)[^，。；]{0,6}?(?:占|用)")
"""Memory another job holds on the card ("another job uses 10 GB of it", "别的任务占了 10G"): the plan gets what is
left."""


LAPTOP = ("a laptop usually has no NVIDIA GPU and trains on its CPU; if yours has one, name it (“my laptop has a "
          "4060”)", "笔记本一般没有 NVIDIA 显卡，只能用 CPU 训练；有的话请说出型号（例如“我的笔记本是 4060”）")
"""Said when a laptop is named without a card: its CPU is a guess (in a question, not set as the person's own)."""


def read_gpu(low: str, said: dict[str, Any], notes: list[str]) -> None:
    """The machine a message names, into `said` (`gpu_name`, `gpu_memory_gb`): no GPU or an Apple computer (the CPU,
    with a note for the Mac), a card by name (its memory), or a memory size ("a 24GB card"; not the machine's RAM)."""
    apple = re.search(APPLE, low)
    if apple or re.search(r"no gpu|without (a )?gpu|(?:don'?t|do not|doesn'?t|does not)\s+have\s+(?:a\s+|any\s+)?"
                          r"(?:gpu|graphics card|nvidia)|no graphics card|cpu only|only (have )?(a )?cpu|"
                          r"on (my |the |a )?cpu|laptop without|"
                          r"(?:just|only) (?:a |an |my |the )?(?:laptop |desktop |intel |amd )?cpu\b|"
                          r"(?:laptop|desktop) cpu\b|no (?:cuda|nvidia)|"
                          r"没有\s*gpu|没有显卡|无显卡|只有\s*cpu|用\s*cpu|在[^，。,；]{0,12}?cpu\s*上|(?:没有|无)独(?:立)?显(?:卡)?|"
                          r"集显|核显", low):
        said["gpu_name"], said["gpu_memory_gb"] = "", 0.0
        if apple:
            notes.append("训练不使用 Apple 的 GPU（MPS），所以按 CPU 规划" if re.search(r"[\u4e00-\u9fff]", low) else
                         "training here does not use Apple GPUs (MPS), so the plan is for the CPU")
        return
    # The first that names a card ("max length 1024 on a 4090"); CJK characters are word characters, so "一张H800"
    # has no \b before the name.
    low = re.sub(r"\b(?:google\s+)?colab\b(?!\s*pro)|(?<![a-z])kaggle(?![a-z])(?!\s*(?:dataset|competition))", "t4",
                 low)  # Colab's free tier is a T4; Kaggle's notebooks have T4s (or a P100), 16 GB either way
    for m in re.finditer(r"((?:rtx|gtx)\s*\d{4}(?:\s*(?:ti|ada)(?![a-z]))?|(?<![\d.])\d{4}(?:\s*ti(?![a-z]))?(?!\d)|"
                         r"(?<![a-z0-9])(?:h200|h100|h800|h20|a100|a800|a[4-6]000|l40s?|l20|a10g|a10|a30|a40|l4|t4|"
                         r"v100|p100|p40)(?=s?(?![a-z0-9])))", low):  # "two A10s"
        if m.group(1)[0].isdigit() and (re.search(SETTING_BEFORE, low[max(0, m.start() - 16):m.start()])
                                        or re.match(COUNT_AFTER, low[m.end():])):
            continue  # "seed 2070", "train 1080 steps": a setting's number, not a card
        if info := gpu_info(m.group(1)):
            said["gpu_name"] = re.sub(r"\s+", " ", m.group(1).upper().replace("RTX", "RTX ").replace("TI", " Ti")
                                        .replace("ADA", " Ada"))
            said["gpu_memory_gb"] = 40.0 if m.group(1) == "a100" and "colab" in low else info[0]  # Colab's: 40 GB
            break
    for mm in re.finditer(r"(?<![a-z\d.])" + NUM + r"\s*(?:个\s*)?(?:gb|gib|gigs?(?![a-z])|gigabytes?|g(?![a-z]))",
                          low):  # "12 个 G" as people say it
        # the clause it is said in: "32GB of RAM and a 3060" is the machine's memory, not the card's
        clause = re.split(CLAUSE, low[:mm.start()])[-1] + re.split(CLAUSE, low[mm.end():])[0]
        if re.search(r"\bram\b|内存|system memory|\bdisk|\bssd|storage|硬盘", clause) and \
                not re.search(r"vram|显存|gpu|显卡", clause):
            continue
        if re.search(USED_BY_OTHERS, clause):  # "a 3090, but another job uses 10 GB of it": what is left
            if card := said.get("gpu_memory_gb"):
                left = max(0.0, card - float(mm.group(1)))
                said["gpu_memory_gb"] = left
                notes.append(f"按显卡剩下的 {left:g} GB 规划（共 {card:g} GB，别的任务占了 {float(mm.group(1)):g} GB）"
                             if re.search(r"[\u4e00-\u9fff]", low) else f"planned for the {left:g} GB the card has "
                             f"left ({card:g} GB, {float(mm.group(1)):g} GB used by another job)")
            break
        said["gpu_memory_gb"] = float(mm.group(1))
        if "fit" in low or "适配" in low or "放进" in low:
            notes.append("fit")
        break
    if "gpu_memory_gb" not in said and re.search(r"\blaptops?\b|笔记本(?:电脑)?|手提电脑", low):  # no card named
        said["gpu_name"], said["gpu_memory_gb"] = "", 0.0
        notes.append(LAPTOP[bool(re.search(r"[\u4e00-\u9fff]", low))])
