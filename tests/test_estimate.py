"""The memory estimator against worked figures (Llama-3.1-8B: 8.03B parameters, 41.9M LoRA r=16)."""

import dataclasses
import sys
from pathlib import Path

import pytest

from assistant.models.catalog import find
from assistant.models.estimate import (
    GIB,
    HEAD_CHUNK_ELEMENTS,
    activation_bytes_per_token_layer,
    estimate_memory,
    gpu_info,
    lora_param_count,
    param_count,
)

LLAMA8B = find("Llama-3.1-8B-Instruct").shape


def test_parameter_counts_match_the_published_models():
    assert param_count(LLAMA8B) == 8_029_995_008
    assert lora_param_count(LLAMA8B, 16) == 41_943_040  # what PEFT prints for r=16, all linear layers
    assert abs(param_count(find("Qwen2.5-0.5B-Instruct").shape) / 1e9 - 0.494) < 0.01


def test_components_add_up_and_follow_the_settings():
    kw = dict(r=16, batch_size=4, seq_len=2048, device="cuda")
    lora = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, **kw)
    ckpt = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=True, **kw)
    qlora = estimate_memory(LLAMA8B, method="qlora", gradient_checkpointing=True, **kw)
    dropped = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, dropout=0.05, **kw)
    # bf16 weights: 2 bytes per parameter
    assert abs(lora.weights_gb - 8_029_995_008 * 2 / GIB) < 1e-6
    # LoRA in fp32: weights + grads + AdamW m, v (16 bytes) + autocast's bf16 copy (2); QLoRA's bf16 adapters: 8
    assert abs(lora.lora_gb - 41_943_040 * 18 / GIB) < 1e-6
    assert abs(qlora.lora_gb - 41_943_040 * 8 / GIB) < 1e-6
    # the lean head holds at most HEAD_CHUNK_ELEMENTS logits at 10 bytes, however many tokens the step has
    positions = HEAD_CHUNK_ELEMENTS // 128256
    assert abs(lora.logits_gb - positions * 128256 * 10 / GIB) < 1e-6
    assert ckpt.activations_gb < lora.activations_gb / 10
    assert dropped.activations_gb > lora.activations_gb * 1.3  # dropout keeps a mask and a copy per LoRA input
    assert 4.5 < qlora.weights_gb < 6.0  # 4-bit body + bf16 embeddings
    parts = lora.weights_gb + lora.lora_gb + lora.activations_gb + lora.logits_gb
    assert abs(lora.allocated_gb - parts) < 1e-9
    assert abs(lora.peak_gb - (parts * 1.10 + lora.overhead_gb)) < 1e-6


def test_a_soft_capped_model_is_charged_every_tokens_logits():
    """Gemma 2's logit soft-capping takes TRL's own loss path, which holds the logits of the whole batch."""
    shape = find("gemma-2-2b-it").shape
    assert shape.softcapped
    lean = dataclasses.replace(shape, softcapped=False)
    kw = dict(method="lora", r=16, batch_size=8, seq_len=1024, gradient_checkpointing=True, device="cuda")
    assert abs(estimate_memory(shape, **kw).logits_gb - 8 * 1024 * 256000 * 10 / GIB) < 1e-6
    assert estimate_memory(lean, **kw).logits_gb < estimate_memory(shape, **kw).logits_gb / 10


@pytest.mark.parametrize("case", ["lora", "lora+dropout", "qlora", "lora+checkpointing"])
def test_activation_formula_matches_what_autograd_keeps(case):
    """The estimator's per-layer activation bytes equal what autograd actually keeps for the backward pass
    (saved-tensor hooks, bench/activation_bytes.py) in a small real Llama layer, bf16 under autocast."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from activation_bytes import CASES, per_layer

    h, i, heads, kv = 128, 352, 8, 2
    measured, _ = per_layer((h, i, heads, kv), 32, **CASES[case])
    expected = 2 * h if case.endswith("checkpointing") else activation_bytes_per_token_layer(
        h, i, heads, kv, method="qlora" if case == "qlora" else "lora", r=16, dropout="dropout" in case)
    assert measured == expected, (case, measured, expected)


def test_cpu_estimate_uses_fp32_and_no_cuda_overhead():
    e = estimate_memory(find("SmolLM2-135M-Instruct").shape, method="lora", r=16, batch_size=8, seq_len=128,
                        gradient_checkpointing=False, device="cpu")
    assert e.overhead_gb == 0 and abs(e.weights_gb - e.total_params * 4 / GIB) < 1e-9


def test_gpu_names_are_recognised():
    assert gpu_info("NVIDIA GeForce RTX 4090")[0] == 24
    assert gpu_info("Tesla T4")[2] is False
    assert gpu_info("NVIDIA H100 80GB HBM3")[0] == 80
    assert gpu_info("mystery card") is None
