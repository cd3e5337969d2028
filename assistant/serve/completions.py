"""The legacy text completions API, `/v1/completions`, and vLLM's tokenizer routes (`/tokenize`, `/detokenize`,
`/tokenizer_info`): what evaluation harnesses speak.

A completion's prompt is raw: a text, a list of token ids, or up to `MAX_PROMPTS` of either, read by the model
as sent — no chat template, no system prompt. `echo` puts the prompt before its continuation, and with
`logprobs` (0–20 alternatives) gives the log-probability of every prompt token, which is how
lm-evaluation-harness's `local-completions` scores a multiple-choice answer (`max_tokens` 1, or 0 to score the
prompt alone). The tokenizer routes let a harness tokenize with the served model's own tokenizer, so it needs
no copy of it (lm-evaluation-harness finds them by itself). Each route takes the API's key, like /v1.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from . import prompts as prompt_rows
from .engine import Engine, EngineNotReady, GenerationSettings
from .openai_api import MAX_TOKENS_LIMIT, BadField, _error, _in_thread, _integer, _usage, answered, settings, shaping
from .sampling import MAX_TOP_LOGPROBS, Sampling
from .streaming import Sent

MAX_PROMPTS = 64
"""Prompts one completions request may hold (they are answered in as few batched calls as memory allows)."""


def _ids(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(t, int) and not isinstance(t, bool)
                                                          for t in value)


def prompts(body: dict) -> list[str | tuple[int, ...]]:
    """A request's `prompt`: a text, a list of token ids, or a list of either; each non-empty."""
    value = body.get("prompt")
    if isinstance(value, str) or _ids(value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadField("`prompt` is required: a text, a list of token ids, or a list of those")
    if len(value) > MAX_PROMPTS:
        raise BadField(f"`prompt` may hold at most {MAX_PROMPTS} prompts, not {len(value)}; send several requests")
    out: list[str | tuple[int, ...]] = []
    for i, p in enumerate(value):
        if isinstance(p, str) and p:
            out.append(p)
        elif _ids(p) and min(p) >= 0:
            out.append(tuple(p))
        else:
            raise BadField(f"`prompt[{i}]` must be a non-empty text or a non-empty list of token ids (whole numbers "
                           f"from 0), not {json.dumps(p)[:40]}")
    return out


def completion_settings(body: dict) -> GenerationSettings:
    """A completions request's settings, each checked: `max_tokens` (0–4096, default 16 as OpenAI's; 0 needs
    `echo`), `echo`, `logprobs` (a number of alternatives, 0–20), and what chat requests also take."""
    echo = body.get("echo", False)
    if not isinstance(echo, bool):
        raise BadField("`echo` must be true or false")
    if isinstance(body.get("logprobs"), bool):
        raise BadField("`logprobs` of /v1/completions is how many alternatives to give for each token (0 to "
                       f"{MAX_TOP_LOGPROBS}), not true or false")
    logprobs = _integer(body, "logprobs", None, 0, MAX_TOP_LOGPROBS)
    max_tokens = _integer(body, "max_tokens", 16, 0, MAX_TOKENS_LIMIT)
    if max_tokens == 0 and not echo:
        raise BadField("`max_tokens` 0 asks for nothing: send `echo: true` (with `logprobs`) to score the prompt")
    if body.get("suffix") not in (None, ""):
        raise BadField("`suffix` is not served: Tailor's models continue a prompt, they do not fill in a gap")
    if body.get("best_of") not in (None, 1) or isinstance(body.get("best_of"), bool):
        raise BadField(f"`best_of` must be 1, not {json.dumps(body.get('best_of'))[:40]}")
    return settings(body, max_tokens, Sampling(**shaping(body), logprobs=logprobs, echo=echo))


def legacy_logprobs(entries: list[dict] | None, start: int = 0) -> dict | None:
    """Chat-style logprobs entries in the legacy shape: parallel lists of tokens, their log-probabilities, the
    alternatives as {token: log-probability} (the chosen token always among them, as OpenAI gives it) and each
    token's character offset, counted from `start`. A prompt's first token has None for both."""
    if entries is None:
        return None
    out: dict = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for e in entries:
        out["tokens"].append(e["token"])
        out["token_logprobs"].append(e["logprob"])
        top = None if e["top_logprobs"] is None else {t["token"]: t["logprob"] for t in e["top_logprobs"]}
        if top is not None:
            top.setdefault(e["token"], e["logprob"])
        out["top_logprobs"].append(top)
        out["text_offset"].append(start)
        start += len(e["token"])
    return out


def _groups(engine: Engine, rows: list, settings_: GenerationSettings, tokenizer) -> list[list]:
    """`rows` in the batches `generate` answers, in order: each call's key/value cache within the engine's budget
    (`Engine.rows_per_call`, for the longest prompt in tokens, the model's context at most) and, when the prompts
    are scored (`echo` with `logprobs`), each call's prompt logits within `prompts.SCORE_LOGITS_BYTES`, so that
    generate's own first pass scores them and each prompt is read once (`prompts.Echo`). `tokenizer`: a copy of
    the engine's, for counting a text prompt's tokens in this thread."""
    lengths = [len(p) if isinstance(p, tuple) else len(prompt_rows.text_ids(tokenizer, p)) for _, p in rows]
    longest = min(max(lengths), engine.context) if engine.context else max(lengths)
    per_call = engine.rows_per_call(longest + settings_.max_new_tokens, place=True)
    scored = settings_.sampling.echo and settings_.sampling.logprobs is not None
    per_token = prompt_rows.logits_bytes_per_token(engine.model) if scored else 0
    return [rows[at:end] for at, end in prompt_rows.groups(lengths, per_token, per_call)]


def completions_route(router: APIRouter, root: APIRouter, engine: Engine, read, admitted, denied) -> None:
    """Add `/v1/completions` to the API's router and the tokenizer routes to `root` (vLLM serves them there);
    `read`, `admitted` and `denied` are the API's own checks (`openai_api.openai_router`)."""

    lock = threading.Lock()
    own: list = []

    def tokenizer():
        """A copy of the engine's tokenizer for the request threads (its Rust core is not shared with the engine's
        thread), made once the base model has loaded."""
        engine.wait_ready(timeout=600)
        with lock:
            if not own:
                own.append(copy.deepcopy(engine.tokenizer))
        return own[0]

    @router.post("/completions")
    async def completions(request: Request):
        if isinstance(got := await admitted(request, lambda b: (prompts(b), completion_settings(b))), JSONResponse):
            return got
        body, (texts, settings_), ref = got
        rows = [(ref, p) for p in texts]
        cid, created = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_stream(engine, rows, settings_, body["model"], cid, created, usage, tokenizer),
                                     media_type="text/event-stream")

        def run() -> list:
            return [a for group in _groups(engine, rows, settings_, tokenizer())
                    for a in engine.generate(group, settings_)]

        if isinstance(answers := await answered(run), JSONResponse):
            return answers
        return {"id": cid, "object": "text_completion", "created": created, "model": body["model"],
                "choices": [{"text": a.text, "index": i, "logprobs": legacy_logprobs(a.logprobs),
                             "finish_reason": a.finish_reason} for i, a in enumerate(answers)],
                "usage": _usage(answers)}

    async def with_tokenizer(work):
        """`work(tokenizer)` in a worker thread (a long text must not stall the server), on the copy of the
        engine's tokenizer; 503 while the base model loads."""
        try:
            return await _in_thread(lambda: work(tokenizer()))
        except EngineNotReady as e:
            return _error(503, str(e), "server_error", "model_not_ready")

    @root.post("/tokenize")
    async def tokenize(request: Request):
        """vLLM's: {"prompt": text, "add_special_tokens": bool} → {"tokens", "count", "max_model_len"}."""
        if isinstance(body := await read(request, needs_model=False), JSONResponse):
            return body
        text, special = body.get("prompt"), body.get("add_special_tokens", True)
        if not isinstance(text, str) or not isinstance(special, bool):
            return _error(400, '/tokenize takes {"prompt": "<text>", "add_special_tokens": true or false}')

        def work(tok):
            tokens = tok(text, add_special_tokens=special)["input_ids"]
            return {"tokens": tokens, "count": len(tokens), "max_model_len": engine.context}

        return await with_tokenizer(work)

    @root.post("/detokenize")
    async def detokenize(request: Request):
        """vLLM's: {"tokens": [ids]} → {"prompt": text}."""
        if isinstance(body := await read(request, needs_model=False), JSONResponse):
            return body
        tokens = body.get("tokens")

        def work(tok):
            if not (tokens == [] or _ids(tokens)) or (tokens and not 0 <= min(tokens) <= max(tokens) < len(tok)):
                return _error(400, f"`tokens` must be a list of token ids from 0 to {len(tok) - 1}")
            return {"prompt": tok.decode(tokens)}

        return await with_tokenizer(work)

    @root.get("/tokenizer_info")
    async def tokenizer_info(request: Request):
        """vLLM's: the tokenizer's special tokens and chat template."""
        if (resp := denied(request)) is not None:
            return resp
        return await with_tokenizer(lambda tok: {
            "tokenizer_class": type(tok).__name__, "eos_token": tok.eos_token, "bos_token": tok.bos_token,
            "pad_token": tok.pad_token, "chat_template": tok.chat_template, "model_max_length": engine.context})


