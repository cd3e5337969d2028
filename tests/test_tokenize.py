"""Token counts and chat templates without transformers: equal to what transformers (and so training) does."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from assistant.models.tokenize import extract_embedded_tokenizer, model_text
from helpers import smol_tokenizer_dir

TEXTS = ["Hello world!  The  quick\nbrown fox 123456", "这个产品很好用，推荐给大家。", "émoji 🎉 tabs\tend <|im_end|>"]
CHAT = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "great phone 好"},
        {"role": "assistant", "content": "positive"}]


def test_tokenizer_read_from_the_gguf_matches_transformers():
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    ours = Tokenizer.from_file(str(extract_embedded_tokenizer() / "tokenizer.json"))
    ref = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    for t in TEXTS:
        assert ours.encode(t, add_special_tokens=False).ids == ref(t, add_special_tokens=False)["input_ids"], t


def test_chat_template_renders_like_transformers(tiny_model):
    from transformers import AutoTokenizer

    for folder in (smol_tokenizer_dir(), tiny_model):
        mt = model_text(str(folder))
        ref = AutoTokenizer.from_pretrained(folder)
        assert mt.exact
        assert mt.render(CHAT) == ref.apply_chat_template(CHAT, tokenize=False)
        assert mt.count([mt.render(CHAT)]) == [
            len(ref.apply_chat_template(CHAT, tokenize=True, return_dict=True)["input_ids"])
        ]


def test_model_without_local_files_uses_its_family_template_and_says_counts_are_estimates(tmp_path, capsys):
    mt = model_text("Llama-3.1-8B-Instruct", tmp_path)
    assert not mt.exact and mt.template_is_family
    assert mt.render(CHAT).startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nClassify.<|eot_id|>"
    )
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'a' if i % 2 else 'b'}\n" for i in range(20)))
    assert (
        main(["plan", "--json", "--gpu-memory", "80", "--data", str(data), "classify with Llama-3.1-8B-Instruct"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["data"]["tokens"]["exact"] is False
    assert "estimated from characters" in out["plan"]["reasons"]["training.max_length"]
    assert out["data"]["examples"][0].startswith("<|begin_of_text|>")


def test_token_stats_choose_max_length_and_count_truncated_rows(tmp_path, capsys):
    rows = [{"prompt": f"short question {i}", "completion": f"answer {i}"} for i in range(60)]
    rows += [{"prompt": "very long " * 400, "completion": "long answer"} for _ in range(2)]
    data = tmp_path / "qa.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["plan", "--json", "--gpu-memory", "0", "--data", str(data), "answer questions"]) == 0
    out = json.loads(capsys.readouterr().out)
    plan, tokens = out["plan"], out["plan"]["data"]["tokens"]
    mt = model_text("SmolLM2-135M-Instruct")
    exact = sorted(
        mt.count(
            [
                mt.render(
                    [
                        {"role": "system", "content": plan["task"]["instruction"]},
                        {"role": "user", "content": r["prompt"].strip()},
                        {"role": "assistant", "content": r["completion"]},
                    ]
                )
                for r in rows
            ]
        )
    )
    assert tokens["exact"] and tokens["tokenizer"] == "SmolLM2-135M-Instruct"
    assert tokens["longest"] == exact[-1] and tokens["median"] == exact[len(exact) // 2]
    assert plan["training"]["max_length"] >= tokens["p95"] and plan["training"]["max_length"] < exact[-1]
    assert tokens["truncated"] == 2
    assert any("2 rows are longer than max_length" in w for w in out["data"]["warnings"])
    # Exactly what the trainer will see: the instruction, the prompt and the answer, in the model's template.
    ex = out["data"]["examples"][0]
    assert ex == mt.render(
        [
            {"role": "system", "content": plan["task"]["instruction"]},
            {"role": "user", "content": "short question 0"},
            {"role": "assistant", "content": "answer 0"},
        ]
    )
    assert "<|im_start|>assistant\nanswer 0<|im_end|>" in ex


def test_examples_match_what_the_trainer_renders(tmp_path, capsys, tiny_model):
    """The preview and the training text agree: both come from the plan's examples and the same template."""
    from transformers import AutoTokenizer

    from assistant.data.prepare import chat_examples
    from assistant.plan import Plan

    data = tmp_path / "t.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'yes' if i % 2 else 'no'}\n" for i in range(20)))
    assert main(["plan", "--json", "--gpu-memory", "0", "--data", str(data), "classify rows"]) == 0
    out = json.loads(capsys.readouterr().out)
    plan = Plan.from_dict(out["plan"])
    ex = chat_examples(plan)[0]
    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    assert out["data"]["examples"][0] == tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=False)


def test_the_embedded_tokenizer_takes_its_special_tokens_from_the_gguf_file(monkeypatch):
    """transformers 5.17 read SmolLM2's GGUF end token as <|im_start|> and no padding token; the conversion (and
    the tests' tokenizer) put back what the file declares (ids 2 and 2), say so, and change nothing where the
    loader read it right."""
    import transformers
    from transformers import AutoTokenizer

    from assistant.models.resolve import embedded_gguf, gguf_special_tokens, gguf_tokenizer

    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == ("<|im_end|>", "<|im_end|>", "<|im_start|>")
    assert gguf_special_tokens(gguf, tok) == {}
    tok.eos_token, tok.pad_token = "<|im_start|>", None  # as transformers 5.17 read them
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tok)
    said = []
    fixed = gguf_tokenizer(gguf, log=said.append)
    assert (fixed.eos_token_id, fixed.pad_token_id, fixed.bos_token_id) == (2, 2, 1)
    assert said == ["  eos token: <|im_end|> (as the GGUF file declares; the tokenizer had <|im_start|>)",
                    "  pad token: <|im_end|> (as the GGUF file declares; the tokenizer had None)"]


def test_a_base_converted_under_transformers_5_17_gets_the_gguf_files_special_tokens_once(tmp_path, monkeypatch):
    """A data home whose embedded base was converted before the special tokens were checked (its tokenizer says
    the end token is <|im_start|> and has no padding) is mended on the next start, says so, and is not looked at
    again; a folder converted now is marked as checked from the start."""
    import shutil

    from transformers import AutoTokenizer

    from assistant.models import resolve

    target = resolve.converted_dir(tmp_path / "models")
    shutil.copytree(smol_tokenizer_dir(), target)
    (target / "config.json").write_text("{}")
    (target / "model.safetensors").write_bytes(b"weights")
    old = AutoTokenizer.from_pretrained(target)
    old.eos_token, old.pad_token = "<|im_start|>", None  # as transformers 5.17 converted it
    old.save_pretrained(target)
    said = []
    assert resolve.ensure_embedded(tmp_path / "models", log=said.append) == target
    mended = AutoTokenizer.from_pretrained(target)
    assert (mended.eos_token, mended.pad_token, mended.bos_token) == ("<|im_end|>", "<|im_end|>", "<|im_start|>")
    assert said == ["  eos token: <|im_end|> (as the GGUF file declares; the tokenizer had <|im_start|>)",
                    "  pad token: <|im_end|> (as the GGUF file declares; the tokenizer had None)",
                    f"  mended the converted base model's tokenizer in {target}"]
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, target.name + ".lock"]
    monkeypatch.setattr(resolve, "gguf_special_tokens", lambda *a: pytest.fail("checked twice"))
    assert resolve.ensure_embedded(tmp_path / "models", log=said.append) == target and len(said) == 3
