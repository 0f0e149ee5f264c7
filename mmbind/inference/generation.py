"""generation.py

Asking an mmbind model questions: prompts rendered with a conversation template and tokenised as the
original does (`mmbind.prompting`), media read by each modality's media loader (`mmbind.data.media_readers`)
and preprocessed with its encoder's ``media_transform()`` (a small per-file cache), and greedy generation --
batched with left padding for evaluation, or one streamed answer for chat (``streamer=`` goes through
``model.generate`` to transformers' ``generate``).

Template: ``vicuna_v1`` (the training wording) for models trained here, ``llava_v1`` (the original's
inference wording) for converted Video-LLaVA checkpoints (``config.extra["converted_from"]``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmbind.data.build import pad_id
from mmbind.data.media_readers import MediaReader, media_readers
from mmbind.errors import CheckpointError, InputError, MediaError
from mmbind.model.media_items import stack_items, to_device
from mmbind.model.splice import IGNORE_INDEX
from mmbind.prompting import Conversation, get_template, tokenize_prompt
from mmbind.prompting.text_guard import check_length, check_text, check_tokens

CACHE_ITEMS = 64  # preprocessed media kept in memory


@dataclass(frozen=True)
class Query:
    """One question, optionally about media (an image, a video, a depth map next to its image ...), after
    earlier rounds."""

    question: str  # the user's text, without media tags
    modality: str | None = None  # the data key of its (first) media item, e.g. "image", "video"; None: text
    media: Path | None = None  # the media file
    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) rounds
    item: Any = None  # instead of a file: the decoded item (a PIL image, or video frames (T, H, W, 3))
    also: tuple[tuple[str, Path], ...] = ()  # further (modality, file) items, tagged after the first

    def modalities(self) -> list[str]:
        """The modality of each media item, in tag order."""
        first = [self.modality] if self.modality else []
        return first + [m for m, _ in self.also]


def default_template(model: Any) -> Conversation:
    """``llava_v1`` for converted Video-LLaVA checkpoints, ``vicuna_v1`` otherwise."""
    converted = bool((model.config.extra or {}).get("converted_from"))
    return get_template("llava_v1" if converted else "vicuna_v1")


class Generator:
    """Greedy question answering with one model."""

    def __init__(self, model: Any, template: Conversation | None = None,
                 frames: int | Mapping[str, Any] | None = None, video_backend: str = "auto",
                 media_options: dict[str, dict[str, Any]] | None = None,
                 limits: Mapping[str, Any] | None = None) -> None:
        if model.llm.tokenizer is None:
            raise CheckpointError("the model has no tokenizer (its LLM was built without one)")
        self.model = model
        self.tokenizer = model.llm.tokenizer
        self.template = template or default_template(model)
        self.transforms = {m: enc.media_transform() for m, enc in model.encoders.items()}
        # how temporal loaders sample: a fixed count, or sampling options ({"fps": 1.0, "max_frames": 32});
        # None: the loader's default
        self.sampling = dict(frames) if isinstance(frames, Mapping) else {"frames": frames}
        # recorded with results: the count when fixed, else the sampling options
        self.frames = self.sampling["frames"] if list(self.sampling) == ["frames"] else self.sampling
        # decoding limits (`mmbind.media.limits`: max_pixels, ...) set on every loader that has them
        self._reading = (media_options, {"backend": video_backend}, {**self.sampling, **(limits or {})})
        self.readers: dict[str, MediaReader] = {}  # built on a modality's first item
        self.device = next(model.parameters()).device
        self.context = model.llm.context_length  # tokens the LLM reads at most (None: no known limit)
        self._cache: OrderedDict[tuple[str, str], torch.Tensor] = OrderedDict()

    def pixels(self, modality: str, path: Path) -> torch.Tensor:
        """The preprocessed media item (`MediaError` when the file cannot be read)."""
        if modality not in self.transforms:
            known = ", ".join(self.transforms)
            raise InputError(f"{path}: this model has no {modality} encoder (it has: {known})")
        key = (modality, str(path))
        if key not in self._cache:
            self._cache[key] = self.transforms[modality](self.reader(modality).load(path))
            if len(self._cache) > CACHE_ITEMS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def reader(self, modality: str) -> MediaReader:
        """The media reader of ``modality`` (`RecipeError` when no loader reads it)."""
        if modality not in self.readers:
            self.readers.update(media_readers([modality], *self._reading))
        return self.readers[modality]

    def query_pixels(self, query: Query) -> torch.Tensor:
        """The preprocessed media of ``query``: its file (cached), or its decoded ``item``."""
        if query.item is None:
            return self.pixels(str(query.modality), Path(str(query.media)))
        if query.modality not in self.transforms:
            known = ", ".join(self.transforms)
            raise InputError(f"this model has no {query.modality} encoder (it has: {known})")
        return self.transforms[str(query.modality)](query.item)

    def prompt(self, query: Query) -> str:
        """The full prompt text of ``query``."""
        return self.template.prompt(query.question, query.modalities(), query.history)

    def prompt_ids(self, query: Query, item: str = "the question") -> list[int]:
        """The token ids of ``query``'s prompt, through the text guard (`PromptError` naming ``item`` when
        its text is not valid Unicode or does not fit the model's context)."""
        check_text(query.question, item)
        for asked, answered in query.history:
            check_text(asked, f"{item} (an earlier question)")
            check_text(answered, f"{item} (an earlier answer)")
        prompt = self.prompt(query)
        check_length(prompt, self.context, item)
        placeholders = self.model.config.placeholder_ids
        ids = tokenize_prompt(self.tokenizer, prompt, placeholders)
        media = set(placeholders.values())
        check_tokens(sum(1 for token in ids if token not in media), self.context, item)
        return ids

    def inputs(self, queries: Sequence[Query]) -> dict[str, Any]:
        """Left-padded ``input_ids`` / ``attention_mask`` and the ``media`` of a batch."""
        rows = [self.prompt_ids(q) for q in queries]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id(self.tokenizer), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device),
                "media": self.media(queries)}

    def media(self, queries: Sequence[Query]) -> dict[str, torch.Tensor]:
        """The preprocessed media of ``queries``, stacked per modality in query order."""
        media: dict[str, list[torch.Tensor]] = {}
        for q in queries:
            if q.modality is not None and (q.media is not None or q.item is not None):
                media.setdefault(q.modality, []).append(self.query_pixels(q))
            for modality, path in q.also:
                media.setdefault(modality, []).append(self.pixels(modality, path))
        return {m: to_device(stack_items(items), self.device) for m, items in media.items()}

    def _decode(self, tokens: list[int]) -> str:
        eos = self.tokenizer.eos_token_id
        if eos in tokens:
            tokens = tokens[:tokens.index(eos)]
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def answer(self, queries: Sequence[Query], max_new_tokens: int = 16, batch_size: int = 32,
               on_batch: Callable[[int], None] | None = None) -> list[str]:
        """Greedy answers to ``queries``, ``batch_size`` at a time (``on_batch(n)`` after each batch)."""
        answers: list[str] = []
        for start in range(0, len(queries), batch_size):
            chunk = queries[start:start + batch_size]
            new = self.model.generate(**self.inputs(chunk), max_new_tokens=max_new_tokens, do_sample=False,
                                      eos_token_id=self.tokenizer.eos_token_id)
            answers += [self._decode(row) for row in new.tolist()]
            if on_batch is not None:
                on_batch(len(chunk))
        return answers

    def answer_readable(
        self, queries: Sequence[Query], max_new_tokens: int, batch_size: int
    ) -> Iterator[tuple[list[int], list[str], list[tuple[int, str]]]]:
        """Greedy answers ``batch_size`` queries at a time, for batch jobs over files a user supplied: per
        batch, (indices into ``queries`` answered, their answers, (index, reason) of queries whose media
        could not be read or whose text was refused). A bad file or question never stops the job; it is
        reported with the first line of why."""
        for start in range(0, len(queries), batch_size):
            ready, bad = [], []
            for index in range(start, min(start + batch_size, len(queries))):
                query = queries[index]
                try:
                    self.prompt_ids(query)
                    if query.modality is not None and query.media is not None:
                        self.pixels(query.modality, query.media)
                    for modality, path in query.also:
                        self.pixels(modality, path)
                    ready.append(index)
                except (MediaError, InputError, OSError) as exc:
                    bad.append((index, (str(exc).splitlines() or [repr(exc)])[0]))
            chunk = [queries[i] for i in ready]
            answers = self.answer(chunk, max_new_tokens, batch_size=len(chunk)) if chunk else []
            yield ready, answers, bad

    def loglikelihood(self, query: Query, continuation: str) -> tuple[float, bool]:
        """Log-probability of ``continuation`` as the model's answer to ``query`` (tokenised after the
        prompt, as training tokenises an answer), and whether greedy decoding would produce exactly it."""
        placeholders = self.model.config.placeholder_ids
        check_text(continuation, "the continuation")
        head = self.prompt_ids(query)
        prompt = self.prompt(query)
        check_length(prompt + continuation, self.context, "the question and its continuation")
        full = tokenize_prompt(self.tokenizer, prompt + continuation, placeholders)
        # the continuation's tokens are those of prompt + continuation past the prompt's (as lm-eval does)
        if len(full) <= len(head):
            raise InputError(f"continuation {continuation!r} adds no token to the prompt")
        ids = torch.tensor([full], dtype=torch.long, device=self.device)
        labels = torch.full_like(ids, IGNORE_INDEX)
        labels[0, len(head):] = ids[0, len(head):]
        with torch.inference_mode():
            out = self.model(ids, torch.ones_like(ids), labels=labels, media=self.media([query]),
                             loss_reduction="sum")
        expanded = out.labels[0]
        targets = (expanded != IGNORE_INDEX).nonzero().flatten()
        greedy = bool((out.logits[0, targets - 1].argmax(-1) == expanded[targets]).all())
        return -float(out.loss), greedy

    def stream(self, query: Query, streamer: Any, max_new_tokens: int = 256) -> str:
        """One greedy answer, its text pushed to ``streamer`` (a transformers streamer) as it is made."""
        new = self.model.generate(**self.inputs([query]), max_new_tokens=max_new_tokens, do_sample=False,
                                  eos_token_id=self.tokenizer.eos_token_id, streamer=streamer)
        return self._decode(new[0].tolist())
