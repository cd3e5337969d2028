"""What a setting is, for a question that asks it ("what's the difference between LoRA and QLoRA?", "what does alpha
do?", "什么是梯度检查点？"): a sentence or two before the plan's value and reason (`about.answers`)."""

from __future__ import annotations

import re

DEFINE = (r"^(?:(?:so|and|but|ok|okay|hmm|wait|um|also)[,\s]+)*(?:what(?:'s|\s+is|\s+are|\s+does|\s+do)\b|"
          r"(?:(?:can|could)\s+you\s+)?(?:explain|tell\s+me\s+about)\b|how\s+does\b)|"
          r"\bdifference\s+between\b|\b(?:vs\.?|versus)\b[^?]*\?\s*$|什么是|是什么|是干什么的|有什么用|起什么作用|"
          r"有什么区别|什么区别|区别是什么|是啥|代表什么|代表的?是什么|指的?是什么|啥意思")
"""A question asking what something is or does, or how two differ."""

TERMS = {
    "lora.method": (
        "LoRA trains two small matrices beside each layer of a frozen 16-bit base model; QLoRA trains the same on a "
        "base quantized to 4-bit (NF4), which needs about a quarter of the base's memory and runs a little slower.",
        "LoRA 在冻结的 16 位基础模型的每一层旁边训练两个小矩阵；QLoRA 做同样的事，但基础模型被量化为 4 位（NF4），"
        "显存只要约四分之一，速度稍慢。"),
    "lora.r": (
        "The rank is the width of those small matrices: more rank, more the adapter can learn, with more memory "
        "and a greater risk of over-fitting a small dataset.",
        "秩是这些小矩阵的宽度：秩越大，适配器能学的越多，也更占显存，小数据上更容易过拟合。"),
    "lora.alpha": (
        "Alpha scales the adapter's update: its effect on the model is alpha / rank times what it learned.",
        "alpha 用来缩放适配器的更新：它对模型的作用是学到的量乘以 alpha / 秩。"),
    "lora.dropout": (
        "Dropout switches off a random share of the adapter's inputs at each step, so it cannot lean on any one "
        "of them: a little regularisation.",
        "dropout 在每一步随机关掉适配器的一部分输入，让它不依赖某一个：一点正则化。"),
    "training.learning_rate": (
        "The learning rate is how far each step moves the adapter's weights: too high and training is unstable, "
        "too low and it learns little.",
        "学习率是每一步改动适配器权重的幅度：太高训练不稳定，太低学得很少。"),
    "training.epochs": (
        "An epoch is one pass over the training rows; more passes learn the data better, until the model starts "
        "to memorise it (over-fitting).",
        "一轮是把训练数据完整过一遍；轮数越多学得越充分，直到模型开始死记数据（过拟合）。"),
    "training.gradient_checkpointing": (
        "Gradient checkpointing keeps fewer activations in memory and recomputes them in the backward pass: less "
        "memory, at the cost of running each layer forward a second time (the plan's time estimate counts it).",
        "梯度检查点在显存里少存激活值，反向传播时再重算：省显存，代价是每一层的前向要再算一遍（计划的时间估计已计入）。"),
    "training.packing": (
        "Packing puts several short examples into one row of the max length, so less of each batch is padding.",
        "打包把几条短样本放进一行（最大长度），批次里用于填充的部分更少。"),
    "training.warmup_ratio": (
        "Warm-up raises the learning rate from zero over the first share of the steps.",
        "预热在开头一部分步数里把学习率从零升到设定值。"),
    "training.batch_size": (
        "The batch size is how many examples the model reads before each update of the weights (“batch 8×2”: "
        "batches of 8 rows, the gradients of 2 batches added up per update); a larger batch gives steadier updates "
        "and needs more memory.",
        "批大小是每次更新权重前模型读的样本数（“批大小 8×2”：每批 8 行，累积 2 批的梯度再更新一次）；"
        "批次越大，更新越稳，也越占显存。"),
    "training.gradient_accumulation": (
        "Gradient accumulation adds up the gradients of several batches before each step: the effect of a larger "
        "batch without its memory.",
        "梯度累积把几个批次的梯度加起来再更新一次：效果像更大的批次，却不占那么多显存。"),
    "training.max_length": (
        "The max length is the most tokens an example may have; longer ones are cut.",
        "最大长度是一条样本最多的 token 数，更长的会被截断。"),
    "data.validation_fraction": (
        "The held-out rows are kept out of training and used to measure the adapter on data it has not seen.",
        "验证集的行不参与训练，用来在没见过的数据上衡量适配器。"),
    "training.precision": (
        "bf16 stores numbers in 16 bits with fp32's range: half the memory of fp32, and fast on recent GPUs. Cards "
        "older than NVIDIA's Ampere (T4, V100, RTX 20) have no bf16 and train in fp16: 16 bits with a smaller range, "
        "so the loss is scaled up to keep small gradients.",
        "bf16 用 16 位存数，数值范围和 fp32 相同：显存是 fp32 的一半，在较新的 GPU 上也快。早于 NVIDIA Ampere 的卡"
        "（T4、V100、RTX 20 系列）不支持 bf16，用 fp16 训练：同样 16 位但范围更小，所以把损失放大来保住很小的梯度。"),
}
"""Each setting's definition, English and Chinese."""


def definitions(low: str, asked: list[str], zh: bool) -> list[str]:
    """The definitions of the asked fields, when the message asks what they are."""
    if not re.search(DEFINE, low):
        return []
    return [TERMS[path][zh] for path in asked if path in TERMS]
