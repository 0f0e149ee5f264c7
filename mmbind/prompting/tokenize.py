"""tokenize.py

The one tokenising module, for inference and training alike.

`tokenize_prompt`: the original's ``tokenizer_image_token`` with one placeholder id per media tag. The
prompt is split on the ``<modality>`` tags of ``placeholder_ids``; each text chunk is tokenized on its own
with the tokenizer's special tokens, and when the first chunk starts with BOS the first token of every later
chunk (its BOS) is dropped -- exactly the original's rule, so a SentencePiece tokenizer gives the same ids
next to media as there (its prefix space included) rather than one-pass ids. Each tag becomes ONE
placeholder id that the model expands in place: an image to its tokens, a video to its frames' tokens
frame-major (T x 257), which is the original's ``<image>`` x 8 frame blocks (the empty chunks between
consecutive frame tags contribute no tokens there).

`ConversationTokenizer`: training segments to ``input_ids`` and ``labels``, exact by construction: each
segment is tokenised on its own and the ids concatenated, so every token's label comes from the segment it
belongs to. The result is then checked against the whole prompt tokenised the way inference does it
(`tokenize_prompt`), so training and inference see the same ids; a mismatch is a `DataError` for the
sample, never a silently masked sample.

A text segment is tokenised as it appears in that reference: at the start or right after a media tag as
a chunk of its own (a SentencePiece tokenizer adds its prefix space, as in the original); right after an
eos behind that eos token (inside a chunk: no prefix space); after text with its leading space kept
(byte-level BPE, word-level) or dropped (SentencePiece-style tokenizers add it back themselves) -- that
mode is found on the first sample and retried on a mismatch. A sample's encoding is kept for later epochs
(`encode_memo.py`).

`check_placeholders`: a sample's placeholder ids counted against its media files (a literal ``<image>`` in an
answer becomes a placeholder id too, so counting tags in the text is not enough).

`truncate`: cut to ``max_length`` counting each placeholder as its expanded length, never cutting a media
block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmbind.errors import DataError, RecipeError
from mmbind.prompting.encode_memo import EncodeMemo
from mmbind.prompting.templates import Segment

IGNORE_INDEX = -100  # label of a position that is not supervised (PyTorch's cross-entropy default)

def tokenize_prompt(tokenizer: Any, text: str, placeholder_ids: Mapping[str, int]) -> list[int]:
    """Token ids of ``text`` with one ``placeholder_ids[modality]`` per ``<modality>`` tag."""
    tags = {f"<{modality}>": token for modality, token in placeholder_ids.items()}
    if not tags:
        return list(tokenizer(text, add_special_tokens=True)["input_ids"])
    parts = re.split("(" + "|".join(re.escape(tag) for tag in tags) + ")", text)
    chunks = [tokenizer(chunk, add_special_tokens=True)["input_ids"] for chunk in parts[0::2]]
    bos = tokenizer.bos_token_id
    offset = 1 if bos is not None and chunks[0][:1] == [bos] else 0
    ids = list(chunks[0])
    for tag, chunk in zip(parts[1::2], chunks[1:]):
        ids.append(tags[tag])
        ids.extend(chunk[offset:])
    return ids


_MODES = ("literal", "prefix_space")


@dataclass
class Tokenized:
    """One sample's token ids and labels (placeholders unexpanded)."""

    input_ids: list[int]  # one placeholder id per media item
    labels: list[int]  # -100 where not supervised
    media: list[str]  # modality of each placeholder, in order
    media_positions: list[int]  # index in input_ids of each placeholder
    truncated: bool = False  # tokens were cut to fit max_length
    expanded_length: int = 0  # length after media expansion


