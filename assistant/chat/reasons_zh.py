"""The plan's reasons in Chinese, for the Chinese plan card.

The planner writes each reason once, in English (the plan's JSON, the model card and the CLI keep it so). A
Chinese card shows them through `to_zh`: whole sentences and phrases, longest first, with their numbers and
names carried over. A phrase not in the table stays in English rather than being guessed at;
tests/test_conversations.py checks that the Chinese corpus's cards leave no English phrase untranslated.
"""

from __future__ import annotations

import re

N = r"(\d[\d,.]*(?:e-?\d+)?%?)"
"""A number as the reasons write it: 16, 0.0002, 2e-4, 1,024, 10%."""
NAME = r"([\w.\-/ ]+?)"

LANGUAGES_ZH = {"English": "英语", "Chinese": "中文", "French": "法语", "German": "德语", "Spanish": "西班牙语",
                "Italian": "意大利语", "Portuguese": "葡萄牙语", "Japanese": "日语", "Korean": "韩语",
                "Russian": "俄语", "Arabic": "阿拉伯语", "Vietnamese": "越南语", "Hindi": "印地语", "Thai": "泰语"}
"""`catalog.LANGUAGE_NAMES`' names in Chinese (the reasons name a language: "strong in French")."""

PHRASES: list[tuple[str, str]] = [
    (r" \(because (.+)\)$", r"（因为 \1）"),
    # the base model
    (r"no GPU: the embedded SmolLM2-135M-Instruct is small enough to train on a CPU, and needs no download",
     "没有 GPU：内置的 SmolLM2-135M-Instruct 小到可以在 CPU 上训练，而且无需下载"),
    (rf"no GPU: {NAME} is small enough for a CPU and strong in (\w+), and it is on this machine",
     r"没有 GPU：\1 小到可以在 CPU 上训练，擅长 \2，而且已在本机"),
    (rf"\(note: {NAME} is weak in (\w+); {NAME} is better — it is not on this machine: put it in models/{NAME} or ask "
     r"for it by name\)", r"（注意：\1 不擅长 \2；\3 更好——但它不在本机：放到 models/\4，或直接点名要它）"),
    (rf"\(note: {NAME} is weak in (\w+)\)", r"（注意：\1 不擅长 \2）"),
    (rf"strong in (\w+), and the largest such model that fits {N} GB", r"擅长\1，且是能放进 \2 GB 的最大此类模型"),
    (rf"a strong open instruct model, and the largest such model that fits {N} GB",
     r"强大的开源指令模型，且是能放进 \1 GB 的最大此类模型"),
    (r"the default base model in your settings", "设置中的默认基础模型"),
    (r"; its licence \(([\w.-]+)\) is open, as you asked", r"；它的许可（\1）是开源许可，如你所要求"),
    (r"; its licence \(([\w.-]+)\) allows commercial use, as you asked", r"；它的许可（\1）允许商用，如你所要求"),
    (r" \(⚠️ its licence, ([\w.-]+), is not an open one \(Apache-2\.0 or MIT\), which you asked for\)",
     r"（⚠️ 它的许可 \1 不是你要求的开源许可（Apache-2.0 或 MIT））"),
    (r" \(⚠️ its licence, ([\w.-]+), does not allow commercial use, which you asked for\)",
     r"（⚠️ 它的许可 \1 不允许商用，而你要求可以商用）"),
    (r" \(⚠️ its licence is not known here: check it on its model page\)",
     "（⚠️ 这里不知道它的许可：请到它的模型页面核实）"),
    (r"the first steps raise the learning rate from zero to its value, so a fresh adapter's first large updates do "
     r"not knock the model off course", "开头几步把学习率从零升到设定值，避免新适配器最初的大幅更新把模型带偏"),
    (r"the learning rate falls along a cosine curve after the warm-up, so the last steps make small, careful changes",
     "预热之后学习率沿余弦曲线下降，最后几步只做小而稳的调整"),
    (rf"⚠️ {NAME} is a closed model: its weights are not published, so it cannot be fine-tuned here\. Planned with "
     rf"{NAME} instead \((.*)\)", r"⚠️ \1 是闭源模型：权重未公开，无法在这里微调。改用 \2（\3）"),
    (rf"⚠️ You asked for {NAME}, but (.*)\. Planned with {NAME} instead \((.*)\)",
     r"⚠️ 你要的是 \1，但\2。改用 \3（\4）"),
    (rf"a {N}B model cannot be trained on a CPU", r"\1B 的模型无法在 CPU 上训练"),
    (rf"it does not fit your {N} GB even in 4 bits \(QLoRA needs about {N} GB\)",
     r"即使 4 位量化也放不进你的 \1 GB（QLoRA 约需 \2 GB）"),
    (rf"the largest {NAME} in the catalog that fits", r"目录中能放下的最大 \1"),
    (rf"you asked for {NAME} \(about {N}B parameters, read from its name; its memory is estimated from that size "
     r"until it is downloaded\)", r"你点名要 \1（约 \2B 参数，从名字读出；下载前按这个大小估算显存）"),
    # task and data
    (r"from your words: “(.*)”", r"来自你的描述：“\1”"),
    (r"inferred from the data \((\w+) format, (\d+) labels\)", r"从数据推断（\1 格式，\2 个标签）"),
    (r"inferred from the data \((\w+) format\)", r"从数据推断（\1 格式）"),
    (r"detected (\w+): input (.+?) → output ([^;]+?) \(the output you named\)",
     r"检测为 \1：输入 \2 → 输出 \3（你指定的输出列）"),
    (r"detected (\w+): input (.+?) → output ([^;]+)", r"检测为 \1：输入 \2 → 输出 \3"),
    (r"detected (\w+)", r"检测为 \1"),
    (r"1: every batch is one optimizer step", "1：每个批次就是一步优化"),
    (r"doubled each time the batch was halved to fit the memory: the same effective batch",
     "批次每减半一次就翻倍，以适配显存：有效批次不变"),
    (r"you asked for it; the batch was halved to fit the memory, so a step sees fewer rows",
     "按你的要求；为适配显存批次减半了，所以每一步看到的行更少"),
    (rf"hold out {N} of {N} rows to measure the result, stratified by label",
     r"留出 \2 行中的 \1 用于评估，按标签分层"),
    (rf"hold out {N} of {N} rows to measure the result", r"留出 \2 行中的 \1 用于评估"),
    (rf"only {N} rows: too few to hold any out", r"只有 \1 行：太少，不留验证集"),
    (rf"you asked for it: {N} of {N} rows held out", r"按你的要求：\2 行中留出 \1"),
    (r"you asked to hold no rows out", "按你的要求：不留验证集"),
    (r"the standard measures for (\w+), and ([\w, ]+) as you asked", r"\1 任务的标准指标，以及你要求的 \2"),
    (r"the standard measures for (\w+)", r"\1 任务的标准指标"),
    (r"^only ([\w, ]+), as you asked", r"按你的要求，只评估 \1"),
    (r", without ([\w, ]+) as you asked", r"，按你的要求不评估 \1"),
    (r", and ([\w, ]+) as you asked", r"，以及你要求的 \1"),
    # LoRA and training
    (r"rank 8: fast, enough for a narrow task", "秩 8：快，足够应付单一任务"),
    (r"rank 32: more capacity for best quality", "秩 32：容量更大，追求最佳效果"),
    (r"rank 16: the usual balance of capacity and speed", "秩 16：容量与速度的常用平衡"),
    (r"2e-4: the usual LoRA rate", "2e-4：LoRA 的常用学习率"),
    (r"1e-4: a lower rate keeps a high-rank adapter stable", "1e-4：较低的学习率让高秩适配器保持稳定"),
    (r"0 on a CPU: drawing dropout masks costs about a seventh of each step, and short runs gain little from it",
     "CPU 上为 0：生成 dropout 掩码约占每步七分之一的时间，而短训练从中获益很少"),
    (r"0\.05: a little regularisation, nearly free on a GPU", "0.05：少量正则化，在 GPU 上几乎不花时间"),
    (r"0 for a packed run: with this much data it needs no extra regularisation, and dropout would add half again to "
     r"the activation memory and its own time",
     "打包训练为 0：数据这么多不需要额外正则化，而 dropout 会让激活显存再增加一半，还要花它自己的时间"),
    (r"fp32 on the CPU", "CPU 上用 fp32"),
    (r"bf16: half the memory of fp32 at the same quality", "bf16：显存是 fp32 的一半，效果相同"),
    (rf"fp16: the {NAME} has no bf16 \(it is older than NVIDIA's Ampere cards\); fp16 takes the same memory, with "
     r"the loss scaled so that small gradients are not lost",
     r"fp16：\1 不支持 bf16（它早于 NVIDIA 的 Ampere 架构）；fp16 占用同样的显存，并放大损失，以免丢失很小的梯度"),
    (r"on: each decoder layer compiled \(faster steps and less activation memory; the first steps include about a "
     r"minute of compiling\)", "开启：逐个解码层编译（每步更快、激活显存更少；最初几步包含约一分钟的编译）"),
    (r"off: on a CPU compiling would cost minutes for little", "关闭：在 CPU 上编译要花几分钟，收益很小"),
    (r"on: recomputing activations saves most of their memory", "开启：重算激活可省下大部分激活显存"),
    (r"off: the activations fit, and recomputing them would cost a third more time",
     "关闭：激活放得下，重算会多花三分之一的时间"),
    (rf"{N} × {N} accumulation steps: the same effective batch in less memory",
     r"\1 × \2 步梯度累积：有效批次不变，显存更少"),
    (rf"{N} packed rows × {N} tokens: about {N} tokens per step", r"\1 个打包行 × \2 个 token：每步约 \3 个 token"),
    (rf"(?:^|(?<=因为 )){N} rows per step", r"每步 \1 行"),  # (also a knock-on's "because 8 rows per step")
    (rf"off: your examples \(median {N} tokens\) nearly fill a {N}-token row",
     r"关闭：你的样例（中位数 \1 个 token）几乎占满一行 \2 个 token"),
    (rf"off: packed, your data would make only {N} optimizer steps?; unpacked batches of {N} give more, smaller "
     r"steps, and the run is short either way",
     r"关闭：打包后你的数据只有 \1 步优化；不打包、每批 \2 行，步数更多、每步更小，而且训练本来就很短"),
    (rf"on: your examples have a median of {N} tokens, so whole examples are packed into rows of {N} tokens \(no "
     r"compute on padding\); examples never attend to each other",
     r"开启：你的样例中位数为 \1 个 token，所以把整条样例打包进每行 \2 个 token 的行（不在填充上浪费计算）；"
     r"样例之间互不可见"),
    (rf"you asked for it: stop after {N} evaluations without improvement", r"按你的要求：连续 \1 次评估没有提升就停止"),
    (r"you asked for no early stopping", "按你的要求：不提前停止"),
    (rf"each trial stops after {N} evaluations without improvement", r"每个试验连续 \1 次评估没有提升就停止"),
    (r"no early stopping: every epoch runs \(say “use early stopping” to stop once the held-out loss stops improving\)",
     "不提前停止：每一轮都会跑完（说“开启早停”，验证集损失不再下降时就会停止）"),
    (r"one run with the plan's settings; a sweep trains one run per value tried and keeps the one with the best "
     r"held-out score \(with few rows those scores are noisy, so a small grid tells the most\): say “try ranks 8 and "
     r"16” or “search the learning rate”",
     "按计划的设置训练一次；搜索会为每个要试的值各训练一次，保留验证集得分最好的那次"
     "（数据少时这些得分波动大，小规模的网格最有参考价值）：可以说“试试秩 8 和 16”或“搜索学习率”"),
    (r"a fixed seed: the held-out split, the order of the rows and the adapter's starting weights are the same in "
     r"every run of this plan \(on a GPU, some kernels still vary in the last digits\)",
     "固定的随机种子：验证集的划分、行的顺序和适配器的初始权重在这个计划的每次运行中都相同"
     "（在 GPU 上，个别算子的最后几位仍会有差异）"),
    (r"every linear layer \(attention and MLP\) gets an adapter: it learns more than attention alone, at little extra "
     r"memory", "每个线性层（注意力和 MLP）都加适配器：比只加在注意力层学得更多，显存只多一点"),
    (r"without `(.+?)`, as you asked", r"按你的要求，不用 `\1`"),
    (r"only `(.+?)`, as you asked", r"按你的要求，只用 `\1`"),
    (rf"every {N} steps: about {N} evaluations, for early stopping and comparing trials",
     r"每 \1 步评估一次：约 \2 次评估，用于早停和比较各组试验"),
    (rf"every {N} steps: about {N} evaluations, for early stopping", r"每 \1 步评估一次：约 \2 次评估，用于早停"),
    (r"you asked for it: rows of that many tokens", "按你的要求：每行这么多 token"),
    (rf"packed rows of {N} tokens", r"打包行，每行 \1 个 token"),
    (rf"; {N} examples are longer and will be cut", r"；\1 条样例更长，会被截断"),
    (r"LoRA: the only method on a CPU", "LoRA：CPU 上唯一的方法"),
    (r"QLoRA needs a CUDA GPU, so plain LoRA on the CPU", "QLoRA 需要 CUDA GPU，所以在 CPU 上用普通 LoRA"),
    (r"LoRA on a 16-bit base fits your GPU: faster and slightly better than QLoRA",
     "16 位基础模型上的 LoRA 放得进你的 GPU：比 QLoRA 更快、效果略好"),
    (r"QLoRA: the 16-bit base does not fit your GPU, the 4-bit base does",
     "QLoRA：16 位基础模型放不进你的 GPU，4 位的可以"),
    (r"one pass: you asked for speed", "一轮：你要求快"),
    (rf"{N} passes suit {N} rows without over-fitting", r"\1 轮适合 \2 行数据，不易过拟合"),
    (rf"{N} passes suit your rows without over-fitting", r"\1 轮适合你的数据，不易过拟合"),
    (rf"covers 95% of your examples \({N} tokens with the chat template, counted with the {NAME} tokenizer\)",
     r"覆盖 95% 的样例（套用对话模板后 \1 个 token，用 \2 的分词器计数）"),
    (rf"covers 95% of your examples \({N} tokens with the chat template, estimated from characters: the {NAME} "
     r"tokenizer is not on this machine\)",
     r"覆盖 95% 的样例（套用对话模板后约 \1 个 token，按字符估算：本机没有 \2 的分词器）"),
    (rf"{N} of {N} examples are longer \(up to {N} tokens\) and will be cut",
     r"\2 条中有 \1 条更长（最长 \3 个 token），会被截断"),
    (r"no example is cut", "没有样例被截断"),
    (rf"you asked for it: training stops after {N} steps", r"按你的要求：训练 \1 步后停止"),
    (rf"you asked for {N} rows: a random sample of the {N}", r"按你的要求用 \1 行：从 \2 行中随机抽样"),
    (rf"{N} → {N} passes to finish within the {N} minutes you gave", r"\1 → \2 轮，以便在你给的 \3 分钟内完成"),
    (rf"{N} → {N} steps to finish within the {N} minutes you gave", r"\1 → \2 步，以便在你给的 \3 分钟内完成"),
    (r"less than one pass sees only part of the data", "不足一轮只会看到部分数据"),
    (rf"within the {N} minutes you gave", r"在你给的 \1 分钟之内"),
    (rf"shrunk to fit the {N} minutes you gave", r"已缩短，以放进你给的 \1 分钟"),
    # memory and hardware
    (rf"weights {N} \+ LoRA/optimizer {N} \+ activations {N} \+ logits {N} \+ overhead {N} GB",
     r"权重 \1 + LoRA/优化器 \2 + 激活 \3 + logits \4 + 其他 \5 GB"),
    (r"no GPU \(you said\): training runs on the CPU", "没有 GPU（你说的）：在 CPU 上训练"),
    (r"no GPU detected: training runs on the CPU", "没有检测到 GPU：在 CPU 上训练"),
    (rf"{NAME} with {N} GB \(you said\)", r"\1，\2 GB（你说的）"),
    (rf"{NAME} with {N} GB \(detected\)", r"\1，\2 GB（检测到的）"),
    (rf"the sweep's largest trial needs about {N} GB", r"参数搜索中最大的一组试验约需 \1 GB"),
    # sweeps
    (rf"you asked to try (.+?) → {N} trials", r"按你的要求尝试 \1 → \2 组试验"),
    (rf"you asked to search (.+?): {N} random trials, learning rates drawn log-uniformly from {N} to {N} as you said",
     r"按你的要求搜索\1：\2 组随机试验，学习率按你给的范围在 \3 到 \4 之间按对数均匀抽取"),
    (rf"you asked to search (.+?): {N} random trials, learning rates drawn log-uniformly from {N} to {N}",
     r"按你的要求搜索\1：\2 组随机试验，学习率在 \3 到 \4 之间按对数均匀抽取"),
    (rf"you asked to search (.+?): {N} random trials", r"按你的要求搜索\1：\2 组随机试验"),
    (r"the winner has the best held-out (\w+) \(the plan's first measure\)",
     r"留出集上 \1 最好的胜出（计划的第一个指标）"),
    (r"the winner has the best held-out (\w+)", r"留出集上 \1 最好的胜出"),
    (r"the best held-out (\w+) wins", r"留出集上 \1 最好的胜出"),  # the reply's list of changes
    (r", trials falling behind are stopped", "，落后的试验会被停止"),
    (rf"about {N} min in all", r"共约 \1 分钟"),
    (r"sweep: off — one run", "sweep：关闭——只训练一次"),
    (r"each trial stops early after 2 evaluations without improvement", "每组试验连续 2 次评估没有提升就提前停止"),
    (r"trials behind the better half of the earlier ones at an evaluation are stopped \(successive halving\)",
     "评估时落后于之前试验中较好一半的试验会被停止（逐次减半）"),
    (r"every trial runs to its end or its own early stop \(say “stop trials that fall behind” to prune\)",
     "每组试验都跑完或各自提前停止（说“淘汰落后的试验”可以剪枝）"),
    (rf"about {N} min for {N} trials; say “only {N} trials” for a sweep of about {N} min",
     r"\2 组试验约需 \1 分钟；说“只试 \3 组”可缩短到约 \4 分钟"),
    (r"you asked for it: the estimate does not fit without it \(turn it back on, shorten the examples or use QLoRA\)",
     "按你的要求：但不开它估算放不下（重新开启、缩短样本或用 QLoRA）"),
    (r"you asked for it", "按你的要求"),
    (r"2 × rank: the update's scale \(alpha / rank\) stays the same whatever the rank",
     "2 × 秩：无论秩多大，更新的缩放（alpha / 秩）保持不变"),
    # why a change the turn did not ask for followed (converse._knock_on_reason)
    (r"alpha stays 2 × rank, so the update's scale is unchanged", "alpha 保持 2 × 秩，更新的缩放不变"),
    (rf"the memory estimate is now {N} GB of {N} GB", r"内存估算现在是 \1 GB（共 \2 GB）"),
    (r"it follows from the change above", "由上面的改动而来"),
    (r"the batch was resized to fit the memory", "批大小已调整以放进内存"),
    (r"the plan now fits without recomputing activations, which is faster", "计划现在不重算激活也放得下，更快"),
    (r"the plan fits without recomputing activations", "计划不重算激活也放得下"),
    (r"→ (\d+) trials", r"→ \1 组试验"), (r"^grid: ", "网格："), (r"^random: ", "随机："), (r"\(log\)", "（对数）"),
    # words inside other reasons
    (r"\blearning rate\b", "学习率"), (r"\brank\b", "秩"), (r"(?<![.\w])epochs\b", "轮数"),
    (r"\bbatch size\b", "批大小"), (r"\bmax length\b", "最大长度"), (r"\bwarm-up\b", "预热比例"),
    (r"\bmax steps\b", "最大步数"),
    (r"^“([^”]*)” is not possible: it must be (.+), so the plan keeps its own value$",
     lambda m: f"“{m.group(1)}”不可能：超出范围，必须{bounds_zh(m.group(2))}，计划保留原来的值"),
    (r"\bdropout\b", "dropout"),
]
COMPILED = [(re.compile(p), zh) for p, zh in PHRASES]
BOUNDS = [(re.compile(p), zh) for p, zh in (
    (r"^a whole number ", "是整数，"), (rf"\bbetween {N} and {N}", r"在 \1 到 \2 之间"),
    (rf"\bmore than {N} and at most {N}", r"大于 \1 且不超过 \2"),
    (rf"\bat least {N} and under {N}", r"不小于 \1 且小于 \2"),
    (r" \(a share of the rows\)", "（占行数的比例）"), (rf"\bmore than {N} minutes", r"大于 \1 分钟"),
    (r"^one of ", "是以下之一："), (r"^(\w+) or (\w+)$", r"是 \1 或 \2"), (r"^yes or no$", "是“是”或“否”"),
    (rf"^a name of {N} to {N} characters$", r"是 \1 到 \2 个字符的名称"), (rf"^a name of at most {N} characters$",
                                                                    r"是不超过 \1 个字符的名称"))]
