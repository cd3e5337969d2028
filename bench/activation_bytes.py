"""Activation memory per token per decoder layer, measured by what autograd keeps, for the estimator.

Runs on a CPU: real architectures' layer sizes (catalog shapes, small vocabulary), bf16 weights, LoRA r=16 on
all linear layers, under bf16 autocast as the trainer runs them, flash-style SDPA (keeps q, k, v, the output and
the log-sum-exp, as the GPU kernels do). A saved-tensors hook adds up the distinct storages autograd keeps for the
backward pass (parameters excluded) in a 1-layer and a 2-layer model; the difference is one layer's activations.
Each layer is measured at two token counts: the per-token slope is the activations, compared with
`assistant.models.estimate.activation_bytes_per_token_layer`; what does not grow with the tokens is autocast's
bf16 copies of the adapter weights.

    .venv/bin/python bench/activation_bytes.py            # all four shapes, about 8 minutes
    .venv/bin/python bench/activation_bytes.py --quick    # two small shapes, for a smoke run

What this cannot see: transient buffers inside a step (the LM head's logits, bitsandbytes' dequantised weight,
cuBLAS workspaces). Those are modelled separately in the estimator and checked on a GPU by bench/gpu_train.py.
"""

from __future__ import annotations

import argparse
import json

import torch

SHAPES = {  # hidden, intermediate, heads, kv heads (catalog shapes)
    "SmolLM2-135M": (576, 1536, 9, 3),
    "Qwen2.5-0.5B": (896, 4864, 14, 2),
    "Llama-3.2-1B": (2048, 8192, 32, 8),
    "Llama-3.1-8B": (4096, 14336, 32, 8),
}
BF16 = torch.bfloat16
CASES = {  # what each plan trains: bf16 plans keep bf16 LoRA factors (fp32 masters in the optimizer); fp16 plans
    # keep PEFT's fp32 factors under autocast; QLoRA's are bf16 (a 4-bit layer keeps nothing of its own).
    "lora": dict(dropout=0.0, adapter_dtype=BF16),
    "lora+dropout": dict(dropout=0.05, adapter_dtype=BF16),
    "lora+checkpointing": dict(dropout=0.0, adapter_dtype=BF16, checkpointing=True),
    "lora compiled": dict(dropout=0.0, adapter_dtype=BF16, compiled=True),
    "lora+dropout compiled": dict(dropout=0.05, adapter_dtype=BF16, compiled=True),
    "lora+checkpointing compiled": dict(dropout=0.0, adapter_dtype=BF16, checkpointing=True, compiled=True),
    "lora fp32 factors": dict(dropout=0.0, adapter_dtype=None),
    "lora+dropout fp32 factors": dict(dropout=0.05, adapter_dtype=None),
    "qlora": dict(dropout=0.0, adapter_dtype=BF16, method="qlora"),
}


def expected(shape, case: str, r: int = 16) -> float:
    """The estimator's bytes per token per layer for a case."""
    from assistant.models.estimate import activation_bytes_per_token_layer

    h, i, heads, kv = shape
    kw = CASES[case]
    if kw.get("checkpointing"):
        return 2 * h  # each layer's bf16 input (one layer is recomputed at a time: counted apart)
    return activation_bytes_per_token_layer(h, i, heads, kv, method=kw.get("method", "lora"), r=r,
                                            dropout=kw["dropout"] > 0, compiled=kw.get("compiled", False),
                                            precision="bf16" if kw["adapter_dtype"] is not None else "fp16")


def saved_bytes(
    shape, layers: int, tokens: int, *, dropout: float, adapter_dtype, checkpointing: bool = False, r: int = 16,
    compiled: bool = False, method: str = "lora"
) -> int:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    h, i, heads, kv = shape
    cfg = LlamaConfig(
        hidden_size=h,
        intermediate_size=i,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        vocab_size=512,
        num_hidden_layers=layers,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
    model = get_peft_model(
        model,
        LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    if adapter_dtype is not None:
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.to(adapter_dtype)
    model.train()
    if checkpointing:  # as the trainer sets it: non-reentrant, so the hooks below see what each layer keeps
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if compiled:  # as the worker does on a GPU: each decoder layer compiled after the PEFT wrap
        from assistant.train.compiled import compile_layers

        torch._dynamo.reset()
        layers = compile_layers(model, lambda line: None, dynamic=False)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            kept[s.data_ptr()] = s.nbytes()
        return t

    ids = torch.randint(0, 500, (1, tokens))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16):
        model.get_base_model().model(input_ids=ids, use_cache=False)
    if compiled:
        assert layers.failed is None, layers.failed
    return sum(kept.values())


def per_layer(shape, tokens: int, **case) -> tuple[float, float]:
    """(bytes per token, bytes independent of the token count) that one more layer adds.

    Measured at `tokens` and twice as many: the per-token slope is the activations; what does not grow with the
    tokens is autocast's bf16 copies of the adapter weights (the estimator counts them with the LoRA state)."""
    one = saved_bytes(shape, 2, tokens, **case) - saved_bytes(shape, 1, tokens, **case)
    two = saved_bytes(shape, 2, 2 * tokens, **case) - saved_bytes(shape, 1, 2 * tokens, **case)
    slope = (two - one) / tokens
    return slope, one - slope * tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small shapes only")
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()
    shapes = dict(list(SHAPES.items())[:2]) if args.quick else SHAPES
    from assistant.models.catalog import ModelShape
    from assistant.models.estimate import lora_param_count

    print(f"torch {torch.__version__}; per decoder layer, bf16 weights, LoRA r=16 on all linear layers, autocast bf16")
    print("| shape | case | measured bytes/token | estimator | error | per-step constant (B) | 2 B × LoRA params |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for name, shape in shapes.items():
        h, i, heads, kv = shape
        lora = lora_param_count(ModelShape(h, i, 1, heads, kv, 512), 16)  # one layer's adapters
        for case, kw in CASES.items():
            slope, constant = per_layer(shape, args.tokens, **kw)
            est = expected(shape, case)
            worst = max(worst, abs(est - slope) / slope)
            casts = 2 * lora if kw["adapter_dtype"] is None and not kw.get("checkpointing") else 0
            print(
                f"| {name} | {case} | {slope:,.0f} | {est:,.0f} | {100 * (est - slope) / slope:+.2f}% "
                f"| {constant:,.0f} | {casts:,} |",
                flush=True,
            )
    print(json.dumps({"worst_relative_error": round(worst, 5)}))


if __name__ == "__main__":
    main()
