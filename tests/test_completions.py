"""The legacy completions API and the tokenizer routes, as evaluation harnesses use them: raw prompts continued
as sent, `echo` with the log-probability of every prompt token (checked against the model's own logits, with
and without an adapter), lm-evaluation-harness's requests read the way it reads them, streaming, batches split
to fit memory, and every refusal naming its field."""

from __future__ import annotations

import json

import pytest

from assistant.registry.store import adapter_dir
from assistant.serve.engine import EngineError, GenerationSettings
from assistant.serve.sampling import Sampling

HEADERS = {"Authorization": "Bearer sk-tailor-test", "Content-Type": "application/json"}


def _reference(tiny_model, reg, name: str | None):
    """The tiny model as transformers and PEFT load it, with adapter `name` (None: the base alone)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    if name is not None:
        model = PeftModel.from_pretrained(model, str(adapter_dir(reg, reg.adapter(name)))).eval()
    return model


def _hand_logprobs(model, ids: list[int]) -> list[float]:
    """Each token's log-probability given the ones before it, from one forward pass written out here."""
    import torch

    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0].float()
    return [float(torch.log_softmax(logits[i], -1)[ids[i + 1]]) for i in range(len(ids) - 1)]


def _hand_greedy(model, ids: list[int], steps: int, eos: int) -> list[int]:
    import torch

    out = []
    with torch.inference_mode():
        for _ in range(steps):
            token = int(model(torch.tensor([ids + out])).logits[0, -1].argmax())
            if token == eos:
                break
            out.append(token)
    return out


def test_raw_prompts_are_continued_as_sent_and_echo_scores_every_prompt_token(served, tiny_model, monkeypatch):
    """A raw prompt gets no chat template and no system prompt: its greedy continuation is the one written out by
    hand from the text's own tokens, spaces kept; token ids give the same; `echo` scores each prompt token under
    the row's own adapter (rows of different adapters and lengths in one forward pass, or each alone when their
    logits would not fit together), the first token with nothing before it."""
    from assistant.serve import prompts

    reg, engine = served
    tok = engine.tokenizer
    text = "the goal and the match"
    ids = tok(text)["input_ids"]
    settings = GenerationSettings(max_new_tokens=8)
    for name in (None, "alpha"):
        ref = _reference(tiny_model, reg, name)
        expected = tok.decode(_hand_greedy(ref, ids, 8, tok.eos_token_id), skip_special_tokens=True)
        by_text, by_ids = engine.generate([(name, text), (name, tuple(ids))], settings)
        assert by_text.text == by_ids.text == expected and by_text.prompt_tokens == len(ids)
    assert expected.startswith(" "), "a continuation keeps its leading space (a chat answer is stripped)"

    rows = [("alpha", text), (None, "the match"), ("beta", tuple(ids))]
    scored = engine.generate(rows, GenerationSettings(max_new_tokens=3, sampling=Sampling(logprobs=2, echo=True)))
    for (name, prompt), answer in zip(rows, scored):
        prompt_ids = list(prompt) if isinstance(prompt, tuple) else tok(prompt)["input_ids"]
        head = answer.logprobs[:len(prompt_ids)]
        assert [e["token"] for e in head] == [tok.decode([i]) for i in prompt_ids]
        assert head[0]["logprob"] is None and head[0]["top_logprobs"] is None
        hand = _hand_logprobs(_reference(tiny_model, reg, name), prompt_ids)
        assert [e["logprob"] for e in head[1:]] == pytest.approx(hand, abs=1e-4)
        assert all(len(e["top_logprobs"]) == 2 and e["top_logprobs"][0]["logprob"] >= e["logprob"] for e in head[1:])
        assert len(answer.logprobs) == len(prompt_ids) + answer.tokens  # then the continuation's own
        echoed = prompt if isinstance(prompt, str) else tok.decode(prompt_ids)
        alone = engine.generate([(name, prompt)], GenerationSettings(max_new_tokens=3))[0]
        assert answer.text == echoed + alone.text
    assert scored[0].logprobs[:len(ids)] != scored[2].logprobs[:len(ids)], "each row scored by its own adapter"
    monkeypatch.setattr(prompts, "SCORE_LOGITS_BYTES", 1)  # each prompt alone in its forward pass
    apart = engine.generate(rows, GenerationSettings(max_new_tokens=3, sampling=Sampling(logprobs=2, echo=True)))
    for alone, together in zip(apart, scored):
        assert [e["token"] for e in alone.logprobs] == [e["token"] for e in together.logprobs]
        assert [e["logprob"] for e in alone.logprobs[1:]] == pytest.approx(
            [e["logprob"] for e in together.logprobs[1:]], abs=1e-4)

    only = engine.generate([("alpha", text)], GenerationSettings(max_new_tokens=0, sampling=Sampling(logprobs=0,
                                                                                                     echo=True)))[0]
    assert only.text == text and only.tokens == 0 and only.logprobs[1:] == [
        {**e, "top_logprobs": []} for e in scored[0].logprobs[1:len(ids)]]
    with pytest.raises(EngineError, match="prompt 1 holds token 99999999"):
        engine.generate([(None, text), (None, (1, 99999999))], settings)


