"""The OpenAI-compatible API: `/v1/models` and `/v1/chat/completions` (streaming and not); the legacy
`/v1/completions` and the tokenizer routes are in `completions`, on the same checks.

Served by the same process as the web app (or alone with `tailor serve --api-only`), on the same engine:
`model` is the base model's name (or `base`), an adapter's `name`, `name:version` or alias. When the data
home's settings hold an `api_key`, every request must send `Authorization: Bearer <api_key>`; without one,
only clients on this machine are answered (unless the server was started with `--allow-anonymous`).

Messages take the roles system (or developer), user and assistant, and their content as a string or as OpenAI's
list of text parts; `stop` (up to four texts) ends an answer before the first one, and a streamed answer with
`stream_options.include_usage` ends with the token counts. Presence and frequency penalties, `logit_bias` and
`logprobs`/`top_logprobs` are served (`sampling`). Images, tools, JSON response formats and `n` above 1 are
refused by name.

A client's mistake is never a 500: wrong types or ranges are 400 naming the field, an unknown model is
404, an adapter that cannot be served (folder missing, weights changed, broken files) is 409 with why.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .engine import AdapterUnusable, Engine, EngineError, EngineNotReady, GenerationSettings
from .sampling import MAX_TOP_LOGPROBS, Sampling
from .streaming import Sent

MAX_TOKENS_LIMIT = 4096
MAX_BODY_BYTES = 4 * 2**20
"""The largest request body read (uvicorn sets none): a bigger one is refused (413) before it is held in memory."""


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


class BadField(ValueError):
    """A request field with the wrong type or range; the message names the field."""


def _number(body: dict, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise BadField(f"`{name}` must be a number from {low:g} to {high:g}, not {json.dumps(value)}")
    if not low <= value <= high:
        raise BadField(f"`{name}` must be from {low:g} to {high:g}, not {value:g}")
    return float(value)


def _integer(body: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(f"`{name}` must be an integer from {low} to {high}, not {json.dumps(value)}")
    if not low <= value <= high:
        raise BadField(f"`{name}` must be from {low} to {high}, not {value}")
    return value


MAX_STOP, MAX_STOP_CHARS, MAX_STOP_TOTAL = 16, 256, 1024
"""Stop texts a request may give (OpenAI allows four; evaluation harnesses send more), the longest and all of them
together: transformers' stop-text matcher is built for each call against the whole vocabulary, on the engine's
one thread (SmolLM2's 49,152 tokens: 1.0 s for four of 256 characters, 1.2 s for sixteen of 64, 3.0 s for
sixteen of 256, which the total refuses)."""


def generation_settings(body: dict) -> GenerationSettings:
    """The sampling settings of a chat completion request, each checked for type and range."""
    max_tokens = _integer(body, "max_completion_tokens", None, 1, MAX_TOKENS_LIMIT)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 256, 1, MAX_TOKENS_LIMIT)
    _no_tools(body)
    return settings(body, max_tokens, _sampling(body))


def settings(body: dict, max_tokens: int, sampling: Sampling) -> GenerationSettings:
    """What chat and legacy completions requests share: `n` (1), temperature, top-p, seed, `stop`, `stream` and
    `stream_options`, checked."""
    if body.get("n") not in (None, 1) or isinstance(body.get("n"), bool):
        raise BadField(f"`n` must be 1 (one answer per request), not {json.dumps(body.get('n'))[:40]}")
    if not isinstance(body.get("stream", False), bool):
        raise BadField("`stream` must be true or false")
    options = body.get("stream_options")
    if options is not None and not (isinstance(options, dict)
                                    and isinstance(options.get("include_usage", False), bool)):
        raise BadField("`stream_options` must be an object like {\"include_usage\": true}")
    return GenerationSettings(max_new_tokens=max_tokens, temperature=_number(body, "temperature", 0.0, 0.0, 2.0),
                              top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
                              seed=_integer(body, "seed", 0, 0, 2**63 - 1), stop=_stop(body.get("stop")),
                              within_context=True, sampling=sampling)


MAX_LOGIT_BIAS = 1024
"""Tokens one request's `logit_bias` may name."""


