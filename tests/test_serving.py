"""Serving: batched side by side (fair and exact), streaming, refusals, evaluation with paired intervals,
the arena's Bradley–Terry ratings, and the OpenAI-compatible API through the official client."""

from __future__ import annotations

import json
import random
import threading

import pytest
from test_adapters import register

from assistant.evaluate import metrics as M
from assistant.evaluate.arena import battle, standings, vote
from assistant.evaluate.run import disagreements, evaluate
from assistant.serve.engine import EngineError, GenerationSettings
from helpers import mark, sleeper

SETTINGS = GenerationSettings(max_new_tokens=10)


def test_side_by_side_rows_use_their_own_adapter_and_equal_single_calls(served):
    reg, engine = served
    together = engine.side_by_side("the goal and the match", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    assert [a.model for a in together] == ["base", "alpha:1", "beta:1"]
    assert len({a.text for a in together}) == 3, "each row must carry its own adapter"
    for model, answer in zip([None, "alpha", "beta"], together):
        alone = engine.side_by_side("the goal and the match", [model], SETTINGS, system="Classify.")[0]
        assert alone.text == answer.text
    assert all(a.tokens > 0 and a.tokens_per_second > 0 and a.first_token_s is not None for a in together)


def test_cpu_packed_linears_compute_what_the_model_computes(served, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    _, engine = served
    assert engine.packed_layers == 2 * 7 + 1  # every projection of both layers, and the LM head
    reference = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = torch.tensor([[1, 400, 500, 600], [1, 700, 800, 900]])
    with torch.inference_mode():
        assert torch.allclose(engine.model(ids).logits, reference(ids).logits, atol=1e-4)


def test_per_row_lora_computes_exactly_what_peft_mixed_batches_compute(served):
    import torch

    from assistant.serve.kernels import per_row_lora

    _, engine = served
    engine.side_by_side("warm", ["alpha", "beta"], SETTINGS)  # load both adapters
    names = ["__base__", "alpha:1", "beta:1", "alpha:1"]
    batch = engine.tokenizer(["one two", "three four five", "six", "seven eight"], return_tensors="pt", padding=True)
    with torch.inference_mode():
        theirs = engine.model(**batch, adapter_names=names).logits
        with per_row_lora(engine.model, names):
            ours = engine.model(**batch).logits
        after = engine.model(**batch, adapter_names=names).logits  # the layers' own forward is back
    assert torch.allclose(ours, theirs, atol=1e-5) and torch.equal(after, theirs)
    assert not torch.allclose(ours[1], ours[2], atol=1e-3)  # rows really differ by adapter
    fused = engine.side_by_side("the goal", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    engine.fused = False
    plain = engine.side_by_side("the goal", [None, "alpha", "beta"], SETTINGS, system="Classify.")
    assert [a.text for a in fused] == [a.text for a in plain]


def _static_decoding(backend) -> object:
    """The GPU's decoding path on this CPU: a static key/value cache and a compiled decoding step."""
    from transformers import CompileConfig

    config = CompileConfig(backend=backend, fullgraph=backend == "aot_eager", mode=None)
    config._compile_all_devices = True  # transformers compiles the step on GPUs only unless told
    return config


def test_static_cache_compiled_decoding_gives_the_eager_tokens_row_by_row(served):
    from torch._dynamo.utils import counters

    _, engine = served
    rows = [None, "alpha", "beta", "alpha"]
    eager = engine.side_by_side("the goal and the match", rows, SETTINGS, system="Classify.")
    assert len({a.text for a in eager[:3]}) == 3
    engine.decode_compile = _static_decoding("aot_eager")  # the whole step in one graph (fullgraph=True)
    counters.clear()
    static = engine.side_by_side("the goal and the match", rows, SETTINGS, system="Classify.")
    assert engine.decode_note == "" and engine.decode_compile is not None, engine.decode_note  # no fallback
    assert [(a.model, a.text, a.tokens) for a in static] == [(a.model, a.text, a.tokens) for a in eager]
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1, "the decoding step was not compiled"
    # The rows' adapters change places: each row follows its own adapter, and the captured graph is reused.
    swapped = engine.side_by_side("the goal and the match", ["beta", "alpha", None, "beta"], SETTINGS,
                                  system="Classify.")
    assert [a.text for a in swapped] == [eager[2].text, eager[1].text, eager[0].text, eager[2].text]
    assert counters["stats"]["unique_graphs"] == graphs, "a new adapter assignment recompiled the step"
    updates = list(engine.stream_side_by_side("hello", [None, "alpha"], SETTINGS, system="Classify."))
    assert len(updates) >= 3 and [a.text for a in updates[-1]] == \
        [a.text for a in engine.side_by_side("hello", [None, "alpha"], SETTINGS, system="Classify.")]


def test_an_evaluation_compiles_the_decoding_step_once_and_answers_as_eager_decoding(served):
    """An evaluation's calls differ in rows (its last holds fewer examples) and in prompt lengths (past a static
    cache step): each asks the run's shape, so the compiled step is compiled once (no recompile on a GPU, about a
    minute each) and the padding rows' answers are dropped: the same answers as eager decoding."""
    from torch._dynamo.utils import counters

    _, engine = served
    examples = [{"messages": [{"role": "user", "content": "the goal and the match " * (1 + 12 * i)}],
                 "reference": "sports"} for i in (0, 4, 1, 3, 2, 5, 0)]  # about 30 to 330 tokens
    settings, models = GenerationSettings(max_new_tokens=6), [None, "alpha"]
    eager = evaluate(engine, models, examples, ["accuracy"], settings, rows_per_call=6)
    engine.decode_compile = _static_decoding("aot_eager")
    calls, real_generate = [], engine.generate

    def counted(rows, settings=None, *args, **kwargs):
        out = real_generate(rows, settings, *args, **kwargs)
        calls.append((len(rows), kwargs["shape"], len(out)))
        return out

    engine.generate = counted
    counters.clear()
    static = evaluate(engine, models, examples, ["accuracy"], settings, rows_per_call=6)
    assert engine.decode_note == "", engine.decode_note
    assert [(n, shape.rows, m) for n, shape, m in calls] == [(6, 6, 6), (6, 6, 6), (2, 6, 2)]
    assert calls[0][1].tokens == 0 and calls[1][1].tokens > 256, "the first call's long prompts set the cache"
    assert counters["stats"]["unique_graphs"] == 1, "an evaluation's later calls compiled the step again"
    assert static["examples"] == eager["examples"]
    assert static["examples"][0]["alpha"] == real_generate([("alpha", examples[0]["messages"])], settings)[0].text


def test_side_by_side_calls_of_one_to_five_models_share_one_compiled_step(served):
    """A person's comparisons ask one model, then two, then five, with prompts short and long: on the compiled
    path each call outside a run is padded to the interactive shape (five rows, a 1,024-token cache), so the
    decoding step is compiled once (a GPU compiles again, about a minute, for each new shape), and each side's
    answer is eager decoding's."""
    from torch._dynamo.utils import counters

    _, engine = served
    asks = [("the goal and the match", [None]), ("the goal and the match " * 30, ["alpha", None]),
            ("the vote and the minister", [None, "alpha", "beta", "alpha", None])]  # about 5 to 150 tokens
    settings = GenerationSettings(max_new_tokens=6)
    eager = [engine.side_by_side(prompt, models, settings, system="Classify.") for prompt, models in asks]
    engine.decode_compile = _static_decoding("aot_eager")
    counters.clear()
    static = [engine.side_by_side(prompt, models, settings, system="Classify.") for prompt, models in asks]
    assert engine.decode_note == "", engine.decode_note
    assert counters["stats"]["unique_graphs"] == 1, "a comparison of another size compiled the step again"
    assert [[(a.model, a.text, a.tokens) for a in call] for call in static] == \
        [[(a.model, a.text, a.tokens) for a in call] for call in eager]
    assert [len(call) for call in static] == [1, 2, 5]  # the padding rows' answers are dropped


def test_stop_texts_end_each_row_where_its_own_answer_first_has_one(served):
    """OpenAI's `stop`: a row ends before the first stop text in its answer, and stops decoding there (fewer
    tokens); rows without one answer in full; the same on the compiled static-cache path; streamed text is never
    taken back (a tail that may start a stop text waits)."""
    from assistant.serve.streaming import cut_at_stop

    _, engine = served
    rows, prompt = [None, "alpha", "beta"], "the goal and the match"
    free = engine.side_by_side(prompt, rows, GenerationSettings(max_new_tokens=24), system="Classify.")
    words = [w for w in free[0].text.split() if len(w) >= 4]
    stop = words[len(words) // 2][1:4]  # three letters from inside a word halfway through the first answer
    settings = GenerationSettings(max_new_tokens=24, stop=(stop, "never appears"))
    for compiled in (False, True):
        engine.decode_compile = _static_decoding("aot_eager") if compiled else None
        cut = engine.side_by_side(prompt, rows, settings, system="Classify.")
        assert engine.decode_note == "", engine.decode_note
        for f, c in zip(free, cut):
            if stop in f.text:
                assert (c.text, c.finish_reason) == (f.text[:f.text.find(stop)].strip(), "stop")
                assert c.tokens < f.tokens, (c.tokens, f.tokens)  # it stopped decoding, not only cut the text
            else:
                assert (c.text, c.tokens, c.finish_reason) == (f.text, f.tokens, f.finish_reason)
        assert cut[0].finish_reason == "stop" and cut[0].text != free[0].text
    updates = [u[0].text for u in engine.stream_side_by_side(prompt, rows, settings, system="Classify.")]
    assert len(updates) >= 3 and updates[-1] == cut[0].text
    assert all(b.startswith(a) for a, b in zip(updates, updates[1:])), updates
    assert cut_at_stop("hello wor", ["world"], done=False) == ("hello ", False)  # held back while decoding
    assert cut_at_stop("hello wor", ["world"], done=True) == ("hello wor", False)
    assert cut_at_stop("a. b. c.", ["c", "b."], done=False) == ("a. ", True)  # the first to appear


def test_decoding_that_reads_its_stop_flag_a_step_late_gives_the_same_answers(served, monkeypatch):
    """On a GPU, `generate` reads "has every row finished?" one step late (`kernels.deferred_stop`: transformers'
    `DeferredStopCheck`, which it turns on for mps only), so the host never waits on the device. Run here on the
    CPU (which has no device events; its work is done when queued): the same answers, token counts and finish
    reasons as the check read every step, eager and on the compiled static-cache path; when every row stopped
    early the one extra step is undone; streamed text grows and ends with the answer; a call reading
    log-probabilities is not deferred (the recorder keeps the latest step only) and gets the same entries."""
    import torch
    from transformers.generation import utils

    from assistant.serve import kernels
    from assistant.serve.sampling import Sampling

    class Event:
        def __init__(self, device=None, blocking=False):
            pass

        def record(self):
            pass

        def synchronize(self):
            pass

    _, engine = served
    rows, prompt = [None, "alpha", "beta"], "the goal and the match"
    free = engine.side_by_side(prompt, rows, GenerationSettings(max_new_tokens=16), system="Classify.")
    stops = []  # three letters from inside a word in the second half of each answer: every row ends early
    for a in free:
        words = [w for w in a.text[len(a.text) // 2:].split() if len(w) >= 5]
        assert words, a.text
        stops.append(words[0][1:4])
    cases = [GenerationSettings(max_new_tokens=16, stop=tuple(stops)), GenerationSettings(max_new_tokens=12),
             GenerationSettings(max_new_tokens=6, sampling=Sampling(logprobs=2)), GenerationSettings(max_new_tokens=1)]
    engine.defer_stop = False
    waited = [engine.side_by_side(prompt, rows, s, system="Classify.") for s in cases]
    assert all(a.finish_reason == "stop" and a.tokens < f.tokens for a, f in zip(waited[0], free))

    monkeypatch.setattr(kernels, "DEFER_STOP_ON", ("cuda", "cpu"))
    monkeypatch.setattr(torch, "Event", Event)
    undone, finish = [], utils.DeferredStopCheck.finish
    monkeypatch.setattr(utils.DeferredStopCheck, "finish", lambda self: undone.append(finish(self)) or undone[-1])
    engine.defer_stop = True
    for compiled in (False, True):
        engine.decode_compile = _static_decoding("aot_eager") if compiled else None
        undone.clear()
        late = [engine.side_by_side(prompt, rows, s, system="Classify.") for s in cases]
        assert engine.decode_note == "", engine.decode_note
        assert undone == [1, 0, 0], undone  # all stopped early: a step undone; at the limit: none; logprobs: not late
        for got, want in zip(late, waited):
            assert [(a.text, a.tokens, a.finish_reason) for a in got] == \
                [(a.text, a.tokens, a.finish_reason) for a in want]
            for a, b in zip(got, want):  # the compiled step's log-probabilities differ from eager's in float noise
                assert (a.logprobs is None) == (b.logprobs is None)
                for x, y in zip(a.logprobs or [], b.logprobs or []):
                    assert x["token"] == y["token"] and x["logprob"] == pytest.approx(y["logprob"], abs=1e-4)
    assert late[2][0].logprobs and late[2][0].logprobs[0]["top_logprobs"]
    updates = [u[1].text for u in engine.stream_side_by_side(prompt, rows, cases[0], system="Classify.")]
    assert len(updates) >= 3 and updates[-1] == waited[0][1].text
    assert all(b.startswith(a) for a, b in zip(updates, updates[1:])), updates
    assert "is_supported" in vars(utils.DeferredStopCheck) and \
        not utils.DeferredStopCheck.is_supported(torch.device("cpu"), None, False, False)  # put back after each call
    class Changed:  # a transformers whose check asks something else
        @staticmethod
        def is_supported(device, cache, cache_is_returned, is_assistant, streamer):
            return False

    for other in (None, Changed):  # a transformers without it, or with another signature: not deferred
        with monkeypatch.context() as m:
            m.setattr(utils, "DeferredStopCheck", other)
            with kernels.deferred_stop("cpu") as on:
                assert on is False  # and a check of another signature is left as it was, inside the block
                assert Changed.is_supported(torch.device("cpu"), None, False, False, None) is False


def _hand_greedy(model, tokenizer, messages, steps, bias=(), presence=0.0, frequency=0.0):
    """Greedy decoding written out with OpenAI's formulas: logits + bias − frequency·count − presence·[count>0],
    counting the answer's tokens only; returns (tokens, each chosen token's log-probability before both)."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out, logprobs, counts = [], [], torch.zeros(model.config.vocab_size)
    with torch.inference_mode():
        for _ in range(steps):
            logits = model(ids).logits[0, -1].float()
            for token, b in bias:
                logits[token] += b
            logits = logits - frequency * counts - presence * (counts > 0).float()
            token = int(logits.argmax())
            if token == tokenizer.eos_token_id:
                break
            logprobs.append(float(torch.log_softmax(model(ids).logits[0, -1].float(), -1)[token]))
            out.append(token)
            counts[token] += 1
            ids = torch.cat([ids, torch.tensor([[token]])], 1)
    return out, logprobs


def test_each_rows_logprobs_come_from_its_own_row_after_others_have_finished():
    """The streamer works out a step's logprobs entries for every row at once: each row's entry is its own token
    under its own row of the step's log-probabilities, a row that has finished (its end-of-text) gets none, and
    the alternatives are that row's most likely tokens."""
    import torch
    from transformers import AutoTokenizer

    from assistant.serve.sampling import Recorder
    from assistant.serve.streaming import BatchStreamer
    from helpers import smol_tokenizer_dir

    tok = AutoTokenizer.from_pretrained(smol_tokenizer_dir())
    recorder, eos = Recorder(), tok.eos_token_id
    streamer = BatchStreamer(tok, ["a", "b", "c"], recorder=recorder, top=2)
    streamer.put(torch.zeros((3, 4), dtype=torch.long))  # generate hands over the prompt first
    torch.manual_seed(0)
    steps = [(torch.randn(3, len(tok)), [50, eos, 70]), (torch.randn(3, len(tok)), [80, 90, 100])]
    for logits, tokens in steps:
        recorder(None, logits)
        streamer.put(torch.tensor(tokens))
    assert streamer.entries[1] == [] and streamer.hit_eos == [False, True, False]
    for i in (0, 2):
        assert [e["token"] for e in streamer.entries[i]] == [tok.decode([t[i]]) for _, t in steps]
        for e, (logits, tokens) in zip(streamer.entries[i], steps):
            lp = torch.log_softmax(logits[i], -1)
            assert e["logprob"] == pytest.approx(float(lp[tokens[i]]), abs=1e-5)
            best = lp.topk(2)
            assert [a["token"] for a in e["top_logprobs"]] == [tok.decode([t]) for t in best.indices.tolist()]
            assert [a["logprob"] for a in e["top_logprobs"]] == pytest.approx(best.values.tolist(), abs=1e-5)


def test_penalties_bias_and_logprobs_follow_openais_formulas(served, tiny_model):
    """Presence and frequency penalties count the answer's own tokens, `logit_bias` is added before them, and
    `logprobs` reports each chosen token's log-probability under the model itself, with the top alternatives
    (under greedy decoding the chosen token is the first of them): each checked against greedy decoding
    written out by hand on the same weights, and on the compiled static-cache path. Asking for logprobs does
    not change the answer."""
    from transformers import AutoModelForCausalLM

    from assistant.serve.sampling import Sampling

    _, engine = served
    reference = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    messages = [{"role": "user", "content": "the goal and the match"}]
    t = engine.tokenizer.encode(" t", add_special_tokens=False)[0]
    favoured = ((t, 6.0),)  # often drawn, so the penalties have repeats to act on
    plain = engine.generate([(None, messages)], GenerationSettings(max_new_tokens=16))[0]

    def answer(**sampling):
        settings = GenerationSettings(max_new_tokens=16, sampling=Sampling(logprobs=3, **sampling))
        return engine.generate([(None, messages)], settings)[0]

    unpenalised, penalised = answer(logit_bias=favoured), answer(logit_bias=favoured, presence_penalty=1.5,
                                                                   frequency_penalty=2.0)
    assert answer().text == plain.text and len(answer().logprobs) == plain.tokens
    for got, kwargs in [(unpenalised, {}), (penalised, {"presence": 1.5, "frequency": 2.0})]:
        tokens, logprobs = _hand_greedy(reference, engine.tokenizer, messages, 16, favoured, **kwargs)
        assert got.text == engine.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        assert [e["token"] for e in got.logprobs] == [engine.tokenizer.decode([i]) for i in tokens]
        assert [e["logprob"] for e in got.logprobs] == pytest.approx(logprobs, abs=1e-3)
    greedy = answer().logprobs
    assert all(e["top_logprobs"][0] == {k: v for k, v in e.items() if k != "top_logprobs"} for e in greedy)
    biased = unpenalised.logprobs[0]  # the model's own distribution, before the bias that chose the token
    assert biased["token"] == " t" and biased["top_logprobs"][0]["logprob"] > biased["logprob"]
    assert all(len(e["top_logprobs"]) == 3 and e["logprob"] <= 0 for e in penalised.logprobs)
    repeats = [sum(e["token"] == " t" for e in a.logprobs) for a in (unpenalised, penalised)]
    assert repeats[0] >= 3 and repeats[1] < repeats[0], repeats  # the penalties acted on what the bias repeated
    banned = engine.tokenizer.encode(plain.text, add_special_tokens=False)[0]
    assert answer(logit_bias=((banned, -100.0),)).logprobs[0]["token"] != engine.tokenizer.decode([banned])
    with pytest.raises(EngineError, match="does not have"):
        answer(logit_bias=((10**8, 1.0),))
    engine.decode_compile = _static_decoding("aot_eager")  # the GPU's path: the processors run outside the graph
    compiled = answer(logit_bias=favoured, presence_penalty=1.5, frequency_penalty=2.0)
    assert engine.decode_note == "" and compiled.text == penalised.text
    assert [e["logprob"] for e in compiled.logprobs] == pytest.approx([e["logprob"] for e in penalised.logprobs],
                                                                      abs=1e-4)


_NEW_ENGINE_AFTER_OLD = """
import gc, json, sys, threading
sys.path.insert(0, "tests")
from test_serving import _static_decoding
from assistant.config import Home
from assistant.registry import Registry
from assistant.serve.engine import Engine, GenerationSettings

reg, threads, answers = Registry(Home.resolve()), [], []
for stop in ((), ("and", "never appears")):  # a different call than the old engine's: it is compiled anew
    engine = Engine(reg, sys.argv[1])
    engine.start().result()
    engine.decode_compile = _static_decoding("aot_eager")
    answers.append([a.text for a in engine.side_by_side("the goal and the match", [None, None],
                                                        GenerationSettings(max_new_tokens=8, stop=stop))])
    threads.append(engine._pool.submit(threading.current_thread).result())
    assert engine.decode_note == "", engine.decode_note
    del engine
    gc.collect()  # the old engine is gone before the next one compiles
print(json.dumps({"answers": answers, "one_thread": threads[0] is threads[1] and threads[0].is_alive()}))
"""


def test_a_new_engine_compiles_its_decoding_after_an_old_engine_is_gone(tiny_model):
    """An engine replaced by another in the same process (the MCP server's, when asked about another base model):
    the new one compiles its decoding step on the thread the old one used, which outlives it — torch 2.11's
    compiler (the GPU machine's) crashed the process compiling after a thread it had compiled on had exited. Run
    in a child process, so a crash fails this test and not the suite."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _NEW_ENGINE_AFTER_OLD, str(tiny_model)], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["one_thread"], "each engine ran its model on a thread of its own"
    first, cut = got["answers"]
    assert all(first)
    assert all(c == (f[:f.find("and")].strip() if "and" in f else f) for f, c in zip(first, cut))


def test_a_failing_compiler_falls_back_to_eager_decoding_and_says_why(served, capsys):
    _, engine = served
    eager = engine.side_by_side("the goal", [None, "beta"], SETTINGS, system="Classify.")

    def broken(gm, example_inputs):
        raise RuntimeError("no C compiler here")

    engine.decode_compile = _static_decoding(broken)
    answers = engine.side_by_side("the goal", [None, "beta"], SETTINGS, system="Classify.")
    assert [a.text for a in answers] == [a.text for a in eager]
    assert engine.decode_compile is None and "no C compiler here" in engine.decode_note
    assert "decoding eagerly" in capsys.readouterr().out


def test_the_engine_leaves_the_gpu_while_a_job_trains_and_comes_back(served, monkeypatch):
    import torch

    from assistant.plan import Plan
    from assistant.serve import engine as engine_module

    reg, engine = served
    with monkeypatch.context() as gpu_machine:
        gpu_machine.delenv("TAILOR_SERVE_DEVICE", raising=False)
        gpu_machine.setattr(torch.cuda, "is_available", lambda: True)
        assert engine_module.serve_on_gpu(), "a GPU machine serves from the GPU by default"
        gpu_machine.setenv("TAILOR_SERVE_DEVICE", "cpu")
        assert not engine_module.serve_on_gpu()
    moves = []
    monkeypatch.setattr(engine, "_move", lambda device: (moves.append(device), setattr(engine, "placed", device)))
    engine.home_device = engine.placed = "cuda"  # as if loaded on a GPU (the model itself stays on this CPU)
    engine.place()
    assert moves == [] and engine.status.startswith("ready on the GPU")
    cpu_plan = Plan()
    cpu_plan.resources.device = "cpu"
    reg.submit_job(reg.add_plan(cpu_plan.to_json()))  # a CPU job leaves the card alone
    engine.place()
    assert moves == []
    gpu_plan = Plan()
    gpu_plan.resources.device = "cuda"
    job = reg.submit_job(reg.add_plan(gpu_plan.to_json()))
    answer = engine.side_by_side("the goal", [None, "alpha"], SETTINGS, system="Classify.")  # moves first
    assert moves == ["cpu"] and all(a.tokens > 0 for a in answer)
    assert f"serving from the CPU while job {job} trains on the GPU" in engine.status
    reg.update_job(job, status="running")
    engine.place()
    assert moves == ["cpu"] and engine.away_for == job
    reg.update_job(job, status="succeeded")
    engine.place()
    assert moves == ["cpu", "cuda"] and engine.away_for is None and engine.status.startswith("ready on the GPU")


def test_streaming_sends_growing_text_and_ends_with_the_full_answer(served):
    _, engine = served
    final = engine.side_by_side("hello", [None, "alpha"], SETTINGS, system="Classify.")
    updates = list(engine.stream_side_by_side("hello", [None, "alpha"], SETTINGS, system="Classify."))
    assert len(updates) >= 3
    assert [len(u[1].text) for u in updates] == sorted(len(u[1].text) for u in updates)
    assert [a.text for a in updates[-1]] == [a.text for a in final]


def test_engine_refuses_other_bases_and_tampered_weights(served, tiny_model, tmp_path):
    from assistant.registry.store import WEIGHTS, adapter_dir
    from helpers import tiny_model_dir

    reg, engine = served
    other = tiny_model_dir("tiny-llama-2", seed=1)
    register(reg, other, tmp_path, "elsewhere", 3)
    with pytest.raises(EngineError, match="was trained on tiny-llama-2"):
        engine.side_by_side("hi", ["elsewhere"], SETTINGS)
    with open(adapter_dir(reg, reg.adapter("beta")) / WEIGHTS, "r+b") as f:
        f.seek(200)
        f.write(b"\x01\x02\x03")
    with pytest.raises(EngineError, match="do not match their recorded sha256"):
        engine.side_by_side("hi", ["beta"], SETTINGS)
    with pytest.raises(EngineError, match="no adapter named"):
        engine.side_by_side("hi", ["nope"], SETTINGS)


# -- metrics ------------------------------------------------------------------------------------------------
def test_metrics_on_worked_examples():
    assert M.exact_match(" Positive. ", "positive") == 1.0
    assert M.token_f1("the cat sat", "the cat sat down") == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert M.rouge_l("the cat was under the bed", "the cat was found under the bed") == pytest.approx(
        2 * 1 * (6 / 7) / (1 + 6 / 7)
    )
    assert M.bleu("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert M.bleu("dog", "the cat sat on the mat") == 0.0
    assert M.chrf("猫在垫子上", "猫在垫子上") == pytest.approx(1.0) and 0 < M.chrf("猫在垫子", "猫在垫子上") < 1
    assert (
        M.json_valid('{"a": 1}') == 1.0
        and M.json_valid("```json\n[1, 2]\n```") == 1.0
        and M.json_valid("{a: 1}") == 0.0
    )
    assert M.macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert M.token_f1("北京欢迎你", "欢迎你") == pytest.approx(2 * 0.6 * 1 / 1.6)


def test_paired_bootstrap_covers_a_known_difference():
    rng = random.Random(1)
    n = 400
    refs = ["yes"] * n
    a = ["yes" if i < 0.8 * n else "no" for i in range(n)]  # 80% right
    b = ["yes" if i < 0.5 * n else "no" for i in range(n)]  # 50% right: the true difference is exactly 0.3
    order = list(range(n))
    rng.shuffle(order)
    a, b = [a[i] for i in order], [b[i] for i in order]
    ci = M.paired_bootstrap("accuracy", a, b, refs, samples=1000)
    assert ci["difference"] == pytest.approx(0.3)
    assert ci["low"] < 0.3 < ci["high"] and ci["low"] > 0.2 and ci["high"] < 0.4 and ci["p_better"] == 1.0
    same = M.paired_bootstrap("accuracy", a, a, refs)
    assert same["low"] == same["high"] == 0.0
    noisy = M.paired_bootstrap("f1", a[:40], b[:40], ["yes", "no"] * 20)
    assert noisy["low"] <= noisy["difference"] <= noisy["high"]


def test_bradley_terry_recovers_a_known_ordering_from_simulated_votes():
    rng = random.Random(7)
    strength = {"base": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0}
    names, votes = list(strength), []
    for _ in range(1500):
        a, b = rng.sample(names, 2)
        pa = strength[a] / (strength[a] + strength[b])
        r = rng.random()
        votes.append((a, b, "tie" if abs(r - pa) < 0.03 else ("a" if r < pa else "b")))
    ratings = M.bradley_terry(votes)
    assert sorted(ratings, key=ratings.get) == ["base", "small", "medium", "large"]
    # Doubling the strength is about 120 points on the Elo-like scale (400·log10 2).
    assert ratings["large"] - ratings["medium"] == pytest.approx(120, abs=35)
    board = M.leaderboard(votes, samples=50)
    assert [r["model"] for r in board] == ["large", "medium", "small", "base"]
    assert all(r["low"] <= r["rating"] <= r["high"] for r in board) and board[0]["votes"] > 500


# -- evaluation ---------------------------------------------------------------------------------------------
def test_batch_evaluation_scores_every_model_and_is_stored(served):
    reg, engine = served
    examples = [
        {
            "messages": [{"role": "system", "content": "Classify."}, {"role": "user", "content": f"text {i}"}],
            "reference": "sports" if i % 2 else "food",
        }
        for i in range(6)
    ]
    run = evaluate(
        engine,
        [None, "alpha", "beta"],
        examples,
        ["accuracy", "f1", "rougeL", "perplexity"],
        SETTINGS,
        rows_per_call=6,
        registry=reg,
    )
    assert run["models"] == ["base", "alpha", "beta"] and run["metrics"] == ["accuracy", "f1", "rougeL"]
    for model in run["models"]:
        assert set(run["results"][model]["metrics"]) == {"accuracy", "f1", "rougeL"}
        assert len(run["results"][model]["per_example"]["rougeL"]) == 6
    ci = run["results"]["alpha"]["vs_base"]["rougeL"]
    assert ci["low"] <= ci["difference"] <= ci["high"]
    # The answers are the engine's own: the same as asking each model directly.
    direct = engine.generate([("alpha", examples[3]["messages"])], SETTINGS)[0].text
    assert run["examples"][3]["alpha"] == direct
    stored = reg.eval_run(run["id"])
    assert stored["eval_sha256"] == run["eval_sha256"] and stored["settings"]["max_new_tokens"] == 10
    assert stored["results"]["results"]["beta"]["metrics"] == run["results"]["beta"]["metrics"]
    diffs = disagreements(run, "alpha", "rougeL")
    assert all(d["result"] in ("win", "loss") for d in diffs)
    assert all(d["result"] == "win" for d in disagreements(run, "alpha", "rougeL", only="wins"))


def test_evaluation_packs_many_examples_per_call_and_keeps_their_order(served):
    """Examples of different lengths share calls (ordered by length), yet each answer lands on its own example:
    the same answers as one example per call. The calls are as few as the room allows and as even as can be.
    Progress is said after every call; a cancel stops before the next."""

    from assistant.evaluate.run import EvalCancelled, even_calls

    assert [even_calls(n, most) for n, most in ((103, 102), (5, 102), (300, 102), (6, 4), (7, 3))] == \
        [52, 5, 100, 3, 3]  # 103 in two calls of 52 and 51, not of 102 and 1

    reg, engine = served
    texts = ["the match", "a long text about the goal, the match and the final whistle of the season", "rain",
             "sun and wind over the hills", "bread", "the goal"]
    examples = [{"messages": [{"role": "user", "content": t}], "reference": "sports"} for t in texts]
    models = [None, "alpha", "beta"]
    calls = []
    real_generate = engine.generate

    def counted(rows, settings=None, *args, **kwargs):
        calls.append(len(rows))
        return real_generate(rows, settings, *args, **kwargs)

    engine.generate = counted
    seen = []
    packed = evaluate(engine, models, examples, ["accuracy"], SETTINGS, rows_per_call=12,
                      progress=lambda p: seen.append((p.done, p.total, p.words())))
    assert calls == [9, 9], "room for 4 examples x 3 models: two calls of 3 examples, not of 4 and 2"
    assert [s[:2] for s in seen] == [(3, 6), (6, 6)] and "examples/s" in seen[0][2]
    calls.clear()
    one_by_one = evaluate(engine, models, examples, ["accuracy"], SETTINGS, rows_per_call=3)
    assert calls == [3] * 6
    assert packed["examples"] == one_by_one["examples"]
    assert [e["prompt"] for e in packed["examples"]] == texts
    # Each answer is the one the model gives that example when asked alone.
    assert packed["examples"][1]["beta"] == real_generate([("beta", examples[1]["messages"])], SETTINGS)[0].text
    # Sized by the engine before each call, where it will serve it: a job starting after the first call moves it
    # to the CPU, and the next calls hold what the CPU can.
    calls.clear()
    sizes, asked, real_rows = [12, 3, 3, 3], [], engine.rows_per_call

    def moving(tokens, place=False):
        asked.append(place)
        return sizes.pop(0)

    engine.rows_per_call = moving
    try:
        moved = evaluate(engine, models, examples, ["accuracy"], SETTINGS)
    finally:
        engine.rows_per_call = real_rows
    assert calls == [9, 3, 3, 3] and asked == [True] * 4 and moved["examples"] == packed["examples"]

    stop = threading.Event()
    calls.clear()
    with pytest.raises(EvalCancelled, match="cancelled after 2 of 6 examples"):
        evaluate(engine, models, examples, ["accuracy"], SETTINGS, rows_per_call=6, cancel=stop,
                 progress=lambda p: stop.set())
    assert calls == [6]
    # Every row of a CPU call fits the machine's memory; a row of 10,000 tokens still gets one.
    assert 1 <= engine.rows_per_call(10_000) <= engine.rows_per_call(100) <= 40


def test_arena_hides_names_until_the_vote_and_feeds_the_leaderboard(served):
    reg, engine = served
    rng = random.Random(3)
    for i in range(6):
        b = battle(engine, f"question {i}", ["base", "alpha", "beta"], SETTINGS, rng=rng)
        assert set(b) == {"battle", "a", "b"}  # no names before the vote
        revealed = vote(reg, b["battle"], "a" if i % 3 else "tie")
        assert revealed["a"] != revealed["b"]
        with pytest.raises(ValueError, match="already voted"):
            vote(reg, b["battle"], "b")
    assert len(reg.votes()) == 6
    board = standings(reg, samples=20)
    assert {r["model"] for r in board} <= {"base", "alpha:1", "beta:1"} and sum(r["votes"] for r in board) == 12


# -- OpenAI-compatible API ------------------------------------------------------------------------------------
def test_openai_client_lists_models_and_streams_from_an_adapter_by_name(api):
    from openai import OpenAI

    url, reg, engine = api
    reg.set_alias("production", reg.adapter("beta").id)
    client = OpenAI(base_url=url, api_key="sk-tailor-test")
    ids = [m.id for m in client.models.list()]
    assert ids[0] == engine.base_name and {"alpha", "alpha:1", "beta", "beta:1", "production"} <= set(ids)
    assert client.models.retrieve("alpha:1").parent == engine.base_name
    assert client.models.retrieve("alpha:1").max_model_len == engine.context > 0  # vLLM's field, as clients read it
    assert client.models.retrieve("production").id == "production"
    assert client.models.retrieve(engine.base_name).id == engine.base_name
    messages = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "the goal and the match"}]
    full = client.chat.completions.create(model="alpha", messages=messages, max_tokens=10)
    expected = engine.generate([("alpha", messages)], SETTINGS)[0]
    assert full.choices[0].message.content == expected.text
    assert full.usage.completion_tokens == expected.tokens and full.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model="alpha", messages=messages, max_tokens=10, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2, "the answer must arrive in pieces"
    assert "".join(pieces) == expected.text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    by_alias = client.chat.completions.create(model="production", messages=messages, max_tokens=10)
    assert by_alias.choices[0].message.content == engine.generate([("beta", messages)], SETTINGS)[0].text
    base = client.chat.completions.create(model=engine.base_name, messages=messages, max_tokens=10)
    assert base.choices[0].message.content == engine.generate([(None, messages)], SETTINGS)[0].text


def test_openai_api_takes_text_parts_developer_role_stop_and_usage_like_openai(api):
    """What OpenAI's own clients send: content as a list of text parts, the `developer` role, `stop`, and
    `stream_options.include_usage` (a last chunk with the token counts and no choices)."""
    from openai import OpenAI

    url, _, engine = api
    client = OpenAI(base_url=url, api_key="sk-tailor-test")
    plain = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "the goal\nand the match"}]
    parts = [{"role": "developer", "content": [{"type": "text", "text": "Classify."}]},
             {"role": "user", "content": [{"type": "text", "text": "the goal"},
                                          {"type": "text", "text": "and the match"}]}]
    expected = engine.generate([("alpha", plain)], GenerationSettings(max_new_tokens=16))[0]
    got = client.chat.completions.create(model="alpha", messages=parts, max_tokens=16)
    assert got.choices[0].message.content == expected.text
    stop = [w for w in expected.text.split() if len(w) >= 4][1][:3]
    assert client.chat.completions.create(model="alpha", messages=plain, max_tokens=16,
                                          stop=[]).choices[0].message.content == expected.text
    cut = client.chat.completions.create(model="alpha", messages=plain, max_tokens=16, stop=[stop])
    assert cut.choices[0].message.content == expected.text[:expected.text.find(stop)].strip()
    assert cut.choices[0].finish_reason == "stop" and cut.usage.completion_tokens < expected.tokens
    chunks = list(client.chat.completions.create(model="alpha", messages=plain, max_tokens=16, stop=stop,
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == cut.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == cut.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_api_serves_logprobs_penalties_and_logit_bias_like_openai(api):
    """`logprobs`/`top_logprobs` come back in OpenAI's shape (whole answers and streamed, chunk by chunk), and
    penalties and `logit_bias` reach decoding: each answer is the engine's own for the same settings."""
    from openai import OpenAI

    from assistant.serve.sampling import Sampling

    url, _, engine = api
    client = OpenAI(base_url=url, api_key="sk-tailor-test")
    messages = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "the goal and the match"}]
    got = client.chat.completions.create(model="alpha", messages=messages, max_tokens=12, logprobs=True,
                                         top_logprobs=2)
    expected = engine.generate([("alpha", messages)], GenerationSettings(max_new_tokens=12,
                                                                         sampling=Sampling(logprobs=2)))[0]
    content = got.choices[0].logprobs.content
    assert [c.model_dump() for c in content] == expected.logprobs and len(content) == got.usage.completion_tokens
    assert "".join(c.token for c in content).strip() == got.choices[0].message.content
    assert all(len(c.top_logprobs) == 2 and bytes(c.bytes).decode() == c.token for c in content)
    assert client.chat.completions.create(model="alpha", messages=messages, max_tokens=4).choices[0].logprobs is None
    assert client.chat.completions.create(model="alpha", messages=messages, max_tokens=4,  # asks for nothing: taken
                                          top_logprobs=0).choices[0].logprobs is None
    chunks = list(client.chat.completions.create(model="alpha", messages=messages, max_tokens=12, logprobs=True,
                                                 top_logprobs=2, stream=True))
    streamed = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert [e.model_dump() for e in streamed] == expected.logprobs
    stop = [w for w in expected.text.split() if len(w) >= 4][1][:3]  # cut inside the answer: no entry past it
    cut = client.chat.completions.create(model="alpha", messages=messages, max_tokens=12, logprobs=True,
                                         top_logprobs=2, stop=stop)
    cut_entries = [c.model_dump() for c in cut.choices[0].logprobs.content]
    assert cut_entries == expected.logprobs[:len(cut_entries)] and len(cut_entries) < len(expected.logprobs)
    assert "".join(e["token"] for e in cut_entries).strip().startswith(cut.choices[0].message.content)
    chunks = list(client.chat.completions.create(model="alpha", messages=messages, max_tokens=12, logprobs=True,
                                                 top_logprobs=2, stop=stop, stream=True))
    assert [e.model_dump() for c in chunks if c.choices and c.choices[0].logprobs
            for e in c.choices[0].logprobs.content] == cut_entries
    t = engine.tokenizer.encode(" t", add_special_tokens=False)[0]
    sampling = Sampling(presence_penalty=1.0, frequency_penalty=2.0, logit_bias=((t, 6.0),))
    shaped = client.chat.completions.create(model="alpha", messages=messages, max_tokens=12, presence_penalty=1.0,
                                            frequency_penalty=2.0, logit_bias={str(t): 6})
    mine = engine.generate([("alpha", messages)], GenerationSettings(max_new_tokens=12, sampling=sampling))[0]
    assert shaped.choices[0].message.content == mine.text != expected.text


def test_openai_api_refuses_a_wrong_key_and_unknown_models(api):
    import httpx
    import openai
    from openai import OpenAI

    url, _, _ = api
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=url, api_key="wrong").models.list()
    r = httpx.post(url + "/chat/completions", json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
    client = OpenAI(base_url=url, api_key="sk-tailor-test")
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.models.retrieve("nope:7")
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=url, api_key="wrong").models.retrieve("alpha")
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="alpha", messages=[])
    assert json.loads(json.dumps(client.models.list().model_dump()))["object"] == "list"


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"temperature": "hot"}, 400, "temperature"),
        ({"seed": "x"}, 400, "seed"),
        ({"top_p": -5}, 400, "top_p"),
        ({"temperature": -1}, 400, "temperature"),
        ({"max_tokens": True}, 400, "max_tokens"),
        ({"max_tokens": 10**6}, 400, "max_tokens"),
        ({"max_completion_tokens": "9"}, 400, "max_completion_tokens"),
        ({"stream": "yes"}, 400, "stream"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
        ({"model": 7}, 400, "model"),
        ({"model": "nope"}, 404, "does not exist"),
        ({"model": "alpha:99999999999999999999"}, 404, "does not exist"),  # past SQLite's integers: was a 500
        ({"model": "alpha:²"}, 404, "does not exist"),  # a digit to str.isdigit, not to int(): was a 500
        ({"model": "alpha:latest"}, 404, "does not exist"),  # was answered by alpha's latest version
        ({"temperature": float("nan")}, 400, "temperature"),
        ({"n": 2}, 400, "`n` must be 1"),
        ({"stop": ["a", ""]}, 400, "stop"),
        ({"stop": [chr(97 + i) for i in range(17)]}, 400, "at most 16 texts"),
        ({"stop": ["x" * 200] * 6}, 400, "at most 1024 characters in all"),
        ({"stop": 5}, 400, "stop"),
        ({"stop": "x" * 257}, 400, "at most 256 characters"),
        ({"stream_options": "usage"}, 400, "stream_options"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400,
         "messages[0].content[0]` is of type image_url"),
        ({"messages": [{"role": "user", "content": []}]}, 400, "messages[0].content"),
        ({"messages": [{"role": "tool", "content": "42"}]}, 400, "without tools"),
        ({"messages": [{"role": {"name": "user"}, "content": "hi"}]}, 400, "messages[0].role"),
        # past the tiny model's 1,024 positions: refused, not answered from positions it never learned
        ({"messages": [{"role": "user", "content": "the goal " * 600}]}, 400, "past the model's context of 1024"),
        ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]}, 400, "tool call"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "`tools` is not served"),
        ({"tool_choice": "auto"}, 400, "`tool_choice` is not served"),
        ({"response_format": {"type": "json_object"}}, 400, "`response_format` json_object is not served"),
        ({"response_format": "json"}, 400, "`response_format` is not served"),
        ({"presence_penalty": 2.5}, 400, "presence_penalty"),
        ({"frequency_penalty": "x"}, 400, "frequency_penalty"),
        ({"logprobs": "yes"}, 400, "logprobs"),
        ({"top_logprobs": 3}, 400, "`top_logprobs` needs `logprobs: true`"),
        ({"logprobs": True, "top_logprobs": 21}, 400, "top_logprobs"),
        ({"logit_bias": {"abc": 1}}, 400, "keys must be token ids"),
        ({"logit_bias": {"5": 101}}, 400, 'logit_bias["5"]'),
        ({"logit_bias": [5]}, 400, "logit_bias"),
        ({"logit_bias": {"99999999": 5}}, 400, "which this model does not have"),
    ],
)
def test_openai_api_answers_a_clients_mistake_with_4xx_naming_the_field(api, change, status, field):
    import httpx

    url, _, _ = api
    body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **change}
    r = httpx.post(
        url + "/chat/completions",
        content=json.dumps(body, allow_nan=True),
        headers={"Authorization": "Bearer sk-tailor-test", "Content-Type": "application/json"},
    )
    assert r.status_code == status and field in r.json()["error"]["message"], r.text


