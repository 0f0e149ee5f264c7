"""chat_request.py

`parse_chat_request`: an OpenAI chat-completions body checked field by field and turned into a `ChatJob`
(prompt token ids with one placeholder per media item, the media tensors, sampling settings, stop strings).

Messages: ``system`` messages are accepted and ignored (the model's own template supplies its system
text); ``user`` and ``assistant`` turns alternate (consecutive turns of one role are joined by a newline)
and the last is a ``user`` turn. Content is a string or a list of parts: ``text`` and ``<modality>_url``
for every modality the model has (``image_url``, ``video_url``, ...), in user messages only. Media items
go into the first user message, as the original Video-LLaVA renders them. Unknown top-level fields are
ignored, as OpenAI-compatible servers do; ``n`` must be 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from mmbind.errors import PromptError
from mmbind.prompting import Conversation, tokenize_prompt
from mmbind.prompting.text_guard import check_length, check_text, check_tokens
from mmbind.serve.request_error import RequestError
from mmbind.serve.settings import ServeSettings

MAX_STOPS = 4  # as OpenAI


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen: greedy when ``temperature`` is 0."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def batch_key(self, unique: int) -> tuple[Any, ...]:
        """Requests with equal keys may be generated together: all greedy ones; sampled ones with the same
        temperature and top_p; a seeded one only alone (``unique``), so its output depends on its seed
        only."""
        if self.greedy:
            return ("greedy",)
        if self.seed is not None:
            return ("seeded", unique)
        return ("sampled", self.temperature, self.top_p)


@dataclass
class ChatJob:
    """One validated chat completion request."""

    prompt_ids: list[int]
    media: list[tuple[str, torch.Tensor]]  # (modality, pixels) in order of appearance
    max_tokens: int
    sampling: Sampling
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    media_tokens: int = 0  # tokens the media items expand to (for usage)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        """Prompt length as the LLM sees it (placeholders expanded)."""
        return len(self.prompt_ids) - len(self.media) + self.media_tokens


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float,
            integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (integer and not isinstance(value, int))):
        raise RequestError(400,
                           f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}"[:200],
                           "invalid_value")
    if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
        raise RequestError(400, f"{name} must be between {low} and {high}, got {value!r}", "invalid_value")
    return value


def _guarded(code: str, check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``; its `PromptError` as a 400 with ``code``."""
    try:
        return check(*args)
    except PromptError as exc:
        raise RequestError(400, str(exc), code) from None