def shaping(body: dict) -> dict:
    """Presence and frequency penalties and `logit_bias`, checked: `Sampling`'s fields of that name."""
    bias = body.get("logit_bias")
    if bias is not None:
        if not isinstance(bias, dict):
            raise BadField('`logit_bias` must be an object of token ids to biases, like {"1234": -100}')
        if len(bias) > MAX_LOGIT_BIAS:
            raise BadField(f"`logit_bias` may name at most {MAX_LOGIT_BIAS} tokens, not {len(bias)}")
        for key, value in bias.items():
            if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 9):
                raise BadField(f"`logit_bias` keys must be token ids (digits), not {json.dumps(key)[:40]}")
            _number({f'logit_bias["{key}"]': value}, f'logit_bias["{key}"]', 0.0, -100.0, 100.0)
        bias = tuple({int(k): float(v) for k, v in bias.items()}.items())  # "5" and "05" are one token
    return {"presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
            "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2.0, 2.0), "logit_bias": bias or ()}


def _sampling(body: dict) -> Sampling:
    """A chat request's penalties, `logit_bias` and `logprobs`/`top_logprobs`, checked; a `response_format` other
    than text is refused (answers are not constrained to JSON here)."""
    shaped = shaping(body)
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise BadField("`logprobs` must be true or false")
    top = _integer(body, "top_logprobs", None, 0, MAX_TOP_LOGPROBS)
    if top and not logprobs:  # 0 asks for nothing, and some clients send it by default
        raise BadField("`top_logprobs` needs `logprobs: true`")
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is not None and kind != "text":
        what = f"`response_format` {kind}" if isinstance(kind, str) else "`response_format`"
        raise BadField(f"{what} is not served: Tailor does not constrain answers to JSON; ask for JSON in the "
                       'messages and check the answer (or send {"type": "text"})')
    return Sampling(**shaped, logprobs=(top or 0) if logprobs else None)


def _no_tools(body: dict) -> None:
    """Tools (and the older functions) are refused by name rather than ignored: the client expects calls."""
    for name in ("tools", "functions"):
        if body.get(name) not in (None, []):
            raise BadField(f"`{name}` is not served: Tailor serves chat without tools")
    for name in ("tool_choice", "function_call"):
        if body.get(name) not in (None, "none"):
            raise BadField(f"`{name}` is not served: Tailor serves chat without tools")


def _stop(value) -> tuple[str, ...]:
    """OpenAI's `stop`: a text or a list of them (`MAX_STOP`); the answer ends before the first that appears."""
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise BadField(f"`stop` must be a non-empty string or a list of them, not {json.dumps(value)[:80]}")
    if not stops:
        return ()
    if len(stops) > MAX_STOP:
        raise BadField(f"`stop` may hold at most {MAX_STOP} texts, not {len(stops)}")
    if (longest := max(len(s) for s in stops)) > MAX_STOP_CHARS:
        raise BadField(f"`stop` texts may be at most {MAX_STOP_CHARS} characters long, not {longest}")
    if (total := sum(len(s) for s in stops)) > MAX_STOP_TOTAL:
        raise BadField(f"`stop` texts may hold at most {MAX_STOP_TOTAL} characters in all, not {total}")
    return tuple(dict.fromkeys(stops))


ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
"""Request roles → the chat template's (OpenAI's newer models take `developer` where older ones took `system`)."""


def _content(m: dict, i: int) -> str:
    """A message's text: a string, or OpenAI's list of content parts when every part is text (joined by lines)."""
    content = m.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                what = f"of type {kind}" if isinstance(kind, str) else "not a text part"
                raise BadField(f"`messages[{i}].content[{j}]` is {what}; Tailor's models read text only "
                               '({"type": "text", "text": "..."})')
            texts.append(part["text"])
        return "\n".join(texts)
    if content is None and m.get("tool_calls"):
        raise BadField(f"`messages[{i}]` is a tool call; Tailor serves chat without tools")
    raise BadField(f"`messages[{i}].content` must be a string (or a list of text parts)")


def _messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadField("`messages` must be a non-empty list of {role: system|user|assistant, content: string}")
    out = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if not isinstance(role, str) or role not in ROLES:
            extra = "; Tailor serves chat without tools" if role in ("tool", "function") else ""
            raise BadField(f"`messages[{i}].role` must be system, developer, user or assistant{extra}")
        out.append({"role": ROLES[m["role"]], "content": _content(m, i)})
    return out


def openai_router(engine: Engine, api_key: Callable[[], str], allow_anonymous: bool = False) -> APIRouter:
    """Routes under /v1. `api_key()` returns the configured key ('' = no key required), read per request."""
    from ..security import is_loopback

    router = APIRouter(prefix="/v1")
    registry = engine.registry

    def denied(request: Request) -> JSONResponse | None:
        key = api_key()
        if not key:
            host = request.client.host if request.client else None
            if allow_anonymous or is_loopback(host):
                return None
            return _error(401, "This API answers other machines only with an API key: set one in Tailor's "
                          "settings and send `Authorization: Bearer <key>`.", "invalid_request_error",
                          "invalid_api_key")
        sent = request.headers.get("authorization", "")
        if not secrets.compare_digest(sent.encode(), f"Bearer {key}".encode()):
            return _error(401, "Incorrect API key provided. Send `Authorization: Bearer <key>` with the key set in "
                          "Tailor's settings.", "invalid_request_error", "invalid_api_key")
        return None

    def resolve(model: str) -> str | None:
        """None for the base model; the adapter's reference otherwise. Raises LookupError when unknown."""
        if model in ("base", engine.base_name, engine.base_source):
            return None
        rec = registry.adapter(model)
        if rec is None:
            raise LookupError(model)
        return model

    def model_card(model_id: str, created: int) -> dict:
        card = {"id": model_id, "object": "model", "created": created, "owned_by": "tailor"}
        if engine.context:  # vLLM's field: clients size prompts by it
            card["max_model_len"] = engine.context
        return card if model_id == engine.base_name else {**card, "parent": engine.base_name}

    @router.get("/models")
    def models(request: Request):
        if (resp := denied(request)) is not None:
            return resp
        created = int(time.time())
        data = [model_card(engine.base_name, created)]
        for a in registry.search(limit=1000):
            ids = [f"{a.label}", *a.aliases]
            if registry.adapter(a.name).id == a.id:
                ids.insert(0, a.name)  # the bare name means the latest version
            data += [model_card(i, created) for i in ids]
        return {"object": "list", "data": data}

    @router.get("/models/{model_id:path}")
    def model(model_id: str, request: Request):
        """One model, as `client.models.retrieve(id)` asks: any id a request's `model` takes."""
        if (resp := denied(request)) is not None:
            return resp
        try:
            ref = resolve(model_id)
        except LookupError:
            return _error(404, f"The model `{model_id}` does not exist; GET /v1/models lists them.",
                          "invalid_request_error", "model_not_found")
        return model_card(engine.base_name if ref is None else model_id, int(time.time()))

    async def read(request: Request, needs_model: bool = True) -> dict | JSONResponse:
        """The request's JSON body (with its `model`), or the error to answer (401, 413, 400)."""
        if (resp := denied(request)) is not None:
            return resp
        raw = await _body(request)
        if raw is None:
            return _error(413, f"the request body is over {MAX_BODY_BYTES // 2**20} MiB; send a shorter request")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return _error(400, "the request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the request body must be a JSON object")
        if needs_model and not isinstance(body.get("model"), str):
            return _error(400, "`model` is required: the base model's name or an adapter's name")
        return body

    def target(model: str) -> str | None | JSONResponse:
        """The adapter a request's `model` names (None: the base model), or the error to answer (404, 409)."""
        try:
            ref = resolve(model)
        except LookupError:
            return _error(404, f"The model `{model}` does not exist; GET /v1/models lists them.",
                          "invalid_request_error", "model_not_found")
        if ref is not None and (why := engine.unusable(ref)) is not None:
            return _error(409, why, "invalid_request_error", "adapter_unusable")
        return ref

    async def admitted(request: Request, parse: Callable[[dict], tuple]) -> tuple | JSONResponse:
        """(the body, what `parse` makes of its fields, the adapter its `model` names), or the error to answer:
        401, 413, 400 (the body, or a field `parse` refused), 404, 409 — in that order."""
        if isinstance(body := await read(request), JSONResponse):
            return body
        try:
            parsed = parse(body)
        except BadField as e:
            return _error(400, str(e))
        if isinstance(ref := target(body["model"]), JSONResponse):
            return ref
        return body, parsed, ref

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        if isinstance(got := await admitted(request, lambda b: (_messages(b), generation_settings(b))), JSONResponse):
            return got
        body, (msgs, settings), ref = got
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_stream(engine, ref, msgs, settings, body["model"], cid, created, usage),
                                     media_type="text/event-stream")
        if isinstance(answers := await answered(lambda: engine.generate([(ref, msgs)], settings)), JSONResponse):
            return answers
        answer = answers[0]
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "logprobs": _logprobs(answer.logprobs), "finish_reason": answer.finish_reason}],
            "usage": _usage(answers),
        }

    from .completions import completions_route

    root = APIRouter()
    completions_route(router, root, engine, read, admitted, denied)
    root.include_router(router)
    return root


