"""GGUF export: base + adapter merged, written for llama.cpp, Ollama and LM Studio, with an Ollama Modelfile.

Written with the `gguf` package's writer (llama.cpp's own Python library), the way llama.cpp's
`convert_hf_to_gguf.py` writes these architectures: the same metadata keys, tensor names (`gguf.TensorNameMap`),
the query/key row order llama.cpp's rotary embedding expects for the `llama` architecture, and a GPT-2 style
BPE tokenizer with its merges, special tokens and chat template. Supported: the catalog's Llama, Mistral,
SmolLM2 (all `llama`) and Qwen2 models with byte-level BPE tokenizers; anything else is refused with the
reason. Quantisations: f16, q8_0, q4_0 (norms stay f32; a matrix whose rows do not divide into 32-value blocks
stays f16).

An adapter-only GGUF (llama.cpp's `--lora`) is not written: the merged model is what Ollama and LM Studio
import, and a LoRA GGUF must match the exact base GGUF it is applied to, which Tailor cannot know.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import TailorError

QUANTS = ("f16", "q8_0", "q4_0")
ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}
"""Hugging Face `model_type` → GGUF architecture."""
PRE_TOKENIZERS = {"qwen2": "qwen2", "smollm": "smollm", "llama3": "llama-bpe"}
OLLAMA_TEMPLATES = {
    "chatml": ('{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
               '{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
               '<|im_start|>assistant\n', ["<|im_end|>", "<|im_start|>"]),
    "llama3": ('{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}'
               '{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>'
               '{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n', ["<|eot_id|>", "<|start_header_id|>"]),
}
"""The chat template in Ollama's Go-template syntax, and the stop tokens, per template family."""


class ExportError(TailorError, ValueError):
    """This adapter cannot be exported as asked; the message says why and what works."""


def check_quant(quant: str) -> str:
    if quant not in QUANTS:
        raise ExportError(f"unknown GGUF quantisation {quant!r}; choose one of {', '.join(QUANTS)}")
    return quant


def export_gguf(registry: Any, record: Any, dest: Path, quant: str = "f16", log=print) -> Path:
    """The adapter merged into its base, as `<name>-v<version>-<quant>/` holding `model.gguf`, a `Modelfile`
    for Ollama and a README with the two commands. Returns the folder."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.catalog import find
    from ..models.resolve import resolve_source
    from .store import adapter_dir, read_plan

    check_quant(quant)
    folder = adapter_dir(registry, record)
    base_path = resolve_source(record.base_source, registry.home.models, log)
    config = json.loads((Path(base_path) / "config.json").read_text(encoding="utf-8"))
    architecture(config)  # refuse before the slow part
    log(f"merging {record.label} into {record.base_model}...")
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(folder if (folder / "tokenizer.json").exists() else base_path)
    plan = read_plan(folder)
    entry = find(str(plan.get("base_model", {}).get("source") or record.base_model))
    out = dest / f"{record.name}-v{record.version}-{quant}"
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"writing GGUF ({quant})...")
    write_gguf(merged, tokenizer, work / "model.gguf", quant, name=f"{record.name} v{record.version}",
               pre=_pre_tokenizer(entry, config))
    family = entry.chat_template if entry else "chatml"
    system = str(plan.get("task", {}).get("instruction") or "")
    (work / "Modelfile").write_text(modelfile("model.gguf", family, system), encoding="utf-8")
    (work / "README.md").write_text(_readme(record, quant, family), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return out


def architecture(config: dict) -> str:
    arch = ARCHITECTURES.get(str(config.get("model_type")))
    if arch is None:
        raise ExportError(f"GGUF export supports Llama, Mistral, SmolLM2 and Qwen2 models; this base is "
                          f"{config.get('model_type')!r}. Download the merged model instead and convert it with "
                          "llama.cpp's convert_hf_to_gguf.py")
    return arch


def _pre_tokenizer(entry: Any, config: dict) -> str:
    if config.get("model_type") == "qwen2":
        return PRE_TOKENIZERS["qwen2"]
    if entry is not None and entry.chat_template == "llama3":
        return PRE_TOKENIZERS["llama3"]
    return PRE_TOKENIZERS["smollm"] if entry is not None and entry.name.startswith("SmolLM2") else "default"


def write_gguf(model: Any, tokenizer: Any, path: Path, quant: str, *, name: str, pre: str = "default") -> None:
    import gguf
    import numpy as np

    cfg = model.config
    arch = architecture(cfg.to_dict())
    layers = cfg.num_hidden_layers
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    rope = getattr(cfg, "rope_theta", None) or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(float(rope))
    writer.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type({"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
                          "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[quant])
    _add_tokenizer(writer, tokenizer, cfg.vocab_size, pre)
    qtype = {"f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
             "q4_0": gguf.GGMLQuantizationType.Q4_0}[quant]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2, layers)
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    state = {k: v for k, v in model.state_dict().items() if not (tied and k == "lm_head.weight")}
    # llama.cpp reads the embedding matrix as the output layer when there is none (tied embeddings).

    def kind(shape: tuple) -> str:
        return "f32" if len(shape) == 1 else "f16" if quant == "f16" or shape[-1] % 32 else "quant"

    # Streamed: every tensor's place is declared first, then each is converted and written in turn, so the
    # file is never held in memory whole (only the merged model is, once).
    for hf_name, tensor in state.items():
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"no GGUF name for the tensor {hf_name}; this model's layout is not supported")
        shape = tuple(tensor.shape)
        how = kind(shape)
        if how == "quant":
            byte_shape = gguf.quants.quant_shape_to_byte_shape(shape, qtype)
            writer.add_tensor_info(gguf_name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=qtype)
        else:
            dtype = np.dtype(np.float32 if how == "f32" else np.float16)
            writer.add_tensor_info(gguf_name, shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for hf_name, tensor in state.items():
        data = tensor.detach().float().cpu().numpy()
        if arch == "llama" and hf_name.endswith(("q_proj.weight", "k_proj.weight")):
            data = _permute(data, heads if "q_proj" in hf_name else kv_heads)
        how = kind(data.shape)
        writer.write_tensor_data(gguf.quants.quantize(data, qtype) if how == "quant" else
                                 data.astype(np.float32 if how == "f32" else np.float16))
    writer.close()


def _permute(weights: Any, n_head: int) -> Any:
    """Hugging Face's rotary layout → llama.cpp's (as convert_hf_to_gguf.py's LlamaModel.permute does)."""
    shape = weights.shape
    return (weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape))


