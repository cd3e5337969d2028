"""When a user outgrows one GPU: the exact `vllm serve` command for registered adapters (vLLM's multi-LoRA
server), with each adapter's rank checked against the server's `--max-lora-rank`."""

from __future__ import annotations

import json
import re
import shlex

from ..errors import TailorError
from .db import Registry
from .store import adapter_dir

VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM accepts for `--max-lora-rank`."""


class VllmError(TailorError, ValueError):
    """The adapters cannot be served together by one vLLM server; the message says which and why."""


def vllm_command(registry: Registry, refs: list[str], max_lora_rank: int | None = None) -> str:
    """`vllm serve BASE --enable-lora --lora-modules NAME=PATH ... --max-lora-rank R --max-loras N`."""
    adapters = []
    for ref in refs:
        rec = registry.require_adapter(ref)
        folder = adapter_dir(registry, rec)
        try:
            cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise VllmError(f"{rec.label}: its adapter_config.json cannot be read ({e})") from None
        base = str(cfg.get("base_model_name_or_path") or rec.base_source)
        adapters.append((rec, folder, int(cfg.get("r") or 0), base))
    bases = {base for *_, base in adapters}
    if len(bases) > 1:
        listed = "; ".join(f"{rec.label} on {base}" for rec, _, _, base in adapters)
        raise VllmError(f"one vLLM server serves one base model, and these adapters have {len(bases)}: {listed}")
    largest = max(r for _, _, r, _ in adapters)
    if max_lora_rank is None:
        max_lora_rank = next((v for v in VLLM_RANKS if v >= largest), None)
        if max_lora_rank is None:
            raise VllmError(f"rank {largest} is above the largest --max-lora-rank vLLM accepts ({VLLM_RANKS[-1]})")
    elif max_lora_rank not in VLLM_RANKS:
        raise VllmError(f"--max-lora-rank {max_lora_rank} is not one vLLM accepts ({', '.join(map(str, VLLM_RANKS))})")
    too_big = [f"{rec.label} (rank {r})" for rec, _, r, _ in adapters if r > max_lora_rank]
    if too_big:
        raise VllmError(f"--max-lora-rank {max_lora_rank} is below the rank of {', '.join(too_big)}; use "
                        f"{next(v for v in VLLM_RANKS if v >= largest)}")
    modules = [f"{re.sub(r'[^A-Za-z0-9_.-]', '-', rec.name)}-v{rec.version}={folder}" for rec, folder, _, _ in adapters]
    parts = ["vllm", "serve", bases.pop(), "--enable-lora", "--lora-modules", *modules,
             "--max-lora-rank", str(max_lora_rank), "--max-loras", str(len(adapters))]
    return " ".join(shlex.quote(p) for p in parts)