def test_no_request_body_makes_the_request_checks_fail_other_than_naming_a_field():
    """20,000 random bodies (nested values of every JSON type in every field the checks read), each read as a chat
    and as a text completion request: each is either accepted or refused with BadField (a 400 naming the field),
    never another exception (a 500). An object as a role once raised TypeError here, and an empty `stop` list
    ValueError."""
    import random

    from assistant.serve.completions import completion_settings, prompts
    from assistant.serve.openai_api import BadField, _messages, generation_settings

    rng = random.Random(1)
    atoms = [None, True, False, 0, 1, -1, 2, 1.5, float("nan"), float("inf"), 10**30, "", "x", "text", "user", [], {},
             [1], ["a"], {"type": "text"}, {"type": "text", "text": 5}, {"role": "user"}]
    keys = ["messages", "stop", "n", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
            "top_p", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
            "response_format", "tools", "tool_choice", "prompt", "echo", "suffix", "best_of"]

    def value(depth=0):
        r = rng.random()
        if depth > 2 or r < 0.6:
            return rng.choice(atoms)
        if r < 0.8:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        fields = ["role", "content", "type", "text", "tool_calls", "include_usage", "5", "0", "-1", "²"]
        return {rng.choice(fields): value(depth + 1) for _ in range(rng.randint(0, 3))}

    checks = {"chat": lambda b: (_messages(b), generation_settings(b)),
              "completions": lambda b: (prompts(b), completion_settings(b))}
    accepted = dict.fromkeys(checks, 0)
    for _ in range(20_000):
        body = {k: value() for k in rng.sample(keys, rng.randint(1, len(keys)))}
        if rng.random() < 0.5:
            roles = ["user", "system", "developer", "tool", "assistant", None]
            body["messages"] = [{"role": rng.choice(roles), "content": value()} for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            body["prompt"] = rng.choice(["text", [1, 2], [[3], "x"]])
        for name, check in checks.items():
            try:
                check(body)
                accepted[name] += 1
            except BadField:
                pass
    assert all(accepted.values()), accepted  # some bodies pass, so the checks past the first are reached too


def test_openai_api_refuses_a_body_over_its_limit_before_holding_it(api):
    """uvicorn reads any body; /v1 stops at 4 MiB (413), whether the client says the length or streams it."""
    import httpx

    from assistant.serve.openai_api import MAX_BODY_BYTES

    url, _, _ = api
    headers = {"Authorization": "Bearer sk-tailor-test", "Content-Type": "application/json"}
    big = json.dumps({"model": "alpha", "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]})
    r = httpx.post(url + "/chat/completions", content=big, headers=headers)
    assert r.status_code == 413 and "over 4 MiB" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the read itself stops at the limit
        for _ in range(MAX_BODY_BYTES // 2**16 + 2):
            yield b" " * 2**16

    r = httpx.post(url + "/chat/completions", content=chunks(), headers=headers)
    assert r.status_code == 413
    small = json.dumps({"model": "alpha", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
    ok = httpx.post(url + "/chat/completions", headers=headers, content=small + " " * (MAX_BODY_BYTES - 2**10))
    assert ok.status_code == 200, ok.text  # just under the limit, the whole body is read and answered


def test_only_the_api_refuses_a_prompt_past_the_context_and_an_evaluation_says_which_rows_were(served):
    """A client of /v1 is told its prompt passes the model's context (400); an evaluation or a comparison with
    one long example still answers rather than fail the whole run for one row, and the evaluation says which
    examples were past the context (their scores mean little) in the run and the page's table; the page's side
    by side marks each answer that was."""
    from assistant.evaluate.run import past_context_words
    from ui.compare_tab import eval_rows

    reg, engine = served
    long = [(None, [{"role": "user", "content": "the goal " * 600}])]  # past the tiny model's 1,024 positions
    assert len(engine.generate(long, GenerationSettings(max_new_tokens=2))) == 1
    with pytest.raises(EngineError, match="past the model's context of 1024"):
        engine.generate(long, GenerationSettings(max_new_tokens=2, within_context=True))
    examples = [{"messages": [{"role": "user", "content": text}], "reference": "sports"}
                for text in ["a goal", "the goal " * 600, "a match", "the goal " * 440]]  # ~1,230 and ~910 tokens
    run = evaluate(engine, [None, "alpha"], examples, ["accuracy"], GenerationSettings(max_new_tokens=2))
    assert len(run["examples"]) == 4 and all(ex["alpha"] is not None for ex in run["examples"])
    assert run["past_context"] == {"context": 1024, "examples": [1]}
    words = past_context_words(run)
    assert words.startswith("1 of 4 examples (row 2) need more tokens than the model's context of 1,024")
    assert ["(past the context)", "", None, words] in eval_rows(run)
    short = evaluate(engine, [None], examples[::2], ["accuracy"], GenerationSettings(max_new_tokens=2))
    assert "past_context" not in short and past_context_words(short) is None
    from assistant.models.estimate import CPU
    from ui.compare_tab import answers_html, compare
    from ui.context import Context

    page = Context(reg.home, reg, engine, CPU)
    sides = compare(page, "the goal " * 600, ["alpha"], max_new_tokens=2)
    assert [a["past_context"] for a in sides] == [1024, 1024]
    assert answers_html(sides).count("past the model's context of 1,024 tokens") == 2
    fits = compare(page, "the goal", ["alpha"], max_new_tokens=2)
    assert [a["past_context"] for a in fits] == [0, 0] and "past the model" not in answers_html(fits)


def test_openai_api_refuses_a_broken_adapter_with_409_and_keeps_serving(api):
    import httpx

    url, reg, engine = api
    headers = {"Authorization": "Bearer sk-tailor-test"}
    gone = reg.adapter("beta")
    folder = reg.home.root / gone.path
    moved = folder.with_name("moved-away")
    folder.rename(moved)
    body = {"model": "beta", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    try:
        for stream in (False, True):
            r = httpx.post(url + "/chat/completions", json={**body, "stream": stream}, headers=headers)
            assert r.status_code == 409 and "missing" in r.json()["error"]["message"]
    finally:
        moved.rename(folder)
    tampered = folder / "adapter_model.safetensors"
    original = tampered.read_bytes()
    engine.unload_all()
    tampered.write_bytes(original[:-8] + b"\0" * 8)
    try:
        r = httpx.post(url + "/chat/completions", json=body, headers=headers)
        assert r.status_code == 409 and "sha256" in r.json()["error"]["message"]
    finally:
        tampered.write_bytes(original)
    ok = httpx.post(url + "/chat/completions", json={**body, "model": "alpha"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] is not None


def test_an_uploaded_eval_file_is_read_with_the_plans_mapping(topic_csv, tmp_path):
    from assistant.chat import converse
    from assistant.data import DataError, inspect_file
    from assistant.evaluate.run import from_file

    plan = converse(["classify these by topic"], str(topic_csv)).plan
    same = tmp_path / "same.csv"
    same.write_text("id,text,label\n1,the goal and the team,sports\n2,rain and wind,weather\n3,soup and bread,food\n")
    ex = from_file(plan, str(same))
    assert [e["reference"] for e in ex] == ["sports", "weather", "food"]
    assert ex[0]["messages"][0] == {"role": "system", "content": plan.task.instruction}
    assert ex[0]["messages"][-1]["content"] == "the goal and the team"
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("sentence,topic\nthe goal and the team,sports\nrain and wind,weather\nsoup and bread,food\n")
    assert [e["reference"] for e in from_file(plan, str(renamed))] == ["sports", "weather", "food"]
    # One example is an evaluation (a quick check), though not a fine-tune: no "too few to learn from" for it.
    one = tmp_path / "one.csv"
    one.write_text("text,label\nthe goal and the team,sports\n")
    assert [e["reference"] for e in from_file(plan, str(one))] == ["sports"]
    with pytest.raises(DataError, match="too few to learn from"):
        inspect_file(one)
    (tmp_path / "none.csv").write_text("text,label\nthe goal and the team,\n")
    with pytest.raises(DataError, match="none.csv") as refused:
        from_file(plan, str(tmp_path / "none.csv"))
    # An eval file is scored, not learned from: its refusal says so ("nothing to learn" was the training words).
    assert "nothing to score the answers against" in str(refused.value) and "learn" not in str(refused.value)


def test_held_out_scores_say_when_an_adapter_is_no_better_than_the_majority_label():
    """The verdict needs a 95% paired interval above zero; a coin-level score on 100 rows does not get one."""
    from assistant.chat import converse
    from assistant.train.held_out import score

    plan = converse(["classify reviews by sentiment"]).plan
    plan.evaluation.metrics = ["accuracy", "f1"]
    refs = ["正面", "负面"] * 50
    train = ["正面"] * 60 + ["负面"] * 40
    coin = ["正面" if i % 4 < 2 else "负面" for i in range(100)]  # right half the time
    scores, verdict = score(plan, coin, refs, train)
    assert scores["baseline_label"] == "正面" and scores["baseline_accuracy"] == 0.5 and scores["accuracy"] == 0.5
    assert scores["chance_accuracy"] == pytest.approx(0.5, abs=0.05)
    assert verdict and "always answering “正面” or guessing" in verdict and "accuracy 0.50 vs 0.50" in verdict
    good = [r if i % 10 else ("负面" if r == "正面" else "正面") for i, r in enumerate(refs)]  # 90% right
    scores, verdict = score(plan, good, refs, train)
    assert scores["accuracy"] == 0.9 and verdict is None
    plan.task.type = "summarization"  # answers are not labels: no baseline, no verdict
    plan.evaluation.metrics = ["rougeL"]
    scores, verdict = score(plan, ["a b"], ["a b"], ["x"])
    assert scores == {"rougeL": 1.0, "held_out_scored": 1} and verdict is None
    # The majority label alone is not "learning": always answering it is no better than itself.
    plan.task.type, plan.evaluation.metrics = "classification", ["accuracy", "f1"]
    assert score(plan, ["正面"] * 100, refs, train)[1] is not None


def test_the_engine_answers_with_its_part_of_the_cores_while_a_cpu_job_trains(served, tmp_path, monkeypatch):
    """The engine holds a marker the training job sees while it answers, and between decoding steps sizes its
    threads to its share of the cores while a job's marker is live; alone, all of them again (machine.py)."""
    import torch

    from assistant import machine

    reg, engine = served
    monkeypatch.setenv("TAILOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(machine, "cores", lambda: 4)
    monkeypatch.setattr(machine, "CHECK_SECONDS", 0.0)  # a tiny model's call is over in well under the interval
    engine.cpu_threads = 4
    folder = machine.share_folder()
    job = sleeper()
    seen: list[tuple[int, list[str]]] = []

    def watch(answers):  # in the engine's thread, between decoding steps; the job starts after the first one
        seen.append((torch.get_num_threads(), sorted(p.name.rsplit("-", 1)[0] for p in folder.iterdir())))
        mark(folder, "train-7", job)

    ask = [(None, [{"role": "user", "content": "the goal"}])]
    try:
        shared = engine.generate(ask, SETTINGS, on_update=watch)
        assert seen[0] == (4, ["engine"]) and len(seen) > 2, seen
        assert all(s == (2, ["engine", "train-7"]) for s in seen[1:]), seen
    finally:
        job.kill()
        job.wait()
    seen.clear()
    alone = engine.generate(ask, SETTINGS, on_update=lambda a: seen.append(
        (torch.get_num_threads(), sorted(p.name.rsplit("-", 1)[0] for p in folder.iterdir()))))
    assert seen and all(s == (4, ["engine"]) for s in seen), seen
    assert list(folder.iterdir()) == [], "no marker is left between calls"
    assert alone[0].text == shared[0].text, "the threads change the speed, not the answer"


def test_an_evaluation_says_which_examples_an_adapter_was_trained_on(served, tmp_path):
    """An eval file cut from the training data, or a held-out split that shares rows with the training split
    (a row the data repeats lands on both sides), flatters the adapter: the run names the examples each adapter
    was trained on (its plan's training rows, rebuilt as its job split them), the page and the CLI say it; an
    adapter whose data file has changed since, or that has no plan, is not compared with anything."""
    from pathlib import Path

    from assistant.data import chat_examples, split_examples
    from assistant.evaluate.run import eval_notes, evaluate_adapters
    from assistant.registry.store import store_adapter
    from helpers import WORDS, make_plan, peft_adapter
    from ui.compare_tab import eval_rows

    reg, engine = served
    data = tmp_path / "topics.csv"
    rows = [f"item {i}: the {WORDS[label][i % 5]} again,{label}" for i, label in
            enumerate(label for _ in range(15) for label in WORDS)]
    rows += ["the goal and the team,sports"] * 12  # one row the data repeats
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    base = Path(engine.base_source)
    plan = make_plan(data, base)
    plan.name, d = "gamma", plan.data
    d.group_inputs = False  # a plan made before the split kept repeated rows together (or written by hand)
    reg.add_dataset(d.sha256, d.path, d.rows, d.format, {"input_columns": d.input_columns,
                                                         "output_column": d.output_column})
    store_adapter(reg, peft_adapter(base, tmp_path / "gamma", 3), plan.to_dict(), job_id=None, plan_id=None,
                  base_hub_id=str(base), base_source=str(base), metrics={}, log_file=None)
    train, val = split_examples(chat_examples(plan), d.validation_fraction, d.split_seed, d.stratify)
    repeated = [i for i, e in enumerate(val) if e["prompt"][-1]["content"] == "the goal and the team"]
    assert repeated and len(repeated) < 12, "the repeated row lies on both sides of the split"

    held = evaluate_adapters(engine, reg, ["gamma", "alpha"], max_new_tokens=2)
    assert held["trained_on"] == {"gamma": repeated}  # alpha has no plan: nothing to compare with
    (what, words), = eval_notes(held)
    assert what == "trained on by gamma" and words.startswith(
        f"{len(repeated)} of {len(val)} examples (row {repeated[0] + 1}") and "flatter it" in words
    assert [f"({what})", "", None, words] in eval_rows(held)

    seen = [e["prompt"][-1]["content"] for e in train[:3]]
    eval_file = tmp_path / "eval.csv"
    eval_file.write_text("text,label\n" + "".join(f"{t},sports\n" for t in ["a brand new text", *seen, "another"]),
                         encoding="utf-8")
    run = evaluate_adapters(engine, reg, ["gamma"], data=str(eval_file), max_new_tokens=2)
    assert run["trained_on"] == {"gamma": [1, 2, 3]}
    data.write_text(data.read_text(encoding="utf-8") + "one more row,food\n", encoding="utf-8")
    assert "trained_on" not in evaluate_adapters(engine, reg, ["gamma"], data=str(eval_file), max_new_tokens=2)
