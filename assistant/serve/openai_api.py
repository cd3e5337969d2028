"""The OpenAI-compatible API: `/v1/models` and `/v1/chat/completions` (streaming and not).

Served by the same process as the web app (or alone with `tailor serve --api-only`), on the same engine:
`model` is the base model's name (or `base`), an adapter's `name`, `name:version` or alias. When the data
home's settings hold an `api_key`, every request must send `Authorization: Bearer <api_key>`.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .engine import Engine, EngineError, GenerationSettings

MAX_TOKENS_LIMIT = 4096


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


def openai_router(engine: Engine, api_key: Callable[[], str]) -> APIRouter:
    """Routes under /v1. `api_key()` returns the configured key ('' = no key required), read per request."""
    router = APIRouter(prefix="/v1")
    registry = engine.registry

    def denied(request: Request) -> JSONResponse | None:
        key = api_key()
        if not key:
            return None
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

    @router.get("/models")
    def models(request: Request):
        if (resp := denied(request)) is not None:
            return resp
        created = int(time.time())
        data = [{"id": engine.base_name, "object": "model", "created": created, "owned_by": "tailor"}]
        for a in registry.search(limit=1000):
            ids = [f"{a['name']}:{a['version']}", *a["aliases"]]
            if registry.adapter(a["name"])["id"] == a["id"]:
                ids.insert(0, a["name"])  # the bare name means the latest version
            data += [{"id": i, "object": "model", "created": created, "owned_by": "tailor", "parent": engine.base_name}
                     for i in ids]
        return {"object": "list", "data": data}

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        if (resp := denied(request)) is not None:
            return resp
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "`model` is required: the base model's name or an adapter's name")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
                for m in messages):
            return _error(400, "`messages` must be a non-empty list of {role: system|user|assistant, content: string}")
        try:
            ref = resolve(body["model"])
        except LookupError:
            return _error(404, f"The model `{body['model']}` does not exist; GET /v1/models lists them.",
                          "invalid_request_error", "model_not_found")
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 256
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
            return _error(400, f"`max_tokens` must be an integer from 1 to {MAX_TOKENS_LIMIT}")
        temperature = body.get("temperature", 0.0) or 0.0
        settings = GenerationSettings(max_new_tokens=max_tokens, temperature=float(temperature),
                                      top_p=float(body.get("top_p", 1.0) or 1.0), seed=int(body.get("seed") or 0))
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            return StreamingResponse(_stream(engine, ref, msgs, settings, body["model"], cid, created),
                                     media_type="text/event-stream")
        try:
            answer = (await _in_thread(engine.generate, [(ref, msgs)], settings))[0]
        except EngineError as e:
            return _error(400, str(e))
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": answer.finish_reason}],
            "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.tokens,
                      "total_tokens": answer.prompt_tokens + answer.tokens},
        }

    return router


async def _in_thread(fn, *args):
    import anyio

    return await anyio.to_thread.run_sync(lambda: fn(*args))


def _stream(engine: Engine, ref: str | None, msgs: list[dict], settings: GenerationSettings, model: str, cid: str,
            created: int) -> Iterator[str]:
    """Server-sent events: a role chunk, one chunk per new piece of text, the finish chunk, [DONE]."""

    def chunk(delta: dict, finish: str | None = None) -> str:
        return "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent, final = "", None
    try:
        for answers in engine.stream([(ref, msgs)], settings):
            final = answers[0]
            # Decoded text can revise its tail (a multi-byte character completes); send only settled growth.
            if final.text.startswith(sent) and len(final.text) > len(sent):
                yield chunk({"content": final.text[len(sent):]})
                sent = final.text
    except Exception as e:  # noqa: BLE001 - reported to the client as an error event
        yield "data: " + json.dumps({"error": {"message": str(e), "type": "server_error"}}) + "\n\n"
        return
    if final is not None and final.text != sent and final.text.startswith(sent):
        yield chunk({"content": final.text[len(sent):]})
    yield chunk({}, final.finish_reason if final else "stop")
    yield "data: [DONE]\n\n"
