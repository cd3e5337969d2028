"""The one mapping from a Plan to PEFT's LoraConfig, bitsandbytes' 4-bit config and TRL's SFTConfig.

Every data format becomes conversational prompt/completion examples (see assistant/data/prepare.py), so
TRL applies the base model's chat template and computes the loss on the answer only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.tokenize import DEFAULT_CHAT_TEMPLATE
from ..plan import Plan

GPU_LOGGING_STEPS = 10
"""Steps between loss reports on a GPU (every step on a CPU, where a step takes seconds)."""


def lora_config(plan: Plan):
    from peft import LoraConfig

    lo = plan.lora
    return LoraConfig(r=lo.r, lora_alpha=lo.alpha, lora_dropout=lo.dropout, target_modules=lo.target_modules,
                      bias="none", task_type="CAUSAL_LM")


def quantization_config(plan: Plan):
    """NF4 with double quantization for QLoRA, computing in the plan's precision (bf16, or fp16 on a card without
    bf16); None for LoRA."""
    if plan.lora.method != "qlora":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.float16 if plan.training.precision == "fp16"
                              else torch.bfloat16)


def precision_on_this_gpu(plan: Plan, log) -> None:
    """A bf16 plan that reaches a GPU without bf16 (it was made for another card, or for one the catalog does not
    know) trains in fp16 there, and says so: emulated bf16 would run every matmul without tensor cores, and
    torch.compile skips bf16 graphs on such a card. The plan then records what ran."""
    if plan.training.precision != "bf16" or plan.resources.device == "cpu":
        return
    import torch

    from ..models.resolve import native_bf16

    if torch.cuda.is_available() and not native_bf16():
        plan.training.precision = "fp16"
        log(f"{torch.cuda.get_device_name()} has no bf16 (it is older than NVIDIA's Ampere cards): training in "
            "fp16 instead, with the loss scaled")


def sft_config_kwargs(plan: Plan, output_dir: str | Path, has_eval: bool) -> dict[str, Any]:
    """SFTConfig arguments, field by field from the plan (kept as a dict so it can be unit-tested cheaply)."""
    t = plan.training
    cpu = plan.resources.device == "cpu"
    kw: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.scheduler,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        max_length=t.max_length,
        packing=t.packing,
        gradient_checkpointing=t.gradient_checkpointing,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        seed=t.seed,
        data_seed=t.seed,
        completion_only_loss=t.completion_only_loss,
        # On a GPU each log turns device tensors into numbers, a synchronisation that stalls the queue of kernels.
        logging_steps=1 if cpu else GPU_LOGGING_STEPS,
        logging_first_step=True,
        report_to=[],
        save_strategy="steps" if t.save_steps else "epoch",
        save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit,
        eval_strategy=("steps" if t.eval_steps else "epoch") if has_eval else "no",
        eval_steps=t.eval_steps or None,
        load_best_model_at_end=has_eval and t.early_stopping_patience > 0,
        metric_for_best_model="eval_loss" if has_eval else None,
        dataloader_num_workers=0,
        dataloader_pin_memory=not cpu,
        use_cpu=cpu,
        disable_tqdm=True,
        dataset_num_proc=None,
        # On a GPU both are one `.item()` per step: the lean trainer counts tokens on the device instead, and a
        # NaN loss still shows in the logged loss.
        include_num_input_tokens_seen="non_padding" if cpu else "no",
        logging_nan_inf_filter=cpu,
    )
    if kw["load_best_model_at_end"]:  # the best evaluation must have a checkpoint: save when evaluating
        every = t.eval_steps
        if every and (not t.save_steps or t.save_steps % every):
            kw.update(save_strategy="steps", save_steps=every)
        elif not every:
            kw.update(save_strategy="epoch")
    return kw


def load_base(plan: Plan, source: str):
    """The base model, loaded for training: fp32 on CPU, bf16 (or fp16) on GPU, 4-bit for QLoRA."""
    import torch
    from transformers import AutoModelForCausalLM

    cpu = plan.resources.device == "cpu"  # its threads: the worker's share of the cores (machine.py)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[plan.training.precision]
    kwargs: dict[str, Any] = {"dtype": dtype}
    q = quantization_config(plan)
    if q is not None:
        kwargs.update(quantization_config=q, device_map={"": 0})
    elif not cpu:
        kwargs.update(device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    model.config.use_cache = False
    return model


def ensure_chat_template(tokenizer) -> bool:
    """Give a tokenizer without a chat template the documented default. True when it had to."""
    if tokenizer.chat_template:
        return False
    tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    return True


def trainer_class():
    """The trainer every job uses: TRL's SFTTrainer with Tailor's leaner loss (train/lean_trainer.py)."""
    from .lean_trainer import lean_trainer_class

    return lean_trainer_class()
