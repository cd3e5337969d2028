"""GGUF export of the embedded SmolLM2 with an adapter merged in: the file loads back through transformers' GGUF
loader and answers as the merged model does (f16 within half-precision rounding, q8_0 within a stated bound)."""

from __future__ import annotations

import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.store import store_adapter
from helpers import peft_adapter, smol_model_dir

pytestmark = pytest.mark.slow
PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "List three fruits."]
INSTRUCTION = "You are a concise assistant."


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random (non-zero) LoRA adapter on the real SmolLM2, registered, then exported as f16 and q8_0."""
    from assistant.registry.gguf_export import export_gguf

    tmp = tmp_path_factory.mktemp("gguf")
    base = smol_model_dir()
    reg = Registry(Home.resolve(tmp / "home"))
    plan = {"name": "smol-chat", "task": {"type": "chat", "instruction": INSTRUCTION},
            "base_model": {"name": "SmolLM2-135M-Instruct", "source": "SmolLM2-135M-Instruct"}}
    rec = store_adapter(reg, peft_adapter(base, tmp / "adapter", seed=3, r=4), plan, job_id=None, plan_id=None,
                        base_hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", base_source=str(base), metrics={},
                        log_file=None)
    out = {q: export_gguf(reg, rec, tmp / "exports", q, log=lambda m: None) for q in ("f16", "q8_0")}
    return base, reg, rec, out


def merged_model(base, reg, rec):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from assistant.registry.store import adapter_dir

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    return PeftModel.from_pretrained(model, str(adapter_dir(reg, rec))).merge_and_unload().eval()


def logits_and_answers(model, tokenizer):
    import torch

    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in PROMPTS]
    out_logits, answers = [], []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            out_logits.append(model(**ids).logits[0])
            gen = model.generate(**ids, max_new_tokens=16, do_sample=False)
            answers.append(tokenizer.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out_logits, answers


def test_the_gguf_loads_back_and_answers_as_the_merged_model(exported):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, reg, rec, out = exported
    tokenizer = AutoTokenizer.from_pretrained(base)
    want_logits, want_answers = logits_and_answers(merged_model(base, reg, rec), tokenizer)
    # f16: half-precision rounding of every weight; q8_0: 8-bit blocks of 32 (measured on this test: 6.5% of the
    # largest logit at the worst position of the three prompts, the same next token at nearly every position).
    for quant, bound in (("f16", 0.01), ("q8_0", 0.1)):
        folder = out[quant]
        gguf_tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file="model.gguf")
        sample = "Tailor exports GGUF: 你好, ünïcödé and <|im_start|> tokens."
        assert gguf_tokenizer(sample)["input_ids"] == tokenizer(sample)["input_ids"]
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file="model.gguf", dtype=torch.float32).eval()
        got_logits, got_answers = logits_and_answers(model, tokenizer)
        for want, got in zip(want_logits, got_logits):
            error = (want - got).abs().max().item() / want.abs().max().item()
            assert error < bound, (quant, error)
            same_next = (want.argmax(-1) == got.argmax(-1)).float().mean().item()
            assert same_next >= (1.0 if quant == "f16" else 0.9), (quant, same_next)
        if quant == "f16":
            assert got_answers == want_answers
    assert out["q8_0"].joinpath("model.gguf").stat().st_size < 0.6 * out["f16"].joinpath("model.gguf").stat().st_size


def test_the_export_carries_an_ollama_modelfile_with_the_template_and_the_system_prompt(exported):
    _, _, rec, out = exported
    modelfile = (out["f16"] / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model.gguf\n")
    assert "<|im_start|>{{ .Role }}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert f'SYSTEM """{INSTRUCTION}"""' in modelfile
    readme = (out["f16"] / "README.md").read_text()
    assert f"ollama create {rec.name}-v{rec.version}" in readme and "ollama run" in readme


def test_unsupported_bases_and_quantisations_are_refused_with_the_reason():
    from assistant.registry.gguf_export import ExportError, architecture, check_quant

    with pytest.raises(ExportError, match="supports Llama, Mistral, SmolLM2 and Qwen2.*'gpt2'"):
        architecture({"model_type": "gpt2"})
    with pytest.raises(ExportError, match="choose one of f16, q8_0, q4_0"):
        check_quant("q3_k")


class Recorder:
    """Stands in for gguf's writer: keeps every call the tokenizer part makes."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


def respelled(tokenizer, edit):
    """The tokenizer with its tokenizer.json edited by `edit` (a function of the parsed JSON)."""
    import json

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    edit(spec)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
                                   bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token,
                                   unk_token=tokenizer.unk_token, pad_token=tokenizer.pad_token,
                                   chat_template=tokenizer.chat_template)


def test_the_tokenizer_is_judged_byte_level_by_what_it_does_not_by_its_spelling():
    """transformers 5.17 converts SmolLM2's GGUF tokenizer with `byte_fallback` set and its ByteLevel decoder
    inside a Sequence; it tokenizes and decodes as the plain one, and the export writes it the same. A
    SentencePiece-style BPE (Metaspace, <0x..> byte tokens) is still refused with the reason."""
    from transformers import AutoTokenizer

    from assistant.registry.gguf_export import ExportError, _add_tokenizer
    from helpers import smol_tokenizer_dir

    plain = AutoTokenizer.from_pretrained(smol_tokenizer_dir())

    def as_517(spec):
        spec["model"]["byte_fallback"] = True
        spec["normalizer"] = {"type": "Sequence", "normalizers": []}
        spec["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, spec["decoder"]]}

    old = respelled(plain, as_517)
    text = "Classify: café 🙂 中文\n  done"
    assert old.encode(text) == plain.encode(text) and old.decode(old.encode(text)) == text
    written = []
    for tok in (plain, old):
        rec = Recorder()
        _add_tokenizer(rec, tok, len(plain), "smollm")
        written.append(rec.calls)
    assert written[0] == written[1] and ("add_tokenizer_model", ("gpt2",)) in written[0]

    def as_sentencepiece(spec):
        spec["model"]["byte_fallback"] = True
        spec["model"]["vocab"]["<0x00>"] = len(spec["model"]["vocab"])
        spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                                 "split": False}
        spec["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}]}

    for edit in (as_sentencepiece, lambda spec: spec.update(pre_tokenizer={"type": "Whitespace"})):
        with pytest.raises(ExportError, match="byte-level BPE tokenizers .* convert it with llama.cpp"):
            _add_tokenizer(Recorder(), respelled(plain, edit), len(plain), "smollm")
