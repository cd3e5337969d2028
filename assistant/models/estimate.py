"""Memory and time estimates for a training run, built from components.

Peak memory = weights (fp32 on CPU, bf16, or NF4 4-bit with bf16 embeddings) + LoRA parameters with their
gradients and AdamW state + activations (what autograd keeps per token per layer; one layer's input per layer
with gradient checkpointing) + the LM head's logits buffer + attention masks + a fixed runtime overhead, times a
fragmentation factor.

Where the coefficients come from:
- Activations: measured, not guessed. `bench/activation_bytes.py` adds up the storages autograd keeps for the
  backward pass (saved-tensor hooks) in 1- and 2-layer models of the catalog's real layer shapes, bf16 weights,
  LoRA r=16 on all linear layers, under bf16 autocast as the trainer runs. The formula below reproduces those
  measurements to the byte for SmolLM2-135M, Qwen2.5-0.5B, Llama-3.2-1B and Llama-3.1-8B layer shapes (see
  docs/BENCHMARKS.md), term by term: two RMSNorms keep an fp32 copy of their input (4h each) and 1/rms; each
  LoRA module with fp32 adapters keeps its own bf16 cast of its input (q, k, v, o, gate, up: 2h each; down: 2i),
  with bf16 adapters (QLoRA) modules that share an input share it; SDPA keeps q, k, v, its output and the
  log-sum-exp (fp32 per head); the MLP keeps gate, up and SiLU(gate) (2i each); each LoRA A keeps its r-wide
  output; LoRA dropout adds a mask and a dropped copy (4 bytes per input element).
- Logits: the trainer's lean head (assistant/train/recipe.py) runs at most `HEAD_CHUNK_ELEMENTS` logits at once,
  so the buffer is bounded whatever the batch: bf16 logits + an fp32 copy + the fp32 log-softmax (10 bytes per
  logit). A model the lean head leaves to TRL (other logit scaling, MoE auxiliary losses; none in the catalog)
  gets TRL's fused LM head, whose one reused tile (4,096 tokens × 32,768 entries in the compute dtype: 256 MiB
  in bf16) is smaller than the lean chunk it is counted as.
- Not yet measured on a GPU (no GPU was lent to the task that wrote this): the CUDA context and cuBLAS
  workspace (`CUDA_OVERHEAD_GB`) and the allocator's fragmentation (`FRAGMENTATION`); `bench/gpu_train.py grid`
  measures them against this estimate across 24 configurations.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import ModelShape

GIB = 1024**3

HEAD_CHUNK_ELEMENTS = 2**26
"""Most logits the lean LM head holds at once (the trainer's `head_chunk_elements`): 441 positions of a 152k
vocabulary."""
LOGIT_BYTES = 10  # per logit on a GPU: bf16 logits + fp32 copy + fp32 log-softmax kept for the backward pass
CUDA_OVERHEAD_GB = 0.75  # CUDA context, cuBLAS workspace, allocator reserve
FRAGMENTATION = 1.10

# Known GPUs: memory (GiB), dense bf16/fp16 TFLOP/s, bf16 support. The longest name a GPU's name holds every word
# of wins ("NVIDIA H100 PCIe" is the PCIe card, "NVIDIA H100 80GB HBM3" the SXM one).
GPUS: dict[str, tuple[float, float, bool]] = {
    "h200": (141, 989, True), "gh200": (96, 989, True), "gh200 144": (144, 989, True), "h100": (80, 989, True),
    "h100 pcie": (80, 756, True), "h100 nvl": (94, 835, True), "a100": (80, 312, True), "a100 40": (40, 312, True),
    "a6000": (48, 155, True), "l40s": (48, 362, True), "l40": (48, 181, True), "a10": (24, 125, True),
    "l4": (24, 121, True), "4090": (24, 165, True), "3090": (24, 71, True), "4080": (16, 97, True),
    "4070": (12, 58, True), "3080": (10, 60, True), "3060": (12, 25, True), "4060": (8, 30, True),
    "t4": (16, 65, False), "v100": (16, 125, False), "p100": (16, 19, False),
    "h800": (80, 989, True), "a800": (80, 312, True), "h20": (96, 148, True), "l20": (48, 119, True),
    "a40": (48, 150, True), "a30": (24, 165, True), "a10g": (24, 70, True), "2080 ti": (11, 54, False),
    "2080": (8, 40, False), "3080 ti": (12, 68, True), "3090 ti": (24, 80, True), "4070 ti": (12, 80, True),
    "4060 ti": (8, 44, True), "3070": (8, 40, True), "3060 ti": (8, 32, True), "2070": (8, 30, False),
    "2060": (6, 26, False), "1660": (6, 10, False), "1080 ti": (11, 11, False), "1080": (8, 9, False),
    "1070": (8, 6.5, False), "5090": (32, 209, True), "5080": (16, 113, True), "a4000": (16, 77, True),
    "a5000": (24, 111, True), "6000 ada": (48, 364, True), "p40": (24, 12, False),
}


MEMORY_BUDGET = 0.92
"""The share of a GPU's memory a plan may fill; the rest is left to CUDA's context, fragmentation and chance."""


@dataclass(frozen=True)
class Hardware:
    """Where a run trains: a GPU by name and memory (GiB), or the CPU (`CPU`, memory 0)."""

    name: str = ""
    memory_gb: float = 0.0

    @property
    def gpu(self) -> bool:
        return self.memory_gb > 0

    @property
    def budget_gb(self) -> float:
        """The memory a plan may use (`MEMORY_BUDGET` of the GPU's)."""
        return self.memory_gb * MEMORY_BUDGET


CPU = Hardware()


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

    @property
    def allocated_gb(self) -> float:
        """What the tensors themselves need at the peak (compare with torch.cuda.max_memory_allocated)."""
        return self.weights_gb + self.lora_gb + self.activations_gb + self.logits_gb

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


def activation_bytes_per_token_layer(hidden: int, intermediate: int, heads: int, kv_heads: int, *, method: str,
                                     r: int, dropout: bool, device: str = "cuda", precision: str = "bf16",
                                     compiled: bool = False) -> float:
    """Bytes autograd keeps per token in one decoder layer (measured: bench/activation_bytes.py, exact on every
    case and shape measured).

    bf16 plans train bf16 LoRA factors (fp32 masters in the optimizer, `train/master_weights.py`), as QLoRA's are;
    other GPU plans (fp16, on cards without bf16: QLoRA's factors too) keep fp32 factors, whose inputs autocast
    casts per module (fp16 QLoRA is counted so, unmeasured). A compiled layer
    (`train/compiled.py`) keeps less: TorchInductor's partitioner recomputes the norms' outputs and the MLP's
    activation in the backward pass instead of keeping them. Compiled fp32 factors and compiled 4-bit layers
    are not measured (no CPU can run the latter): counted as eager, the side that does not run out of memory."""
    h, i, kv = hidden, intermediate, kv_heads * (hidden // heads)
    if device == "cpu":  # fp32 throughout, no autocast casts: the shared pattern at 4 bytes
        return 2 * (16 * h + 8 * i + 4 * kv + 14 * r) + 4 * heads + 8 + (8 * (6 * h + i) if dropout else 0)
    rest = 4 * kv + 4 * heads + 14 * r + 8  # k, v, the log-sum-exp, the adapters' r-wide outputs
    if precision == "fp16" or (method != "qlora" and precision != "bf16"):  # fp32 factors (QLoRA's too, under
        # fp16: `lean_trainer.fp32_trained`): q, k, v, o, gate, up keep their own 16-bit cast of their input
        return 24 * h + 8 * i + rest + (4 * (6 * h + i) if dropout else 0)
    if compiled and method != "qlora":
        return 12 * h + 6 * i + rest + ((14 * h + i) if dropout else 0)
    return 16 * h + 8 * i + rest + ((20 * h + 2 * i) if dropout else 0)


def estimate_memory(shape: ModelShape, *, method: str, r: int, batch_size: int, seq_len: int,
                    gradient_checkpointing: bool, device: str, dropout: float = 0.0,
                    precision: str = "bf16", compiled: bool = False) -> Estimate:
    """Predicted peak memory of one training step, in GiB, with its components.

    `batch_size × seq_len` is the most tokens a step holds: packed rows are full, padded rows are at most
    `seq_len` long. `precision` is the plan's (bf16: trained factors in bf16 with fp32 masters); `compiled`
    whether its decoder layers are compiled (`training.compile`).
    """
    n = param_count(shape)
    emb = shape.vocab * shape.hidden * (1 if shape.tied else 2)
    cpu = device == "cpu"
    if cpu:
        weights = n * 4
    elif method == "qlora":
        # NF4: half a byte per weight + double-quantised absmax (~0.03 B/weight); embeddings stay bf16; plus the
        # one dequantised bf16 weight the backward pass of a 4-bit layer needs at a time.
        weights = (n - emb) * 0.53 + emb * 2 + 2 * shape.hidden * shape.intermediate * 2
    else:
        weights = n * 2
    lora_n = lora_param_count(shape, r)
    if cpu:
        lora = lora_n * 16  # fp32 weights + grads + AdamW m and v
    elif precision == "bf16":
        # bf16 weights and grads (2 + 2), fp32 masters (4) with their fp32 gradient sums (4), AdamW m and v (8)
        lora = lora_n * 20
    elif method == "qlora" and precision != "fp16":
        lora = lora_n * 8  # TRL keeps QLoRA adapters in bf16: weights, grads, AdamW m and v at 2 bytes
    else:
        lora = lora_n * 18  # fp32 weights, grads, m, v + autocast's bf16 copy of each adapter weight
    tokens = batch_size * seq_len
    per_layer = activation_bytes_per_token_layer(shape.hidden, shape.intermediate, shape.heads, shape.kv_heads,
                                                 method=method, r=r, dropout=dropout > 0, device=device,
                                                 precision=precision, compiled=compiled) * tokens
    act_bytes = 4 if cpu else 2
    if gradient_checkpointing:  # each layer's input, plus one layer recomputed at a time in the backward pass
        acts = shape.layers * shape.hidden * act_bytes * tokens + per_layer
    else:
        acts = shape.layers * per_layer
    # final norm (fp32 copy) + the trained positions' hidden states gathered for the head + the attention mask
    acts += tokens * shape.hidden * (4 + act_bytes) + batch_size * seq_len * seq_len
    positions = min(tokens, max(1, HEAD_CHUNK_ELEMENTS // shape.vocab))  # the lean head's chunk (soft-capped too)
    logits = positions * shape.vocab * (12 if cpu else LOGIT_BYTES)
    overhead = 0.0 if cpu else CUDA_OVERHEAD_GB * GIB
    peak = (weights + lora + acts + logits) * FRAGMENTATION + overhead
    return Estimate(weights / GIB, lora / GIB, acts / GIB, logits / GIB, overhead / GIB, peak / GIB, lora_n, n)


GPU_MFU = ((0.49, 0.082), (1.24, 0.161), (8.03, 0.256))
"""(billions of parameters, share of the GPU's dense bf16 rate a planned LoRA run reaches), measured on an H100
(issue 17: Qwen2.5-0.5B 40,577 tokens/s, Llama-3.2-1B 32,242, Llama-3.1-8B 7,875); interpolated on log size."""


def gpu_mfu(params_b: float) -> float:
    import math

    points = GPU_MFU
    if params_b <= points[0][0]:
        return points[0][1]
    if params_b >= points[-1][0]:
        return points[-1][1]
    for (b0, m0), (b1, m1) in zip(points, points[1:]):
        if b0 <= params_b <= b1:
            w = (math.log(params_b) - math.log(b0)) / (math.log(b1) - math.log(b0))
            return m0 + w * (m1 - m0)
    return points[-1][1]


def compute_params(shape: ModelShape, total_params: int) -> int:
    """Parameters whose matmuls every token pays for: the embedding is a lookup, and the lean LM head computes
    logits only where an answer is trained (`estimate_minutes` counts those), so the vocabulary matrices are left
    out."""
    return max(1, total_params - shape.vocab * shape.hidden * (1 if shape.tied else 2))


def estimate_minutes(shape: ModelShape, total_params: int, tokens: int, *, device: str, gpu_tflops: float,
                     gradient_checkpointing: bool, trained_tokens: int = 0) -> float:
    """Training time: forward + backward ≈ 4·N FLOPs per token for LoRA (6·N with recomputation). On a CPU,
    N is `compute_params` at the rate measured on this CPU (`cpu_speed.train_gflops`; its share of a matmul's
    rate fitted by bench/time_estimate.py), and each of the `trained_tokens` (the answers' tokens, which the lean
    head computes logits for) adds the head's 4·vocab·hidden (its forward and the backward to its input; the head
    is frozen); on a GPU, N is every parameter at the share of the card's rate planned runs were measured to reach
    (`gpu_mfu`, defined on all parameters and every token)."""
    factor = 6 if gradient_checkpointing else 4
    if device == "cpu":
        from .cpu_speed import train_gflops

        flops = factor * compute_params(shape, total_params) * tokens + 4 * shape.vocab * shape.hidden * trained_tokens
        return flops / (train_gflops() * 1e9) / 60
    rate = gpu_tflops * 1e12 * gpu_mfu(total_params / 1e9)
    return factor * total_params * tokens / rate / 60


def qlora_floor_gb(params_b: float) -> float:
    """The least GPU memory QLoRA on a model of this many billion parameters needs, for a model whose shape is not
    known: 4-bit weights with their quantisation constants (~0.56 GB per billion), about 1.5 GB of LoRA state and
    short-batch activations, and the CUDA context."""
    return params_b * 0.56 + 1.5 + CUDA_OVERHEAD_GB


def gpu_info(name: str) -> tuple[float, float, bool] | None:
    """(memory GiB, TFLOP/s, bf16) for a GPU name such as 'RTX 4090' or 'NVIDIA A100-SXM4-40GB'."""
    low = name.lower()
    for key in sorted(GPUS, key=len, reverse=True):
        if all(part in low for part in key.split()):
            return GPUS[key]
    return None


def lacks_bf16(name: str) -> bool:
    """Whether the named GPU is one the catalog knows to compute bf16 only by emulation (cards before NVIDIA's
    Ampere: T4, V100, the RTX 20 series, P100). Such a card trains in fp16: emulated bf16 runs its matmuls without
    tensor cores, and Triton (torch.compile) has no bf16 for it. An unknown name is taken to have bf16; the worker
    checks the card it actually trains on (`recipe.precision_on_this_gpu`)."""
    info = gpu_info(name) if name else None
    return info is not None and not info[2]
