"""Test helpers: a tiny Llama-shaped model with the real SmolLM2 tokenizer, and synthetic data files."""

from __future__ import annotations

import os
import random
import time
import zipfile
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
        from assistant.models.resolve import embedded_gguf, gguf_tokenizer

        tok = gguf_tokenizer(embedded_gguf(), log=lambda line: None)
        tmp = target.with_name("smol-tokenizer.partial")
        tok.save_pretrained(tmp)
        tmp.rename(target)
    return target


def smol_model_dir() -> Path:
    """The embedded SmolLM2-135M-Instruct converted to a safetensors folder once per checkout (about a minute)."""
    from assistant.models.resolve import ensure_embedded

    return ensure_embedded(CACHE / "models", log=lambda line: None)


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
    cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tok),
        max_position_embeddings=1024,
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
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


def peft_adapter(base: Path, out: Path, seed: int = 0, r: int = 4) -> Path:
    """A LoRA adapter for `base` with random (non-zero) weights, saved in PEFT layout."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, cfg).save_pretrained(out)
    return out


def zip_of(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def make_plan(csv: Path, model: Path, **training):
    """The assistant's plan for classifying `csv` on `model`, with training settings overridden."""
    from assistant.chat import converse

    plan = converse(["classify these texts by topic"], str(csv), default_base_model=str(model)).plan
    for k, v in training.items():
        setattr(plan.training, k, v)
    return plan


def sleeper():
    """Another live process (it sleeps ten minutes): one to hold a CPU-share marker, as a job or engine would."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def mark(folder: Path, role: str, proc) -> None:
    """The marker `machine.CpuShare` would leave for `proc` working as `role` (`engine`, `train-7`)."""
    from assistant import machine

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{role}-{proc.pid}").write_text(machine._start_time(proc.pid) or "", encoding="utf-8")


def wait_for(pred, timeout=120.0, every=0.2):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")
