"""The memory estimator against worked figures (Llama-3.1-8B: 8.03B parameters, 41.9M LoRA r=16)."""

import dataclasses
import sys
from pathlib import Path

import pytest

from assistant.models.catalog import find
from assistant.models.estimate import (
    GIB,
    HEAD_CHUNK_ELEMENTS,
    estimate_memory,
    estimate_minutes,
    gpu_info,
    lora_param_count,
    param_count,
)

LLAMA8B = find("Llama-3.1-8B-Instruct").shape


def test_parameter_counts_match_the_published_models():
    assert param_count(LLAMA8B) == 8_029_995_008
    assert lora_param_count(LLAMA8B, 16) == 41_943_040  # what PEFT prints for r=16, all linear layers
    assert abs(param_count(find("Qwen2.5-0.5B-Instruct").shape) / 1e9 - 0.494) < 0.01


def test_bf16_lora_state_is_twenty_bytes_a_trained_value_during_a_step():
    """What the estimator counts for each trained value of a bf16 plan, counted on the tensors that exist during
    the backward pass of a second micro-batch: the bf16 weight and gradient, the fp32 master and its gradient
    sum, AdamW's two fp32 moments."""
    import torch

    from assistant.train.master_weights import MasterWeights

    layer = torch.nn.Linear(64, 32, bias=False)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-3)
    masters = MasterWeights(optimizer, torch.bfloat16)
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    for _ in range(2):  # a step of two micro-batches, then the first micro-batch of the next step
        layer(x).sum().backward()
        masters.gather_gradients()
        layer(x).sum().backward()
        optimizer.step()
        layer.zero_grad()
    layer(x).sum().backward()
    masters.gather_gradients()
    layer(x).sum().backward()  # the second micro-batch: its gradient, the sums and everything else at once
    (p, master), = masters.pairs
    held = [p, p.grad, master, master.grad, *optimizer.state[master].values()]
    n = sum(t.numel() * t.element_size() for t in held if t.dim())  # not AdamW's step counter
    assert n == 20 * p.numel()


def test_components_add_up_and_follow_the_settings():
    kw = dict(r=16, batch_size=4, seq_len=2048, device="cuda")
    lora = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, **kw)
    ckpt = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=True, **kw)
    qlora = estimate_memory(LLAMA8B, method="qlora", gradient_checkpointing=True, **kw)
    dropped = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, dropout=0.05, **kw)
    # bf16 weights: 2 bytes per parameter
    assert abs(lora.weights_gb - 8_029_995_008 * 2 / GIB) < 1e-6
    # bf16 plans: bf16 factors and grads (2 + 2), fp32 masters and their gradient sums (4 + 4), AdamW m and v (8)
    # — QLoRA's too (measured below)
    assert abs(lora.lora_gb - 41_943_040 * 20 / GIB) < 1e-6
    assert abs(qlora.lora_gb - 41_943_040 * 20 / GIB) < 1e-6
    # fp16 plans (cards without bf16) keep fp32 factors (16 bytes with grads and AdamW) + autocast's 16-bit copy
    # (2), and each module's own cast of its input — QLoRA's too, cast back to fp32 from TRL's bf16
    fp16 = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, precision="fp16", **kw)
    assert abs(fp16.lora_gb - 41_943_040 * 18 / GIB) < 1e-6 and fp16.activations_gb > lora.activations_gb
    fp16_qlora = estimate_memory(LLAMA8B, method="qlora", gradient_checkpointing=True, precision="fp16", **kw)
    assert abs(fp16_qlora.lora_gb - 41_943_040 * 18 / GIB) < 1e-6 and fp16_qlora.activations_gb > qlora.activations_gb
    # compiled layers keep 4h + 2i bytes a token a layer less (the norms' outputs and the MLP's activation)
    compiled = estimate_memory(LLAMA8B, method="lora", gradient_checkpointing=False, compiled=True, **kw)
    saved = (4 * 4096 + 2 * 14336) * 32 * 4 * 2048 / GIB
    assert abs(lora.activations_gb - compiled.activations_gb - saved) < 1e-6
    # the lean head holds at most HEAD_CHUNK_ELEMENTS logits at 10 bytes, however many tokens the step has
    positions = HEAD_CHUNK_ELEMENTS // 128256
    assert abs(lora.logits_gb - positions * 128256 * 10 / GIB) < 1e-6
    assert ckpt.activations_gb < lora.activations_gb / 10
    assert dropped.activations_gb > lora.activations_gb * 1.3  # dropout keeps a mask and a copy per LoRA input
    assert 4.5 < qlora.weights_gb < 6.0  # 4-bit body + bf16 embeddings
    parts = lora.weights_gb + lora.lora_gb + lora.activations_gb + lora.logits_gb
    assert abs(lora.allocated_gb - parts) < 1e-9
    assert abs(lora.peak_gb - (parts * 1.10 + lora.overhead_gb)) < 1e-6