class ConversationTokenizer:
    """Tokenises rendered conversations with exact label masks."""

    def __init__(self, tokenizer: Any, placeholder_ids: dict[str, int]) -> None:
        if tokenizer is None:
            raise RecipeError(
                "training needs a tokenizer: the LLM backend has none (set its 'tokenizer' option)"
            )
        if tokenizer.eos_token_id is None:
            raise RecipeError("the tokenizer has no eos token; the templates end every answer with it")
        self.tokenizer = tokenizer
        self.placeholder_ids = placeholder_ids
        self.prefix: list[int] = tokenizer("", add_special_tokens=True)["input_ids"]
        self.mode = _MODES[0]
        self.memo = EncodeMemo()  # later epochs ask for the same samples again

    def encode(self, segments: list[Segment], sample: str) -> Tokenized:
        """Token ids and labels of ``segments``; `DataError` when the one-pass tokenisation differs."""
        key = tuple(segments)
        known = self.memo.get(key)
        if known is not None:
            return Tokenized(*known)
        tokens = self._encode(segments, sample)
        self.memo.put(key, tokens.input_ids, tokens.labels, tokens.media, tokens.media_positions)
        return tokens

    def _encode(self, segments: list[Segment], sample: str) -> Tokenized:
        full = self._one_pass(segments)
        first_try = self._pieces(segments, self.mode)
        if first_try.input_ids == full:
            return first_try
        for mode in _MODES:
            if mode != self.mode:
                other = self._pieces(segments, mode)
                if other.input_ids == full:
                    self.mode = mode
                    return other
        at = next(i for i, (a, b) in enumerate(zip([*first_try.input_ids, None], [*full, None])) if a != b)
        show = self.tokenizer.convert_ids_to_tokens
        raise DataError(
            f"sample {sample}: tokenization mismatch at token {at}: pieces give "
            f"{show(first_try.input_ids[at:at + 3])}, the whole prompt gives {show(full[at:at + 3])}"
        )

    def _pieces(self, segments: list[Segment], mode: str) -> Tokenized:
        ids, labels, media, positions = list(self.prefix), [IGNORE_INDEX] * len(self.prefix), [], []
        previous = "start"
        for seg in segments:
            if seg.modality is not None:
                piece = [self.placeholder_ids[seg.modality]]
                media.append(seg.modality)
                positions.append(len(ids))
            elif seg.eos:
                piece = [self.tokenizer.eos_token_id]
            else:
                piece = self._text(seg.text, previous, mode)
            ids += piece
            labels += piece if seg.supervised else [IGNORE_INDEX] * len(piece)
            previous = "media" if seg.modality is not None else "eos" if seg.eos else "text"
        if labels:
            labels[0] = IGNORE_INDEX  # nothing predicts the first token (keeps packed samples independent)
        return Tokenized(ids, labels, media, positions)

    def _text(self, text: str, previous: str, mode: str) -> list[int]:
        """Ids of ``text`` as they come out in context (at the start or after a media tag: a chunk of its own;
        after eos or text: inside a chunk)."""
        if previous == "eos":  # tokenise behind an eos, as inside the chunk (no start-of-text prefix space)
            ids = self.tokenizer(self.tokenizer.eos_token + text, add_special_tokens=False)["input_ids"]
            return ids[1:] if ids[:1] == [self.tokenizer.eos_token_id] else ids
        if previous == "text" and mode == "prefix_space" and text[:1] == " ":
            text = text[1:]
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _one_pass(self, segments: list[Segment]) -> list[int]:
        """The whole prompt tokenised as at inference (`tokenize_prompt`)."""
        text = "".join(
            f"<{seg.modality}>" if seg.modality is not None
            else self.tokenizer.eos_token if seg.eos
            else seg.text
            for seg in segments
        )
        return tokenize_prompt(self.tokenizer, text, self.placeholder_ids)


def check_placeholders(
    input_ids: list[int], placeholder_ids: Mapping[str, int], files: Mapping[str, int], sample: str
) -> None:
    """`DataError` unless each modality's placeholder ids in ``input_ids`` number its ``files``."""
    for modality, token in placeholder_ids.items():
        found, expected = input_ids.count(token), files.get(modality, 0)
        if found != expected:
            raise DataError(
                f"sample {sample}: {found} <{modality}> placeholder(s) in the token ids, {expected} "
                f"{modality} file(s) (a literal <{modality}> in the text counts too)"
            )


def truncate(
    tokens: Tokenized, media_lengths: dict[str, int] | Sequence[int], max_length: int, sample: str
) -> Tokenized:
    """Cut ``tokens`` so its expanded length fits ``max_length`` (media blocks whole or not at all).
    ``media_lengths``: tokens per item of each modality, or of each media item in order."""
    spans = ([media_lengths[m] for m in tokens.media] if isinstance(media_lengths, dict)
             else list(media_lengths))
    media_total = sum(spans)
    if media_total > max_length:
        raise DataError(
            f"sample {sample}: its media alone expand to {media_total} tokens, "
            f"more than max_length {max_length}"
        )
    sizes = [1] * len(tokens.input_ids)
    for span, position in zip(spans, tokens.media_positions):
        sizes[position] = span
    total, cut = 0, len(sizes)
    for i, size in enumerate(sizes):
        if total + size > max_length:
            cut = i
            break
        total += size
    kept = sum(1 for p in tokens.media_positions if p < cut)
    out = Tokenized(
        tokens.input_ids[:cut], tokens.labels[:cut], tokens.media[:kept], tokens.media_positions[:kept],
        cut < len(sizes), total,
    )
    if all(label == IGNORE_INDEX for label in out.labels):
        raise DataError(
            f"sample {sample}: no supervised token left after truncation to max_length {max_length}"
        )
    return out
