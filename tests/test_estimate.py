"""The memory estimator against worked figures (Llama-3.1-8B: 8.03B parameters, 41.9M LoRA r=16)."""

from assistant.models.catalog import find
from assistant.models.estimate import GIB, estimate_memory, gpu_info, lora_param_count, param_count

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
    # bf16 weights: 2 bytes per parameter
    assert abs(lora.weights_gb - 8_029_995_008 * 2 / GIB) < 1e-6
    # LoRA weights + grads + AdamW moments in fp32: 16 bytes per trainable parameter
    assert abs(lora.lora_gb - 41_943_040 * 16 / GIB) < 1e-6
    # logits: tokens × vocab × (2 bf16 + 8 fp32 loss buffers)
    assert abs(lora.logits_gb - 4 * 2048 * 128256 * 10 / GIB) < 1e-6
    assert ckpt.activations_gb < lora.activations_gb / 10
    assert 4.5 < qlora.weights_gb < 6.0  # 4-bit body + bf16 embeddings
    parts = lora.weights_gb + lora.lora_gb + lora.activations_gb + lora.logits_gb
    assert abs(lora.peak_gb - (parts * 1.10 + lora.overhead_gb)) < 1e-6


def test_cpu_estimate_uses_fp32_and_no_cuda_overhead():
    e = estimate_memory(find("SmolLM2-135M-Instruct").shape, method="lora", r=16, batch_size=8, seq_len=128,
                        gradient_checkpointing=False, device="cpu")
    assert e.overhead_gb == 0 and abs(e.weights_gb - e.total_params * 4 / GIB) < 1e-9


def test_gpu_names_are_recognised():
    assert gpu_info("NVIDIA GeForce RTX 4090")[0] == 24
    assert gpu_info("Tesla T4")[2] is False
    assert gpu_info("NVIDIA H100 80GB HBM3")[0] == 80
    assert gpu_info("mystery card") is None