def test_a_scored_prompt_that_is_continued_is_read_once(served, monkeypatch):
    """lm-evaluation-harness scores a choice with `echo`, `logprobs` and `max_tokens` 1: the prompts' log-
    probabilities come from generate's own first forward pass, so the model reads them once, not once to score
    and again to continue. The entries and the continuation are those of scoring apart and generating alone,
    with an adapter and a logit bias on the first token."""
    from assistant.serve import prompts

    reg, engine = served
    lm = engine.model.get_base_model() if hasattr(engine.model, "peft_config") else engine.model
    passes = []
    counting = lm.register_forward_pre_hook(lambda m, args, kw: passes.append(kw["input_ids"].shape[1]),
                                            with_kwargs=True)
    rows = [("alpha", "the goal and the match"), (None, "the match"), ("beta", (5, 9, 13))]
    banned = engine.generate(rows[:1], GenerationSettings(max_new_tokens=1))[0].text
    biased = Sampling(logit_bias=((engine.tokenizer(banned)["input_ids"][0], -100.0),), logprobs=1, echo=True)
    try:
        for tokens in (1, 3):
            passes.clear()
            once = engine.generate(rows, GenerationSettings(max_new_tokens=tokens, sampling=biased))
            assert passes == [5] + [1] * (tokens - 1), "one pass over the left-padded prompts, then a token a pass"
            passes.clear()
            with monkeypatch.context() as m:
                m.setattr(prompts, "SCORE_LOGITS_BYTES", 1)  # too big to score in generate's pass: scored apart
                apart = engine.generate(rows, GenerationSettings(max_new_tokens=tokens, sampling=biased))
            assert passes == [5, 2, 3, 5] + [1] * (tokens - 1)
            for a, b in zip(once, apart):
                assert a.text == b.text and [e["token"] for e in a.logprobs] == [e["token"] for e in b.logprobs]
                assert [e["logprob"] for e in a.logprobs[1:]] == pytest.approx([e["logprob"] for e in b.logprobs[1:]],
                                                                               abs=1e-4)
                assert a.finish_reason == b.finish_reason
            plain = engine.generate(rows, GenerationSettings(max_new_tokens=tokens, sampling=Sampling(
                logit_bias=biased.logit_bias)))
            assert [a.text for a in once] == [p + c.text for p, c in zip(["the goal and the match", "the match",
                                                                          engine.tokenizer.decode([5, 9, 13])],
                                                                         plain)]
    finally:
        counting.remove()
    assert not lm._forward_hooks, "the scoring hook is gone after the call"


def _post(url: str, path: str, body: dict, **kw):
    import httpx

    return httpx.post(url + path, content=json.dumps(body), headers=HEADERS, timeout=60, **kw)