def _kinds(part: Any) -> set[str]:
    """The types of a tokenizer.json pre-tokenizer or decoder, looking inside `Sequence`s."""
    if not isinstance(part, dict):
        return set()
    inner = part.get("pretokenizers") or part.get("decoders") or []
    return {str(part.get("type"))}.union(*(_kinds(p) for p in inner))


def byte_level_bpe(spec: dict) -> bool:
    """Whether a tokenizer.json is a byte-level BPE (GPT-2 style: every byte a vocabulary symbol), which is what
    llama.cpp's `gpt2` tokenizer model reads. Judged by what it does, not by one spelling of it: transformers
    5.17 converts SmolLM2's GGUF tokenizer with a `byte_fallback` flag and a decoder `Sequence` around
    `ByteLevel`, which tokenizes and decodes exactly as the plain form. A SentencePiece-style BPE (Metaspace,
    `<0x..>` byte tokens) is not byte-level."""
    model = spec.get("model") or {}
    vocab = model.get("vocab") or {}
    return (model.get("type") == "BPE" and "ByteLevel" in _kinds(spec.get("pre_tokenizer"))
            and "ByteLevel" in _kinds(spec.get("decoder")) and "<0x00>" not in vocab)


def _add_tokenizer(writer: Any, tokenizer: Any, vocab_size: int, pre: str) -> None:
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model", {})
    if not byte_level_bpe(spec):
        raise ExportError("GGUF export writes byte-level BPE tokenizers (SmolLM2, Qwen2, Llama 3); this base's "
                          "tokenizer is another kind. Download the merged model and convert it with llama.cpp")
    by_id = {i: t for t, i in model["vocab"].items()}
    special = {a["id"] for a in spec.get("added_tokens", []) if a.get("special")}
    for a in spec.get("added_tokens", []):
        by_id[a["id"]] = a["content"]
    tokens, types = [], []
    for i in range(vocab_size):
        tokens.append(by_id.get(i, f"[PAD{i}]"))
        types.append(gguf.TokenType.CONTROL if i in special else
                     gguf.TokenType.UNUSED if i not in by_id else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for kind, token in (("bos", tokenizer.bos_token), ("eos", tokenizer.eos_token), ("unk", tokenizer.unk_token),
                        ("pad", tokenizer.pad_token)):
        if token is not None and (tid := tokenizer.convert_tokens_to_ids(token)) is not None:
            getattr(writer, {"bos": "add_bos_token_id", "eos": "add_eos_token_id", "unk": "add_unk_token_id",
                             "pad": "add_pad_token_id"}[kind])(int(tid))
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def modelfile(gguf_name: str, family: str, system: str) -> str:
    """An Ollama Modelfile: the weights, the chat template in Ollama's syntax, its stop tokens, the system
    prompt the adapter was trained with."""
    template, stops = OLLAMA_TEMPLATES.get(family, OLLAMA_TEMPLATES["chatml"])
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""', *[f'PARAMETER stop "{s}"' for s in stops]]
    if system:
        lines.append('SYSTEM """' + system.replace('"""', '" " "') + '"""')
    return "\n".join(lines) + "\n"


def _readme(record: Any, quant: str, family: str) -> str:
    tag = f"{record.name}-v{record.version}".lower()
    return (f"# {record.name} v{record.version} — GGUF ({quant})\n\n"
            f"`model.gguf` is {record.base_model} with the adapter merged in, for llama.cpp, Ollama or LM Studio.\n"
            f"`Modelfile` gives Ollama the {family} chat template, its stop tokens and the system prompt the "
            "adapter was trained with.\n\n"
            "```bash\n"
            f"ollama create {tag} -f Modelfile\n"
            f"ollama run {tag}\n"
            "```\n\n"
            "With llama.cpp: `llama-cli -m model.gguf -cnv`.\n")