def _parts(content: Any, role: str, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if content is None and role == "assistant":
        return []
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise RequestError(400, f"messages[{index}].content must be a string or a list of content parts",
                           "invalid_message")
    return content


def _media_url(part: dict[str, Any], kind: str, index: int) -> str:
    value = part.get(kind)
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise RequestError(400, f"messages[{index}]: a {kind} part needs {kind}.url (a data: URI or a path)",
                           "invalid_message")
    return _guarded("invalid_text", check_text, url, f"messages[{index}].{kind}.url")


def parse_chat_request(body: Any, settings: ServeSettings, model_name: str, template: Conversation,
                       tokenizer: Any, placeholders: dict[str, int],
                       read_media: Callable[[list[tuple[str, str]]], list[torch.Tensor]],
                       tokens_per_item: Callable[[str], int], context: int | None = None) -> ChatJob:
    """Check ``body`` and build its job (RequestError with a one-line reason when anything is off).
    ``context``: the model's context in tokens (a longer prompt is refused, `mmbind.prompting.text_guard`)."""
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object", "invalid_body")
    model = body.get("model")
    if model is not None and model != model_name:
        raise RequestError(404, f"unknown model {str(model)[:100]!r} (this server has {model_name!r})",
                           "model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages must be a non-empty list", "invalid_messages")
    if len(messages) > settings.max_messages:
        raise RequestError(400, f"too many messages ({len(messages)}; at most {settings.max_messages})",
                           "too_many_messages")
    if _number(body, "n", 1, 1, 1, integer=True) != 1:
        raise RequestError(400, "n must be 1", "invalid_value")
    modalities = set(placeholders)
    turns: list[tuple[str, list[str]]] = []  # (role, texts) with consecutive roles merged
    media_refs: list[tuple[str, str, int]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(400, f"messages[{index}] must be an object", "invalid_message")
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant"):
            raise RequestError(400, f"messages[{index}].role must be system, user or assistant, got "
                               f"{str(role)[:40]!r}", "invalid_message")
        texts: list[str] = []
        for part in _parts(message.get("content"), role, index):
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(_guarded("invalid_text", check_text, part["text"], f"messages[{index}]"))
            elif isinstance(kind, str) and kind.endswith("_url") and kind[:-4] in modalities:
                if role != "user":
                    raise RequestError(400, f"messages[{index}]: media are only accepted in user messages",
                                       "invalid_message")
                media_refs.append((kind[:-4], _media_url(part, kind, index), index))
            else:
                known = ", ".join(["text", *(f"{m}_url" for m in sorted(modalities))])
                raise RequestError(400, f"messages[{index}]: unsupported content part type "
                                   f"{str(kind)[:40]!r} (this model takes: {known})",
                                   "unsupported_content_type")
        if role in ("system", "developer"):
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(texts)
        else:
            turns.append((role, texts))
    if not turns or turns[0][0] != "user" or turns[-1][0] != "user":
        raise RequestError(400, "the conversation must start and end with a user message", "invalid_messages")
    if len(media_refs) > settings.max_media:
        raise RequestError(400, f"too many media items ({len(media_refs)}; this server takes at most "
                           f"{settings.max_media} per conversation)", "too_many_media")
    said = ["\n".join(texts) for _, texts in turns]
    history = tuple(zip(said[0:-1:2], said[1:-1:2]))
    prompt = template.prompt(said[-1], [m for m, _, _ in media_refs], history)
    _guarded("prompt_too_long", check_length, prompt, context, "the conversation")
    ids = tokenize_prompt(tokenizer, prompt, placeholders)
    tags = sum(ids.count(pid) for pid in placeholders.values())
    if tags != len(media_refs):
        raise RequestError(400, "message text must not contain media tags such as <image> or <video>; "
                           "attach media as content parts", "invalid_message")
    if len(ids) > settings.max_prompt_tokens:
        raise RequestError(400,
                           f"the prompt is {len(ids)} tokens long (at most {settings.max_prompt_tokens})",
                           "prompt_too_long")
    _guarded("prompt_too_long", check_tokens, len(ids) - tags, context, "the conversation")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = _number({"max_tokens": max_tokens}, "max_tokens", settings.default_max_tokens, 1,
                         settings.max_tokens, integer=True)
    sampling = Sampling(float(_number(body, "temperature", 0.0, 0.0, 2.0)),
                        float(_number(body, "top_p", 1.0, 0.0, 1.0)),
                        _number(body, "seed", None, -(2**63), 2**63 - 1, integer=True))
    if sampling.top_p == 0.0:
        raise RequestError(400, "top_p must be greater than 0", "invalid_value")
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop) if isinstance(stop, list) else ()
    if stop is not None and (not stops and stop != [] or len(stops) > MAX_STOPS
                             or not all(isinstance(s, str) and s for s in stops)):
        raise RequestError(400, f"stop must be a non-empty string or a list of up to {MAX_STOPS} of them",
                           "invalid_value")
    stream = body.get("stream", False)
    options = body.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(options, dict):
        raise RequestError(400, "stream must be true or false and stream_options an object", "invalid_value")
    refs = [(modality, url) for modality, url, _ in media_refs]
    media = list(zip([m for m, _ in refs], read_media(refs))) if refs else []
    return ChatJob(ids, media, int(max_tokens), sampling, stops, stream, bool(options.get("include_usage")),
                   sum(tokens_per_item(m) for m, _ in media))