def test_a_soft_capped_model_holds_one_chunk_of_logits_like_any_other():
    """Gemma 2's logit soft-capping runs in the lean head's chunks (tests/test_train.py), so its 256k-vocabulary
    logits are bounded like any model's instead of the whole batch's (8 × 1,024 tokens: 21 GB before)."""
    shape = find("gemma-2-2b-it").shape
    assert shape.softcapped
    kw = dict(method="lora", r=16, batch_size=8, seq_len=1024, gradient_checkpointing=True, device="cuda")
    positions = HEAD_CHUNK_ELEMENTS // 256000
    assert abs(estimate_memory(shape, **kw).logits_gb - positions * 256000 * 10 / GIB) < 1e-6
    assert estimate_memory(shape, **kw).logits_gb == estimate_memory(dataclasses.replace(shape, softcapped=False),
                                                                     **kw).logits_gb


CASES = ["lora", "lora+dropout", "lora+checkpointing", "lora compiled", "lora+dropout compiled", "lora fp32 factors",
         "lora+dropout fp32 factors", "qlora"]


@pytest.mark.parametrize("case", CASES)
def test_activation_formula_matches_what_autograd_keeps(case):
    """The estimator's per-layer activation bytes equal what autograd actually keeps for the backward pass
    (saved-tensor hooks, bench/activation_bytes.py) in a small real Llama layer, bf16 under autocast — eager and
    with the layer compiled by TorchInductor as GPU plans run it, bf16 factors (bf16 plans) and fp32 ones."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from activation_bytes import CASES as MEASURED
    from activation_bytes import expected, per_layer

    shape = (128, 352, 8, 2)
    measured, _ = per_layer(shape, 32, **MEASURED[case])
    assert measured == expected(shape, case), (case, measured, expected(shape, case))


def test_cpu_estimate_uses_fp32_and_no_cuda_overhead():
    e = estimate_memory(find("SmolLM2-135M-Instruct").shape, method="lora", r=16, batch_size=8, seq_len=128,
                        gradient_checkpointing=False, device="cpu")
    assert e.overhead_gb == 0 and abs(e.weights_gb - e.total_params * 4 / GIB) < 1e-9


def test_gpu_names_are_recognised():
    assert gpu_info("NVIDIA GeForce RTX 4090")[0] == 24
    assert gpu_info("Tesla T4")[2] is False
    assert gpu_info("NVIDIA H100 80GB HBM3") == (80, 989, True)
    assert gpu_info("NVIDIA H100 PCIe")[1] == 756 and gpu_info("NVIDIA H100 NVL")[0] == 94
    assert gpu_info("NVIDIA GH200 480GB")[0] == 96 and gpu_info("NVIDIA GH200 144G HBM3e")[0] == 144
    assert gpu_info("NVIDIA H200")[0] == 141
    assert gpu_info("mystery card") is None


def test_cpu_plans_are_timed_at_the_rate_measured_on_this_cpu(monkeypatch, tmp_path):
    """Without TAILOR_CPU_GFLOPS the CPU's rate is measured (a float32 matmul of a small model's MLP shape), kept in
    the user's cache for every process and measured again after a while; the best of the recent measurements is
    used, so a probe taken while the CPU is busy (a job training) does not slow the next plan; old ones expire; an
    unreadable cache is measured afresh; while the CPU is busy an older measurement is used instead of a new probe.
    The time scales with the rate."""
    from assistant.models import cpu_speed

    monkeypatch.delenv("TAILOR_CPU_GFLOPS")
    monkeypatch.setenv("TAILOR_CACHE", str(tmp_path))
    assert cpu_speed.matmul_gflops(0.02, 2) > 0.5  # this CPU, really measured
    probes, clock = iter([100.0, 40.0, 50.0, 60.0, 70.0]), [1_000_000.0]
    monkeypatch.setattr(cpu_speed, "matmul_gflops", lambda *a: next(probes))
    monkeypatch.setattr(cpu_speed, "_clock", lambda: clock[0])
    monkeypatch.setattr(cpu_speed, "busy", lambda: False)  # until a job trains, below
    share = cpu_speed.TRAIN_SHARE
    assert cpu_speed.train_gflops() == 100 * share
    assert cpu_speed.train_gflops() == 100 * share  # kept: no second probe yet (one more would be 40)
    assert (tmp_path / "cpu_speed.json").exists(), "kept where the next process finds it"
    clock[0] += cpu_speed.REMEASURE_S + 1
    assert cpu_speed.train_gflops() == 100 * share, "a busy moment's 40 does not replace the recent best"
    clock[0] += cpu_speed.KEEP_S
    assert cpu_speed.train_gflops() == 50 * share, "an old best expires"
    monkeypatch.setattr(cpu_speed, "busy", lambda: True)  # a job is training
    clock[0] += cpu_speed.KEEP_S + 1
    assert cpu_speed.train_gflops() == 50 * share, "a busy CPU is not probed while an older measurement is at hand"
    (tmp_path / "cpu_speed.json").write_text("{not json")
    assert cpu_speed.train_gflops() == 60 * share, "with none at hand it is probed, busy or not"
    (tmp_path / "cpu_speed.json").write_text(f"[[{clock[0]}, Infinity], [{clock[0]}, -5], [{clock[0]}, NaN]]")
    assert cpu_speed.train_gflops() == 70 * share, "nonsense in the cache is not a rate"
    monkeypatch.setenv("TAILOR_CPU_GFLOPS", "0")
    with pytest.raises(ValueError, match="TAILOR_CPU_GFLOPS must be a positive number"):
        cpu_speed.train_gflops()

    shape = find("Qwen2.5-0.5B-Instruct").shape
    minutes = {}
    for rate in ("78", "156"):
        monkeypatch.setenv("TAILOR_CPU_GFLOPS", rate)
        minutes[rate] = estimate_minutes(shape, param_count(shape), 100_000, device="cpu", gpu_tflops=0,
                                         gradient_checkpointing=False)
    assert abs(minutes["78"] / minutes["156"] - 2) < 1e-9


def _chats(path, question_words: int, answer_words: int, rows: int = 600):
    import json
    import random

    rnd, words = random.Random(0), "order refund parcel screen battery delivery account password invoice".split()
    with open(path, "w") as f:
        for _ in range(rows):
            f.write(json.dumps({"messages": [
                {"role": "user", "content": " ".join(rnd.choices(words, k=question_words)) + "?"},
                {"role": "assistant", "content": " ".join(rnd.choices(words, k=answer_words)) + "."}]}) + "\n")
    return str(path)


def test_a_cpu_plans_time_counts_the_lm_head_for_every_answer_token(tmp_path):
    """The lean head computes logits only where the loss is: a chat that trains long answers pays the vocabulary
    matrix on every answer token, a chat with long questions and short answers hardly at all. Same tokens, two
    plans: the answers are counted, and the time differs by exactly the head's FLOPs at the plan's rate."""
    from assistant.chat import converse
    from assistant.chat.token_counts import cut_at
    from assistant.models.cpu_speed import train_gflops
    from assistant.plan import TokenStats

    words = "build a support assistant that answers like these conversations; train 1 epoch"
    long_answers = converse([words], _chats(tmp_path / "a.jsonl", 8, 80)).plan
    long_questions = converse([words], _chats(tmp_path / "q.jsonl", 80, 8)).plan
    a, q = long_answers.data.tokens, long_questions.data.tokens
    assert abs(a.mean - q.mean) <= 0.05 * a.mean, (a.mean, q.mean)  # the same tokens in all...
    assert a.answers > 0.6 * a.mean and q.answers < 0.15 * q.mean, (a.answers, q.answers)  # ...answers differ
    shape = find(long_answers.base_model.name).shape
    head = 4 * shape.vocab * shape.hidden * 600 * (1 - long_answers.data.validation_fraction)  # FLOPs an answer token
    gap_minutes = head * (a.answers - q.answers) / (train_gflops() * 1e9) / 60
    gap = long_answers.resources.estimated_minutes - long_questions.resources.estimated_minutes
    assert gap > 0.1 * long_answers.resources.estimated_minutes and abs(gap - gap_minutes) <= 0.1 + 0.05 * gap_minutes
    # A row is cut at its end, so an example longer than max_length loses its answer first.
    ts = TokenStats()
    cut_at(ts, [100, 300], 128, [(100, 40), (300, 250)])
    assert (ts.truncated, ts.mean, ts.answers) == (1, 114, 59)  # 40, and 128 - 50 of the other's 250
