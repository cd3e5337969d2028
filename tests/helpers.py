"""Test helpers: a tiny Llama-shaped model with the real SmolLM2 tokenizer, and synthetic data files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

requires_cuda = pytest.mark.skipif(not os.path.exists("/dev/nvidia0"), reason="needs a CUDA GPU")

CACHE = Path(__file__).parent / ".cache"
LABELS = ["sports", "weather", "food", "music"]
WORDS = {
    "sports": ["goal", "match", "team", "score", "player"],
    "weather": ["rain", "sunny", "cloud", "storm", "wind"],
    "food": ["pizza", "bread", "soup", "cheese", "apple"],
    "music": ["song", "guitar", "drum", "piano", "album"],
}


def smol_tokenizer_dir() -> Path:
    """The SmolLM2 tokenizer, read once from the embedded GGUF and cached."""
    target = CACHE / "smol-tokenizer"
    if not (target / "tokenizer.json").exists():
        from transformers import AutoTokenizer

        from assistant.models.resolve import embedded_gguf

        gguf = embedded_gguf()
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tmp = target.with_name("smol-tokenizer.partial")
        tok.save_pretrained(tmp)
        tmp.rename(target)
    return target


def tiny_model_dir(name: str = "tiny-llama", seed: int = 0) -> Path:
    """A 2-layer, hidden-64 Llama with SmolLM2's vocabulary and tokenizer, saved as a normal model folder."""
    target = CACHE / name
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok_dir = smol_tokenizer_dir()
    tok = AutoTokenizer.from_pretrained(tok_dir)
    torch.manual_seed(seed)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=1024,
                      initializer_range=0.2, tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(cfg)
    tmp = target.with_name(name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return target


def write_classification_csv(path: Path, rows: int = 80, seed: int = 0) -> Path:
    """A learnable 4-label task: each text is built from its label's words."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for i in range(rows):
        label = LABELS[i % len(LABELS)]
        words = rng.sample(WORDS[label], 3)
        lines.append(f"the {words[0]} and the {words[1]} with {words[2]},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