def test_openai_client_completes_prompts_in_order_streamed_or_not(api, monkeypatch):
    """`client.completions.create` with one prompt or several (each choice's `index` says which), streamed or
    not, and with more prompts than one call holds (they are answered in turn, order kept)."""
    from openai import OpenAI

    url, _, engine = api
    client = OpenAI(base_url=url, api_key="sk-tailor-test")
    prompts = ["the goal", "the match and", "a b c", "the", "goal goal"]
    alone = [engine.generate([("alpha", p)], GenerationSettings(max_new_tokens=6))[0] for p in prompts]
    one = client.completions.create(model="alpha", prompt=prompts[0], max_tokens=6)
    assert one.object == "text_completion" and one.choices[0].text == alone[0].text
    assert one.usage.prompt_tokens == alone[0].prompt_tokens and one.usage.completion_tokens == alone[0].tokens
    calls = []
    real = engine.generate
    monkeypatch.setattr(engine, "rows_per_call", lambda tokens, place=False: 2)
    monkeypatch.setattr(engine, "generate", lambda rows, *a: calls.append(len(rows)) or real(rows, *a))
    many = client.completions.create(model="alpha", prompt=prompts, max_tokens=6)
    assert calls == [2, 2, 1] and [c.index for c in many.choices] == [0, 1, 2, 3, 4]
    assert [c.text for c in many.choices] == [a.text for a in alone]
    assert many.usage.completion_tokens == sum(a.tokens for a in alone)
    chunks = list(client.completions.create(model="alpha", prompt=prompts, max_tokens=6, stream=True,
                                            stream_options={"include_usage": True}))
    assert calls == [2, 2, 1] * 2
    texts = [""] * len(prompts)
    for c in chunks[:-1]:
        texts[c.choices[0].index] += c.choices[0].text
    assert texts == [a.text for a in alone] and len(chunks) > 2 * len(prompts), "text arrives in pieces"
    assert {c.choices[0].index for c in chunks[:-1] if c.choices[0].finish_reason} == set(range(len(prompts)))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == many.usage.completion_tokens
    ids = engine.tokenizer(prompts[1])["input_ids"]
    by_ids = client.completions.create(model="alpha", prompt=[ids, ids[:1]], max_tokens=6)
    assert by_ids.choices[0].text == alone[1].text
    echoed = client.completions.create(model="alpha", prompt=prompts[0], max_tokens=6, echo=True, logprobs=3)
    lp = echoed.choices[0].logprobs
    assert echoed.choices[0].text == prompts[0] + alone[0].text
    assert "".join(lp.tokens) == echoed.choices[0].text and lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))]
    assert all(t in top and 3 <= len(top) <= 4 for t, top in zip(lp.tokens[1:], lp.top_logprobs[1:]))
    streamed = list(client.completions.create(model="alpha", prompt=prompts[0], max_tokens=6, echo=True, logprobs=3,
                                              stream=True))
    assert "".join(c.choices[0].text for c in streamed) == echoed.choices[0].text
    assert [t for c in streamed if c.choices[0].logprobs for t in c.choices[0].logprobs.tokens] == lp.tokens
    assert [o for c in streamed if c.choices[0].logprobs for o in c.choices[0].logprobs.text_offset] == lp.text_offset


