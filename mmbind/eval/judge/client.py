"""client.py

`Judge`: verdicts from any OpenAI-compatible chat-completions endpoint through the ``openai`` client --
temperature 0, the versioned prompt of `prompt.py` -- with every valid verdict cached on disk
(`VerdictCache`; an invalid one is asked again by the next run), at most ``concurrency`` requests in
flight, and each request retried with exponential backoff on connection errors, timeouts, rate limits and
server errors -- and on a 200 whose body is not a chat completion (`reply_text`, counted in
`Judge.malformed`). When a request still fails, `JudgeError` says so (the verdicts received until then are
cached; the run can be resumed later for nothing). After each call, `Judge.counts` (`VerdictCounts`) says
how many verdicts came from the cache, how many were asked of the judge, and how many were invalid.

Settings come from the command line or the environment: ``MMBIND_JUDGE_BASE_URL`` (else
``OPENAI_BASE_URL``), ``MMBIND_JUDGE_MODEL``, key ``MMBIND_JUDGE_API_KEY`` (else ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mmbind.errors import JudgeError, UsageError
from mmbind.eval.judge.cache import VerdictCache, verdict_key
from mmbind.eval.judge.prompt import PROMPT_VERSION, messages
from mmbind.eval.judge.reply import NotACompletion, reply_text
from mmbind.eval.judge.verdict import Verdict, parse_verdict

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmbind" / "judge"


@dataclass(frozen=True)
class JudgeConfig:
    """Where and how to ask."""

    model: str  # the judge model, e.g. gpt-3.5-turbo-0125
    base_url: str | None = None  # the endpoint (None: the client's default, api.openai.com)
    api_key: str | None = None  # the key (never written anywhere)
    concurrency: int = 8  # requests in flight
    retries: int = 5  # attempts after the first
    backoff_s: float = 1.0  # first wait; doubles each retry
    timeout_s: float = 60.0  # per request
    max_tokens: int = 64
    cache_dir: Path = DEFAULT_CACHE

    def record(self) -> dict[str, Any]:
        """What the results record (no key)."""
        return {"model": self.model, "base_url": self.base_url, "prompt_version": PROMPT_VERSION,
                "temperature": 0.0, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class VerdictCounts:
    """Where the verdicts of one `Judge.judge` call came from, one count per row."""

    from_cache: int = 0  # valid verdicts an earlier run left in the cache: the judge was not asked
    asked: int = 0  # verdicts the judge was asked for by this call (identical rows share one request)
    invalid: int = 0  # replies that did not parse (all among ``asked``: invalid verdicts are never cached)

    def record(self) -> dict[str, int]:
        """As the results record it."""
        return asdict(self)


def config_from_env(model: str | None = None, base_url: str | None = None, **kwargs: Any) -> JudgeConfig:
    """A `JudgeConfig` from arguments, falling back to the environment."""
    env = os.environ
    model = model or env.get("MMBIND_JUDGE_MODEL")
    if not model:
        raise UsageError("the judge needs a model: --judge-model NAME or MMBIND_JUDGE_MODEL")
    base_url = base_url or env.get("MMBIND_JUDGE_BASE_URL") or env.get("OPENAI_BASE_URL")
    key = env.get("MMBIND_JUDGE_API_KEY") or env.get("OPENAI_API_KEY") or ("unused" if base_url else None)
    if not key:
        raise UsageError("the judge needs a key: set MMBIND_JUDGE_API_KEY or OPENAI_API_KEY")
    return JudgeConfig(model, base_url, key, **{k: v for k, v in kwargs.items() if v is not None})


class Judge:
    """Cached, retried, bounded-concurrency verdicts."""

    def __init__(self, config: JudgeConfig, client: Any | None = None) -> None:
        self.config = config
        self.cache = VerdictCache(config.cache_dir)
        self.asked = 0  # requests that reached the endpoint and were answered
        self.malformed = 0  # answers that were not a chat completion (retried like a failed call)
        self._lock = threading.Lock()
        self.counts = VerdictCounts()  # of the latest `judge` call
        if client is None:
            import openai

            client = openai.OpenAI(base_url=config.base_url, api_key=config.api_key, max_retries=0,
                                   timeout=config.timeout_s)
        self.client = client

    def key(self, question: str, answer: str, prediction: str) -> str:
        """The cache key of one verdict."""
        return verdict_key(question, answer, prediction, self.config.model, PROMPT_VERSION)

    def _ask(self, question: str, answer: str, prediction: str) -> Verdict:
        import openai

        retryable = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                     openai.InternalServerError, openai.APIResponseValidationError)
        last: Exception | None = None
        for attempt in range(self.config.retries + 1):
            try:
                reply = self.client.chat.completions.create(
                    model=self.config.model, messages=messages(question, answer, prediction), temperature=0.0,
                    max_tokens=self.config.max_tokens)
                self.asked += 1
                return parse_verdict(reply_text(reply))
            except NotACompletion as exc:
                with self._lock:
                    self.malformed += 1
                last = exc
            except retryable as exc:
                last = exc
            except openai.APIStatusError as exc:  # 4xx other than 429: asking again will not help
                raise JudgeError(f"judge {self.config.base_url or 'api.openai.com'} ({self.config.model}) "
                                 f"refused the request: HTTP {exc.status_code}: {_short(exc)}") from None
            if attempt < self.config.retries:
                time.sleep(self.config.backoff_s * 2 ** attempt)
        raise JudgeError(
            f"judge {self.config.base_url or 'api.openai.com'} ({self.config.model}) failed after "
            f"{self.config.retries + 1} attempts: {_failure(last)}; the predictions and "
            f"the {len(self.cache)} verdicts received are kept -- run the same command again to resume")

    def judge(self, rows: Sequence[tuple[str, str, str]],
              on_done: Callable[[int], None] | None = None) -> list[Verdict]:
        """Verdicts of (question, answer, prediction) rows, in order; cached (valid) ones are not asked
        again. Sets `counts`."""
        keys = [self.key(*row) for row in rows]
        got = {k: verdict for k in keys if (verdict := self.cache.get(k)) is not None}
        from_cache = sum(k in got for k in keys)
        todo = {k: row for k, row in zip(keys, rows) if k not in got}
        if on_done is not None and len(rows) - len(todo):
            on_done(len(rows) - len(todo))  # identical rows count once asked

        def work(item: tuple[str, tuple[str, str, str]]) -> None:
            key, row = item
            verdict = self._ask(*row)
            self.cache.put(key, verdict)
            got[key] = verdict  # each worker its own key
            if on_done is not None:
                on_done(1)

        if todo:
            with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
                futures = [pool.submit(work, item) for item in todo.items()]
                errors = [f.exception() for f in futures]
            first = next((e for e in errors if e is not None), None)
            if first is not None:
                raise first
        verdicts = [got[k] for k in keys]
        self.counts = VerdictCounts(from_cache, len(keys) - from_cache, sum(not v.valid for v in verdicts))
        return verdicts


def _failure(exc: BaseException | None) -> str:
    """What the last attempt got: ``it answered <what>`` or ``<ErrorType>: <message>``."""
    if isinstance(exc, NotACompletion):
        return f"it answered {exc}"
    return f"{type(exc).__name__}: {_short(exc)}"


def _short(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return text[0][:200] if text else ""
