"""The engine's fast paths for many adapters on one base: oneDNN-prepacked Linear weights on a CPU, per-row
LoRA as two batched matmuls per layer (each row of a batch with its own adapter), and a decoding loop that does
not wait for the GPU every step."""

from __future__ import annotations

import contextlib

BASE = "__base__"
DEFER_STOP_ON = ("cuda",)
"""Devices on which `generate` reads "has every row finished?" one step late (`deferred_stop`)."""


def pack_linear_for_cpu(model) -> int:
    """Give every fp32 nn.Linear a oneDNN-prepacked copy of its weight and a forward that uses it.

    MKL's small-batch matmul on some CPUs costs nearly one full pass over the weights per row; oneDNN's packed
    kernel reads them once for the whole batch (5 rows: 2.6x faster on the dev machine, 1 row: the same).
    The original weights stay (PEFT reads their shapes); the packed copies are never updated, which is fine
    because the engine never merges or trains. Returns how many layers were packed (0 when oneDNN is missing).
    """
    import types

    import torch

    try:
        reorder, linear = torch.ops.mkldnn._reorder_linear_weight, torch.ops.mkldnn._linear_pointwise
        probe = torch.zeros(2, 4)
        linear(torch.zeros(1, 4), reorder(probe, None), None, "none", [], "")
    except (AttributeError, RuntimeError):
        return 0
    count = 0
    for m in model.modules():
        if type(m) is torch.nn.Linear and m.weight.dtype == torch.float32 and m.weight.device.type == "cpu":
            m._packed_weight = reorder(m.weight.detach(), None)
            m.forward = types.MethodType(_packed_forward, m)
            count += 1
    return count


def _packed_forward(self, x):
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, self._packed_weight, self.bias, "none", [], "")


def kv_bytes_per_token(model) -> int:
    """Bytes one token of one row takes in the model's key/value cache (keys and values of every layer)."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return 2 * cfg.num_hidden_layers * heads * head_dim * next(model.parameters()).element_size()


def _lora_layers(model):
    from peft.tuners.lora.layer import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def fusable(model, names: list[str]) -> bool:
    """Whether every LoRA layer is a plain Linear LoRA (no DoRA or other variants) for the rows' adapters."""
    from peft.tuners.lora.layer import Linear

    wanted = {n for n in names if n != BASE}
    for m in _lora_layers(model):
        if not isinstance(m, Linear) or any(n in getattr(m, "lora_variant", {}) for n in wanted) or m.merged:
            return False
    return True


class per_row_lora:
    """Per-row adapters as two plain matmuls per layer, instead of PEFT's loop over adapters.

    For one generate call the row → adapter assignment is fixed. Each LoRA layer concatenates the A factors of
    the adapters in the batch into one [in, K] matrix and their B factors (already times the scaling) into one
    [K, out] matrix (K = the sum of their ranks); a [rows, K] mask keeps each row to its own adapter's slots (all
    zeros for a base row). The layer computes base(x) + ((x @ A) * mask) @ B: the same arithmetic as PEFT's
    mixed batch (dropout is off in eval), two GEMMs whatever the number of rows, and memory for the factors
    once, not once per row. The tensors live in buffers reused from call to call when their shapes repeat, so
    a captured CUDA graph (static-cache decoding) finds them at the same address. The layers' own forward
    comes back on exit.
    """

    def __init__(self, model, names: list[str]):
        self.model, self.names = model, names

    def __enter__(self):
        import types

        import torch

        self.layers = _lora_layers(self.model)
        rows_of = {n: torch.tensor([i for i, row in enumerate(self.names) if row == n])
                   for n in dict.fromkeys(self.names)}
        for m in self.layers:
            m._tailor_rows = _row_factors(m, len(self.names), rows_of)
            m.forward = types.MethodType(_row_forward, m)
        return self

    def __exit__(self, *exc):
        for m in self.layers:
            m.__dict__.pop("forward", None)
            m.__dict__.pop("_tailor_rows", None)
        return False