def test_scored_prompts_past_the_logits_bound_are_cut_into_calls_each_read_once(api, monkeypatch):
    """Many prompts scored as lm-evaluation-harness asks (`echo`, `logprobs`, `max_tokens` 1) whose prompt logits
    would pass `prompts.SCORE_LOGITS_BYTES` together are answered in consecutive calls that each fit it (counted
    in tokens), so each call's one pass over its prompts scores them and no prompt is read twice; the choices are
    those of one call, in order, streamed or not."""
    from assistant.serve import prompts

    url, _, engine = api
    lm = engine.model.get_base_model() if hasattr(engine.model, "peft_config") else engine.model
    texts = ["the goal and the match", "the match", "a b c", "the goal", "goal goal and the match"]
    assert [len(engine.tokenizer(t)["input_ids"]) for t in texts] == [5, 2, 3, 2, 5]
    body = {"model": "alpha", "prompt": texts, "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0}
    whole = _post(url, "/completions", body).json()["choices"]
    passes = []
    counting = lm.register_forward_pre_hook(lambda m, args, kw: passes.append(kw["input_ids"].shape[1]),
                                            with_kwargs=True)
    try:
        # two 5-token prompts' logits fit, three prompts do not unless all are under 4 tokens
        monkeypatch.setattr(prompts, "SCORE_LOGITS_BYTES", 10 * prompts.logits_bytes_per_token(engine.model))
        cut = _post(url, "/completions", body).json()["choices"]
        assert passes == [5, 3, 5], "calls of prompts 0-1, 2-3 and 4, each prompt read once"
        passes.clear()
        streamed = _post(url, "/completions", {**body, "stream": True}).text
        assert passes == [5, 3, 5]
    finally:
        counting.remove()
    assert [c["index"] for c in cut] == list(range(len(texts)))
    for a, b in zip(cut, whole):
        assert a["text"] == b["text"] and a["logprobs"]["tokens"] == b["logprobs"]["tokens"]
        assert a["logprobs"]["token_logprobs"][1:] == pytest.approx(b["logprobs"]["token_logprobs"][1:], abs=1e-4)
    events = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
    texts_streamed = [""] * len(texts)
    for e in events:
        texts_streamed[e["choices"][0]["index"]] += e["choices"][0]["text"]
    assert texts_streamed == [c["text"] for c in whole]


def test_lm_evaluation_harness_scores_a_continuation_through_the_api(api, tiny_model):
    """What lm-evaluation-harness's `local-completions` sends (0.4.13): it finds the tokenizer routes, tokenizes
    there, asks for the context and continuation's ids with `echo`, `max_tokens` 1 and `logprobs` 1, and sums
    `token_logprobs[ctxlen:-1]`; it calls a continuation greedy when each of its tokens is the most likely. The
    sum is the one written out by hand under the adapter."""
    import httpx

    url, reg, engine = api
    server = url.removesuffix("/v1")
    info = httpx.get(server + "/tokenizer_info", headers=HEADERS).json()
    assert info["eos_token"] == engine.tokenizer.eos_token and info["chat_template"]
    tokenize = lambda text: _post(server, "/tokenize", {"prompt": text, "add_special_tokens": False}).json()  # noqa: E731
    context, continuation = tokenize("the goal and")["tokens"], tokenize(" the match")["tokens"]
    assert tokenize("the goal and")["count"] == len(context) == 3
    assert _post(server, "/detokenize", {"tokens": context + continuation}).json()["prompt"] == "the goal and the match"
    body = {"model": "alpha", "prompt": [context + continuation, context], "temperature": 0, "max_tokens": 1,
            "logprobs": 1, "seed": 1234, "echo": True}
    out = _post(url, "/completions", body).json()
    choice = sorted(out["choices"], key=lambda c: c["index"])[0]
    got = sum(choice["logprobs"]["token_logprobs"][len(context):-1])
    hand = _hand_logprobs(_reference(tiny_model, reg, "alpha"), context + continuation)
    assert got == pytest.approx(sum(hand[len(context) - 1:]), abs=1e-4)
    tops = choice["logprobs"]["top_logprobs"][len(context):-1]
    greedy = all(tok == max(top.values()) for tok, top in zip(choice["logprobs"]["token_logprobs"][len(context):-1],
                                                               tops))
    best = [max(top.items(), key=lambda kv: kv[1])[0] for top in tops]
    assert greedy == (best == [engine.tokenizer.decode([t]) for t in continuation])
    generated = _post(url, "/completions", {"model": "alpha", "prompt": [context], "max_tokens": 5, "temperature": 0,
                                            "stop": ["\n\n", "<|im_end|>"], "seed": 1234}).json()
    assert generated["choices"][0]["text"] == engine.generate([("alpha", tuple(context))],
                                                              GenerationSettings(max_new_tokens=5))[0].text


def test_tokenizer_routes_take_the_apis_key(api):
    import httpx

    url, _, _ = api
    server = url.removesuffix("/v1")
    for method, path, body in [("post", "/tokenize", {"prompt": "x"}), ("post", "/detokenize", {"tokens": [1]}),
                               ("get", "/tokenizer_info", None)]:
        r = httpx.request(method, server + path, json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path
        assert httpx.request(method, server + path, json=body, headers=HEADERS).status_code == 200, path
    assert _post(server, "/tokenize", {"prompt": 5}).status_code == 400
    assert "from 0 to" in _post(server, "/detokenize", {"tokens": [10**8]}).json()["error"]["message"]
    assert _post(server, "/detokenize", {"tokens": [1, True]}).status_code == 400


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"prompt": None}, 400, "`prompt` is required"),
        ({"prompt": ""}, 400, "`prompt[0]` must be a non-empty text"),
        ({"prompt": ["ok", 5]}, 400, "`prompt[1]`"),
        ({"prompt": [[1, -2]]}, 400, "`prompt[0]`"),
        ({"prompt": [[1, True]]}, 400, "`prompt[0]`"),
        ({"prompt": ["x"] * 65}, 400, "at most 64 prompts"),
        ({"prompt": [1, 99999999]}, 400, "prompt 0 holds token 99999999"),
        ({"max_tokens": 0}, 400, "send `echo: true`"),
        ({"max_tokens": -1}, 400, "max_tokens"),
        ({"logprobs": True}, 400, "how many alternatives"),
        ({"logprobs": 21}, 400, "logprobs"),
        ({"echo": "yes"}, 400, "echo"),
        ({"suffix": "end"}, 400, "`suffix` is not served"),
        ({"best_of": 3}, 400, "best_of"),
        ({"n": 2}, 400, "`n` must be 1"),
        ({"stream": 1}, 400, "stream"),
        ({"stream": True, "stream_options": "usage"}, 400, "stream_options"),
        ({"stop": ["a"] * 17}, 400, "at most 16"),
        ({"logit_bias": {"x": 1}}, 400, "keys must be token ids"),
        ({"prompt": "the goal " * 600}, 400, "past the model's context of 1024"),
        ({"model": "nope"}, 404, "does not exist"),
    ],
)
def test_completions_answer_a_clients_mistake_with_4xx_naming_the_field(api, change, status, field):
    url, _, _ = api
    r = _post(url, "/completions", {"model": "alpha", "prompt": "hi", "max_tokens": 2, **change})
    assert r.status_code == status and field in r.json()["error"]["message"], r.text
