"""GPU tier: skipped without CUDA. QLoRA (bitsandbytes 4-bit NF4) trains and only LoRA weights move."""

from __future__ import annotations

import pytest

from helpers import requires_cuda

pytestmark = [pytest.mark.gpu, requires_cuda]


def test_qlora_path_trains_on_cuda(topic_csv, tiny_model, tmp_path):
    import torch

    from assistant.chat import converse
    from assistant.config import Home
    from assistant.data import chat_examples, split_examples
    from assistant.models.estimate import Hardware
    from assistant.registry import Registry
    from assistant.train import recipe, worker

    plan = converse(["classify these texts by topic", "use QLoRA"], str(topic_csv), Hardware("GPU", 16),
                    default_base_model=str(tiny_model)).plan
    plan.base_model.source = str(tiny_model)
    plan.lora.method, plan.training.precision, plan.training.max_steps = "qlora", "bf16", 6
    plan.validate()
    assert recipe.quantization_config(plan).bnb_4bit_quant_type == "nf4"
    rows, val = split_examples(chat_examples(plan), 0.1, 0, True)
    reg = Registry(Home.resolve(tmp_path / "h"))
    job = reg.submit_job(reg.add_plan(plan.to_json()))
    trainer = worker.build_trainer(plan, str(tiny_model), rows, val, tmp_path / "out", reg, job, print,
                                   tmp_path / "log.jsonl", {"flag": False})
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_" in n}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    assert any("Linear4bit" in type(m).__name__ for m in trainer.model.modules())
    assert all(not torch.equal(before[n], after[n]) for n in before)


def test_qlora_in_fp16_as_a_card_without_bf16_trains_it_steps_with_a_loss_scaler(topic_csv, tiny_model, tmp_path):
    """The plan a T4 or a V100 gets: QLoRA computing in fp16, the adapters fp32 (TRL had cast them to bf16) under
    fp16's loss scaler, and the adapters move (this card has bf16; fp16 runs here as it would there)."""
    import torch

    from assistant.chat import converse
    from assistant.config import Home
    from assistant.data import chat_examples, split_examples
    from assistant.models.estimate import Hardware
    from assistant.registry import Registry
    from assistant.train import worker

    plan = converse(["classify these texts by topic", "use QLoRA"], str(topic_csv), Hardware("Tesla T4", 16),
                    default_base_model=str(tiny_model)).plan
    assert plan.training.precision == "fp16"
    plan.base_model.source = str(tiny_model)
    plan.lora.method, plan.training.max_steps = "qlora", 6
    plan.validate()
    rows, val = split_examples(chat_examples(plan), 0.1, 0, True)
    reg = Registry(Home.resolve(tmp_path / "h"))
    job = reg.submit_job(reg.add_plan(plan.to_json()))
    trainer = worker.build_trainer(plan, str(tiny_model), rows, val, tmp_path / "out", reg, job, print,
                                   tmp_path / "log.jsonl", {"flag": False})
    quantized = [m for m in trainer.model.modules() if "Linear4bit" in type(m).__name__]
    assert quantized and all(m.compute_dtype == torch.float16 for m in quantized)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_" in n}
    trainer.train()
    assert trainer.accelerator.scaler is not None
    after = dict(trainer.model.named_parameters())
    assert all(after[n].dtype == torch.float32 for n in before)
    assert all(not torch.equal(before[n].float(), after[n]) for n in before)


def test_serving_runs_on_the_gpu_with_each_row_its_own_adapter(tiny_model, tmp_path, monkeypatch):
    """By default on a GPU machine the engine serves from the GPU in 16-bit with static-cache compiled decoding
    (CUDA graphs), which gives the eager path's greedy tokens with each row its own adapter; a queued GPU job
    sends it to the CPU (the card's memory is handed back), and it returns when the job has ended."""
    import torch
    from test_adapters import register
    from test_serving import SETTINGS

    from assistant.config import Home
    from assistant.plan import Plan
    from assistant.registry import Registry
    from assistant.serve.engine import Engine, GenerationSettings

    monkeypatch.delenv("TAILOR_SERVE_DEVICE", raising=False)
    reg = Registry(Home.resolve(tmp_path / "h"))
    register(reg, tiny_model, tmp_path, "alpha", 1)
    register(reg, tiny_model, tmp_path, "beta", 2)
    engine = Engine(reg, str(tiny_model))
    engine.start().result()
    assert engine.model.device.type == "cuda" and engine.model.dtype in (torch.bfloat16, torch.float16)
    assert engine.decode_compile is not None and "CUDA graphs" in engine.status
    answers = engine.side_by_side("the goal and the match", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    assert engine.decode_note == "", engine.decode_note
    assert [a.model for a in answers] == ["base", "alpha:1", "beta:1"] and all(a.tokens > 0 for a in answers)
    assert len({a.text for a in answers}) == 3
    kept, engine.decode_compile = engine.decode_compile, None
    eager = engine.side_by_side("the goal and the match", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    engine.decode_compile = kept
    assert [a.text for a in eager] == [a.text for a in answers]
    # On the card the stop flag is read a step late (`kernels.deferred_stop`): transformers' DeferredStopCheck
    # runs, and the answers are those of the flag read every step.
    from transformers.generation import utils

    used, finish = [], utils.DeferredStopCheck.finish
    monkeypatch.setattr(utils.DeferredStopCheck, "finish", lambda self: used.append(finish(self)) or used[-1])
    late = engine.side_by_side("the goal and the match", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    engine.defer_stop = False
    waited = engine.side_by_side("the goal and the match", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    engine.defer_stop = True
    assert len(used) == 1 and [a.text for a in late] == [a.text for a in waited] == [a.text for a in answers]
    # The completions API's scoring (`echo` with logprobs) on the card, in 16-bit: each prompt token's
    # log-probability under its row's adapter, as the 32-bit CPU reference gives it to 16-bit rounding.
    from test_completions import _hand_logprobs, _reference

    from assistant.serve.sampling import Sampling

    # Scored alone (`max_tokens` 0), and scored from generate's own first pass on the compiled path (`max_tokens`
    # 3: the continuation is the one generated without `echo`).
    text = "the goal and the match"
    ids = engine.tokenizer(text)["input_ids"]
    for tokens in (0, 3):
        scored = engine.generate([(None, text), ("alpha", text)],
                                 GenerationSettings(max_new_tokens=tokens, sampling=Sampling(logprobs=0, echo=True)))
        plain = engine.generate([(None, text), ("alpha", text)], GenerationSettings(max_new_tokens=tokens)) \
            if tokens else [None, None]
        for name, answer, alone in zip([None, "alpha"], scored, plain):
            hand = _hand_logprobs(_reference(tiny_model, reg, name), ids)
            assert [e["logprob"] for e in answer.logprobs[1:len(ids)]] == pytest.approx(hand, abs=0.15)
            assert answer.text == text + (alone.text if alone else "")
    on_card = torch.cuda.memory_allocated()
    plan = Plan()
    plan.resources.device = "cuda"
    job = reg.submit_job(reg.add_plan(plan.to_json()))
    engine._pool.submit(engine.place).result()
    assert engine.placed == "cpu" and engine.model.device.type == "cpu" and f"job {job}" in engine.status
    assert torch.cuda.memory_allocated() < on_card / 2
    reg.update_job(job, status="cancelled")
    engine._pool.submit(engine.place).result()
    assert engine.model.device.type == "cuda" and engine.status.startswith("ready on the GPU")
