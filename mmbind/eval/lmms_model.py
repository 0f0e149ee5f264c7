"""lmms_model.py

An lmms-eval model backed by an mmbind run or checkpoint, registered through lmms-eval's own entry-point
group (``lmms_eval.models``, declared in mmbind's ``pyproject.toml``)::

    pip install "mmbind[lmms]"
    lmms-eval --model mmbind --model_args pretrained=runs/tiny --tasks TASKS --batch_size 16

``model_args``: ``pretrained`` (a run folder or an mmbind checkpoint folder; required), ``stage`` (a run's
stage), ``template`` (conversation template; default as ``mmbind eval``), ``frames`` (per video; default the
run's), ``max_new_tokens`` (when a task sets none; 128), ``device``.

``generate_until`` answers ``batch_size`` requests at a time with the batched greedy generation of
``mmbind eval`` (left padding, KV cache) and cuts each answer at the task's ``until`` strings. Decoding is
always greedy: a task's sampling settings are ignored (and reported once), so results reproduce.
``loglikelihood`` scores a continuation after the prompt (multiple-choice tasks): its negative
log-probability, as lmms-eval's own models return a loss and it picks the smallest. A request's visuals: none,
one PIL image, or one path to an image or a video (its kind from the suffix).

Only lmms-eval imports this module (it needs lmms-eval installed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lmms_eval.api.model import lmms
from lmms_eval.models.registry_v2 import ModelManifest
from loguru import logger  # lmms-eval's logger

from mmbind.data.media_readers import guess_modality
from mmbind.errors import InputError
from mmbind.inference.generation import Generator, Query

MODEL_ID = "mmbind"
DEFAULT_MAX_NEW_TOKENS = 128


def manifest() -> ModelManifest:
    """What the ``lmms_eval.models`` entry point gives lmms-eval: the model name and its class."""
    return ModelManifest(model_id=MODEL_ID, simple_class_path=f"{__name__}.MmbindLmms")


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise InputError(f"model_args {name}={value!r}: expected a positive integer")
    return number


def cut_at(text: str, until: Sequence[str]) -> str:
    """``text`` up to the first of the ``until`` strings (none: all of it)."""
    for stop in until:
        if stop:
            text = text.split(stop, 1)[0]
    return text.strip()


def _as_output(score: tuple[float, bool]) -> Any:
    """``score`` as lmms-eval's evaluator keeps it. lmms-eval 0.7 passes every model output through
    ``unwrap_generation_output``, which turns a ``(float, bool)`` into its ``str`` (multiple-choice scoring
    then fails); a ``GenerationResult`` carries the pair through unchanged."""
    from lmms_eval.api import instance

    unwrap = getattr(instance, "unwrap_generation_output", None)
    if unwrap is None or unwrap(score)[0] == score:
        return score
    return instance.GenerationResult(text=score)  # type: ignore[arg-type]


class MmbindLmms(lmms):
    """lmms-eval's model interface over mmbind's `Generator`."""

    is_simple = True

    def __init__(self, pretrained: str, stage: str | None = None, template: str | None = None,
                 frames: int | str | None = None, max_new_tokens: int | str = DEFAULT_MAX_NEW_TOKENS,
                 batch_size: int | str | None = 1, device: str | None = None, **ignored: Any) -> None:
        super().__init__()
        import torch

        from mmbind.inference.generation import default_template
        from mmbind.inference.target import resolve_target, video_frames
        from mmbind.model import load_pretrained
        from mmbind.prompting import get_template

        if ignored:
            logger.warning(f"mmbind: model_args not used: {', '.join(sorted(ignored))}")
        target = resolve_target(pretrained, stage)
        model = load_pretrained(target.model_dir).eval()
        chosen = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = model.to(chosen)
        self.generator = Generator(model, get_template(template) if template else default_template(model),
                                   _positive_int("frames", frames) if frames else video_frames(target, model))
        self.batch_size = _positive_int("batch_size", batch_size or 1)
        self.max_new_tokens = _positive_int("max_new_tokens", max_new_tokens)
        self._sampling_noted = False

    # lmms-eval's requests --------------------------------------------------------------------------------

    def _query(self, context: str, doc_to_visual: Callable[[Any], Any] | None, doc_id: int, task: str,
               split: str) -> Query:
        """The mmbind query of one request: its text and at most one visual."""
        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) if doc_to_visual else None
        visuals = [v for v in (visuals or []) if v is not None]
        if len(visuals) > 1:
            raise InputError(f"task {task!r}, doc {doc_id}: {len(visuals)} visuals; an mmbind model takes "
                             "one image or video per question")
        if not visuals:
            return Query(context)
        visual = visuals[0]
        if isinstance(visual, (str, Path)):
            return Query(context, guess_modality(visual, list(self.generator.transforms)), Path(visual))
        if hasattr(visual, "convert"):  # a PIL image
            return Query(context, "image", item=visual.convert("RGB"))
        raise InputError(f"task {task!r}, doc {doc_id}: a visual of type {type(visual).__name__}; expected a "
                         "PIL image or a path to an image or a video")

    def _settings(self, gen_kwargs: dict[str, Any]) -> tuple[int, list[str]]:
        """(max new tokens, stop strings) of a request; notes once that sampling settings are not used."""
        if not self._sampling_noted and (gen_kwargs.get("do_sample") or float(gen_kwargs.get("temperature")
                                                                               or 0) > 0):
            logger.warning("mmbind: decoding is greedy; the task's sampling settings are not used")
            self._sampling_noted = True
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        return int(gen_kwargs.get("max_new_tokens") or self.max_new_tokens), until

    def generate_until(self, requests: list[Any]) -> list[str]:
        """Greedy answers, ``batch_size`` requests (of the same settings) at a time, in request order."""
        answers: list[str | None] = [None] * len(requests)
        groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        queries = []
        for index, request in enumerate(requests):
            context, gen_kwargs, doc_to_visual, doc_id, task, split = request.args
            limit, until = self._settings(dict(gen_kwargs or {}))
            queries.append(self._query(context, doc_to_visual, doc_id, task, split))
            groups.setdefault((limit, tuple(until)), []).append(index)
        batches = sum(-(-len(indices) // self.batch_size) for indices in groups.values())
        logger.info(f"mmbind: {len(requests)} requests in {batches} batches of up to {self.batch_size}")
        for (limit, until), indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                texts = self.generator.answer([queries[i] for i in chunk], max_new_tokens=limit,
                                              batch_size=len(chunk))
                for i, text in zip(chunk, texts):
                    answers[i] = cut_at(text, until)
        return [a or "" for a in answers]

    def loglikelihood(self, requests: list[Any]) -> list[Any]:
        """(negative log-probability, is greedy) of each request's continuation after its prompt: lmms-eval
        picks a multiple-choice answer by the *smallest* first value (as its own models return a loss)."""
        scores: list[Any] = []
        for request in requests:
            context, doc_to_target, doc_to_visual, doc_id, task, split = request.args
            continuation = (doc_to_target if isinstance(doc_to_target, str)
                            else doc_to_target(self.task_dict[task][split][doc_id]))
            query = self._query(context, doc_to_visual, doc_id, task, split)
            logprob, greedy = self.generator.loglikelihood(query, str(continuation))
            scores.append(_as_output((-logprob, greedy)))
        return scores

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("mmbind: multi-round generation tasks are not supported")