def drop_row_buffers(model) -> None:
    """Free the per-row LoRA buffers `per_row_lora` keeps between calls (before the model leaves its device)."""
    for m in _lora_layers(model):
        m.__dict__.pop("_tailor_buffers", None)


def _row_factors(m, rows: int, rows_of: dict):
    """(A [in, K], B [K, out], mask [rows, 1, K]) for one LoRA layer and the rows' adapters (`rows_of`: each
    adapter's row numbers); None when no row's adapter touches this layer."""
    import torch

    base_w = m.get_base_layer().weight
    present = [n for n in rows_of if n in m.lora_A]
    if not present:
        return None
    ranks = [m.lora_A[n].weight.shape[0] for n in present]
    k, fan_in, fan_out = sum(ranks), base_w.shape[1], base_w.shape[0]
    shapes = ((fan_in, k), (k, fan_out), (rows, 1, k))
    kept = m.__dict__.get("_tailor_buffers")
    if kept is None or [tuple(t.shape) for t in kept] != list(shapes) or kept[0].dtype != base_w.dtype \
            or kept[0].device != base_w.device:
        kept = m.__dict__["_tailor_buffers"] = tuple(
            torch.empty(s, dtype=base_w.dtype, device=base_w.device) for s in shapes)
    A, B, mask = kept
    mask.zero_()
    start = 0
    for n, r in zip(present, ranks):
        A[:, start:start + r].copy_(m.lora_A[n].weight.t())
        B[start:start + r].copy_(m.lora_B[n].weight.t() * m.scaling[n])
        mask[rows_of[n].to(mask.device), 0, start:start + r] = 1
        start += r
    return A, B, mask


def _row_forward(self, x, *args, **kwargs):
    result = self.base_layer(x, *args, **kwargs)
    rows = self.__dict__.get("_tailor_rows")
    if rows is None:
        return result
    A, B, mask = rows
    flat = x.dim() == 2
    h = (x.unsqueeze(1) if flat else x).to(A.dtype)
    delta = ((h @ A) * mask) @ B
    return result + (delta.squeeze(1) if flat else delta).to(result.dtype)


@contextlib.contextmanager
def deferred_stop(device_type: str, on: bool = True):
    """Inside the block, `generate` on a `DEFER_STOP_ON` device reads its stop flag one step late.

    Each decoding step ends with `unfinished_sequences.max() == 0` read on the host (and the step's tokens, for
    the streamer): the host waits there for the device, every step, with nothing queued behind. transformers has
    the cure, `DeferredStopCheck` (the flag and tokens copied asynchronously and read a step later; the one
    extra step after every row has finished is undone and never streamed), but turns it on for Apple's mps only.
    This turns it on for the block. Greedy tokens are the same; the streamer gets each step's tokens one step
    later. Off (the block runs as before) where transformers lacks it or its check has another signature, and
    for calls whose streamer reads the step's log-probabilities (`sampling.Recorder` keeps the latest step's
    only). The engine's calls all run on its one model thread, so nothing else generates while it is on.
    """
    import inspect

    from transformers.generation import utils

    check = getattr(utils, "DeferredStopCheck", None)
    kept = vars(check).get("is_supported") if check is not None else None
    asks = ["device", "cache", "cache_is_returned", "is_assistant"]
    if not on or device_type not in DEFER_STOP_ON or not isinstance(kept, staticmethod) or \
            list(inspect.signature(kept.__func__).parameters) != asks:
        yield False
        return

    def is_supported(device, cache, cache_is_returned, is_assistant) -> bool:
        # as transformers decides for mps: a returned cache must be croppable (the extra step is undone)
        return device.type == device_type and not is_assistant and (
            cache is None or not cache_is_returned or cache.is_croppable)

    check.is_supported = staticmethod(is_supported)
    try:
        yield True
    finally:
        check.is_supported = kept