"""A setting's bounds (`Setting.bounds`) in Chinese, for a value refused ("必须在 1 到 1024 之间")."""


def bounds_zh(bounds: str) -> str:
    """A setting's bounds in Chinese; what the table lacks stays as it was."""
    for pattern, zh in BOUNDS:
        bounds = pattern.sub(zh, bounds)
    return bounds.replace(", ", "、")


def to_zh(reason: str) -> str:
    """A reason in Chinese, phrase by phrase; a phrase the table lacks stays as it was."""
    for pattern, zh in COMPILED:
        reason = pattern.sub(zh, reason)
    reason = re.sub(rf"(?<=擅长)\s*({'|'.join(LANGUAGES_ZH)})\b", lambda m: LANGUAGES_ZH[m.group(1)], reason)
    reason = re.sub(r"（因为 (?=[\u4e00-\u9fff])", "（因为", reason)  # "（因为计划…", "（因为 alpha…"
    return reason.replace("; ", "；").replace(", ", "，")


ENGLISH = re.compile(r"\b[a-z]{3,}(?: [a-z]{2,})+\b")
"""Two or more English words in a row: what an untranslated phrase looks like."""


def untranslated(text: str) -> list[str]:
    """English phrases left in a Chinese text (model names, file names and code-like words aside)."""
    return [m.group(0) for m in ENGLISH.finditer(text)]
