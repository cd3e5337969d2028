"""What Tailor does about what a plan has no setting for: what comes after training (export, download, serving,
using the adapter, the Hub) and what it does not do (full fine-tuning, preference training, sampling settings,
DeepSpeed, flash-attn, other optimizers, weight decay, logging services, other trainers, the split's strata), or
where it does it (resuming a job): said rather than "I did not understand"."""

from __future__ import annotations

import re

FEATURES = (
    (r"\b(?:push|upload|publish|share)\b.{0,40}\b(?:hub|hugging\s*face)\b|\bhf\s+hub\b|hugging\s*face\s+hub|"
     r"(?:上传|推送|发布)到?\s*(?:hugging\s*face|hf|hub)",
     "Tailor uploads nothing: the adapter's page in **Registry** downloads it as a zip in Hugging Face PEFT layout, "
     "which `hf upload REPO FOLDER` (or PEFT's `push_to_hub`) publishes from your machine. The plan is unchanged.",
     "Tailor 不会上传任何东西：在 **Registry** 的适配器页面可以把它下载为 Hugging Face PEFT 格式的 zip，"
     "再在你自己的机器上用 `hf upload 仓库 文件夹`（或 PEFT 的 `push_to_hub`）发布。计划没有改变。"),
    (r"deepspeed|\bzero[- ]?[123]\b|\bfsdp\b|\bmulti[- ]?gpus?\b|\b(?:all\s+)?\d+\s+(?:gpus|cards)\b|"
     r"\b(?:several|multiple|many|two|all\s+(?:the|my|our))\s+(?:gpus|cards)\b|多卡|多张(?:卡|显卡)|\d+\s*张(?:卡|显卡)|分布式",
     "Tailor trains on every GPU the machine shows, one process per GPU, each holding the whole model and taking its "
     "share of the batches (data parallel); DeepSpeed and FSDP sharding are not used, since with LoRA or QLoRA the "
     "model fits one card. The plan is sized for one card's memory and is unchanged.",
     "Tailor 会用上机器上所有可见的 GPU：每张卡一个进程，各放一份完整模型，分摊批次（数据并行）；"
     "不使用 DeepSpeed 或 FSDP 分片，因为用 LoRA 或 QLoRA 时模型放得进一张卡。计划按单张卡的显存来定，没有改变。"),
    (r"flash[- _]?attn|flash[- ]?attention|\bxformers\b|\bsdpa\b",
     "Attention runs through PyTorch's scaled-dot-product attention (SDPA), which picks its FlashAttention kernel on "
     "the GPU where it applies; the flash-attn package is not needed. The plan is unchanged.",
     "注意力走 PyTorch 的 SDPA，它在 GPU 上适用时会自动选用 FlashAttention 内核，不需要安装 flash-attn 包。"
     "计划没有改变。"),
    (r"\b(?:adamw?|adafactor|lion|sgd|muon|optimi[sz]ers?)\b|优化器",
     "The optimizer is PyTorch's AdamW, with fp32 master copies of the adapter's weights under bf16; it is not a plan "
     "setting. An adapter's weights are few, so an 8-bit or paged optimizer would save little memory. The plan is "
     "unchanged.",
     "优化器是 PyTorch 的 AdamW，bf16 训练时适配器权重在优化器里有 fp32 主副本；它不是计划里的设置。适配器的权重很少，"
     "8 位或分页优化器省不了多少显存。计划没有改变。"),
    (r"\bresum\w*|\bcontinue\s+(?:from|training|the\s+(?:run|job|training))|\bpick\s+up\s+where|断点续训|继续训练|"
     r"从.{0,8}(?:检查点|checkpoint)\s*(?:继续|恢复)",
     "A job that failed or was cancelled resumes from its last checkpoint: **Jobs** → *Resume*, or `tailor jobs "
     "resume ID` (a job whose worker died is marked failed when Tailor starts again, so it can be resumed too). The "
     "plan is unchanged.",
     "失败或被取消的任务可以从最近的检查点继续：**Jobs** → *Resume*，或 `tailor jobs resume ID`（工作进程意外退出的任务"
     "会在 Tailor 重新启动时标记为失败，同样可以继续）。计划没有改变。"),
    (r"\bwandb\b|weights\s*(?:&|and)\s*biases|tensorboard|\bmlflow\b|\bcomet(?:\.ml)?\b|记录日志|训练日志",
     "Training is logged to Tailor's registry, not to outside services: **Jobs** shows each run's loss curve, progress "
     "and log as it runs, and **Registry** keeps its metrics with the adapter. The plan is unchanged.",
     "训练记录保存在 Tailor 自己的登记库里，不发送到外部服务：**Jobs** 实时显示每次运行的损失曲线、进度和日志，"
     "**Registry** 把指标和适配器存在一起。计划没有改变。"),
    (r"\bunsloth\b|\baxolotl\b|llama[- ]?factory",
     "Tailor trains with Hugging Face TRL and PEFT (bitsandbytes for QLoRA) and its own speed-ups (compiled layers, "
     "no wasted copies); Unsloth and the like are not used. The plan is unchanged.",
     "Tailor 用 Hugging Face TRL 和 PEFT 训练（QLoRA 用 bitsandbytes），加上自己的提速（编译的层、不做多余的拷贝）；"
     "不使用 Unsloth 之类的工具。计划没有改变。"),
    (r"stratif\w*|分层",
     "The held-out rows are drawn label by label for classification (stratified), so each label is measured in "
     "proportion, and rows with the same input stay on one side; other tasks' are drawn at random. It is not a plan "
     "setting. The plan is unchanged.",
     "分类任务的验证集按标签分层抽取，每个标签都按比例被评估，输入相同的行也留在同一边；其他任务随机抽取。"
     "这不是计划里的设置。计划没有改变。"),
    (r"weight[ _-]?decay|权重衰减",
     "Weight decay is 0 (Transformers' default) and not a plan setting: against over-fitting the plan has LoRA dropout "
     "(“dropout 0.1”) and early stopping (“stop early if it overfits”). The plan is unchanged.",
     "权重衰减为 0（Transformers 的默认值），不是计划里的设置：防过拟合可以用 LoRA dropout（“dropout 0.1”）和早停"
     "（“过拟合就提前停止”）。计划没有改变。"),
    (r"gguf|ollama|llama\.?cpp|lm ?studio|\bphones?\b|mobile|on-device|手机|端侧|移动端",
     "After training, the adapter's page in **Registry** exports it as GGUF (*Export as*, or `tailor adapters export "
     "NAME --gguf`): merged into its base, with an Ollama Modelfile. The plan is unchanged.",
     "训练完成后，在 **Registry** 的适配器页面可以导出 GGUF（*Export as*，或 `tailor adapters export NAME --gguf`）："
     "合并进基础模型，并附带 Ollama 的 Modelfile。计划没有改变。"),
    (r"\bdownload|hugging ?face (?:format|layout)|\bpeft\b|merged model|下载|"
     r"\bmerg(?:e|ed|ing)\b[^.?!]{0,40}\b(?:base|model|weights)\b|合并(?:进|到|成)?.{0,10}?(?:基础模型|基座|模型|权重)",
     "After training, **Registry** downloads the adapter as a zip in Hugging Face PEFT layout, or merged with its base "
     "into one full model. The plan is unchanged.",
     "训练完成后，在 **Registry** 可以把适配器下载为 Hugging Face PEFT 格式的 zip，或与基础模型合并成一个完整模型。"
     "计划没有改变。"),
    (r"better than the base|\bcompare\b.{0,30}\bbase\b|"
     r"\bhow\s+(?:will|do|can|would)\s+(?:i|we)\s+(?:know|tell|check|see)|比基座|和基座(?:比|对比)|怎么(?:知道|判断)(?:效果|好不好)",
     "After training, **Compare** has the base model and the adapter answer your prompts side by side; its *Evaluate "
     "on held-out data* scores both on the held-out rows, and its *Blind arena* lets you vote without knowing which "
     "is which. The plan is unchanged.",
     "训练完成后，在 **Compare** 里基础模型和适配器并排回答你的提示词；其中的“Evaluate on held-out data”在验证集上"
     "给两者打分，“Blind arena”可以在不知道是哪个模型的情况下投票。计划没有改变。"),
    (r"\bhow\s+(?:do|can|will|would|should)\s+(?:i|we)\s+use\s+(?:it|this|that|the\s+(?:adapter|model|result))|"
     r"(?:怎么|如何|怎样)(?:使用|用)(?:这个|它|训练好的)?(?:模型|适配器)?",
     "After training, the adapter is in **Registry**: **Compare** has it and the base model answer your prompts side "
     "by side, Tailor's OpenAI-compatible API at `/v1` answers with it, and it downloads as a PEFT zip, a merged "
     "model or a GGUF for Ollama. The plan is unchanged.",
     "训练完成后，适配器在 **Registry** 里：在 **Compare** 里它和基础模型并排回答你的提示词，Tailor 的 OpenAI 兼容接口 "
     "`/v1` 可以用它回答，也可以下载为 PEFT zip、合并后的完整模型或给 Ollama 用的 GGUF。计划没有改变。"),
    (r"\bapi\b|\bserve\b|\bserving\b|\bdeploy|endpoint|vllm|部署|接口|上线",
     "Trained adapters are answered by Tailor's OpenAI-compatible API at `/v1` (the adapter's page in **Registry** "
     "shows its `model` name; docs/SERVING.md covers vLLM). The plan is unchanged.",
     "训练好的适配器可以通过 Tailor 的 OpenAI 兼容接口 `/v1` 调用（**Registry** 的适配器页面给出它的 `model` 名；"
     "用 vLLM 部署见 docs/SERVING.md）。计划没有改变。"),
    (r"\bfull(?:[- ]param(?:eter)?s?)?[- ]fine[- ]?tun\w*|\bfull\s+(?:ft|training)\b|"
     r"\ball\s+(?:the\s+)?(?:weights|params|parameters)\b|全参数?微调|全量微调|全参数?训练",
     "Tailor trains LoRA or QLoRA adapters only: a small set of added weights on a frozen base, which fits your GPU, "
     "trains faster and lets one base model serve every adapter side by side. For more capacity, raise the rank "
     "(“rank 64”). The plan is unchanged.",
     "Tailor 只训练 LoRA 或 QLoRA 适配器：在冻结的基础模型上加一小组权重，放得进你的显卡、训练更快，"
     "一个基础模型还能同时服务所有适配器。想要更大的容量，可以提高秩（“秩 64”）。计划没有改变。"),
    (r"\b(?:dpo|orpo|kto|ppo|grpo|simpo|rlhf|rlaif)\b|\bpreference\s+(?:training|tuning|optimi[sz]ation|data|pairs)|"
     r"\breinforcement\s+learning|偏好(?:训练|优化|数据|对齐)|强化学习",
     "Tailor fine-tunes on examples of the answers you want (supervised fine-tuning); preference training (DPO, PPO "
     "and the like) is not offered. The plan is unchanged.",
     "Tailor 用你想要的回答样例做监督微调（SFT）；不提供偏好训练（DPO、PPO 等）。计划没有改变。"),
    (r"\btemperature\b|\btop[-_ ]?[pk]\b|\bsampling\b|\brepetition[-_ ]penalty\b|温度|采样|重复惩罚",
     "Temperature and top-p are settings of answering, not of training: give them with each request to the API "
     "(`temperature`, `top_p`); **Compare** answers greedily, so its side-by-side answers are repeatable. The plan "
     "is unchanged.",
     "温度和 top-p 是生成回答时的设置，不是训练的：调用 API 时在每个请求里给出（`temperature`、`top_p`）；**Compare** "
     "用贪心解码，并排对比的回答可以复现。计划没有改变。"),
)
"""What to say to a turn about what comes after training (export, download, serving) or about what Tailor does
not do (full fine-tuning, preference training, sampling settings), which the plan has no setting for: where Tailor
does it, or what it does instead, rather than "I did not understand"."""


def feature_note(low: str, zh: bool) -> str | None:
    """`FEATURES`' answer for a turn that asks about export, download or serving, or None (traditional characters
    and written Cantonese read as the simplified Mandarin the patterns are written in)."""
    from .cantonese import mandarin
    from .traditional import simplified

    low = mandarin(simplified(low))
    return next(((z if zh else en) for words, en, z in FEATURES if re.search(words, low)), None)
