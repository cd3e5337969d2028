"""The planner's choices for speed on a GPU: packing, tokens per step, checkpointing only when memory needs it.

Pure planning (no GPU needed): the plans are checked against the memory estimator and the rules that make a GPU
run fast — full packed rows instead of padding, enough tokens per step, no recomputation the memory does not need.
"""

from __future__ import annotations

import json
import random

import pytest

from assistant.chat import converse
from assistant.chat.planner import MIN_PACKED_STEPS, MIN_STEP_TOKENS, STEP_TOKENS, plan_memory
from assistant.models.catalog import find
from assistant.models.estimate import Hardware, estimate_memory

WORDS = ("market river data model season report city energy garden policy music travel health science "
         "school history").split()


def _articles(path, rows: int, words: int):
    rnd = random.Random(0)
    with open(path, "w") as f:
        for n in range(rows):
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(words // 2, words * 3 // 2)))
            f.write(json.dumps({"instruction": "Summarize the article.", "input": f"Article {n}: {text}",
                                "output": " ".join(text.split()[:12])}) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """2,500 articles of about 300 words: 2 epochs ≈ 1.9M tokens, well over a hundred packed steps."""
    return _articles(tmp_path_factory.mktemp("big") / "articles.jsonl", 2500, 300)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _articles(tmp_path_factory.mktemp("small") / "articles.jsonl", 300, 40)


def _plan(data, *words, gpu=80.0, name="NVIDIA H100 80GB HBM3"):
    return converse([" ".join(words)], data, Hardware(name, gpu)).plan


def _estimate(plan):
    return plan_memory(plan, find(plan.base_model.name).shape)


def _bench_module():
    """bench/gpu_train.py as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "bench" / "gpu_train.py"
    spec = importlib.util.spec_from_file_location("gpu_train_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_a_big_dataset_on_a_gpu_is_packed_into_full_rows_without_recomputation(big):
    plan = _plan(big, "summarize these articles with qwen 0.5b")
    t = plan.training
    assert plan.base_model.name == "Qwen2.5-0.5B-Instruct" and plan.lora.method == "lora"
    assert t.packing and t.max_length == 2048 and t.batch_size * t.max_length == STEP_TOKENS
    assert not t.gradient_checkpointing and t.gradient_accumulation == 1 and plan.lora.dropout == 0
    assert "packed" in plan.reasons["training.packing"] and "no example is cut" in plan.reasons["training.max_length"]
    assert plan.resources.fits and _estimate(plan).peak_gb <= 80 * 0.92
    assert plan.data.tokens.truncated == 0 and not any("truncated" in w for w in plan.data.warnings)


def test_a_packed_plan_counts_its_examples_at_the_row_length_it_packs(tmp_path):
    """Long-tailed articles (4% are two to three times the rest): the planner first sizes max_length to 95% of the
    examples, then packs rows of 2,048 tokens, where the long ones are no longer cut. The tokens a packed example
    trains on (what the plan's steps and time are counted from) are those at 2,048, as when the user asks for
    rows of 2,048 themselves: not those at the first length, which cut the tail."""
    from assistant.sweeps import optimizer_steps

    rnd = random.Random(1)
    path = tmp_path / "tailed.jsonl"
    with open(path, "w") as f:
        for n in range(2500):
            words = rnd.randint(600, 1000) if rnd.random() < 0.04 else rnd.randint(150, 450)
            text = " ".join(rnd.choice(WORDS) for _ in range(words))
            f.write(json.dumps({"instruction": "Summarize the article.", "input": f"Article {n}: {text}",
                                "output": " ".join(text.split()[:12])}) + "\n")
    chosen = _plan(str(path), "summarize these articles with qwen 0.5b")
    named = _plan(str(path), "summarize these articles with qwen 0.5b, max length 2048")
    assert chosen.training.packing and named.training.packing
    assert chosen.training.max_length == named.training.max_length == 2048
    assert chosen.data.tokens.p95 < 1024 < chosen.data.tokens.longest  # the tail was past the first length
    assert chosen.data.tokens.mean == named.data.tokens.mean
    assert optimizer_steps(chosen) == optimizer_steps(named)
    assert chosen.resources.estimated_minutes == named.resources.estimated_minutes


def test_a_sweep_trial_at_another_max_length_counts_its_examples_there(big):
    """A packed plan swept over max_length: each trial's tokens per example (and so its steps and time) are those
    at its own rows, within 3% of what the planner counts from every example when asked for that length; not the
    plan's mean capped at the trial's length, which counted every example cut at 640 as 640."""
    from assistant.sweeps import SweepSpec, trial_plans

    plan = _plan(big, "summarize these articles with qwen 0.5b")
    assert plan.training.packing and len(plan.data.tokens.quantiles) == 20
    plan.sweep = SweepSpec(method="grid", values={"training.max_length": [640.0, 2048.0]})
    short, long = trial_plans(plan)
    exact = _plan(big, "summarize these articles with qwen 0.5b, max length 640").data.tokens
    assert short.data.tokens.mean == pytest.approx(exact.mean, rel=0.03) and exact.mean < 0.9 * 640
    assert short.data.tokens.truncated == pytest.approx(exact.truncated, rel=0.1) and exact.truncated > 0
    assert long.data.tokens.mean == pytest.approx(plan.data.tokens.mean, rel=0.03) and long.data.tokens.truncated == 0
    from assistant.plan import Plan

    assert Plan.from_json(short.to_json()).data.tokens == short.data.tokens


def test_a_packed_plan_keeps_the_dropout_the_user_asked_for(big):
    plan = converse(["summarize these articles with qwen 0.5b", "dropout 0.1"], big,
                    Hardware("NVIDIA H100 80GB HBM3", 80.0)).plan
    assert plan.training.packing and plan.lora.dropout == 0.1 and plan.reasons["lora.dropout"] == "you asked for it"


def test_the_same_data_is_not_packed_on_a_cpu_or_when_it_would_make_few_steps(big, small):
    cpu = _plan(big, "summarize these articles", gpu=0)
    assert not cpu.training.packing and cpu.resources.device == "cpu"
    few = _plan(small, "summarize these articles with qwen 0.5b")
    assert not few.training.packing and few.training.max_length < 2048
    assert "only" in few.reasons["training.packing"] and str(MIN_PACKED_STEPS) not in few.reasons["training.packing"]


def test_an_8b_model_halves_its_batch_before_it_recomputes_activations(big):
    """Llama-3.1-8B on 80 GB: 16k tokens of activations do not fit, 4k do — so the step shrinks (accumulating to
    keep the effective batch) rather than paying a third more compute for checkpointing."""
    plan = _plan(big, "summarize these articles with llama 3.1 8b")
    t = plan.training
    assert plan.base_model.name == "Llama-3.1-8B-Instruct" and plan.lora.method == "lora" and t.packing
    assert not t.gradient_checkpointing and plan.reasons["training.gradient_checkpointing"].startswith("off")
    assert (
        t.batch_size * t.max_length >= MIN_STEP_TOKENS
        and t.batch_size * t.gradient_accumulation * t.max_length == STEP_TOKENS
    )
    assert _estimate(plan).peak_gb <= 80 * 0.92
    bigger = estimate_memory(
        find("Llama-3.1-8B-Instruct").shape,
        method="lora",
        r=plan.lora.r,
        batch_size=t.batch_size * 2,
        seq_len=t.max_length,
        gradient_checkpointing=False,
        device="cuda",
    )
    assert bigger.peak_gb > 80 * 0.92, "the planner took the largest batch that fits"


def test_a_small_gpu_gets_qlora_and_checkpointing_and_still_fits(big):
    plan = _plan(big, "summarize these articles with llama 3.1 8b", gpu=16, name="NVIDIA GeForce RTX 4080")
    t = plan.training
    assert plan.lora.method == "qlora" and t.gradient_checkpointing and plan.resources.fits
    assert _estimate(plan).peak_gb <= 16 * 0.92
    assert (
        "checkpointing" in plan.reasons["training.gradient_checkpointing"]
        or "recomput" in plan.reasons["training.gradient_checkpointing"]
    )


def test_a_batch_size_the_user_gives_is_kept_with_packing(big):
    plan = _plan(big, "summarize these articles with qwen 0.5b, batch size 4")
    assert plan.training.packing and plan.training.batch_size == 4


def test_the_gpu_bench_runs_end_to_end_on_a_cpu():
    """bench/gpu_train.py's smoke mode: the planner's packed GPU plan, Tailor's trainer (rows kept as rows), one
    RESULT line with throughput and the memory estimate — the code a GPU session runs, minus CUDA."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "gpu_train.py"), "smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["packing"] and result["row_packing"] and result["batch"] == 2
    assert result["tok_per_s"] > 0 and 0 < result["tokens_per_step"] <= 2 * 512 and result["estimate_peak_gib"] > 0


def test_the_qlora_load_study_runs_on_a_cpu_and_quantizes():
    """bench/gpu_train.py's `load` parts (what loading a QLoRA base costs, one process per load) on a CPU with the
    tiny shape: the 4-bit load really quantizes (bitsandbytes packs two weights a byte, so fewer stored values
    than the bf16 load), and each RESULT says how long and which functions took it."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]
    results = {}
    for how in ("4bit", "bf16"):
        spec = json.dumps({"label": "load", "shape": "tiny", "how": how, "device": "cpu"})
        proc = subprocess.run([sys.executable, str(root / "bench" / "gpu_train.py"), "one", "--spec", spec],
                              capture_output=True, text=True, timeout=600, cwd=root)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "cumulative" in proc.stdout or "cumtime" in proc.stdout  # the profile of the load
        results[how] = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert results["4bit"]["seconds"] > 0 and results["bf16"]["checkpoint_gb"] > 0
    assert results["4bit"]["params"] < results["bf16"]["params"]


def test_the_gpu_bench_starts_nothing_it_cannot_finish_and_stops_at_the_leases_deadline(tmp_path, monkeypatch):
    """A device lease is short: bench/gpu_train.py starts no configuration with under `MIN_START_S` left, and
    stops a running one at the deadline, keeping what it printed (bench/gpu_session.sh sets the deadline)."""
    import sys
    import time

    bench = _bench_module()
    marker = tmp_path / "ran"
    monkeypatch.setattr(bench, "DEADLINE", time.time() + bench.MIN_START_S - 5)
    results, why, _ = bench.child([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    assert (results, why) == ([], "skipped: out of device time") and not marker.exists()
    monkeypatch.setattr(bench, "MIN_START_S", 0)
    monkeypatch.setattr(bench, "DEADLINE", time.time() + 4)
    t0 = time.time()
    results, why, _ = bench.child([sys.executable, "-c", "import time; print('RESULT {\"tok_per_s\": 7}', flush=True); "
                                   "time.sleep(120)"])
    assert time.time() - t0 < 30 and why == "stopped at the lease's deadline" and results == [{"tok_per_s": 7}]
    monkeypatch.setattr(bench, "DEADLINE", float("inf"))
    assert bench.child([sys.executable, "-c", "print('RESULT {\"ok\": 1}')"])[:2] == ([{"ok": 1}], None)
    failed = bench.isolated({"label": "x"}, str(tmp_path / "no-tokenizer"))  # a child that fails says why
    assert failed["label"] == "x" and failed["failed"] and "skipped" not in failed["failed"]


def test_a_gpu_plans_training_step_reads_no_device_value_on_the_host(tmp_path, monkeypatch):
    """Issue 17: at most one host synchronisation an optimizer step outside logging steps. On this CPU the ops
    that make one on a GPU — a tensor's value read on the host (`.item()`, `bool()`, `nonzero`, `equal`) — are
    counted with a dispatch mode while a GPU plan's recipe trains (no per-step token count, no NaN filter, the
    step metrics kept on the device), leaving out the data loader's work, which is on the host anyway. No step
    outside the logging step reads one (transformers' packed-sequence check did, once a micro-batch, until the
    lean path built that mask itself); the logging step reads its metrics. bench/gpu_train.py counts the real
    synchronisations on a GPU."""
    import traceback
    from collections import Counter

    from torch.utils._python_dispatch import TorchDispatchMode
    from transformers import AutoTokenizer, TrainerCallback

    from assistant.train import recipe
    from helpers import smol_tokenizer_dir

    bench = _bench_module()
    reads = {"_local_scalar_dense", "nonzero", "is_nonzero", "masked_select", "unique", "_unique2", "equal"}
    step, sites = [0], {}

    def site() -> str | None:
        frames = traceback.extract_stack()
        if any(f.filename.endswith(("data_loader.py", "dataloader.py")) or f.name == "collate_with_indices"
               for f in frames):
            return None  # the batch is made on the host, before it goes to the device
        return next((f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames)
                     if "/torch/" not in f.filename and f.filename != __file__), "?")

    class Reads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func._overloadpacket.__name__ in reads and (where := site()):
                sites.setdefault(step[0], Counter())[where] += 1
            return func(*args, **(kwargs or {}))

    base, gpu_kwargs = recipe.trainer_class(), recipe.sft_config_kwargs

    class Counted(base):
        def train(self, *a, **k):
            class Steps(TrainerCallback):
                def on_step_end(self, args, state, control, **kw):
                    step[0] = state.global_step

            self.add_callback(Steps())
            with Reads():
                return super().train(*a, **k)

    monkeypatch.setattr(recipe, "trainer_class", lambda: Counted)
    monkeypatch.setattr(recipe, "sft_config_kwargs", lambda *a, **k: {**gpu_kwargs(*a, **k), "use_cpu": True})
    plan = bench.planned("qwen2.5-0.5b", None, 80.0, "NVIDIA H100 80GB HBM3", tmp_path)
    assert plan.resources.device == "cuda" and plan.training.packing
    plan.training.batch_size, plan.training.max_length, plan.training.compile = 2, 256, False
    steps = 6
    bench.run_tailor("tiny", plan, AutoTokenizer.from_pretrained(smol_tokenizer_dir()), steps=steps, device="cpu",
                     peak_tflops=1.0)
    # sites[k]: what ran after step k's end, i.e. step k + 1 (and, after the last step, its log)
    for k in range(1, steps):
        assert sum(sites.get(k, Counter()).values()) == 0, (k + 1, sites.get(k))
    assert sum(sites[steps].values()) >= 2, "the logging step reads the loss and the metrics"


def test_the_accumulation_a_user_asks_for_is_what_the_plan_does(big):
    """"gradient accumulation 2" is the plan's accumulation as said: where the memory makes the planner halve the
    batch it does not double it (as it does its own), and the reason says a step then sees fewer rows."""
    own = _plan(big, "summarize these articles", "train 1 epoch", gpu=8.0)
    said = _plan(big, "summarize these articles", "train 1 epoch", "gradient accumulation 2", gpu=8.0)
    assert said.training.gradient_accumulation == 2 and said.training.batch_size == own.training.batch_size
    assert said.reasons["training.gradient_accumulation"].startswith("you asked for it")
    assert own.training.gradient_accumulation == 2  # the planner halved its batch once: it doubled its own
    assert own.reasons["training.gradient_accumulation"].startswith("doubled each time the batch was halved")
    assert "a step sees fewer rows" in said.reasons["training.gradient_accumulation"]


def test_questions_about_a_packed_plan_are_answered_in_chinese(big):
    """The packed plan's own reasons (packing, its row length, its batch of rows, no dropout) answer "为什么…？" in
    Chinese, with the plan's numbers."""
    from assistant.chat.reasons_zh import untranslated

    asked = "为什么打包？为什么 dropout 是 0？批大小和最大长度为什么这样？"
    turn = converse(["用 qwen 0.5b 把这些文章总结成摘要", asked], big, Hardware("NVIDIA H100 80GB HBM3", 80.0))
    assert turn.plan.training.packing and not turn.changes
    answers = {n.split(" ")[0]: n for n in turn.notes}
    assert set(answers) >= {"dropout", "批大小", "最大长度", "打包"}, turn.notes
    assert "打包进每行 2048 个 token" in answers["打包"] and "每步约 16,384 个 token" in answers["批大小"], answers
    assert not any(untranslated(n) for n in turn.notes), turn.notes
