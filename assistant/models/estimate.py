"""Memory and time estimates for a training run, built from components.

Peak memory = weights (fp32 on CPU, bf16, or NF4 4-bit with bf16 embeddings) + LoRA parameters with their
gradients and AdamW state (fp32) + activations (per token per layer, far less with gradient checkpointing)
+ the logits/loss buffer (tokens × vocabulary) + a fixed runtime overhead, times a fragmentation factor.

The coefficients are first-principles figures for Llama-style decoders with SDPA attention; the GPU
performance issue measures them on real hardware and corrects them here, with a note of where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import ModelShape

GIB = 1024**3

# Activation bytes kept per token per layer without checkpointing, in units of (hidden, intermediate)
# elements: attention inputs/outputs, norms, residuals (~16·h) and the MLP's gate/up/act (~6·i), at
# the compute precision, plus LoRA's saved inputs.
ACT_H, ACT_I = 16, 6
# Logits buffer per token per vocabulary entry: the logits at compute precision + an fp32 copy for the loss
# + its fp32 gradient.
LOGIT_BYTES_EXTRA = 8
CUDA_OVERHEAD_GB = 0.75  # CUDA context, cuBLAS workspace, allocator reserve
FRAGMENTATION = 1.10

# Known GPUs: memory (GiB), dense bf16/fp16 TFLOP/s, bf16 support.
GPUS: dict[str, tuple[float, float, bool]] = {
    "h200": (141, 989, True), "h100": (80, 989, True), "a100": (80, 312, True), "a100 40": (40, 312, True),
    "a6000": (48, 155, True), "l40s": (48, 362, True), "l40": (48, 181, True), "a10": (24, 125, True),
    "l4": (24, 121, True), "4090": (24, 165, True), "3090": (24, 71, True), "4080": (16, 97, True),
    "4070": (12, 58, True), "3080": (10, 60, True), "3060": (12, 25, True), "4060": (8, 30, True),
    "t4": (16, 65, False), "v100": (16, 125, False), "p100": (16, 19, False),
}
CPU_GFLOPS = 40.0  # effective fp32 rate of a small CPU on LoRA training; calibrated in bench/


@dataclass
class Estimate:
    weights_gb: float
    lora_gb: float
    activations_gb: float
    logits_gb: float
    overhead_gb: float
    peak_gb: float
    lora_params: int
    total_params: int

    def breakdown(self) -> str:
        return (f"weights {self.weights_gb:.1f} + LoRA/optimizer {self.lora_gb:.2f} + activations "
                f"{self.activations_gb:.1f} + logits {self.logits_gb:.1f} + overhead {self.overhead_gb:.1f} GB")


def param_count(s: ModelShape) -> int:
    head_dim = s.hidden // s.heads
    attn = 2 * s.hidden * s.hidden + 2 * s.hidden * s.kv_heads * head_dim
    mlp = 3 * s.hidden * s.intermediate
    emb = s.vocab * s.hidden * (1 if s.tied else 2)
    return s.layers * (attn + mlp) + emb


def lora_param_count(s: ModelShape, r: int) -> int:
    """LoRA parameters on all linear layers of every block: r·(in + out) per layer."""
    kv = s.kv_heads * (s.hidden // s.heads)
    dims = [(s.hidden, s.hidden), (s.hidden, kv), (s.hidden, kv), (s.hidden, s.hidden),
            (s.hidden, s.intermediate), (s.hidden, s.intermediate), (s.intermediate, s.hidden)]
    return s.layers * sum(r * (i + o) for i, o in dims)


def estimate_memory(shape: ModelShape, *, method: str, r: int, batch_size: int, seq_len: int,
                    gradient_checkpointing: bool, device: str) -> Estimate:
    """Predicted peak memory of one training step, in GiB, with its components."""
    n = param_count(shape)
    emb = shape.vocab * shape.hidden * (1 if shape.tied else 2)
    cpu = device == "cpu"
    act_bytes = 4 if cpu else 2
    if cpu:
        weights = n * 4
    elif method == "qlora":
        # NF4: half a byte per weight + double-quantised absmax (~0.03 B/weight); embeddings stay bf16.
        weights = (n - emb) * 0.53 + emb * 2
    else:
        weights = n * 2
    lora_n = lora_param_count(shape, r)
    lora = lora_n * 16  # fp32 weights + grads + AdamW m and v
    tokens = batch_size * seq_len
    per_layer_full = (ACT_H * shape.hidden + ACT_I * shape.intermediate) * act_bytes * tokens
    if gradient_checkpointing:
        acts = shape.layers * shape.hidden * act_bytes * tokens + per_layer_full
    else:
        acts = shape.layers * per_layer_full
    logits = tokens * shape.vocab * (act_bytes + LOGIT_BYTES_EXTRA)
    overhead = 0.0 if cpu else CUDA_OVERHEAD_GB * GIB
    peak = (weights + lora + acts + logits) * FRAGMENTATION + overhead
    return Estimate(weights / GIB, lora / GIB, acts / GIB, logits / GIB, overhead / GIB, peak / GIB, lora_n, n)


def estimate_minutes(total_params: int, tokens: int, *, device: str, gpu_tflops: float,
                     gradient_checkpointing: bool) -> float:
    """Training time: forward + backward ≈ 4·N FLOPs per token for LoRA (6·N with recomputation)."""
    flops = (6 if gradient_checkpointing else 4) * total_params * tokens
    rate = CPU_GFLOPS * 1e9 if device == "cpu" else gpu_tflops * 1e12 * 0.35
    return flops / rate / 60


def gpu_info(name: str) -> tuple[float, float, bool] | None:
    """(memory GiB, TFLOP/s, bf16) for a GPU name such as 'RTX 4090' or 'NVIDIA A100-SXM4-40GB'."""
    low = name.lower()
    for key in sorted(GPUS, key=len, reverse=True):
        if all(part in low for part in key.split()):
            return GPUS[key]
    return None