async def answered(call: Callable[[], list]) -> list | JSONResponse:
    """What `call` returns (the engine's answers; run in a worker thread), or the error to answer: 409 for an
    adapter that cannot be served, 503 while the base model loads, 400 for what the engine refuses."""
    try:
        return await _in_thread(call)
    except AdapterUnusable as e:
        return _error(409, str(e), "invalid_request_error", "adapter_unusable")
    except EngineNotReady as e:
        return _error(503, str(e), "server_error", "model_not_ready")
    except EngineError as e:
        return _error(400, str(e))


async def _body(request: Request) -> bytes | None:
    """The request's body, or None when it is over `MAX_BODY_BYTES` (said by its length, or found reading it)."""
    try:
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return None
    except ValueError:
        pass  # a malformed length: the read below still stops at the limit
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


async def _in_thread(fn, *args):
    import anyio

    return await anyio.to_thread.run_sync(lambda: fn(*args))


def _logprobs(entries: list[dict] | None) -> dict | None:
    return None if entries is None else {"content": entries, "refusal": None}


def _usage(answers: list) -> dict:
    prompt, completion = sum(a.prompt_tokens for a in answers), sum(a.tokens for a in answers)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _stream(engine: Engine, ref: str | None, msgs: list[dict], settings: GenerationSettings, model: str, cid: str,
            created: int, usage: bool = False) -> Iterator[str]:
    """Server-sent events: a role chunk, one chunk per new piece of text, the finish chunk, with
    `stream_options.include_usage` a last chunk with no choices and the token counts, then [DONE]."""

    def chunk(delta: dict | None, finish: str | None = None, logprobs: list[dict] | None = None, **extra) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": _logprobs(logprobs),
                                             "finish_reason": finish}]
        return "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                      "choices": choices, **extra}) + "\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent, final, rest = Sent(strip=True), None, None
    try:
        for answers in engine.stream([(ref, msgs)], settings):
            if (grown := sent.grow(final := answers[0])) is not None:
                yield chunk({"content": grown[0]}, logprobs=grown[1])
    except Exception as e:  # noqa: BLE001 - reported to the client as an error event
        yield "data: " + json.dumps({"error": {"message": str(e), "type": "server_error"}}) + "\n\n"
        return
    if final is not None:
        text, rest, _ = sent.grow(final, final=True)
        if text:
            yield chunk({"content": text}, logprobs=rest)
            rest = None if rest is None else []
    yield chunk({}, final.finish_reason if final else "stop", logprobs=rest)  # what the text's end held back
    if usage and final is not None:
        yield chunk(None, usage=_usage([final]))
    yield "data: [DONE]\n\n"
