"""app.py

`create_app`: the FastAPI application of `mmbind serve` around one loaded model.

    POST /v1/chat/completions   OpenAI chat format; text, image_url, video_url (any <modality>_url);
                                max_tokens, temperature, top_p, stop, seed; stream=true as server-sent
                                events ("data: {chunk}\\n\\n" ... "data: [DONE]\\n\\n"); usage counts
    GET  /v1/models             the one model served
    GET  /health                liveness, queue length, batches generated
    GET  /                      the web chat page (plain HTML/JS, works offline)

Everything a client can get wrong is answered with a 4xx and an OpenAI-style error whose message is one
line: the body is read with a size cap (413), must be JSON (415 / 400), is checked field by field
(`parse_chat_request`), media are read under limits (`RequestMedia`: encoded and decoded sizes, 413; a
decoding budget shared by all requests, `DecodeBudget`). ``/v1/*`` needs ``Authorization:
Bearer KEY`` when the server has a key (compared in constant time; 401 otherwise).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mmbind.data.media_readers import MediaReader, media_readers
from mmbind.json_file import NotJson, parse_json
from mmbind.prompting import Conversation
from mmbind.registry.modalities import loader_entry
from mmbind.serve.batcher import BatchWorker, Pending
from mmbind.serve.chat_request import ChatJob, parse_chat_request
from mmbind.serve.decode_budget import DecodeBudget
from mmbind.serve.media_input import RequestMedia, media_types
from mmbind.serve.request_error import RequestError
from mmbind.serve.settings import ServeSettings


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status,
                        headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)


def _check_key(request: Request, key: str | None) -> None:
    if key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    ok = hmac.compare_digest(token.strip().encode(), key.encode()) and scheme.lower() == "bearer"
    if not ok:
        raise RequestError(401, "missing or wrong API key (send Authorization: Bearer KEY)",
                           "invalid_api_key")


async def _read_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestError(413, f"request body larger than the limit of {limit} bytes", "body_too_large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise RequestError(415, f"the body must be application/json, not {kind or 'untyped'}",
                           "unsupported_content_type")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"request body larger than the limit of {limit} bytes", "body_too_large")
        chunks.append(chunk)
    try:
        return parse_json(b"".join(chunks))
    except NotJson as exc:
        raise RequestError(400, f"malformed JSON: {exc.detail()}", "invalid_json") from None


def page_html() -> str:
    """The web chat page."""
    return resources.files("mmbind.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def served_readers(
    modalities: list[str], frames: int | dict[str, Any], backend: str, limits: dict[str, Any] | None = None
) -> dict[str, MediaReader]:
    """The media readers of the model's modalities that a loader reads (the others take no media);
    ``frames``: a fixed count per video, or sampling options ({"fps": 1.0, "max_frames": 32}); ``limits``:
    decoding limits set on every loader that has them (``max_pixels`` ...)."""
    sampling = frames if isinstance(frames, dict) else {"frames": frames}
    readers = {}
    for modality in modalities:
        if loader_entry(modality) is not None:
            overrides = {**sampling, **(limits or {})}
            readers.update(media_readers([modality], None, {"backend": backend}, overrides))
    return readers


def create_app(model: Any, settings: ServeSettings, model_name: str, template: Conversation) -> FastAPI:
    """The application; its worker thread starts and stops with the app's lifespan."""
    worker = BatchWorker(model, settings.max_batch, settings.max_queue, settings.batch_wait_s)
    readers = served_readers(list(model.encoders), settings.frames, settings.video_backend,
                             settings.media_limits)
    types = {m: media_types(entry.suffixes) for m in readers if (entry := loader_entry(m)) is not None}
    budget = DecodeBudget(max(settings.decode_budget_bytes, settings.max_decoded_bytes))
    reader = RequestMedia({m: enc.media_transform() for m, enc in model.encoders.items()}, readers, types,
                          settings.media_root, settings.max_media_bytes, settings.max_decoded_bytes, budget)
    tokenizer = model.llm.tokenizer
    placeholders = dict(model.config.placeholder_ids)
    context = model.llm.context_length
    created = int(time.time())

    def tokens_per_item(modality: str) -> int:
        encoder = model.encoders[modality]
        frames = readers[modality].frames if encoder.temporal and modality in readers else None
        return int(model.item_tokens(modality, frames))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        yield
        worker.stop()

    app = FastAPI(title="mmbind", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker = worker
    app.state.decode_budget = budget

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return _error(exc)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok" if worker.alive else "stopped", "model": model_name, "waiting": worker.waiting,
                "batches": worker.batches, "largest_batch": worker.largest_batch}

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html(), headers={"Cache-Control": "no-store"})

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        _check_key(request, settings.api_key)
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "mmbind"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        _check_key(request, settings.api_key)
        body = await _read_body(request, settings.max_body_bytes)
        job = await run_in_threadpool(parse_chat_request, body, settings, model_name, template, tokenizer,
                                      placeholders, reader.read_all, tokens_per_item, context)
        pending = Pending(job, asyncio.get_running_loop())
        worker.submit(pending)
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        if job.stream:
            return StreamingResponse(_events(pending, ident, model_name), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            while True:
                kind, payload = await pending.events.get()
                if kind == "done":
                    return JSONResponse(_completion(ident, model_name, job, payload))
                if kind == "error":
                    raise payload
        except asyncio.CancelledError:
            pending.cancelled = True
            raise

    return app


def _usage(job: ChatJob, done: dict[str, Any]) -> dict[str, int]:
    completion = int(done["completion_tokens"])
    return {"prompt_tokens": job.prompt_tokens, "completion_tokens": completion,
            "total_tokens": job.prompt_tokens + completion}


def _completion(ident: str, model_name: str, job: ChatJob, done: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ident, "object": "chat.completion", "created": int(time.time()), "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": done["content"]},
                     "finish_reason": done["finish_reason"], "logprobs": None}],
        "usage": _usage(job, done),
    }


def _chunk(ident: str, model_name: str, delta: dict[str, Any], finish: str | None,
           usage: dict[str, int] | None = None, choices: bool = True) -> str:
    body: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model_name,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                         "logprobs": None}]
                            if choices else []}
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


async def _events(pending: Pending, ident: str, model_name: str) -> AsyncIterator[str]:
    """Server-sent events as the openai client reads them; ends with ``data: [DONE]``."""
    try:
        yield _chunk(ident, model_name, {"role": "assistant", "content": ""}, None)
        while True:
            kind, payload = await pending.events.get()
            if kind == "delta":
                yield _chunk(ident, model_name, {"content": payload}, None)
            elif kind == "done":
                yield _chunk(ident, model_name, {}, payload["finish_reason"])
                if pending.job.include_usage:
                    yield _chunk(ident, model_name, {}, None, _usage(pending.job, payload), choices=False)
                break
            else:
                message = (str(payload) if isinstance(payload, RequestError)
                           else "internal error while generating")
                yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error'}})}\n\n"
                break
        yield "data: [DONE]\n\n"
    finally:
        pending.cancelled = True  # the client left, or the answer is complete: either way the row is free