def _stream(engine: Engine, rows: list, settings_: GenerationSettings, model: str, cid: str, created: int,
            usage: bool, tokenizer) -> Iterator[str]:
    """Server-sent events: each prompt's text as it grows (its `index` says which), a finish chunk per prompt,
    with `stream_options.include_usage` a last chunk of token counts, then [DONE]. Prompts are answered in the
    batches `_groups` makes, one after the other; `tokenizer()` gives the route's copy of the engine's."""

    def chunk(choices: list, **extra) -> str:
        return "data: " + json.dumps({"id": cid, "object": "text_completion", "created": created, "model": model,
                                      "choices": choices, **extra}) + "\n\n"

    finals: list = []
    try:
        for group in _groups(engine, rows, settings_, tokenizer()):
            base, sent, last = len(finals), [Sent(strip=False) for _ in group], []
            for last in engine.stream(group, settings_):
                for i, answer in enumerate(last):
                    if (grown := sent[i].grow(answer)) is not None:
                        yield chunk([{"text": grown[0], "index": base + i, "finish_reason": None,
                                      "logprobs": legacy_logprobs(grown[1], grown[2])}])
            for i, answer in enumerate(last):
                text, entries, start = sent[i].grow(answer, final=True)
                yield chunk([{"text": text, "index": base + i, "finish_reason": answer.finish_reason,
                              "logprobs": legacy_logprobs(entries, start)}])
            finals += last
    except Exception as e:  # noqa: BLE001 - reported to the client as an error event
        yield "data: " + json.dumps({"error": {"message": str(e), "type": "server_error"}}) + "\n\n"
        return
    if usage and finals:
        yield chunk([], usage=_usage(finals))
    yield "data: [DONE]\n\n"
